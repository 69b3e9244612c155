//! The testnet's Ethereum: anvil (Foundry's development node, from the npm package
//! `@foundry-rs/anvil` that the repository's `package.json` pins) on 127.0.0.1: chain id 31337,
//! the 20 development accounts funded, a block every second besides one per transaction; the
//! bridge contracts deployed on it, the validators' bridge keys funded for gas and the
//! development accounts funded with the test ERC-20.
//!
//! The Parallax genesis commits to the Ethereum bridge's address, so the address must be known
//! before the contract exists: it is the first contract the first development account deploys
//! on a fresh chain (`CREATE(deployer, nonce 0)`), the test token the second. [`deploy`] checks
//! the deployed addresses are those.
//!
//! Anvil keeps its chain in a state file ([`start`]): it loads the file when it starts, writes
//! it every [`STATE_INTERVAL_SECS`] seconds and again when SIGTERM stops it ([`stop`]). So after
//! `down` and `up` the testnet's Ethereum goes on from the block where it stopped, with the
//! contracts, balances, deposits and withdrawals the nodes saw, and `up` only checks that the
//! contracts are there ([`check_deployed`]) instead of deploying them again.

use crate::TestnetError;
use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use parallax_bridge::{contracts::ITestToken, l1::L1Client};
use serde_json::json;
use std::{
    fs::OpenOptions,
    io::Write,
    net::SocketAddr,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Ethereum's chain id on the testnet (anvil's and hardhat's default).
pub const L1_CHAIN_ID: u64 = parallax_genesis::DEV_L1_CHAIN_ID;
/// How many Ethereum blocks deep a deposit must be before validators mint it.
pub const CONFIRMATIONS: u64 = 2;
/// Test tokens each development account gets on Ethereum (whole tokens, 18 decimals).
pub const TEST_TOKENS_PER_ACCOUNT: u64 = 1_000_000;
/// Ether each validator's bridge key gets on Ethereum to pay for relaying.
pub const RELAYER_ETH: u64 = 100;
/// Ethereum's block gas limit: EIP-7825's cap on one transaction's gas (2^24), so that gas
/// estimation, which searches down from the block limit, never asks for more than a
/// transaction may use.
pub const BLOCK_GAS_LIMIT: u64 = 1 << 24;
/// How often anvil writes its state file while it runs (seconds): what a SIGKILL loses at most.
pub const STATE_INTERVAL_SECS: u64 = 5;

/// The deployer (the first development account) and where its first two contracts land.
pub fn predicted_addresses() -> Result<(Address, Address), TestnetError> {
    let deployer = deployer()?.address();
    Ok((deployer.create(0), deployer.create(1)))
}

fn deployer() -> Result<PrivateKeySigner, TestnetError> {
    let (_, key) = parallax_genesis::dev_accounts(1)?[0];
    PrivateKeySigner::from_bytes(&key).map_err(|e| TestnetError::L1(e.to_string()))
}

/// Where a testnet in `dir` keeps its Ethereum's state: `DIR/l1/state.json`.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("l1").join("state.json")
}

/// The anvil binary under `repo/node_modules`: the one `node_modules/.bin/anvil` launches, from
/// the npm package's dependency for this platform.
///
/// It is run directly, not through that launcher (a Node.js script that runs it as a child):
/// on SIGTERM the launcher passes the signal on and exits at once, while anvil is still
/// writing its state and holding its port, so the launcher's pid would not say when anvil
/// is done. Run directly, the recorded pid is anvil itself.
pub fn anvil_bin(repo: &Path) -> Result<PathBuf, TestnetError> {
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-amd64",
        ("linux", "aarch64") => "linux-arm64",
        ("macos", "x86_64") => "darwin-amd64",
        ("macos", "aarch64") => "darwin-arm64",
        (os, arch) => {
            return Err(TestnetError::L1(format!(
                "the anvil npm package has no build for {os} on {arch}"
            )));
        }
    };
    let bin = repo.join(format!(
        "node_modules/@foundry-rs/anvil-{platform}/bin/anvil"
    ));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(TestnetError::L1(format!(
            "{} is missing: run `npm ci` at the repository root ({}) with Node.js 20 \
             (it installs @foundry-rs/anvil, pinned in package.json)",
            bin.display(),
            repo.display()
        )))
    }
}

