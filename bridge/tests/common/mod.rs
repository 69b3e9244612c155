//! Shared by the bridge's integration tests: a real `hardhat node` on a free 127.0.0.1 port,
//! its funded accounts, and validator bridge keys that sign as a quorum.

#![allow(dead_code, unreachable_pub)]

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use parallax_bridge::attest::{BridgeDomain, sign_digest};
use parallax_bridge::l1::{L1Client, L1Error};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root, read when the test runs (cargo sets `CARGO_MANIFEST_DIR` for
/// `cargo test`), so a test binary built in another clone still reads this clone's files.
pub fn repo_root() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    dir.parent().expect("bridge/ has a parent").to_path_buf()
}

/// A `hardhat node` bound to 127.0.0.1, killed when dropped (and when the test thread that
/// started it dies, by the parent-death signal).
pub struct Hardhat {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hardhat {
    /// Starts it and waits (≤ 60 s) until it answers.
    pub async fn start() -> Self {
        let root = repo_root();
        let bin = root.join("node_modules/.bin/hardhat");
        assert!(
            bin.exists(),
            "{} is missing: run `npm ci` at the repository root ({}) with Node.js 20",
            bin.display(),
            root.display()
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("hardhat.log");
        let out = std::fs::File::create(&log).expect("the hardhat log");
        let mut cmd = Command::new(&bin);
        cmd.current_dir(&root)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .args([
                "node",
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg("--config")
            .arg(root.join("bridge/tests/hardhat.config.cjs"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start hardhat node");
        let url = format!("http://127.0.0.1:{port}");
        let mut node = Self {
            child,
            url,
            log,
            _dir: dir,
        };
        let client = L1Client::connect(&node.url, None).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.chain_id().await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("hardhat node exited ({status}):\n{}", node.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "hardhat node did not answer within 60 s:\n{}",
                node.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    }

    /// What it logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client signing with hardhat's funded account `index`.
    pub fn account(&self, index: u32) -> L1Client {
        L1Client::connect(&self.url, Some(dev_key(index))).unwrap()
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        let client = L1Client::connect(&self.url, None).unwrap();
        for _ in 0..n {
            let _: serde_json::Value = client
                .provider()
                .raw_request("evm_mine".into(), serde_json::json!([]))
                .await
                .expect("evm_mine");
        }
    }

    /// `evm_snapshot`: an id to revert to.
    pub async fn snapshot(&self) -> U256 {
        let client = L1Client::connect(&self.url, None).unwrap();
        client
            .provider()
            .raw_request("evm_snapshot".into(), serde_json::json!([]))
            .await
            .expect("evm_snapshot")
    }

    /// `evm_revert`: drops every block after the snapshot.
    pub async fn revert(&self, id: U256) {
        let client = L1Client::connect(&self.url, None).unwrap();
        let ok: bool = client
            .provider()
            .raw_request("evm_revert".into(), (id,))
            .await
            .expect("evm_revert");
        assert!(ok, "evm_revert({id}) refused");
    }
}

impl Drop for Hardhat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Hardhat's (and Parallax's) development account `index` (`test test ... junk`).
pub fn dev_key(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase("test test test test test test test test test test test junk")
        .index(index)
        .unwrap()
        .build()
        .unwrap()
}

/// `n` validator bridge keys, fixed so failures reproduce.
pub fn validator_keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n)
        .map(|i| {
            PrivateKeySigner::from_bytes(&alloy_primitives::keccak256(format!("validator {i}")))
                .unwrap()
        })
        .collect()
}

/// Signatures of `keys` over `digest`, in ascending signer order (what the contract takes).
pub fn sign_sorted(keys: &[&PrivateKeySigner], digest: B256) -> Vec<Bytes> {
    let mut sigs: Vec<(Address, Bytes)> = keys
        .iter()
        .map(|k| {
            (
                k.address(),
                Bytes::from(sign_digest(k, digest).unwrap().to_vec()),
            )
        })
        .collect();
    sigs.sort_by_key(|(a, _)| *a);
    sigs.into_iter().map(|(_, s)| s).collect()
}

/// Asserts the result is a revert with exactly `reason`.
#[track_caller]
pub fn assert_reverts<T: std::fmt::Debug>(result: Result<T, L1Error>, reason: &str) {
    match result {
        Err(L1Error::Reverted(r)) => assert_eq!(r, reason, "revert reason"),
        other => panic!("expected a revert with {reason:?}, got {other:?}"),
    }
}

/// The domain a deployed bridge signs under.
pub fn domain(l1_bridge: Address, l2_chain_id: u64) -> BridgeDomain {
    BridgeDomain {
        l1_chain_id: 31337,
        l1_bridge,
        l2_chain_id,
    }
}

/// 1 ETH in wei.
pub fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}
