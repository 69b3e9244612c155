//! Replay fixtures: real Ethereum blocks with the state they touch and what mainnet recorded
//! for them (the format of `shared/fixtures/README.md`).
//!
//! Signed transactions are rebuilt from their fields and signature; their hash must equal
//! the recorded hash and the recovered sender the recorded `from`, so a fixture that does not
//! describe a real transaction is refused rather than replayed.

use crate::{
    recover_senders,
    state::{InMemoryAccount, InMemoryState},
    types::{Block, BlockEnv, ChainRules, Transaction, Withdrawal},
};
use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEip7702, TxEnvelope, TxLegacy,
    TypedTransaction,
};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip7702::{Authorization, SignedAuthorization},
};
use alloy_primitives::{Address, B256, Bloom, Bytes, Signature, TxKind, U256};
use revm::primitives::hardfork::SpecId;
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

/// A fixture that cannot be used, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FixtureError {
    /// The fixture file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// What mainnet recorded for a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Gas used by the block.
    pub gas_used: u64,
    /// The block's logs bloom.
    pub logs_bloom: Bloom,
    /// The transactions root.
    pub transactions_root: B256,
    /// The receipts root (Byzantium on; earlier receipts hold intermediate state roots).
    pub receipts_root: Option<B256>,
}

/// One loaded fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The file it came from.
    pub path: PathBuf,
    /// The block to execute.
    pub block: Block,
    /// The state the block touches, as it stood before the block.
    pub state: InMemoryState,
    /// What mainnet recorded, when known.
    pub expected: Option<Expected>,
}

/// The fixture files named by `paths`: files as given, folders expanded to their `*.json`
/// files, sorted by block number (then name).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FixtureError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| FixtureError {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| FixtureError {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            entries.sort_by_key(|p| {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                (stem.parse::<u64>().unwrap_or(u64::MAX), stem.to_owned())
            });
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Loads one fixture file. Senders of signed transactions are recovered on `threads`
/// threads.
pub fn load(path: &Path, threads: usize) -> Result<Fixture, FixtureError> {
    let err = |reason: String| FixtureError {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    parse(&json, threads)
        .map_err(err)
        .map(|(block, state, expected)| Fixture {
            path: path.to_owned(),
            block,
            state,
            expected,
        })
}

/// The revm hard fork named as in the fixtures (`BYZANTIUM`, `SPURIOUS_DRAGON`, ...).
pub fn spec_from_name(name: &str) -> Option<SpecId> {
    Some(match name {
        "FRONTIER" => SpecId::FRONTIER,
        "HOMESTEAD" => SpecId::HOMESTEAD,
        "TANGERINE" => SpecId::TANGERINE,
        "SPURIOUS_DRAGON" => SpecId::SPURIOUS_DRAGON,
        "BYZANTIUM" => SpecId::BYZANTIUM,
        "PETERSBURG" => SpecId::PETERSBURG,
        "ISTANBUL" => SpecId::ISTANBUL,
        "BERLIN" => SpecId::BERLIN,
        "LONDON" => SpecId::LONDON,
        "MERGE" => SpecId::MERGE,
        "SHANGHAI" => SpecId::SHANGHAI,
        "CANCUN" => SpecId::CANCUN,
        "PRAGUE" => SpecId::PRAGUE,
        "OSAKA" => SpecId::OSAKA,
        _ => return None,
    })
}

/// The fixture name of a hard fork.
pub fn spec_name(spec: SpecId) -> &'static str {
    match spec {
        SpecId::FRONTIER => "FRONTIER",
        SpecId::HOMESTEAD => "HOMESTEAD",
        SpecId::TANGERINE => "TANGERINE",
        SpecId::SPURIOUS_DRAGON => "SPURIOUS_DRAGON",
        SpecId::BYZANTIUM => "BYZANTIUM",
        SpecId::PETERSBURG => "PETERSBURG",
        SpecId::ISTANBUL => "ISTANBUL",
        SpecId::BERLIN => "BERLIN",
        SpecId::LONDON => "LONDON",
        SpecId::MERGE => "MERGE",
        SpecId::SHANGHAI => "SHANGHAI",
        SpecId::CANCUN => "CANCUN",
        SpecId::PRAGUE => "PRAGUE",
        SpecId::OSAKA => "OSAKA",
        SpecId::AMSTERDAM => "AMSTERDAM",
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name).ok_or_else(|| format!("missing field `{name}`"))
}

fn string<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| format!("field `{name}` is not a string"))
}

