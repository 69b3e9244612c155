//! `ParallaxBridge` on a real Ethereum node (`hardhat node`), attacked the ways real bridges
//! have been drained. Every attack is refused with its reason, and no funds move: the bridge's
//! balances and its `locked` accounting are checked after each one.

use crate::common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolEvent;
use common::{L2_CHAIN_ID, Setup, assert_reverts, domain, eth, sign_sorted, validator_keys};
use parallax_bridge::attest::sign_digest;
use parallax_bridge::contracts::{IParallaxBridge, ITestToken, TokenMetadata};
use parallax_bridge::l1::{DepositWatcher, Finality, L1Client, L1Deposit, finalize_call};
use parallax_bridge::withdrawal::{Withdrawal, WithdrawalTree, process_proof};
use parallax_test_support::l1::Anvil;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_lock_what_arrives_and_refuse_bad_input() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let user = s.hardhat.account(1).await;
    let me = user.sender().unwrap();
    let l2 = Address::with_last_byte(0x22);

    // ETH: nonce 0, the whole value locked.
    let receipt = user
        .send_call(
            s.bridge,
            IParallaxBridge::depositETHCall { l2Recipient: l2 },
            eth(3),
        )
        .await
        .unwrap();
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| IParallaxBridge::Deposit::decode_log_data(l.data()).ok())
        .expect("a Deposit event");
    assert_eq!(
        (
            event.nonce,
            event.token,
            event.from,
            event.l2Recipient,
            event.amount
        ),
        (U256::ZERO, Address::ZERO, me, l2, eth(3))
    );

    // ERC-20: nonce 1.
    s.fund_tokens(&user, U256::from(1_000)).await;
    user.send_call(
        s.bridge,
        IParallaxBridge::depositERC20Call {
            token: s.token,
            amount: U256::from(600),
            l2Recipient: l2,
        },
        U256::ZERO,
    )
    .await
    .unwrap();

    // A fee-on-transfer token (1%): only what arrived is locked and reported.
    let fee_token = s
        .relayer
        .deploy_test_token("Fee", "FEE", 100)
        .await
        .unwrap();
    s.relayer
        .send_call(
            fee_token,
            ITestToken::mintCall {
                to: me,
                amount: U256::from(10_000),
            },
            U256::ZERO,
        )
        .await
        .unwrap();
    user.send_call(
        fee_token,
        ITestToken::approveCall {
            spender: s.bridge,
            amount: U256::from(10_000),
        },
        U256::ZERO,
    )
    .await
    .unwrap();
    user.send_call(
        s.bridge,
        IParallaxBridge::depositERC20Call {
            token: fee_token,
            amount: U256::from(1_000),
            l2Recipient: l2,
        },
        U256::ZERO,
    )
    .await
    .unwrap();
    assert_eq!(
        s.relayer
            .view(s.bridge, IParallaxBridge::lockedCall { token: fee_token })
            .await
            .unwrap(),
        U256::from(990)
    );

    // The watcher (no confirmations needed here) reads the three in nonce order.
    let mut watcher = DepositWatcher::new(
        s.relayer.clone(),
        s.bridge,
        Finality::Confirmations(0),
        0,
        0,
    );
    let seen = watcher.poll(0, 100).await.unwrap();
    assert_eq!(seen.len(), 3);
    let summary: Vec<_> = seen.iter().map(|d| (d.nonce, d.token, d.amount)).collect();
    assert_eq!(
        summary,
        [
            (0, Address::ZERO, eth(3)),
            (1, s.token, U256::from(600)),
            (2, fee_token, U256::from(990)),
        ]
    );
    assert!(seen.iter().all(|d| d.from == me && d.l2_recipient == l2));
    // ETH carries no metadata; a token carries its name, symbol and decimals.
    assert!(seen[0].metadata.is_empty());
    assert_eq!(
        TokenMetadata::decode(&seen[1].metadata).unwrap(),
        TokenMetadata {
            name: "Test".into(),
            symbol: "TST".into(),
            decimals: 18
        }
    );

    let before = s.funds().await;
    assert_eq!(
        before,
        (
            eth(3),
            U256::from(600),
            eth(3),
            U256::from(600),
            U256::from(3)
        )
    );
    let deposit_erc20 = |token, amount: u64, to| IParallaxBridge::depositERC20Call {
        token,
        amount: U256::from(amount),
        l2Recipient: to,
    };
    assert_reverts(
        user.send_call(
            s.bridge,
            IParallaxBridge::depositETHCall { l2Recipient: l2 },
            U256::ZERO,
        )
        .await,
        "zero deposit",
    );
    assert_reverts(
        user.send_call(
            s.bridge,
            IParallaxBridge::depositETHCall {
                l2Recipient: Address::ZERO,
            },
            eth(1),
        )
        .await,
        "zero recipient",
    );
    assert_reverts(
        user.send_call(s.bridge, deposit_erc20(Address::ZERO, 5, l2), U256::ZERO)
            .await,
        "token is zero: use depositETH",
    );
    // An address with no code: a naive `transferFrom` call to it would "succeed" with no data.
    assert_reverts(
        user.send_call(
            s.bridge,
            deposit_erc20(Address::with_last_byte(0xab), 5, l2),
            U256::ZERO,
        )
        .await,
        "token has no code",
    );
    assert_reverts(
        user.send_call(s.bridge, deposit_erc20(s.token, 0, l2), U256::ZERO)
            .await,
        "zero deposit",
    );
    // More than approved.
    assert_reverts(
        user.send_call(s.bridge, deposit_erc20(s.token, 401, l2), U256::ZERO)
            .await,
        "token transfer failed",
    );
    // Plain ETH sent to the bridge (no deposit event) is refused, not silently kept.
    assert!(
        user.send(Some(s.bridge), Bytes::new(), eth(1))
            .await
            .is_err()
    );
    assert_eq!(s.funds().await, before, "no refused deposit moved funds");
    assert!(watcher.poll(0, 100).await.unwrap().is_empty());
    assert_eq!(watcher.next_nonce(), 3, "no refused deposit got a nonce");
}

