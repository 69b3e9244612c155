//! The benchmark and test contracts of `execution/contracts/`: the checked-in artifacts match the
//! Solidity sources (recompiled with the pinned solc-js), are well formed, agree with the slot
//! numbers and ABI helpers of `tests/it/common/contracts.rs`, and those helpers drive the contracts
//! correctly on revm (calldata, constructor arguments, storage slots, written pre-states, CREATE2
//! addresses, reverts, self-destruct and re-creation).

use crate::contracts;

use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, TxKind, U256, keccak256};
use contracts::{
    Contract, child, decode_address, decode_bool, decode_revert_reason, decode_uint, factory,
    mapping_slot, output_word, pool, selector, short_string_value, token,
};
use revm::{
    Context, DatabaseRef, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{CfgEnv, TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

/// The repository root: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("execution/ has a parent")
        .to_path_buf()
}

const SETUP: &str = "install Node.js 20 with npm, then run `npm ci` at the repository root";

/// Recompiles every `execution/contracts/*.sol` with the pinned solc-js and compares the result
/// with the checked-in artifacts.
#[test]
fn artifacts_match_sources() {
    let root = repo_root();
    let node = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!("`node --version` failed ({}): {SETUP}", out.status),
        Err(e) => panic!(
            "cannot run `node` ({e}); checking execution/contracts/artifacts needs solc-js: {SETUP}"
        ),
    };
    assert!(
        root.join("node_modules/solc/package.json").is_file(),
        "node_modules/solc is missing: run `npm ci` at the repository root ({}) with Node.js 20 \
         (found node {node})",
        root.display()
    );
    let out = Command::new("node")
        .args([
            "scripts/compile-contracts.mjs",
            "--check",
            "execution/contracts",
        ])
        .current_dir(&root)
        .output()
        .expect("run node scripts/compile-contracts.mjs --check");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "`node scripts/compile-contracts.mjs --check` failed ({}, node {node}):\n{stdout}{stderr}",
        out.status
    );
    assert_eq!(
        stdout.trim(),
        "ok",
        "unexpected output of the check:\n{stdout}{stderr}"
    );
}

