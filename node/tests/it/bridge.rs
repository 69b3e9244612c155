//! The bridge's node side over a real chain: what the deposit watcher and the withdrawal
//! relayer (`parallax_bridge::{watcher, relay}`) read back from blocks the chain committed.

use alloy_primitives::{Address, B256, Bytes, U256};
use parallax_bridge::{
    attest::{BridgeDomain, BridgeValidators},
    contracts::l2_storage,
    deposit::Deposit,
};
use parallax_bridge::{
    relay::{block_withdrawals, withdrawal_proof},
    watcher::DepositCursor,
};
use parallax_chain::{BlockContext, Chain, ChainSpec};
use parallax_genesis::{Genesis, L2_BRIDGE_ADDRESS, ValidatorKeys, dev_accounts, parallax_genesis};
use parallax_storage::Database;
use std::sync::Arc;

/// A two-validator Parallax genesis with four funded development accounts.
fn genesis() -> Genesis {
    let keys: Vec<ValidatorKeys> = (0..2).map(|_| ValidatorKeys::generate().unwrap()).collect();
    let validators = ValidatorKeys::equal_validators(&keys);
    parallax_genesis(4242, 1_700_000_000, validators, &dev_accounts(4).unwrap()).unwrap()
}

/// A chain at its genesis block in a fresh database.
fn open(spec: &Arc<ChainSpec>) -> (tempfile::TempDir, Chain) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let block = spec.genesis.build().unwrap();
    db.write_genesis(
        &parallax_chain::genesis_write(&spec.genesis, &block),
        spec.chain_id,
    )
    .unwrap();
    let chain = Chain::open(db, spec.clone(), 2).unwrap();
    (dir, chain)
}

/// A deposit the bridge contract cannot mint (its bridged token's address is taken) is
/// committed as failed, and its refund is a withdrawal of the block like any other: the
/// relayer signs it and `parallax_getWithdrawalProof` proves it. The deposit after it is
/// minted, and the deposit cursor a restarted watcher reads moves past both.
#[test]
fn a_deposit_that_cannot_be_minted_commits_as_failed_and_its_refund_is_a_withdrawal() {
    let taken = Address::repeat_byte(0x44);
    let mut genesis = genesis();
    genesis.alloc.insert(
        parallax_genesis::bridged_token_address(taken),
        parallax_genesis::state::GenesisAccount {
            code: Bytes::from_static(&[0x60, 0x00, 0x60, 0x00, 0xfd]),
            ..Default::default()
        },
    );
    let spec = Arc::new(ChainSpec::new(genesis).unwrap());
    let (_d1, mut leader) = open(&spec);
    let (_d2, mut follower) = open(&spec);
    let depositor = Address::repeat_byte(0xde);
    let deposit = |nonce: u64, l1_token: Address, amount: u64| Deposit {
        nonce,
        l1_token,
        l1_from: depositor,
        recipient: Address::repeat_byte(0x77),
        amount: U256::from(amount),
        l1_tx_hash: B256::repeat_byte(nonce as u8 + 1),
        l1_block: 40 + nonce,
        metadata: Bytes::new(),
    };
    let deposits = vec![deposit(0, taken, 9), deposit(1, Address::ZERO, 5)];
    let ctx = BlockContext {
        parent_hash: leader.head().hash,
        author: 0,
        timestamp: 1_700_000_005,
    };
    let b1 = leader.build(ctx, vec![], deposits.clone()).unwrap();
    assert_eq!(b1.deposits, deposits, "neither deposit was left out");
    let checked = follower
        .validate(1, 0, &b1.header, vec![], &deposits, None)
        .unwrap();
    assert_eq!(checked.hash, b1.hash);
    for chain in [&mut leader, &mut follower] {
        chain.commit(b1.hash, Bytes::from_static(b"c1")).unwrap();
        let reader = chain.db().reader().unwrap();
        assert_eq!(
            reader
                .storage(L2_BRIDGE_ADDRESS, l2_storage::failed_deposit_refund(0))
                .unwrap(),
            U256::from(1),
            "deposit 0 failed; its refund is withdrawal 0"
        );
        assert_eq!(
            reader
                .storage(L2_BRIDGE_ADDRESS, l2_storage::failed_deposit_refund(1))
                .unwrap(),
            U256::ZERO
        );
        let refunds = block_withdrawals(&reader, 1).unwrap();
        assert_eq!(refunds.len(), 1);
        assert_eq!(
            (
                refunds[0].id,
                refunds[0].l1_token,
                refunds[0].l1_recipient,
                refunds[0].amount
            ),
            (0, taken, depositor, U256::from(9))
        );
        let domain = BridgeDomain {
            l1_chain_id: 1,
            l1_bridge: Address::repeat_byte(0xb1),
            l2_chain_id: spec.chain_id,
        };
        let proof = withdrawal_proof(&reader, 0, &domain, &BridgeValidators::new([]), &[])
            .unwrap()
            .expect("the refund has a proof");
        assert_eq!((proof.l2_block, proof.withdrawal), (1, refunds[0]));
        assert!(!proof.quorum, "no signature stored yet");
        assert_eq!(
            DepositCursor::at_head(&reader).unwrap(),
            DepositCursor {
                next_nonce: 2,
                last_l1_block: 41
            }
        );
    }
}
