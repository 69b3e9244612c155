//! The workspace's layout: each crate depends on exactly the crates of ours that
//! `ARCHITECTURE.md`'s dependency graph draws, and every crate there is a workspace member.

use std::{collections::BTreeMap, path::Path};

/// Our crates each crate's `[dependencies]` name, as the graph draws them, in its order.
const GRAPH: &[(&str, &[&str])] = &[
    ("proto", &[]),
    ("genesis", &[]),
    ("storage", &[]),
    ("trie", &["storage"]),
    ("execution", &["storage"]),
    ("call", &["execution"]),
    ("consensus", &["proto"]),
    ("consensus-sim", &["consensus"]),
    ("bridge", &["genesis", "proto", "storage"]),
    ("txpool", &["genesis"]),
    ("loadgen", &["genesis"]),
    ("network", &["bridge", "consensus", "proto"]),
    ("test-support", &["bridge", "consensus"]),
    (
        "chain",
        &[
            "bridge",
            "consensus",
            "execution",
            "genesis",
            "storage",
            "trie",
        ],
    ),
    (
        "rpc",
        &[
            "bridge",
            "call",
            "chain",
            "consensus",
            "execution",
            "genesis",
            "network",
            "storage",
            "trie",
            "txpool",
        ],
    ),
    (
        "node",
        &[
            "bridge",
            "chain",
            "consensus",
            "execution",
            "genesis",
            "loadgen",
            "network",
            "proto",
            "rpc",
            "storage",
            "txpool",
        ],
    ),
    (
        "testnet",
        &[
            "bridge",
            "chain",
            "consensus",
            "genesis",
            "loadgen",
            "network",
            "proto",
        ],
    ),
];

/// The `parallax-*` names in a manifest's `[dependencies]` table, without the prefix.
fn our_dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some(rest) = line.strip_prefix("parallax-") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            deps.push(name);
        }
    }
    deps.sort();
    deps
}

#[test]
fn every_crate_depends_on_exactly_the_crates_the_architecture_draws() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut wrong = BTreeMap::new();
    for (krate, expected) in GRAPH {
        let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}/Cargo.toml: {e}"));
        let found = our_dependencies(&manifest);
        if found != *expected {
            wrong.insert(*krate, found);
        }
    }
    assert!(
        wrong.is_empty(),
        "crates whose dependencies differ from ARCHITECTURE.md's graph: {wrong:?}"
    );

    // The graph is layered: a crate depends only on crates listed before it.
    for (i, (krate, deps)) in GRAPH.iter().enumerate() {
        for dep in *deps {
            assert!(
                GRAPH[..i].iter().any(|(k, _)| k == dep),
                "{krate} depends on {dep}, which is not listed before it"
            );
        }
    }

    // Every member is in the graph, and the graph names no crate that is not a member.
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members_start = workspace.find("members = [").expect("a members list");
    let members_end = members_start + workspace[members_start..].find(']').unwrap();
    let mut members: Vec<&str> = workspace[members_start..members_end]
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    members.sort();
    let mut drawn: Vec<&str> = GRAPH.iter().map(|(k, _)| *k).collect();
    drawn.sort();
    assert_eq!(
        members, drawn,
        "workspace members and the graph's crates differ"
    );
}

#[test]
fn dependencies_are_read_from_the_dependencies_table_only() {
    let manifest = "[package]\nname = \"parallax-x\"\n\n[dependencies]\nparallax-proto.workspace = true\nparallax-genesis = { path = \"../genesis\" }\nserde.workspace = true\n\n[dev-dependencies]\nparallax-node.workspace = true\n";
    assert_eq!(our_dependencies(manifest), ["genesis", "proto"]);
}
