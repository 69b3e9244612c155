//! The `parallax` binary's operator tooling, run as an operator would.

use std::{path::PathBuf, process::Command};

fn parallax() -> Command {
    Command::new(env!("CARGO_BIN_EXE_parallax"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.env("RUST_LOG", "warn").output().expect("run parallax");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn field<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no `{key}:` line in:\n{output}"))
}

#[test]
fn genesis_inspect_prints_the_public_networks() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/genesis");
    if !dir.is_dir() {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    }
    let cases = [
        (
            "mainnet.json",
            "1",
            "8893",
            "0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544",
            "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
        ),
        (
            "sepolia.json",
            "11155111",
            "15",
            "0x5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494",
            "0x25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9",
        ),
        (
            "holesky.json",
            "17000",
            "317",
            "0x69d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783",
            "0xb5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4",
        ),
        (
            "hoodi.json",
            "560048",
            "335",
            "0xda87d7f5f91c51508791bbcbd4aa5baf04917830b86985eeb9ad3d5bfb657576",
            "0xbbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b",
        ),
    ];
    for (file, chain_id, accounts, root, hash) in cases {
        let out = run_ok(parallax().args(["genesis", "inspect"]).arg(dir.join(file)));
        assert_eq!(field(&out, "chain_id"), chain_id, "{file}");
        assert_eq!(field(&out, "accounts"), accounts, "{file}");
        assert_eq!(field(&out, "state_root"), root, "{file}");
        assert_eq!(field(&out, "genesis_hash"), hash, "{file}");
    }
}

#[test]
fn keys_generate_keeps_secrets_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validator.json");
    let out = run_ok(parallax().args(["keys", "generate", "--out"]).arg(&path));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for key in ["consensus", "network", "bridge"] {
        let secret = file[key]["secretKey"].as_str().unwrap();
        assert!(
            !out.contains(secret.trim_start_matches("0x")),
            "{key} secret printed:\n{out}"
        );
    }
    assert_eq!(
        field(&out, "peer_id"),
        file["network"]["public"].as_str().unwrap()
    );
    assert_eq!(
        field(&out, "consensus_public_key"),
        file["consensus"]["public"].as_str().unwrap()
    );

    // Asked for, the secrets are printed.
    let shown = run_ok(
        parallax()
            .args(["keys", "inspect", "--show-secret"])
            .arg(&path),
    );
    assert!(shown.contains(file["bridge"]["secretKey"].as_str().unwrap()));

    // Never overwritten: the command fails and the file is unchanged.
    let before = std::fs::read(&path).unwrap();
    let again = parallax()
        .args(["keys", "generate", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn genesis_testnet_writes_a_configuration_that_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("net");
    let out = run_ok(
        parallax()
            .args([
                "genesis",
                "testnet",
                "--validators",
                "5",
                "--chain-id",
                "9999",
                "--out",
            ])
            .arg(&out_dir),
    );
    for i in 0..5 {
        assert!(out_dir.join(format!("node{i}/key.json")).is_file());
        assert!(out_dir.join(format!("node{i}/config.toml")).is_file());
    }
    let inspect = run_ok(
        parallax()
            .args(["genesis", "inspect"])
            .arg(out_dir.join("genesis.json")),
    );
    assert_eq!(field(&inspect, "chain_id"), "9999");
    assert_eq!(field(&inspect, "validators"), "5");
    assert_eq!(field(&inspect, "genesis_hash"), field(&out, "genesis_hash"));
}

#[test]
fn bad_input_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    let cases = [
        (
            "{\"config\":{\"chainId\":5,\"homesteadBlock\":0,\"fooBlock\":1},\"alloc\":{}}",
            "config.fooBlock: unknown fork",
        ),
        (
            "{\"config\":{\"chainId\":5},\"alloc\":{\"0x01\":{\"balance\":\"1\"}}}",
            "invalid address",
        ),
        ("not json", "invalid genesis"),
    ];
    for (text, needle) in cases {
        std::fs::write(&bad, text).unwrap();
        let out = parallax()
            .args(["genesis", "inspect"])
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    }
    let out = parallax()
        .args(["genesis", "inspect", "/nonexistent/genesis.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/genesis.json"));
    // The OS error is said once, not repeated by every layer that wraps it.
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");

    let out = parallax()
        .args(["genesis", "testnet", "--validators", "0", "--out"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("validators"));
}
