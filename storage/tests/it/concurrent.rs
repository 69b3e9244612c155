//! Readers on many threads see whole blocks while a writer commits, and never hold it up.

use crate::common;

use common::{ACCOUNTS, Chain, Model, address};
use parallax_storage::{Database, Reader};
use std::{
    collections::BTreeSet,
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

const BLOCKS: u64 = 120;
const READERS: usize = 3;

/// Asserts that `reader`'s snapshot is exactly the chain after its head; returns the head.
fn check_snapshot(
    reader: &Reader<'_>,
    chain: &[parallax_storage::BlockWrite],
    models: &[Model],
) -> Option<u64> {
    let head = reader.head().unwrap()?;
    let block = &chain[head.number as usize];
    assert_eq!(head.hash, block.hash);
    let header = reader.header(head.number).unwrap().expect("head header");
    assert_eq!(header.hash_slow(), head.hash);
    assert_eq!(reader.header_by_hash(head.hash).unwrap(), Some(header));
    assert_eq!(
        reader.transactions(head.number).unwrap().unwrap(),
        block.transactions
    );
    let receipts = reader.receipts(head.number).unwrap().unwrap();
    assert_eq!(receipts, block.receipts);
    assert_eq!(
        receipts.last().map_or(0, |r| r.cumulative_gas_used()),
        block.header.gas_used
    );
    for tx in &block.transactions {
        let found = reader
            .transaction_by_hash(*tx.tx_hash())
            .unwrap()
            .expect("indexed");
        assert_eq!(found.location.block_number, head.number);
    }
    // Nothing of the next block is visible.
    assert_eq!(reader.header(head.number + 1).unwrap(), None);
    assert_eq!(reader.certificate(head.number + 1).unwrap(), None);

    let model = &models[head.number as usize];
    for k in 0..ACCOUNTS {
        let address = address(k);
        assert_eq!(
            reader.account(address).unwrap(),
            model.accounts.get(&address).copied()
        );
        let storage: Vec<_> = model
            .storage
            .range((address, Default::default())..)
            .take_while(|((a, _), _)| *a == address)
            .map(|((_, s), v)| (*s, *v))
            .collect();
        assert_eq!(reader.storage_of(address).unwrap(), storage);
    }
    if head.number > 0 {
        let previous = &models[head.number as usize - 1];
        for k in 0..ACCOUNTS {
            let address = address(k);
            assert_eq!(
                reader.account_at(address, head.number - 1).unwrap(),
                previous.accounts.get(&address).copied()
            );
        }
    }
    Some(head.number)
}

#[test]
fn readers_see_whole_blocks_and_never_block_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path()).unwrap());
    let mut chain = Chain::default();
    let blocks: Arc<Vec<_>> = Arc::new(chain.blocks(BLOCKS - 1).to_vec());
    let mut models = Vec::new();
    let mut model = Model::default();
    for block in blocks.iter() {
        model.apply(block);
        models.push(model.clone());
    }
    let models = Arc::new(models);

    // Write a few blocks, then pin a snapshot that stays open while the writer finishes.
    for block in &blocks[..5] {
        db.write_block(block).unwrap();
    }
    let pinned = db.reader().unwrap();
    assert_eq!(pinned.head_number().unwrap(), Some(4));

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (db, blocks, models, done, start) = (
                db.clone(),
                blocks.clone(),
                models.clone(),
                done.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut heads = BTreeSet::new();
                loop {
                    // Read the flag first: a snapshot taken after the writer finished must
                    // still be checked, so the final head is always seen.
                    let finished = done.load(Ordering::Acquire);
                    let reader = db.reader().unwrap();
                    heads.extend(check_snapshot(&reader, &blocks, &models));
                    if finished {
                        return heads;
                    }
                }
            })
        })
        .collect();

    let (finished, writer_done) = mpsc::channel();
    let writer = {
        let (db, blocks, done) = (db.clone(), blocks.clone(), done.clone());
        std::thread::spawn(move || {
            start.wait();
            for block in &blocks[5..] {
                db.write_block(block).unwrap();
            }
            done.store(true, Ordering::Release);
            finished.send(()).unwrap();
        })
    };
    writer_done
        .recv_timeout(Duration::from_secs(60))
        .expect("the writer finished while readers, and a pinned snapshot, were open");
    writer.join().unwrap();

    // The pinned snapshot still shows block 4 and its state.
    assert_eq!(check_snapshot(&pinned, &blocks, &models), Some(4));
    drop(pinned);

    let mut seen = BTreeSet::new();
    for reader in readers {
        seen.extend(reader.join().unwrap());
    }
    assert!(seen.contains(&(BLOCKS - 1)), "readers saw the final head");
    assert!(seen.len() >= 2, "readers saw the chain grow: {seen:?}");
    common::assert_database_matches(&db, &mut chain, BLOCKS - 1);
}
