//! Tests over really signed transactions.

use super::*;
use alloy_consensus::{
    SignableTransaction, Signed, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702,
    TxLegacy,
};
use alloy_eips::{
    eip2930::{AccessList, AccessListItem},
    eip7702::Authorization,
};
use alloy_primitives::{Signature, TxKind};
use alloy_signer::SignerSync;
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner};

const CHAIN: u64 = 7357;
const GWEI: u128 = 1_000_000_000;
const BASE_FEE: u64 = 1_000_000_000;
const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

fn env() -> PoolEnv {
    PoolEnv {
        chain_id: CHAIN,
        base_fee: BASE_FEE,
        block_gas_limit: 30_000_000,
        spec: SpecId::PRAGUE,
    }
}

fn limits(max_transactions: usize, max_per_sender: usize, max_bytes: usize) -> MempoolConfig {
    MempoolConfig {
        max_transactions,
        max_per_sender,
        max_bytes,
    }
}

fn pool() -> Mempool {
    Mempool::new(MempoolConfig::default())
}

/// A fixed key per index.
fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::with_last_byte(i + 1)).unwrap()
}

/// Accounts; missing ones are empty.
#[derive(Default)]
struct State(HashMap<Address, AccountInfo>);

impl State {
    fn rich(keys: &[&PrivateKeySigner]) -> Self {
        let mut state = Self::default();
        for k in keys {
            state.set(k.address(), 0, U256::from(10u128.pow(24)));
        }
        state
    }

    fn set(&mut self, address: Address, nonce: u64, balance: U256) {
        self.0.insert(address, AccountInfo { nonce, balance });
    }
}

impl AccountSource for State {
    fn account(&self, address: Address) -> Result<AccountInfo, String> {
        Ok(self.0.get(&address).copied().unwrap_or_default())
    }
}

struct Broken;

impl AccountSource for Broken {
    fn account(&self, _: Address) -> Result<AccountInfo, String> {
        Err("disk on fire".into())
    }
}

fn sign<T: SignableTransaction<Signature>>(key: &PrivateKeySigner, tx: T) -> Signed<T> {
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    tx.into_signed(sig)
}

fn base_1559(nonce: u64, fee_cap: u128, tip: u128) -> TxEip1559 {
    TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fee_cap,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0xaa)),
        value: U256::from(1),
        access_list: AccessList::default(),
        input: Bytes::new(),
    }
}

/// An EIP-1559 transfer with fee cap 100 gwei and `tip_gwei`.
fn transfer(key: &PrivateKeySigner, nonce: u64, tip_gwei: u128) -> TxEnvelope {
    sign(key, base_1559(nonce, 100 * GWEI, tip_gwei * GWEI)).into()
}

fn eip1559(key: &PrivateKeySigner, f: impl FnOnce(&mut TxEip1559)) -> TxEnvelope {
    let mut tx = base_1559(0, 100 * GWEI, GWEI);
    f(&mut tx);
    sign(key, tx).into()
}

fn legacy(key: &PrivateKeySigner, nonce: u64, gas_price: u128) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: Some(CHAIN),
        nonce,
        gas_price,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0xbb)),
        value: U256::from(5),
        input: Bytes::new(),
    };
    sign(key, tx).into()
}

fn eip2930(key: &PrivateKeySigner, nonce: u64) -> TxEnvelope {
    let tx = TxEip2930 {
        chain_id: CHAIN,
        nonce,
        gas_price: 2 * GWEI,
        gas_limit: 30_000,
        to: TxKind::Call(Address::repeat_byte(0xcc)),
        value: U256::ZERO,
        access_list: AccessList(vec![AccessListItem {
            address: Address::repeat_byte(0xcc),
            storage_keys: vec![B256::ZERO],
        }]),
        input: Bytes::new(),
    };
    sign(key, tx).into()
}

fn eip7702(key: &PrivateKeySigner, nonce: u64, auths: usize) -> TxEnvelope {
    let authorization_list = (0..auths)
        .map(|i| {
            let auth = Authorization {
                chain_id: U256::from(CHAIN),
                address: Address::repeat_byte(0xde),
                nonce: nonce + 1 + i as u64,
            };
            let sig = key.sign_hash_sync(&auth.signature_hash()).unwrap();
            auth.into_signed(sig)
        })
        .collect();
    let tx = TxEip7702 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: key.address(),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list,
        input: Bytes::new(),
    };
    sign(key, tx).into()
}

fn add(pool: &mut Mempool, tx: TxEnvelope, state: &State) -> AddOutcome {
    pool.add(tx, state, &env()).unwrap()
}

fn refuse(pool: &mut Mempool, tx: TxEnvelope, state: &State, env: &PoolEnv) -> MempoolError {
    pool.add(tx, state, env).unwrap_err()
}

/// The (sender key index, nonce) sequence `best` returns.
fn order(picked: &[Arc<PooledTx>], keys: &[&PrivateKeySigner]) -> Vec<(usize, u64)> {
    picked
        .iter()
        .map(|tx| {
            let k = keys.iter().position(|k| k.address() == tx.sender).unwrap();
            (k, tx.nonce)
        })
        .collect()
}

