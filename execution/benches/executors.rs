//! Executor benchmarks: sequential vs parallel (1 thread, 2 threads, every core) on
//! synthetic workloads and on the mainnet fixtures, plus our sequential executor against a
//! bare revm loop over the same transactions. Every figure is measured in this run, and
//! ratios compare figures from this run only.
//!
//! ```text
//! cargo bench -p parallax-execution --bench executors            # everything
//! cargo bench -p parallax-execution --bench executors -- erc20   # workloads whose name contains "erc20"
//! ```
//!
//! Each figure is the median of repeated runs (at least 5, or about 3 s of runs for the
//! synthetic workloads and 0.6 s per mainnet block), with
//! sequential and parallel runs interleaved so that machine noise hits both alike. Each
//! parallel figure comes twice: cold (the executor's run follows the other executors', so
//! its pool has gone to sleep, as at an idle validator when a block arrives) and warm (each
//! timed run follows an untimed run of the same executor, as blocks back to back during
//! sync or under load).

// The same allocator for every figure: a caching allocator, as a node binary uses, so that
// both executors are measured without the system allocator returning pages between blocks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/it/common/contracts.rs"]
mod contracts;
#[path = "../tests/it/common/workloads.rs"]
mod workloads;

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom};
use alloy_primitives::Bloom;
use parallax_execution::{
    Block, BlockExecutor, InMemoryState, LatestState, ParallelExecutor, SequentialExecutor,
    StateView, fixture,
};
use parallax_storage::{BlockWrite, Database, StateChanges};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    bytecode::Bytecode,
    context::{BlockEnv as RevmBlockEnv, CfgEnv},
    database::CacheDB,
    database_interface::DatabaseRef,
    primitives::{Address, B256, U256},
    state::AccountInfo,
};
use std::{convert::Infallible, path::PathBuf, time::Instant};

/// Times each of `fs` in turn, round after round: at least 5 rounds and about `budget_s`
/// seconds. With `warm`, each timed run follows an untimed run of the same function (for a
/// parallel executor: its pool awake and its buffers cached, as in blocks back to back);
/// without, a parallel executor's run follows other executors' runs and starts from a
/// sleeping pool, as when a block arrives at an idle validator.
fn median_ms(runs: &mut [Vec<f64>], fs: &mut [&mut dyn FnMut()], budget_s: f64, warm: bool) {
    let started = Instant::now();
    let mut round = 0;
    while round < 5 || (started.elapsed().as_secs_f64() < budget_s && round < 200) {
        for (i, f) in fs.iter_mut().enumerate() {
            if warm {
                f();
            }
            let t = Instant::now();
            f();
            runs[i].push(t.elapsed().as_secs_f64() * 1e3);
        }
        round += 1;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Figures {
    seq_ms: f64,
    par_ms: Vec<(usize, f64)>,
    /// Sequential over parallel time per thread count, each run warm (see [`median_ms`]).
    warm_ratio: Vec<(usize, f64)>,
}

fn measure<S: StateView>(block: &Block, state: &S, threads: &[usize], budget_s: f64) -> Figures {
    // Correctness first: a benchmark of a wrong result is worthless.
    let reference = SequentialExecutor
        .execute(block, state)
        .expect("the workload executes");
    for &t in threads {
        let out = ParallelExecutor::new(t)
            .execute(block, state)
            .expect("the workload executes in parallel");
        assert!(
            out == reference,
            "parallel ({t} threads) differs from sequential"
        );
    }
    let executors: Vec<ParallelExecutor> =
        threads.iter().map(|t| ParallelExecutor::new(*t)).collect();
    let mut runs = vec![Vec::new(); 1 + threads.len()];
    let mut seq = || {
        SequentialExecutor.execute(block, state).ok();
    };
    let mut pars: Vec<Box<dyn FnMut()>> = executors
        .iter()
        .map(|e| {
            let e = e.clone();
            Box::new(move || {
                e.execute(block, state).ok();
            }) as Box<dyn FnMut()>
        })
        .collect();
    let mut fs: Vec<&mut dyn FnMut()> = vec![&mut seq];
    for p in pars.iter_mut() {
        fs.push(p.as_mut());
    }
    median_ms(&mut runs, &mut fs, budget_s, false);
    let mut warm = vec![Vec::new(); 1 + threads.len()];
    median_ms(&mut warm, &mut fs, budget_s, true);
    let warm_seq = median(&mut warm[0]);
    Figures {
        seq_ms: median(&mut runs[0]),
        par_ms: threads
            .iter()
            .zip(runs[1..].iter_mut())
            .map(|(t, r)| (*t, median(r)))
            .collect(),
        warm_ratio: threads
            .iter()
            .zip(warm[1..].iter_mut())
            .map(|(t, r)| (*t, warm_seq / median(r)))
            .collect(),
    }
}

fn report<S: StateView>(
    name: &str,
    block: &Block,
    state: &S,
    threads: &[usize],
    budget_s: f64,
) -> Figures {
    let gas = SequentialExecutor
        .execute(block, state)
        .expect("executes")
        .gas_used as f64;
    let txs = block.transactions.len() as f64;
    let f = measure(block, state, threads, budget_s);
    let mgas = |ms: f64| gas / 1e3 / ms;
    let tps = |ms: f64| txs * 1e3 / ms;
    let mut line = format!(
        "{name:<28} txs={:<5} seq {:>8.2} ms {:>7.1} Mgas/s {:>8.0} tx/s",
        block.transactions.len(),
        f.seq_ms,
        mgas(f.seq_ms),
        tps(f.seq_ms)
    );
    for ((t, ms), (_, warm)) in f.par_ms.iter().zip(&f.warm_ratio) {
        line.push_str(&format!(
            " | par{t} {ms:>7.2} ms {:>7.1} Mgas/s {:>8.0} tx/s x{:.2} (warm x{warm:.2})",
            mgas(*ms),
            tps(*ms),
            f.seq_ms / ms
        ));
    }
    println!("{line}");
    f
}

/// revm's own in-memory database over our state: the baseline "bare revm loop".
struct RefDb<'a>(&'a InMemoryState);

impl DatabaseRef for RefDb<'_> {
    type Error = Infallible;
    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        Ok(self.0.account(address).ok().flatten().map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            code: None,
            ..Default::default()
        }))
    }
    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.0.code(code_hash).ok().flatten().unwrap_or_default())
    }
    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        Ok(self.0.storage(address, index).unwrap_or_default())
    }
    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok(self.0.block_hash(number).unwrap_or_default())
    }
}

