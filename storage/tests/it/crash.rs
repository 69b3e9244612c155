//! Crash safety: a child process writing blocks is SIGKILLed at random moments; after each kill
//! the database must hold exactly blocks `0..=head` in every table, and the child resumes from
//! the head.

use crate::common;

use common::{Chain, assert_database_matches, assert_history_matches};
use parallax_storage::Database;
use std::{
    collections::hash_map::RandomState,
    hash::{BuildHasher, Hasher},
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Set in the child: the database directory to write to.
const CHILD_ENV: &str = "PARALLAX_STORAGE_CRASH_CHILD_DB";
/// This test's name, for re-running just it in the child.
const TEST_NAME: &str = "crash::killed_writer_leaves_whole_blocks";
/// Kill/resume rounds.
const ROUNDS: usize = 8;
/// How long a round may wait for the child to write its blocks.
const ROUND_TIMEOUT: Duration = Duration::from_secs(20);
/// The child stops by itself after this long, in case the parent is gone.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

fn random(below: u64) -> u64 {
    RandomState::new().build_hasher().finish() % below
}

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn killed_writer_leaves_whole_blocks() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        run_child(Path::new(&path));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("db");
    let mut chain = Chain::default();
    let mut previous_head: Option<u64> = None;
    for round in 0..ROUNDS {
        let started = Instant::now();
        let mut child = ChildGuard(
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, &db_path)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (sender, written) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line
                    .strip_prefix("WROTE ")
                    .and_then(|n| n.parse::<u64>().ok())
                    && sender.send(n).is_err()
                {
                    break;
                }
            }
        });

        // Let the child write a random number of blocks, then kill it at a random moment.
        let target = 5 + random(100);
        let mut last_written = None;
        for _ in 0..target {
            let left = ROUND_TIMEOUT.saturating_sub(started.elapsed());
            let n = written
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("round {round}: child stopped writing: {e}"));
            if let Some(previous) = last_written {
                assert_eq!(n, previous + 1, "child writes blocks in order");
            }
            last_written = Some(n);
        }
        let last_written = last_written.unwrap();
        if round == 0 {
            // A second process can read while the writer runs, and sees whole blocks.
            let db = Database::open_read_only(&db_path).unwrap();
            let reader = db.reader().unwrap();
            let head = reader.head_number().unwrap().unwrap();
            assert!(head >= last_written);
            assert_eq!(
                reader.transactions(head).unwrap().unwrap().len(),
                common::tx_count(head) as usize
            );
            assert_eq!(
                reader.receipts(head).unwrap().unwrap().len(),
                common::tx_count(head) as usize
            );
        }
        std::thread::sleep(Duration::from_micros(random(5_000)));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        drop(child);

        let db = Database::open(&db_path).unwrap();
        let head = db.reader().unwrap().head_number().unwrap().unwrap();
        assert!(
            head >= last_written,
            "head {head} lost block {last_written}, committed before the kill"
        );
        if let Some(previous) = previous_head {
            assert!(head > previous, "round {round} made no progress");
        }
        assert_database_matches(&db, &mut chain, head);
        let reader = db.reader().unwrap();
        for at in [0, head / 3, head / 2, head.saturating_sub(1), head] {
            assert_history_matches(&reader, &mut chain, at);
        }
        println!(
            "round {round}: killed after block {last_written}, recovered head {head} in {:?}",
            started.elapsed()
        );
        previous_head = Some(head);
    }
}

/// Child mode: continue the chain from the head until killed, printing each committed block.
fn run_child(path: &Path) {
    let db = Database::open(path).expect("child opens the database");
    let mut chain = Chain::default();
    let head = db.reader().unwrap().head().unwrap();
    let mut next = match head {
        Some(head) => {
            assert_eq!(
                chain.block(head.number).hash,
                head.hash,
                "stored head is on the chain"
            );
            head.number + 1
        }
        None => 0,
    };
    let deadline = Instant::now() + CHILD_LIFETIME;
    let mut stdout = std::io::stdout();
    while Instant::now() < deadline {
        db.write_block(chain.block(next))
            .expect("child writes a block");
        // The parent is gone if stdout is closed.
        if writeln!(stdout, "WROTE {next}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
        next += 1;
    }
}