#[test]
fn accepts_every_supported_type_and_recovers_the_sender() {
    let dev = MnemonicBuilder::from_phrase_nth(DEV_MNEMONIC, 0);
    let (a, b, c) = (key(0), key(1), key(2));
    let state = State::rich(&[&dev, &a, &b, &c]);
    let mut pool = pool();
    for (tx, who) in [
        (legacy(&dev, 0, 2 * GWEI), &dev),
        (eip2930(&a, 0), &a),
        (transfer(&b, 0, 1), &b),
        (eip7702(&c, 0, 2), &c),
    ] {
        let hash = *tx.tx_hash();
        let encoded = tx.encoded_2718();
        let out = add(&mut pool, tx, &state);
        assert_eq!(out.hash, hash);
        assert_eq!(out.status, TxStatus::Ready);
        assert_eq!(out.replaced, None);
        let pooled = pool.get(&hash).unwrap();
        assert_eq!(pooled.sender, who.address());
        assert_eq!(pooled.encoded.as_ref(), encoded.as_slice());
        assert_eq!(decode_raw(&pooled.encoded).unwrap(), pooled.envelope);
    }
    assert_eq!((pool.len(), pool.ready_len(), pool.queued_len()), (4, 4, 0));
    assert_eq!(
        pool.bytes(),
        pool.iter().map(|t| t.encoded.len()).sum::<usize>()
    );
    assert_eq!(pool.stats().added, 4);
}

#[test]
fn decode_raw_errors_read_like_geth() {
    let tx = transfer(&key(0), 0, 1);
    let raw = tx.encoded_2718();
    assert_eq!(decode_raw(&raw).unwrap(), tx);

    let mut trailing = raw.clone();
    trailing.push(0x80);
    let e = decode_raw(&trailing).unwrap_err();
    assert_eq!(e.to_string(), "rlp: input contains more than one value");
    assert_eq!(e.reason(), "decode");

    assert_eq!(
        decode_raw(&[]).unwrap_err().to_string(),
        "typed transaction too short"
    );
    assert_eq!(
        decode_raw(&[0x02]).unwrap_err().to_string(),
        "typed transaction too short"
    );
    let e = decode_raw(&[0x05, 0xc0]).unwrap_err();
    assert_eq!(e.to_string(), "transaction type not supported");
    assert_eq!(e.reason(), "tx_type_not_supported");

    let e = decode_raw(&raw[..raw.len() - 3]).unwrap_err();
    assert!(matches!(e, MempoolError::Rlp(_)), "{e:?}");
    assert!(e.to_string().starts_with("rlp: "), "{e}");

    let huge = vec![0u8; MAX_TX_SIZE + 1];
    assert_eq!(
        decode_raw(&huge).unwrap_err().to_string(),
        "oversized data: transaction size 131073, limit 131072"
    );

    // add_raw counts decoding failures too.
    let mut pool = pool();
    let state = State::rich(&[&key(0)]);
    assert!(pool.add_raw(&trailing, &state, &env()).is_err());
    pool.add_raw(&raw, &state, &env()).unwrap();
    assert_eq!(pool.stats().rejected.get("decode"), Some(&1));
    assert_eq!(pool.len(), 1);
}

#[test]
fn refuses_blob_transactions() {
    let k = key(0);
    let tx = TxEip4844Variant::TxEip4844(TxEip4844 {
        chain_id: CHAIN,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(1),
        value: U256::ZERO,
        access_list: AccessList::default(),
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    });
    let tx = TxEnvelope::Eip4844(sign(&k, tx));
    let raw = tx.encoded_2718();
    let mut pool = pool();
    let state = State::rich(&[&k]);
    let e = pool.add_raw(&raw, &state, &env()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "transaction type not supported: tx type 3 not supported by this pool"
    );
    assert_eq!(e.reason(), "tx_type_not_supported");
    assert!(pool.is_empty());
}

#[test]
fn refuses_types_before_their_fork() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let london = PoolEnv {
        spec: SpecId::LONDON,
        ..env()
    };
    let e = refuse(&mut pool, eip7702(&k, 0, 1), &state, &london);
    assert_eq!(
        e.to_string(),
        "transaction type not supported: type 4 rejected, pool not yet in Prague"
    );
    let berlin = PoolEnv {
        spec: SpecId::BERLIN,
        ..env()
    };
    let e = refuse(&mut pool, transfer(&k, 0, 1), &state, &berlin);
    assert_eq!(
        e.to_string(),
        "transaction type not supported: type 2 rejected, pool not yet in London"
    );
}

#[test]
fn refuses_empty_authorization_list() {
    let k = key(0);
    let mut pool = pool();
    let e = refuse(&mut pool, eip7702(&k, 0, 0), &State::rich(&[&k]), &env());
    assert_eq!(e.to_string(), "EIP-7702 transaction with empty auth list");
}

