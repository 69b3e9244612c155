//! The `parallax` section of a genesis file: the validator set, consensus timing and the
//! bridge's settings.

use crate::{GenesisError, serde_helpers};
use alloy_primitives::{Address, B256, address, keccak256};
use ed25519_dalek::VerifyingKey;
use libp2p_identity::PeerId;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::{collections::HashSet, fmt, str::FromStr};

/// Where the Parallax side of the bridge is predeployed in every Parallax genesis.
pub const L2_BRIDGE_ADDRESS: Address = address!("0x0000000000000000000000000000000000b41d9e");

/// The runtime code predeployed at [`L2_BRIDGE_ADDRESS`]: `ParallaxBridgeL2` from
/// `bridge/contracts/ParallaxBridgeL2.sol` (its checked-in artifact, which the bridge crate's
/// tests keep equal to the source). It has no constructor, so empty storage is its initial
/// state.
pub fn l2_bridge_code() -> alloy_primitives::Bytes {
    static CODE: std::sync::OnceLock<alloy_primitives::Bytes> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        crate::artifact::runtime_code(include_str!(
            "../../bridge/contracts/artifacts/ParallaxBridgeL2.json"
        ))
    })
    .clone()
}

/// `BridgedToken`'s creation code (from the same artifact family as [`l2_bridge_code`]); a
/// bridged token's address follows from it and its L1 token ([`bridged_token_address`]).
fn bridged_token_init_code() -> &'static [u8] {
    static CODE: std::sync::OnceLock<alloy_primitives::Bytes> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        crate::artifact::creation_code(include_str!(
            "../../bridge/contracts/artifacts/BridgedToken.json"
        ))
    })
}

/// Where `ParallaxBridgeL2` creates the bridged token of `l1_token` (`Address::ZERO`: ETH):
/// CREATE2 from [`L2_BRIDGE_ADDRESS`] with the L1 token as salt (`l2TokenFor`).
pub fn bridged_token_address(l1_token: Address) -> Address {
    let mut init = bridged_token_init_code().to_vec();
    init.extend_from_slice(l1_token.into_word().as_slice());
    L2_BRIDGE_ADDRESS.create2(l1_token.into_word(), keccak256(&init))
}

/// The storage slot at which `ParallaxBridgeL2` keeps its validator set (`ValidatorSet.Set`:
/// power by address at this slot, the list at +1, the total power at +2).
const L2_BRIDGE_VALIDATOR_SET_SLOT: u64 = 8;

/// The storage `ParallaxBridgeL2` starts with in a genesis: the validators' bridge addresses
/// and voting power, against which it checks pause signatures (everything else starts at
/// zero). Genesis validation requires a predeployed bridge to hold exactly this.
pub fn l2_bridge_storage(
    validators: impl IntoIterator<Item = (Address, u64)>,
) -> std::collections::BTreeMap<B256, B256> {
    let base = alloy_primitives::U256::from(L2_BRIDGE_VALIDATOR_SET_SLOT);
    let mapping_slot = |key: B256| {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(key.as_slice());
        preimage[32..].copy_from_slice(&base.to_be_bytes::<32>());
        keccak256(preimage)
    };
    let list_slot = base + alloy_primitives::U256::from(1);
    let list_start =
        alloy_primitives::U256::from_be_bytes(keccak256(list_slot.to_be_bytes::<32>()).0);
    let mut storage = std::collections::BTreeMap::new();
    let mut total = alloy_primitives::U256::ZERO;
    let mut count = 0u64;
    for (i, (address, power)) in validators.into_iter().enumerate() {
        let power = alloy_primitives::U256::from(power);
        storage.insert(mapping_slot(address.into_word()), B256::from(power));
        storage.insert(
            B256::from(list_start + alloy_primitives::U256::from(i)),
            address.into_word(),
        );
        total += power;
        count += 1;
    }
    storage.insert(
        B256::from(list_slot),
        B256::from(alloy_primitives::U256::from(count)),
    );
    storage.insert(
        B256::from(base + alloy_primitives::U256::from(2)),
        B256::from(total),
    );
    storage
}

/// Deepest L1 confirmation depth accepted (about a day of Ethereum blocks).
pub const MAX_BRIDGE_CONFIRMATIONS: u64 = 7_200;

/// Most validators a genesis may name. Certificates carry one signature per validator, so
/// this bounds certificate size and verification time.
pub const MAX_VALIDATORS: usize = 256;

