//! What the chain is ([`ChainSpec`]): its genesis, chain id and validators, and the EVM rules
//! of any block. A genesis that schedules a fork without rules is refused.

use crate::ChainError;
use alloy_consensus::Header;
use alloy_primitives::{Address, B256};
use parallax_consensus::Hash as BlockId;
use parallax_execution::{ChainRules, SpecId};
use parallax_genesis::{EthereumHardfork, ForkCondition, Genesis, Validator};

/// What the chain is: its genesis, chain id and validators.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// The genesis file's content.
    pub genesis: Genesis,
    /// The genesis block's header.
    pub genesis_header: Header,
    /// The genesis block's hash.
    pub genesis_hash: B256,
    /// Chain id.
    pub chain_id: u64,
    /// The genesis validator set (its order is the consensus index order).
    pub validators: Vec<Validator>,
}

impl ChainSpec {
    /// The spec of a Parallax genesis file.
    pub fn new(genesis: Genesis) -> Result<Self, ChainError> {
        let parallax = genesis
            .parallax
            .clone()
            .ok_or(ChainError::Spec("the genesis has no `parallax` section"))?;
        let block = genesis
            .build()
            .map_err(|e| ChainError::Genesis(e.to_string()))?;
        let spec = Self {
            chain_id: genesis.config.chain_id,
            genesis_header: block.header,
            genesis_hash: block.hash,
            validators: parallax.validators,
            genesis,
        };
        // Every fork the chain schedules must have rules here: running an unknown one under
        // another fork's rules would fork this node off every other client.
        for (fork, condition) in spec.genesis.config.forks() {
            if *condition != ForkCondition::Never && ChainRules::spec_of(*fork).is_none() {
                return Err(ChainError::UnknownFork(fork.to_string()));
            }
        }
        let fork = spec.genesis.config.active_fork(0, spec.genesis.timestamp);
        if fork < EthereumHardfork::Paris {
            return Err(ChainError::Spec(
                "Parallax chains run the Paris (merge) rules or later from genesis",
            ));
        }
        Ok(spec)
    }

    /// The consensus id of the genesis block: its Ethereum hash.
    pub fn genesis_id(&self) -> BlockId {
        BlockId(self.genesis_hash.0)
    }

    /// The EVM rules of block `number` at `timestamp`.
    pub fn rules(&self, number: u64, timestamp: u64) -> ChainRules {
        let fork = self.genesis.config.active_fork(number, timestamp);
        // `new` refused any scheduled fork without rules, so this always finds them; the
        // fallback (Paris, the oldest rules a Parallax chain runs) is never taken.
        let spec = ChainRules::spec_of(fork).unwrap_or(SpecId::MERGE);
        ChainRules::new(self.chain_id, spec)
    }

    /// Whether `fork` is active at this block.
    pub(crate) fn active(&self, fork: EthereumHardfork, number: u64, timestamp: u64) -> bool {
        self.genesis.config.is_active(fork, number, timestamp)
    }

    /// The fee recipient of blocks proposed by validator `author`.
    pub fn beneficiary(&self, author: u32) -> Option<Address> {
        self.validators
            .get(author as usize)
            .map(|v| v.bridge_address)
    }
}
