//! Validator attestations: the EIP-712 messages the L1 contract accepts, signing them with a
//! validator's secp256k1 bridge key, and collecting signatures until they carry more than 2/3
//! of the voting power.
//!
//! The EIP-712 domain is `ParallaxBridge`, version `1`, the Ethereum chain id, the L1
//! contract's address, and the Parallax chain id as the domain's salt: a signature made for
//! another chain, contract or Parallax network never verifies here.

use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use std::collections::BTreeMap;

sol! {
    /// A Parallax block's withdrawal root.
    #[derive(Debug)]
    struct WithdrawalRoot {
        uint256 l2BlockNumber;
        bytes32 root;
    }

    /// A replacement validator set, signed by the current one.
    #[derive(Debug)]
    struct ValidatorSetUpdate {
        uint256 nonce;
        address[] validators;
        uint256[] powers;
    }

    /// Pausing or unpausing the bridge (a quorum).
    #[derive(Debug)]
    struct SetPaused {
        uint256 nonce;
        bool paused;
    }

    /// One validator pausing the bridge.
    #[derive(Debug)]
    struct GuardianPause {
        uint256 nonce;
    }

    /// A token's withdrawal rate limit on Ethereum.
    #[derive(Debug)]
    struct WithdrawalLimit {
        uint256 nonce;
        address token;
        uint256 maxPerWindow;
        uint256 window;
        uint256 delay;
    }

    /// Cancelling a queued withdrawal on Ethereum.
    #[derive(Debug)]
    struct CancelWithdrawal {
        uint256 nonce;
        uint256 id;
    }
}

/// What a signature is bound to: the L1 chain, the L1 contract and the Parallax chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeDomain {
    /// Ethereum's chain id.
    pub l1_chain_id: u64,
    /// The `ParallaxBridge` contract on Ethereum.
    pub l1_bridge: Address,
    /// Parallax's chain id.
    pub l2_chain_id: u64,
}