#[test]
fn refuses_a_malleated_high_s_signature() {
    let k = key(0);
    let signed = sign(&k, base_1559(0, 10 * GWEI, GWEI));
    let sig = *signed.signature();
    let n = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let twin = Signature::new(sig.r(), n - sig.s(), !sig.v());
    // The twin recovers to the same key without the EIP-2 check, so it really is a twin.
    let twin = Signed::new_unhashed(signed.tx().clone(), twin);
    assert_eq!(
        alloy_consensus::transaction::SignerRecoverable::recover_signer_unchecked(&twin).unwrap(),
        k.address()
    );
    let mut pool = pool();
    let state = State::rich(&[&k]);
    let e = refuse(&mut pool, twin.into(), &state, &env());
    assert_eq!(
        e.to_string(),
        "invalid sender: invalid transaction v, r, s values"
    );
    assert_eq!(e.reason(), "invalid_sender");
    add(&mut pool, signed.into(), &state);
}

#[test]
fn refuses_wrong_or_missing_chain_id() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let e = refuse(&mut pool, eip1559(&k, |tx| tx.chain_id = 1), &state, &env());
    assert_eq!(
        e.to_string(),
        "invalid sender: invalid chain id for signer: have 1 want 7357"
    );
    let wrong_legacy = TxLegacy {
        chain_id: Some(5),
        nonce: 0,
        gas_price: 2 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let e = refuse(
        &mut pool,
        sign(&k, wrong_legacy.clone()).into(),
        &state,
        &env(),
    );
    assert_eq!(
        e.to_string(),
        "invalid sender: invalid chain id for signer: have 5 want 7357"
    );
    let unprotected = TxLegacy {
        chain_id: None,
        ..wrong_legacy
    };
    let e = refuse(&mut pool, sign(&k, unprotected).into(), &state, &env());
    assert_eq!(
        e.to_string(),
        "only replay-protected (EIP-155) transactions allowed over RPC"
    );
    assert!(pool.is_empty());
}

#[test]
fn refuses_oversized_transactions() {
    let k = key(0);
    let tx = eip1559(&k, |tx| {
        tx.input = vec![1u8; MAX_TX_SIZE].into();
        tx.gas_limit = 29_000_000;
    });
    let size = tx.eip2718_encoded_length();
    let e = refuse(&mut pool(), tx, &State::rich(&[&k]), &env());
    assert_eq!(
        e.to_string(),
        format!("oversized data: transaction size {size}, limit 131072")
    );
}

#[test]
fn refuses_initcode_above_the_eip3860_limit() {
    let k = key(0);
    let tx = eip1559(&k, |tx| {
        tx.to = TxKind::Create;
        tx.input = vec![0u8; 49_153].into();
        tx.gas_limit = 1_000_000;
    });
    let e = refuse(&mut pool(), tx, &State::rich(&[&k]), &env());
    assert_eq!(
        e.to_string(),
        "max initcode size exceeded: code size 49153, limit 49152"
    );
}

#[test]
fn refuses_gas_above_the_block_limit_and_the_osaka_cap() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let e = refuse(
        &mut pool,
        eip1559(&k, |tx| tx.gas_limit = 30_000_001),
        &state,
        &env(),
    );
    assert_eq!(e.to_string(), "exceeds block gas limit");
    let osaka = PoolEnv {
        spec: SpecId::OSAKA,
        ..env()
    };
    let e = refuse(
        &mut pool,
        eip1559(&k, |tx| tx.gas_limit = 16_777_217),
        &state,
        &osaka,
    );
    assert_eq!(
        e.to_string(),
        "transaction gas limit too high (cap: 16777216, tx: 16777217)"
    );
    // Under Prague the same gas is fine.
    add(
        &mut pool,
        eip1559(&k, |tx| tx.gas_limit = 16_777_217),
        &state,
    );
}

#[test]
fn refuses_tip_above_fee_cap() {
    let k = key(0);
    let tx = eip1559(&k, |tx| {
        tx.max_fee_per_gas = 2 * GWEI;
        tx.max_priority_fee_per_gas = 3 * GWEI;
    });
    let e = refuse(&mut pool(), tx, &State::rich(&[&k]), &env());
    let address = k.address().to_checksum(None);
    assert_eq!(
        e.to_string(),
        format!(
            "max priority fee per gas higher than max fee per gas: address {address}, \
             maxPriorityFeePerGas: 3000000000, maxFeePerGas: 2000000000"
        )
    );
}

#[test]
fn refuses_fee_cap_below_base_fee() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let tx = eip1559(&k, |tx| {
        tx.max_fee_per_gas = u128::from(BASE_FEE) - 1;
        tx.max_priority_fee_per_gas = 0;
    });
    let e = refuse(&mut pool, tx, &state, &env());
    assert_eq!(
        e.to_string(),
        format!(
            "max fee per gas less than block base fee: address {}, \
             maxFeePerGas: 999999999, baseFee: 1000000000",
            k.address()
        )
    );
    // A legacy gas price is its fee cap.
    let e = refuse(
        &mut pool,
        legacy(&k, 0, u128::from(BASE_FEE) - 1),
        &state,
        &env(),
    );
    assert_eq!(e.reason(), "fee_cap_too_low");
    add(&mut pool, legacy(&k, 0, u128::from(BASE_FEE)), &state);
}

