//! A Parallax genesis is validated on load, and every rejection names the offending field.

use parallax_genesis::{
    Genesis, TestnetOptions, Validator, ValidatorKeys, dev_accounts, generate_testnet,
    parallax_genesis,
};
use serde_json::{Value, json};

fn validators(n: usize) -> Vec<Validator> {
    (0..n)
        .map(|i| {
            let k = ValidatorKeys::generate().unwrap();
            k.validator(format!("v{i}"), 10)
        })
        .collect()
}

fn valid_json() -> Value {
    let accounts = dev_accounts(2).unwrap();
    parallax_genesis(777, 1_700_000_000, validators(4), &accounts)
        .unwrap()
        .to_json()
}

fn expect_error(genesis: Value, needle: &str) {
    match Genesis::from_json(&genesis.to_string()) {
        Ok(_) => panic!("expected an error containing {needle:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "expected {needle:?} in: {msg}");
        }
    }
}

#[test]
fn a_valid_parallax_genesis_loads_and_builds() {
    let g = Genesis::from_json(&valid_json().to_string()).unwrap();
    let block = g.build().unwrap();
    assert_eq!(g.chain_id(), 777);
    assert_eq!(g.parallax.as_ref().unwrap().validators.len(), 4);
    assert_eq!(g.parallax.as_ref().unwrap().total_voting_power(), 40);
    // Prague rules from genesis: every post-merge header field is present.
    assert_eq!(block.header.base_fee_per_gas, Some(1_000_000_000));
    assert!(block.header.withdrawals_root.is_some());
    assert!(block.header.parent_beacon_block_root.is_some());
    assert!(block.header.requests_hash.is_some());
    assert_eq!(
        block.hash,
        alloy_primitives::keccak256(alloy_rlp::encode(&block.header))
    );
}

#[test]
fn duplicate_validators_are_rejected() {
    let mut g = valid_json();
    let first = g["parallax"]["validators"][0].clone();
    g["parallax"]["validators"][2]["consensusKey"] = first["consensusKey"].clone();
    expect_error(
        g,
        "parallax.validators[2].consensusKey: duplicate validator",
    );

    let mut g = valid_json();
    g["parallax"]["validators"][3]["name"] = "v1".into();
    expect_error(g, "parallax.validators[3].name: duplicate validator");

    let mut g = valid_json();
    let first = g["parallax"]["validators"][0].clone();
    g["parallax"]["validators"][1]["bridgeAddress"] = first["bridgeAddress"].clone();
    expect_error(
        g,
        "parallax.validators[1].bridgeAddress: duplicate validator",
    );

    let mut g = valid_json();
    let first = g["parallax"]["validators"][0].clone();
    g["parallax"]["validators"][1]["peerId"] = first["peerId"].clone();
    expect_error(g, "parallax.validators[1].peerId: duplicate validator");
}

#[test]
fn zero_power_is_rejected() {
    let mut g = valid_json();
    g["parallax"]["validators"][1]["votingPower"] = json!(0);
    expect_error(
        g,
        "parallax.validators[1].votingPower: must be greater than zero",
    );

    let mut g = valid_json();
    g["parallax"]["validators"][0]["votingPower"] = json!(u64::MAX);
    expect_error(g, "total voting power exceeds");
}

#[test]
fn bad_keys_are_rejected() {
    let mut g = valid_json();
    g["parallax"]["validators"][0]["consensusKey"] = "0x1234".into();
    expect_error(g, "parallax.validators[0].consensusKey");

    // Not a point on the curve.
    let mut g = valid_json();
    g["parallax"]["validators"][0]["consensusKey"] = format!("0x{}", "ff".repeat(31) + "7f").into();
    expect_error(g, "parallax.validators[0].consensusKey");

    // The identity point: small order, would accept forged signatures.
    let mut g = valid_json();
    g["parallax"]["validators"][0]["consensusKey"] = format!("0x01{}", "00".repeat(31)).into();
    expect_error(g, "weak ed25519 public key");

    let mut g = valid_json();
    g["parallax"]["validators"][0]["peerId"] = "not-a-peer".into();
    expect_error(g, "parallax.validators[0].peerId");

    let mut g = valid_json();
    g["parallax"]["validators"][0]["bridgeAddress"] =
        "0x0000000000000000000000000000000000000000".into();
    expect_error(
        g,
        "parallax.validators[0].bridgeAddress: must not be the zero address",
    );
}

