//! Where a block's withdrawals come from, and the proof anyone needs to finalize one.
//!
//! A block's withdrawals are the `WithdrawalInitiated` events of `ParallaxBridgeL2`: first
//! those of its deposits' system calls (refunds of deposits that could not be minted, in no
//! receipt), then those of its successful transactions' receipts, which is the order their
//! ids were assigned in.

use crate::{
    attest::{BridgeDomain, BridgeValidators, recover_signer},
    contracts::{IParallaxBridgeL2, l2_storage},
    withdrawal::{Withdrawal, WithdrawalTree},
};
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Address, B256, BloomInput, Bytes, Log};
use alloy_sol_types::SolEvent;
use parallax_genesis::L2_BRIDGE_ADDRESS;
use parallax_storage_api::{BlockReader, StateReader, StorageError, WithdrawalSignatureReader};

/// The withdrawals `logs` record, in log order (logs of other contracts and events ignored).
pub fn withdrawal_events<'a>(logs: impl IntoIterator<Item = &'a Log>) -> Vec<Withdrawal> {
    let mut out = Vec::new();
    for log in logs {
        if log.address != L2_BRIDGE_ADDRESS
            || log.topics().first() != Some(&IParallaxBridgeL2::WithdrawalInitiated::SIGNATURE_HASH)
        {
            continue;
        }
        // The bridge is genesis code: its events always decode.
        if let Ok(e) = IParallaxBridgeL2::WithdrawalInitiated::decode_log_data(&log.data)
            && let Ok(id) = u64::try_from(e.id)
        {
            out.push(Withdrawal {
                id,
                l1_token: e.l1Token,
                l1_recipient: e.l1Recipient,
                amount: e.amount,
            });
        }
    }
    out
}

/// The withdrawals `receipts` initiated, in log order; failed receipts count for nothing.
pub fn withdrawals_in(receipts: &[ReceiptEnvelope]) -> Vec<Withdrawal> {
    withdrawal_events(
        receipts
            .iter()
            .filter(|r| r.status())
            .flat_map(|r| r.logs().iter()),
    )
}

/// Whether a block's bloom admits a `WithdrawalInitiated` event of the bridge in its receipts
/// (false: they have none for certain; refunds are in the system logs, outside the bloom).
pub fn may_have_withdrawals(header: &Header) -> bool {
    header
        .logs_bloom
        .contains_input(BloomInput::Raw(L2_BRIDGE_ADDRESS.as_slice()))
        && header.logs_bloom.contains_input(BloomInput::Raw(
            IParallaxBridgeL2::WithdrawalInitiated::SIGNATURE_HASH.as_slice(),
        ))
}

