//! The genesis file: geth's `genesis.json` shape plus a `parallax` section.

use crate::{
    ChainConfig, GenesisError, KnownNetwork, ParallaxConfig, serde_helpers,
    state::{GenesisAccount, GenesisTries, compute_tries},
};
use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_hardforks::EthereumHardfork;
use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256};
use alloy_trie::EMPTY_ROOT_HASH;
use serde::{Deserialize, Deserializer, de};
use serde_json::{Map, Value};
use std::{collections::BTreeMap, path::Path};

/// geth's default genesis gas limit, used when the file gives none.
pub const DEFAULT_GAS_LIMIT: u64 = 4_712_388;
/// The smallest gas limit a block may have.
pub const MIN_GAS_LIMIT: u64 = 5_000;
/// The largest gas limit a block may have (geth's `MaxGasLimit`).
pub const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;
/// geth's genesis difficulty for proof-of-work chains that give none.
pub const DEFAULT_POW_DIFFICULTY: u64 = 131_072;
/// Largest genesis file read, so a mistaken path cannot exhaust memory.
pub const MAX_GENESIS_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGenesis {
    #[serde(default)]
    config: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    nonce: u64,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    timestamp: u64,
    #[serde(default, deserialize_with = "serde_helpers::bytes")]
    extra_data: Bytes,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    gas_limit: u64,
    #[serde(default, deserialize_with = "serde_helpers::opt_u256")]
    difficulty: Option<U256>,
    #[serde(default, alias = "mixhash", deserialize_with = "serde_helpers::word")]
    mix_hash: B256,
    #[serde(default, deserialize_with = "serde_helpers::address")]
    coinbase: Address,
    #[serde(deserialize_with = "alloc")]
    alloc: BTreeMap<Address, GenesisAccount>,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    number: u64,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    gas_used: u64,
    #[serde(default, deserialize_with = "serde_helpers::word")]
    parent_hash: B256,
    #[serde(default, deserialize_with = "serde_helpers::opt_u256")]
    base_fee_per_gas: Option<U256>,
    #[serde(default, deserialize_with = "serde_helpers::opt_u64")]
    excess_blob_gas: Option<u64>,
    #[serde(default, deserialize_with = "serde_helpers::opt_u64")]
    blob_gas_used: Option<u64>,
    #[serde(default)]
    state_root: Option<B256>,
    #[serde(default)]
    parallax: Option<ParallaxConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(deserialize_with = "serde_helpers::u256")]
    balance: U256,
    #[serde(default, deserialize_with = "serde_helpers::u64")]
    nonce: u64,
    #[serde(default, deserialize_with = "serde_helpers::bytes")]
    code: Bytes,
    #[serde(default, deserialize_with = "serde_helpers::storage")]
    storage: BTreeMap<B256, B256>,
    /// Test fixtures sometimes carry the account's key; it is not part of the state.
    #[serde(default, rename = "secretKey")]
    _secret_key: Option<Value>,
}

fn alloc<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Address, GenesisAccount>, D::Error> {
    let raw = BTreeMap::<String, RawAccount>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (key, acc) in raw {
        let address = serde_helpers::parse_address(&key).map_err(de::Error::custom)?;
        let account = GenesisAccount {
            nonce: acc.nonce,
            balance: acc.balance,
            code: acc.code,
            storage: acc.storage,
        };
        if out.insert(address, account).is_some() {
            return Err(de::Error::custom(format!("duplicate account {address}")));
        }
    }
    Ok(out)
}

/// A loaded and validated genesis file.
#[derive(Clone, Debug)]
pub struct Genesis {
    /// Chain id and fork schedule.
    pub config: ChainConfig,
    /// The public network this genesis was recognised as, when the file has no `config`.
    pub network: Option<&'static KnownNetwork>,
    /// The header's nonce.
    pub nonce: u64,
    /// The header's timestamp.
    pub timestamp: u64,
    /// The header's extra data.
    pub extra_data: Bytes,
    /// The block gas limit.
    pub gas_limit: u64,
    /// The header's difficulty; `None` takes geth's default for the chain's rules.
    pub difficulty: Option<U256>,
    /// The header's mix hash.
    pub mix_hash: B256,
    /// The header's beneficiary.
    pub coinbase: Address,
    /// The block number (0 for every real chain).
    pub number: u64,
    /// The header's gas used.
    pub gas_used: u64,
    /// The header's parent hash.
    pub parent_hash: B256,
    /// Base fee when London is active at genesis; `None` takes EIP-1559's initial 1 gwei.
    pub base_fee_per_gas: Option<u64>,
    /// Excess blob gas when Cancun is active at genesis.
    pub excess_blob_gas: Option<u64>,
    /// Blob gas used when Cancun is active at genesis.
    pub blob_gas_used: Option<u64>,
    /// The accounts of the genesis state.
    pub alloc: BTreeMap<Address, GenesisAccount>,
    /// The state root the file records, checked against the computed one.
    pub recorded_state_root: Option<B256>,
    /// The Parallax section; required to run a Parallax chain, absent in Ethereum's files.
    pub parallax: Option<ParallaxConfig>,
}