/// Whether `pid` is a live anvil serving `port` (its command line says so): an argument whose
/// file name is `anvil` (the binary, or the npm launcher's script), and `--port PORT`.
///
/// A `hardhat node` with `--port PORT` counts too: that was the Ethereum of a testnet started
/// before anvil replaced it, and `down` must still be able to stop it.
pub fn is_l1_process(pid: u32, port: u16) -> bool {
    let Some(cmdline) = crate::process::live_cmdline(pid) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let port = port.to_string();
    let is_anvil = |a: &&[u8]| a.rsplit(|b| *b == b'/').next() == Some(b"anvil".as_slice());
    (args.iter().any(is_anvil) || args.iter().any(|a| a.ends_with(b"hardhat")))
        && args
            .windows(2)
            .any(|w| w[0] == b"--port" && w[1] == port.as_bytes())
}

/// Starts anvil on 127.0.0.1:`port` (chain id [`L1_CHAIN_ID`], the development accounts, a
/// block every second and one per transaction, [`BLOCK_GAS_LIMIT`]) in its own process group,
/// its output appended to `log`, and waits (≤ `timeout`) until it answers JSON-RPC. Its chain
/// lives in `state`: loaded from there when the file exists, written there every
/// [`STATE_INTERVAL_SECS`] seconds and when it exits on SIGTERM ([`stop`]). Returns its pid.
pub fn start(
    repo: &Path,
    port: u16,
    log: &Path,
    state: &Path,
    timeout: Duration,
) -> Result<u32, TestnetError> {
    if let Some(parent) = state.parent() {
        std::fs::create_dir_all(parent).map_err(|e| TestnetError::io(parent, e))?;
    }
    let bin = anvil_bin(repo)?;
    let mut command = Command::new(&bin);
    command
        .current_dir(repo)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--chain-id",
            &L1_CHAIN_ID.to_string(),
            "--mnemonic",
            parallax_genesis::DEV_MNEMONIC,
            "--accounts",
            &parallax_genesis::DEV_ACCOUNTS.to_string(),
            "--block-time",
            "1",
            "--mixed-mining",
            "--gas-limit",
            &BLOCK_GAS_LIMIT.to_string(),
        ])
        .arg("--state")
        .arg(state)
        .args([
            "--state-interval",
            &STATE_INTERVAL_SECS.to_string(),
            // No banner and no line per request: only errors reach the log.
            "--quiet",
        ]);
    spawn(command, bin, port, log, timeout)
}

/// An Ethereum of its own beside a testnet's (a test's second chain), in `dir` as a testnet
/// keeps its own: the chain in `DIR/l1/state.json`, the log in `DIR/logs/l1.log`. Stopped
/// (SIGTERM, its state written) when dropped.
#[derive(Debug)]
pub struct L1Node {
    pid: u32,
    port: u16,
}

impl L1Node {
    /// Starts it on 127.0.0.1:`port` as [`start`] does and waits (≤ `timeout`) until it
    /// answers.
    pub fn start(
        repo: &Path,
        dir: &Path,
        port: u16,
        timeout: Duration,
    ) -> Result<Self, TestnetError> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| TestnetError::io(&logs, e))?;
        let pid = start(repo, port, &logs.join("l1.log"), &state_path(dir), timeout)?;
        Ok(Self { pid, port })
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> String {
        rpc_url(self.port)
    }

    /// Its pid (the leader of its process group).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for L1Node {
    fn drop(&mut self) {
        stop(self.pid, self.port, Duration::from_secs(20));
    }
}