fn u256(v: &Value, name: &str) -> Result<U256, String> {
    let value = field(v, name)?;
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| format!("field `{name}` is not a non-negative integer")),
        Value::String(s) => U256::from_str(s).map_err(|e| format!("field `{name}`: {e}")),
        _ => Err(format!("field `{name}` is not a number")),
    }
}

fn u64_field(v: &Value, name: &str) -> Result<u64, String> {
    u256(v, name)?
        .try_into()
        .map_err(|_| format!("field `{name}` does not fit in 64 bits"))
}

fn u128_field(v: &Value, name: &str) -> Result<u128, String> {
    u256(v, name)?
        .try_into()
        .map_err(|_| format!("field `{name}` does not fit in 128 bits"))
}

fn parse_hex<T: FromStr>(v: &Value, name: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    T::from_str(string(v, name)?).map_err(|e| format!("field `{name}`: {e}"))
}

fn opt<T>(
    v: &Value,
    name: &str,
    f: impl Fn(&Value, &str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => f(v, name).map(Some),
    }
}

type Parsed = (Block, InMemoryState, Option<Expected>);

/// Ethereum mainnet's blob base fee update fraction after its blob-parameter-only forks
/// (EIP-7892), which change it by timestamp without a new EVM spec.
fn blob_update_fraction(chain_id: u64, timestamp: u64) -> Option<u64> {
    use alloy_eips::eip7892::{BPO1_BASE_UPDATE_FRACTION, BPO2_BASE_UPDATE_FRACTION};
    use alloy_hardforks::ethereum::mainnet::{MAINNET_BPO1_TIMESTAMP, MAINNET_BPO2_TIMESTAMP};
    if chain_id != 1 {
        return None;
    }
    if timestamp >= MAINNET_BPO2_TIMESTAMP {
        Some(BPO2_BASE_UPDATE_FRACTION)
    } else if timestamp >= MAINNET_BPO1_TIMESTAMP {
        Some(BPO1_BASE_UPDATE_FRACTION)
    } else {
        None
    }
}

fn parse(json: &Value, threads: usize) -> Result<Parsed, String> {
    let chain_id = field(json, "chain_id")?
        .as_u64()
        .ok_or("field `chain_id` is not a number")?;
    let spec_text = string(json, "spec")?;
    let spec = spec_from_name(spec_text).ok_or_else(|| format!("unknown spec `{spec_text}`"))?;
    let env_json = field(json, "env")?;
    let mix_hash: Option<B256> = opt(env_json, "mix_hash", parse_hex)?;
    let number = u64_field(env_json, "number")?;
    let env_timestamp = u64_field(env_json, "timestamp")?;
    let env = BlockEnv {
        number,
        timestamp: u64_field(env_json, "timestamp")?,
        beneficiary: parse_hex(env_json, "beneficiary")?,
        gas_limit: u64_field(env_json, "gas_limit")?,
        base_fee: opt(env_json, "base_fee", u64_field)?,
        difficulty: u256(env_json, "difficulty")?,
        prevrandao: mix_hash,
        excess_blob_gas: opt(env_json, "excess_blob_gas", u64_field)?,
        parent_beacon_block_root: opt(env_json, "parent_beacon_block_root", parse_hex)?,
        parent_hash: None,
    };

    let mut state = InMemoryState::new();
    if let Some(hashes) = json.get("block_hashes").and_then(Value::as_object) {
        for (n, hash) in hashes {
            let n: u64 = n
                .parse()
                .map_err(|_| format!("block_hashes: bad number `{n}`"))?;
            let hash = hash
                .as_str()
                .and_then(|h| B256::from_str(h).ok())
                .ok_or_else(|| format!("block_hashes[{n}]: not a hash"))?;
            state.insert_block_hash(n, hash);
        }
    }
    let pre = field(json, "pre")?
        .as_object()
        .ok_or("field `pre` is not an object")?;
    for (address, account) in pre {
        let address =
            Address::from_str(address).map_err(|e| format!("pre: bad address `{address}`: {e}"))?;
        let ctx = |e: String| format!("pre[{address}]: {e}");
        let mut storage = alloy_primitives::map::HashMap::default();
        if let Some(slots) = account.get("storage").and_then(Value::as_object) {
            for (slot, value) in slots {
                let slot = U256::from_str(slot).map_err(|e| ctx(format!("slot `{slot}`: {e}")))?;
                let value = value
                    .as_str()
                    .and_then(|v| U256::from_str(v).ok())
                    .ok_or_else(|| ctx(format!("storage[{slot}] is not a number")))?;
                storage.insert(slot, value);
            }
        }
        state.insert_account(
            address,
            InMemoryAccount {
                balance: u256(account, "balance").map_err(ctx)?,
                nonce: u64_field(account, "nonce").map_err(ctx)?,
                code: opt(account, "code", parse_hex::<Bytes>)
                    .map_err(ctx)?
                    .unwrap_or_default(),
                storage,
            },
        );
    }

    let txs = field(json, "transactions")?
        .as_array()
        .ok_or("field `transactions` is not an array")?;
    let transactions = parse_transactions(txs, threads)?;

    let mut withdrawals = Vec::new();
    if let Some(list) = json.get("withdrawals").and_then(Value::as_array) {
        for (i, w) in list.iter().enumerate() {
            let ctx = |e: String| format!("withdrawals[{i}]: {e}");
            withdrawals.push(Withdrawal {
                address: parse_hex(w, "address").map_err(ctx)?,
                amount_gwei: u64_field(w, "amount").map_err(ctx)?,
            });
        }
    }

    let expected = match json.get("expected") {
        None | Some(Value::Null) => None,
        Some(e) => Some(Expected {
            gas_used: u64_field(e, "gas_used").map_err(|x| format!("expected: {x}"))?,
            logs_bloom: parse_hex(e, "logs_bloom").map_err(|x| format!("expected: {x}"))?,
            transactions_root: parse_hex(e, "transactions_root")
                .map_err(|x| format!("expected: {x}"))?,
            receipts_root: opt(e, "receipts_root", parse_hex)
                .map_err(|x| format!("expected: {x}"))?,
        }),
    };

    Ok((
        Block {
            env,
            rules: ChainRules {
                chain_id,
                spec,
                blob_base_fee_update_fraction: blob_update_fraction(chain_id, env_timestamp),
            },
            transactions,
            withdrawals,
            deposits: None,
        },
        state,
        expected,
    ))
}

