//! The workspace's layout: each crate depends on exactly the crates of ours that
//! `ARCHITECTURE.md`'s dependency graph draws, and every crate there is a workspace member;
//! modules import each other in no circle; crates and files stay small enough for one person
//! to hold; each crate's integration tests are one `tests/it` binary.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Our crates each crate's `[dependencies]` name, as the graph draws them, in its order.
const GRAPH: &[(&str, &[&str])] = &[
    ("proto", &[]),
    ("genesis", &[]),
    ("storage", &[]),
    ("storage-api", &["storage"]),
    ("trie", &["storage"]),
    ("execution", &["storage-api"]),
    ("call", &["execution"]),
    ("consensus", &["proto"]),
    ("consensus-sim", &["consensus"]),
    ("bridge", &["genesis", "proto", "storage", "storage-api"]),
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
            "storage-api",
            "trie",
            "txpool",
        ],
    ),
    (
        "engine",
        &[
            "bridge",
            "chain",
            "consensus",
            "execution",
            "genesis",
            "network",
            "proto",
            "storage",
            "storage-api",
            "txpool",
        ],
    ),
    (
        "node",
        &[
            "bridge",
            "chain",
            "consensus",
            "engine",
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

/// Crates whose top-level modules still import each other in a circle: none. Every crate's
/// modules form a hierarchy (`consensus`'s since its primitives, `Rejection`, blocks and
/// certificates moved below `crypto`, the validator set, evidence and the messages); a crate
/// listed here would be skipped by the check.
const MODULE_CYCLES_LEFT: &[&str] = &[];

/// The top-level modules a file's non-test code names through `crate::`: `crate::a::…` and
/// each item of `use crate::{a, b::…}` count; items the crate root re-exports (capitalised)
/// and comments do not.
fn crate_imports(text: &str) -> BTreeSet<String> {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    // Comments (doc links among them) import nothing.
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in text.match_indices("crate::") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `parallax_crate::`, not ours
        }
        let rest = &text[at + "crate::".len()..];
        let names: Vec<String> = match rest.strip_prefix('{') {
            None => vec![ident(rest)],
            Some(group) => {
                // The group's top-level items, up to its closing brace.
                let (mut depth, mut item, mut items) = (0usize, String::new(), Vec::new());
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            items.push(ident(&item));
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                items.push(ident(&item));
                items
            }
        };
        for name in names {
            if name.starts_with(|c: char| c.is_ascii_lowercase()) && name != "self" {
                found.insert(name);
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
}

/// Each top-level module of `src` (tests and binaries aside) with the modules it imports.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if ["lib", "main", "bin"].contains(&module.as_str()) || module.contains("tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let imports = crate_imports(&text);
        graph
            .entry(module.clone())
            .or_default()
            .extend(imports.into_iter().filter(|m| *m != module));
    }
    graph
}

/// A circle of imports in `graph`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn modules_do_not_import_each_other_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut circles = BTreeMap::new();
    for (krate, _) in GRAPH {
        if MODULE_CYCLES_LEFT.contains(krate) {
            continue;
        }
        if let Some(cycle) = find_cycle(&module_graph(&root.join(krate).join("src"))) {
            circles.insert(*krate, cycle.join(" -> "));
        }
    }
    assert!(
        circles.is_empty(),
        "modules importing each other: {circles:#?}"
    );
}

#[test]
fn module_imports_and_circles_are_found() {
    let text = "use crate::{a::X, b, Root, c::{d, e}};\n/// [link](crate::k)\nfn f() { crate::g::h(); parallax_crate::z(); }\n#[cfg(test)]\nmod tests { use crate::t; }";
    let found: Vec<String> = crate_imports(text).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "g"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", &["b"][..]),
        ("b", &["c"][..]),
        ("c", &["a"][..]),
        ("d", &[][..]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let mut acyclic = graph.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&acyclic), None);
}

/// The most lines of non-test code (neither blank nor comment) a crate may hold: about what
/// one person holds in their head. Past it, split the crate by concern.
const CRATE_CODE_LINES: usize = 6_000;

/// The most lines of non-test code a file may hold. Past it, split the module by concern.
const FILE_CODE_LINES: usize = 800;

/// Lines of `text` that are neither blank nor comments (`//`, `///`, `//!`), leaving out
/// top-level `#[cfg(test)]` modules, inline or declared.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let (mut count, mut i) = (0, 0);
    while i < lines.len() {
        let next = lines
            .get(i + 1)
            .map_or("", |l| l.trim_start_matches("pub(crate) "));
        if lines[i] == "#[cfg(test)]" && next.starts_with("mod ") {
            i += 1;
            if next.ends_with('{') {
                while i < lines.len() && lines[i] != "}" {
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        let line = lines[i].trim();
        if !line.is_empty() && !line.starts_with("//") {
            count += 1;
        }
        i += 1;
    }
    count
}

#[test]
fn crates_and_files_stay_small_enough_to_hold_in_one_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (mut big_crates, mut big_files) = (BTreeMap::new(), BTreeMap::new());
    for (krate, _) in GRAPH {
        let src = root.join(krate).join("src");
        let mut total = 0;
        for file in rust_files(&src) {
            let rel = file.strip_prefix(&src).unwrap();
            // A module's tests in their own file (`tests.rs`, `tests/…`) are test code.
            if rel.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c == "tests" || c == "tests.rs"
            }) {
                continue;
            }
            let lines = code_lines(&std::fs::read_to_string(&file).unwrap());
            total += lines;
            if lines > FILE_CODE_LINES {
                big_files.insert(format!("{krate}/src/{}", rel.display()), lines);
            }
        }
        assert!(total > 0, "{krate}: no code found under {}", src.display());
        if total > CRATE_CODE_LINES {
            big_crates.insert(*krate, total);
        }
    }
    assert!(
        big_crates.is_empty() && big_files.is_empty(),
        "over {CRATE_CODE_LINES} lines of code per crate: {big_crates:?}; \
         over {FILE_CODE_LINES} per file: {big_files:#?}"
    );
}

#[test]
fn code_lines_leave_out_comments_blank_lines_and_test_modules() {
    let text = "//! Docs.\n\nuse a;\n/// A function.\nfn f() {\n    // note\n    g();\n}\n\
                #[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n\
                #[cfg(test)]\npub(crate) mod fixtures;\nfn h() {}\n";
    assert_eq!(code_lines(text), 5);
}

#[test]
fn each_crate_has_one_integration_test_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut wrong = Vec::new();
    for (krate, _) in GRAPH {
        let dir = root.join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        if manifest.contains("[[test]]") {
            wrong.push(format!("{krate}/Cargo.toml declares its own test targets"));
        }
        let Ok(entries) = std::fs::read_dir(dir.join("tests")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Cargo makes a binary of every `tests/*.rs`; `tests/it/main.rs` is the one.
            if path.extension().is_some_and(|e| e == "rs") {
                wrong.push(format!(
                    "{krate}/tests/{}",
                    entry.file_name().to_string_lossy()
                ));
            } else if path.is_dir() && path.join("main.rs").is_file() && !path.ends_with("it") {
                wrong.push(format!(
                    "{krate}/tests/{}/main.rs",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "test binaries besides tests/it: {wrong:#?}"
    );
}
