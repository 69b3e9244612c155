//! The `config` section of a geth genesis file: chain id and fork schedule.
//!
//! Fork keys use geth's names (`londonBlock`, `cancunTime`, …) and map onto
//! [`EthereumHardfork`]. A key that looks like a fork (`…Block`, `…Time`) but is not one we
//! know is rejected as an unknown fork rather than silently ignored: a typo in a fork name
//! would otherwise run a chain on the wrong rules.

use crate::{GenesisError, serde_helpers};
use alloy_hardforks::{EthereumHardfork, ForkCondition};
use alloy_primitives::{Address, U256};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Whether a fork activates at a block number or at a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    Block,
    Time,
}

/// One fork key of geth's `config` in activation order: (key, hardfork, how it activates,
/// whether it may be left out while later forks are set).
const FORK_KEYS: &[(&str, Option<EthereumHardfork>, Activation, bool)] = &[
    (
        "homesteadBlock",
        Some(EthereumHardfork::Homestead),
        Activation::Block,
        false,
    ),
    (
        "daoForkBlock",
        Some(EthereumHardfork::Dao),
        Activation::Block,
        true,
    ),
    (
        "eip150Block",
        Some(EthereumHardfork::Tangerine),
        Activation::Block,
        false,
    ),
    // EIP-155 and EIP-158 are one fork (Spurious Dragon) in every real network; geth keeps two
    // keys. The hardfork is taken from `eip158Block`.
    ("eip155Block", None, Activation::Block, false),
    (
        "eip158Block",
        Some(EthereumHardfork::SpuriousDragon),
        Activation::Block,
        false,
    ),
    (
        "byzantiumBlock",
        Some(EthereumHardfork::Byzantium),
        Activation::Block,
        false,
    ),
    (
        "constantinopleBlock",
        Some(EthereumHardfork::Constantinople),
        Activation::Block,
        false,
    ),
    (
        "petersburgBlock",
        Some(EthereumHardfork::Petersburg),
        Activation::Block,
        false,
    ),
    (
        "istanbulBlock",
        Some(EthereumHardfork::Istanbul),
        Activation::Block,
        false,
    ),
    (
        "muirGlacierBlock",
        Some(EthereumHardfork::MuirGlacier),
        Activation::Block,
        true,
    ),
    (
        "berlinBlock",
        Some(EthereumHardfork::Berlin),
        Activation::Block,
        false,
    ),
    (
        "londonBlock",
        Some(EthereumHardfork::London),
        Activation::Block,
        false,
    ),
    (
        "arrowGlacierBlock",
        Some(EthereumHardfork::ArrowGlacier),
        Activation::Block,
        true,
    ),
    (
        "grayGlacierBlock",
        Some(EthereumHardfork::GrayGlacier),
        Activation::Block,
        true,
    ),
    (
        "mergeNetsplitBlock",
        Some(EthereumHardfork::Paris),
        Activation::Block,
        true,
    ),
    (
        "shanghaiTime",
        Some(EthereumHardfork::Shanghai),
        Activation::Time,
        false,
    ),
    (
        "cancunTime",
        Some(EthereumHardfork::Cancun),
        Activation::Time,
        false,
    ),
    (
        "pragueTime",
        Some(EthereumHardfork::Prague),
        Activation::Time,
        false,
    ),
    (
        "osakaTime",
        Some(EthereumHardfork::Osaka),
        Activation::Time,
        false,
    ),
    (
        "bpo1Time",
        Some(EthereumHardfork::Bpo1),
        Activation::Time,
        true,
    ),
    (
        "bpo2Time",
        Some(EthereumHardfork::Bpo2),
        Activation::Time,
        true,
    ),
    (
        "bpo3Time",
        Some(EthereumHardfork::Bpo3),
        Activation::Time,
        true,
    ),
    (
        "bpo4Time",
        Some(EthereumHardfork::Bpo4),
        Activation::Time,
        true,
    ),
    (
        "bpo5Time",
        Some(EthereumHardfork::Bpo5),
        Activation::Time,
        true,
    ),
];