fn parse_transactions(txs: &[Value], threads: usize) -> Result<Vec<Transaction>, String> {
    let mut typed = Vec::with_capacity(txs.len());
    for (i, tx) in txs.iter().enumerate() {
        typed.push(parse_transaction(tx).map_err(|e| format!("transactions[{i}]: {e}"))?);
    }
    let all_signed = typed.iter().all(|(_, _, sig)| sig.is_some());
    if !all_signed {
        return Ok(typed
            .iter()
            .map(|(tx, from, _)| Transaction::unsigned(tx, *from))
            .collect());
    }
    let mut envelopes = Vec::with_capacity(typed.len());
    let mut declared = Vec::with_capacity(typed.len());
    for (i, (tx, from, sig)) in typed.into_iter().enumerate() {
        let (signature, hash) = sig.ok_or_else(|| format!("transactions[{i}]: no signature"))?;
        let envelope: TxEnvelope = match tx {
            TypedTransaction::Legacy(t) => t.into_signed(signature).into(),
            TypedTransaction::Eip2930(t) => t.into_signed(signature).into(),
            TypedTransaction::Eip1559(t) => t.into_signed(signature).into(),
            TypedTransaction::Eip4844(t) => t.into_signed(signature).into(),
            TypedTransaction::Eip7702(t) => t.into_signed(signature).into(),
        };
        if let Some(hash) = hash
            && *envelope.tx_hash() != hash
        {
            return Err(format!(
                "transactions[{i}]: hash of the rebuilt transaction is {} but the fixture records {hash}",
                envelope.tx_hash()
            ));
        }
        envelopes.push(envelope);
        declared.push(from);
    }
    let recovered = recover_senders(envelopes, threads).map_err(|e| e.to_string())?;
    for (i, (tx, from)) in recovered.iter().zip(declared).enumerate() {
        if tx.sender != from {
            return Err(format!(
                "transactions[{i}]: signature recovers {} but the fixture says from {from}",
                tx.sender
            ));
        }
    }
    Ok(recovered)
}

type ParsedTx = (TypedTransaction, Address, Option<(Signature, Option<B256>)>);