/// Four withdrawals of block 12: two of ETH, two of the token.
fn withdrawals(token: Address) -> Vec<Withdrawal> {
    let to = |b| Address::with_last_byte(b);
    vec![
        Withdrawal {
            id: 0,
            l1_token: Address::ZERO,
            l1_recipient: to(0xa0),
            amount: eth(1),
        },
        Withdrawal {
            id: 1,
            l1_token: token,
            l1_recipient: to(0xa1),
            amount: U256::from(250),
        },
        Withdrawal {
            id: 2,
            l1_token: Address::ZERO,
            l1_recipient: to(0xa2),
            amount: eth(2),
        },
        Withdrawal {
            id: 3,
            l1_token: token,
            l1_recipient: to(0xa3),
            amount: U256::from(50),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_pay_once_against_a_quorum_signed_root_and_every_forgery_fails() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let user = s.hardhat.account(1).await;
    let l2 = Address::with_last_byte(0x22);
    user.send_call(
        s.bridge,
        IParallaxBridge::depositETHCall { l2Recipient: l2 },
        eth(5),
    )
    .await
    .unwrap();
    s.fund_tokens(&user, U256::from(400)).await;
    user.send_call(
        s.bridge,
        IParallaxBridge::depositERC20Call {
            token: s.token,
            amount: U256::from(400),
            l2Recipient: l2,
        },
        U256::ZERO,
    )
    .await
    .unwrap();

    let ws = withdrawals(s.token);
    let tree = WithdrawalTree::new(&ws).unwrap();
    let root = tree.root();
    let block = 12;
    let d = domain(s.bridge, L2_CHAIN_ID);
    let digest = d.withdrawal_root_digest(block, root);

    // Rust and Solidity agree on leaves, proofs and digests.
    let c = &s.relayer;
    for (i, w) in ws.iter().enumerate() {
        let leaf: B256 = c
            .view(
                s.bridge,
                IParallaxBridge::withdrawalLeafCall {
                    id: U256::from(w.id),
                    l1Token: w.l1_token,
                    l1Recipient: w.l1_recipient,
                    amount: w.amount,
                },
            )
            .await
            .unwrap();
        assert_eq!(leaf, w.leaf());
        let proof = tree.proof(i).unwrap();
        let on_chain: B256 = c
            .view(s.bridge, IParallaxBridge::processProofCall { leaf, proof })
            .await
            .unwrap();
        assert_eq!(on_chain, root);
    }
    let on_chain_digest: B256 = c
        .view(
            s.bridge,
            IParallaxBridge::withdrawalRootDigestCall {
                l2BlockNumber: U256::from(block),
                root,
            },
        )
        .await
        .unwrap();
    assert_eq!(on_chain_digest, digest);

    let funds = s.funds().await;
    let finalize = |i: usize, l2_block: u64, proof: Vec<B256>| {
        let call = finalize_call(&ws[i], l2_block, proof);
        c.send_call(s.bridge, call, U256::ZERO)
    };

    // Before any root is attested: the zero root of an unattested block proves nothing,
    // not even with an empty proof.
    assert_reverts(
        finalize(0, block, tree.proof(0).unwrap()).await,
        "root not attested",
    );
    assert_reverts(finalize(0, 99, vec![]).await, "root not attested");

    // Signatures that must not make a quorum.
    let sig = |k: &PrivateKeySigner, digest| Bytes::from(sign_digest(k, digest).unwrap().to_vec());
    assert_reverts(
        s.submit(block, root, sign_sorted(&s.signers(&[0, 1]), digest))
            .await,
        "insufficient voting power",
    );
    assert_reverts(
        s.submit(block, root, vec![]).await,
        "insufficient voting power",
    );
    let two = sign_sorted(&s.signers(&[0, 1]), digest);
    assert_reverts(
        s.submit(
            block,
            root,
            vec![two[0].clone(), two[0].clone(), two[1].clone()],
        )
        .await,
        "duplicate signer",
    );
    let three = sign_sorted(&s.signers(&[0, 1, 2]), digest);
    assert_reverts(
        s.submit(block, root, three.iter().rev().cloned().collect())
            .await,
        "signers not in ascending order",
    );
    let outsider = PrivateKeySigner::from_bytes(&B256::with_last_byte(0x99)).unwrap();
    let mut with_outsider = sign_sorted(&[&s.keys[0], &s.keys[1], &outsider], digest);
    assert_reverts(
        s.submit(block, root, with_outsider.clone()).await,
        "signer is not a validator",
    );
    with_outsider.truncate(2);
    // Signed for another Ethereum chain, another contract, another Parallax chain, or
    // another block: each recovers to some other address.
    for other in [
        parallax_bridge::attest::BridgeDomain {
            l1_chain_id: 1,
            ..d
        }
        .withdrawal_root_digest(block, root),
        parallax_bridge::attest::BridgeDomain {
            l1_bridge: s.token,
            ..d
        }
        .withdrawal_root_digest(block, root),
        parallax_bridge::attest::BridgeDomain {
            l2_chain_id: L2_CHAIN_ID + 1,
            ..d
        }
        .withdrawal_root_digest(block, root),
        d.withdrawal_root_digest(block + 1, root),
    ] {
        assert_reverts(
            s.submit(block, root, sign_sorted(&s.signers(&[0, 1, 2, 3]), other))
                .await,
            "signer is not a validator",
        );
    }
    // The high-s twin of a valid signature (which `ecrecover` alone would accept).
    let mut twin = sig(&s.keys[0], digest).to_vec();
    let sv = alloy_primitives::Signature::from_raw(&twin).unwrap();
    let n = alloy_primitives::uint!(
        0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141_U256
    );
    twin = alloy_primitives::Signature::new(sv.r(), n - sv.s(), !sv.v())
        .as_bytes()
        .to_vec();
    let mut with_twin = sign_sorted(&s.signers(&[1, 2, 3]), digest);
    with_twin.push(twin.into());
    assert_reverts(
        s.submit(block, root, with_twin).await,
        "malleable signature s",
    );
    let mut truncated_sig = sign_sorted(&s.signers(&[0, 1, 2]), digest);
    truncated_sig[1] = truncated_sig[1].slice(..64);
    assert_reverts(
        s.submit(block, root, truncated_sig).await,
        "signature must be 65 bytes",
    );
    assert_reverts(
        s.submit(
            block,
            B256::ZERO,
            sign_sorted(
                &s.signers(&[0, 1, 2]),
                d.withdrawal_root_digest(block, B256::ZERO),
            ),
        )
        .await,
        "zero root",
    );
    assert_eq!(s.funds().await, funds);

    // 3 of 4 attests the root; it cannot be replaced afterwards.
    s.submit(block, root, sign_sorted(&s.signers(&[1, 2, 3]), digest))
        .await
        .unwrap();
    let other_root = B256::with_last_byte(1);
    assert_reverts(
        s.submit(
            block,
            other_root,
            sign_sorted(
                &s.signers(&[0, 1, 2, 3]),
                d.withdrawal_root_digest(block, other_root),
            ),
        )
        .await,
        "root already attested",
    );

    // Forged and truncated proofs.
    let proof1 = tree.proof(1).unwrap();
    assert_eq!(proof1.len(), 2);
    assert_reverts(
        finalize(1, block, proof1[..1].to_vec()).await,
        "invalid proof",
    );
    assert_reverts(finalize(1, block, vec![]).await, "invalid proof");
    assert_reverts(
        finalize(1, block, tree.proof(2).unwrap()).await,
        "invalid proof",
    );
    for forged in [
        Withdrawal {
            amount: ws[1].amount + U256::from(1),
            ..ws[1]
        },
        Withdrawal {
            l1_recipient: Address::with_last_byte(0x66),
            ..ws[1]
        },
        Withdrawal {
            l1_token: Address::ZERO,
            ..ws[1]
        },
        Withdrawal { id: 9, ..ws[1] },
    ] {
        assert_reverts(
            c.send_call(
                s.bridge,
                finalize_call(&forged, block, proof1.clone()),
                U256::ZERO,
            )
            .await,
            "invalid proof",
        );
    }
    // A valid proof, but against another block's (unattested) root.
    assert_reverts(
        finalize(1, block + 1, proof1.clone()).await,
        "root not attested",
    );
    assert_eq!(s.funds().await, funds, "no forgery moved funds");

    // The real withdrawals pay, to the wei, whoever sends the transaction.
    let stranger = s.hardhat.account(5).await;
    for (i, w) in ws.iter().enumerate() {
        let before = c.balance(w.l1_token, w.l1_recipient).await.unwrap();
        let call = finalize_call(w, block, tree.proof(i).unwrap());
        let receipt = stranger
            .send_call(s.bridge, call, U256::ZERO)
            .await
            .unwrap();
        let event = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| IParallaxBridge::WithdrawalFinalized::decode_log_data(l.data()).ok())
            .expect("WithdrawalFinalized");
        assert_eq!(
            (event.id, event.token, event.recipient, event.amount),
            (U256::from(w.id), w.l1_token, w.l1_recipient, w.amount)
        );
        assert_eq!(
            c.balance(w.l1_token, w.l1_recipient).await.unwrap(),
            before + w.amount
        );
        assert!(
            c.view(
                s.bridge,
                IParallaxBridge::isWithdrawalFinalizedCall {
                    id: U256::from(w.id)
                }
            )
            .await
            .unwrap()
        );
    }
    let after = s.funds().await;
    assert_eq!(after.0, funds.0 - eth(3));
    assert_eq!(after.1, funds.1 - U256::from(300));
    assert_eq!(
        (after.2, after.3),
        (after.0, after.1),
        "locked follows what the bridge holds"
    );

    // Replaying a finalized withdrawal pays nothing.
    assert_reverts(
        finalize(0, block, tree.proof(0).unwrap()).await,
        "withdrawal already finalized",
    );
    assert!(
        !c.view(
            s.bridge,
            IParallaxBridge::isWithdrawalFinalizedCall { id: U256::from(4) }
        )
        .await
        .unwrap()
    );

    // Even a quorum-signed root cannot release more of a token than deposits locked (2 ETH
    // and 100 tokens are left): the ETH and the token accounts are separate.
    let greedy = vec![
        Withdrawal {
            id: 10,
            l1_token: Address::ZERO,
            l1_recipient: Address::with_last_byte(0xb0),
            amount: eth(2) + U256::from(1),
        },
        Withdrawal {
            id: 11,
            l1_token: s.token,
            l1_recipient: Address::with_last_byte(0xb1),
            amount: U256::from(101),
        },
        Withdrawal {
            id: 12,
            l1_token: s.token,
            l1_recipient: Address::with_last_byte(0xb2),
            amount: U256::from(100),
        },
    ];
    let greedy_tree = WithdrawalTree::new(&greedy).unwrap();
    let greedy_digest = d.withdrawal_root_digest(13, greedy_tree.root());
    s.submit(
        13,
        greedy_tree.root(),
        sign_sorted(&s.signers(&[0, 1, 2, 3]), greedy_digest),
    )
    .await
    .unwrap();
    let before = s.funds().await;
    for (i, w) in greedy.iter().enumerate().take(2) {
        let call = finalize_call(w, 13, greedy_tree.proof(i).unwrap());
        assert_reverts(
            c.send_call(s.bridge, call, U256::ZERO).await,
            "amount exceeds locked funds",
        );
    }
    assert_eq!(s.funds().await, before);
    let call = finalize_call(&greedy[2], 13, greedy_tree.proof(2).unwrap());
    c.send_call(s.bridge, call, U256::ZERO).await.unwrap();
    assert_eq!(s.funds().await.3, U256::ZERO);
    assert_eq!(
        process_proof(greedy[2].leaf(), &greedy_tree.proof(2).unwrap()),
        greedy_tree.root()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_and_validator_set_changes_need_the_current_set() {
    // Weighted, 90 in all: validator 0 holds 40, and 40 + 20 is exactly 2/3, not more.
    let s = Setup::new(&[40, 20, 20, 10]).await;
    let c = &s.relayer;
    let d = domain(s.bridge, L2_CHAIN_ID);
    let user = s.hardhat.account(1).await;
    let l2 = Address::with_last_byte(0x22);
    user.send_call(
        s.bridge,
        IParallaxBridge::depositETHCall { l2Recipient: l2 },
        eth(2),
    )
    .await
    .unwrap();

    let pause = |paused, sigs| {
        c.send_call(
            s.bridge,
            IParallaxBridge::setPausedCall {
                paused,
                signatures: sigs,
            },
            U256::ZERO,
        )
    };
    let nonce = |c: &L1Client| {
        let c = c.clone();
        let bridge = s.bridge;
        async move {
            c.view(bridge, IParallaxBridge::governanceNonceCall {})
                .await
                .unwrap()
        }
    };
    assert_eq!(nonce(c).await, U256::ZERO);
    // 40 alone, the other three's 50, and exactly 2/3 (60) are all short; 70 is enough.
    assert_reverts(
        pause(
            true,
            sign_sorted(&s.signers(&[0, 1]), d.set_paused_digest(0, true)),
        )
        .await,
        "insufficient voting power",
    );
    assert_reverts(
        pause(
            true,
            sign_sorted(&s.signers(&[0]), d.set_paused_digest(0, true)),
        )
        .await,
        "insufficient voting power",
    );
    assert_reverts(
        pause(
            true,
            sign_sorted(&s.signers(&[1, 2, 3]), d.set_paused_digest(0, true)),
        )
        .await,
        "insufficient voting power",
    );
    let pause_sigs = sign_sorted(&s.signers(&[0, 1, 3]), d.set_paused_digest(0, true));
    pause(true, pause_sigs.clone()).await.unwrap();
    assert!(
        c.view(s.bridge, IParallaxBridge::pausedCall {})
            .await
            .unwrap()
    );
    assert_eq!(nonce(c).await, U256::from(1));

    // While paused: no deposits, no roots, no withdrawals.
    assert_reverts(
        user.send_call(
            s.bridge,
            IParallaxBridge::depositETHCall { l2Recipient: l2 },
            eth(1),
        )
        .await,
        "bridge is paused",
    );
    let w = Withdrawal {
        id: 0,
        l1_token: Address::ZERO,
        l1_recipient: Address::with_last_byte(0xa0),
        amount: eth(1),
    };
    let tree = WithdrawalTree::new(&[w]).unwrap();
    let root_sigs = sign_sorted(
        &s.signers(&[0, 1, 3]),
        d.withdrawal_root_digest(3, tree.root()),
    );
    assert_reverts(
        s.submit(3, tree.root(), root_sigs.clone()).await,
        "bridge is paused",
    );
    // The pause signatures cannot be replayed to unpause (a new nonce is signed).
    assert_reverts(
        pause(false, pause_sigs.clone()).await,
        "signer is not a validator",
    );
    pause(
        false,
        sign_sorted(&s.signers(&[0, 1, 3]), d.set_paused_digest(1, false)),
    )
    .await
    .unwrap();
    s.submit(3, tree.root(), root_sigs).await.unwrap();
    // Paused again: finalizing waits too.
    pause(
        true,
        sign_sorted(&s.signers(&[0, 1, 3]), d.set_paused_digest(2, true)),
    )
    .await
    .unwrap();
    assert_reverts(
        c.send_call(s.bridge, finalize_call(&w, 3, vec![]), U256::ZERO)
            .await,
        "bridge is paused",
    );
    pause(
        false,
        sign_sorted(&s.signers(&[0, 1, 3]), d.set_paused_digest(3, false)),
    )
    .await
    .unwrap();
    c.send_call(s.bridge, finalize_call(&w, 3, vec![]), U256::ZERO)
        .await
        .unwrap();

    // A new set: two fresh keys. Signed by the new set itself, it is refused.
    let fresh: Vec<PrivateKeySigner> = (0..2)
        .map(|i| {
            PrivateKeySigner::from_bytes(&alloy_primitives::keccak256(format!("new validator {i}")))
                .unwrap()
        })
        .collect();
    let new_set: Vec<(Address, u64)> = fresh.iter().map(|k| (k.address(), 5)).collect();
    let update = |sigs| {
        c.send_call(
            s.bridge,
            IParallaxBridge::updateValidatorSetCall {
                validators: new_set.iter().map(|(a, _)| *a).collect(),
                powers: new_set.iter().map(|(_, p)| U256::from(*p)).collect(),
                signatures: sigs,
            },
            U256::ZERO,
        )
    };
    let digest = d.validator_set_digest(4, &new_set);
    let on_chain: B256 = c
        .view(
            s.bridge,
            IParallaxBridge::validatorSetDigestCall {
                nonce: U256::from(4),
                validators: new_set.iter().map(|(a, _)| *a).collect(),
                powers: new_set.iter().map(|(_, p)| U256::from(*p)).collect(),
            },
        )
        .await
        .unwrap();
    assert_eq!(on_chain, digest, "Rust and Solidity hash the set alike");
    assert_reverts(
        update(sign_sorted(&fresh.iter().collect::<Vec<_>>(), digest)).await,
        "signer is not a validator",
    );
    assert_reverts(
        update(sign_sorted(&s.signers(&[1, 2, 3]), digest)).await,
        "insufficient voting power",
    );
    update(sign_sorted(&s.signers(&[0, 2, 3]), digest))
        .await
        .unwrap();
    let (addrs, powers) = c
        .view(s.bridge, IParallaxBridge::validatorsCall {})
        .await
        .map(|r| (r.addrs, r.powers))
        .unwrap();
    assert_eq!(addrs, new_set.iter().map(|(a, _)| *a).collect::<Vec<_>>());
    assert_eq!(powers, vec![U256::from(5); 2]);
    assert_eq!(
        c.view(s.bridge, IParallaxBridge::totalPowerCall {})
            .await
            .unwrap(),
        U256::from(10)
    );
    assert_eq!(
        c.view(
            s.bridge,
            IParallaxBridge::powerOfCall {
                validator: s.keys[0].address()
            }
        )
        .await
        .unwrap(),
        U256::ZERO
    );
    // The old set has no say any more; the same update cannot be replayed.
    assert_reverts(
        update(sign_sorted(&s.signers(&[0, 1, 2, 3]), digest)).await,
        "signer is not a validator",
    );
    let w2 = Withdrawal { id: 1, ..w };
    let root2 = WithdrawalTree::new(&[w2]).unwrap().root();
    assert_reverts(
        s.submit(
            4,
            root2,
            sign_sorted(
                &s.signers(&[0, 1, 2, 3]),
                d.withdrawal_root_digest(4, root2),
            ),
        )
        .await,
        "signer is not a validator",
    );
    // One of two new validators is half, not more than 2/3; both are.
    assert_reverts(
        s.submit(
            4,
            root2,
            sign_sorted(&[&fresh[0]], d.withdrawal_root_digest(4, root2)),
        )
        .await,
        "insufficient voting power",
    );
    s.submit(
        4,
        root2,
        sign_sorted(
            &fresh.iter().collect::<Vec<_>>(),
            d.withdrawal_root_digest(4, root2),
        ),
    )
    .await
    .unwrap();

    // A set that would break the contract is refused even with a quorum.
    let bad_sets: [(Vec<(Address, u64)>, &str); 3] = [
        (vec![], "empty validator set"),
        (
            vec![(fresh[0].address(), 1), (fresh[0].address(), 1)],
            "duplicate validator",
        ),
        (vec![(fresh[0].address(), 0)], "zero voting power"),
    ];
    for (set, reason) in bad_sets {
        let digest = d.validator_set_digest(5, &set);
        let call = IParallaxBridge::updateValidatorSetCall {
            validators: set.iter().map(|(a, _)| *a).collect(),
            powers: set.iter().map(|(_, p)| U256::from(*p)).collect(),
            signatures: sign_sorted(&fresh.iter().collect::<Vec<_>>(), digest),
        };
        assert_reverts(c.send_call(s.bridge, call, U256::ZERO).await, reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_reorganised_away_before_it_is_deep_enough_is_never_seen() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let alice = s.hardhat.account(1).await;
    let bob = s.hardhat.account(2).await;
    let l2 = Address::with_last_byte(0x22);
    let confirmations = 3;
    let mut watcher = DepositWatcher::new(
        s.relayer.clone(),
        s.bridge,
        Finality::Confirmations(confirmations),
        0,
        0,
    );
    let mut seen: Vec<L1Deposit> = Vec::new();

    let bridge = s.bridge;
    let deposit = |who: L1Client, amount| async move {
        who.send_call(
            bridge,
            IParallaxBridge::depositETHCall { l2Recipient: l2 },
            amount,
        )
        .await
    };
    let r0 = deposit(alice.clone(), eth(1)).await.unwrap();
    let b0 = r0.block_number.unwrap();
    seen.extend(watcher.poll(0, 100).await.unwrap());
    assert!(seen.is_empty(), "a deposit at depth 0 is not yet seen");
    s.hardhat.mine(confirmations - 1).await;
    seen.extend(watcher.poll(0, 100).await.unwrap());
    assert!(seen.is_empty(), "nor at depth {}", confirmations - 1);
    s.hardhat.mine(1).await;
    seen.extend(watcher.poll(0, 100).await.unwrap());
    let d0 = seen.first().expect("seen at depth K").clone();
    assert_eq!(
        (d0.nonce, d0.block_number, d0.amount, d0.from),
        (0, b0, eth(1), alice.sender().unwrap())
    );

    // Bob deposits 7 ETH; two blocks later Ethereum reorganises it away.
    let snapshot = s.hardhat.snapshot().await;
    deposit(bob.clone(), eth(7)).await.unwrap();
    s.hardhat.mine(confirmations - 1).await;
    seen.extend(watcher.poll(0, 100).await.unwrap());
    assert_eq!(seen.len(), 1);
    s.hardhat.revert(snapshot).await;
    // In the new history nonce 1 is Alice's 2 ETH.
    deposit(alice.clone(), eth(2)).await.unwrap();
    s.hardhat.mine(confirmations + 2).await;
    seen.extend(watcher.poll(0, 100).await.unwrap());
    let d1 = seen.get(1).expect("the deposit of the canonical chain");
    assert_eq!(
        (d1.nonce, d1.from, d1.amount),
        (1, alice.sender().unwrap(), eth(2))
    );
    assert_eq!(
        watcher.next_nonce(),
        2,
        "Bob's reorganised deposit was never seen"
    );
    assert_eq!(
        s.relayer
            .view(
                s.bridge,
                IParallaxBridge::lockedCall {
                    token: Address::ZERO
                }
            )
            .await
            .unwrap(),
        eth(3)
    );
}

/// With `finalized` settlement (for a real Ethereum), deposits are read only once Ethereum's
/// finalized block covers them. Anvil with one slot per epoch finalizes the block two below
/// its head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_finality_a_deposit_is_read_only_once_ethereum_finalized_it() {
    let anvil = Anvil::start(&["--slots-in-an-epoch", "1"]).await;
    let deployer = anvil.account(0).await;
    let set: Vec<(Address, u64)> = validator_keys(4).iter().map(|k| (k.address(), 1)).collect();
    let bridge = deployer.deploy_bridge(L2_CHAIN_ID, &set).await.unwrap();
    let mut watcher = DepositWatcher::new(deployer.clone(), bridge, Finality::Finalized, 0, 0);
    let user = anvil.account(1).await;
    let receipt = user
        .send_call(
            bridge,
            IParallaxBridge::depositETHCall {
                l2Recipient: Address::with_last_byte(0x22),
            },
            eth(1),
        )
        .await
        .unwrap();
    assert!(
        watcher.poll(0, 10).await.unwrap().is_empty(),
        "not finalized yet"
    );
    assert!(watcher.settled().unwrap() < receipt.block_number.unwrap());
    anvil.mine(1).await;
    assert!(
        watcher.poll(0, 10).await.unwrap().is_empty(),
        "nor one block later"
    );
    anvil.mine(1).await;
    let seen = watcher.poll(0, 10).await.unwrap();
    assert_eq!(seen.len(), 1, "finalized two blocks later");
    assert_eq!(seen[0].block_number, receipt.block_number.unwrap());
    assert_eq!(watcher.settled(), Some(seen[0].block_number));
}
