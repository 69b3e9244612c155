//! The bridge's view of Ethereum, through an alloy provider over the validator's own L1 RPC:
//! deploying and calling the contracts, and watching `Deposit` events once they are deep
//! enough to count.

use crate::contracts::{
    HostileTokenConstructor, IParallaxBridge, ITestToken, ParallaxBridgeConstructor,
    TestTokenConstructor, hostile_token_code, parallax_bridge_code, refusing_receiver_code,
    test_token_code,
};
use crate::withdrawal::Withdrawal;
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder, WsConnect};
use alloy_rpc_types_eth::{
    BlockNumberOrTag, Filter, TransactionInput, TransactionReceipt, TransactionRequest,
};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use std::future::Future;
use std::time::Duration;

/// The widest block range one `eth_getLogs` asks for (public providers cap it).
pub const MAX_LOG_RANGE: u64 = 2_000;

/// How long one Ethereum call may take before it counts as failed: an RPC that accepts the
/// connection and never answers must not stall the deposit watcher, the relayer or the status
/// RPC (they retry).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// The token's name, symbol and decimals as the bridge read them
    /// (`abi.encode(string, string, uint8)`; empty for ETH).
    pub metadata: Bytes,
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
    timeout: Duration,
}

impl L1Client {
    /// Connects to `url`: `http://` or `https://` (JSON-RPC over HTTP), `ws://` or `wss://`
    /// (a WebSocket, reconnected when it drops). TLS checks the server against the system's
    /// certificate authorities (`SSL_CERT_FILE` adds one). Transactions are signed with
    /// `signer` when given.
    pub async fn connect(url: &str, signer: Option<PrivateKeySigner>) -> Result<Self, L1Error> {
        let parsed = url::Url::parse(url).map_err(|e| L1Error::BadUrl {
            url: url.to_owned(),
            reason: format!("{e}"),
        })?;
        let sender = signer.as_ref().map(PrivateKeySigner::address);
        let wallet = signer.map(EthereumWallet::from);
        let provider = match parsed.scheme() {
            "http" | "https" => match wallet {
                Some(wallet) => ProviderBuilder::new()
                    .wallet(wallet)
                    .connect_http(parsed)
                    .erased(),
                None => ProviderBuilder::new().connect_http(parsed).erased(),
            },
            "ws" | "wss" => {
                let ws = WsConnect::new(url.to_owned());
                let connected = match wallet {
                    Some(wallet) => ProviderBuilder::new()
                        .wallet(wallet)
                        .connect_ws(ws)
                        .await
                        .map(Provider::erased),
                    None => ProviderBuilder::new()
                        .connect_ws(ws)
                        .await
                        .map(Provider::erased),
                };
                connected.map_err(|e| L1Error::Rpc(format!("connecting to {url}: {e}")))?
            }
            other => {
                return Err(L1Error::BadUrl {
                    url: url.to_owned(),
                    reason: format!("scheme {other}: is not http, https, ws or wss"),
                });
            }
        };
        Ok(Self {
            provider,
            sender,
            timeout: CALL_TIMEOUT,
        })
    }

