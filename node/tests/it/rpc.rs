//! The JSON-RPC server of a one-validator node on 127.0.0.1, as a client sees it: malformed
//! and oversized requests get JSON-RPC errors in geth's words and the node keeps serving;
//! a deployed ERC-20 is read at the head and at past blocks, its reverts come back as code 3
//! with the revert data, its events are found by `eth_getLogs`, installed filters and
//! WebSocket subscriptions; gas estimates are exact; account proofs, at the head and
//! at an older block, verify against that block's state root.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use futures::{SinkExt, StreamExt};
use parallax_genesis::{ValidatorKeys, dev_accounts, parallax_genesis};
use parallax_loadgen::tx;
use parallax_node::service::{Node, NodeOptions};
use parallax_test_support::http::{post, post_on};
use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    time::{Duration, Instant},
};
use tokio_tungstenite::tungstenite::Message;

const CHAIN_ID: u64 = 7_070;

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A raw HTTP POST from another loopback address (127.0.0.2).
fn post_from_other_address(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    let socket = socket_from_other_address();
    let stream = tokio::runtime::Handle::current()
        .block_on(socket.connect(addr))
        .unwrap()
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    post_on(stream, addr, body)
}

fn socket_from_other_address() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    socket
}

fn raw(addr: SocketAddr, body: &str) -> Value {
    let (status, body) = post(addr, body.as_bytes());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn call(addr: SocketAddr, method: &str, params: Value) -> Value {
    raw(
        addr,
        &json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string(),
    )
}

fn ok(addr: SocketAddr, method: &str, params: Value) -> Value {
    let v = call(addr, method, params.clone());
    assert!(v.get("error").is_none(), "{method} {params} failed: {v}");
    v["result"].clone()
}

fn err(addr: SocketAddr, method: &str, params: Value) -> (i64, String, Value) {
    let v = call(addr, method, params.clone());
    let e = &v["error"];
    assert!(e.is_object(), "{method} {params} did not fail: {v}");
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_owned(),
        e["data"].clone(),
    )
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn word(v: &Value) -> U256 {
    v.as_str().unwrap().parse().unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Chain {
    node: Option<Node>,
    rpc: SocketAddr,
    /// The Prometheus endpoint.
    metrics: SocketAddr,
    accounts: Vec<(Address, B256)>,
    _dir: tempfile::TempDir,
}

impl Chain {
    async fn start() -> Self {
        Self::with_limits(Default::default()).await
    }

    async fn with_limits(rpc_limits: parallax_rpc::RpcLimits) -> Self {
        let keys = ValidatorKeys::generate().unwrap();
        let validator = keys.validator("solo", 1);
        let accounts = dev_accounts(4).unwrap();
        let mut genesis =
            parallax_genesis(CHAIN_ID, 1_700_000_000, vec![validator], &accounts).unwrap();
        genesis
            .parallax
            .as_mut()
            .unwrap()
            .consensus
            .min_block_interval_ms = 100;
        let dir = tempfile::tempdir().unwrap();
        let rpc = free_addr();
        let metrics = free_addr();
        let node = Node::start(NodeOptions {
            name: "solo".into(),
            genesis,
            datadir: dir.path().join("solo"),
            keys,
            listen_addr: None,
            bootnodes: Vec::new(),
            rpc_addr: Some(rpc),
            rpc_limits,
            grpc_addr: None,
            metrics_addr: Some(metrics),
            mempool: Default::default(),
            executor_threads: 1,
            clock: std::sync::Arc::new(parallax_node::service::SystemClock),
            l1: None,
        })
        .await
        .unwrap();
        Self {
            node: Some(node),
            rpc,
            metrics,
            accounts,
            _dir: dir,
        }
    }

    fn sign(
        &self,
        from: usize,
        nonce: u64,
        to: TxKind,
        value: u64,
        input: Bytes,
        gas: u64,
    ) -> String {
        let signer = PrivateKeySigner::from_bytes(&self.accounts[from].1).unwrap();
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 20_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::from(value),
            input,
            ..Default::default()
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718()).to_string()
    }

    /// Sends a raw transaction and waits for its receipt.
    fn send(&self, raw: String) -> Value {
        let hash = ok(self.rpc, "eth_sendRawTransaction", json!([raw]));
        let mut receipt = Value::Null;
        wait_for("a receipt", Duration::from_secs(20), || {
            receipt = ok(self.rpc, "eth_getTransactionReceipt", json!([hash]));
            !receipt.is_null()
        });
        receipt
    }
}

/// The next JSON message on a WebSocket, within 10 s; the server's pings (which its clients'
/// pongs answer, keeping quiet connections open) are skipped.
async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the connection open")
            .unwrap();
        if m.is_text() {
            return serde_json::from_str(m.to_text().unwrap()).unwrap();
        }
    }
}

