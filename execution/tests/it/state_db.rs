//! Executing blocks over stored state: a fixture's state written as a genesis to an MDBX
//! database and to `parallax-storage-api`'s in-memory store, then the fixture's block executed
//! over [`LatestState`] of each with both executors gives exactly what executing over the
//! same state in an [`InMemoryState`] gives.

use alloy_consensus::Header;
use parallax_execution::{
    BlockExecutor, InMemoryState, LatestState, ParallelExecutor, SequentialExecutor, fixture,
};
use parallax_storage::{BlockWrite, Database};
use parallax_storage_api::MemoryStore;
use std::path::PathBuf;

#[test]
fn blocks_over_stored_state_equal_blocks_over_the_same_state_in_memory() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    if !dir.is_dir() {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    }
    // London (many contracts), Cancun, and a Prague block (7702, blobs, self-destruct).
    let mut files = vec![
        dir.join("mainnet/13217637.json"),
        dir.join("mainnet/19933597.json"),
    ];
    let prague = fixture::collect(&[dir.join("prague")]).expect("the Prague fixtures load");
    files.extend(prague.into_iter().take(1));
    for file in files {
        let f = fixture::load(&file, 2).unwrap_or_else(|e| panic!("{e}"));
        let changes = f.state.to_changes();
        assert!(
            !changes.accounts.is_empty(),
            "{}: empty state",
            file.display()
        );
        // The same state in memory, without the fixture's recorded block hashes (the
        // database knows only its genesis block).
        let mut memory = InMemoryState::new();
        memory.apply(&changes);
        assert!(
            memory.to_changes() == changes,
            "{}: round trip",
            file.display()
        );

        let db_dir = tempfile::tempdir().unwrap();
        let db = Database::open(db_dir.path()).unwrap();
        let mut genesis = BlockWrite::new(Header::default());
        genesis.state = changes;
        db.write_genesis(&genesis, f.block.rules.chain_id).unwrap();
        let reader = db.reader().unwrap();
        let stored = LatestState::new(&reader);
        let mut store = MemoryStore::new();
        store
            .write_genesis(&genesis, f.block.rules.chain_id)
            .unwrap();
        let in_store = LatestState::new(&store);

        let expected = SequentialExecutor
            .execute(&f.block, &memory)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!expected.receipts.is_empty());
        let sequential = SequentialExecutor.execute(&f.block, &stored).unwrap();
        assert!(
            sequential == expected,
            "{}: sequential over MDBX differs from memory",
            file.display()
        );
        let sequential = SequentialExecutor.execute(&f.block, &in_store).unwrap();
        assert!(
            sequential == expected,
            "{}: sequential over the in-memory store differs",
            file.display()
        );
        for executor in [
            ParallelExecutor::new(2),
            ParallelExecutor::new(2).speculation_only(),
        ] {
            let parallel = executor.execute(&f.block, &stored).unwrap();
            assert!(
                parallel == expected,
                "{}: parallel over MDBX differs from memory",
                file.display()
            );
            let parallel = executor.execute(&f.block, &in_store).unwrap();
            assert!(
                parallel == expected,
                "{}: parallel over the in-memory store differs",
                file.display()
            );
        }
    }
}
