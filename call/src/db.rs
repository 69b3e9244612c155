//! The state a call runs over: the caller's [`StateView`] under the request's state overrides,
//! as a revm [`Database`].

use crate::types::{CallError, StateOverrides};
use alloy_primitives::{Address, B256, U256, keccak256, map::HashMap};
use parallax_execution::{StateError, StateView, to_info};
use revm::{Database, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};

/// One overridden account, resolved against the base state.
#[derive(Debug)]
pub(crate) struct OverriddenAccount {
    info: AccountInfo,
    storage: HashMap<U256, U256>,
    /// `state` was given: slots not in `storage` read as zero.
    replaced: bool,
}

/// The base state with the overrides on top, as a revm database. Base reads are cached:
/// [`estimate_gas`] and [`create_access_list`] run the same message many times.
pub(crate) struct CallDb<'a, S: ?Sized> {
    base: &'a S,
    accounts: HashMap<Address, OverriddenAccount>,
    codes: HashMap<B256, Bytecode>,
    read_accounts: HashMap<Address, Option<AccountInfo>>,
    read_slots: HashMap<(Address, U256), U256>,
}

impl<'a, S: StateView + ?Sized> CallDb<'a, S> {
    pub(crate) fn new(base: &'a S, overrides: &StateOverrides) -> Result<Self, CallError> {
        let mut accounts = HashMap::default();
        let mut codes = HashMap::default();
        for (address, o) in overrides {
            if o.state.is_some() && o.state_diff.is_some() {
                return Err(CallError::InvalidRequest(format!(
                    "account {address} has both 'state' and 'stateDiff'"
                )));
            }
            let mut info = base
                .account(*address)
                .map_err(|e| CallError::State(e.0))?
                .map(to_info)
                .unwrap_or_default();
            if let Some(balance) = o.balance {
                info.balance = balance;
            }
            if let Some(nonce) = o.nonce {
                info.nonce = nonce;
            }
            if let Some(code) = &o.code {
                if code.is_empty() {
                    info.code_hash = KECCAK_EMPTY;
                    info.code = Some(Bytecode::default());
                } else {
                    let bytecode = Bytecode::new_raw_checked(code.clone()).map_err(|e| {
                        CallError::InvalidRequest(format!(
                            "invalid code override for {address}: {e}"
                        ))
                    })?;
                    info.code_hash = keccak256(code);
                    codes.insert(info.code_hash, bytecode.clone());
                    info.code = Some(bytecode);
                }
            } else if info.code.is_none() && info.code_hash != KECCAK_EMPTY {
                info.code = base
                    .code(info.code_hash)
                    .map_err(|e| CallError::State(e.0))?;
            }
            let slots = o.state.as_ref().or(o.state_diff.as_ref());
            accounts.insert(
                *address,
                OverriddenAccount {
                    info,
                    storage: slots
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                        .collect(),
                    replaced: o.state.is_some(),
                },
            );
        }
        Ok(Self {
            base,
            accounts,
            codes,
            read_accounts: HashMap::default(),
            read_slots: HashMap::default(),
        })
    }
}

impl<S: StateView + ?Sized> Database for CallDb<'_, S> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        if let Some(account) = self.accounts.get(&address) {
            return Ok(Some(account.info.clone()));
        }
        if let Some(info) = self.read_accounts.get(&address) {
            return Ok(info.clone());
        }
        let info = self.base.account(address)?.map(to_info);
        self.read_accounts.insert(address, info.clone());
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        let code = self.base.code(code_hash)?.unwrap_or_default();
        self.codes.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(account) = self.accounts.get(&address) {
            if let Some(value) = account.storage.get(&index) {
                return Ok(*value);
            }
            if account.replaced {
                return Ok(U256::ZERO);
            }
        }
        if let Some(value) = self.read_slots.get(&(address, index)) {
            return Ok(*value);
        }
        let value = self.base.storage(address, index)?;
        self.read_slots.insert((address, index), value);
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash(number)
    }
}
