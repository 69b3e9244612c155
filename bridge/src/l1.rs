//! The bridge's view of Ethereum, through an alloy provider over the validator's own L1 RPC:
//! deploying and calling the contracts, and watching `Deposit` events once they are deep
//! enough to count.

use crate::contracts::{
    IParallaxBridge, ITestToken, ParallaxBridgeConstructor, TestTokenConstructor,
    parallax_bridge_code, test_token_code,
};
use crate::withdrawal::Withdrawal;
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{Filter, TransactionInput, TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use std::collections::BTreeMap;
use std::time::Duration;

/// The widest block range one `eth_getLogs` asks for (public providers cap it).
pub const MAX_LOG_RANGE: u64 = 2_000;

/// What went wrong talking to Ethereum.
#[derive(Debug, thiserror::Error)]
pub enum L1Error {
    /// The RPC URL does not parse.
    #[error("invalid L1 RPC URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The node could not be reached, or answered with an error other than a revert.
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// The call or transaction reverts; the reason string when the contract gave one.
    #[error("reverted: {0}")]
    Reverted(String),
    /// A transaction needs a signer and the client has none.
    #[error("this L1 client has no signing key")]
    NoSigner,
    /// The chain's answer does not fit what the bridge expects (an undecodable event, a gap
    /// in deposit nonces).
    #[error("unexpected L1 data: {0}")]
    Unexpected(String),
}

/// A `Deposit` event, with where it was included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L1Deposit {
    /// The deposit's nonce (0, 1, 2, … with no gaps).
    pub nonce: u64,
    /// The L1 token (`Address::ZERO` for ETH).
    pub token: Address,
    /// Who deposited on Ethereum.
    pub from: Address,
    /// Who receives the minted funds on Parallax.
    pub l2_recipient: Address,
    /// What the bridge received.
    pub amount: U256,
    /// The L1 block that holds it.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// The depositing transaction.
    pub tx_hash: B256,
}

/// An Ethereum JSON-RPC client, optionally with a key that signs transactions.
#[derive(Clone, Debug)]
pub struct L1Client {
    provider: DynProvider,
    sender: Option<Address>,
}

impl L1Client {
    /// Connects to `url` (http); transactions are signed with `signer` when given.
    pub fn connect(url: &str, signer: Option<PrivateKeySigner>) -> Result<Self, L1Error> {
        let parsed = url::Url::parse(url).map_err(|e| L1Error::BadUrl {
            url: url.to_owned(),
            reason: format!("{e}"),
        })?;
        let sender = signer.as_ref().map(PrivateKeySigner::address);
        let provider = match signer {
            Some(signer) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(parsed)
                .erased(),
            None => ProviderBuilder::new().connect_http(parsed).erased(),
        };
        Ok(Self { provider, sender })
    }

    /// The underlying provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The address transactions are sent from.
    pub fn sender(&self) -> Option<Address> {
        self.sender
    }

    /// The L1 chain id.
    pub async fn chain_id(&self) -> Result<u64, L1Error> {
        self.provider.get_chain_id().await.map_err(rpc)
    }

    /// The latest block number.
    pub async fn head(&self) -> Result<u64, L1Error> {
        self.provider.get_block_number().await.map_err(rpc)
    }

    /// The balance of `who` in ETH (token `Address::ZERO`) or in an ERC-20.
    pub async fn balance(&self, token: Address, who: Address) -> Result<U256, L1Error> {
        if token == Address::ZERO {
            return self.provider.get_balance(who).await.map_err(rpc);
        }
        self.view(token, ITestToken::balanceOfCall { owner: who })
            .await
    }

    /// Calls a view function of `to` at the latest block.
    pub async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, L1Error> {
        let out = self
            .call_raw(to, call.abi_encode().into(), U256::ZERO)
            .await?;
        C::abi_decode_returns(&out)
            .map_err(|e| L1Error::Unexpected(format!("{}: {e}", C::SIGNATURE)))
    }

    /// `eth_call`: what the call returns, or why it reverts.
    pub async fn call_raw(&self, to: Address, data: Bytes, value: U256) -> Result<Bytes, L1Error> {
        let tx = self.request(Some(to), data, value);
        self.provider.call(tx).await.map_err(revert_or_rpc)
    }

    fn request(&self, to: Option<Address>, data: Bytes, value: U256) -> TransactionRequest {
        TransactionRequest {
            from: self.sender,
            to: Some(to.map_or(TxKind::Create, TxKind::Call)),
            input: TransactionInput::new(data),
            value: Some(value),
            ..Default::default()
        }
    }