/// The solc version package.json pins.
fn pinned_solc() -> String {
    let path = repo_root().join("package.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("package.json is JSON");
    json["devDependencies"]["solc"]
        .as_str()
        .expect("package.json pins solc")
        .to_owned()
}

/// Signatures `name(type,...)` of the functions in an artifact's ABI.
fn abi_functions(contract: Contract) -> BTreeSet<String> {
    let abi = contract.artifact().json["abi"]
        .as_array()
        .expect("abi is an array");
    abi.iter()
        .filter(|item| item["type"] == "function")
        .map(|item| {
            let inputs: Vec<&str> = item["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|input| input["type"].as_str().expect("input type"))
                .collect();
            format!(
                "{}({})",
                item["name"].as_str().expect("name"),
                inputs.join(",")
            )
        })
        .collect()
}

fn check_hex_code(contract: Contract, key: &str) {
    let text = contract.artifact().json[key]
        .as_str()
        .expect("code is a string");
    let hex = text
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{contract:?}.{key} lacks 0x"));
    assert!(!hex.is_empty(), "{contract:?}.{key} is empty");
    assert!(
        hex.len().is_multiple_of(2),
        "{contract:?}.{key} has an odd number of digits"
    );
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{contract:?}.{key} is not lower-case hex"
    );
}

#[test]
fn artifacts_are_well_formed() {
    let pinned = pinned_solc();
    let dir = repo_root().join("execution/contracts/artifacts");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let known: BTreeSet<String> = Contract::ALL
        .iter()
        .map(|c| format!("{}.json", c.name()))
        .collect();
    assert_eq!(
        on_disk, known,
        "artifacts on disk vs contracts known to tests/it/common/contracts.rs"
    );

    for contract in Contract::ALL {
        let artifact = contract.artifact();
        let json = &artifact.json;
        assert_eq!(json["contractName"], contract.name());
        assert_eq!(json["sourceFile"], contract.source_file());
        let compiler = json["compiler"].as_str().expect("compiler");
        assert!(
            compiler.starts_with(&format!("{pinned}+commit.")),
            "{contract:?} compiled by {compiler}, package.json pins {pinned}"
        );
        check_hex_code(contract, "bytecode");
        check_hex_code(contract, "deployedBytecode");
        // The creation code returns the runtime code, which it carries verbatim.
        let (creation, runtime) = (&artifact.creation_code, &artifact.runtime_code);
        assert!(
            creation.windows(runtime.len()).any(|w| w == &runtime[..]),
            "{contract:?}: runtime code not found in the creation code"
        );

        let functions = abi_functions(contract);
        for signature in contract.functions() {
            assert!(
                functions.contains(*signature),
                "{contract:?}'s ABI lacks {signature}; it has {functions:?}"
            );
        }
    }
    // What the benchmarks rely on, spelled out once more.
    for (contract, signature) in [
        (Contract::Token, "transfer(address,uint256)"),
        (Contract::Token, "transferFrom(address,address,uint256)"),
        (Contract::Token, "approve(address,uint256)"),
        (Contract::Token, "mint(address,uint256)"),
        (Contract::Token, "balanceOf(address)"),
        (Contract::Pool, "swap(uint256,bool,uint256,address)"),
        (Contract::Pool, "addLiquidity(uint256,uint256)"),
        (Contract::Factory, "deploy(bytes32)"),
        (Contract::Factory, "deployAndDestroy(bytes32,address)"),
        (Contract::Factory, "alwaysRevert()"),
        (Contract::Factory, "burnGas(uint256)"),
        (Contract::Factory, "writeSlots(uint256,uint256,uint256)"),
        (Contract::Child, "destroy(address)"),
    ] {
        assert!(
            abi_functions(contract).contains(signature),
            "{contract:?} lacks {signature}"
        );
    }
    // Well-known selectors (ERC-20 and Error(string)) check the selector computation.
    for (signature, expected) in [
        ("transfer(address,uint256)", [0xa9, 0x05, 0x9c, 0xbb]),
        (
            "transferFrom(address,address,uint256)",
            [0x23, 0xb8, 0x72, 0xdd],
        ),
        ("approve(address,uint256)", [0x09, 0x5e, 0xa7, 0xb3]),
        ("balanceOf(address)", [0x70, 0xa0, 0x82, 0x31]),
        ("allowance(address,address)", [0xdd, 0x62, 0xed, 0x3e]),
        ("totalSupply()", [0x18, 0x16, 0x0d, 0xdd]),
        ("Error(string)", [0x08, 0xc3, 0x79, 0xa0]),
    ] {
        assert_eq!(selector(signature), expected, "{signature}");
    }
}

/// `(label, slot, offset, type label)` of every state variable, from the artifact.
fn storage_layout(contract: Contract) -> Vec<(String, u64, u64, String)> {
    let layout = &contract.artifact().json["storageLayout"];
    let types = &layout["types"];
    layout["storage"]
        .as_array()
        .expect("storageLayout.storage")
        .iter()
        .map(|var| {
            let slot = var["slot"]
                .as_str()
                .expect("slot")
                .parse()
                .expect("slot number");
            let type_id = var["type"].as_str().expect("type");
            let type_label = types[type_id]["label"].as_str().expect("type label");
            (
                var["label"].as_str().expect("label").to_owned(),
                slot,
                var["offset"].as_u64().expect("offset"),
                type_label.to_owned(),
            )
        })
        .collect()
}

#[test]
fn storage_layout_matches_slot_helpers() {
    let expected = |vars: &[(&str, u64, &str)]| -> Vec<(String, u64, u64, String)> {
        vars.iter()
            .map(|&(l, s, t)| (l.to_owned(), s, 0, t.to_owned()))
            .collect()
    };
    assert_eq!(
        storage_layout(Contract::Token),
        expected(&[
            (
                "balanceOf",
                token::SLOT_BALANCE_OF,
                "mapping(address => uint256)"
            ),
            (
                "allowance",
                token::SLOT_ALLOWANCE,
                "mapping(address => mapping(address => uint256))"
            ),
            ("totalSupply", token::SLOT_TOTAL_SUPPLY, "uint256"),
            ("name", token::SLOT_NAME, "string"),
            ("symbol", token::SLOT_SYMBOL, "string"),
        ])
    );
    assert_eq!(
        storage_layout(Contract::Pool),
        expected(&[
            ("token0", pool::SLOT_TOKEN0, "contract Token"),
            ("token1", pool::SLOT_TOKEN1, "contract Token"),
            ("reserve0", pool::SLOT_RESERVE0, "uint256"),
            ("reserve1", pool::SLOT_RESERVE1, "uint256"),
        ])
    );
    assert_eq!(
        storage_layout(Contract::Factory),
        expected(&[("slots", factory::SLOT_SLOTS, "mapping(uint256 => uint256)")])
    );
    assert_eq!(
        storage_layout(Contract::Child),
        expected(&[
            ("creator", child::SLOT_CREATOR, "address"),
            ("value", child::SLOT_VALUE, "uint256"),
        ])
    );

    // The mapping helpers, against the formula spelled out byte by byte.
    let word = |prefix: &[u8]| -> Vec<u8> {
        let mut w = vec![0u8; 32 - prefix.len()];
        w.extend_from_slice(prefix);
        w
    };
    let hash = |a: Vec<u8>, b: Vec<u8>| U256::from_be_bytes(keccak256([a, b].concat()).0);
    let owner = Address::repeat_byte(0xa1);
    let spender = Address::repeat_byte(0x5e);
    let balance_base = word(&[token::SLOT_BALANCE_OF as u8]);
    assert_eq!(
        token::balance_slot(owner),
        hash(word(owner.as_slice()), balance_base)
    );
    let inner = hash(word(owner.as_slice()), word(&[token::SLOT_ALLOWANCE as u8]));
    assert_eq!(
        token::allowance_slot(owner, spender),
        hash(word(spender.as_slice()), inner.to_be_bytes::<32>().to_vec())
    );
    assert_eq!(token::total_supply_slot(), U256::from(2));
    assert_eq!(
        factory::slots_slot(U256::from(7)),
        hash(word(&[7]), word(&[factory::SLOT_SLOTS as u8]))
    );
    assert_eq!(
        mapping_slot(B256::with_last_byte(1), U256::from(3)),
        hash(word(&[1]), word(&[3]))
    );
    assert_eq!(
        (pool::reserve0_slot(), pool::reserve1_slot()),
        (U256::from(2), U256::from(3))
    );
    assert_eq!(child::value_slot(), U256::from(1));
    // "TST": bytes left-aligned, 2 * length in the last byte.
    let mut tst = [0u8; 32];
    tst[..3].copy_from_slice(b"TST");
    tst[31] = 6;
    assert_eq!(short_string_value("TST"), U256::from_be_bytes(tst));
}

/// A revm chain (Cancun, as the contracts are compiled for) on an in-memory database.
struct Chain {
    db: CacheDB<EmptyDB>,
}

const GAS_LIMIT: u64 = 10_000_000;

impl Chain {
    fn new(funded: &[Address]) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for &address in funded {
            db.insert_account_info(
                address,
                AccountInfo::from_balance(U256::from(10).pow(U256::from(24))),
            );
        }
        Self { db }
    }

    fn nonce(&self, address: Address) -> u64 {
        self.db
            .basic_ref(address)
            .expect("in-memory")
            .map_or(0, |info| info.nonce)
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Bytes,
        value: U256,
        gas_limit: u64,
    ) -> ExecutionResult {
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(data)
            .value(value)
            .gas_limit(gas_limit)
            .gas_price(0)
            .nonce(self.nonce(from))
            .build_fill();
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .with_cfg(CfgEnv::new_with_spec(SpecId::CANCUN))
            .build_mainnet();
        evm.transact_commit(tx).expect("transaction is valid")
    }

    /// Calls `to` with `data` and `value`; returns the result (committed).
    fn call_value(
        &mut self,
        from: Address,
        to: Address,
        data: Bytes,
        value: U256,
    ) -> ExecutionResult {
        self.transact(from, TxKind::Call(to), data, value, GAS_LIMIT)
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> ExecutionResult {
        self.call_value(from, to, data, U256::ZERO)
    }

    /// Calls and asserts success; returns the output.
    fn ok(&mut self, from: Address, to: Address, data: Bytes) -> Bytes {
        match self.call(from, to, data) {
            ExecutionResult::Success { output, .. } => output.into_data(),
            other => panic!("call to {to} failed: {other:?}"),
        }
    }

    /// Calls and asserts a revert with `reason`.
    fn reverts(&mut self, from: Address, to: Address, data: Bytes, reason: &str) {
        match self.call(from, to, data) {
            ExecutionResult::Revert { output, .. } => {
                assert_eq!(decode_revert_reason(&output).as_deref(), Some(reason))
            }
            other => panic!("expected a revert with {reason:?}, got {other:?}"),
        }
    }

    /// Deploys `init_code` from `from` and checks the address is the CREATE address.
    fn deploy(&mut self, from: Address, init_code: Bytes) -> Address {
        let expected = from.create(self.nonce(from));
        let result = self.transact(from, TxKind::Create, init_code, U256::ZERO, GAS_LIMIT);
        let address = result
            .created_address()
            .unwrap_or_else(|| panic!("deploy failed: {result:?}"));
        assert_eq!(address, expected);
        assert_eq!(
            contracts::create_address(from, self.nonce(from) - 1),
            address
        );
        address
    }

    /// Installs runtime code and storage directly, as a benchmark's pre-state would.
    fn install(&mut self, address: Address, code: Bytes, storage: &[(U256, U256)]) {
        let info = AccountInfo::default().with_code(Bytecode::new_raw(code));
        self.db.insert_account_info(address, info);
        for &(slot, value) in storage {
            self.db
                .insert_account_storage(address, slot, value)
                .expect("in-memory");
        }
    }

    fn storage(&self, address: Address, slot: U256) -> U256 {
        self.db.storage_ref(address, slot).expect("in-memory")
    }

    /// Every non-zero slot of an account.
    fn all_storage(&self, address: Address) -> BTreeMap<U256, U256> {
        self.db
            .cache
            .accounts
            .get(&address)
            .map_or_else(BTreeMap::new, |account| {
                account
                    .storage
                    .iter()
                    .filter(|(_, v)| !v.is_zero())
                    .map(|(k, v)| (*k, *v))
                    .collect()
            })
    }

    fn code_hash(&self, address: Address) -> B256 {
        self.db
            .basic_ref(address)
            .expect("in-memory")
            .map_or(KECCAK256_EMPTY, |i| i.code_hash)
    }

    fn balance(&self, address: Address) -> U256 {
        self.db
            .basic_ref(address)
            .expect("in-memory")
            .map_or(U256::ZERO, |i| i.balance)
    }
}

fn u(n: u64) -> U256 {
    U256::from(n)
}

fn user(n: u8) -> Address {
    Address::repeat_byte(n)
}

#[test]
fn token_on_evm_matches_helpers() {
    let (alice, bob, carol, dave) = (user(0xa1), user(0xb0), user(0xc0), user(0xd0));
    let mut chain = Chain::new(&[alice, bob, carol]);
    let token = chain.deploy(alice, token::deploy_code("Test", "TST", alice, u(1000)));
    assert_eq!(chain.code_hash(token), keccak256(token::runtime_code()));

    assert!(decode_bool(&chain.ok(alice, token, token::transfer(bob, u(300)))).unwrap());
    assert_eq!(
        decode_uint(&chain.ok(carol, token, token::balance_of(bob))),
        Some(u(300))
    );
    chain.ok(alice, token, token::approve(carol, u(50)));
    chain.reverts(
        carol,
        token,
        token::transfer_from(alice, dave, u(60)),
        token::ERR_INSUFFICIENT_ALLOWANCE,
    );
    chain.ok(carol, token, token::transfer_from(alice, dave, u(20)));
    chain.reverts(
        bob,
        token,
        token::transfer(dave, u(301)),
        token::ERR_INSUFFICIENT_BALANCE,
    );
    chain.ok(bob, token, token::approve(carol, U256::MAX));
    chain.ok(carol, token, token::transfer_from(bob, carol, u(100)));
    chain.ok(dave, token, token::mint(dave, u(5))); // dave has no ether: gas price is 0
    assert_eq!(
        decode_uint(&chain.ok(bob, token, token::total_supply())),
        Some(u(1005))
    );
    assert_eq!(
        decode_uint(&chain.ok(bob, token, token::allowance(alice, carol))),
        Some(u(30))
    );
    assert_eq!(
        decode_uint(&chain.ok(bob, token, token::decimals())),
        Some(u(18))
    );
    let name = chain.ok(bob, token, token::name());
    assert_eq!(decode_uint(&name), Some(u(32)), "string offset");
    assert_eq!(
        output_word(&name, 1),
        Some(B256::from(u(4))),
        "string length"
    );
    assert_eq!(&name[64..68], b"Test");

    // The whole storage is what the pre-state helper writes for these balances.
    let balances = [
        (alice, u(680)),
        (bob, u(200)),
        (carol, u(100)),
        (dave, u(25)),
    ];
    let allowances = [(alice, carol, u(30)), (bob, carol, U256::MAX)];
    let expected: BTreeMap<U256, U256> =
        token::prestate_storage("Test", "TST", &balances, &allowances)
            .into_iter()
            .collect();
    assert_eq!(chain.all_storage(token), expected);
    assert_eq!(chain.storage(token, token::balance_slot(alice)), u(680));
    assert_eq!(
        chain.storage(token, token::allowance_slot(bob, carol)),
        U256::MAX
    );
    assert_eq!(chain.storage(token, token::total_supply_slot()), u(1005));
}

/// Deploys two tokens and a pool with liquidity by transactions; returns (token0, token1, pool).
fn pool_by_transactions(chain: &mut Chain, lp: Address) -> (Address, Address, Address) {
    let supply = U256::from(10).pow(u(24));
    let t0 = chain.deploy(lp, token::deploy_code("Zero", "T0", lp, supply));
    let t1 = chain.deploy(lp, token::deploy_code("One", "T1", lp, supply));
    let pool = chain.deploy(lp, pool::deploy_code(t0, t1));
    chain.ok(lp, t0, token::approve(pool, U256::MAX));
    chain.ok(lp, t1, token::approve(pool, U256::MAX));
    chain.reverts(
        lp,
        pool,
        pool::swap(u(1), true, u(0), lp),
        pool::ERR_NO_LIQUIDITY,
    );
    chain.ok(lp, pool, pool::add_liquidity(u(1_000_000), u(2_000_000)));
    (t0, t1, pool)
}

#[test]
fn pool_on_evm_matches_helpers_and_written_prestate() {
    let (lp, trader) = (user(0x11), user(0x22));
    let mut chain = Chain::new(&[lp, trader]);
    let (t0, t1, pool) = pool_by_transactions(&mut chain, lp);
    assert_eq!(
        decode_address(&chain.ok(lp, pool, pool::token0())),
        Some(t0)
    );
    assert_eq!(
        decode_address(&chain.ok(lp, pool, pool::token1())),
        Some(t1)
    );
    let reserves = chain.ok(lp, pool, pool::get_reserves());
    assert_eq!(
        (decode_uint(&reserves), output_word(&reserves, 1)),
        (Some(u(1_000_000)), Some(B256::from(u(2_000_000))))
    );
    assert_eq!(
        chain.all_storage(pool),
        pool::prestate_storage(t0, t1, u(1_000_000), u(2_000_000))
            .into_iter()
            .collect()
    );

    // A written pre-state equal to that: same code, same storage, at other addresses.
    let (w0, w1, wpool) = (user(0xe0), user(0xe1), user(0xe2));
    let mut written = Chain::new(&[lp, trader]);
    let lp_left = U256::from(10).pow(u(24));
    written.install(
        w0,
        token::runtime_code(),
        &token::prestate_storage(
            "Zero",
            "T0",
            &[(lp, lp_left - u(1_000_000)), (wpool, u(1_000_000))],
            &[(lp, wpool, U256::MAX)],
        ),
    );
    written.install(
        w1,
        token::runtime_code(),
        &token::prestate_storage(
            "One",
            "T1",
            &[(lp, lp_left - u(2_000_000)), (wpool, u(2_000_000))],
            &[(lp, wpool, U256::MAX)],
        ),
    );
    written.install(
        wpool,
        pool::runtime_code(),
        &pool::prestate_storage(w0, w1, u(1_000_000), u(2_000_000)),
    );

    for (chain, (t0, t1, pool)) in [
        (&mut chain, (t0, t1, pool)),
        (&mut written, (w0, w1, wpool)),
    ] {
        chain.ok(trader, t0, token::mint(trader, u(50_000)));
        chain.ok(trader, t0, token::approve(pool, u(10_000)));
        let expected = pool::amount_out(u(10_000), u(1_000_000), u(2_000_000));
        assert_eq!(
            decode_uint(&chain.ok(trader, pool, pool::get_amount_out(u(10_000), true))),
            Some(expected)
        );
        chain.reverts(
            trader,
            pool,
            pool::swap(u(10_000), true, expected + u(1), trader),
            pool::ERR_SLIPPAGE,
        );
        chain.reverts(
            trader,
            pool,
            pool::swap(u(0), true, u(0), trader),
            pool::ERR_ZERO_INPUT,
        );
        chain.reverts(
            trader,
            pool,
            pool::swap(u(1), false, u(0), trader),
            pool::ERR_ZERO_OUTPUT,
        );
        assert_eq!(
            decode_uint(&chain.ok(trader, pool, pool::swap(u(10_000), true, expected, trader))),
            Some(expected)
        );
        assert_eq!(chain.storage(pool, pool::reserve0_slot()), u(1_010_000));
        assert_eq!(
            chain.storage(pool, pool::reserve1_slot()),
            u(2_000_000) - expected
        );
        assert_eq!(chain.storage(t1, token::balance_slot(trader)), expected);
        assert_eq!(chain.storage(t0, token::allowance_slot(trader, pool)), u(0));
        // And back, the other direction.
        chain.ok(trader, t1, token::approve(pool, U256::MAX));
        let back = pool::amount_out(expected, u(2_000_000) - expected, u(1_010_000));
        chain.ok(trader, pool, pool::swap(expected, false, back, trader));
        assert_eq!(
            chain.storage(t0, token::balance_slot(trader)),
            u(40_000) + back
        );
        assert_eq!(
            chain.storage(pool, pool::reserve0_slot()),
            u(1_010_000) - back
        );
    }
    let expected = pool::amount_out(u(10_000), u(1_000_000), u(2_000_000));
    assert_eq!(expected, u(19_743), "10k in at 1:2 with a 0.3% fee");
    // Both worlds end in the same storage.
    for slot in [pool::reserve0_slot(), pool::reserve1_slot()] {
        assert_eq!(chain.storage(pool, slot), written.storage(wpool, slot));
    }
    for (a, b) in [(t0, w0), (t1, w1)] {
        for holder in [trader, lp] {
            assert_eq!(
                chain.storage(a, token::balance_slot(holder)),
                written.storage(b, token::balance_slot(holder))
            );
        }
        assert_eq!(
            chain.storage(a, token::balance_slot(pool)),
            written.storage(b, token::balance_slot(wpool))
        );
    }
}

#[test]
fn factory_lifecycle_on_evm() {
    let (deployer, user_a, beneficiary) = (user(0x33), user(0x44), user(0x55));
    let mut chain = Chain::new(&[deployer, user_a]);
    let factory = chain.deploy(deployer, factory::creation_code());
    let salt = B256::with_last_byte(1);
    let child = factory::child_address_of(factory, salt);
    assert_eq!(
        decode_address(&chain.ok(user_a, factory, factory::child_address(salt))),
        Some(child)
    );
    assert_eq!(child, factory.create2(salt, child::init_code_hash()));

    // Deploy with value; a second deploy under the same salt fails.
    match chain.call_value(user_a, factory, factory::deploy(salt), u(7)) {
        ExecutionResult::Success { output, .. } => {
            assert_eq!(decode_address(output.data()), Some(child))
        }
        other => panic!("deploy failed: {other:?}"),
    }
    assert_eq!(chain.code_hash(child), keccak256(child::runtime_code()));
    assert_eq!(chain.balance(child), u(7));
    assert_eq!(
        chain.all_storage(child),
        child::prestate_storage(factory, U256::ZERO)
            .into_iter()
            .collect()
    );
    chain.ok(user_a, child, child::set(u(9)));
    assert_eq!(
        decode_uint(&chain.ok(user_a, child, child::value())),
        Some(u(9))
    );
    assert_eq!(
        decode_address(&chain.ok(user_a, child, child::creator())),
        Some(factory)
    );
    chain.reverts(
        user_a,
        factory,
        factory::deploy(salt),
        factory::ERR_CREATE2_FAILED,
    );

    // Self-destruct in a later transaction: the balance moves, the account stays (EIP-6780).
    chain.ok(user_a, child, child::destroy(beneficiary));
    assert_eq!(chain.balance(beneficiary), u(7));
    assert_eq!(chain.code_hash(child), keccak256(child::runtime_code()));
    assert_eq!(chain.storage(child, child::value_slot()), u(9));
    chain.reverts(
        user_a,
        factory,
        factory::deploy(salt),
        factory::ERR_CREATE2_FAILED,
    );

    // Deployed and destroyed in one transaction: the account is gone and can be re-created.
    let salt2 = B256::with_last_byte(2);
    let child2 = factory::child_address_of(factory, salt2);
    match chain.call_value(
        user_a,
        factory,
        factory::deploy_and_destroy(salt2, beneficiary),
        u(5),
    ) {
        ExecutionResult::Success { output, .. } => {
            assert_eq!(decode_address(output.data()), Some(child2))
        }
        other => panic!("deployAndDestroy failed: {other:?}"),
    }
    assert_eq!(chain.balance(beneficiary), u(12));
    assert_eq!(chain.code_hash(child2), KECCAK256_EMPTY);
    assert_eq!(chain.balance(child2), U256::ZERO);
    assert!(chain.all_storage(child2).is_empty());
    chain.ok(user_a, factory, factory::deploy(salt2));
    assert_eq!(chain.code_hash(child2), keccak256(child::runtime_code()));
    assert_eq!(
        chain.storage(child2, U256::from(child::SLOT_CREATOR)),
        U256::from_be_bytes(factory.into_word().0)
    );

    // Reverts, slot writes, gas burning.
    chain.reverts(
        user_a,
        factory,
        factory::always_revert(),
        factory::ERR_ALWAYS_REVERTS,
    );
    chain.ok(user_a, factory, factory::write_slots(u(10), u(3), u(42)));
    chain.reverts(
        user_a,
        factory,
        factory::revert_after_writes(u(20), u(2)),
        factory::ERR_REVERTED_AFTER_WRITES,
    );
    let expected: BTreeMap<U256, U256> = (10..13)
        .map(|k| (factory::slots_slot(u(k)), u(42)))
        .collect();
    assert_eq!(chain.all_storage(factory), expected);
    assert_eq!(
        decode_uint(&chain.ok(user_a, factory, factory::slots(u(11)))),
        Some(u(42))
    );
    match chain.call(user_a, factory, factory::burn_gas(u(200_000))) {
        ExecutionResult::Success { gas, .. } => {
            let used = gas.tx_gas_used();
            assert!(
                (221_000..300_000).contains(&used),
                "burnGas(200000) used {used} gas"
            )
        }
        other => panic!("burnGas failed: {other:?}"),
    }
    let result = chain.transact(
        user_a,
        TxKind::Call(factory),
        factory::burn_gas(u(2_000_000)),
        U256::ZERO,
        1_000_000,
    );
    assert!(
        result.is_halt(),
        "burning more than the gas limit runs out of gas: {result:?}"
    );
}
