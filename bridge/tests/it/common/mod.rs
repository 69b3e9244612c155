//! Shared by the bridge's integration tests: a real `hardhat node` on a free 127.0.0.1 port
//! (`parallax_test_support::l1`), its funded accounts, and validator bridge keys that sign as
//! a quorum.

#![allow(dead_code, unreachable_pub)]

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use parallax_bridge::attest::{BridgeDomain, sign_digest};
use parallax_bridge::contracts::{IParallaxBridge, ITestToken};
use parallax_bridge::l1::{L1Client, L1Error};

use parallax_test_support::l1::Hardhat;

/// `n` validator bridge keys, fixed so failures reproduce.
pub fn validator_keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n)
        .map(|i| {
            PrivateKeySigner::from_bytes(&alloy_primitives::keccak256(format!("validator {i}")))
                .unwrap()
        })
        .collect()
}

/// Signatures of `keys` over `digest`, in ascending signer order (what the contract takes).
pub fn sign_sorted(keys: &[&PrivateKeySigner], digest: B256) -> Vec<Bytes> {
    let mut sigs: Vec<(Address, Bytes)> = keys
        .iter()
        .map(|k| {
            (
                k.address(),
                Bytes::from(sign_digest(k, digest).unwrap().to_vec()),
            )
        })
        .collect();
    sigs.sort_by_key(|(a, _)| *a);
    sigs.into_iter().map(|(_, s)| s).collect()
}

/// Asserts the result is a revert with exactly `reason`.
#[track_caller]
pub fn assert_reverts<T: std::fmt::Debug>(result: Result<T, L1Error>, reason: &str) {
    match result {
        Err(L1Error::Reverted(r)) => assert_eq!(r, reason, "revert reason"),
        other => panic!("expected a revert with {reason:?}, got {other:?}"),
    }
}

/// The domain a deployed bridge signs under.
pub fn domain(l1_bridge: Address, l2_chain_id: u64) -> BridgeDomain {
    BridgeDomain {
        l1_chain_id: 31337,
        l1_bridge,
        l2_chain_id,
    }
}

/// 1 ETH in wei.
pub fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

pub const L2_CHAIN_ID: u64 = 7_777;

/// A deployed bridge with four equal validators, a funded deployer (account 0, who also
/// relays) and a test token.
pub struct Setup {
    pub hardhat: Hardhat,
    pub relayer: L1Client,
    pub keys: Vec<PrivateKeySigner>,
    pub bridge: Address,
    pub token: Address,
}

impl Setup {
    pub async fn new(powers: &[u64]) -> Self {
        let hardhat = Hardhat::start().await;
        let relayer = hardhat.account(0).await;
        let keys = validator_keys(powers.len());
        let set: Vec<_> = keys
            .iter()
            .map(|k| k.address())
            .zip(powers.iter().copied())
            .collect();
        let bridge = relayer.deploy_bridge(L2_CHAIN_ID, &set).await.unwrap();
        let token = relayer.deploy_test_token("Test", "TST", 0).await.unwrap();
        Self {
            hardhat,
            relayer,
            keys,
            bridge,
            token,
        }
    }

    pub fn signers(&self, which: &[usize]) -> Vec<&PrivateKeySigner> {
        which.iter().map(|i| &self.keys[*i]).collect()
    }

    /// Mints `amount` test tokens to `user` and approves the bridge for them.
    pub async fn fund_tokens(&self, user: &L1Client, amount: U256) {
        let who = user.sender().unwrap();
        self.relayer
            .send_call(
                self.token,
                ITestToken::mintCall { to: who, amount },
                U256::ZERO,
            )
            .await
            .unwrap();
        user.send_call(
            self.token,
            ITestToken::approveCall {
                spender: self.bridge,
                amount,
            },
            U256::ZERO,
        )
        .await
        .unwrap();
    }

    /// (ETH held, tokens held, ETH locked, tokens locked, deposits) — what no attack may change.
    pub async fn funds(&self) -> (U256, U256, U256, U256, U256) {
        let c = &self.relayer;
        (
            c.balance(Address::ZERO, self.bridge).await.unwrap(),
            c.balance(self.token, self.bridge).await.unwrap(),
            c.view(
                self.bridge,
                IParallaxBridge::lockedCall {
                    token: Address::ZERO,
                },
            )
            .await
            .unwrap(),
            c.view(
                self.bridge,
                IParallaxBridge::lockedCall { token: self.token },
            )
            .await
            .unwrap(),
            c.view(self.bridge, IParallaxBridge::depositCountCall {})
                .await
                .unwrap(),
        )
    }

    pub async fn submit(
        &self,
        l2_block: u64,
        root: B256,
        sigs: Vec<Bytes>,
    ) -> Result<(), parallax_bridge::l1::L1Error> {
        self.relayer
            .submit_withdrawal_root(self.bridge, l2_block, root, sigs)
            .await
            .map(drop)
    }
}