/// Runs `command` (anvil, `bin`) in its own process group, its output appended to `log`, and
/// waits until it serves [`L1_CHAIN_ID`] on `port`.
fn spawn(
    mut command: Command,
    bin: PathBuf,
    port: u16,
    log: &Path,
    timeout: Duration,
) -> Result<u32, TestnetError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| TestnetError::io(log, e))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    writeln!(
        file,
        "=== parallax-testnet: starting anvil at unix time {now}: {} {}",
        bin.display(),
        args.join(" ")
    )
    .map_err(|e| TestnetError::io(log, e))?;
    let stderr = file.try_clone().map_err(|e| TestnetError::io(log, e))?;
    let mut child = command
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|source| TestnetError::Spawn { bin, source })?;
    let pid = child.id();
    let url = rpc_url(port);
    let deadline = Instant::now() + timeout;
    let runtime = runtime()?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(TestnetError::L1(format!(
                "anvil exited ({status}); the end of {}:\n{}",
                log.display(),
                crate::process::log_tail(log, 10)
            )));
        }
        let answered = runtime.block_on(async {
            let client = L1Client::connect(&url, None).await.ok()?;
            client.chain_id().await.ok()
        });
        match answered {
            Some(L1_CHAIN_ID) => return Ok(pid),
            Some(other) => {
                stop(pid, port, Duration::from_secs(10));
                return Err(TestnetError::L1(format!(
                    "{url} serves chain {other}, not {L1_CHAIN_ID}"
                )));
            }
            None if Instant::now() >= deadline => {
                stop(pid, port, Duration::from_secs(10));
                return Err(TestnetError::L1(format!(
                    "anvil did not answer on {url} within {timeout:?}; see {}",
                    log.display()
                )));
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Stops the testnet's Ethereum (its whole process group): SIGTERM, on which anvil writes its
/// state file and exits; SIGKILL only if it still runs after `grace` (its state is then the
/// last periodic one, at most [`STATE_INTERVAL_SECS`] old). Waits until it is gone. Returns
/// whether it was running.
pub fn stop(pid: u32, port: u16, grace: Duration) -> bool {
    if !is_l1_process(pid, port) {
        return false;
    }
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) on the process group this tool started (checked above to still be the
    // Ethereum node it leads); no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while is_l1_process(pid, port) {
        if Instant::now() >= deadline {
            // SAFETY: as above.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            // SIGKILL cannot be refused; the kernel needs a moment to tear it down.
            let deadline = Instant::now() + Duration::from_secs(10);
            while is_l1_process(pid, port) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The JSON-RPC URL of the testnet's Ethereum on `port`.
pub fn rpc_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn runtime() -> Result<tokio::runtime::Runtime, TestnetError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestnetError::L1(format!("cannot start a runtime: {e}")))
}

/// Checks that the Ethereum at `url`, resumed from the state file `state`, still holds the
/// bridge and the test token: code at both [`predicted_addresses`] (`eth_getCode`). Fails
/// naming what is missing.
pub fn check_deployed(url: &str, state: &Path) -> Result<(Address, Address), TestnetError> {
    let (bridge, token) = predicted_addresses()?;
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| TestnetError::L1(format!("{url} is not http://HOST:PORT")))?;
    for (what, at) in [("bridge", bridge), ("test token", token)] {
        let code = crate::rpc::call(
            addr,
            "eth_getCode",
            json!([at.to_string(), "latest"]),
            Duration::from_secs(10),
        )
        .map_err(|e| TestnetError::L1(format!("eth_getCode of the {what} ({at}): {e}")))?;
        let empty = code
            .as_str()
            .is_none_or(|c| c.trim_start_matches("0x").is_empty());
        if empty {
            return Err(TestnetError::L1(format!(
                "{} has no code at {at}, where this testnet deployed the {what}: it does not \
                 hold this testnet's Ethereum. Move it away and `up` again to start Ethereum \
                 afresh with the contracts deployed again (its earlier history is then lost), \
                 or start a new testnet elsewhere (`up --dir OTHER`)",
                state.display()
            )));
        }
    }
    Ok((bridge, token))
}

/// Deploys the bridge (for Parallax chain `l2_chain_id` and `validators`' bridge addresses,
/// power 1 each) and the test token on a fresh chain at `url`, gives every development
/// account [`TEST_TOKENS_PER_ACCOUNT`] test tokens and each validator [`RELAYER_ETH`] ether.
/// Fails unless both contracts land at [`predicted_addresses`].
pub fn deploy(
    url: &str,
    l2_chain_id: u64,
    validators: &[Address],
) -> Result<(Address, Address), TestnetError> {
    let (bridge_at, token_at) = predicted_addresses()?;
    let accounts = parallax_genesis::dev_accounts(parallax_genesis::DEV_ACCOUNTS)?;
    let l1 = |e: parallax_bridge::l1::L1Error| TestnetError::L1(e.to_string());
    runtime()?.block_on(async {
        let client = L1Client::connect(url, Some(deployer()?))
            .await
            .map_err(l1)?;
        let set: Vec<(Address, u64)> = validators.iter().map(|a| (*a, 1)).collect();
        let bridge = client.deploy_bridge(l2_chain_id, &set).await.map_err(l1)?;
        let token = client
            .deploy_test_token("Parallax Test Token", "PTT", 0)
            .await
            .map_err(l1)?;
        if (bridge, token) != (bridge_at, token_at) {
            return Err(TestnetError::L1(format!(
                "the contracts landed at {bridge} and {token}, not {bridge_at} and {token_at}: \
                 the Ethereum at {url} is not a fresh chain"
            )));
        }
        let amount = U256::from(TEST_TOKENS_PER_ACCOUNT) * U256::from(10).pow(U256::from(18));
        for (address, _) in &accounts {
            client
                .send_call(
                    token,
                    ITestToken::mintCall {
                        to: *address,
                        amount,
                    },
                    U256::ZERO,
                )
                .await
                .map_err(l1)?;
        }
        let eth = U256::from(RELAYER_ETH) * U256::from(10).pow(U256::from(18));
        for v in validators {
            client
                .send(Some(*v), Default::default(), eth)
                .await
                .map_err(l1)?;
        }
        Ok((bridge, token))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicted_addresses_are_the_deployers_first_two_creations() {
        let (bridge, token) = predicted_addresses().unwrap();
        // The well-known first deployments of the first development account.
        assert_eq!(
            bridge,
            "0x5FbDB2315678afecb367f032d93F642f64180aa3"
                .parse::<Address>()
                .unwrap()
        );
        assert_eq!(
            token,
            "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
                .parse::<Address>()
                .unwrap()
        );
    }

    #[test]
    fn only_an_anvil_on_the_recorded_port_counts_as_the_l1() {
        assert!(!is_l1_process(std::process::id(), 1));
        assert!(!is_l1_process(0, 1));
        // `sh -c CMD ARG0 ARGS…` keeps its own argv: `anvil --port 1`.
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30; true", "anvil", "--port", "1"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_l1_process(pid, 1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(is_l1_process(pid, 1));
        assert!(!is_l1_process(pid, 2), "another port is another node");
        assert!(stop(pid, 1, Duration::from_secs(5)));
        let _ = child.wait();
        assert!(!is_l1_process(pid, 1));
        assert!(
            !stop(pid, 1, Duration::from_secs(5)),
            "gone: not signalled again"
        );
    }

    fn head(port: u16) -> u64 {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let head = crate::rpc::call(addr, "eth_blockNumber", json!([]), Duration::from_secs(5));
        crate::rpc::quantity(&head.unwrap()).unwrap()
    }

    /// The real anvil (`npm ci` installs it): it mines a block a second with no traffic, writes
    /// its state when stopped, and a new start on that state goes on from the same chain.
    #[test]
    fn anvil_keeps_its_chain_across_a_stop_and_a_start() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = state_path(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let timeout = Duration::from_secs(60);
        let node = L1Node::start(repo, dir.path(), port, timeout).unwrap();
        let pid = node.pid();
        assert!(is_l1_process(pid, port));
        assert_eq!(node.url(), rpc_url(port));
        let first = head(port);
        let deadline = Instant::now() + Duration::from_secs(20);
        while head(port) < first + 2 {
            assert!(Instant::now() < deadline, "no blocks without traffic");
            std::thread::sleep(Duration::from_millis(200));
        }
        let before = head(port);
        drop(node);
        assert!(!is_l1_process(pid, port));
        assert!(
            state.is_file(),
            "anvil wrote {} on SIGTERM",
            state.display()
        );
        assert!(crate::ports::is_free(port), "the port is released");

        let node = L1Node::start(repo, dir.path(), port, timeout).unwrap();
        let after = head(port);
        drop(node);
        assert!(
            after >= before,
            "resumed at block {after}, had reached {before}"
        );
        let log = std::fs::read_to_string(dir.path().join("logs/l1.log")).unwrap();
        assert_eq!(
            log.matches("=== parallax-testnet: starting anvil").count(),
            2
        );
    }
}