/// Keys of `config` that are not forks and that we accept (and ignore where Parallax has no
/// use for them).
const OTHER_KEYS: &[&str] = &[
    "chainId",
    "daoForkSupport",
    "eip150Hash",
    "terminalTotalDifficulty",
    "terminalTotalDifficultyPassed",
    "depositContractAddress",
    "blobSchedule",
    "ethash",
    "clique",
];

/// Forks geth knows but this version of Parallax cannot run: named so the error says so.
const UNSUPPORTED_FORK_KEYS: &[&str] = &["amsterdamTime", "verkleTime", "eofBlock", "cancunBlock"];

/// Blob parameters of one fork (EIP-7840 `blobSchedule` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobParams {
    /// Target blobs per block.
    pub target: u64,
    /// Maximum blobs per block.
    pub max: u64,
    /// Base fee update fraction.
    pub base_fee_update_fraction: u64,
}

/// Chain id and fork schedule of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The forks that are scheduled, in activation order. Frontier is always first.
    forks: Vec<(EthereumHardfork, ForkCondition)>,
    /// Whether the chain took the DAO fork's irregular state change.
    pub dao_fork_support: bool,
    /// The beacon deposit contract (EIP-6110), when configured.
    pub deposit_contract: Option<Address>,
    /// Blob parameters per fork name (`cancun`, `prague`, …).
    pub blob_schedule: BTreeMap<String, BlobParams>,
}

impl ChainConfig {
    /// A config with every fork up to and including `last` active from genesis (skipping the
    /// optional difficulty-bomb forks). This is how Parallax chains are configured: they run
    /// the latest rules from block 0.
    pub fn all_active_from_genesis(chain_id: u64, last: EthereumHardfork) -> Self {
        let mut forks = vec![(EthereumHardfork::Frontier, ForkCondition::Block(0))];
        for (_, fork, activation, optional) in FORK_KEYS {
            let Some(fork) = fork else { continue };
            if *optional && *fork != EthereumHardfork::Paris {
                continue;
            }
            if *fork > last {
                break;
            }
            let condition = match activation {
                Activation::Block => ForkCondition::Block(0),
                Activation::Time => ForkCondition::Timestamp(0),
            };
            forks.push((*fork, condition));
        }
        Self {
            chain_id,
            forks,
            dao_fork_support: false,
            deposit_contract: None,
            blob_schedule: default_blob_schedule(last),
        }
    }

    /// Builds a config from a known network's published schedule.
    pub(crate) fn from_schedule(
        chain_id: u64,
        schedule: &[(EthereumHardfork, ForkCondition)],
        dao_fork_support: bool,
    ) -> Self {
        Self {
            chain_id,
            forks: schedule.to_vec(),
            dao_fork_support,
            deposit_contract: None,
            blob_schedule: default_blob_schedule(EthereumHardfork::Prague),
        }
    }

    /// The scheduled forks in activation order.
    pub fn forks(&self) -> &[(EthereumHardfork, ForkCondition)] {
        &self.forks
    }

    /// When `fork` activates ([`ForkCondition::Never`] if it is not scheduled).
    pub fn fork(&self, fork: EthereumHardfork) -> ForkCondition {
        self.forks
            .iter()
            .find(|(f, _)| *f == fork)
            .map(|(_, c)| *c)
            .unwrap_or(ForkCondition::Never)
    }

    /// Whether `fork` is active in the block with this number and timestamp.
    pub fn is_active(&self, fork: EthereumHardfork, number: u64, timestamp: u64) -> bool {
        match self.fork(fork) {
            ForkCondition::Block(b) => number >= b,
            ForkCondition::Timestamp(t) => timestamp >= t,
            ForkCondition::TTD {
                activation_block_number,
                ..
            } => number >= activation_block_number,
            ForkCondition::Never => false,
        }
    }

