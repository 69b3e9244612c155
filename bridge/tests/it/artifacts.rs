//! The checked-in artifacts of `bridge/contracts/` are what the pinned solc-js compiles the
//! Solidity sources to.

use std::process::Command;

#[test]
fn artifacts_match_sources() {
    let root = parallax_test_support::l1::repo_root();
    let setup = "install Node.js 20 with npm, then run `npm ci` at the repository root";
    let node = Command::new("node")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): {setup}"));
    assert!(node.status.success(), "`node --version` failed: {setup}");
    assert!(
        root.join("node_modules/solc/package.json").is_file(),
        "node_modules/solc is missing: {setup} ({})",
        root.display()
    );
    let out = Command::new("node")
        .args([
            "scripts/compile-contracts.mjs",
            "--check",
            "bridge/contracts",
        ])
        .current_dir(&root)
        .output()
        .expect("run node scripts/compile-contracts.mjs --check bridge/contracts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the artifacts differ from the sources:\n{text}"
    );
    assert_eq!(text.trim(), "ok", "unexpected output of the check:\n{text}");
}
