//! Both executors against real Ethereum mainnet blocks (`shared/fixtures/` beside the
//! project): every block must reproduce mainnet's recorded gas used, logs bloom,
//! transactions root and (from Byzantium on) receipts root, and the parallel executor must
//! give exactly the sequential output, run after run, on several thread counts.

use parallax_execution::{
    BlockExecutor, ParallelExecutor, SequentialExecutor,
    fixture::{self, check_equal, check_expected},
};
use std::path::PathBuf;

/// How often each block is executed in parallel per thread count, so races show up.
const PARALLEL_RUNS: usize = 3;

fn fixtures(folder: &str) -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(folder);
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} is absent (the shared fixtures live beside the project)",
            dir.display()
        );
        return None;
    }
    let files = fixture::collect(&[dir]).expect("fixture folder is readable");
    assert!(!files.is_empty(), "no fixtures in {folder}");
    Some(files)
}

fn replay(folder: &str, must_have_expected: bool) {
    let Some(files) = fixtures(folder) else {
        return;
    };
    let mut failures = Vec::new();
    for file in &files {
        let f = fixture::load(file, 2).unwrap_or_else(|e| panic!("{e}"));
        let name = format!("block {}", f.block.env.number);
        let sequential = match SequentialExecutor.execute(&f.block, &f.state) {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{name}: sequential execution failed: {e}"));
                continue;
            }
        };
        match &f.expected {
            Some(expected) => {
                for m in check_expected(expected, &sequential) {
                    failures.push(format!("{name}: sequential {m}"));
                }
            }
            None => assert!(!must_have_expected, "{name} has no recorded values"),
        }
        let executors = [
            ("2 threads", ParallelExecutor::new(2)),
            ("8 threads", ParallelExecutor::new(8)),
            (
                "2 threads, speculation only",
                ParallelExecutor::new(2).speculation_only(),
            ),
        ];
        for (threads, executor) in &executors {
            for _ in 0..PARALLEL_RUNS {
                match executor.execute(&f.block, &f.state) {
                    Ok(parallel) => {
                        for m in check_equal(&sequential, &parallel) {
                            failures.push(format!("{name}: {threads}: {m}"));
                        }
                        if let Some(expected) = &f.expected {
                            for m in check_expected(expected, &parallel) {
                                failures.push(format!("{name}: {threads}: parallel {m}"));
                            }
                        }
                    }
                    Err(e) => failures.push(format!("{name}: {threads} failed: {e}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} blocks failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    println!("{} {folder} blocks replayed", files.len());
}

#[test]
fn mainnet_blocks_match_recorded_values_with_both_executors() {
    replay("mainnet", true);
}

#[test]
fn prague_blocks_execute_identically_in_parallel() {
    replay("prague", false);
}

#[test]
fn a_tampered_fixture_is_caught() {
    // The check can fail: change one recorded value and the comparison must say so.
    let Some(files) = fixtures("mainnet") else {
        return;
    };
    let f = fixture::load(&files[files.len() / 2], 2).expect("loads");
    let out = SequentialExecutor
        .execute(&f.block, &f.state)
        .expect("executes");
    let mut expected = f.expected.clone().expect("recorded values");
    expected.gas_used += 1;
    let mismatches = check_expected(&expected, &out);
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].field, "gas_used");
}

#[test]
fn bad_fixture_input_is_a_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    let e = fixture::load(&missing, 1).expect_err("missing file");
    assert!(e.to_string().contains("missing.json"), "{e}");

    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{ not json").expect("write");
    let e = fixture::load(&bad_json, 1).expect_err("bad json");
    assert!(
        e.to_string().contains("bad.json") && e.to_string().contains("invalid JSON"),
        "{e}"
    );

    let bad_spec = dir.path().join("spec.json");
    std::fs::write(
        &bad_spec,
        r#"{"chain_id":1,"spec":"NOT_A_FORK","env":{},"pre":{},"transactions":[]}"#,
    )
    .expect("write");
    let e = fixture::load(&bad_spec, 1).expect_err("unknown spec");
    assert!(e.to_string().contains("unknown spec `NOT_A_FORK`"), "{e}");
}

/// The same envelope with a signature no public key can be recovered from.
fn unrecoverable(envelope: &alloy_consensus::TxEnvelope) -> alloy_consensus::TxEnvelope {
    use alloy_consensus::{Signed, TxEnvelope};
    use alloy_primitives::{Signature, U256};
    let bad = Signature::new(U256::ZERO, U256::ZERO, false);
    match envelope {
        TxEnvelope::Legacy(s) => TxEnvelope::Legacy(Signed::new_unhashed(s.tx().clone(), bad)),
        TxEnvelope::Eip2930(s) => TxEnvelope::Eip2930(Signed::new_unhashed(s.tx().clone(), bad)),
        TxEnvelope::Eip1559(s) => TxEnvelope::Eip1559(Signed::new_unhashed(s.tx().clone(), bad)),
        other => panic!("no invalid signature made for {other:?}"),
    }
}

#[test]
fn senders_recovered_on_the_executors_threads_are_mainnets_and_in_order() {
    let Some(files) = fixtures("mainnet") else {
        return;
    };
    let file = files
        .iter()
        .find(|f| f.ends_with("13217637.json"))
        .expect("mainnet block 13217637 is among the fixtures");
    let block = fixture::load(file, 2)
        .unwrap_or_else(|e| panic!("{e}"))
        .block;
    let envelopes: Vec<_> = block
        .transactions
        .iter()
        .map(|t| t.envelope.clone().expect("mainnet transactions are signed"))
        .collect();
    let senders = |txs: &[parallax_execution::Transaction]| -> Vec<_> {
        txs.iter().map(|t| t.sender).collect()
    };
    let expected = senders(&block.transactions);
    for executor in [
        ParallelExecutor::new(1),
        ParallelExecutor::new(2),
        ParallelExecutor::new(8),
    ] {
        let recovered = executor
            .recover_senders(envelopes.clone())
            .expect("mainnet signatures recover");
        assert_eq!(
            senders(&recovered),
            expected,
            "{} threads",
            executor.threads()
        );
        // Two invalid signatures: the error names the first.
        let mut broken = envelopes.clone();
        broken[700] = unrecoverable(&broken[700]);
        broken[91] = unrecoverable(&broken[91]);
        let error = executor
            .recover_senders(broken)
            .expect_err("an invalid signature is an error");
        assert_eq!(error.index, 91, "{} threads: {error}", executor.threads());
    }
}