#[test]
fn refuses_gas_below_intrinsic_and_the_prague_floor() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let e = refuse(
        &mut pool,
        eip1559(&k, |tx| tx.gas_limit = 20_999),
        &state,
        &env(),
    );
    assert_eq!(
        e.to_string(),
        "intrinsic gas too low: gas 20999, minimum needed 21000"
    );
    // One address and one slot in the access list: 21000 + 2400 + 1900.
    let with_list = |gas| {
        eip1559(&k, |tx| {
            tx.gas_limit = gas;
            tx.access_list = AccessList(vec![AccessListItem {
                address: Address::ZERO,
                storage_keys: vec![B256::ZERO],
            }]);
        })
    };
    let e = refuse(&mut pool, with_list(25_299), &state, &env());
    assert_eq!(
        e.to_string(),
        "intrinsic gas too low: gas 25299, minimum needed 25300"
    );
    // 1000 non-zero bytes: 21000 + 16 * 1000 intrinsic, 21000 + 10 * 4000 floor.
    let calldata = |gas| {
        eip1559(&k, |tx| {
            tx.gas_limit = gas;
            tx.input = vec![0xff; 1000].into();
        })
    };
    let e = refuse(&mut pool, calldata(36_999), &state, &env());
    assert_eq!(
        e.to_string(),
        "intrinsic gas too low: gas 36999, minimum needed 37000"
    );
    let e = refuse(&mut pool, calldata(60_999), &state, &env());
    assert_eq!(
        e.to_string(),
        "insufficient gas for floor data gas cost: gas 60999, minimum needed 61000"
    );
    // Before Prague there is no floor.
    let cancun = PoolEnv {
        spec: SpecId::CANCUN,
        ..env()
    };
    pool.add(calldata(60_999), &state, &cancun).unwrap();
}

#[test]
fn refuses_nonce_too_low_and_max_nonce() {
    let k = key(0);
    let mut state = State::default();
    state.set(k.address(), 5, U256::from(10u128.pow(24)));
    let mut pool = pool();
    let e = refuse(&mut pool, transfer(&k, 3, 1), &state, &env());
    assert_eq!(e.to_string(), "nonce too low: next nonce 5, tx nonce 3");
    let e = refuse(&mut pool, transfer(&k, u64::MAX, 1), &state, &env());
    assert_eq!(
        e.to_string(),
        format!(
            "nonce has max value: address {}, nonce: 18446744073709551615",
            k.address()
        )
    );
}

#[test]
fn refuses_insufficient_funds_alone_and_with_pooled_transactions() {
    let k = key(0);
    let cost = U256::from(21_000u128 * 100 * GWEI + 1);
    let mut state = State::default();
    state.set(k.address(), 0, cost - U256::from(1));
    let mut pool = pool();
    let e = refuse(&mut pool, transfer(&k, 0, 1), &state, &env());
    assert_eq!(
        e.to_string(),
        format!(
            "insufficient funds for gas * price + value: balance {}, tx cost {}, overshot 1",
            cost - U256::from(1),
            cost
        )
    );
    // Enough for one but not two.
    state.set(k.address(), 0, cost * U256::from(2) - U256::from(1));
    add(&mut pool, transfer(&k, 0, 1), &state);
    let e = refuse(&mut pool, transfer(&k, 1, 1), &state, &env());
    assert_eq!(
        e.to_string(),
        format!(
            "insufficient funds for gas * price + value: balance {}, queued cost {cost}, \
             tx cost {cost}, overshot 1",
            cost * U256::from(2) - U256::from(1)
        )
    );
    // A replacement is charged its bump on top of what is pooled.
    let two = cost * U256::from(2);
    state.set(k.address(), 0, two);
    add(&mut pool, transfer(&k, 1, 1), &state);
    let bump = eip1559(&k, |tx| {
        tx.max_fee_per_gas = 200 * GWEI;
        tx.max_priority_fee_per_gas = 2 * GWEI;
    });
    let e = refuse(&mut pool, bump, &state, &env());
    let bumped = cost - U256::from(1);
    assert_eq!(
        e.to_string(),
        format!(
            "insufficient funds for gas * price + value: balance {two}, queued cost {two}, \
             tx bumped {bumped}, overshot {bumped}"
        )
    );
    assert_eq!(pool.stats().rejected.get("insufficient_funds"), Some(&3));
}

#[test]
fn refuses_already_known() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let tx = transfer(&k, 0, 1);
    add(&mut pool, tx.clone(), &state);
    let e = refuse(&mut pool, tx, &state, &env());
    assert_eq!(e.to_string(), "already known");
    assert_eq!(pool.len(), 1);
}

#[test]
fn replacement_needs_ten_percent_on_fee_cap_and_tip() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let with = |fee_cap: u128, tip: u128| {
        eip1559(&k, |tx| {
            tx.max_fee_per_gas = fee_cap;
            tx.max_priority_fee_per_gas = tip;
        })
    };
    let first = add(&mut pool, with(100 * GWEI, 10 * GWEI), &state);
    for (fee_cap, tip) in [
        (109 * GWEI, 11 * GWEI),           // 9% on the fee cap
        (110 * GWEI, 10_900_000_000),      // 9% on the tip
        (109_999_999_999, 10_999_999_999), // just short on both
        (1000 * GWEI, 10 * GWEI),          // tip unchanged
    ] {
        let e = refuse(&mut pool, with(fee_cap, tip), &state, &env());
        assert_eq!(e.to_string(), "replacement transaction underpriced");
    }
    assert!(pool.contains(&first.hash));
    let second = add(&mut pool, with(110 * GWEI, 11 * GWEI), &state);
    assert_eq!(second.replaced, Some(first.hash));
    assert_eq!(second.status, TxStatus::Ready);
    assert!(!pool.contains(&first.hash));
    assert!(pool.contains(&second.hash));
    assert_eq!((pool.len(), pool.ready_len()), (1, 1));
    assert_eq!(pool.bytes(), pool.get(&second.hash).unwrap().encoded.len());
    assert_eq!(pool.stats().replaced, 1);
    assert_eq!(
        pool.stats().rejected.get("replacement_underpriced"),
        Some(&4)
    );
}

