//! Deposits as Parallax carries them: the [`Deposit`] a proposal mints, made from the event
//! Ethereum's bridge contract emitted ([`Deposit::from_l1`]), and the header's commitment to a
//! block's deposits ([`requests_hash`], an EIP-7685 request of type
//! [`DEPOSIT_REQUEST_TYPE`]).

use crate::l1::L1Deposit;
use alloy_primitives::{Address, B256, Bytes, U256};

/// The EIP-7685 request type under which a Parallax header's `requests_hash` commits to the
/// block's bridge deposits.
pub const DEPOSIT_REQUEST_TYPE: u8 = 0x50;

/// A bridge deposit as a proposal carries it: what execution mints, and where Ethereum holds
/// it (so voters compare it with their own view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// The deposit nonce on Ethereum.
    pub nonce: u64,
    /// The Ethereum token (`Address::ZERO` for ETH).
    pub l1_token: Address,
    /// Who deposited on Ethereum (the refund goes there if minting fails).
    pub l1_from: Address,
    /// The Parallax recipient.
    pub recipient: Address,
    /// What the Ethereum contract received.
    pub amount: U256,
    /// The depositing Ethereum transaction.
    pub l1_tx_hash: B256,
    /// The Ethereum block that holds it.
    pub l1_block: u64,
    /// The token's metadata as the Ethereum bridge read it (empty for ETH).
    pub metadata: Bytes,
}

impl Deposit {
    /// The deposit an Ethereum `Deposit` event records.
    pub fn from_l1(d: &L1Deposit) -> Self {
        Self {
            nonce: d.nonce,
            l1_token: d.token,
            l1_from: d.from,
            recipient: d.l2_recipient,
            amount: d.amount,
            l1_tx_hash: d.tx_hash,
            l1_block: d.block_number,
            metadata: d.metadata.clone(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(self.l1_token.as_slice());
        out.extend_from_slice(self.l1_from.as_slice());
        out.extend_from_slice(self.recipient.as_slice());
        out.extend_from_slice(&self.amount.to_be_bytes::<32>());
        out.extend_from_slice(self.l1_tx_hash.as_slice());
        out.extend_from_slice(&self.l1_block.to_be_bytes());
        out.extend_from_slice(&(self.metadata.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.metadata);
    }
}

/// The header's `requests_hash` for a block minting `deposits` (EIP-7685's hash over one
/// request of type [`DEPOSIT_REQUEST_TYPE`] whose data is each deposit's fields in order:
/// fixed-width, the metadata length-prefixed). With no deposits it is EIP-7685's empty
/// requests hash, as on Ethereum.
pub fn requests_hash(deposits: &[Deposit]) -> B256 {
    let mut request = Vec::with_capacity(1 + deposits.len() * 160);
    request.push(DEPOSIT_REQUEST_TYPE);
    for d in deposits {
        d.encode(&mut request);
    }
    alloy_eips::eip7685::Requests::new(vec![request.into()]).requests_hash()
}

#[cfg(test)]
impl Deposit {
    /// A deposit of token 0 from `0x06..` to `0x07..` whose fields all follow from `nonce`
    /// (the bridge's unit tests' fixture).
    pub(crate) fn sample(nonce: u64) -> Self {
        Self {
            nonce,
            l1_token: Address::ZERO,
            l1_from: Address::repeat_byte(6),
            recipient: Address::repeat_byte(7),
            amount: U256::from(1000 + nonce),
            l1_tx_hash: B256::repeat_byte(nonce as u8),
            l1_block: 10 + nonce,
            metadata: Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_hash_commits_to_every_field_and_is_empty_without_deposits() {
        assert_eq!(requests_hash(&[]), alloy_eips::eip7685::EMPTY_REQUESTS_HASH);
        let base = requests_hash(&[Deposit::sample(0)]);
        let changed = vec![
            Deposit {
                nonce: 1,
                ..Deposit::sample(0)
            },
            Deposit {
                l1_token: Address::repeat_byte(1),
                ..Deposit::sample(0)
            },
            Deposit {
                l1_from: Address::repeat_byte(1),
                ..Deposit::sample(0)
            },
            Deposit {
                recipient: Address::repeat_byte(1),
                ..Deposit::sample(0)
            },
            Deposit {
                amount: U256::from(1),
                ..Deposit::sample(0)
            },
            Deposit {
                l1_tx_hash: B256::repeat_byte(0xee),
                ..Deposit::sample(0)
            },
            Deposit {
                l1_block: 0,
                ..Deposit::sample(0)
            },
            Deposit {
                metadata: Bytes::from_static(b"x"),
                ..Deposit::sample(0)
            },
        ];
        for d in changed {
            assert_ne!(requests_hash(std::slice::from_ref(&d)), base, "{d:?}");
        }
        assert_ne!(
            requests_hash(&[Deposit::sample(0), Deposit::sample(1)]),
            base
        );
        // The metadata is length-prefixed: moving a byte between two deposits' metadata
        // changes the hash.
        let a = Deposit {
            metadata: Bytes::from_static(b"ab"),
            ..Deposit::sample(0)
        };
        let b = Deposit {
            metadata: Bytes::from_static(b"a"),
            ..Deposit::sample(0)
        };
        assert_ne!(requests_hash(&[a]), requests_hash(&[b]));
    }
}
