//! Code out of the repository's checked-in contract artifacts (the JSON that
//! `scripts/compile-contracts.mjs` writes with solc-js: `bytecode` is the creation code,
//! `deployedBytecode` the runtime code). Every crate that deploys or predeploys one of our
//! contracts reads it here: the genesis's bridge predeploy, the bridge's Ethereum contracts,
//! the load generator's token.
//!
//! The artifacts are compiled into the binaries (`include_str!`) and each owner's tests check
//! them against their Solidity sources, so a malformed one is a build defect: these panic
//! with what is wrong rather than return an error no caller could act on.

use alloy_primitives::Bytes;

/// The creation code (`bytecode`) of `artifact`; append ABI-encoded constructor arguments.
pub fn creation_code(artifact: &str) -> Bytes {
    field(artifact, "bytecode")
}

/// The runtime code (`deployedBytecode`) of `artifact`: what a predeploy installs.
pub fn runtime_code(artifact: &str) -> Bytes {
    field(artifact, "deployedBytecode")
}

fn field(artifact: &str, name: &str) -> Bytes {
    let json: serde_json::Value =
        serde_json::from_str(artifact).expect("a checked-in contract artifact is JSON");
    json[name]
        .as_str()
        .unwrap_or_else(|| panic!("a checked-in contract artifact has a `{name}` string"))
        .parse()
        .unwrap_or_else(|e| panic!("a checked-in contract artifact's `{name}` is hex: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_creation_and_runtime_code() {
        let artifact = r#"{"bytecode": "0x6001", "deployedBytecode": "0x00"}"#;
        assert_eq!(creation_code(artifact), Bytes::from(vec![0x60, 0x01]));
        assert_eq!(runtime_code(artifact), Bytes::from(vec![0x00]));
    }

    #[test]
    #[should_panic(expected = "`deployedBytecode` string")]
    fn a_missing_field_names_it() {
        runtime_code(r#"{"bytecode": "0x6001"}"#);
    }
}