#[test]
fn ready_and_queued_and_promotion_on_commit() {
    let k = key(0);
    let mut state = State::rich(&[&k]);
    let mut pool = pool();
    let t0 = add(&mut pool, transfer(&k, 0, 1), &state);
    let t2 = add(&mut pool, transfer(&k, 2, 1), &state);
    let t4 = add(&mut pool, transfer(&k, 4, 1), &state);
    assert_eq!(t0.status, TxStatus::Ready);
    assert_eq!(t2.status, TxStatus::Queued);
    assert_eq!((pool.ready_len(), pool.queued_len()), (1, 2));
    assert_eq!(pool.pending_nonce(k.address(), 0), 1);

    // Filling the gap makes the next one ready too.
    let t1 = add(&mut pool, transfer(&k, 1, 1), &state);
    assert_eq!(t1.status, TxStatus::Ready);
    assert_eq!(pool.status(&t2.hash), Some(TxStatus::Ready));
    assert_eq!(pool.status(&t4.hash), Some(TxStatus::Queued));
    assert_eq!((pool.ready_len(), pool.queued_len()), (3, 1));
    assert_eq!(pool.pending_nonce(k.address(), 0), 3);

    // A block with nonces 0..=3 (3 came from elsewhere): 0..=2 go, 4 becomes ready.
    state.set(k.address(), 4, U256::from(10u128.pow(24)));
    let out = pool.on_commit([k.address(), k.address()], &state, &env());
    assert_eq!(
        out,
        CommitOutcome {
            removed: 3,
            promoted: 1,
            demoted: 0,
            state_errors: 0
        }
    );
    assert_eq!(pool.len(), 1);
    assert_eq!(pool.status(&t4.hash), Some(TxStatus::Ready));
    assert!(!pool.contains(&t0.hash));
    assert_eq!(pool.pending_nonce(k.address(), 4), 5);
    assert_eq!(pool.stats().removed, 3);
    assert_eq!(pool.bytes(), pool.get(&t4.hash).unwrap().encoded.len());
}

#[test]
fn commit_demotes_and_drops_what_the_balance_no_longer_covers() {
    let (k, other) = (key(0), key(1));
    let mut state = State::rich(&[&k, &other]);
    let mut pool = pool();
    let cost = U256::from(21_000u128 * 100 * GWEI + 1);
    let hashes: Vec<B256> = (0..3)
        .map(|n| add(&mut pool, transfer(&k, n, 1), &state).hash)
        .collect();
    let unrelated = add(&mut pool, transfer(&other, 0, 1), &state).hash;
    assert_eq!(pool.ready_len(), 4);

    // Funds for two of the three: the third is demoted.
    state.set(k.address(), 0, cost * U256::from(2));
    let out = pool.on_commit([k.address()], &state, &env());
    assert_eq!((out.removed, out.promoted, out.demoted), (0, 0, 1));
    assert_eq!(pool.status(&hashes[2]), Some(TxStatus::Queued));
    assert_eq!(pool.ready_len(), 3);
    assert_eq!(
        order(&pool.best(30_000_000, BASE_FEE, 100), &[&k, &other]).len(),
        3
    );
    // Less than one costs: all dropped; the other sender is untouched.
    state.set(k.address(), 0, cost - U256::from(1));
    let out = pool.on_commit([k.address()], &state, &env());
    assert_eq!((out.removed, out.promoted, out.demoted), (3, 0, 0));
    assert_eq!(pool.len(), 1);
    assert!(pool.contains(&unrelated));
    assert_eq!(pool.pending_nonce(k.address(), 0), 0);

    // An unreadable account drops that sender's transactions.
    let out = pool.on_commit([other.address()], &Broken, &env());
    assert_eq!((out.removed, out.state_errors), (1, 1));
    assert!(pool.is_empty());
    assert_eq!((pool.ready_len(), pool.bytes()), (0, 0));
}

#[test]
fn state_errors_refuse_admission() {
    let k = key(0);
    let mut pool = pool();
    let e = pool.add(transfer(&k, 0, 1), &Broken, &env()).unwrap_err();
    assert_eq!(e.to_string(), "state unavailable: disk on fire");
    assert_eq!(e.reason(), "state_unavailable");
}