fn addr_word(a: Address) -> [u8; 32] {
    a.into_word().0
}

/// The ERC-20 of `execution/contracts` deployed with `supply` for `holder` (the load
/// generator's deployment: the same checked-in artifact).
fn token_deployment(holder: Address, supply: u64) -> Bytes {
    tx::token_deployment(holder, U256::from(supply)).into()
}

fn balance_of(who: Address) -> Bytes {
    tx::balance_of(who).into()
}

fn transfer_call(to: Address, amount: u64) -> Bytes {
    tx::transfer(to, U256::from(amount)).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_get_errors_and_the_node_keeps_serving() {
    let mut chain = Chain::start().await;
    let rpc = chain.rpc;
    tokio::task::spawn_blocking(move || {
        // Not JSON, not an object, no method.
        assert_eq!(raw(rpc, "{oops")["error"]["code"], -32700);
        assert_eq!(raw(rpc, "42")["error"]["code"], -32600);
        assert_eq!(raw(rpc, r#"{"jsonrpc":"2.0","id":1}"#)["error"]["code"], -32600);
        assert_eq!(raw(rpc, "[]")["error"]["message"], "empty batch");
        // Unknown method, in geth's words.
        let (code, message, _) = err(rpc, "eth_nope", json!([]));
        assert_eq!((code, message.as_str()), (
            -32601,
            "the method eth_nope does not exist/is not available"
        ));
        // Wrong types, huge numbers, missing and extra arguments.
        assert_eq!(err(rpc, "eth_getBalance", json!([12, "latest"])).0, -32602);
        assert_eq!(
            err(rpc, "eth_getBalance", json!([Address::ZERO, format!("0x{}", "f".repeat(70))])).0,
            -32602
        );
        assert_eq!(
            err(rpc, "eth_getBlockByNumber", json!(["0x1", true, 3])).1,
            "too many arguments, want at most 2"
        );
        assert_eq!(
            err(rpc, "eth_getTransactionReceipt", json!([])).1,
            "missing value for required argument 0"
        );
        assert_eq!(
            raw(rpc, r#"{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"a":1}}"#)["error"]["code"],
            -32602
        );
        // A block that does not exist yet is geth's "header not found".
        let (code, message, _) = err(rpc, "eth_getBalance", json!([Address::ZERO, "0xffffffff"]));
        assert_eq!((code, message.as_str()), (-32000, "header not found"));
        assert_eq!(ok(rpc, "eth_getBlockByNumber", json!(["0xffffffff", false])), Value::Null);
        // Junk raw transactions are refused with -32000.
        for junk in ["0x", "0x00", "0x02f8", "0xdeadbeef"] {
            assert_eq!(err(rpc, "eth_sendRawTransaction", json!([junk])).0, -32000, "{junk}");
        }
        assert_eq!(err(rpc, "eth_sendRawTransaction", json!(["nothex"])).0, -32602);
        // A body over the limit: 413 with a JSON-RPC error.
        let huge = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
            "00".repeat(3 * 1024 * 1024)
        );
        let (status, body) = post(rpc, huge.as_bytes());
        assert_eq!(status, 413, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], -32600);
        // Batches: mixed good and bad calls answer each; too long is refused whole;
        // notifications get no answer.
        let batch = raw(
            rpc,
            r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"nope"},7]"#,
        );
        let batch = batch.as_array().unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[0]["result"], format!("{CHAIN_ID:#x}"));
        assert_eq!(batch[1]["error"]["code"], -32601);
        assert_eq!(batch[2]["error"]["code"], -32600);
        // A call whose id no JSON-RPC id can be (an object, a fraction) is answered as an
        // invalid request, as geth answers it, not run unanswered as a notification.
        let batch = raw(
            rpc,
            r#"[{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"},{"jsonrpc":"2.0","id":2.5,"method":"eth_chainId"},{"jsonrpc":"2.0","id":3,"method":"eth_chainId"}]"#,
        );
        let batch = batch.as_array().unwrap();
        assert_eq!(batch.len(), 3, "{batch:?}");
        for bad in &batch[..2] {
            assert_eq!(bad["error"]["code"], -32600);
            assert_eq!(bad["error"]["message"], "invalid request");
            assert_eq!(bad["id"], Value::Null);
        }
        assert_eq!(batch[2]["result"], format!("{CHAIN_ID:#x}"));
        let long: Vec<Value> = (0..101)
            .map(|i| json!({"jsonrpc":"2.0","id":i,"method":"eth_chainId"}))
            .collect();
        let v = raw(rpc, &Value::Array(long).to_string());
        assert_eq!(v["error"]["code"], -32600);
        assert!(v["error"]["message"].as_str().unwrap().starts_with("batch too large"));
        let (status, body) = post(rpc, br#"{"jsonrpc":"2.0","method":"eth_chainId"}"#);
        assert_eq!((status, body.as_str()), (200, ""));
        // Still serving, and the chain still moves.
        let before = quantity(&ok(rpc, "eth_blockNumber", json!([])));
        wait_for("a new block", Duration::from_secs(10), || {
            quantity(&ok(rpc, "eth_blockNumber", json!([]))) > before
        });
        // Identity methods.
        assert_eq!(ok(rpc, "eth_chainId", json!([])), format!("{CHAIN_ID:#x}"));
        assert_eq!(ok(rpc, "net_version", json!([])), CHAIN_ID.to_string());
        assert!(
            ok(rpc, "web3_clientVersion", json!([]))
                .as_str()
                .unwrap()
                .starts_with("parallax/v")
        );
        assert_eq!(
            ok(rpc, "web3_sha3", json!(["0x68656c6c6f"])),
            json!(keccak256(b"hello"))
        );
        assert_eq!(ok(rpc, "eth_accounts", json!([])), json!([]));
    })
    .await
    .unwrap();
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contracts_state_logs_filters_subscriptions_and_proofs() {
    let chain = Chain::start().await;
    let rpc = chain.rpc;
    let (alice, _) = chain.accounts[0];
    let (bob, _) = chain.accounts[1];
    let carol = Address::repeat_byte(0xca);
    let transfer_topic = keccak256("Transfer(address,address,uint256)");

    // A WebSocket on the same address, subscribed to heads and to the token's logs before
    // the token exists: its address is known in advance (alice's first creation).
    let token = alice.create(0);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{rpc}"))
        .await
        .unwrap();
    for (id, params) in [
        (1, json!(["newHeads"])),
        (
            2,
            json!(["logs", {"address": token, "topics": [transfer_topic]}]),
        ),
        (3, json!(["newPendingTransactions"])),
    ] {
        let request = json!({"jsonrpc":"2.0","id":id,"method":"eth_subscribe","params":params});
        ws.send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
    }
    let mut subscriptions = std::collections::HashMap::new();
    while subscriptions.len() < 3 {
        let v = next_json(&mut ws).await;
        if let Some(id) = v.get("id") {
            subscriptions.insert(
                v["result"].as_str().unwrap().to_owned(),
                id.as_u64().unwrap(),
            );
        }
    }

    let chain_ref = std::sync::Arc::new(chain);
    let c = chain_ref.clone();
    let (filter_id, block_filter, pending_filter, before_transfer, transfer_hash) =
        tokio::task::spawn_blocking(move || {
            let block_filter = ok(rpc, "eth_newBlockFilter", json!([]));
            let pending_filter = ok(rpc, "eth_newPendingTransactionFilter", json!([]));
            let filter_id = ok(rpc, "eth_newFilter", json!([{"address": token}]));

            let receipt = c.send(c.sign(0, 0, TxKind::Create, 0, token_deployment(alice, 1_000), 2_000_000));
            assert_eq!(receipt["status"], "0x1");
            assert_eq!(receipt["contractAddress"], json!(token));
            let deployed_at = quantity(&receipt["blockNumber"]);
            // Mint log: from zero to alice.
            assert_eq!(receipt["logs"][0]["topics"][0], json!(transfer_topic));
            assert_eq!(receipt["logs"][0]["address"], json!(token));

            let balance = |who: Address, block: Value| {
                word(&ok(rpc, "eth_call", json!([{"to": token, "data": balance_of(who)}, block])))
            };
            assert_eq!(balance(alice, json!("latest")), U256::from(1_000));

            // An exact estimate: the transfer succeeds with it and fails with one gas less.
            let data = transfer_call(bob, 250);
            let estimate = quantity(&ok(
                rpc,
                "eth_estimateGas",
                json!([{"from": alice, "to": token, "data": data}]),
            ));
            assert!(estimate > 21_000);
            let (code, _, _) = err(
                rpc,
                "eth_call",
                json!([{"from": alice, "to": token, "data": data, "gas": format!("{:#x}", estimate - 1)}]),
            );
            assert_ne!(code, 3, "one gas below the estimate runs out of gas, it does not revert");
            let before_transfer = quantity(&ok(rpc, "eth_blockNumber", json!([])));
            let receipt = c.send(c.sign(0, 1, TxKind::Call(token), 0, data, estimate));
            assert_eq!(receipt["status"], "0x1", "{receipt}");
            assert_eq!(quantity(&receipt["gasUsed"]), estimate);
            let transfer_block = quantity(&receipt["blockNumber"]);
            let transfer_hash = receipt["transactionHash"].clone();

            // State at the head and in the past, by number and by EIP-1898 block hash.
            assert_eq!(balance(bob, json!("latest")), U256::from(250));
            assert_eq!(balance(bob, json!(format!("{before_transfer:#x}"))), U256::ZERO);
            let old_hash = ok(rpc, "eth_getBlockByNumber", json!([format!("{before_transfer:#x}"), false]))["hash"].clone();
            assert_eq!(balance(bob, json!({"blockHash": old_hash})), U256::ZERO);
            assert_eq!(balance(alice, json!(format!("{deployed_at:#x}"))), U256::from(1_000));
            assert_eq!(
                ok(rpc, "eth_getCode", json!([token, format!("{:#x}", deployed_at - 1)])),
                "0x"
            );
            assert_ne!(ok(rpc, "eth_getCode", json!([token, "latest"])), "0x");
            // balanceOf is slot 0: keccak(bob . 0).
            let mut preimage = addr_word(bob).to_vec();
            preimage.extend([0u8; 32]);
            let slot = keccak256(&preimage);
            assert_eq!(word(&ok(rpc, "eth_getStorageAt", json!([token, slot, "latest"]))), U256::from(250));
            assert_eq!(
                word(&ok(rpc, "eth_getStorageAt", json!([token, slot, format!("{before_transfer:#x}")]))),
                U256::ZERO
            );

            // A state override: carol's balance slot set in the call only.
            let mut preimage = addr_word(carol).to_vec();
            preimage.extend([0u8; 32]);
            let carol_slot = keccak256(&preimage);
            let overridden = ok(rpc, "eth_call", json!([
                {"to": token, "data": balance_of(carol)}, "latest",
                {token.to_string(): {"stateDiff": {carol_slot.to_string(): B256::from(U256::from(77))}}}
            ]));
            assert_eq!(word(&overridden), U256::from(77));
            assert_eq!(balance(carol, json!("latest")), U256::ZERO);

            // A call far longer than the server answers inline (60,000 steps: a countdown
            // from 10,000, then return 42) is answered in full, on the blocking pool.
            let countdown = "0x6127105b6001900380600357602a60005260206000f3";
            let long = ok(rpc, "eth_call", json!([
                {"to": carol}, "latest", {carol.to_string(): {"code": countdown}}
            ]));
            assert_eq!(word(&long), U256::from(42));

            // A revert: code 3, the reason, and the revert data.
            let too_much = transfer_call(bob, 1_000_000);
            let (code, message, data) =
                err(rpc, "eth_call", json!([{"from": alice, "to": token, "data": too_much}]));
            assert_eq!(code, 3);
            assert!(message.starts_with("execution reverted"), "{message}");
            assert!(data.as_str().unwrap().starts_with("0x"), "{data}");
            let (code, message2, data2) =
                err(rpc, "eth_estimateGas", json!([{"from": alice, "to": token, "data": too_much}]));
            assert_eq!((code, &message2, &data2), (3, &message, &data));

            // Logs: by address, by topic OR-list, by block hash; none elsewhere.
            let all = ok(rpc, "eth_getLogs", json!([{"address": token, "fromBlock": "earliest"}]));
            assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
            let to_bob = ok(rpc, "eth_getLogs", json!([{
                "fromBlock": "0x0", "toBlock": "latest",
                "topics": [[transfer_topic, B256::repeat_byte(1)], null, [B256::from(addr_word(bob))]]
            }]));
            let to_bob = to_bob.as_array().unwrap();
            assert_eq!(to_bob.len(), 1);
            assert_eq!(to_bob[0]["transactionHash"], transfer_hash);
            assert_eq!(quantity(&to_bob[0]["blockNumber"]), transfer_block);
            let block_hash = to_bob[0]["blockHash"].clone();
            assert_eq!(ok(rpc, "eth_getLogs", json!([{"blockHash": block_hash, "address": token}])).as_array().unwrap().len(), 1);
            assert_eq!(ok(rpc, "eth_getLogs", json!([{"address": carol, "fromBlock": "earliest"}])), json!([]));
            assert_eq!(err(rpc, "eth_getLogs", json!([{"fromBlock": "0x5", "toBlock": "0x1"}])).1, "invalid block range params");

            // Blocks: by number and by hash agree; the hash is keccak(rlp(header)).
            let by_number = ok(rpc, "eth_getBlockByNumber", json!([format!("{transfer_block:#x}"), true]));
            let by_hash = ok(rpc, "eth_getBlockByHash", json!([block_hash, true]));
            assert_eq!(by_number, by_hash);
            assert_eq!(by_number["transactions"][0]["hash"], transfer_hash);
            assert_eq!(by_number["transactions"][0]["from"], json!(alice));
            let receipts = ok(rpc, "eth_getBlockReceipts", json!([format!("{transfer_block:#x}")]));
            assert_eq!(receipts[0]["transactionHash"], transfer_hash);
            assert_eq!(
                ok(rpc, "eth_getTransactionByBlockHashAndIndex", json!([block_hash, "0x0"]))["hash"],
                transfer_hash
            );
            assert_eq!(ok(rpc, "eth_getTransactionByHash", json!([transfer_hash]))["blockHash"], block_hash);

            // A proof of bob's balance slot and of an absent account, against the head's root.
            let head = ok(rpc, "eth_getBlockByNumber", json!(["latest", false]));
            let proof = ok(rpc, "eth_getProof", json!([token, [slot], "latest"]));
            let root: B256 = head["stateRoot"].as_str().unwrap().parse().unwrap();
            let first: Bytes = proof["accountProof"][0].as_str().unwrap().parse().unwrap();
            assert_eq!(keccak256(&first), root, "the proof starts at the state root");
            assert_eq!(word(&proof["storageProof"][0]["value"]), U256::from(250));
            // At an older block: bob's slot was still unset, against that block's root.
            let old_block = format!("{before_transfer:#x}");
            let old = ok(rpc, "eth_getProof", json!([token, [slot], old_block]));
            let old_root: B256 = ok(rpc, "eth_getBlockByNumber", json!([old_block, false]))["stateRoot"]
                .as_str().unwrap().parse().unwrap();
            let old_first: Bytes = old["accountProof"][0].as_str().unwrap().parse().unwrap();
            assert_eq!(keccak256(&old_first), old_root, "an old proof starts at that block's root");
            assert_eq!(word(&old["storageProof"][0]["value"]), U256::ZERO);
            let absent = ok(rpc, "eth_getProof", json!([carol, [], "latest"]));
            assert_eq!(absent["balance"], "0x0");
            assert!(!absent["accountProof"].as_array().unwrap().is_empty());

            (filter_id, block_filter, pending_filter, before_transfer, transfer_hash)
        })
        .await
        .unwrap();

    // Filters saw the deployment's and the transfer's logs, the new blocks, the hashes.
    let logs = ok(rpc, "eth_getFilterChanges", json!([filter_id]));
    assert_eq!(logs.as_array().unwrap().len(), 2, "{logs}");
    assert_eq!(
        ok(rpc, "eth_getFilterChanges", json!([filter_id])),
        json!([])
    );
    let whole_range = ok(
        rpc,
        "eth_newFilter",
        json!([{"address": token, "fromBlock": "0x0"}]),
    );
    assert_eq!(
        ok(rpc, "eth_getFilterLogs", json!([whole_range]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let blocks = ok(rpc, "eth_getFilterChanges", json!([block_filter]));
    assert!(blocks.as_array().unwrap().len() as u64 >= 2);
    let pending = ok(rpc, "eth_getFilterChanges", json!([pending_filter]));
    assert!(
        pending.as_array().unwrap().contains(&transfer_hash),
        "{pending}"
    );
    assert_eq!(
        ok(rpc, "eth_uninstallFilter", json!([filter_id])),
        json!(true)
    );
    assert_eq!(
        ok(rpc, "eth_uninstallFilter", json!([filter_id])),
        json!(false)
    );
    assert_eq!(
        err(rpc, "eth_getFilterChanges", json!([filter_id])).1,
        "filter not found"
    );

    // The WebSocket got heads in order, both token logs and the pending hash.
    let mut heads = Vec::new();
    let mut logs = Vec::new();
    let mut pending = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while (logs.len() < 2 || pending.len() < 2 || heads.len() < 3) && Instant::now() < deadline {
        let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await else {
            break;
        };
        if !m.is_text() {
            continue;
        }
        let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
        let sub = v["params"]["subscription"].as_str().unwrap_or_default();
        match subscriptions.get(sub) {
            Some(1) => heads.push(quantity(&v["params"]["result"]["number"])),
            Some(2) => logs.push(v["params"]["result"].clone()),
            Some(3) => pending.push(v["params"]["result"].clone()),
            _ => panic!("unexpected message {v}"),
        }
    }
    assert!(
        heads.len() >= 3 && heads.windows(2).all(|w| w[1] == w[0] + 1),
        "{heads:?}"
    );
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[1]["transactionHash"], transfer_hash);
    assert!(pending.contains(&transfer_hash), "{pending:?}");
    let _ = before_transfer;
    // Over plain HTTP there are no subscriptions.
    assert_eq!(
        err(rpc, "eth_subscribe", json!(["newHeads"])).1,
        "notifications not supported"
    );
    // Unsubscribing: true once, then geth's "subscription not found"; an unknown kind and
    // extra arguments are refused in geth's words.
    let heads = subscriptions
        .iter()
        .find_map(|(sub, id)| (*id == 1).then(|| sub.clone()))
        .unwrap();
    // One request at a time: calls on one connection run concurrently, so two pipelined
    // unsubscribes of the same id may be answered in either order.
    let mut answers = std::collections::HashMap::new();
    for (id, method, params) in [
        (10, "eth_unsubscribe", json!([heads])),
        (11, "eth_unsubscribe", json!([heads])),
        (12, "eth_subscribe", json!(["newBananas"])),
        (13, "eth_chainId", json!([1])),
    ] {
        let request = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
        ws.send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
        while !answers.contains_key(&id) {
            let v = next_json(&mut ws).await;
            if let Some(answer) = v.get("id").and_then(Value::as_u64) {
                answers.insert(answer, v);
            }
        }
    }
    assert_eq!(answers[&10]["result"], json!(true), "{}", answers[&10]);
    assert_eq!(answers[&11]["error"]["code"], -32000, "{}", answers[&11]);
    assert_eq!(answers[&11]["error"]["message"], "subscription not found");
    assert_eq!(answers[&12]["error"]["code"], -32602, "{}", answers[&12]);
    assert_eq!(
        answers[&12]["error"]["message"],
        "no \"newBananas\" subscription in eth namespace"
    );
    assert_eq!(
        answers[&13]["error"]["message"],
        "too many arguments, want at most 0"
    );

    drop(ws);
    let chain = std::sync::Arc::into_inner(chain_ref).unwrap();
    let mut chain = chain;
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_over_the_limit_are_refused_with_503_and_served_again_later() {
    let mut chain = Chain::with_limits(parallax_rpc::RpcLimits {
        max_connections: 2,
        ..Default::default()
    })
    .await;
    let rpc = chain.rpc;
    tokio::task::spawn_blocking(move || {
        // Two idle keep-alive connections hold both permits.
        let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(rpc).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(200));
        let (status, body) = post(rpc, br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#);
        assert_eq!(status, 503, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["message"], "too many connections");
        drop(held);
        wait_for("a free connection slot", Duration::from_secs(5), || {
            post(rpc, br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#).0 == 200
        });
    })
    .await
    .unwrap();
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_connections_and_one_address_cannot_lock_other_clients_out() {
    let mut chain = Chain::with_limits(parallax_rpc::RpcLimits {
        max_connections: 8,
        max_connections_per_ip: 4,
        timeouts: parallax_rpc::Timeouts {
            first_byte: Duration::from_millis(600),
            idle: Duration::from_secs(2),
        },
        ..Default::default()
    })
    .await;
    let rpc = chain.rpc;
    tokio::task::spawn_blocking(move || {
        let chain_id = br#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#;
        // One address opens all the connections it may and sends nothing: the next one from
        // it is refused, while another address is served.
        let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(rpc).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        let (status, body) = post(rpc, chain_id);
        assert_eq!(status, 503, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["error"]["message"],
            "too many connections from this address"
        );
        let (status, body) = post_from_other_address(rpc, chain_id);
        assert_eq!(status, 200, "{body}");
        // The silent connections are closed after the first-byte timeout, which frees the
        // address's slots.
        for mut s in held {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut byte = [0u8; 1];
            let closed_at = Instant::now();
            assert!(matches!(s.read(&mut byte), Ok(0) | Err(_)));
            assert!(closed_at.elapsed() < Duration::from_secs(4));
        }
        wait_for("the address served again", Duration::from_secs(5), || {
            post(rpc, chain_id).0 == 200
        });
        // A keep-alive connection that goes quiet after a request is closed after the idle
        // timeout.
        let mut keep = TcpStream::connect(rpc).unwrap();
        let body = chain_id;
        write!(
            keep,
            "POST / HTTP/1.1\r\nHost: {rpc}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        keep.write_all(body).unwrap();
        keep.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        let started = Instant::now();
        let mut all = Vec::new();
        let _ = keep.read_to_end(&mut all);
        let answered = String::from_utf8_lossy(&all);
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
        let quiet = started.elapsed();
        assert!(
            quiet >= Duration::from_millis(1_500) && quiet < Duration::from_secs(6),
            "closed after {quiet:?}"
        );
    })
    .await
    .unwrap();
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_geth_refuses_are_refused_in_its_words() {
    let mut chain = Chain::with_limits(Default::default()).await;
    let rpc = chain.rpc;
    tokio::task::spawn_blocking(move || {
        // No `"jsonrpc": "2.0"`: an invalid request, as geth says (a notification too).
        for body in [
            r#"{"id":1,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":2,"id":1,"method":"eth_chainId"}"#,
        ] {
            let v = raw(rpc, body);
            assert_eq!(v["error"]["code"], -32600, "{body}: {v}");
            assert_eq!(v["error"]["message"], "invalid request", "{body}: {v}");
            assert_eq!(v["id"], 1, "{body}: {v}");
        }
        let v = raw(rpc, r#"{"method":"eth_chainId"}"#);
        assert_eq!(v["error"]["code"], -32600, "{v}");
        // eth_feeHistory: at most 100 reward percentiles (each is a column of every block).
        let (code, message, _) = err(
            rpc,
            "eth_feeHistory",
            json!(["0x1", "latest", vec![50.0; 101]]),
        );
        assert_eq!(
            (code, message.as_str()),
            (
                -32000,
                "invalid reward percentile: over the query limit 100"
            )
        );
        let fine = ok(
            rpc,
            "eth_feeHistory",
            json!(["0x1", "latest", vec![50.0; 100]]),
        );
        assert_eq!(fine["reward"][0].as_array().unwrap().len(), 100);
    })
    .await
    .unwrap();
    // One WebSocket holds at most `max_subscriptions` (128 by default); one more is refused.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{rpc}"))
        .await
        .unwrap();
    let max = parallax_rpc::RpcLimits::default().max_subscriptions as u64;
    for id in 0..=max {
        let request =
            json!({"jsonrpc":"2.0","id":id,"method":"eth_subscribe","params":["newHeads"]});
        ws.send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
    }
    let mut refused = Vec::new();
    let mut answered = 0;
    while answered <= max {
        let v = next_json(&mut ws).await;
        if v.get("id").is_some() {
            answered += 1;
            if v.get("error").is_some() {
                refused.push(v["error"].clone());
            }
        }
    }
    assert_eq!(
        refused,
        vec![json!({
            "code": -32005,
            "message": format!("too many subscriptions on this connection (limit {max})"),
        })]
    );
    drop(ws);
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_http2_streams_on_one_connection_wait_their_turn() {
    let mut chain = Chain::with_limits(parallax_rpc::RpcLimits {
        max_requests_in_flight: 4,
        ..Default::default()
    })
    .await;
    let rpc = chain.rpc;
    // HTTP/2 without TLS (prior knowledge): one connection, 1,000 streams at once.
    let tcp = tokio::net::TcpStream::connect(rpc).await.unwrap();
    // Flow-control windows large enough for every answer at once, as browsers' are: with
    // h2's 64 KiB defaults the server must split 1,000 answers into ever smaller DATA frames,
    // which h2's client (0.4.20 on) takes for a flood of tiny frames and closes on.
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(1 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(connection);
    let body =
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",true]}"#;
    // One request first, as a client does once connected: by its answer the client has the
    // server's SETTINGS (its stream limit), so the burst below queues on the client instead of
    // being refused stream by stream before the client knows the limit (hyper closes a
    // connection that makes it refuse more than 1,024 streams).
    {
        let mut client = client.clone().ready().await.unwrap();
        let request = http::Request::post(format!("http://{rpc}/"))
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        let (response, mut stream) = client.send_request(request, false).unwrap();
        stream
            .send_data(bytes::Bytes::from_static(body), true)
            .unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
    }
    let mut answers = Vec::new();
    for _ in 0..1_000 {
        let client = client.clone();
        answers.push(tokio::spawn(async move {
            // A stream the server refuses (over its per-connection stream limit, as HTTP/2
            // allows) is sent again, as clients do.
            loop {
                let mut client = client.clone().ready().await.unwrap();
                let request = http::Request::post(format!("http://{rpc}/"))
                    .header("content-type", "application/json")
                    .body(())
                    .unwrap();
                let (response, mut stream) = client.send_request(request, false).unwrap();
                stream
                    .send_data(bytes::Bytes::from_static(body), true)
                    .unwrap();
                let response = match response.await {
                    Ok(r) => r,
                    Err(e) if e.reason() == Some(h2::Reason::REFUSED_STREAM) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(e) => panic!("{e}"),
                };
                let status = response.status().as_u16();
                let mut body = response.into_body();
                let mut text = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    let _ = body.flow_control().release_capacity(chunk.len());
                    text.extend_from_slice(&chunk);
                }
                return (status, text);
            }
        }));
    }
    for answer in answers {
        let (status, text) = answer.await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&text));
        let v: Value = serde_json::from_slice(&text).unwrap();
        assert!(v["result"]["number"].is_string(), "{v}");
    }
    // They were handled at most four at a time: the rest waited their turn.
    let metrics = chain.metrics;
    let text = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(metrics).unwrap();
        write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    let waited: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("parallax_rpc_requests_waited_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(waited > 0, "no request waited: {text}");
    assert!(text.contains("parallax_rpc_requests_in_flight 0"), "{text}");
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_preflights_are_allowed_and_log_queries_are_bounded() {
    let mut chain = Chain::with_limits(parallax_rpc::RpcLimits {
        max_log_range: 3,
        ..Default::default()
    })
    .await;
    let rpc = chain.rpc;
    tokio::task::spawn_blocking(move || {
        // A browser wallet's CORS preflight.
        let mut stream = TcpStream::connect(rpc).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "OPTIONS / HTTP/1.1\r\nHost: {rpc}\r\nOrigin: https://wallet.example\r\n\
             Access-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let response = response.to_ascii_lowercase();
        assert!(response.starts_with("http/1.1 200"), "{response}");
        assert!(
            response.contains("access-control-allow-origin: *"),
            "{response}"
        );
        assert!(
            response.contains("access-control-allow-methods:"),
            "{response}"
        );

        // More blocks than the range limit: -32005, in either form of range.
        wait_for("five blocks", Duration::from_secs(20), || {
            quantity(&ok(rpc, "eth_blockNumber", json!([]))) >= 5
        });
        let (code, message, _) = err(
            rpc,
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "0x4"}]),
        );
        assert_eq!(
            (code, message.as_str()),
            (-32005, "query exceeds max block range 3")
        );
        assert_eq!(
            ok(
                rpc,
                "eth_getLogs",
                json!([{"fromBlock": "0x1", "toBlock": "0x3"}])
            ),
            json!([])
        );
    })
    .await
    .unwrap();
    chain.node.take().unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn txpool_status_counts_queued_transactions_until_the_gap_is_filled() {
    let mut chain = Chain::start().await;
    let rpc = chain.rpc;
    let to = TxKind::Call(Address::repeat_byte(0x77));
    // Nonces 1 and 2 wait behind the missing nonce 0.
    let later: Vec<String> = (1..=2)
        .map(|nonce| chain.sign(2, nonce, to, 1, Bytes::new(), 21_000))
        .collect();
    let first = chain.sign(2, 0, to, 1, Bytes::new(), 21_000);
    let sender = chain.accounts[2].0;
    tokio::task::spawn_blocking(move || {
        assert_eq!(
            ok(rpc, "txpool_status", json!([])),
            json!({"pending": "0x0", "queued": "0x0"})
        );
        for raw in &later {
            ok(rpc, "eth_sendRawTransaction", json!([raw]));
        }
        // Blocks keep coming; the two stay queued.
        let height = quantity(&ok(rpc, "eth_blockNumber", json!([])));
        wait_for("two more blocks", Duration::from_secs(20), || {
            quantity(&ok(rpc, "eth_blockNumber", json!([]))) >= height + 2
        });
        assert_eq!(
            ok(rpc, "txpool_status", json!([])),
            json!({"pending": "0x0", "queued": "0x2"})
        );
        // Nonce 0 fills the gap: all three become ready and are committed.
        ok(rpc, "eth_sendRawTransaction", json!([first]));
        wait_for("all three committed", Duration::from_secs(20), || {
            quantity(&ok(
                rpc,
                "eth_getTransactionCount",
                json!([sender, "latest"]),
            )) == 3
        });
        assert_eq!(
            ok(rpc, "txpool_status", json!([])),
            json!({"pending": "0x0", "queued": "0x0"})
        );
        // It takes no parameters.
        let (code, _, _) = err(rpc, "txpool_status", json!([1]));
        assert_eq!(code, -32602);
    })
    .await
    .unwrap();
    chain.node.take().unwrap().shutdown().await;
}