/// The withdrawals of committed block `number`, in id order (none for a block not stored).
pub fn block_withdrawals(
    reader: &(impl BlockReader + ?Sized),
    number: u64,
) -> Result<Vec<Withdrawal>, StorageError> {
    let Some(header) = reader.header(number)? else {
        return Ok(Vec::new());
    };
    let mut out = withdrawal_events(&reader.system_logs(number)?);
    if may_have_withdrawals(&header) {
        out.extend(withdrawals_in(
            &reader.receipts(number)?.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// `ParallaxBridgeL2.nextWithdrawalId` after committed block `number`.
pub fn next_withdrawal_id_at(
    reader: &(impl StateReader + ?Sized),
    number: u64,
) -> Result<u64, StorageError> {
    let v = reader.storage_at(L2_BRIDGE_ADDRESS, l2_storage::NEXT_WITHDRAWAL_ID, number)?;
    Ok(u64::try_from(v).unwrap_or(u64::MAX))
}

/// Where withdrawal `id` was initiated: the block and its withdrawals; `None` if no committed
/// block initiated it (yet). Ids are gap-free and grow with the block number, so the block is
/// found by binary search over the bridge's `nextWithdrawalId` history.
pub fn find_withdrawal(
    reader: &(impl BlockReader + StateReader + ?Sized),
    id: u64,
) -> Result<Option<(u64, Vec<Withdrawal>)>, StorageError> {
    let Some(head) = reader.head_number()? else {
        return Ok(None);
    };
    if next_withdrawal_id_at(reader, head)? <= id {
        return Ok(None);
    }
    // The first block after which more than `id` withdrawals exist.
    let (mut lo, mut hi) = (0u64, head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if next_withdrawal_id_at(reader, mid)? > id {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(Some((lo, block_withdrawals(reader, lo)?)))
}

/// A withdrawal with what `finalizeWithdrawal` needs to pay it, and what
/// `submitWithdrawalRoot` needs to attest its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalProof {
    /// The withdrawal.
    pub withdrawal: Withdrawal,
    /// The Parallax block that initiated it.
    pub l2_block: u64,
    /// That block's withdrawal root.
    pub root: B256,
    /// The Merkle proof of the withdrawal's leaf against the root.
    pub proof: Vec<B256>,
    /// The leaf.
    pub leaf: B256,
    /// The validators' signatures over the root this node holds, in ascending signer order
    /// (as `submitWithdrawalRoot` takes them).
    pub signatures: Vec<Bytes>,
    /// Whether those signatures carry more than 2/3 of the power.
    pub quorum: bool,
}

/// The proof of withdrawal `id`, if a committed block initiated it, with the root's
/// signatures this node has stored (each checked again against its validator's bridge key).
pub fn withdrawal_proof(
    reader: &(impl BlockReader + StateReader + WithdrawalSignatureReader + ?Sized),
    id: u64,
    domain: &BridgeDomain,
    validators: &BridgeValidators,
    bridge_addresses: &[Address],
) -> Result<Option<WithdrawalProof>, StorageError> {
    let Some((l2_block, withdrawals)) = find_withdrawal(reader, id)? else {
        return Ok(None);
    };
    let Some(index) = withdrawals.iter().position(|w| w.id == id) else {
        return Err(StorageError::Inconsistent(format!(
            "withdrawal {id} counted in block {l2_block} but not among its events"
        )));
    };
    let tree = WithdrawalTree::new(&withdrawals)
        .ok_or_else(|| StorageError::Inconsistent("empty withdrawal tree".into()))?;
    let root = tree.root();
    let digest = domain.withdrawal_root_digest(l2_block, root);
    let mut signed: Vec<(Address, [u8; 65])> = reader
        .withdrawal_signatures(l2_block)?
        .into_iter()
        .filter(|(_, r, _)| *r == root)
        .filter_map(|(validator, _, signature)| {
            let expected = bridge_addresses.get(validator as usize)?;
            (recover_signer(digest, &signature).ok()? == *expected)
                .then_some((*expected, signature))
        })
        .collect();
    signed.sort_by_key(|(signer, _)| *signer);
    signed.dedup_by_key(|(signer, _)| *signer);
    let power: u128 = signed
        .iter()
        .map(|(signer, _)| u128::from(validators.power_of(signer)))
        .sum();
    Ok(Some(WithdrawalProof {
        withdrawal: withdrawals[index],
        l2_block,
        root,
        proof: tree.proof(index).unwrap_or_default(),
        leaf: withdrawals[index].leaf(),
        signatures: signed
            .into_iter()
            .map(|(_, s)| Bytes::copy_from_slice(&s))
            .collect(),
        quorum: validators.is_quorum(power),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{attest::sign_digest, watcher::DepositCursor, withdrawal::process_proof};
    use alloy_consensus::{Receipt, ReceiptWithBloom, Signed, TxEip1559, TxEnvelope};
    use alloy_primitives::{LogData, Signature, TxKind, U256, logs_bloom};
    use alloy_signer_local::PrivateKeySigner;
    use parallax_storage::{BlockWrite, StorageChanges};
    use parallax_storage_api::MemoryStore;

    fn withdrawal_log(id: u64, amount: u64) -> Log {
        withdrawal_to(id, Address::ZERO, Address::repeat_byte(2), amount)
    }

    fn withdrawal_to(id: u64, token: Address, recipient: Address, amount: u64) -> Log {
        let e = IParallaxBridgeL2::WithdrawalInitiated {
            id: U256::from(id),
            l1Token: token,
            from: Address::repeat_byte(1),
            l1Recipient: recipient,
            amount: U256::from(amount),
        };
        Log {
            address: L2_BRIDGE_ADDRESS,
            data: e.encode_log_data(),
        }
    }

    fn receipt(status: bool, logs: Vec<Log>) -> ReceiptEnvelope {
        ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(
            Receipt {
                status: status.into(),
                cumulative_gas_used: 21_000,
                logs,
            },
            Default::default(),
        ))
    }

    #[test]
    fn only_the_bridges_withdrawal_events_of_successful_receipts_count() {
        let mut forged = withdrawal_log(9, 1);
        forged.address = Address::repeat_byte(0x66);
        let other = Log {
            address: L2_BRIDGE_ADDRESS,
            data: LogData::new_unchecked(vec![B256::repeat_byte(3)], Default::default()),
        };
        let receipts = vec![
            receipt(true, vec![withdrawal_log(0, 5), other, forged]),
            receipt(false, vec![withdrawal_log(7, 5)]),
            receipt(true, vec![withdrawal_log(1, 6)]),
        ];
        let found = withdrawals_in(&receipts);
        assert_eq!(found.iter().map(|w| w.id).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(found[1].amount, U256::from(6));
        assert_eq!(found[0].l1_recipient, Address::repeat_byte(2));
        // A refund in a system log counts like any other withdrawal.
        assert_eq!(withdrawal_events(&[withdrawal_log(4, 1)]).len(), 1);
    }

    /// A transaction for a receipt of [`receipt`] to belong to (EIP-1559, as the receipt is;
    /// its content does not matter here).
    fn transaction(nonce: u64) -> TxEnvelope {
        let tx = TxEip1559 {
            chain_id: 7,
            nonce,
            gas_limit: 100_000,
            to: TxKind::Call(L2_BRIDGE_ADDRESS),
            ..Default::default()
        };
        let signature = Signature::new(U256::from(nonce + 1), U256::from(2), false);
        TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature))
    }

    /// Block `number` on `parent`, with its system logs, one transaction per receipt (the
    /// header's bloom over the receipts' logs, as execution computes it) and the bridge's
    /// storage slots it sets.
    fn block(
        parent: Option<&BlockWrite>,
        system_logs: Vec<Log>,
        receipts: Vec<ReceiptEnvelope>,
        bridge_slots: &[(B256, u64)],
    ) -> BlockWrite {
        let number = parent.map_or(0, |p| p.header.number + 1);
        let mut block = BlockWrite::new(Header {
            number,
            parent_hash: parent.map_or(B256::ZERO, |p| p.hash),
            logs_bloom: logs_bloom(receipts.iter().flat_map(|r| r.logs())),
            ..Default::default()
        });
        block.transactions = (0..receipts.len() as u64)
            .map(|i| transaction(number * 10 + i))
            .collect();
        block.receipts = receipts;
        block.system_logs = system_logs;
        let slots = bridge_slots
            .iter()
            .map(|&(slot, value)| (slot, U256::from(value)))
            .collect();
        let storage = StorageChanges {
            wiped: false,
            slots,
        };
        block.state.storage.insert(L2_BRIDGE_ADDRESS, storage);
        block
    }

    #[test]
    fn the_relay_finds_a_blocks_withdrawals_and_their_proof_in_a_memory_store() {
        let token = Address::repeat_byte(0x70);
        let alice = Address::repeat_byte(0xa1);
        let bob = Address::repeat_byte(0xb0);
        // Block 0: three deposits minted so far, the last in Ethereum block 41.
        let b0 = block(
            None,
            vec![],
            vec![],
            &[
                (l2_storage::NEXT_DEPOSIT_NONCE, 3),
                (l2_storage::LAST_DEPOSIT_L1_BLOCK, 41),
            ],
        );
        // Block 1: a deposit's refund to alice (withdrawal 0, in a system log), then bob's
        // withdrawal of 5 ether (1); a failed transaction's forged event counts for nothing.
        let b1 = block(
            Some(&b0),
            vec![withdrawal_to(0, token, alice, 9)],
            vec![
                receipt(false, vec![withdrawal_to(7, token, bob, 1_000)]),
                receipt(
                    true,
                    vec![withdrawal_to(1, Address::ZERO, bob, 5_000_000_000)],
                ),
            ],
            &[(l2_storage::NEXT_WITHDRAWAL_ID, 2)],
        );
        // Block 2: nothing for the bridge. Block 3: alice withdraws (2).
        let b2 = block(Some(&b1), vec![], vec![receipt(true, vec![])], &[]);
        let b3 = block(
            Some(&b2),
            vec![],
            vec![receipt(true, vec![withdrawal_to(2, token, alice, 4)])],
            &[(l2_storage::NEXT_WITHDRAWAL_ID, 3)],
        );
        let mut store = MemoryStore::new();
        store.write_genesis(&b0, 7).unwrap();
        for b in [&b1, &b2, &b3] {
            store.write_block(b).unwrap();
        }

        let found = block_withdrawals(&store, 1).unwrap();
        let summary: Vec<_> = found
            .iter()
            .map(|w| (w.id, w.l1_token, w.l1_recipient, w.amount))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, token, alice, U256::from(9)),
                (1, Address::ZERO, bob, U256::from(5_000_000_000u64)),
            ]
        );
        assert!(block_withdrawals(&store, 2).unwrap().is_empty());
        assert!(
            block_withdrawals(&store, 9).unwrap().is_empty(),
            "not a block yet"
        );
        assert_eq!(next_withdrawal_id_at(&store, 2).unwrap(), 2);

        // Withdrawal 2 is found in block 3, past the block without any; 3 does not exist yet.
        let (at, withdrawals) = find_withdrawal(&store, 2).unwrap().unwrap();
        assert_eq!((at, withdrawals[0].l1_recipient), (3, alice));
        assert_eq!(find_withdrawal(&store, 1).unwrap().unwrap().0, 1);
        assert_eq!(find_withdrawal(&store, 3).unwrap(), None);

        // Validators 0 and 1 (3 of 4 power) signed block 1's root; validator 2 another root.
        let keys: Vec<PrivateKeySigner> = (1..=3u8)
            .map(|k| PrivateKeySigner::from_bytes(&B256::repeat_byte(k)).unwrap())
            .collect();
        let addresses: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let validators = BridgeValidators::new(addresses.iter().copied().zip([2, 1, 1]));
        let domain = BridgeDomain {
            l1_chain_id: 1,
            l1_bridge: Address::repeat_byte(0xb1),
            l2_chain_id: 7,
        };
        let root = WithdrawalTree::new(&found).unwrap().root();
        let sign = |validator: usize, root: B256| {
            let digest = domain.withdrawal_root_digest(1, root);
            let signature = sign_digest(&keys[validator], digest).unwrap();
            (1, validator as u32, root, signature)
        };
        store.put_withdrawal_signatures(&[
            sign(0, root),
            sign(1, root),
            sign(2, B256::repeat_byte(9)),
        ]);

        let proof = withdrawal_proof(&store, 1, &domain, &validators, &addresses)
            .unwrap()
            .expect("withdrawal 1 was initiated");
        assert_eq!((proof.l2_block, proof.withdrawal), (1, found[1]));
        assert_eq!((proof.root, proof.leaf), (root, found[1].leaf()));
        assert_eq!(process_proof(proof.leaf, &proof.proof), root);
        assert_eq!(
            proof.signatures.len(),
            2,
            "the signature of another root is left out"
        );
        assert!(proof.quorum);
        assert_eq!(
            withdrawal_proof(&store, 3, &domain, &validators, &addresses).unwrap(),
            None
        );

        // The deposit watcher resumes where the chain's bridge stands.
        assert_eq!(
            DepositCursor::at_head(&store).unwrap(),
            DepositCursor {
                next_nonce: 3,
                last_l1_block: 41
            }
        );
    }
}