impl BridgeDomain {
    /// The EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        Eip712Domain::new(
            Some("ParallaxBridge".into()),
            Some("1".into()),
            Some(U256::from(self.l1_chain_id)),
            Some(self.l1_bridge),
            Some(B256::from(U256::from(self.l2_chain_id))),
        )
    }

    /// The digest that attests Parallax block `l2_block`'s withdrawal root.
    pub fn withdrawal_root_digest(&self, l2_block: u64, root: B256) -> B256 {
        WithdrawalRoot {
            l2BlockNumber: U256::from(l2_block),
            root,
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest that replaces the validator set under governance nonce `nonce`.
    pub fn validator_set_digest(&self, nonce: u64, set: &[(Address, u64)]) -> B256 {
        ValidatorSetUpdate {
            nonce: U256::from(nonce),
            validators: set.iter().map(|(a, _)| *a).collect(),
            powers: set.iter().map(|(_, p)| U256::from(*p)).collect(),
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest that pauses (or unpauses) the bridge under governance nonce `nonce`.
    pub fn set_paused_digest(&self, nonce: u64, paused: bool) -> B256 {
        SetPaused {
            nonce: U256::from(nonce),
            paused,
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest one validator signs to pause the bridge while the governance nonce is `nonce`.
    pub fn guardian_pause_digest(&self, nonce: u64) -> B256 {
        GuardianPause {
            nonce: U256::from(nonce),
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest that sets `token`'s withdrawal rate limit under governance nonce `nonce`.
    pub fn withdrawal_limit_digest(&self, nonce: u64, token: Address, limit: &RateLimit) -> B256 {
        WithdrawalLimit {
            nonce: U256::from(nonce),
            token,
            maxPerWindow: limit.max_per_window,
            window: U256::from(limit.window_secs),
            delay: U256::from(limit.delay_secs),
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest that cancels queued withdrawal `id` under governance nonce `nonce`.
    pub fn cancel_withdrawal_digest(&self, nonce: u64, id: u64) -> B256 {
        CancelWithdrawal {
            nonce: U256::from(nonce),
            id: U256::from(id),
        }
        .eip712_signing_hash(&self.eip712())
    }
}

/// A token's withdrawal rate limit on Ethereum: at most `max_per_window` paid per
/// `window_secs`; withdrawals beyond it wait `delay_secs` (during which the validator set can
/// cancel them). `max_per_window` zero: no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Most paid per window, in the token's smallest unit.
    pub max_per_window: U256,
    /// The window, in seconds.
    pub window_secs: u64,
    /// How long a withdrawal above the limit waits, in seconds.
    pub delay_secs: u64,
}

/// What the Parallax side's pause signatures are bound to: `ParallaxBridgeL2` on the Parallax
/// chain (EIP-712 domain `ParallaxBridgeL2`, version `1`, the chain id, the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2BridgeDomain {
    /// Parallax's chain id.
    pub chain_id: u64,
    /// The `ParallaxBridgeL2` contract.
    pub bridge: Address,
}

impl L2BridgeDomain {
    /// The EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        Eip712Domain::new(
            Some("ParallaxBridgeL2".into()),
            Some("1".into()),
            Some(U256::from(self.chain_id)),
            Some(self.bridge),
            None,
        )
    }

    /// The digest one validator signs to pause withdrawals while the nonce is `nonce`.
    pub fn guardian_pause_digest(&self, nonce: u64) -> B256 {
        GuardianPause {
            nonce: U256::from(nonce),
        }
        .eip712_signing_hash(&self.eip712())
    }

    /// The digest a quorum signs to pause or unpause withdrawals under nonce `nonce`.
    pub fn set_paused_digest(&self, nonce: u64, paused: bool) -> B256 {
        SetPaused {
            nonce: U256::from(nonce),
            paused,
        }
        .eip712_signing_hash(&self.eip712())
    }
}

/// Signs `digest` with a bridge key: 65 bytes (r, s, v with v 27 or 28, low s), the form
/// `ParallaxBridge` checks.
pub fn sign_digest(key: &PrivateKeySigner, digest: B256) -> Result<[u8; 65], AttestError> {
    let sig = key
        .sign_hash_sync(&digest)
        .map_err(|e| AttestError::Signing(e.to_string()))?;
    let sig = sig.normalize_s().unwrap_or(sig);
    Ok(sig.as_bytes())
}

/// Recovers who signed `digest`, refusing the encodings the L1 contract refuses.
pub fn recover_signer(digest: B256, signature: &[u8]) -> Result<Address, AttestError> {
    if signature.len() != 65 {
        return Err(AttestError::Malformed("a signature is 65 bytes"));
    }
    if !matches!(signature[64], 27 | 28) {
        return Err(AttestError::Malformed("v must be 27 or 28"));
    }
    let sig = Signature::from_raw(signature).map_err(|_| AttestError::Malformed("bad r or s"))?;
    if sig.normalize_s().is_some() {
        return Err(AttestError::Malformed(
            "s is in the upper half of the curve order",
        ));
    }
    sig.recover_address_from_prehash(&digest)
        .map_err(|_| AttestError::Malformed("no public key recovers from it"))
}

/// Why a signature was not counted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestError {
    /// The bytes are not a signature the contract accepts.
    #[error("malformed signature: {0}")]
    Malformed(&'static str),
    /// It recovers to an address outside the validator set.
    #[error("{0} is not a bridge validator")]
    NotAValidator(Address),
    /// The key could not sign.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// The validators' bridge addresses and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeValidators {
    power: BTreeMap<Address, u64>,
    total: u128,
}

impl BridgeValidators {
    /// The set; a repeated address keeps its first power (genesis validation refuses repeats).
    pub fn new(set: impl IntoIterator<Item = (Address, u64)>) -> Self {
        let mut power = BTreeMap::new();
        for (addr, p) in set {
            power.entry(addr).or_insert(p);
        }
        let total = power.values().map(|p| u128::from(*p)).sum();
        Self { power, total }
    }

    /// The power of `addr` (0 outside the set).
    pub fn power_of(&self, addr: &Address) -> u64 {
        self.power.get(addr).copied().unwrap_or(0)
    }

    /// The total power.
    pub fn total(&self) -> u128 {
        self.total
    }

    /// Whether `power` is more than 2/3 of the total, as the contract requires.
    pub fn is_quorum(&self, power: u128) -> bool {
        3 * power > 2 * self.total
    }
}

/// Signatures over one digest, at most one per validator, until they carry a quorum.
#[derive(Clone, Debug)]
pub struct Quorum {
    digest: B256,
    signatures: BTreeMap<Address, [u8; 65]>,
    power: u128,
}

impl Quorum {
    /// Collects signatures over `digest`.
    pub fn new(digest: B256) -> Self {
        Self {
            digest,
            signatures: BTreeMap::new(),
            power: 0,
        }
    }

    /// The digest being signed.
    pub fn digest(&self) -> B256 {
        self.digest
    }

    /// Counts a signature: `Ok(true)` when it is a new validator's, `Ok(false)` when that
    /// validator had already signed (kept once), an error when it is malformed or not a
    /// validator's.
    pub fn add(
        &mut self,
        validators: &BridgeValidators,
        signature: &[u8],
    ) -> Result<bool, AttestError> {
        let signer = recover_signer(self.digest, signature)?;
        let power = validators.power_of(&signer);
        if power == 0 {
            return Err(AttestError::NotAValidator(signer));
        }
        if self.signatures.contains_key(&signer) {
            return Ok(false);
        }
        let mut bytes = [0u8; 65];
        bytes.copy_from_slice(signature);
        self.signatures.insert(signer, bytes);
        self.power += u128::from(power);
        Ok(true)
    }

    /// The power signed so far.
    pub fn power(&self) -> u128 {
        self.power
    }

    /// How many validators signed.
    pub fn signers(&self) -> usize {
        self.signatures.len()
    }

    /// Whether the signatures carry more than 2/3 of `validators`' power.
    pub fn is_reached(&self, validators: &BridgeValidators) -> bool {
        validators.is_quorum(self.power)
    }

    /// The signatures in ascending signer order, as the contract takes them.
    pub fn signatures(&self) -> Vec<Bytes> {
        self.signatures
            .values()
            .map(|s| Bytes::copy_from_slice(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<PrivateKeySigner> {
        (1..=n)
            .map(|i| PrivateKeySigner::from_bytes(&B256::with_last_byte(i as u8)).unwrap())
            .collect()
    }

    fn domain() -> BridgeDomain {
        BridgeDomain {
            l1_chain_id: 31337,
            l1_bridge: Address::with_last_byte(0xb1),
            l2_chain_id: 4242,
        }
    }

    #[test]
    fn signatures_recover_to_their_signer_and_only_over_their_digest() {
        let key = &keys(1)[0];
        let d = domain();
        let digest = d.withdrawal_root_digest(5, B256::with_last_byte(9));
        let sig = sign_digest(key, digest).unwrap();
        assert!(matches!(sig[64], 27 | 28));
        assert_eq!(recover_signer(digest, &sig).unwrap(), key.address());
        // Every part of the domain and message changes the digest.
        for other in [
            d.withdrawal_root_digest(6, B256::with_last_byte(9)),
            d.withdrawal_root_digest(5, B256::with_last_byte(8)),
            BridgeDomain {
                l1_chain_id: 1,
                ..d
            }
            .withdrawal_root_digest(5, B256::with_last_byte(9)),
            BridgeDomain {
                l2_chain_id: 1,
                ..d
            }
            .withdrawal_root_digest(5, B256::with_last_byte(9)),
            BridgeDomain {
                l1_bridge: Address::ZERO,
                ..d
            }
            .withdrawal_root_digest(5, B256::with_last_byte(9)),
        ] {
            assert_ne!(other, digest);
            assert_ne!(recover_signer(other, &sig).ok(), Some(key.address()));
        }
    }

    #[test]
    fn malleable_and_malformed_signatures_are_refused() {
        let key = &keys(1)[0];
        let digest = domain().set_paused_digest(0, true);
        let sig = sign_digest(key, digest).unwrap();
        // The high-s twin: s' = n - s, parity flipped. ecrecover would accept it.
        let parsed = Signature::from_raw(&sig).unwrap();
        let n = alloy_primitives::uint!(
            0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141_U256
        );
        let twin = Signature::new(parsed.r(), n - parsed.s(), !parsed.v());
        assert_eq!(
            twin.recover_address_from_prehash(&digest).unwrap(),
            key.address()
        );
        assert_eq!(
            recover_signer(digest, &twin.as_bytes()),
            Err(AttestError::Malformed(
                "s is in the upper half of the curve order"
            ))
        );
        assert!(recover_signer(digest, &sig[..64]).is_err());
        let mut bad_v = sig;
        bad_v[64] = 1;
        assert!(recover_signer(digest, &bad_v).is_err());
    }

    #[test]
    fn a_quorum_needs_more_than_two_thirds_and_counts_each_signer_once() {
        let ks = keys(4);
        let validators = BridgeValidators::new(ks.iter().map(|k| (k.address(), 1)));
        let digest = domain().withdrawal_root_digest(1, B256::with_last_byte(1));
        let mut q = Quorum::new(digest);
        let sigs: Vec<_> = ks.iter().map(|k| sign_digest(k, digest).unwrap()).collect();
        assert_eq!(q.add(&validators, &sigs[0]), Ok(true));
        assert_eq!(
            q.add(&validators, &sigs[0]),
            Ok(false),
            "the same signer again"
        );
        assert_eq!(q.add(&validators, &sigs[1]), Ok(true));
        assert!(!q.is_reached(&validators), "2 of 4 is not more than 2/3");
        let outsider = PrivateKeySigner::from_bytes(&B256::with_last_byte(99)).unwrap();
        assert_eq!(
            q.add(&validators, &sign_digest(&outsider, digest).unwrap()),
            Err(AttestError::NotAValidator(outsider.address()))
        );
        assert_eq!(q.add(&validators, &sigs[2]), Ok(true));
        assert!(q.is_reached(&validators), "3 of 4 is");
        let ordered = q.signatures();
        let signers: Vec<_> = ordered
            .iter()
            .map(|s| recover_signer(digest, s).unwrap())
            .collect();
        assert!(signers.windows(2).all(|w| w[0] < w[1]), "ascending signers");
        assert_eq!(q.signers(), 3);
    }

    #[test]
    fn weighted_power_decides_not_the_number_of_signers() {
        let ks = keys(3);
        let validators = BridgeValidators::new([
            (ks[0].address(), 70),
            (ks[1].address(), 20),
            (ks[2].address(), 10),
        ]);
        let digest = domain().set_paused_digest(3, false);
        let mut q = Quorum::new(digest);
        q.add(&validators, &sign_digest(&ks[1], digest).unwrap())
            .unwrap();
        q.add(&validators, &sign_digest(&ks[2], digest).unwrap())
            .unwrap();
        assert!(!q.is_reached(&validators), "30 of 100");
        q.add(&validators, &sign_digest(&ks[0], digest).unwrap())
            .unwrap();
        assert!(q.is_reached(&validators));
        // Exactly 2/3 is not enough.
        let thirds = BridgeValidators::new([(ks[0].address(), 2), (ks[1].address(), 1)]);
        assert!(!thirds.is_quorum(2));
        assert!(thirds.is_quorum(3));
    }
}