#[test]
fn best_orders_by_effective_tip_and_keeps_nonce_order() {
    let keys = [key(0), key(1), key(2), key(3), key(4)];
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let mut pool = pool();
    // Sender 0: a cheap nonce 0 ahead of a rich nonce 1.
    add(&mut pool, transfer(&keys[0], 0, 1), &state);
    add(&mut pool, transfer(&keys[0], 1, 50), &state);
    add(&mut pool, transfer(&keys[1], 0, 3), &state);
    add(&mut pool, transfer(&keys[2], 0, 2), &state);
    // Tip 2 gwei but fee cap 2.5 gwei: effective 1.5 gwei at base fee 1 gwei.
    add(
        &mut pool,
        eip1559(&keys[3], |tx| {
            tx.max_fee_per_gas = 2_500_000_000;
            tx.max_priority_fee_per_gas = 2 * GWEI;
        }),
        &state,
    );
    // Legacy at 5 gwei: effective tip 4 gwei.
    add(&mut pool, legacy(&keys[4], 0, 5 * GWEI), &state);
    // Queued: never offered.
    add(&mut pool, transfer(&keys[1], 5, 100), &state);

    let picked = pool.best(30_000_000, BASE_FEE, 100);
    assert_eq!(
        order(&picked, &refs),
        vec![(4, 0), (1, 0), (2, 0), (3, 0), (0, 0), (0, 1)]
    );
    // At base fee 2 gwei sender 3 (effective 0.5) drops behind sender 0 (tip 1).
    let picked = pool.best(30_000_000, 2 * BASE_FEE, 100);
    assert_eq!(
        order(&picked, &refs),
        // Senders 1 and 4 tie at 3 gwei: the earlier admitted goes first.
        vec![(1, 0), (4, 0), (2, 0), (0, 0), (0, 1), (3, 0)]
    );
    // At base fee 3 gwei sender 3's fee cap is too low: skipped.
    let picked = pool.best(30_000_000, 3 * BASE_FEE, 100);
    assert_eq!(
        order(&picked, &refs),
        vec![(1, 0), (2, 0), (4, 0), (0, 0), (0, 1)]
    );
    assert_eq!(
        order(&pool.best(30_000_000, BASE_FEE, 2), &refs),
        vec![(4, 0), (1, 0)]
    );
}

#[test]
fn best_packs_gas_skipping_a_sender_that_does_not_fit() {
    let keys = [key(0), key(1), key(2)];
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let mut pool = pool();
    let gas = |k: &PrivateKeySigner, nonce, gas_limit, tip: u128| {
        eip1559(k, |tx| {
            tx.nonce = nonce;
            tx.gas_limit = gas_limit;
            tx.max_priority_fee_per_gas = tip * GWEI;
        })
    };
    add(&mut pool, gas(&keys[0], 0, 60_000, 10), &state);
    add(&mut pool, gas(&keys[1], 0, 55_000, 9), &state);
    add(&mut pool, gas(&keys[1], 1, 21_000, 9), &state);
    add(&mut pool, gas(&keys[2], 0, 30_000, 1), &state);
    let picked = pool.best(110_000, BASE_FEE, 100);
    // Sender 1's 55k does not fit after 60k; its nonce 1 must not follow either.
    assert_eq!(order(&picked, &refs), vec![(0, 0), (2, 0)]);
    let picked = pool.best(200_000, BASE_FEE, 100);
    assert_eq!(order(&picked, &refs), vec![(0, 0), (1, 0), (1, 1), (2, 0)]);
    assert!(pool.best(20_999, BASE_FEE, 100).is_empty());
}

#[test]
fn best_is_greedy_and_executable_over_many_senders() {
    let keys: Vec<PrivateKeySigner> = (0..60).map(key).collect();
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let mut pool = pool();
    for (i, k) in keys.iter().enumerate() {
        for n in 0..4u64 {
            // Tips vary across and within senders, deterministically.
            let tip = ((i as u128 * 7 + n as u128 * 13) % 17) + 1;
            add(&mut pool, transfer(k, n, tip), &state);
        }
    }
    assert_eq!(pool.ready_len(), 240);
    let picked = pool.best(u64::MAX, BASE_FEE, usize::MAX);
    assert_eq!(picked.len(), 240);
    let mut next: HashMap<Address, u64> = HashMap::new();
    for (i, tx) in picked.iter().enumerate() {
        let head = |sender: &Address| next.get(sender).copied().unwrap_or(0);
        assert_eq!(tx.nonce, head(&tx.sender), "sender order broken at {i}");
        // No other sender's next executable transaction pays more.
        let tip = tx.effective_tip(BASE_FEE).unwrap();
        for other in &picked[i + 1..] {
            if other.sender != tx.sender && other.nonce == head(&other.sender) {
                assert!(
                    other.effective_tip(BASE_FEE).unwrap() <= tip,
                    "not greedy at {i}"
                );
            }
        }
        *next.entry(tx.sender).or_default() += 1;
    }
}

#[test]
fn per_sender_limit() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = Mempool::new(limits(100, 3, 1 << 20));
    for n in 0..3 {
        add(&mut pool, transfer(&k, n, 1), &state);
    }
    let e = refuse(&mut pool, transfer(&k, 3, 1), &state, &env());
    assert_eq!(e.to_string(), "account limit exceeded: pooled 3 txs");
    assert_eq!(e.reason(), "account_limit");
    // Replacing at the limit is fine.
    let bump = eip1559(&k, |tx| {
        tx.nonce = 2;
        tx.max_fee_per_gas = 110 * GWEI;
        tx.max_priority_fee_per_gas = 2 * GWEI;
    });
    assert!(add(&mut pool, bump, &state).replaced.is_some());
    assert_eq!(pool.len(), 3);
}