#[test]
fn unknown_and_missing_forks_are_rejected() {
    let mut g = valid_json();
    g["config"]["pragueeTime"] = json!(0);
    expect_error(g, "config.pragueeTime: unknown fork");

    let mut g = valid_json();
    g["config"].as_object_mut().unwrap().remove("londonBlock");
    expect_error(
        g,
        "config.mergeNetsplitBlock: is set but the earlier fork londonBlock is not",
    );

    let mut g = valid_json();
    for k in [
        "londonBlock",
        "mergeNetsplitBlock",
        "shanghaiTime",
        "cancunTime",
        "pragueTime",
        "terminalTotalDifficulty",
    ] {
        g["config"].as_object_mut().unwrap().remove(k);
    }
    expect_error(g, "a Parallax chain must activate London at genesis");
}

#[test]
fn malformed_values_name_their_path() {
    let mut g = valid_json();
    let addr = g["alloc"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    g["alloc"][&addr]["balance"] = "lots".into();
    expect_error(g, &format!("alloc.{addr}.balance"));

    let mut g = valid_json();
    g["parallax"]["validators"][0]["votingPowr"] = json!(1);
    expect_error(g, "votingPowr");

    let mut g = valid_json();
    g["parallax"]["consensus"]["minBlockIntervalMs"] = json!(5_000);
    expect_error(g, "parallax.consensus.minBlockIntervalMs");

    let mut g = valid_json();
    g["parallax"]["bridge"]["l1ChainId"] = json!(777);
    expect_error(
        g,
        "parallax.bridge.l1ChainId: must differ from config.chainId",
    );

    let mut g = valid_json();
    g["parallax"]["validators"] = json!([]);
    expect_error(g, "parallax.validators: at least one validator is required");

    let mut g = valid_json();
    g["gasLimit"] = "0x1".into();
    expect_error(g, "gasLimit");

    expect_error(json!([1, 2]), "invalid genesis");
    match Genesis::from_json("{\"alloc\": {") {
        Err(e) => assert!(e.to_string().contains("invalid genesis"), "{e}"),
        Ok(_) => panic!("truncated JSON must not load"),
    }
}

#[test]
fn generated_testnet_is_complete_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let net = generate_testnet(
        &out,
        &TestnetOptions {
            validators: 4,
            ..Default::default()
        },
    )
    .unwrap();

    let genesis = Genesis::load(out.join("genesis.json")).unwrap();
    assert_eq!(genesis.build().unwrap().hash, net.genesis_hash);
    let parallax = genesis.parallax.as_ref().unwrap();
    assert_eq!(parallax.validators.len(), 4);
    assert_eq!(
        genesis.alloc.len(),
        21,
        "the 20 development accounts are funded, and the bridge is predeployed"
    );
    assert_eq!(
        genesis.alloc[&parallax_genesis::L2_BRIDGE_ADDRESS].code,
        parallax_genesis::l2_bridge_code(),
        "the bridge's code survives the genesis file"
    );

    for (i, node) in net.nodes.iter().enumerate() {
        let config = parallax_genesis::NodeConfig::load(node.dir.join("config.toml")).unwrap();
        let keys = ValidatorKeys::load(&config.key_file).unwrap();
        assert_eq!(
            keys.validator_index(parallax),
            Some(i),
            "node{i}'s key is validator {i}"
        );
        assert_eq!(
            Genesis::load(&config.genesis_file)
                .unwrap()
                .build()
                .unwrap()
                .hash,
            net.genesis_hash
        );
        assert_eq!(
            config.network.bootnodes.len(),
            3,
            "every other validator is a bootnode"
        );
    }
    // Every node listens on distinct ports.
    let mut ports: Vec<u16> = net
        .nodes
        .iter()
        .flat_map(|n| {
            [
                n.config.rpc_addr.port(),
                n.config.grpc_addr.port(),
                n.config.metrics_addr.port(),
            ]
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 12);

    // A second run never overwrites.
    let err = generate_testnet(&out, &TestnetOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn generated_full_nodes_are_outside_the_validator_set_and_dial_every_validator() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    let net = generate_testnet(
        &out,
        &TestnetOptions {
            validators: 3,
            full_nodes: 1,
            base_port: 31_000,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(net.nodes.len(), 4);
    let genesis = Genesis::load(out.join("genesis.json")).unwrap();
    let parallax = genesis.parallax.as_ref().unwrap();
    assert_eq!(parallax.validators.len(), 3, "a full node is no validator");

    let full = &net.nodes[3];
    assert!(!full.validator);
    assert!(net.nodes[..3].iter().all(|n| n.validator));
    assert_eq!(full.dir, out.join("full0"));
    let config = parallax_genesis::NodeConfig::load(full.dir.join("config.toml")).unwrap();
    assert_eq!(config.name, "full0");
    let keys = ValidatorKeys::load(&config.key_file).unwrap();
    assert_eq!(keys.validator_index(parallax), None);
    // It follows the validators' ports and dials each of them.
    assert_eq!(config.rpc_addr.port(), 31_031);
    let dialed: Vec<String> = config
        .network
        .bootnodes
        .iter()
        .map(|a| a.to_string())
        .collect();
    for v in &net.nodes[..3] {
        let expected = format!("{}/p2p/{}", v.config.network.listen_addr, v.peer_id);
        assert!(dialed.contains(&expected), "{expected} not in {dialed:?}");
    }
    assert_eq!(dialed.len(), 3);
    // Validators do not depend on the full node.
    let v0 = parallax_genesis::NodeConfig::load(net.nodes[0].dir.join("config.toml")).unwrap();
    assert_eq!(v0.network.bootnodes.len(), 2);
}

#[test]
fn the_genesis_hash_commits_to_the_parallax_section() {
    let base = valid_json();
    let hash = |g: &Value| {
        Genesis::from_json(&g.to_string())
            .unwrap()
            .build()
            .unwrap()
            .hash
    };
    let original = hash(&base);
    assert_eq!(hash(&base), original, "deterministic");

    let mut changes: Vec<Value> = Vec::new();
    let mut g = base.clone();
    g["parallax"]["validators"][0]["votingPower"] = json!(11);
    changes.push(g);
    let mut g = base.clone();
    g["parallax"]["validators"][1]["name"] = "renamed".into();
    changes.push(g);
    let mut g = base.clone();
    g["parallax"]["consensus"]["baseRoundTimeoutMs"] = json!(3000);
    changes.push(g);
    let mut g = base.clone();
    g["parallax"]["bridge"]["confirmations"] = json!(12);
    changes.push(g);
    let mut g = base.clone();
    g["parallax"]["validators"]
        .as_array_mut()
        .unwrap()
        .swap(0, 1);
    changes.push(g);
    let mut g = base.clone();
    g["parallax"]["nativeCurrency"]["symbol"] = "OTHER".into();
    changes.push(g);
    for mut g in changes {
        // The written mixHash is the old commitment; a changed section must not accept it.
        g["mixHash"] = B256_ZERO.into();
        rewrite_bridge_storage(&mut g);
        assert_ne!(hash(&g), original, "{}", g["parallax"]);
    }

    let mut g = base.clone();
    g["mixHash"] = format!("0x{}", "11".repeat(32)).into();
    expect_error(g, "mixHash");
}

/// Rewrites the bridge predeploy's storage for the (edited) validator set, as the generator
/// would have written it.
fn rewrite_bridge_storage(g: &mut Value) {
    let set: Vec<(alloy_primitives::Address, u64)> = g["parallax"]["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["bridgeAddress"].as_str().unwrap().parse().unwrap(),
                v["votingPower"].as_u64().unwrap(),
            )
        })
        .collect();
    let storage: serde_json::Map<String, Value> = parallax_genesis::l2_bridge_storage(set)
        .into_iter()
        .map(|(k, v)| (format!("{k:#x}"), Value::String(format!("{v:#x}"))))
        .collect();
    let key = g["alloc"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| {
            k.trim_start_matches("0x")
                .eq_ignore_ascii_case("0000000000000000000000000000000000b41d9e")
        })
        .unwrap()
        .clone();
    g["alloc"][key]["storage"] = Value::Object(storage);
}

const B256_ZERO: &str = "0x0000000000000000000000000000000000000000000000000000000000000000";