    /// The latest fork active in the block with this number and timestamp: the rules that
    /// block runs under.
    pub fn active_fork(&self, number: u64, timestamp: u64) -> EthereumHardfork {
        self.forks
            .iter()
            .filter(|(f, _)| self.is_active(*f, number, timestamp))
            .map(|(f, _)| *f)
            .max()
            .unwrap_or(EthereumHardfork::Frontier)
    }

    /// Reads geth's `config` object, naming the offending key (as `config.<key>`) on error.
    pub fn from_json(config: &Map<String, Value>) -> Result<Self, GenesisError> {
        let invalid =
            |key: &str, reason: String| GenesisError::invalid(format!("config.{key}"), reason);

        let chain_id = match config.get("chainId") {
            None | Some(Value::Null) => return Err(invalid("chainId", "is required".into())),
            Some(v) => quantity_u64(v).map_err(|e| invalid("chainId", e))?,
        };
        if chain_id == 0 {
            return Err(invalid("chainId", "must not be zero".into()));
        }

        for key in config.keys() {
            let known =
                FORK_KEYS.iter().any(|(k, ..)| k == key) || OTHER_KEYS.contains(&key.as_str());
            if known {
                continue;
            }
            if UNSUPPORTED_FORK_KEYS.contains(&key.as_str()) {
                return Err(invalid(
                    key,
                    "fork is not supported by this version of Parallax".into(),
                ));
            }
            if key.ends_with("Block") || key.ends_with("Time") {
                return Err(invalid(key, "unknown fork".into()));
            }
            tracing::debug!(key, "ignoring unknown genesis config key");
        }

        // Read every fork key and check they are in order, like geth's CheckConfigForkOrder.
        let mut forks = vec![(EthereumHardfork::Frontier, ForkCondition::Block(0))];
        let mut last_required: Option<(&str, Activation, Option<u64>)> = None;
        let mut last_set: Option<(&str, Activation, u64)> = None;
        for (key, fork, activation, optional) in FORK_KEYS {
            let value = match config.get(*key) {
                None | Some(Value::Null) => None,
                Some(v) => Some(quantity_u64(v).map_err(|e| invalid(key, e))?),
            };
            if let (Some(_), Some((prev, _, None))) = (value, last_required) {
                return Err(invalid(
                    key,
                    format!("is set but the earlier fork {prev} is not"),
                ));
            }
            if let (Some(v), Some((prev, prev_act, prev_v))) = (value, last_set)
                && prev_act == *activation
                && v < prev_v
            {
                return Err(invalid(key, format!("{v} is before {prev} ({prev_v})")));
            }
            if let Some(v) = value {
                last_set = Some((key, *activation, v));
                if let Some(fork) = fork {
                    let condition = match activation {
                        Activation::Block => ForkCondition::Block(v),
                        Activation::Time => ForkCondition::Timestamp(v),
                    };
                    forks.push((*fork, condition));
                }
            }
            if !optional {
                last_required = Some((key, *activation, value));
            }
        }
        if config.contains_key("eip158Block")
            && config.get("eip155Block") != config.get("eip158Block")
        {
            tracing::debug!(
                "eip155Block and eip158Block differ; Spurious Dragon follows eip158Block"
            );
        }

        // Paris without a netsplit block activates by total difficulty.
        if !forks.iter().any(|(f, _)| *f == EthereumHardfork::Paris)
            && let Some(ttd) = config
                .get("terminalTotalDifficulty")
                .filter(|v| !v.is_null())
        {
            let total_difficulty = serde_helpers::u256(ttd.clone())
                .map_err(|e| invalid("terminalTotalDifficulty", e.to_string()))?;
            // A chain that starts post-merge (TTD 0) has Paris from block 0.
            let condition = ForkCondition::TTD {
                activation_block_number: if total_difficulty.is_zero() {
                    0
                } else {
                    u64::MAX
                },
                fork_block: None,
                total_difficulty,
            };
            let at = forks
                .iter()
                .position(|(f, _)| *f > EthereumHardfork::Paris)
                .unwrap_or(forks.len());
            forks.insert(at, (EthereumHardfork::Paris, condition));
        }

        let dao_fork_support = match config.get("daoForkSupport") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(
                    "daoForkSupport",
                    format!("expected true or false, got {other}"),
                ));
            }
        };
        let deposit_contract = match config.get("depositContractAddress") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                serde_helpers::parse_address(s)
                    .map_err(|e| invalid("depositContractAddress", e))?,
            ),
            Some(other) => {
                return Err(invalid(
                    "depositContractAddress",
                    format!("expected an address, got {other}"),
                ));
            }
        };
        let blob_schedule = match config.get("blobSchedule") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(map)) => parse_blob_schedule(map)?,
            Some(other) => {
                return Err(invalid(
                    "blobSchedule",
                    format!("expected an object, got {other}"),
                ));
            }
        };

        Ok(Self {
            chain_id,
            forks,
            dao_fork_support,
            deposit_contract,
            blob_schedule,
        })
    }

    /// Writes this config in geth's `config` shape.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("chainId".into(), Value::from(self.chain_id));
        for (key, fork, _, _) in FORK_KEYS {
            let fork = match fork {
                Some(f) => *f,
                // eip155Block mirrors eip158Block.
                None => EthereumHardfork::SpuriousDragon,
            };
            match self.fork(fork) {
                ForkCondition::Block(b) | ForkCondition::Timestamp(b) => {
                    out.insert((*key).into(), Value::from(b));
                }
                ForkCondition::TTD { .. } | ForkCondition::Never => {}
            }
        }
        if let ForkCondition::TTD {
            total_difficulty, ..
        } = self.fork(EthereumHardfork::Paris)
        {
            out.insert("terminalTotalDifficulty".into(), ttd_json(total_difficulty));
        } else if self.fork(EthereumHardfork::Paris) != ForkCondition::Never {
            out.insert("terminalTotalDifficulty".into(), Value::from(0));
        }
        if self.dao_fork_support {
            out.insert("daoForkSupport".into(), Value::Bool(true));
        }
        if let Some(addr) = self.deposit_contract {
            out.insert(
                "depositContractAddress".into(),
                Value::String(addr.to_checksum(None)),
            );
        }
        if !self.blob_schedule.is_empty() {
            let schedule = self
                .blob_schedule
                .iter()
                .map(|(name, p)| {
                    let entry = serde_json::json!({
                        "target": p.target,
                        "max": p.max,
                        "baseFeeUpdateFraction": p.base_fee_update_fraction,
                    });
                    (name.clone(), entry)
                })
                .collect();
            out.insert("blobSchedule".into(), Value::Object(schedule));
        }
        out
    }
}