#[test]
fn per_sender_limit_lets_a_gap_be_filled_by_dropping_the_highest() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = Mempool::new(limits(100, 3, 1 << 20));
    add(&mut pool, transfer(&k, 0, 1), &state);
    add(&mut pool, transfer(&k, 2, 1), &state);
    let far = add(&mut pool, transfer(&k, 9, 1), &state);
    let out = add(&mut pool, transfer(&k, 1, 1), &state);
    assert_eq!(out.evicted, vec![far.hash]);
    assert_eq!(out.status, TxStatus::Ready);
    assert_eq!((pool.len(), pool.ready_len()), (3, 3));
    assert_eq!(pool.stats().evicted, 1);
}

#[test]
fn full_pool_evicts_the_cheapest_if_the_newcomer_pays_more() {
    let keys = [key(0), key(1), key(2), key(3), key(4)];
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let mut pool = Mempool::new(limits(3, 3, 1 << 20));
    let a = add(&mut pool, transfer(&keys[0], 0, 1), &state);
    add(&mut pool, transfer(&keys[1], 0, 2), &state);
    add(&mut pool, transfer(&keys[2], 0, 3), &state);
    let d = add(&mut pool, transfer(&keys[3], 0, 5), &state);
    assert_eq!(d.evicted, vec![a.hash]);
    assert!(!pool.contains(&a.hash));
    assert_eq!(pool.len(), 3);
    // Paying the same as the cheapest left (2 gwei) is not enough.
    let e = refuse(&mut pool, transfer(&keys[4], 0, 2), &state, &env());
    assert_eq!(e.to_string(), "transaction underpriced");
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.stats().evicted, 1);
}

#[test]
fn full_pool_evicts_queued_first_and_never_for_a_future_nonce() {
    let keys = [key(0), key(1), key(2), key(3)];
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let mut pool = Mempool::new(limits(2, 2, 1 << 20));
    let ready = add(&mut pool, transfer(&keys[0], 0, 1), &state);
    let queued = add(&mut pool, transfer(&keys[1], 1, 2), &state);
    assert_eq!(queued.status, TxStatus::Queued);
    // The queued one goes although the ready one is cheaper.
    let out = add(&mut pool, transfer(&keys[2], 0, 5), &state);
    assert_eq!(out.evicted, vec![queued.hash]);
    assert!(pool.contains(&ready.hash));
    // Only ready transactions left: a future nonce may not push them out.
    let e = refuse(&mut pool, transfer(&keys[3], 1, 50), &state, &env());
    assert_eq!(e.to_string(), "future transaction tries to replace pending");
    assert_eq!(pool.ready_len(), 2);
}

#[test]
fn eviction_takes_a_senders_last_transaction_and_leaves_no_gap() {
    let (a, b) = (key(0), key(1));
    let state = State::rich(&[&a, &b]);
    let mut pool = Mempool::new(limits(3, 3, 1 << 20));
    let a0 = add(&mut pool, transfer(&a, 0, 1), &state);
    let a1 = add(&mut pool, transfer(&a, 1, 2), &state);
    let a2 = add(&mut pool, transfer(&a, 2, 2), &state);
    let out = add(&mut pool, transfer(&b, 0, 3), &state);
    assert_eq!(out.evicted, vec![a2.hash]);
    assert_eq!(pool.status(&a0.hash), Some(TxStatus::Ready));
    assert_eq!(pool.status(&a1.hash), Some(TxStatus::Ready));
    assert_eq!(pool.ready_len(), 3);
    // A sender never evicts its own transactions to make room for itself.
    let mut pool = Mempool::new(limits(2, 3, 1 << 20));
    add(&mut pool, transfer(&a, 0, 1), &state);
    add(&mut pool, transfer(&a, 1, 1), &state);
    let e = refuse(&mut pool, transfer(&a, 2, 90), &state, &env());
    assert_eq!(e.to_string(), "txpool is full");
    assert_eq!(e.reason(), "pool_full");
}

#[test]
fn byte_limit_evicts_as_many_as_needed() {
    let keys = [key(0), key(1), key(2)];
    let refs: Vec<&PrivateKeySigner> = keys.iter().collect();
    let state = State::rich(&refs);
    let small = transfer(&keys[0], 0, 1);
    let size = small.eip2718_encoded_length();
    let mut pool = Mempool::new(limits(100, 10, 2 * size + 10));
    let s0 = add(&mut pool, small, &state);
    let s1 = add(&mut pool, transfer(&keys[1], 0, 2), &state);
    assert_eq!(
        pool.bytes(),
        pool.iter().map(|t| t.encoded.len()).sum::<usize>()
    );
    // A big one needs both gone.
    let big = eip1559(&keys[2], |tx| {
        tx.input = vec![0xff; size].into();
        tx.gas_limit = 100_000;
        tx.max_priority_fee_per_gas = 3 * GWEI;
    });
    let out = add(&mut pool, big, &state);
    assert_eq!(out.evicted, vec![s0.hash, s1.hash]);
    assert_eq!(pool.len(), 1);
    assert!(pool.bytes() <= 2 * size + 10);
    // Alone it would not fit at all.
    let huge = eip1559(&keys[0], |tx| {
        tx.input = vec![0xff; 3 * size].into();
        tx.gas_limit = 200_000;
        tx.max_priority_fee_per_gas = 50 * GWEI;
    });
    let e = refuse(&mut pool, huge, &state, &env());
    assert_eq!(e.to_string(), "txpool is full");
    // ... and evicted nothing trying.
    assert!(pool.contains(&out.hash));
}

