//! Inspectors: the access-list tracer, and the inspector that enforces a call's deadline and
//! observes its step limit.

use crate::types::DEADLINE_CHECK_INTERVAL;
use alloy_eips::{eip2930::AccessList, eip2930::AccessListItem};
use alloy_primitives::{Address, B256, U256, map::HashSet};
use revm::{
    Inspector,
    bytecode::opcode,
    interpreter::{
        InstructionResult, Interpreter,
        interpreter_types::{InputsTr, Jumps},
    },
};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Instant,
};

/// The addresses and slots a call touched, as geth's access-list tracer records them.
#[derive(Debug, Clone)]
pub(crate) struct AccessTracer {
    excluded: HashSet<Address>,
    pub(crate) touched: BTreeMap<Address, BTreeSet<B256>>,
}

impl AccessTracer {
    pub(crate) fn new(excluded: HashSet<Address>) -> Self {
        Self {
            excluded,
            touched: BTreeMap::new(),
        }
    }

    /// A tracer with the same exclusions that starts from `list`.
    pub(crate) fn empty_copy_with(&self, list: &AccessList) -> Self {
        let mut copy = Self::new(self.excluded.clone());
        copy.add_list(list);
        copy
    }

    pub(crate) fn add_list(&mut self, list: &AccessList) {
        for item in list.iter() {
            self.add_address(item.address);
            for slot in &item.storage_keys {
                self.add_slot(item.address, *slot);
            }
        }
    }

    pub(crate) fn add_address(&mut self, address: Address) {
        if !self.excluded.contains(&address) {
            self.touched.entry(address).or_default();
        }
    }

    pub(crate) fn add_slot(&mut self, address: Address, slot: B256) {
        self.touched.entry(address).or_default().insert(slot);
    }

    pub(crate) fn to_access_list(&self) -> AccessList {
        AccessList(
            self.touched
                .iter()
                .map(|(address, slots)| AccessListItem {
                    address: *address,
                    storage_keys: slots.iter().copied().collect(),
                })
                .collect(),
        )
    }

    pub(crate) fn step(&mut self, interp: &Interpreter) {
        let stack = interp.stack.data();
        let word = |from_top: usize| -> Option<U256> {
            stack.len().checked_sub(from_top + 1).map(|i| stack[i])
        };
        let address_at = |from_top: usize| -> Option<Address> {
            word(from_top).map(|w| Address::from_word(B256::from(w)))
        };
        match interp.bytecode.opcode() {
            opcode::SLOAD | opcode::SSTORE => {
                if let Some(slot) = word(0) {
                    self.add_slot(interp.input.target_address(), B256::from(slot));
                }
            }
            opcode::EXTCODECOPY
            | opcode::EXTCODEHASH
            | opcode::EXTCODESIZE
            | opcode::BALANCE
            | opcode::SELFDESTRUCT => {
                if let Some(address) = address_at(0) {
                    self.add_address(address);
                }
            }
            opcode::DELEGATECALL | opcode::CALL | opcode::STATICCALL | opcode::CALLCODE
                if stack.len() >= 5 =>
            {
                if let Some(address) = address_at(1) {
                    self.add_address(address);
                }
            }
            _ => {}
        }
    }
}

/// The inspector of a call: the deadline check, the step limit and the access-list tracer,
/// each optional.
pub(crate) struct CallInspector {
    pub(crate) deadline: Option<Instant>,
    pub(crate) step_limit: Option<u64>,
    pub(crate) steps: u64,
    /// Why the run was stopped, once it was.
    pub(crate) stopped: Option<Stop>,
    pub(crate) tracer: Option<AccessTracer>,
}

/// Why [`CallInspector`] stopped a run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stop {
    Deadline,
    Steps,
}

impl CallInspector {
    pub(crate) fn idle() -> Self {
        Self {
            deadline: None,
            step_limit: None,
            steps: 0,
            stopped: None,
            tracer: None,
        }
    }
}

impl<CTX> Inspector<CTX> for CallInspector {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        if self.stopped.is_some() {
            // Every frame still running is halted in turn.
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        self.steps += 1;
        if self.step_limit.is_some_and(|limit| self.steps > limit) {
            self.stopped = Some(Stop::Steps);
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        if let Some(deadline) = self.deadline
            && self.steps.is_multiple_of(DEADLINE_CHECK_INTERVAL)
            && Instant::now() >= deadline
        {
            self.stopped = Some(Stop::Deadline);
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        if let Some(tracer) = &mut self.tracer {
            tracer.step(interp);
        }
    }
}
