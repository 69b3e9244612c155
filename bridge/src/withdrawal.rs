//! Withdrawals and the Merkle tree of a Parallax block's withdrawals, hashed exactly as
//! `ParallaxBridge.sol` verifies them.
//!
//! A leaf is `keccak256(keccak256(abi.encode(id, l1Token, l1Recipient, amount)))`: hashed
//! twice, so that no inner node (the hash of 64 bytes) can be passed off as a leaf (the hash
//! of a 32-byte hash). A parent is the keccak256 of its two children in ascending order, so a
//! proof is just the list of siblings; a node without a sibling moves up a level unchanged.

use alloy_primitives::{Address, B256, U256, keccak256};
use serde::{Deserialize, Serialize};

/// One withdrawal from Parallax to Ethereum, as the L1 contract pays it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// The withdrawal's id: Parallax numbers withdrawals from 0 with no gaps.
    pub id: u64,
    /// The Ethereum token paid out (`Address::ZERO` for ETH).
    pub l1_token: Address,
    /// Who receives the funds on Ethereum.
    pub l1_recipient: Address,
    /// How much, in the token's smallest unit (wei for ETH).
    pub amount: U256,
}

impl Withdrawal {
    /// The withdrawal's Merkle leaf (`ParallaxBridge.withdrawalLeaf`).
    pub fn leaf(&self) -> B256 {
        let mut encoded = [0u8; 128];
        encoded[24..32].copy_from_slice(&self.id.to_be_bytes());
        encoded[44..64].copy_from_slice(self.l1_token.as_slice());
        encoded[76..96].copy_from_slice(self.l1_recipient.as_slice());
        encoded[96..128].copy_from_slice(&self.amount.to_be_bytes::<32>());
        keccak256(keccak256(encoded))
    }
}

/// The parent of two nodes: the hash of both, the smaller first.
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// The root that `proof` leads to from `leaf` (`ParallaxBridge.processProof`).
pub fn process_proof(leaf: B256, proof: &[B256]) -> B256 {
    proof
        .iter()
        .fold(leaf, |node, sibling| hash_pair(node, *sibling))
}

/// The Merkle tree over one block's withdrawals, in the order the block made them.
#[derive(Clone, Debug)]
pub struct WithdrawalTree {
    /// `levels[0]` holds the leaves, the last level the root alone.
    levels: Vec<Vec<B256>>,
}

impl WithdrawalTree {
    /// Builds the tree; `None` when there are no withdrawals (such a block has no root).
    pub fn new(withdrawals: &[Withdrawal]) -> Option<Self> {
        if withdrawals.is_empty() {
            return None;
        }
        let mut levels = vec![withdrawals.iter().map(Withdrawal::leaf).collect::<Vec<_>>()];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let below = levels.last().expect("a level");
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => hash_pair(*a, *b),
                    [a] => *a,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
            levels.push(above);
        }
        Some(Self { levels })
    }

    /// The root validators sign.
    pub fn root(&self) -> B256 {
        self.levels.last().expect("a non-empty tree")[0]
    }

    /// How many withdrawals the tree holds.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Always false: an empty block has no tree.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The proof for the withdrawal at `index` (its position in the block); `None` past the end.
    pub fn proof(&self, index: usize) -> Option<Vec<B256>> {
        if index >= self.len() {
            return None;
        }
        let mut proof = Vec::with_capacity(self.levels.len());
        let mut i = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            if sibling < level.len() {
                proof.push(level[sibling]);
            }
            i /= 2;
        }
        Some(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    fn withdrawal(id: u64) -> Withdrawal {
        Withdrawal {
            id,
            l1_token: if id.is_multiple_of(2) {
                Address::ZERO
            } else {
                address!("0x5fbdb2315678afecb367f032d93f642f64180aa3")
            },
            l1_recipient: Address::with_last_byte(id as u8 + 1),
            amount: U256::from(1_000_000_007u64 * (id + 1)),
        }
    }

    #[test]
    fn the_leaf_is_the_double_hash_of_the_abi_encoding() {
        // keccak256(keccak256(abi.encode(uint256 7, address(0x..01), address(0x..02), uint256 3)))
        // as computed by hand from the ABI layout: four 32-byte words.
        let w = Withdrawal {
            id: 7,
            l1_token: Address::with_last_byte(1),
            l1_recipient: Address::with_last_byte(2),
            amount: U256::from(3),
        };
        let mut words = Vec::new();
        for word in [U256::from(7), U256::from(1), U256::from(2), U256::from(3)] {
            words.extend_from_slice(&word.to_be_bytes::<32>());
        }
        assert_eq!(w.leaf(), keccak256(keccak256(&words)));
        assert_ne!(w.leaf(), keccak256(&words), "hashed twice, not once");
    }

    #[test]
    fn every_proof_of_every_tree_size_leads_to_the_root() {
        for n in 1..=33u64 {
            let ws: Vec<_> = (0..n).map(withdrawal).collect();
            let tree = WithdrawalTree::new(&ws).expect("non-empty");
            assert_eq!(tree.len(), n as usize);
            for (i, w) in ws.iter().enumerate() {
                let proof = tree.proof(i).expect("in range");
                assert!(proof.len() <= 6, "depth is logarithmic");
                assert_eq!(process_proof(w.leaf(), &proof), tree.root(), "n={n} i={i}");
            }
            assert!(tree.proof(n as usize).is_none());
        }
    }

    #[test]
    fn a_single_withdrawal_is_its_own_root() {
        let w = withdrawal(0);
        let tree = WithdrawalTree::new(&[w]).unwrap();
        assert_eq!(tree.root(), w.leaf());
        assert!(tree.proof(0).unwrap().is_empty());
    }

    #[test]
    fn no_withdrawals_no_tree() {
        assert!(WithdrawalTree::new(&[]).is_none());
    }

    #[test]
    fn altered_withdrawals_and_truncated_proofs_do_not_verify() {
        let ws: Vec<_> = (0..9).map(withdrawal).collect();
        let tree = WithdrawalTree::new(&ws).unwrap();
        let proof = tree.proof(4).unwrap();
        let w = ws[4];
        for forged in [
            Withdrawal {
                amount: w.amount + U256::from(1),
                ..w
            },
            Withdrawal {
                l1_recipient: Address::with_last_byte(0xee),
                ..w
            },
            Withdrawal {
                l1_token: Address::with_last_byte(0xee),
                ..w
            },
            Withdrawal { id: w.id + 1, ..w },
        ] {
            assert_ne!(process_proof(forged.leaf(), &proof), tree.root());
        }
        for len in 0..proof.len() {
            assert_ne!(
                process_proof(w.leaf(), &proof[..len]),
                tree.root(),
                "truncated to {len}"
            );
        }
        // An inner node is not a leaf: the two leaves' parent with the rest of the proof.
        let inner = hash_pair(ws[4].leaf(), ws[5].leaf());
        assert_eq!(process_proof(inner, &proof[1..]), tree.root());
        assert_ne!(inner, w.leaf());
    }
}