fn ttd_json(ttd: U256) -> Value {
    match u64::try_from(ttd) {
        Ok(v) => Value::from(v),
        Err(_) => Value::String(format!("{ttd:#x}")),
    }
}

fn quantity_u64(v: &Value) -> Result<u64, String> {
    serde_helpers::u64(v.clone()).map_err(|e| e.to_string())
}

/// The blob parameters Ethereum uses, for every blob fork up to `last`.
fn default_blob_schedule(last: EthereumHardfork) -> BTreeMap<String, BlobParams> {
    let mut out = BTreeMap::new();
    if last >= EthereumHardfork::Cancun {
        out.insert(
            "cancun".into(),
            BlobParams {
                target: 3,
                max: 6,
                base_fee_update_fraction: 3_338_477,
            },
        );
    }
    if last >= EthereumHardfork::Prague {
        out.insert(
            "prague".into(),
            BlobParams {
                target: 6,
                max: 9,
                base_fee_update_fraction: 5_007_716,
            },
        );
    }
    out
}

fn parse_blob_schedule(
    map: &Map<String, Value>,
) -> Result<BTreeMap<String, BlobParams>, GenesisError> {
    const BLOB_FORKS: &[&str] = &[
        "cancun", "prague", "osaka", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5",
    ];
    let mut out = BTreeMap::new();
    for (name, entry) in map {
        let field = |f: &str| format!("config.blobSchedule.{name}{f}");
        if !BLOB_FORKS.contains(&name.as_str()) {
            return Err(GenesisError::invalid(field(""), "unknown fork"));
        }
        let Value::Object(entry) = entry else {
            return Err(GenesisError::invalid(field(""), "expected an object"));
        };
        let get = |k: &str| -> Result<u64, GenesisError> {
            let v = entry
                .get(k)
                .ok_or_else(|| GenesisError::invalid(field(&format!(".{k}")), "is required"))?;
            quantity_u64(v).map_err(|e| GenesisError::invalid(field(&format!(".{k}")), e))
        };
        let params = BlobParams {
            target: get("target")?,
            max: get("max")?,
            base_fee_update_fraction: get("baseFeeUpdateFraction")?,
        };
        if params.target > params.max {
            return Err(GenesisError::invalid(field(".target"), "is above max"));
        }
        if params.base_fee_update_fraction == 0 {
            return Err(GenesisError::invalid(
                field(".baseFeeUpdateFraction"),
                "must not be zero",
            ));
        }
        out.insert(name.clone(), params);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ChainConfig, GenesisError> {
        ChainConfig::from_json(v.as_object().unwrap())
    }

    #[test]
    fn reads_a_post_merge_config() {
        let c = parse(json!({
            "chainId": 7, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0,
            "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
            "petersburgBlock": 0, "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 0,
            "terminalTotalDifficulty": 0, "shanghaiTime": 0, "cancunTime": 100
        }))
        .unwrap();
        assert_eq!(c.chain_id, 7);
        assert_eq!(c.active_fork(0, 0), EthereumHardfork::Shanghai);
        assert_eq!(c.active_fork(5, 100), EthereumHardfork::Cancun);
        assert!(c.is_active(EthereumHardfork::Paris, 0, 0));
        assert!(!c.is_active(EthereumHardfork::Prague, 0, u64::MAX));
    }

    #[test]
    fn names_the_unknown_fork() {
        let err = parse(json!({"chainId": 1, "londnBlock": 0})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid genesis: config.londnBlock: unknown fork"
        );
        let err = parse(json!({"chainId": 1, "amsterdamTime": 0})).unwrap_err();
        assert!(err.to_string().contains("config.amsterdamTime"), "{err}");
        let err = parse(json!({"chainId": 1, "blobSchedule": {"cancoon": {"target": 1, "max": 2, "baseFeeUpdateFraction": 3}}}))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("config.blobSchedule.cancoon: unknown fork"),
            "{err}"
        );
    }

    #[test]
    fn rejects_forks_out_of_order_or_with_gaps() {
        let err = parse(json!({"chainId": 1, "homesteadBlock": 10, "eip150Block": 5})).unwrap_err();
        assert!(
            err.to_string()
                .contains("config.eip150Block: 5 is before homesteadBlock (10)"),
            "{err}"
        );
        let err = parse(json!({"chainId": 1, "londonBlock": 0})).unwrap_err();
        assert!(
            err.to_string()
                .contains("config.londonBlock: is set but the earlier fork berlinBlock is not"),
            "{err}"
        );
        let err = parse(json!({"homesteadBlock": 0})).unwrap_err();
        assert!(
            err.to_string().contains("config.chainId: is required"),
            "{err}"
        );
        let err = parse(json!({"chainId": "0x0"})).unwrap_err();
        assert!(
            err.to_string().contains("config.chainId: must not be zero"),
            "{err}"
        );
        let err = parse(json!({"chainId": 1, "homesteadBlock": "soon"})).unwrap_err();
        assert!(err.to_string().contains("config.homesteadBlock"), "{err}");
    }

    #[test]
    fn all_active_round_trips_through_json() {
        let c = ChainConfig::all_active_from_genesis(4242, EthereumHardfork::Prague);
        assert_eq!(c.active_fork(0, 0), EthereumHardfork::Prague);
        let back = ChainConfig::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
    }
}
