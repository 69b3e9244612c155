//! `ParallaxBridge` against users who do not play along, on a real Ethereum node (`hardhat
//! node`): withdrawals that cannot be paid never hold up the others and stay claimable;
//! rate limits queue what is above them, and the validator set can cancel what is queued; any
//! one validator can pause, only a quorum unpauses; tokens that lie about their name, symbol
//! and decimals get a safe description.

use crate::common;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionInput, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent};
use common::{L2_CHAIN_ID, Setup, assert_reverts, domain, eth, sign_sorted};
use parallax_bridge::attest::{RateLimit, sign_digest};
use parallax_bridge::contracts::{
    IHostileToken, IParallaxBridge, IRefusingReceiver, ITestToken, TokenMetadata,
};
use parallax_bridge::l1::{L1Client, WithdrawalState, finalize_call};
use parallax_bridge::withdrawal::{Withdrawal, WithdrawalTree};

fn w(id: u64, l1_token: Address, to: Address, amount: U256) -> Withdrawal {
    Withdrawal {
        id,
        l1_token,
        l1_recipient: to,
        amount,
    }
}

/// Attests `ws` as Parallax block `block`'s withdrawals (3 of 4 validators sign).
async fn attest(s: &Setup, block: u64, ws: &[Withdrawal]) -> WithdrawalTree {
    let tree = WithdrawalTree::new(ws).unwrap();
    let digest = domain(s.bridge, L2_CHAIN_ID).withdrawal_root_digest(block, tree.root());
    s.submit(
        block,
        tree.root(),
        sign_sorted(&s.signers(&[0, 1, 2]), digest),
    )
    .await
    .unwrap();
    tree
}

async fn state(c: &L1Client, bridge: Address, id: u64) -> WithdrawalState {
    c.withdrawal_state(bridge, id).await.unwrap()
}