/// revm's mainnet EVM over a `CacheDB` of our state, set up for `block` without any of our
/// code.
fn bare_evm<'a>(
    block: &Block,
    state: &'a InMemoryState,
) -> revm::handler::MainnetEvm<revm::handler::MainnetContext<CacheDB<RefDb<'a>>>> {
    let mut cfg = CfgEnv::new_with_spec(block.rules.spec);
    cfg.chain_id = block.rules.chain_id;
    let env = &block.env;
    Context::mainnet()
        .with_db(CacheDB::new(RefDb(state)))
        .with_cfg(cfg)
        .with_block(RevmBlockEnv {
            number: U256::from(env.number),
            beneficiary: env.beneficiary,
            timestamp: U256::from(env.timestamp),
            gas_limit: env.gas_limit,
            basefee: env.base_fee.unwrap_or(0),
            difficulty: env.difficulty,
            prevrandao: env.prevrandao,
            ..Default::default()
        })
        .build_mainnet()
}

fn bare_revm(block: &Block, state: &InMemoryState) {
    let mut evm = bare_evm(block, state);
    for tx in &block.transactions {
        evm.transact_commit(tx.env.clone())
            .expect("valid transaction");
    }
}

/// The bare revm loop, then the block executor's outputs computed straight from it with
/// alloy's standard functions: receipts with blooms and their root, and the changed
/// accounts and slots read out of revm's `CacheDB` and compared with the state before.
fn bare_revm_with_outputs(block: &Block, state: &InMemoryState) -> (B256, StateChanges) {
    let mut evm = bare_evm(block, state);
    let mut receipts = Vec::with_capacity(block.transactions.len());
    let mut cumulative = 0u64;
    for tx in &block.transactions {
        let result = evm
            .transact_commit(tx.env.clone())
            .expect("valid transaction");
        cumulative += result.tx_gas_used();
        let success = result.is_success();
        let logs = result.into_logs();
        let mut bloom = Bloom::ZERO;
        for log in &logs {
            bloom.accrue_log(log);
        }
        let receipt = ReceiptWithBloom::new(
            Receipt {
                status: Eip658Value::Eip658(success),
                cumulative_gas_used: cumulative,
                logs,
            },
            bloom,
        );
        receipts.push(match tx.tx_type {
            1 => ReceiptEnvelope::Eip2930(receipt),
            2 => ReceiptEnvelope::Eip1559(receipt),
            3 => ReceiptEnvelope::Eip4844(receipt),
            4 => ReceiptEnvelope::Eip7702(receipt),
            _ => ReceiptEnvelope::Legacy(receipt),
        });
    }
    let root = alloy_consensus::proofs::calculate_receipt_root(&receipts);
    let db = &evm.ctx.journaled_state.database;
    let mut changes = StateChanges::default();
    for (address, account) in &db.cache.accounts {
        let before = state.account(*address).ok().flatten();
        // Accounts left empty are gone (EIP-161); the workloads measured here neither
        // create nor destroy contracts.
        let after = (!account.info.is_empty()).then_some(parallax_storage::Account {
            nonce: account.info.nonce,
            balance: account.info.balance,
            code_hash: account.info.code_hash,
        });
        if before.as_ref().map(|b| b.to_stored()) != after {
            changes.accounts.insert(*address, after);
        }
        let mut slots = std::collections::BTreeMap::new();
        for (slot, value) in &account.storage {
            if state.storage(*address, *slot).unwrap_or_default() != *value {
                slots.insert(B256::from(*slot), *value);
            }
        }
        if !slots.is_empty() {
            changes.storage.insert(
                *address,
                parallax_storage::StorageChanges {
                    wiped: false,
                    slots,
                },
            );
        }
    }
    (root, changes)
}

