//! What the parallel executor reports about a block's execution: the schedule it ran on,
//! its executions and aborts, and the time its workers spent inside the EVM.

use crate::workloads;

use parallax_execution::{BlockExecutor, ParallelExecutor, Schedule, SequentialExecutor};

#[test]
fn a_parallel_block_reports_its_executions_and_evm_time() {
    let (block, state) = workloads::erc20_transfers(64);
    let executor = ParallelExecutor::new(2);
    let (output, stats) = executor.execute_with_stats(&block, &state).unwrap();
    assert_eq!(output, SequentialExecutor.execute(&block, &state).unwrap());
    assert_ne!(stats.schedule, Schedule::Sequential);
    assert_eq!(stats.threads, 2);
    // Every transaction ran at least once, and each aborted execution once more.
    assert!(stats.executions >= 64 + stats.aborts, "{stats:?}");
    assert!(!stats.busy.is_zero());
    assert!(stats.busy <= stats.wall * 2, "{stats:?}");
    let p = stats.parallelism().unwrap();
    assert!(p > 0.0 && p <= 2.0, "{stats:?}");
}

#[test]
fn a_small_block_runs_sequentially_and_reports_no_parallelism() {
    let (block, state) = workloads::eth_transfers(4);
    let (output, stats) = ParallelExecutor::new(2)
        .execute_with_stats(&block, &state)
        .unwrap();
    assert_eq!(output.receipts.len(), 4);
    assert_eq!(stats.schedule, Schedule::Sequential);
    assert_eq!((stats.threads, stats.executions, stats.aborts), (1, 0, 0));
    assert!(stats.busy.is_zero() && !stats.wall.is_zero());
    assert_eq!(stats.parallelism(), None);
}

#[test]
fn a_contended_block_stays_parallel_without_heuristics_and_counts_reexecutions() {
    // Every swap on one pool: each depends on the one before it.
    let (block, state) = workloads::swaps(1, 200);
    let executor = ParallelExecutor::new(2).speculation_only();
    let (output, stats) = executor.execute_with_stats(&block, &state).unwrap();
    assert_eq!(output, SequentialExecutor.execute(&block, &state).unwrap());
    assert_eq!(stats.schedule, Schedule::Parallel);
    assert!(stats.executions >= 200 + stats.aborts, "{stats:?}");
}
