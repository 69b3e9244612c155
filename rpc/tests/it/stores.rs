//! One chain, two stores: blocks built, executed and committed by `parallax-chain` into MDBX
//! (state roots from the stored trie), and the same block writes into a `MemoryStore`. Two
//! servers, one over each, must give the same answer to every read a wallet or an indexer
//! makes, at every height: blocks, transactions, receipts, logs, balances, code, storage,
//! calls, gas estimates, fee history and EIP-1186 proofs (which the server checks against the
//! block's state root before answering, so a wrong in-memory proof is an error, not a match),
//! and the same errors for what does not exist.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use parallax_chain::{BlockContext, Chain, ChainSpec, genesis_write};
use parallax_consensus::Evidence;
use parallax_genesis::{ValidatorKeys, dev_accounts, parallax_genesis};
use parallax_loadgen::tx;
use parallax_rpc::{ChainStore, ConsensusStatus, NodeApi, RpcDeps, RpcLimits, RpcServer, RpcStats};
use parallax_storage::{BlockWrite, Database};
use parallax_storage_api::MemoryStore;
use parallax_test_support::http::call;
use parallax_txpool::{MempoolError, PooledTx};
use serde_json::{Value, json};
use std::{net::SocketAddr, sync::Arc};
use tokio::sync::broadcast;

const CHAIN_ID: u64 = 4_242;
const GENESIS_TIME: u64 = 1_700_000_000;

/// The node behind both servers: committed blocks only, an empty pool that admits nothing
/// (this test reads; the pool's own tests and the node's cover submissions).
struct CommittedOnly {
    head: u64,
}

impl NodeApi for CommittedOnly {
    fn submit_transaction(&self, _raw: &[u8]) -> Result<B256, MempoolError> {
        Err(MempoolError::PoolFull)
    }
    fn pooled_transaction(&self, _hash: &B256) -> Option<Arc<PooledTx>> {
        None
    }
    fn pending_nonce(&self, _sender: Address, state_nonce: u64) -> u64 {
        state_nonce
    }
    fn pool_counts(&self) -> (usize, usize) {
        (0, 0)
    }
    fn head_number(&self) -> u64 {
        self.head
    }
    fn consensus_status(&self) -> ConsensusStatus {
        ConsensusStatus::default()
    }
    fn evidence(&self, _validator: Option<u32>, _limit: usize) -> Result<Vec<Evidence>, String> {
        Ok(Vec::new())
    }
}

struct Built {
    _dir: tempfile::TempDir,
    spec: Arc<ChainSpec>,
    db: Arc<Database>,
    memory: MemoryStore,
    head: u64,
    token: Address,
    transactions: Vec<B256>,
    addresses: Vec<Address>,
}

fn signed(key: &B256, nonce: u64, to: TxKind, value: u64, input: Vec<u8>, gas: u64) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        input: input.into(),
        ..Default::default()
    };
    let signer = PrivateKeySigner::from_bytes(key).unwrap();
    let signature = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature))
}