fn overhead(name: &str, block: &Block, state: &InMemoryState) {
    // The baseline must produce what our executor produces, or it would be no baseline.
    let ours = SequentialExecutor.execute(block, state).expect("executes");
    let (root, changes) = bare_revm_with_outputs(block, state);
    assert_eq!(root, ours.receipts_root, "bare loop receipts root");
    assert_eq!(changes, ours.state, "bare loop state changes");
    let mut runs = vec![Vec::new(), Vec::new(), Vec::new()];
    let mut ours = || {
        SequentialExecutor.execute(block, state).ok();
    };
    let mut bare = || bare_revm(block, state);
    let mut full = || {
        std::hint::black_box(bare_revm_with_outputs(block, state));
    };
    median_ms(
        &mut runs,
        &mut [&mut ours, &mut bare, &mut full],
        3.0,
        false,
    );
    let (ours, bare, full) = (
        median(&mut runs[0]),
        median(&mut runs[1]),
        median(&mut runs[2]),
    );
    println!(
        "{name:<28} sequential API {ours:>8.2} ms | bare revm loop {bare:>8.2} ms, API/bare {:.3} | bare loop + the same outputs {full:>8.2} ms, API/that {:.3}",
        ours / bare,
        ours / full
    );
}

/// What this machine's cores deliver on compute-bound work right now: the same keccak
/// loop on one thread and on every core at once. On a virtual machine whose cores are
/// hyperthreads of one physical core (or share it with neighbours) this is far below the
/// core count, and it caps every parallel ratio measured in the run.
fn ceiling(cores: usize) {
    fn hash_loop(seed: u8) -> u8 {
        let mut buf = [seed; 300];
        for _ in 0..60_000 {
            let h = alloy_primitives::keccak256(buf);
            buf[0] ^= h[0];
        }
        buf[0]
    }
    let mut single = Vec::new();
    let mut all = Vec::new();
    for round in 0..5u8 {
        let t = Instant::now();
        std::hint::black_box(hash_loop(round));
        single.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::thread::scope(|s| {
            for c in 0..cores {
                s.spawn(move || std::hint::black_box(hash_loop(round ^ c as u8)));
            }
        });
        all.push(t.elapsed().as_secs_f64());
    }
    let (single, all) = (median(&mut single), median(&mut all));
    println!(
        "machine ceiling: {cores} threads of a keccak loop do x{:.2} the work of one in the same time (the bound on any parallel ratio below for compute-bound work)",
        cores as f64 * single / all
    );
}

/// Builds a synthetic workload: a block and the state before it.
type Build = Box<dyn Fn() -> (Block, InMemoryState)>;

