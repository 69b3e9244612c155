//! The testnet's Ethereum: a `hardhat node` on 127.0.0.1 (a real Ethereum development chain,
//! chain id 31337, a block every second besides one per transaction), the bridge contracts
//! deployed on it, the validators' bridge keys funded for gas and the development accounts
//! funded with the test ERC-20.
//!
//! The Parallax genesis commits to the Ethereum bridge's address, so the address must be known
//! before the contract exists: it is the first contract the first development account deploys
//! on a fresh chain (`CREATE(deployer, nonce 0)`), the test token the second. [`deploy`] checks
//! the deployed addresses are those. Hardhat keeps no state when it stops, so a resumed testnet
//! gets a fresh Ethereum with the same contracts at the same addresses, but none of the old
//! Ethereum history (see `testnet/README.md`).

use crate::TestnetError;
use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use parallax_bridge::{contracts::ITestToken, l1::L1Client};
use std::{
    fs::OpenOptions,
    io::Write,
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Ethereum's chain id on the testnet (hardhat's).
pub const L1_CHAIN_ID: u64 = parallax_genesis::DEV_L1_CHAIN_ID;
/// How many Ethereum blocks deep a deposit must be before validators mint it.
pub const CONFIRMATIONS: u64 = 2;
/// Test tokens each development account gets on Ethereum (whole tokens, 18 decimals).
pub const TEST_TOKENS_PER_ACCOUNT: u64 = 1_000_000;
/// Ether each validator's bridge key gets on Ethereum to pay for relaying.
pub const RELAYER_ETH: u64 = 100;

/// The deployer (the first development account) and where its first two contracts land.
pub fn predicted_addresses() -> Result<(Address, Address), TestnetError> {
    let deployer = deployer()?.address();
    Ok((deployer.create(0), deployer.create(1)))
}

fn deployer() -> Result<PrivateKeySigner, TestnetError> {
    let (_, key) = parallax_genesis::dev_accounts(1)?[0];
    PrivateKeySigner::from_bytes(&key).map_err(|e| TestnetError::L1(e.to_string()))
}

/// Whether `pid` is a live `hardhat node` serving `port` (its command line says so).
pub fn is_l1_process(pid: u32, port: u16) -> bool {
    let Some(cmdline) = crate::process::live_cmdline(pid) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let port = port.to_string();
    args.iter().any(|a| a.ends_with(b"hardhat"))
        && args
            .windows(2)
            .any(|w| w[0] == b"--port" && w[1] == port.as_bytes())
}

/// Starts `hardhat node` on 127.0.0.1:`port` in its own process group, its output appended
/// to `log`, and waits (≤ `timeout`) until it answers JSON-RPC. Returns its pid.
pub fn start(repo: &Path, port: u16, log: &Path, timeout: Duration) -> Result<u32, TestnetError> {
    let bin = repo.join("node_modules/.bin/hardhat");
    if !bin.exists() {
        return Err(TestnetError::L1(format!(
            "{} is missing: run `npm ci` at the repository root ({}) with Node.js 20",
            bin.display(),
            repo.display()
        )));
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| TestnetError::io(log, e))?;
    writeln!(
        file,
        "=== parallax-testnet: starting hardhat node on 127.0.0.1:{port}"
    )
    .map_err(|e| TestnetError::io(log, e))?;
    let stderr = file.try_clone().map_err(|e| TestnetError::io(log, e))?;
    let mut child = Command::new(&bin)
        .current_dir(repo)
        .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
        .args([
            "node",
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg("--config")
        .arg(repo.join("testnet/hardhat.config.cjs"))
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
                "hardhat node exited ({status}); see {}",
                log.display()
            )));
        }
        let answered = runtime.block_on(async {
            let client = L1Client::connect(&url, None).await.ok()?;
            client.chain_id().await.ok()
        });
        match answered {
            Some(L1_CHAIN_ID) => return Ok(pid),
            Some(other) => {
                stop(pid, port, Duration::from_secs(5));
                return Err(TestnetError::L1(format!(
                    "{url} serves chain {other}, not {L1_CHAIN_ID}"
                )));
            }
            None if Instant::now() >= deadline => {
                stop(pid, port, Duration::from_secs(5));
                return Err(TestnetError::L1(format!(
                    "hardhat node did not answer on {url} within {timeout:?}; see {}",
                    log.display()
                )));
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Stops the hardhat node (its whole process group): SIGTERM, SIGKILL after `grace`.
/// Returns whether it was running.
pub fn stop(pid: u32, port: u16, grace: Duration) -> bool {
    if !is_l1_process(pid, port) {
        return false;
    }
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) on the process group this tool started (checked above to still be
    // hardhat); no memory is involved.
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
            std::thread::sleep(Duration::from_millis(200));
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

/// Deploys the bridge (for Parallax chain `l2_chain_id` and `validators`' bridge addresses,
/// power 1 each) and the test token on a fresh hardhat node at `url`, gives every development
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
                 the Ethereum at {url} is not a fresh hardhat node"
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
        // The well-known first deployments of hardhat's first account.
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
}