    /// The same client, giving up on each call after `timeout` (default [`CALL_TIMEOUT`]).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs one call within the client's timeout.
    async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, L1Error>>,
    ) -> Result<T, L1Error> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(L1Error::Rpc(format!(
                    "{what}: no answer within {:?}",
                    self.timeout
                )))
            })
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
        self.timed("eth_chainId", async {
            self.provider.get_chain_id().await.map_err(rpc)
        })
        .await
    }

    /// The latest block number.
    pub async fn head(&self) -> Result<u64, L1Error> {
        self.timed("eth_blockNumber", async {
            self.provider.get_block_number().await.map_err(rpc)
        })
        .await
    }

    /// The balance of `who` in ETH (token `Address::ZERO`) or in an ERC-20.
    pub async fn balance(&self, token: Address, who: Address) -> Result<U256, L1Error> {
        if token == Address::ZERO {
            return self
                .timed("eth_getBalance", async {
                    self.provider.get_balance(who).await.map_err(rpc)
                })
                .await;
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
        self.timed("eth_call", async {
            self.provider.call(tx).await.map_err(revert_or_rpc)
        })
        .await
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
        self.timed("eth_call", async {
            self.provider.call(tx.clone()).await.map_err(revert_or_rpc)
        })
        .await?;
        let pending = self
            .timed("sending a transaction", async {
                self.provider
                    .send_transaction(tx)
                    .await
                    .map_err(revert_or_rpc)
            })
            .await?;
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

    /// Deploys a `RefusingReceiver` (refuses ETH until its deployer lets it in).
    pub async fn deploy_refusing_receiver(&self) -> Result<Address, L1Error> {
        self.deploy(refusing_receiver_code(), Vec::new()).await
    }

    /// Deploys a `HostileToken` whose metadata calls misbehave in `mode` (see the contract).
    pub async fn deploy_hostile_token(
        &self,
        mode: u64,
        decimals: U256,
    ) -> Result<Address, L1Error> {
        let args = HostileTokenConstructor {
            mode: U256::from(mode),
            reportedDecimals: decimals,
        };
        self.deploy(hostile_token_code(), args.abi_encode_params())
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

    /// Finalizes many withdrawals in one transaction (`finalizeWithdrawals`): each with the
    /// Parallax block whose attested root proves it and its proof.
    pub async fn finalize_withdrawals(
        &self,
        bridge: Address,
        items: &[(Withdrawal, u64, Vec<B256>)],
    ) -> Result<TransactionReceipt, L1Error> {
        let call = IParallaxBridge::finalizeWithdrawalsCall {
            withdrawals: items
                .iter()
                .map(|(w, l2_block, proof)| IParallaxBridge::WithdrawalProof {
                    id: U256::from(w.id),
                    l1Token: w.l1_token,
                    l1Recipient: w.l1_recipient,
                    amount: w.amount,
                    l2BlockNumber: U256::from(*l2_block),
                    proof: proof.clone(),
                })
                .collect(),
        };
        self.send_call(bridge, call, U256::ZERO).await
    }

    /// Withdrawal `id`'s state on Ethereum.
    pub async fn withdrawal_state(
        &self,
        bridge: Address,
        id: u64,
    ) -> Result<WithdrawalState, L1Error> {
        let status = self
            .view(
                bridge,
                IParallaxBridge::withdrawalStatusCall { id: U256::from(id) },
            )
            .await?;
        WithdrawalState::decode(status.state, status.releaseAt)
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
        let logs = self
            .timed("eth_getLogs", async {
                self.provider.get_logs(&filter).await.map_err(rpc)
            })
            .await?;
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
                    metadata: event.metadata,
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

/// A withdrawal's state on Ethereum (`ParallaxBridge.withdrawalStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawalState {
    /// Not finalized yet.
    Unfinalized,
    /// Paid out.
    Paid,
    /// Proven, but the payout failed: `finalizeWithdrawal` retries it (anyone may).
    Unpaid,
    /// Proven, above its token's rate limit: payable from `release_at` (seconds since the
    /// epoch, Ethereum's clock), unless the validator set cancels it first.
    Queued {
        /// When it may be paid.
        release_at: u64,
    },
    /// Cancelled by the validator set while queued; never paid.
    Cancelled,
}

impl WithdrawalState {
    fn decode(state: u8, release_at: U256) -> Result<Self, L1Error> {
        Ok(match state {
            0 => Self::Unfinalized,
            1 => Self::Paid,
            2 => Self::Unpaid,
            3 => Self::Queued {
                release_at: u64::try_from(release_at).unwrap_or(u64::MAX),
            },
            4 => Self::Cancelled,
            other => {
                return Err(L1Error::Unexpected(format!(
                    "withdrawal status {other} is unknown"
                )));
            }
        })
    }

    /// Whether nothing is left for a relayer to do (paid, unpaid and waiting for a pull, or
    /// cancelled).
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Paid | Self::Unpaid | Self::Cancelled)
    }

    /// The name `parallax_bridgeStatus` reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Unfinalized => "attested",
            Self::Paid => "finalized",
            Self::Unpaid => "unpaid",
            Self::Queued { .. } => "queued",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Which Ethereum blocks count as settled enough to mint their deposits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finality {
    /// Blocks at least this many below the head (`head - k`).
    Confirmations(u64),
    /// Blocks at or below Ethereum's `finalized` block (proof-of-stake finality).
    Finalized,
}

/// Where deposits come from: Ethereum through [`L1Client`], or a synthetic history in tests.
pub trait DepositSource {
    /// The head, and the highest block that counts as settled under `finality` (`None`: none
    /// yet).
    fn heads(
        &self,
        finality: Finality,
    ) -> impl Future<Output = Result<(u64, Option<u64>), L1Error>> + Send;

    /// The `Deposit` events of `bridge` in blocks `from..=to`, in log order.
    fn deposits(
        &self,
        bridge: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<L1Deposit>, L1Error>> + Send;
}

impl DepositSource for L1Client {
    async fn heads(&self, finality: Finality) -> Result<(u64, Option<u64>), L1Error> {
        let head = self.head().await?;
        let settled = match finality {
            Finality::Confirmations(k) => head.checked_sub(k),
            Finality::Finalized => self
                .timed("eth_getBlockByNumber(finalized)", async {
                    self.provider
                        .get_block_by_number(BlockNumberOrTag::Finalized)
                        .await
                        .map_err(rpc)
                })
                .await?
                .map(|b| b.header.number),
        };
        Ok((head, settled))
    }

    async fn deposits(
        &self,
        bridge: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<L1Deposit>, L1Error> {
        L1Client::deposits(self, bridge, from, to).await
    }
}

/// Reads settled deposits from the bridge's events in nonce order, from a cursor.
///
/// Only blocks that count as settled ([`Finality`]) are ever read: a deposit in a shallower
/// block is not seen until it is deep enough (or finalized), so one that Ethereum reorganises
/// away before then is never seen at all. The cursor is the next block to read and the next
/// nonce expected; a caller resuming after a restart starts it where its chain stands (the
/// next nonce Parallax will mint and the Ethereum block of the last one minted), so nothing
/// already minted is read again. Each poll hands out at most `room` deposits and stops there
/// (resuming within the same block next time), so memory stays bounded whatever the backlog.
/// Nonces must arrive without gaps; a gap means the view is broken (a wrong contract or start
/// block, a reorganisation deeper than the settlement rule) and is an error, never a skip.
#[derive(Debug)]
pub struct DepositWatcher<S> {
    source: S,
    bridge: Address,
    finality: Finality,
    /// The next block to read.
    next_block: u64,
    /// The nonce the next deposit handed out must have.
    next_nonce: u64,
    /// The head and settled block at the last poll.
    heads: Option<(u64, Option<u64>)>,
}

impl<S: DepositSource> DepositWatcher<S> {
    /// Watches `bridge` from block `from_block`, expecting nonce `from_nonce` next (0 and the
    /// bridge's deployment block on a new chain).
    pub fn new(
        source: S,
        bridge: Address,
        finality: Finality,
        from_block: u64,
        from_nonce: u64,
    ) -> Self {
        Self {
            source,
            bridge,
            finality,
            next_block: from_block,
            next_nonce: from_nonce,
            heads: None,
        }
    }

    /// Reads newly settled blocks and returns up to `room` deposits with nonces from
    /// `max(floor, the next expected)` on, in order. `floor` is the next nonce the chain will
    /// mint: anything below it is skipped.
    pub async fn poll(&mut self, floor: u64, room: usize) -> Result<Vec<L1Deposit>, L1Error> {
        self.next_nonce = self.next_nonce.max(floor);
        let heads = self.source.heads(self.finality).await?;
        self.heads = Some(heads);
        let mut out = Vec::new();
        let Some(settled) = heads.1 else {
            return Ok(out);
        };
        while self.next_block <= settled && out.len() < room {
            let to = settled.min(self.next_block.saturating_add(MAX_LOG_RANGE - 1));
            let batch = self
                .source
                .deposits(self.bridge, self.next_block, to)
                .await?;
            for deposit in batch {
                if deposit.nonce < self.next_nonce {
                    continue;
                }
                if deposit.nonce > self.next_nonce {
                    return Err(L1Error::Unexpected(format!(
                        "deposit nonce {} where {} was next (block {})",
                        deposit.nonce, self.next_nonce, deposit.block_number
                    )));
                }
                if out.len() == room {
                    // Full: the next poll reads this block again and skips what it took.
                    self.next_block = deposit.block_number;
                    return Ok(out);
                }
                self.next_nonce += 1;
                out.push(deposit);
            }
            self.next_block = to + 1;
        }
        Ok(out)
    }

    /// The nonce the next deposit handed out must have.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// The next block to read.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// The L1 head at the last poll.
    pub fn head(&self) -> Option<u64> {
        self.heads.map(|(head, _)| head)
    }

    /// The highest settled block at the last poll.
    pub fn settled(&self) -> Option<u64> {
        self.heads.and_then(|(_, settled)| settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A synthetic Ethereum: `per_block` deposits in every block from block 1, up to `total`,
    /// with a head that tests move; it counts the logs it served.
    #[derive(Clone)]
    struct History {
        per_block: u64,
        total: u64,
        head: Arc<Mutex<u64>>,
        served: Arc<Mutex<u64>>,
    }

    impl History {
        fn deposit(&self, nonce: u64) -> L1Deposit {
            let block = 1 + nonce / self.per_block;
            L1Deposit {
                nonce,
                token: Address::ZERO,
                from: Address::with_last_byte(1),
                l2_recipient: Address::with_last_byte(2),
                amount: U256::from(nonce + 1),
                metadata: Bytes::new(),
                block_number: block,
                block_hash: B256::with_last_byte(block as u8),
                tx_hash: B256::from(U256::from(nonce)),
            }
        }
    }

    impl DepositSource for History {
        async fn heads(&self, finality: Finality) -> Result<(u64, Option<u64>), L1Error> {
            let head = *self.head.lock().unwrap();
            let settled = match finality {
                Finality::Confirmations(k) => head.checked_sub(k),
                Finality::Finalized => head.checked_sub(64),
            };
            Ok((head, settled))
        }

        async fn deposits(
            &self,
            _bridge: Address,
            from: u64,
            to: u64,
        ) -> Result<Vec<L1Deposit>, L1Error> {
            let first = from.saturating_sub(1) * self.per_block;
            let last = (to.saturating_sub(1) + 1) * self.per_block;
            let out: Vec<_> = (first..last.min(self.total))
                .map(|n| self.deposit(n))
                .filter(|d| d.block_number >= from && d.block_number <= to)
                .collect();
            *self.served.lock().unwrap() += out.len() as u64;
            Ok(out)
        }
    }

    fn history(per_block: u64, total: u64) -> History {
        History {
            per_block,
            total,
            head: Arc::new(Mutex::new(1 + total / per_block + 10)),
            served: Arc::new(Mutex::new(0)),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_long_history_is_handed_out_in_bounded_pieces_and_in_order() {
        let h = history(7, 200_000);
        let mut w = DepositWatcher::new(h.clone(), Address::ZERO, Finality::Confirmations(2), 0, 0);
        let mut next = 0;
        block_on(async {
            loop {
                let got = w.poll(next, 1_000).await.unwrap();
                assert!(got.len() <= 1_000, "a poll hands out at most its room");
                if got.is_empty() {
                    break;
                }
                for d in &got {
                    assert_eq!(d.nonce, next, "in order, no gaps, no repeats");
                    next += 1;
                }
            }
        });
        assert_eq!(next, 200_000);
    }

    #[test]
    fn a_restarted_watcher_resumes_at_the_chains_cursor_and_reads_only_the_rest() {
        // 100,000 deposits already minted (the old node stalled after 65,536); the chain says
        // the next is 100,000 and the last minted was in its block.
        let h = history(10, 100_050);
        let last_minted_block = h.deposit(99_999).block_number;
        let mut w = DepositWatcher::new(
            h.clone(),
            Address::ZERO,
            Finality::Confirmations(2),
            last_minted_block,
            100_000,
        );
        let got = block_on(w.poll(100_000, 65_536)).unwrap();
        assert_eq!(
            got.iter().map(|d| d.nonce).collect::<Vec<_>>(),
            (100_000..100_050).collect::<Vec<_>>()
        );
        assert!(
            *h.served.lock().unwrap() < 100,
            "only the last minted block and the new ones are read"
        );
    }

    #[test]
    fn the_chains_floor_skips_what_others_minted_meanwhile() {
        let h = history(3, 30);
        let mut w = DepositWatcher::new(h.clone(), Address::ZERO, Finality::Confirmations(0), 0, 0);
        let first = block_on(w.poll(0, 5)).unwrap();
        assert_eq!(first.last().unwrap().nonce, 4);
        // The chain minted up to 20 through other validators' views.
        let rest = block_on(w.poll(20, 100)).unwrap();
        assert_eq!(rest.first().unwrap().nonce, 20);
        assert_eq!(rest.last().unwrap().nonce, 29);
    }

    #[test]
    fn shallow_blocks_are_not_read_until_settled() {
        let h = history(1, 10);
        *h.head.lock().unwrap() = 5;
        let mut w = DepositWatcher::new(h.clone(), Address::ZERO, Finality::Confirmations(2), 0, 0);
        // Blocks 1..=3 are two deep at head 5: nonces 0, 1, 2.
        assert_eq!(block_on(w.poll(0, 100)).unwrap().len(), 3);
        assert_eq!(w.settled(), Some(3));
        *h.head.lock().unwrap() = 20;
        assert_eq!(block_on(w.poll(0, 100)).unwrap().len(), 7);
        let mut finalized = DepositWatcher::new(h, Address::ZERO, Finality::Finalized, 0, 0);
        assert!(
            block_on(finalized.poll(0, 100)).unwrap().is_empty(),
            "nothing finalized at head 20"
        );
    }

    #[test]
    fn an_ethereum_rpc_that_never_answers_is_an_error_not_a_hang() {
        block_on(async {
            // Accepts connections and never answers.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let held = tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((c, _)) = listener.accept().await {
                    open.push(c);
                }
            });
            let client = L1Client::connect(&url, None)
                .await
                .unwrap()
                .with_call_timeout(Duration::from_millis(300));
            let start = std::time::Instant::now();
            let err = client.head().await.unwrap_err();
            assert!(err.to_string().contains("no answer within"), "{err}");
            let mut watcher =
                DepositWatcher::new(client, Address::ZERO, Finality::Confirmations(1), 0, 0);
            assert!(watcher.poll(0, 10).await.is_err());
            assert!(start.elapsed() < Duration::from_secs(5));
            held.abort();
        });
    }

    #[test]
    fn a_gap_is_an_error_and_the_cursor_does_not_move() {
        let h = history(2, 10);
        // Started past nonce 0's block: nonce 2 comes first.
        let mut w = DepositWatcher::new(h, Address::ZERO, Finality::Confirmations(0), 2, 0);
        let err = block_on(w.poll(0, 10)).unwrap_err();
        assert!(
            err.to_string().contains("deposit nonce 2 where 0 was next"),
            "{err}"
        );
        assert_eq!(w.next_nonce(), 0);
    }
}