/// For counting instructions, which unlike time do not depend on what else the machine runs:
/// executes the chosen synthetic workloads `runs` times with one executor
/// (`PARALLAX_BENCH_EXECUTOR`: `sequential`, the default; `speculation`, Block-STM on one
/// thread; `parallel`, every core), untimed; or, given a fixture file instead of a workload
/// name, that block. Under valgrind, the difference between two run counts is the cost of
/// that many blocks:
///
/// ```text
/// PARALLAX_BENCH_RUNS=2 PARALLAX_BENCH_EXECUTOR=speculation \
///   valgrind --tool=cachegrind --cache-sim=no target/release/deps/executors-<hash> eth
/// ```
fn count_runs(
    runs: &str,
    synthetic: &[(&str, Build)],
    wanted: &dyn Fn(&str) -> bool,
    cores: usize,
) {
    let runs: usize = runs
        .parse()
        .expect("PARALLAX_BENCH_RUNS is a number of runs");
    let which = std::env::var("PARALLAX_BENCH_EXECUTOR").unwrap_or_else(|_| "sequential".into());
    let parallel = match which.as_str() {
        "sequential" => None,
        "speculation" => Some(ParallelExecutor::new(1).speculation_only()),
        "parallel" => Some(ParallelExecutor::new(cores)),
        other => panic!("PARALLAX_BENCH_EXECUTOR={other}: sequential, speculation or parallel"),
    };
    let run = |name: &str, block: &Block, state: &InMemoryState| {
        for _ in 0..runs {
            match &parallel {
                None => SequentialExecutor.execute(block, state),
                Some(p) => p.execute(block, state),
            }
            .expect("the workload executes");
        }
        println!("{name}: {runs} runs with the {which} executor");
    };
    // A fixture file named instead of a workload runs that block.
    if let Some(path) = std::env::args().skip(1).find(|a| a.ends_with(".json")) {
        let f = fixture::load(std::path::Path::new(&path), cores).expect("the fixture loads");
        run(&path, &f.block, &f.state);
        return;
    }
    for (name, build) in synthetic {
        if wanted(name) {
            let (block, state) = build();
            run(name, &block, &state);
        }
    }
}

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = vec![1, 2, cores];
    threads.sort_unstable();
    threads.dedup();

    let synthetic: Vec<(&str, Build)> = vec![
        (
            "eth-transfers",
            Box::new(|| workloads::eth_transfers(4_000)),
        ),
        (
            "erc20-transfers",
            Box::new(|| workloads::erc20_transfers(4_000)),
        ),
        (
            "swaps-independent-pools",
            Box::new(|| workloads::swaps(2_000, 2_000)),
        ),
        (
            "swaps-one-pool-contended",
            Box::new(|| workloads::swaps(1, 2_000)),
        ),
    ];
    if let Ok(runs) = std::env::var("PARALLAX_BENCH_RUNS") {
        count_runs(&runs, &synthetic, &wanted, cores);
        return;
    }

    println!("cores={cores}; ratios x = sequential time / parallel time, same run");
    ceiling(cores);
    for (name, build) in &synthetic {
        if wanted(name) {
            let (block, state) = build();
            report(name, &block, &state, &threads, 3.0);
        }
    }

    if wanted("overhead") {
        for (name, build) in &synthetic[..2] {
            let (block, state) = build();
            overhead(&format!("overhead/{name}"), &block, &state);
        }
    }

    if wanted("mainnet") {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/mainnet");
        match fixture::collect(std::slice::from_ref(&dir)) {
            Err(e) => println!("mainnet fixtures skipped: {e}"),
            Ok(files) => {
                let fixtures: Vec<fixture::Fixture> = files
                    .iter()
                    .map(|file| fixture::load(file, cores).expect("fixture loads"))
                    .collect();
                let mut ratios = Vec::new();
                for f in &fixtures {
                    let name = format!("mainnet/{}", f.block.env.number);
                    let figures = report(&name, &f.block, &f.state, &[2], 0.6);
                    ratios.push((f.block.transactions.len(), figures));
                }
                summary("mainnet, state in memory", &ratios);
                // The same blocks over their state stored in MDBX, as a node executes them
                // (the state written as a genesis; without the fixtures' recorded block
                // hashes, which only BLOCKHASH reads).
                let mut ratios = Vec::new();
                for f in &fixtures {
                    let db_dir = tempfile::tempdir().expect("a temporary directory");
                    let db = Database::open(db_dir.path()).expect("the database opens");
                    let mut genesis = BlockWrite::new(alloy_consensus::Header::default());
                    genesis.state = f.state.to_changes();
                    db.write_genesis(&genesis, f.block.rules.chain_id)
                        .expect("the state is written");
                    let reader = db.reader().expect("a read transaction");
                    let stored = LatestState::new(&reader);
                    let name = format!("mainnet-mdbx/{}", f.block.env.number);
                    let figures = report(&name, &f.block, &stored, &[2], 0.6);
                    ratios.push((f.block.transactions.len(), figures));
                }
                summary("mainnet, state in MDBX", &ratios);
            }
        }
    }
}

/// The median over blocks with at least 100 transactions and the lowest over all blocks of
/// the 2-thread ratio, cold and warm.
fn summary(what: &str, blocks: &[(usize, Figures)]) {
    let cold = |f: &Figures| f.seq_ms / f.par_ms[0].1;
    let warm = |f: &Figures| f.warm_ratio[0].1;
    let big_median = |pick: &dyn Fn(&Figures) -> f64| {
        let mut v: Vec<f64> = blocks
            .iter()
            .filter(|(n, _)| *n >= 100)
            .map(|(_, f)| pick(f))
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            median(&mut v)
        }
    };
    let lowest = |pick: &dyn Fn(&Figures) -> f64| {
        blocks
            .iter()
            .map(|(_, f)| pick(f))
            .fold(f64::INFINITY, f64::min)
    };
    println!(
        "{what}: {} blocks with >= 100 txs, median x{:.2} on 2 threads (warm x{:.2}); lowest of all {} blocks x{:.2} (warm x{:.2})",
        blocks.iter().filter(|(n, _)| *n >= 100).count(),
        big_median(&cold),
        big_median(&warm),
        blocks.len(),
        lowest(&cold),
        lowest(&warm)
    );
}