    /// Sends a transaction and waits for its receipt. It is simulated first, so a
    /// transaction that would revert is refused with the contract's reason and never sent.
    pub async fn send(
        &self,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<TransactionReceipt, L1Error> {
        if self.sender.is_none() {
            return Err(L1Error::NoSigner);
        }
        let tx = self.request(to, data, value);
        self.provider
            .call(tx.clone())
            .await
            .map_err(revert_or_rpc)?;
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(revert_or_rpc)?;
        let receipt = pending
            .with_timeout(Some(Duration::from_secs(60)))
            .get_receipt()
            .await
            .map_err(|e| L1Error::Rpc(format!("waiting for the receipt: {e}")))?;
        if !receipt.status() {
            return Err(L1Error::Reverted(format!(
                "transaction {} reverted on chain",
                receipt.transaction_hash
            )));
        }
        Ok(receipt)
    }

    /// Sends a contract call.
    pub async fn send_call<C: SolCall>(
        &self,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, L1Error> {
        self.send(Some(to), call.abi_encode().into(), value).await
    }

    async fn deploy(&self, code: Bytes, args: Vec<u8>) -> Result<Address, L1Error> {
        let mut data = code.to_vec();
        data.extend_from_slice(&args);
        let receipt = self.send(None, data.into(), U256::ZERO).await?;
        receipt
            .contract_address
            .ok_or_else(|| L1Error::Unexpected("a creation receipt without an address".into()))
    }

    /// Deploys `ParallaxBridge` for Parallax chain `l2_chain_id` with the validators' bridge
    /// addresses and power.
    pub async fn deploy_bridge(
        &self,
        l2_chain_id: u64,
        validators: &[(Address, u64)],
    ) -> Result<Address, L1Error> {
        let args = ParallaxBridgeConstructor {
            l2ChainId: U256::from(l2_chain_id),
            validators: validators.iter().map(|(a, _)| *a).collect(),
            powers: validators.iter().map(|(_, p)| U256::from(*p)).collect(),
        };
        self.deploy(parallax_bridge_code(), args.abi_encode_params())
            .await
    }

    /// Deploys a `TestToken`; `fee_basis_points` of every transfer is burned (0: a plain ERC-20).
    pub async fn deploy_test_token(
        &self,
        name: &str,
        symbol: &str,
        fee_basis_points: u64,
    ) -> Result<Address, L1Error> {
        let args = TestTokenConstructor {
            name: name.to_owned(),
            symbol: symbol.to_owned(),
            feeBasisPoints: U256::from(fee_basis_points),
        };
        self.deploy(test_token_code(), args.abi_encode_params())
            .await
    }

    /// Submits a withdrawal root with its signatures (ascending signers).
    pub async fn submit_withdrawal_root(
        &self,
        bridge: Address,
        l2_block: u64,
        root: B256,
        signatures: Vec<Bytes>,
    ) -> Result<TransactionReceipt, L1Error> {
        let call = IParallaxBridge::submitWithdrawalRootCall {
            l2BlockNumber: U256::from(l2_block),
            root,
            signatures,
        };
        self.send_call(bridge, call, U256::ZERO).await
    }

    /// Finalizes a withdrawal with its proof against block `l2_block`'s attested root.
    pub async fn finalize_withdrawal(
        &self,
        bridge: Address,
        withdrawal: &Withdrawal,
        l2_block: u64,
        proof: Vec<B256>,
    ) -> Result<TransactionReceipt, L1Error> {
        self.send_call(
            bridge,
            finalize_call(withdrawal, l2_block, proof),
            U256::ZERO,
        )
        .await
    }

    /// The `Deposit` events of `bridge` in blocks `from..=to`, in log order.
    pub async fn deposits(
        &self,
        bridge: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<L1Deposit>, L1Error> {
        let filter = Filter::new()
            .address(bridge)
            .event_signature(IParallaxBridge::Deposit::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        logs.into_iter()
            .filter(|log| !log.removed)
            .map(|log| {
                let event = IParallaxBridge::Deposit::decode_log_data(log.data())
                    .map_err(|e| L1Error::Unexpected(format!("a Deposit log: {e}")))?;
                let nonce = u64::try_from(event.nonce)
                    .map_err(|_| L1Error::Unexpected("a deposit nonce above 2^64".into()))?;
                Ok(L1Deposit {
                    nonce,
                    token: event.token,
                    from: event.from,
                    l2_recipient: event.l2Recipient,
                    amount: event.amount,
                    block_number: log
                        .block_number
                        .ok_or_else(|| L1Error::Unexpected("a log without a block".into()))?,
                    block_hash: log
                        .block_hash
                        .ok_or_else(|| L1Error::Unexpected("a log without a block hash".into()))?,
                    tx_hash: log.transaction_hash.ok_or_else(|| {
                        L1Error::Unexpected("a log without a transaction hash".into())
                    })?,
                })
            })
            .collect()
    }
}

/// The call that finalizes `withdrawal`.
pub fn finalize_call(
    withdrawal: &Withdrawal,
    l2_block: u64,
    proof: Vec<B256>,
) -> IParallaxBridge::finalizeWithdrawalCall {
    IParallaxBridge::finalizeWithdrawalCall {
        id: U256::from(withdrawal.id),
        l1Token: withdrawal.l1_token,
        l1Recipient: withdrawal.l1_recipient,
        amount: withdrawal.amount,
        l2BlockNumber: U256::from(l2_block),
        proof,
    }
}

fn rpc(e: impl std::fmt::Display) -> L1Error {
    L1Error::Rpc(e.to_string())
}

/// A revert (its reason decoded from the error's data) or any other RPC error.
fn revert_or_rpc(e: alloy_provider::transport::TransportError) -> L1Error {
    if let Some(payload) = e.as_error_resp() {
        if let Some(data) = payload.as_revert_data() {
            use alloy_sol_types::SolError;
            let reason = match alloy_sol_types::Revert::abi_decode(&data) {
                Ok(revert) => revert.reason,
                Err(_) => match alloy_sol_types::Panic::abi_decode(&data) {
                    Ok(panic) => format!("panic: {panic}"),
                    Err(_) => format!("0x{}", alloy_primitives::hex::encode(&data)),
                },
            };
            return L1Error::Reverted(reason);
        }
        if payload.message.contains("revert") {
            return L1Error::Reverted(payload.message.to_string());
        }
    }
    L1Error::Rpc(e.to_string())
}

/// Deposits that are at least `confirmations` blocks deep, gathered from the L1 contract's
/// events in nonce order.
///
/// Only blocks at or below `head - confirmations` are ever read, and each once: a deposit in
/// a shallower block is not seen until it is deep enough, so one that Ethereum reorganises
/// away before then is never seen at all. Nonces must arrive without gaps; a gap means the
/// view is broken (a wrong contract, a reorganisation deeper than `confirmations`) and stops
/// the watcher with an error rather than skipping a deposit.
#[derive(Debug)]
pub struct DepositWatcher {
    client: L1Client,
    bridge: Address,
    confirmations: u64,
    /// The next block to read.
    next_block: u64,
    /// The L1 head at the last poll.
    head: Option<u64>,
    deposits: BTreeMap<u64, L1Deposit>,
    /// The nonce the next deposit must have.
    next_nonce: u64,
}

impl DepositWatcher {
    /// Watches `bridge` from block `from_block` (its deployment block, or 0).
    pub fn new(client: L1Client, bridge: Address, confirmations: u64, from_block: u64) -> Self {
        Self {
            client,
            bridge,
            confirmations,
            next_block: from_block,
            head: None,
            deposits: BTreeMap::new(),
            next_nonce: 0,
        }
    }

    /// Reads the newly confirmed blocks; returns how many deposits they held.
    pub async fn poll(&mut self) -> Result<usize, L1Error> {
        let head = self.client.head().await?;
        self.head = Some(head);
        let Some(safe) = head.checked_sub(self.confirmations) else {
            return Ok(0);
        };
        let mut found = 0;
        while self.next_block <= safe {
            let to = safe.min(self.next_block + MAX_LOG_RANGE - 1);
            let batch = self
                .client
                .deposits(self.bridge, self.next_block, to)
                .await?;
            for deposit in batch {
                let expected = self.next_nonce();
                if deposit.nonce != expected {
                    return Err(L1Error::Unexpected(format!(
                        "deposit nonce {} where {expected} was next (block {})",
                        deposit.nonce, deposit.block_number
                    )));
                }
                self.next_nonce = deposit.nonce + 1;
                self.deposits.insert(deposit.nonce, deposit);
                found += 1;
            }
            self.next_block = to + 1;
        }
        Ok(found)
    }

    /// The nonce after the last confirmed deposit.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Forgets the confirmed deposits below `nonce` (the caller has taken them); the nonce
    /// expected next is kept.
    pub fn prune_below(&mut self, nonce: u64) {
        self.deposits = self.deposits.split_off(&nonce);
    }

    /// The confirmed deposit with this nonce.
    pub fn get(&self, nonce: u64) -> Option<&L1Deposit> {
        self.deposits.get(&nonce)
    }

    /// Up to `limit` confirmed deposits from nonce `from` on.
    pub fn from_nonce(&self, from: u64, limit: usize) -> Vec<L1Deposit> {
        self.deposits
            .range(from..)
            .take(limit)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// The L1 head at the last poll.
    pub fn head(&self) -> Option<u64> {
        self.head
    }
}
