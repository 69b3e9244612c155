//! Ethereum development nodes for tests: a real `hardhat node` ([`Hardhat`]) or anvil
//! ([`Anvil`]) from the repository's npm packages, each on a free 127.0.0.1 port and killed
//! when dropped (and when the test process dies, by the parent-death signal), and the
//! development accounts they fund ([`dev_key`]).

use alloy_primitives::U256;
use alloy_provider::Provider;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use parallax_bridge::l1::L1Client;
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
    dir.parent()
        .expect("a crate has the workspace above it")
        .to_path_buf()
}

/// `hardhat node` on 127.0.0.1:`port` from the repository's npm packages, with the test
/// configuration (`test-support/hardhat.config.cjs`: chain id 31337, the development accounts
/// funded, one block per transaction, no per-request logging), run from the repository root.
/// The caller adds its output and lifetime; [`Hardhat`] and the RPC benchmark both start it
/// this way. Fails, saying what to run, when `npm ci` has not installed hardhat.
pub fn hardhat_command(port: u16) -> Result<Command, String> {
    let root = repo_root();
    let bin = root.join("node_modules/.bin/hardhat");
    if !bin.exists() {
        return Err(format!(
            "{} is missing: run `npm ci` at the repository root ({}) with Node.js 20",
            bin.display(),
            root.display()
        ));
    }
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
        .arg(root.join("test-support/hardhat.config.cjs"));
    Ok(cmd)
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
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = dir.path().join("hardhat.log");
        let out = std::fs::File::create(&log).expect("the hardhat log");
        let mut cmd = hardhat_command(port).unwrap_or_else(|e| panic!("{e}"));
        cmd.stdin(Stdio::null())
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
        let client = L1Client::connect(&node.url, None).await.unwrap();
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
    pub async fn account(&self, index: u32) -> L1Client {
        L1Client::connect(&self.url, Some(dev_key(index)))
            .await
            .unwrap()
    }

    /// Moves Ethereum's clock `seconds` ahead and mines a block.
    pub async fn advance_time(&self, seconds: u64) {
        let client = L1Client::connect(&self.url, None).await.unwrap();
        let _: serde_json::Value = client
            .provider()
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        self.mine(1).await;
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        let client = L1Client::connect(&self.url, None).await.unwrap();
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
        let client = L1Client::connect(&self.url, None).await.unwrap();
        client
            .provider()
            .raw_request("evm_snapshot".into(), serde_json::json!([]))
            .await
            .expect("evm_snapshot")
    }

    /// `evm_revert`: drops every block after the snapshot.
    pub async fn revert(&self, id: U256) {
        let client = L1Client::connect(&self.url, None).await.unwrap();
        let ok: bool = client
            .provider()
            .raw_request("evm_revert".into(), (id,))
            .await
            .expect("evm_revert");
        assert!(ok, "evm_revert({id}) refused");
    }
}

/// An anvil (the npm package's binary for this machine) on a free 127.0.0.1 port with
/// `args`, killed when dropped (and when the test process dies).
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
}

impl Anvil {
    /// Starts it and waits (≤ 30 s) until it answers.
    pub async fn start(args: &[&str]) -> Self {
        let arch = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            _ => "amd64",
        };
        let bin = repo_root().join(format!(
            "node_modules/@foundry-rs/anvil-{}-{arch}/bin/anvil",
            std::env::consts::OS
        ));
        assert!(
            bin.exists(),
            "{} is missing: run `npm ci` at the repository root",
            bin.display()
        );
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--quiet",
        ])
        .args(["--gas-limit", "16777216"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start anvil");
        let url = format!("http://127.0.0.1:{port}");
        let client = L1Client::connect(&url, None).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.chain_id().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "anvil did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self { child, url }
    }

    /// A client signing with development account `index`.
    pub async fn account(&self, index: u32) -> L1Client {
        L1Client::connect(&self.url, Some(dev_key(index)))
            .await
            .unwrap()
    }

    /// Mines `n` blocks at once.
    pub async fn mine(&self, n: u64) {
        let client = L1Client::connect(&self.url, None).await.unwrap();
        let _: serde_json::Value = client
            .provider()
            .raw_request("anvil_mine".into(), (n,))
            .await
            .expect("anvil_mine");
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