fn parse_transaction(tx: &Value) -> Result<ParsedTx, String> {
    let ty = u64_field(tx, "type")?;
    let from: Address = parse_hex(tx, "from")?;
    let to: Option<Address> = opt(tx, "to", parse_hex)?;
    let kind = to.map_or(TxKind::Create, TxKind::Call);
    let nonce = u64_field(tx, "nonce")?;
    let gas_limit = u64_field(tx, "gas")?;
    let value = u256(tx, "value")?;
    let input: Bytes = parse_hex(tx, "input")?;
    let chain_id = opt(tx, "chainId", u64_field)?;
    let access_list = || -> Result<AccessList, String> {
        let mut items = Vec::new();
        if let Some(list) = tx.get("accessList").and_then(Value::as_array) {
            for item in list {
                let keys = item
                    .get("storageKeys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .map(|k| {
                                k.as_str()
                                    .and_then(|k| B256::from_str(k).ok())
                                    .ok_or("accessList: bad storage key".to_owned())
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?
                    .unwrap_or_default();
                items.push(AccessListItem {
                    address: parse_hex(item, "address")?,
                    storage_keys: keys,
                });
            }
        }
        Ok(AccessList(items))
    };
    let chain = || chain_id.ok_or("missing field `chainId`".to_owned());
    let typed = match ty {
        0 => TypedTransaction::Legacy(TxLegacy {
            chain_id,
            nonce,
            gas_price: u128_field(tx, "gasPrice")?,
            gas_limit,
            to: kind,
            value,
            input,
        }),
        1 => TypedTransaction::Eip2930(TxEip2930 {
            chain_id: chain()?,
            nonce,
            gas_price: u128_field(tx, "gasPrice")?,
            gas_limit,
            to: kind,
            value,
            access_list: access_list()?,
            input,
        }),
        2 => TypedTransaction::Eip1559(TxEip1559 {
            chain_id: chain()?,
            nonce,
            gas_limit,
            max_fee_per_gas: u128_field(tx, "maxFeePerGas")?,
            max_priority_fee_per_gas: u128_field(tx, "maxPriorityFeePerGas")?,
            to: kind,
            value,
            access_list: access_list()?,
            input,
        }),
        3 => TypedTransaction::Eip4844(
            TxEip4844 {
                chain_id: chain()?,
                nonce,
                gas_limit,
                max_fee_per_gas: u128_field(tx, "maxFeePerGas")?,
                max_priority_fee_per_gas: u128_field(tx, "maxPriorityFeePerGas")?,
                to: to.ok_or("a blob transaction needs `to`")?,
                value,
                access_list: access_list()?,
                blob_versioned_hashes: field(tx, "blobVersionedHashes")?
                    .as_array()
                    .ok_or("`blobVersionedHashes` is not an array")?
                    .iter()
                    .map(|h| {
                        h.as_str()
                            .and_then(|h| B256::from_str(h).ok())
                            .ok_or("bad blob versioned hash".to_owned())
                    })
                    .collect::<Result<_, _>>()?,
                max_fee_per_blob_gas: u128_field(tx, "maxFeePerBlobGas")?,
                input,
            }
            .into(),
        ),
        4 => TypedTransaction::Eip7702(TxEip7702 {
            chain_id: chain()?,
            nonce,
            gas_limit,
            max_fee_per_gas: u128_field(tx, "maxFeePerGas")?,
            max_priority_fee_per_gas: u128_field(tx, "maxPriorityFeePerGas")?,
            to: to.ok_or("a set-code transaction needs `to`")?,
            value,
            access_list: access_list()?,
            authorization_list: field(tx, "authorizationList")?
                .as_array()
                .ok_or("`authorizationList` is not an array")?
                .iter()
                .map(parse_authorization)
                .collect::<Result<_, _>>()?,
            input,
        }),
        other => return Err(format!("unknown transaction type {other}")),
    };
    let signature = match (tx.get("r"), tx.get("s")) {
        (Some(_), Some(_)) => {
            let r = u256(tx, "r")?;
            let s = u256(tx, "s")?;
            let parity = if ty == 0 {
                let v = u64_field(tx, "v")?;
                match v {
                    27 | 28 => v == 28,
                    v if v >= 35 => (v - 35) % 2 == 1,
                    v => return Err(format!("legacy `v` {v} is not 27, 28 or EIP-155")),
                }
            } else {
                let y = opt(tx, "yParity", u64_field)?.map_or_else(|| u64_field(tx, "v"), Ok)?;
                y == 1
            };
            Some((Signature::new(r, s, parity), opt(tx, "hash", parse_hex)?))
        }
        _ => None,
    };
    Ok((typed, from, signature))
}

fn parse_authorization(a: &Value) -> Result<SignedAuthorization, String> {
    let pick = |snake: &str, camel: &str| -> Result<U256, String> {
        if a.get(snake).is_some() {
            u256(a, snake)
        } else {
            u256(a, camel)
        }
    };
    let inner = Authorization {
        chain_id: pick("chain_id", "chainId")?,
        address: parse_hex(a, "address")?,
        nonce: pick("nonce", "nonce")?
            .try_into()
            .map_err(|_| "authorization nonce does not fit in 64 bits".to_owned())?,
    };
    let y_parity: u8 = pick("y_parity", "yParity")?
        .try_into()
        .map_err(|_| "authorization y_parity is not 0 or 1".to_owned())?;
    Ok(SignedAuthorization::new_unchecked(
        inner,
        y_parity,
        u256(a, "r")?,
        u256(a, "s")?,
    ))
}

/// A difference between two results for one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Which value differs (`gas_used`, `receipts_root`, `parallel.state`, ...).
    pub field: String,
    /// The value it should have.
    pub expected: String,
    /// The value it has.
    pub got: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MISMATCH {} expected={} got={}",
            self.field, self.expected, self.got
        )
    }
}

