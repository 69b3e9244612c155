use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::TxKind;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use parallax_genesis::{ValidatorKeys, dev_accounts, parallax_genesis};

struct Setup {
    spec: Arc<ChainSpec>,
    accounts: Vec<(Address, B256)>,
}

fn setup() -> Setup {
    let keys: Vec<ValidatorKeys> = (0..2).map(|_| ValidatorKeys::generate().unwrap()).collect();
    let validators = ValidatorKeys::equal_validators(&keys);
    let accounts = dev_accounts(4).unwrap();
    let genesis = parallax_genesis(4242, 1_700_000_000, validators, &accounts).unwrap();
    Setup {
        spec: Arc::new(ChainSpec::new(genesis).unwrap()),
        accounts,
    }
}

fn open(setup: &Setup) -> (tempfile::TempDir, Chain) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let block = setup.spec.genesis.build().unwrap();
    let write = crate::genesis_write(&setup.spec.genesis, &block);
    db.write_genesis(&write, setup.spec.chain_id).unwrap();
    let chain = Chain::open(db, setup.spec.clone(), 2).unwrap();
    (dir, chain)
}

fn transfer(
    setup: &Setup,
    from: usize,
    nonce: u64,
    to: Address,
    value: u64,
) -> (TxEnvelope, Address) {
    let (address, key) = setup.accounts[from];
    let signer = PrivateKeySigner::from_bytes(&key).unwrap();
    let tx = TxEip1559 {
        chain_id: setup.spec.chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    (TxEnvelope::from(tx.into_signed(sig)), address)
}

#[test]
fn a_built_block_validates_elsewhere_and_both_nodes_commit_the_same_state() {
    let s = setup();
    let (_d1, mut leader) = open(&s);
    let (_d2, mut follower) = open(&s);
    let genesis = leader.head().hash;
    let to = Address::repeat_byte(0x77);
    let ctx = BlockContext {
        parent_hash: genesis,
        author: 0,
        timestamp: 1_700_000_005,
    };
    let b1 = leader
        .build(
            ctx,
            vec![transfer(&s, 0, 0, to, 5), transfer(&s, 1, 0, to, 7)],
            vec![],
        )
        .unwrap();
    assert_eq!(b1.transactions.len(), 2);
    assert_eq!(b1.header.number, 1);
    assert_eq!(b1.header.gas_used, 42_000);
    assert_eq!(b1.header.beneficiary, s.spec.validators[0].bridge_address);
    // The second block builds on the first before it is committed; the invalid (replayed)
    // transaction is left out.
    let ctx2 = BlockContext {
        parent_hash: b1.hash,
        author: 1,
        timestamp: 1_700_000_004, // earlier than the parent: raised to the parent's
    };
    let b2 = leader
        .build(
            ctx2,
            vec![transfer(&s, 0, 0, to, 5), transfer(&s, 0, 1, to, 11)],
            vec![],
        )
        .unwrap();
    assert_eq!(b2.transactions.len(), 1);
    assert_eq!(b2.header.timestamp, b1.header.timestamp);
    assert_eq!(
        b2.header.base_fee_per_gas,
        b1.header.next_block_base_fee(BaseFeeParams::ethereum())
    );

    for (b, author) in [(&b1, 0), (&b2, 1)] {
        let checked = follower
            .validate(
                b.header.number,
                author,
                &b.header,
                b.transactions.clone(),
                &[],
                None,
            )
            .unwrap();
        assert_eq!(checked.hash, b.hash);
    }
    // A block whose header lies about the state root is refused, naming the field.
    let mut forged = b2.header.clone();
    forged.state_root = B256::repeat_byte(1);
    forged.extra_data = Bytes::new();
    let err = follower
        .validate(2, 1, &forged, b2.transactions.clone(), &[], None)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ChainError::Invalid(InvalidBlock::Header {
                field: "state_root",
                ..
            })
        ),
        "{err}"
    );
    // A block from the wrong author has the wrong beneficiary.
    let err = follower
        .validate(2, 0, &b2.header, b2.transactions.clone(), &[], None)
        .unwrap_err();
    assert!(matches!(&err, ChainError::Invalid(_)), "{err}");

    for chain in [&mut leader, &mut follower] {
        chain.commit(b1.hash, Bytes::from_static(b"c1")).unwrap();
        // b2's root was computed over an uncommitted parent: its trie nodes are recomputed
        // now that b1 is the head.
        chain.commit(b2.hash, Bytes::from_static(b"c2")).unwrap();
        assert_eq!(chain.head().hash, b2.hash);
        let reader = chain.db().reader().unwrap();
        assert_eq!(reader.head_number().unwrap(), Some(2));
        let account = reader.account(to).unwrap().unwrap();
        assert_eq!(account.balance, U256::from(23));
        assert_eq!(
            reader.certificate(2).unwrap().unwrap(),
            Bytes::from_static(b"c2")
        );
    }
    // A block that does not extend the head cannot be committed.
    let stale = follower.build(ctx, vec![], vec![]).unwrap_err();
    assert!(matches!(stale, ChainError::UnknownParent(_)), "{stale}");
}

#[test]
fn senders_the_mempool_recovered_are_reused_and_the_rest_recovered_with_their_own_index() {
    let s = setup();
    let (_d1, mut leader) = open(&s);
    let (_d2, mut follower) = open(&s);
    let to = Address::repeat_byte(0x78);
    let ctx = BlockContext {
        parent_hash: leader.head().hash,
        author: 0,
        timestamp: 1_700_000_005,
    };
    let txs: Vec<_> = (0..3)
        .map(|i| transfer(&s, i, 0, to, 1 + i as u64))
        .collect();
    let b1 = leader.build(ctx, txs.clone(), vec![]).unwrap();
    assert_eq!(b1.transactions.len(), 3);
    // Two senders known (as the mempool would give them), one recovered here.
    let known = [Some(txs[0].1), None, Some(txs[2].1)];
    let checked = follower
        .validate_with_senders(1, 0, &b1.header, b1.transactions.clone(), &[], &known, None)
        .unwrap();
    assert_eq!(checked.hash, b1.hash);
    assert_eq!(checked.senders, vec![txs[0].1, txs[1].1, txs[2].1]);

    // An unknown transaction whose signature yields no sender is refused by its index in
    // the block, not in the subset recovered.
    let (_d3, mut other) = open(&s);
    let mut bad = b1.transactions.clone();
    let TxEnvelope::Eip1559(signed) = &bad[2] else {
        panic!("an EIP-1559 transfer")
    };
    let broken = alloy_primitives::Signature::new(U256::ZERO, U256::ZERO, false);
    bad[2] = TxEnvelope::from(signed.tx().clone().into_signed(broken));
    let err = other
        .validate_with_senders(
            1,
            0,
            &b1.header,
            bad,
            &[],
            &[Some(txs[0].1), Some(txs[1].1)],
            None,
        )
        .unwrap_err();
    match err {
        ChainError::Invalid(InvalidBlock::Transaction { index, reason }) => {
            assert_eq!(index, 2);
            assert!(reason.starts_with("transaction 2:"), "{reason}");
        }
        e => panic!("{e}"),
    }
}