/// Six blocks: transfers, a token deployed, token transfers (with logs), a block with no
/// transactions, and more transfers; each committed to MDBX by the chain and written to the
/// in-memory store.
fn build() -> Built {
    let keys: Vec<ValidatorKeys> = (0..2).map(|_| ValidatorKeys::generate().unwrap()).collect();
    let accounts = dev_accounts(4).unwrap();
    let genesis = parallax_genesis(
        CHAIN_ID,
        GENESIS_TIME,
        ValidatorKeys::equal_validators(&keys),
        &accounts,
    )
    .unwrap();
    let spec = Arc::new(ChainSpec::new(genesis).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let block = spec.genesis.build().unwrap();
    let write = genesis_write(&spec.genesis, &block);
    db.write_genesis(&write, CHAIN_ID).unwrap();
    let mut memory = MemoryStore::new();
    memory.write_genesis(&write, CHAIN_ID).unwrap();
    let mut chain = Chain::open(db.clone(), spec.clone(), 2).unwrap();

    let (alice, bob, carol) = (accounts[0], accounts[1], accounts[2]);
    let stranger = Address::repeat_byte(0x77);
    let token = alice.0.create(1);
    let mut nonces = [0u64; 3];
    let mut next = |who: usize| {
        nonces[who] += 1;
        nonces[who] - 1
    };
    let call = |to: Address| TxKind::Call(to);
    let blocks: Vec<Vec<(TxEnvelope, Address)>> = vec![
        vec![
            (
                signed(&alice.1, next(0), call(stranger), 5, vec![], 21_000),
                alice.0,
            ),
            (
                signed(&bob.1, next(1), call(carol.0), 7, vec![], 21_000),
                bob.0,
            ),
        ],
        vec![(
            signed(
                &alice.1,
                next(0),
                TxKind::Create,
                0,
                tx::token_deployment(bob.0, U256::from(1_000_000u64)),
                2_000_000,
            ),
            alice.0,
        )],
        vec![
            (
                signed(
                    &bob.1,
                    next(1),
                    call(token),
                    0,
                    tx::transfer(carol.0, U256::from(250)),
                    100_000,
                ),
                bob.0,
            ),
            (
                signed(
                    &bob.1,
                    next(1),
                    call(token),
                    0,
                    tx::transfer(stranger, U256::from(5)),
                    100_000,
                ),
                bob.0,
            ),
            (
                signed(&carol.1, next(2), call(bob.0), 1_000, vec![], 21_000),
                carol.0,
            ),
        ],
        vec![],
        vec![
            (
                signed(
                    &carol.1,
                    next(2),
                    call(token),
                    0,
                    tx::transfer(alice.0, U256::from(1)),
                    100_000,
                ),
                carol.0,
            ),
            (
                signed(&alice.1, next(0), call(bob.0), 3, vec![], 21_000),
                alice.0,
            ),
        ],
        vec![(
            signed(&bob.1, next(1), call(stranger), 9, vec![], 21_000),
            bob.0,
        )],
    ];
    let mut transactions = Vec::new();
    for (i, candidates) in blocks.into_iter().enumerate() {
        let count = candidates.len();
        let ctx = BlockContext {
            parent_hash: chain.head().hash,
            author: (i % 2) as u32,
            timestamp: GENESIS_TIME + 2 * (i as u64 + 1),
        };
        let built = chain.build(ctx, candidates, vec![]).unwrap();
        assert_eq!(
            built.transactions.len(),
            count,
            "block {}: every transaction is included",
            i + 1
        );
        assert!(
            built.receipts.iter().all(|r| r.status()),
            "block {}: every transaction succeeds",
            i + 1
        );
        let certificate = Bytes::from(format!("certificate of block {}", i + 1).into_bytes());
        let committed = chain.commit(built.hash, certificate.clone()).unwrap();
        transactions.extend(committed.transactions.iter().map(|t| *t.tx_hash()));
        memory
            .write_block(&BlockWrite {
                header: committed.header.clone(),
                hash: committed.hash,
                transactions: committed.transactions.clone(),
                receipts: committed.receipts.clone(),
                state: (*committed.changes).clone(),
                trie: Default::default(),
                certificate: Some(certificate),
                system_logs: committed.system_logs.clone(),
            })
            .unwrap();
    }
    let head = chain.head().header.number;
    Built {
        _dir: dir,
        spec,
        db,
        memory,
        head,
        token,
        transactions,
        addresses: vec![
            alice.0,
            bob.0,
            carol.0,
            stranger,
            token,
            Address::repeat_byte(0xab),
        ],
    }
}

async fn serve(store: Arc<dyn ChainStore>, spec: &Arc<ChainSpec>, head: u64) -> RpcServer {
    let deps = RpcDeps {
        db: store,
        spec: spec.clone(),
        node: Arc::new(CommittedOnly { head }),
        net: None,
        commits: broadcast::channel(16).0,
        pending: broadcast::channel(16).0,
        limits: RpcLimits::default(),
        stats: Arc::new(RpcStats::default()),
        bridge: None,
    };
    RpcServer::start("127.0.0.1:0".parse().unwrap(), deps)
        .await
        .unwrap()
}

/// Every read the test compares, at every height.
fn reads(built: &Built) -> Vec<(&'static str, Value)> {
    let token_slots: Vec<B256> = (0..4u64).map(|s| B256::from(U256::from(s))).collect();
    let mut reads = vec![
        ("eth_blockNumber", json!([])),
        ("eth_chainId", json!([])),
        (
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
        ),
        (
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest", "address": built.token}]),
        ),
        ("eth_feeHistory", json!(["0x4", "latest", [10, 50, 90]])),
        (
            "eth_estimateGas",
            json!([{"from": built.addresses[1], "to": built.token,
            "data": Bytes::from(tx::transfer(built.addresses[0], U256::from(1)))}]),
        ),
        (
            "eth_getBlockByNumber",
            json!([format!("{:#x}", built.head + 1), false]),
        ),
        (
            "eth_getBalance",
            json!([built.addresses[0], format!("{:#x}", built.head + 1)]),
        ),
        (
            "eth_getProof",
            json!([built.addresses[0], [], format!("{:#x}", built.head + 1)]),
        ),
    ];
    for hash in &built.transactions {
        reads.push(("eth_getTransactionByHash", json!([hash])));
        reads.push(("eth_getTransactionReceipt", json!([hash])));
    }
    reads.push((
        "eth_getTransactionReceipt",
        json!([B256::repeat_byte(0x99)]),
    ));
    for n in 0..=built.head {
        let block = format!("{n:#x}");
        reads.push(("eth_getBlockByNumber", json!([block, true])));
        reads.push(("eth_getBlockByNumber", json!([block, false])));
        reads.push(("eth_getBlockReceipts", json!([block])));
        reads.push(("eth_getBlockTransactionCountByNumber", json!([block])));
        reads.push((
            "eth_getTransactionByBlockNumberAndIndex",
            json!([block, "0x0"]),
        ));
        reads.push((
            "eth_getLogs",
            json!([{"fromBlock": block, "toBlock": block}]),
        ));
        for address in &built.addresses {
            reads.push(("eth_getBalance", json!([address, block])));
            reads.push(("eth_getTransactionCount", json!([address, block])));
            reads.push(("eth_getCode", json!([address, block])));
            reads.push(("eth_getProof", json!([address, token_slots, block])));
        }
        for slot in &token_slots {
            reads.push(("eth_getStorageAt", json!([built.token, slot, block])));
        }
        reads.push((
            "eth_call",
            json!([{"to": built.token,
            "data": Bytes::from(tx::balance_of(built.addresses[2]))}, block]),
        ));
    }
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_alike_over_the_in_memory_store_and_over_mdbx() {
    let built = build();
    assert_eq!(built.head, 6);
    let over_mdbx = serve(built.db.clone(), &built.spec, built.head).await;
    let over_memory = serve(Arc::new(built.memory.clone()), &built.spec, built.head).await;
    let (mdbx, memory): (SocketAddr, SocketAddr) = (over_mdbx.addr(), over_memory.addr());
    let reads = reads(&built);
    let answers = tokio::task::spawn_blocking(move || {
        reads
            .into_iter()
            .map(|(method, params)| {
                let a = call(mdbx, method, params.clone());
                let b = call(memory, method, params.clone());
                (method, params, a, b)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut errors = 0;
    let mut proofs = 0;
    for (method, params, a, b) in &answers {
        assert_eq!(
            a, b,
            "{method} {params}: MDBX and the in-memory store answer differently"
        );
        if a.get("error").is_some() {
            errors += 1;
        } else if *method == "eth_getProof" {
            proofs += 1;
            assert!(!a["result"]["accountProof"].as_array().unwrap().is_empty());
        }
    }
    // The answers are the chain's, not empty ones: the head block, its transactions, the
    // token's logs and state are there.
    assert_eq!(answers[0].2["result"], json!("0x6"));
    let logs = answers[3].2["result"].as_array().unwrap();
    assert_eq!(logs.len(), 4, "the mint to bob and three transfers");
    // The only errors are the ones asked for: a block past the head (the header, the
    // balance and the proof there).
    assert_eq!(errors, 2, "a balance and a proof past the head");
    assert_eq!(proofs, 7 * built.addresses.len());
    over_mdbx.stop().await;
    over_memory.stop().await;
}