async fn counter(c: &L1Client, bridge: Address, token: Address) -> (U256, U256, U256) {
    (
        c.view(bridge, IParallaxBridge::lockedCall { token })
            .await
            .unwrap(),
        c.view(bridge, IParallaxBridge::owedCall { token })
            .await
            .unwrap(),
        c.view(bridge, IParallaxBridge::cancelledCall { token })
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_that_cannot_be_paid_never_blocks_the_others_and_stays_claimable() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let c = &s.relayer;
    let user = s.hardhat.account(1).await;
    let l2 = Address::with_last_byte(0x22);
    user.send_call(
        s.bridge,
        IParallaxBridge::depositETHCall { l2Recipient: l2 },
        eth(10),
    )
    .await
    .unwrap();
    s.fund_tokens(&user, U256::from(1_000)).await;
    user.send_call(
        s.bridge,
        IParallaxBridge::depositERC20Call {
            token: s.token,
            amount: U256::from(1_000),
            l2Recipient: l2,
        },
        U256::ZERO,
    )
    .await
    .unwrap();

    // Three recipients nothing can be paid to: a contract that refuses ETH, the bridge itself
    // (it has no way to receive ETH), and an address the token blocks.
    let refuser = c.deploy_refusing_receiver().await.unwrap();
    let blocked = Address::with_last_byte(0xbb);
    c.send_call(
        s.token,
        ITestToken::setBlockedCall {
            who: blocked,
            isBlocked: true,
        },
        U256::ZERO,
    )
    .await
    .unwrap();
    let (a, b, d) = (
        Address::with_last_byte(0xa1),
        Address::with_last_byte(0xa2),
        Address::with_last_byte(0xa3),
    );
    let ws = vec![
        w(0, Address::ZERO, a, eth(1)),
        w(1, Address::ZERO, refuser, eth(1)),
        w(2, Address::ZERO, s.bridge, eth(1)),
        w(3, s.token, blocked, U256::from(100)),
        w(4, s.token, b, U256::from(100)),
        w(5, Address::ZERO, d, eth(1)),
    ];
    let tree = attest(&s, 5, &ws).await;
    let items: Vec<_> = ws
        .iter()
        .enumerate()
        .map(|(i, x)| (*x, 5, tree.proof(i).unwrap()))
        .collect();

    // A payout must get all its gas: a relayer (or anyone) that sends too little cannot make
    // a payable withdrawal look unpayable.
    let starved = TransactionRequest {
        from: c.sender(),
        to: Some(s.bridge.into()),
        input: TransactionInput::new(
            finalize_call(&ws[0], 5, tree.proof(0).unwrap())
                .abi_encode()
                .into(),
        ),
        gas: Some(150_000),
        ..Default::default()
    };
    let err = c.provider().call(starved).await.unwrap_err().to_string();
    assert!(err.contains("not enough gas for the payout"), "{err}");

    // One batch: every payable withdrawal is paid, the others are recorded as unpaid.
    let stranger = s.hardhat.account(5).await;
    let receipt = stranger
        .finalize_withdrawals(s.bridge, &items)
        .await
        .unwrap();
    let mut paid = Vec::new();
    let mut failed = Vec::new();
    for log in receipt.inner.logs() {
        if let Ok(e) = IParallaxBridge::WithdrawalFinalized::decode_log_data(log.data()) {
            paid.push(e.id.to::<u64>());
        }
        if let Ok(e) = IParallaxBridge::WithdrawalPayoutFailed::decode_log_data(log.data()) {
            failed.push(e.id.to::<u64>());
        }
    }
    assert_eq!((paid, failed), (vec![0, 4, 5], vec![1, 2, 3]));
    assert_eq!(c.balance(Address::ZERO, a).await.unwrap(), eth(1));
    assert_eq!(c.balance(s.token, b).await.unwrap(), U256::from(100));
    assert_eq!(c.balance(Address::ZERO, d).await.unwrap(), eth(1));
    for id in [1, 2, 3] {
        assert_eq!(state(c, s.bridge, id).await, WithdrawalState::Unpaid);
    }
    // What is owed stays in the bridge, counted apart from what backs Parallax.
    assert_eq!(
        counter(c, s.bridge, Address::ZERO).await,
        (eth(6), eth(2), U256::ZERO)
    );
    assert_eq!(
        counter(c, s.bridge, s.token).await,
        (U256::from(800), U256::from(100), U256::ZERO)
    );
    assert_eq!(c.balance(Address::ZERO, s.bridge).await.unwrap(), eth(8));

    // Retrying while the recipient still refuses reverts and changes nothing; a batch skips it.
    let retry = |x: usize| finalize_call(&ws[x], 5, tree.proof(x).unwrap());
    assert_reverts(
        stranger.send_call(s.bridge, retry(1), U256::ZERO).await,
        "payout failed again",
    );
    assert_reverts(
        stranger.send_call(s.bridge, retry(3), U256::ZERO).await,
        "payout failed again",
    );
    let again = stranger
        .finalize_withdrawals(s.bridge, &items)
        .await
        .unwrap();
    assert!(
        again.inner.logs().is_empty(),
        "a batch skips settled withdrawals"
    );
    assert_reverts(
        stranger.send_call(s.bridge, retry(0), U256::ZERO).await,
        "withdrawal already finalized",
    );

    // Once the recipients can take the funds, anyone's retry pays them.
    c.send_call(
        refuser,
        IRefusingReceiver::setAcceptingCall { accepting: true },
        U256::ZERO,
    )
    .await
    .unwrap();
    c.send_call(
        s.token,
        ITestToken::setBlockedCall {
            who: blocked,
            isBlocked: false,
        },
        U256::ZERO,
    )
    .await
    .unwrap();
    stranger
        .send_call(s.bridge, retry(1), U256::ZERO)
        .await
        .unwrap();
    stranger
        .send_call(s.bridge, retry(3), U256::ZERO)
        .await
        .unwrap();
    assert_eq!(c.balance(Address::ZERO, refuser).await.unwrap(), eth(1));
    assert_eq!(c.balance(s.token, blocked).await.unwrap(), U256::from(100));
    assert_eq!(state(c, s.bridge, 1).await, WithdrawalState::Paid);
    // The bridge itself can never take ETH: that one stays owed, and held.
    assert_reverts(
        stranger.send_call(s.bridge, retry(2), U256::ZERO).await,
        "payout failed again",
    );
    assert_eq!(
        counter(c, s.bridge, Address::ZERO).await,
        (eth(6), eth(1), U256::ZERO)
    );
    assert_eq!(
        counter(c, s.bridge, s.token).await,
        (U256::from(800), U256::ZERO, U256::ZERO)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawals_above_the_rate_limit_wait_and_the_validators_can_cancel_them() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let c = &s.relayer;
    let d = domain(s.bridge, L2_CHAIN_ID);
    let user = s.hardhat.account(1).await;
    user.send_call(
        s.bridge,
        IParallaxBridge::depositETHCall {
            l2Recipient: Address::with_last_byte(0x22),
        },
        eth(20),
    )
    .await
    .unwrap();

    let limit = RateLimit {
        max_per_window: eth(3),
        window_secs: 3_600,
        delay_secs: 600,
    };
    let set_limit = |nonce: u64, limit: RateLimit, signers: &[usize]| {
        let sigs = sign_sorted(
            &s.signers(signers),
            d.withdrawal_limit_digest(nonce, Address::ZERO, &limit),
        );
        c.send_call(
            s.bridge,
            IParallaxBridge::setWithdrawalLimitCall {
                token: Address::ZERO,
                maxPerWindow: limit.max_per_window,
                window: U256::from(limit.window_secs),
                delay: U256::from(limit.delay_secs),
                signatures: sigs,
            },
            U256::ZERO,
        )
    };
    assert_reverts(
        set_limit(0, limit, &[0, 1]).await,
        "insufficient voting power",
    );
    assert_reverts(
        set_limit(
            0,
            RateLimit {
                delay_secs: 31 * 86_400,
                ..limit
            },
            &[0, 1, 2],
        )
        .await,
        "limit period too long",
    );
    set_limit(0, limit, &[0, 1, 2]).await.unwrap();
    let on_chain = c
        .view(
            s.bridge,
            IParallaxBridge::withdrawalLimitCall {
                token: Address::ZERO,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (on_chain.maxPerWindow, on_chain.window, on_chain.delay),
        (eth(3), U256::from(3_600), U256::from(600))
    );

    let to = |b| Address::with_last_byte(b);
    let ws = vec![
        w(10, Address::ZERO, to(0xa0), eth(2)),
        w(11, Address::ZERO, to(0xa1), eth(2)),
        w(12, Address::ZERO, to(0xa2), eth(1)),
        w(13, Address::ZERO, to(0xa3), eth(5)),
    ];
    let tree = attest(&s, 7, &ws).await;
    let finalize = |x: usize| finalize_call(&ws[x], 7, tree.proof(x).unwrap());
    for x in 0..4 {
        c.send_call(s.bridge, finalize(x), U256::ZERO)
            .await
            .unwrap();
    }
    // 2 fits the window's 3; 2 more does not and waits; 1 still fits; 5 waits.
    assert_eq!(state(c, s.bridge, 10).await, WithdrawalState::Paid);
    assert!(matches!(
        state(c, s.bridge, 11).await,
        WithdrawalState::Queued { .. }
    ));
    assert_eq!(state(c, s.bridge, 12).await, WithdrawalState::Paid);
    assert!(matches!(
        state(c, s.bridge, 13).await,
        WithdrawalState::Queued { .. }
    ));
    assert_eq!(
        c.balance(Address::ZERO, to(0xa1)).await.unwrap(),
        U256::ZERO
    );
    assert_reverts(
        c.send_call(s.bridge, finalize(1), U256::ZERO).await,
        "withdrawal is queued until its release time",
    );
    assert_eq!(
        counter(c, s.bridge, Address::ZERO).await,
        (eth(10), eth(7), U256::ZERO)
    );

    // The validators cancel the 5 ETH (say, a compromised key's): a quorum is needed.
    let cancel = |nonce: u64, id: u64, signers: &[usize]| {
        let sigs = sign_sorted(&s.signers(signers), d.cancel_withdrawal_digest(nonce, id));
        c.send_call(
            s.bridge,
            IParallaxBridge::cancelWithdrawalCall {
                id: U256::from(id),
                signatures: sigs,
            },
            U256::ZERO,
        )
    };
    assert_reverts(cancel(1, 13, &[3]).await, "insufficient voting power");
    assert_reverts(cancel(1, 10, &[0, 1, 2]).await, "withdrawal is not queued");
    cancel(1, 13, &[0, 1, 3]).await.unwrap();
    assert_eq!(state(c, s.bridge, 13).await, WithdrawalState::Cancelled);

    // After the delay, anyone finalizes the queued one; the cancelled one never pays.
    s.hardhat.advance_time(601).await;
    let stranger = s.hardhat.account(6).await;
    stranger
        .send_call(s.bridge, finalize(1), U256::ZERO)
        .await
        .unwrap();
    assert_eq!(c.balance(Address::ZERO, to(0xa1)).await.unwrap(), eth(2));
    assert_reverts(
        stranger.send_call(s.bridge, finalize(3), U256::ZERO).await,
        "withdrawal was cancelled",
    );
    assert_eq!(
        c.balance(Address::ZERO, to(0xa3)).await.unwrap(),
        U256::ZERO
    );
    // To the wei: what the bridge holds is what backs Parallax, plus what was cancelled.
    assert_eq!(
        counter(c, s.bridge, Address::ZERO).await,
        (eth(10), U256::ZERO, eth(5))
    );
    assert_eq!(c.balance(Address::ZERO, s.bridge).await.unwrap(), eth(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_one_validator_pauses_at_once_and_only_a_quorum_unpauses() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let c = &s.relayer;
    let d = domain(s.bridge, L2_CHAIN_ID);
    let user = s.hardhat.account(1).await;
    let deposit = || {
        user.send_call(
            s.bridge,
            IParallaxBridge::depositETHCall {
                l2Recipient: Address::with_last_byte(0x22),
            },
            eth(1),
        )
    };
    deposit().await.unwrap();
    let guardian_pause = |sig: Bytes| {
        user.send_call(
            s.bridge,
            IParallaxBridge::guardianPauseCall { signature: sig },
            U256::ZERO,
        )
    };
    let sig =
        |key: usize, digest: B256| Bytes::from(sign_digest(&s.keys[key], digest).unwrap().to_vec());
    let outsider =
        alloy_signer_local::PrivateKeySigner::from_bytes(&B256::with_last_byte(9)).unwrap();
    assert_reverts(
        guardian_pause(Bytes::from(
            sign_digest(&outsider, d.guardian_pause_digest(0))
                .unwrap()
                .to_vec(),
        ))
        .await,
        "signer is not a validator",
    );
    // A quorum signs a rate limit now; a guardian's pause must not void it.
    let limit = RateLimit {
        max_per_window: eth(100),
        window_secs: 60,
        delay_secs: 60,
    };
    let limit_sigs = sign_sorted(
        &s.signers(&[0, 1, 2]),
        d.withdrawal_limit_digest(0, Address::ZERO, &limit),
    );
    // One validator (anyone may relay its signature) pauses.
    let pause_sig = sig(3, d.guardian_pause_digest(0));
    guardian_pause(pause_sig.clone()).await.unwrap();
    assert!(
        c.view(s.bridge, IParallaxBridge::pausedCall {})
            .await
            .unwrap()
    );
    assert_reverts(deposit().await, "bridge is paused");
    c.send_call(
        s.bridge,
        IParallaxBridge::setWithdrawalLimitCall {
            token: Address::ZERO,
            maxPerWindow: limit.max_per_window,
            window: U256::from(limit.window_secs),
            delay: U256::from(limit.delay_secs),
            signatures: limit_sigs,
        },
        U256::ZERO,
    )
    .await
    .unwrap();
    // One validator cannot unpause; a quorum can.
    let unpause = |nonce: u64, signers: &[usize]| {
        c.send_call(
            s.bridge,
            IParallaxBridge::setPausedCall {
                paused: false,
                signatures: sign_sorted(&s.signers(signers), d.set_paused_digest(nonce, false)),
            },
            U256::ZERO,
        )
    };
    assert_reverts(unpause(1, &[3]).await, "insufficient voting power");
    unpause(1, &[0, 1, 2]).await.unwrap();
    deposit().await.unwrap();
    // The old pause signature cannot pause again; a fresh one can.
    assert_reverts(guardian_pause(pause_sig).await, "signer is not a validator");
    guardian_pause(sig(2, d.guardian_pause_digest(2)))
        .await
        .unwrap();
    assert_reverts(deposit().await, "bridge is paused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_describe_tokens_safely_whatever_the_tokens_answer() {
    let s = Setup::new(&[1, 1, 1, 1]).await;
    let c = &s.relayer;
    let meta = |name: &str, symbol: &str, decimals: u8| TokenMetadata {
        name: name.into(),
        symbol: symbol.into(),
        decimals,
    };
    let cases = [
        (0, 6, meta("Hostile Token", "HOST", 6)),
        (1, 6, meta("", "", 18)),
        (2, 8, meta(&"A".repeat(64), &"A".repeat(32), 8)),
        (3, 9, meta("", "", 9)),
        (4, 6, meta("", "", 18)),
        (5, 18, meta("MKR", "MKR", 18)),
        (6, 2, meta("Hostile Token???", "HOST???", 2)),
        (0, 1_000, meta("Hostile Token", "HOST", 18)),
    ];
    let user = s.hardhat.account(1).await;
    let me = user.sender().unwrap();
    for (mode, decimals, expected) in cases {
        let token = c
            .deploy_hostile_token(mode, U256::from(decimals))
            .await
            .unwrap();
        let raw = c
            .view(s.bridge, IParallaxBridge::tokenMetadataCall { token })
            .await
            .unwrap();
        assert_eq!(
            TokenMetadata::decode(&raw),
            Some(expected.clone()),
            "mode {mode}"
        );
        // And a deposit of it goes through, carrying exactly that (a token that burns all
        // the gas it is given costs the depositor a bounded amount).
        c.send_call(
            token,
            IHostileToken::mintCall {
                to: me,
                amount: U256::from(500),
            },
            U256::ZERO,
        )
        .await
        .unwrap();
        let receipt = user
            .send_call(
                s.bridge,
                IParallaxBridge::depositERC20Call {
                    token,
                    amount: U256::from(500),
                    l2Recipient: Address::with_last_byte(0x22),
                },
                U256::ZERO,
            )
            .await
            .unwrap();
        assert!(
            receipt.gas_used < 1_000_000,
            "mode {mode}: {} gas",
            receipt.gas_used
        );
        let event = receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| IParallaxBridge::Deposit::decode_log_data(l.data()).ok())
            .unwrap();
        assert_eq!(
            TokenMetadata::decode(&event.metadata),
            Some(expected),
            "mode {mode}"
        );
    }
}
