//! Withdrawal attestations as they travel on the `bridge` gossip topic: a validator's
//! signature over one block's withdrawal root.

use crate::attest::{BridgeDomain, recover_signer};
use alloy_primitives::{Address, B256};

/// A gossiped withdrawal attestation whose signature recovered to its validator's bridge
/// address (the network ingress checks that before relaying it).
#[derive(Debug, Clone)]
pub struct Attestation {
    /// The Parallax block.
    pub l2_block: u64,
    /// The root the validator signed.
    pub root: B256,
    /// The validator's index.
    pub validator: u32,
    /// The signature.
    pub signature: [u8; 65],
}

/// Checks a decoded attestation: the signature must be `validator`'s bridge key's over the
/// EIP-712 digest of `(l2_block, root)`.
pub fn verify_attestation(
    domain: &BridgeDomain,
    bridge_addresses: &[Address],
    a: &parallax_proto::v1::WithdrawalAttestation,
) -> Result<Attestation, String> {
    let expected = bridge_addresses
        .get(a.validator as usize)
        .ok_or_else(|| format!("validator {} is not in the set", a.validator))?;
    let root = B256::from_slice(&a.root);
    let signer = recover_signer(
        domain.withdrawal_root_digest(a.l2_block, root),
        &a.signature,
    )
    .map_err(|e| e.to_string())?;
    if signer != *expected {
        return Err(format!(
            "signed by {signer}, validator {}'s bridge key is {expected}",
            a.validator
        ));
    }
    let mut signature = [0u8; 65];
    signature.copy_from_slice(&a.signature);
    Ok(Attestation {
        l2_block: a.l2_block,
        root,
        validator: a.validator,
        signature,
    })
}

/// Encodes an attestation for the bridge topic.
pub fn encode_attestation(chain_id: u64, a: &Attestation) -> Vec<u8> {
    use prost::Message as _;
    parallax_proto::v1::WithdrawalAttestation {
        chain_id,
        l2_block: a.l2_block,
        root: a.root.to_vec(),
        validator: a.validator,
        signature: a.signature.to_vec(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::sign_digest;

    #[test]
    fn attestations_verify_only_for_their_validator_block_and_root() {
        let keys: Vec<_> = (1..=3u8)
            .map(|i| {
                alloy_signer_local::PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
            })
            .collect();
        let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let domain = BridgeDomain {
            l1_chain_id: 31337,
            l1_bridge: Address::repeat_byte(9),
            l2_chain_id: 4242,
        };
        let root = B256::repeat_byte(5);
        let sig = sign_digest(&keys[1], domain.withdrawal_root_digest(7, root)).unwrap();
        let msg =
            |validator: u32, block: u64, root: B256| parallax_proto::v1::WithdrawalAttestation {
                chain_id: 4242,
                l2_block: block,
                root: root.to_vec(),
                validator,
                signature: sig.to_vec(),
            };
        let ok = verify_attestation(&domain, &addrs, &msg(1, 7, root)).unwrap();
        assert_eq!((ok.l2_block, ok.root, ok.validator), (7, root, 1));
        assert!(
            verify_attestation(&domain, &addrs, &msg(0, 7, root)).is_err(),
            "another validator"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(1, 8, root)).is_err(),
            "another block"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(1, 7, B256::ZERO)).is_err(),
            "another root"
        );
        assert!(
            verify_attestation(&domain, &addrs, &msg(5, 7, root)).is_err(),
            "not in the set"
        );
        let other_domain = BridgeDomain {
            l2_chain_id: 1,
            ..domain
        };
        assert!(
            verify_attestation(&other_domain, &addrs, &msg(1, 7, root)).is_err(),
            "another chain"
        );
    }
}