/// Largest total voting power. Quorum arithmetic (`3 * power`) must not overflow a `u64`.
pub const MAX_TOTAL_VOTING_POWER: u64 = u64::MAX / 4;

/// An ed25519 consensus public key, written as 32 bytes of `0x`-hex. Only canonical
/// encodings of curve points that are not of small order are accepted, so one key has one
/// spelling and cannot be counted twice under two.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsensusKey(VerifyingKey);

impl ConsensusKey {
    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
}

impl From<VerifyingKey> for ConsensusKey {
    fn from(key: VerifyingKey) -> Self {
        Self(key)
    }
}

impl FromStr for ConsensusKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let hex = s.strip_prefix("0x").unwrap_or(s);
        let bytes: [u8; 32] = hex::decode(hex)
            .map_err(|e| format!("invalid hex: {e}"))?
            .try_into()
            .map_err(|v: Vec<u8>| format!("expected 32 bytes, got {}", v.len()))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "not a valid ed25519 public key".to_string())?;
        if key.to_edwards().compress().to_bytes() != bytes {
            return Err("non-canonical ed25519 public key encoding".into());
        }
        if key.is_weak() {
            return Err("weak ed25519 public key (small order)".into());
        }
        Ok(Self(key))
    }
}

impl fmt::Display for ConsensusKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0.to_bytes()))
    }
}

impl fmt::Debug for ConsensusKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConsensusKey({self})")
    }
}

impl Serialize for ConsensusKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConsensusKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

fn peer_id<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map_err(|e| de::Error::custom(format!("invalid libp2p peer id {s:?}: {e}")))
}

fn serialize_peer_id<S: Serializer>(p: &PeerId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

/// One validator of the genesis set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validator {
    /// Human-readable name, unique in the set.
    pub name: String,
    /// ed25519 key that signs proposals, votes and timeouts.
    pub consensus_key: ConsensusKey,
    /// secp256k1 address that signs bridge attestations.
    #[serde(deserialize_with = "serde_helpers::address")]
    pub bridge_address: Address,
    /// Voting power; a quorum is more than 2/3 of the total.
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub voting_power: u64,
    /// libp2p peer id of the validator's network key.
    #[serde(deserialize_with = "peer_id", serialize_with = "serialize_peer_id")]
    pub peer_id: PeerId,
}

/// Consensus timing, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsensusTiming {
    /// Round timeout in a healthy network.
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub base_round_timeout_ms: u64,
    /// Largest round timeout after repeated timeouts.
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub max_round_timeout_ms: u64,
    /// Each consecutive timeout multiplies the timeout by this many percent (≥ 100).
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub timeout_backoff_percent: u64,
    /// Shortest time between two blocks; with no transactions blocks keep coming at this pace.
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub min_block_interval_ms: u64,
}

impl Default for ConsensusTiming {
    fn default() -> Self {
        Self {
            base_round_timeout_ms: 2_000,
            max_round_timeout_ms: 30_000,
            timeout_backoff_percent: 150,
            min_block_interval_ms: 500,
        }
    }
}

/// The chain's native currency, the gas token, as wallets show it (EIP-3085's
/// `nativeCurrency`).
///
/// It is Parallax's own asset: the bridge never mints it and never releases anything for it.
/// Every Ethereum asset, ETH included, exists on Parallax only as a bridged ERC-20 that a
/// deposit minted, so nothing can be withdrawn to Ethereum that was not locked there (and the
/// genesis allocations, in this currency, back nothing on Ethereum).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NativeCurrency {
    /// Its name ("Parallax").
    pub name: String,
    /// Its symbol, 2 to 6 characters ("PLX").
    pub symbol: String,
    /// Its decimals: always 18 (the EVM's native unit is the wei).
    pub decimals: u8,
}

impl Default for NativeCurrency {
    fn default() -> Self {
        Self {
            name: "Parallax".into(),
            symbol: "PLX".into(),
            decimals: 18,
        }
    }
}

/// Which Ethereum blocks count as settled enough for validators to mint their deposits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepositFinality {
    /// At least `confirmations` blocks below Ethereum's head.
    #[default]
    Confirmations,
    /// At or below Ethereum's `finalized` block (proof-of-stake finality; about 13 minutes
    /// on mainnet).
    Finalized,
}