/// The genesis block: header, hash and the state's tries.
#[derive(Clone, Debug)]
pub struct GenesisBlock {
    /// The header.
    pub header: Header,
    /// keccak256 of the header's RLP.
    pub hash: B256,
    /// The genesis state's tries (root and branch nodes).
    pub tries: GenesisTries,
}

impl Genesis {
    /// Reads and validates a genesis file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, GenesisError> {
        let path = path.as_ref();
        let bytes = crate::error::read_bounded(path, MAX_GENESIS_FILE_BYTES)?;
        Self::from_slice_at(&bytes, path)
    }

    /// Parses and validates genesis JSON.
    pub fn from_json(json: &str) -> Result<Self, GenesisError> {
        Self::from_slice_at(json.as_bytes(), Path::new("<input>"))
    }

    fn from_slice_at(bytes: &[u8], path: &Path) -> Result<Self, GenesisError> {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let raw: RawGenesis = serde_path_to_error::deserialize(de)
            .map_err(|e| GenesisError::parse(path, "genesis", e))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawGenesis) -> Result<Self, GenesisError> {
        let (config, network) = match &raw.config {
            Some(config) => (ChainConfig::from_json(config)?, None),
            None => {
                let root = compute_tries(&raw.alloc).state_root;
                let network = KnownNetwork::by_alloc_root(root).ok_or_else(|| {
                    GenesisError::invalid(
                        "config",
                        "is required (the alloc is not that of a known public network)",
                    )
                })?;
                (network.chain_config(), Some(network))
            }
        };

        let gas_limit = if raw.gas_limit == 0 {
            DEFAULT_GAS_LIMIT
        } else {
            raw.gas_limit
        };
        if !(MIN_GAS_LIMIT..=MAX_GAS_LIMIT).contains(&gas_limit) {
            return Err(GenesisError::invalid(
                "gasLimit",
                format!("{gas_limit} is outside {MIN_GAS_LIMIT}..={MAX_GAS_LIMIT}"),
            ));
        }
        if raw.gas_used > gas_limit {
            return Err(GenesisError::invalid("gasUsed", "is above gasLimit"));
        }
        let base_fee_per_gas = raw
            .base_fee_per_gas
            .map(|v| {
                u64::try_from(v)
                    .map_err(|_| GenesisError::invalid("baseFeePerGas", "does not fit in 64 bits"))
            })
            .transpose()?;

        let genesis = Self {
            config,
            network,
            nonce: raw.nonce,
            timestamp: raw.timestamp,
            extra_data: raw.extra_data,
            gas_limit,
            difficulty: raw.difficulty,
            mix_hash: raw.mix_hash,
            coinbase: raw.coinbase,
            number: raw.number,
            gas_used: raw.gas_used,
            parent_hash: raw.parent_hash,
            base_fee_per_gas,
            excess_blob_gas: raw.excess_blob_gas,
            blob_gas_used: raw.blob_gas_used,
            alloc: raw.alloc,
            recorded_state_root: raw.state_root,
            parallax: raw.parallax,
        };
        genesis.validate()?;
        Ok(genesis)
    }

    fn validate(&self) -> Result<(), GenesisError> {
        let Some(parallax) = &self.parallax else {
            return Ok(());
        };
        parallax.validate(self.config.chain_id)?;
        // Parallax blocks are final by BFT, priced by EIP-1559 and carry no proof of work:
        // every fork through Paris must be active from the first block.
        for fork in [EthereumHardfork::London, EthereumHardfork::Paris] {
            if !self.config.is_active(fork, self.number, self.timestamp) {
                return Err(GenesisError::invalid(
                    "config",
                    format!("a Parallax chain must activate {fork} at genesis"),
                ));
            }
        }
        if self.number != 0 {
            return Err(GenesisError::invalid(
                "number",
                "a Parallax genesis block is block 0",
            ));
        }
        if let Some(bridge) = self.alloc.get(&crate::L2_BRIDGE_ADDRESS)
            && bridge.code == crate::l2_bridge_code()
            && bridge.storage
                != crate::l2_bridge_storage(
                    parallax
                        .validators
                        .iter()
                        .map(|v| (v.bridge_address, v.voting_power)),
                )
        {
            return Err(GenesisError::invalid(
                format!("alloc.{}.storage", crate::L2_BRIDGE_ADDRESS),
                "the predeployed ParallaxBridgeL2 must hold exactly the validator set (bridge addresses and power) of parallax.validators, as parallax_genesis::l2_bridge_storage writes it",
            ));
        }
        if !self.mix_hash.is_zero() && self.mix_hash != parallax.commitment() {
            return Err(GenesisError::invalid(
                "mixHash",
                "a Parallax genesis carries the commitment to its parallax section here; leave it zero",
            ));
        }
        if self.extra_data.len() > 32 {
            return Err(GenesisError::invalid(
                "extraData",
                "is longer than 32 bytes",
            ));
        }
        Ok(())
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The rules the genesis block runs under.
    pub fn fork(&self) -> EthereumHardfork {
        self.config.active_fork(self.number, self.timestamp)
    }

    fn active(&self, fork: EthereumHardfork) -> bool {
        self.config.is_active(fork, self.number, self.timestamp)
    }

    /// Computes the state's tries and the genesis header, and checks the state root against
    /// the one the file records, if any.
    pub fn build(&self) -> Result<GenesisBlock, GenesisError> {
        let tries = compute_tries(&self.alloc);
        if let Some(recorded) = self.recorded_state_root
            && recorded != tries.state_root
        {
            return Err(GenesisError::invalid(
                "stateRoot",
                format!(
                    "the file records {recorded} but its alloc hashes to {}",
                    tries.state_root
                ),
            ));
        }
        let header = self.header(tries.state_root);
        let hash = header.hash_slow();
        Ok(GenesisBlock {
            header,
            hash,
            tries,
        })
    }

    /// The genesis header for a state root, with the fields the active forks require.
    pub fn header(&self, state_root: B256) -> Header {
        let london = self.active(EthereumHardfork::London);
        let shanghai = self.active(EthereumHardfork::Shanghai);
        let cancun = self.active(EthereumHardfork::Cancun);
        let prague = self.active(EthereumHardfork::Prague);
        let difficulty = self.difficulty.unwrap_or_else(|| {
            if self.active(EthereumHardfork::Paris) {
                U256::ZERO
            } else {
                U256::from(DEFAULT_POW_DIFFICULTY)
            }
        });
        Header {
            parent_hash: self.parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
            difficulty,
            number: self.number,
            gas_limit: self.gas_limit,
            gas_used: self.gas_used,
            timestamp: self.timestamp,
            extra_data: self.extra_data.clone(),
            mix_hash: self.header_mix_hash(),
            nonce: B64::from(self.nonce),
            base_fee_per_gas: london.then(|| self.base_fee_per_gas.unwrap_or(INITIAL_BASE_FEE)),
            withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then(|| self.blob_gas_used.unwrap_or(0)),
            excess_blob_gas: cancun.then(|| self.excess_blob_gas.unwrap_or(0)),
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    /// The header's mix hash: for a Parallax chain the commitment to its `parallax` section
    /// ([`ParallaxConfig::commitment`]), otherwise the file's `mixHash`.
    pub fn header_mix_hash(&self) -> B256 {
        self.parallax
            .as_ref()
            .map_or(self.mix_hash, ParallaxConfig::commitment)
    }

    /// The genesis in geth's JSON shape (with the `parallax` section when present). Loading
    /// the output gives back an equal genesis.
    pub fn to_json(&self) -> Value {
        let hex_u64 = |v: u64| Value::String(format!("{v:#x}"));
        let mut out = Map::new();
        out.insert("config".into(), Value::Object(self.config.to_json()));
        out.insert("nonce".into(), hex_u64(self.nonce));
        out.insert("timestamp".into(), hex_u64(self.timestamp));
        out.insert(
            "extraData".into(),
            Value::String(self.extra_data.to_string()),
        );
        out.insert("gasLimit".into(), hex_u64(self.gas_limit));
        if let Some(d) = self.difficulty {
            out.insert("difficulty".into(), Value::String(format!("{d:#x}")));
        }
        out.insert(
            "mixHash".into(),
            Value::String(self.header_mix_hash().to_string()),
        );
        out.insert("coinbase".into(), Value::String(self.coinbase.to_string()));
        if let Some(fee) = self.base_fee_per_gas {
            out.insert("baseFeePerGas".into(), hex_u64(fee));
        }
        if let Some(v) = self.excess_blob_gas {
            out.insert("excessBlobGas".into(), hex_u64(v));
        }
        if let Some(v) = self.blob_gas_used {
            out.insert("blobGasUsed".into(), hex_u64(v));
        }
        out.insert("number".into(), hex_u64(self.number));
        out.insert("gasUsed".into(), hex_u64(self.gas_used));
        out.insert(
            "parentHash".into(),
            Value::String(self.parent_hash.to_string()),
        );
        let alloc = self
            .alloc
            .iter()
            .map(|(addr, acc)| {
                let mut a = Map::new();
                a.insert(
                    "balance".into(),
                    Value::String(format!("{:#x}", acc.balance)),
                );
                if acc.nonce != 0 {
                    a.insert("nonce".into(), hex_u64(acc.nonce));
                }
                if !acc.code.is_empty() {
                    a.insert("code".into(), Value::String(acc.code.to_string()));
                }
                if !acc.storage.is_empty() {
                    let storage = acc
                        .storage
                        .iter()
                        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                        .collect();
                    a.insert("storage".into(), Value::Object(storage));
                }
                (addr.to_checksum(None), Value::Object(a))
            })
            .collect();
        out.insert("alloc".into(), Value::Object(alloc));
        if let Some(p) = &self.parallax {
            out.insert(
                "parallax".into(),
                serde_json::to_value(p).expect("the parallax section serialises to JSON"),
            );
        }
        Value::Object(out)
    }
}