/// Differences between an executor's output and what mainnet recorded.
pub fn check_expected(expected: &Expected, output: &crate::BlockOutput) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &str, want: String, got: String| {
        if want != got {
            out.push(Mismatch {
                field: field.to_owned(),
                expected: want,
                got,
            });
        }
    };
    check(
        "gas_used",
        expected.gas_used.to_string(),
        output.gas_used.to_string(),
    );
    check(
        "logs_bloom",
        expected.logs_bloom.to_string(),
        output.logs_bloom.to_string(),
    );
    check(
        "transactions_root",
        expected.transactions_root.to_string(),
        output
            .transactions_root
            .map_or_else(|| "none".to_owned(), |r| r.to_string()),
    );
    if let Some(root) = expected.receipts_root {
        check(
            "receipts_root",
            root.to_string(),
            output.receipts_root.to_string(),
        );
    }
    out
}

/// Differences between the sequential (`expected`) and the parallel (`got`) output, field by
/// field, down to the first differing receipt or account.
pub fn check_equal(
    sequential: &crate::BlockOutput,
    parallel: &crate::BlockOutput,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: String, want: String, got: String| {
        if want != got {
            out.push(Mismatch {
                field,
                expected: want,
                got,
            });
        }
    };
    check(
        "parallel.gas_used".into(),
        sequential.gas_used.to_string(),
        parallel.gas_used.to_string(),
    );
    check(
        "parallel.logs_bloom".into(),
        sequential.logs_bloom.to_string(),
        parallel.logs_bloom.to_string(),
    );
    check(
        "parallel.receipts_root".into(),
        sequential.receipts_root.to_string(),
        parallel.receipts_root.to_string(),
    );
    check(
        "parallel.transactions_root".into(),
        format!("{:?}", sequential.transactions_root),
        format!("{:?}", parallel.transactions_root),
    );
    if let Some(i) = (0..sequential.receipts.len().max(parallel.receipts.len())).find(|i| {
        sequential.receipts.get(*i) != parallel.receipts.get(*i)
            || sequential.gas_used_per_tx.get(*i) != parallel.gas_used_per_tx.get(*i)
            || sequential.contract_addresses.get(*i) != parallel.contract_addresses.get(*i)
    }) {
        check(
            format!("parallel.receipts[{i}]"),
            format!("{:?}", sequential.receipts.get(i)),
            format!("{:?}", parallel.receipts.get(i)),
        );
    }
    let (a, b) = (&sequential.state, &parallel.state);
    if a != b {
        let first_account = a
            .accounts
            .iter()
            .find(|(k, v)| b.accounts.get(*k) != Some(*v))
            .map(|(k, _)| *k)
            .or_else(|| {
                b.accounts
                    .keys()
                    .find(|k| !a.accounts.contains_key(*k))
                    .copied()
            });
        let first_storage = a
            .storage
            .iter()
            .find(|(k, v)| b.storage.get(*k) != Some(*v))
            .map(|(k, _)| *k)
            .or_else(|| {
                b.storage
                    .keys()
                    .find(|k| !a.storage.contains_key(*k))
                    .copied()
            });
        if let Some(address) = first_account {
            check(
                format!("parallel.state.accounts[{address}]"),
                format!("{:?}", a.accounts.get(&address)),
                format!("{:?}", b.accounts.get(&address)),
            );
        } else if let Some(address) = first_storage {
            check(
                format!("parallel.state.storage[{address}]"),
                format!("{:?}", a.storage.get(&address)),
                format!("{:?}", b.storage.get(&address)),
            );
        } else {
            check(
                "parallel.state.bytecodes".into(),
                format!("{:?}", a.bytecodes.keys().collect::<Vec<_>>()),
                format!("{:?}", b.bytecodes.keys().collect::<Vec<_>>()),
            );
        }
    }
    out
}