/// The bridge's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BridgeSettings {
    /// Chain id of the Ethereum (L1) chain the bridge connects to.
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub l1_chain_id: u64,
    /// The `ParallaxBridge` contract on L1; `null` until it is deployed.
    #[serde(default)]
    pub l1_bridge: Option<Address>,
    /// How many L1 blocks deep a deposit must be before validators accept it (at least 1 once
    /// `l1Bridge` is set; 0 only for a chain with no bridge, such as `parallax dev`'s).
    #[serde(deserialize_with = "serde_helpers::u64")]
    pub confirmations: u64,
    /// `confirmations` (the default: `confirmations` blocks deep) or `finalized` (Ethereum's
    /// finalized block; `confirmations` is then not used).
    #[serde(default)]
    pub deposit_finality: DepositFinality,
}

/// The `parallax` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParallaxConfig {
    /// The genesis validator set.
    pub validators: Vec<Validator>,
    /// Consensus timing.
    #[serde(default)]
    pub consensus: ConsensusTiming,
    /// Bridge settings.
    pub bridge: BridgeSettings,
    /// The native currency (the gas token); Parallax's own, never bridged.
    #[serde(default)]
    pub native_currency: NativeCurrency,
}

impl ParallaxConfig {
    /// The commitment to this section that a Parallax genesis header carries as its
    /// `mixHash`, so the genesis hash (and every block hash after it) commits to the
    /// validator set, consensus timing and bridge settings: two chains that differ in any of
    /// them have different genesis hashes. It is keccak256 of an explicit, versioned,
    /// length-prefixed encoding (not of JSON), so it stays stable as the file format evolves.
    pub fn commitment(&self) -> B256 {
        let mut buf = Vec::with_capacity(64 + self.validators.len() * 160);
        buf.extend_from_slice(b"parallax-genesis-v2");
        let put_bytes = |buf: &mut Vec<u8>, bytes: &[u8]| {
            buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            buf.extend_from_slice(bytes);
        };
        buf.extend_from_slice(&(self.validators.len() as u32).to_be_bytes());
        for v in &self.validators {
            put_bytes(&mut buf, v.name.as_bytes());
            buf.extend_from_slice(&v.consensus_key.to_bytes());
            buf.extend_from_slice(v.bridge_address.as_slice());
            buf.extend_from_slice(&v.voting_power.to_be_bytes());
            put_bytes(&mut buf, &v.peer_id.to_bytes());
        }
        let t = &self.consensus;
        for ms in [
            t.base_round_timeout_ms,
            t.max_round_timeout_ms,
            t.timeout_backoff_percent,
            t.min_block_interval_ms,
        ] {
            buf.extend_from_slice(&ms.to_be_bytes());
        }
        let b = &self.bridge;
        buf.extend_from_slice(&b.l1_chain_id.to_be_bytes());
        match b.l1_bridge {
            Some(addr) => {
                buf.push(1);
                buf.extend_from_slice(addr.as_slice());
            }
            None => buf.push(0),
        }
        buf.extend_from_slice(&b.confirmations.to_be_bytes());
        buf.push(match b.deposit_finality {
            DepositFinality::Confirmations => 0,
            DepositFinality::Finalized => 1,
        });
        let c = &self.native_currency;
        put_bytes(&mut buf, c.name.as_bytes());
        put_bytes(&mut buf, c.symbol.as_bytes());
        buf.push(c.decimals);
        keccak256(&buf)
    }

    /// Total voting power of the validator set.
    pub fn total_voting_power(&self) -> u64 {
        self.validators.iter().map(|v| v.voting_power).sum()
    }