#[test]
fn remove_demotes_the_senders_later_transactions() {
    let k = key(0);
    let state = State::rich(&[&k]);
    let mut pool = pool();
    let hashes: Vec<B256> = (0..3)
        .map(|n| add(&mut pool, transfer(&k, n, 1), &state).hash)
        .collect();
    let removed = pool.remove(&hashes[1]).unwrap();
    assert_eq!(removed.nonce, 1);
    assert!(pool.remove(&hashes[1]).is_none());
    assert_eq!(pool.status(&hashes[0]), Some(TxStatus::Ready));
    assert_eq!(pool.status(&hashes[2]), Some(TxStatus::Queued));
    assert_eq!((pool.ready_len(), pool.queued_len()), (1, 1));
    assert_eq!(pool.pending_nonce(k.address(), 0), 1);
    assert_eq!(pool.ready().count(), 1);
    assert_eq!(pool.iter().count(), 2);
    // Putting it back restores the run.
    add(&mut pool, transfer(&k, 1, 1), &state);
    assert_eq!(pool.ready_len(), 3);
    assert_eq!(pool.pending_nonce(k.address(), 0), 3);
}

#[test]
fn pending_nonce() {
    let (k, stranger) = (key(0), key(1));
    let state = State::rich(&[&k]);
    let mut pool = pool();
    assert_eq!(pool.pending_nonce(stranger.address(), 7), 7);
    for n in [0, 1, 3] {
        add(&mut pool, transfer(&k, n, 1), &state);
    }
    assert_eq!(pool.pending_nonce(k.address(), 0), 2);
    // A caller that has seen a newer state than the pool.
    assert_eq!(pool.pending_nonce(k.address(), 1), 2);
    assert_eq!(pool.pending_nonce(k.address(), 3), 4);
    assert_eq!(pool.pending_nonce(k.address(), 5), 5);
}

#[test]
fn admission_catches_up_with_a_state_the_pool_missed() {
    let k = key(0);
    let mut state = State::rich(&[&k]);
    let mut pool = pool();
    let old = add(&mut pool, transfer(&k, 0, 1), &state).hash;
    add(&mut pool, transfer(&k, 2, 1), &state);
    // The pool was not told of the block that used nonces 0 and 1.
    state.set(k.address(), 2, U256::from(10u128.pow(24)));
    let out = add(&mut pool, transfer(&k, 3, 1), &state);
    assert_eq!(out.status, TxStatus::Ready);
    assert!(!pool.contains(&old));
    assert_eq!((pool.len(), pool.ready_len()), (2, 2));
}

#[test]
fn every_reason_is_listed() {
    let k = key(0);
    let samples = [
        MempoolError::TrailingBytes,
        MempoolError::UnknownTxType,
        MempoolError::EmptyAuthList,
        MempoolError::Unprotected,
        MempoolError::InvalidSender,
        MempoolError::ExceedsBlockGasLimit,
        MempoolError::AlreadyKnown,
        MempoolError::ReplacementUnderpriced,
        MempoolError::Underpriced,
        MempoolError::FutureReplacePending,
        MempoolError::PoolFull,
        MempoolError::NonceTooLow {
            address: k.address(),
            tx: 0,
            state: 1,
        },
        MempoolError::AccountLimit { pooled: 1 },
        MempoolError::State(String::new()),
    ];
    for e in samples {
        assert!(MempoolError::REASONS.contains(&e.reason()), "{e:?}");
    }
}

/// A legacy transaction (an RLP list) with `fields` as its nine fields.
fn legacy_rlp(fields: &[&dyn alloy_rlp::Encodable]) -> Vec<u8> {
    let mut payload = Vec::new();
    for f in fields {
        f.encode(&mut payload);
    }
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend(payload);
    out
}

#[test]
fn a_legacy_transaction_with_an_out_of_range_field_says_which() {
    let to = Address::repeat_byte(7);
    let empty = alloy_primitives::Bytes::new();
    let one = U256::from(1);
    let big_gas_price = U256::MAX;
    let e = decode_raw(&legacy_rlp(&[
        &0u64,
        &big_gas_price,
        &21_000u64,
        &to,
        &U256::ZERO,
        &empty,
        &27u64,
        &one,
        &one,
    ]))
    .unwrap_err();
    assert_eq!(e.reason(), "decode");
    assert!(e.to_string().contains("legacy transaction"), "{e}");
    assert!(!e.to_string().contains("type not supported"), "{e}");
    let gas = U256::from(1u128 << 64);
    let e = decode_raw(&legacy_rlp(&[
        &0u64,
        &1u64,
        &gas,
        &to,
        &U256::ZERO,
        &empty,
        &27u64,
        &one,
        &one,
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("legacy transaction"), "{e}");
    assert!(!e.to_string().contains("type not supported"), "{e}");
}