    /// Checks everything serde cannot: uniqueness, non-zero power, sane timing and bridge
    /// settings. Errors name the field (`parallax.validators[2].votingPower`).
    pub fn validate(&self, chain_id: u64) -> Result<(), GenesisError> {
        let v_field = |i: usize, f: &str| format!("parallax.validators[{i}].{f}");
        if self.validators.is_empty() {
            return Err(GenesisError::invalid(
                "parallax.validators",
                "at least one validator is required",
            ));
        }
        if self.validators.len() > MAX_VALIDATORS {
            return Err(GenesisError::invalid(
                "parallax.validators",
                format!(
                    "{} validators, at most {MAX_VALIDATORS} are allowed",
                    self.validators.len()
                ),
            ));
        }
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        let mut bridge = HashSet::new();
        let mut peers = HashSet::new();
        let mut total: u64 = 0;
        for (i, v) in self.validators.iter().enumerate() {
            if v.name.trim().is_empty() {
                return Err(GenesisError::invalid(
                    v_field(i, "name"),
                    "must not be empty",
                ));
            }
            if !names.insert(v.name.as_str()) {
                return Err(GenesisError::invalid(
                    v_field(i, "name"),
                    format!("duplicate validator {:?}", v.name),
                ));
            }
            if !keys.insert(v.consensus_key) {
                return Err(GenesisError::invalid(
                    v_field(i, "consensusKey"),
                    format!(
                        "duplicate validator: key {} is already used",
                        v.consensus_key
                    ),
                ));
            }
            if v.bridge_address.is_zero() {
                return Err(GenesisError::invalid(
                    v_field(i, "bridgeAddress"),
                    "must not be the zero address",
                ));
            }
            if !bridge.insert(v.bridge_address) {
                return Err(GenesisError::invalid(
                    v_field(i, "bridgeAddress"),
                    format!(
                        "duplicate validator: address {} is already used",
                        v.bridge_address
                    ),
                ));
            }
            if !peers.insert(v.peer_id) {
                return Err(GenesisError::invalid(
                    v_field(i, "peerId"),
                    format!("duplicate validator: peer id {} is already used", v.peer_id),
                ));
            }
            if v.voting_power == 0 {
                return Err(GenesisError::invalid(
                    v_field(i, "votingPower"),
                    "must be greater than zero",
                ));
            }
            total = total
                .checked_add(v.voting_power)
                .filter(|t| *t <= MAX_TOTAL_VOTING_POWER)
                .ok_or_else(|| {
                    GenesisError::invalid(
                        v_field(i, "votingPower"),
                        format!("total voting power exceeds {MAX_TOTAL_VOTING_POWER}"),
                    )
                })?;
        }

        let t = &self.consensus;
        let c_field = |f: &str| format!("parallax.consensus.{f}");
        if t.base_round_timeout_ms == 0 {
            return Err(GenesisError::invalid(
                c_field("baseRoundTimeoutMs"),
                "must be greater than zero",
            ));
        }
        if t.max_round_timeout_ms < t.base_round_timeout_ms {
            return Err(GenesisError::invalid(
                c_field("maxRoundTimeoutMs"),
                "must be at least baseRoundTimeoutMs",
            ));
        }
        if !(100..=1_000).contains(&t.timeout_backoff_percent) {
            return Err(GenesisError::invalid(
                c_field("timeoutBackoffPercent"),
                "must be between 100 and 1000",
            ));
        }
        if t.min_block_interval_ms >= t.base_round_timeout_ms {
            return Err(GenesisError::invalid(
                c_field("minBlockIntervalMs"),
                "must be shorter than baseRoundTimeoutMs, or every round would time out",
            ));
        }

        let b = &self.bridge;
        if b.l1_chain_id == 0 {
            return Err(GenesisError::invalid(
                "parallax.bridge.l1ChainId",
                "must not be zero",
            ));
        }
        if b.l1_chain_id == chain_id {
            return Err(GenesisError::invalid(
                "parallax.bridge.l1ChainId",
                "must differ from config.chainId",
            ));
        }
        if b.confirmations > MAX_BRIDGE_CONFIRMATIONS {
            return Err(GenesisError::invalid(
                "parallax.bridge.confirmations",
                format!("must be at most {MAX_BRIDGE_CONFIRMATIONS}"),
            ));
        }
        if b.l1_bridge.is_some()
            && b.deposit_finality == DepositFinality::Confirmations
            && b.confirmations == 0
        {
            return Err(GenesisError::invalid(
                "parallax.bridge.confirmations",
                "must be at least 1 for a chain bridged to Ethereum (a deposit in Ethereum's head block can be reorganised away)",
            ));
        }
        let c = &self.native_currency;
        let n_field = |f: &str| format!("parallax.nativeCurrency.{f}");
        if c.name.trim().is_empty() || c.name.len() > 64 {
            return Err(GenesisError::invalid(
                n_field("name"),
                "must be 1 to 64 bytes",
            ));
        }
        if !(2..=6).contains(&c.symbol.chars().count()) {
            return Err(GenesisError::invalid(
                n_field("symbol"),
                "must be 2 to 6 characters (EIP-3085)",
            ));
        }
        if c.decimals != 18 {
            return Err(GenesisError::invalid(
                n_field("decimals"),
                "must be 18: the EVM's native unit is the wei",
            ));
        }
        Ok(())
    }
}
