//! The Solidity contracts of `execution/contracts/` for tests and benchmarks: their compiled
//! code (loaded at compile time from `execution/contracts/artifacts/`, which
//! `scripts/compile-contracts.mjs` generates), ABI-encoded calldata, constructor arguments,
//! CREATE2 addresses and the storage slots needed to write a pre-state directly.
//!
//! `tests/it/main.rs` includes it as `crate::contracts`; `benches/*.rs` with
//! `#[path = "../tests/it/common/contracts.rs"] mod contracts;`.
//!
//! - [`token`]: an ERC-20 whose `mint` anyone may call.
//! - [`pool`]: a constant-product pool (0.3% fee) over two tokens; give each pool its own pair of
//!   tokens and swaps on different pools touch disjoint storage.
//! - [`factory`] and [`child`]: CREATE2 deployment, self-destruct (also in the creating
//!   transaction, so a later one can re-create the child), reverts, gas burning, slot writes.
//!
//! Slot numbers are the compiler's (`storageLayout` in the artifacts, checked by
//! `tests/it/artifacts.rs`); values are `U256` keys and values as revm stores them.

// Each test or benchmark uses a different subset of these helpers.
#![allow(dead_code)]

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use serde_json::Value;
use std::sync::LazyLock;

/// A contract compiled into `execution/contracts/artifacts/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Contract {
    /// `Token.sol`: the ERC-20.
    Token,
    /// `Pool.sol`: the constant-product pool.
    Pool,
    /// `Lifecycle.sol`: the CREATE2 factory with revert, gas and storage functions.
    Factory,
    /// `Lifecycle.sol`: the self-destructing child the factory deploys.
    Child,
}

/// A parsed artifact.
#[derive(Debug)]
pub(crate) struct Artifact {
    /// The whole artifact JSON (`abi`, `storageLayout`, `compiler`, ...).
    pub(crate) json: Value,
    /// Creation code (`bytecode`), without constructor arguments.
    pub(crate) creation_code: Bytes,
    /// Runtime code (`deployedBytecode`), complete (the contracts use no immutables).
    pub(crate) runtime_code: Bytes,
}

static ARTIFACTS: LazyLock<[Artifact; 4]> =
    LazyLock::new(|| Contract::ALL.map(|c| parse_artifact(c.name(), c.artifact_json())));

fn parse_artifact(name: &str, text: &str) -> Artifact {
    let json: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("artifact {name}.json is not JSON: {e}"));
    let code = |key: &str| -> Bytes {
        let hex = json[key]
            .as_str()
            .unwrap_or_else(|| panic!("artifact {name}.json has no string `{key}`"));
        hex.parse()
            .unwrap_or_else(|e| panic!("artifact {name}.json: `{key}` is not hex: {e}"))
    };
    let (creation_code, runtime_code) = (code("bytecode"), code("deployedBytecode"));
    Artifact {
        json,
        creation_code,
        runtime_code,
    }
}

impl Contract {
    /// Every contract, in the order of [`ARTIFACTS`].
    pub(crate) const ALL: [Contract; 4] = [
        Contract::Token,
        Contract::Pool,
        Contract::Factory,
        Contract::Child,
    ];

    /// The contract's (and its artifact's) name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Contract::Token => "Token",
            Contract::Pool => "Pool",
            Contract::Factory => "Factory",
            Contract::Child => "Child",
        }
    }

    /// The Solidity file that defines it, relative to `execution/contracts/`.
    pub(crate) fn source_file(self) -> &'static str {
        match self {
            Contract::Token => "Token.sol",
            Contract::Pool => "Pool.sol",
            Contract::Factory | Contract::Child => "Lifecycle.sol",
        }
    }

    /// The artifact's text, embedded at compile time.
    pub(crate) fn artifact_json(self) -> &'static str {
        match self {
            Contract::Token => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/contracts/artifacts/Token.json"
                ))
            }
            Contract::Pool => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/contracts/artifacts/Pool.json"
                ))
            }
            Contract::Factory => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/contracts/artifacts/Factory.json"
            )),
            Contract::Child => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/contracts/artifacts/Child.json"
                ))
            }
        }
    }

    /// The parsed artifact (parsed once per process).
    pub(crate) fn artifact(self) -> &'static Artifact {
        &ARTIFACTS[self as usize]
    }

    /// Creation code without constructor arguments.
    pub(crate) fn creation_code(self) -> Bytes {
        self.artifact().creation_code.clone()
    }

    /// Runtime code, to install directly into a pre-state account.
    pub(crate) fn runtime_code(self) -> Bytes {
        self.artifact().runtime_code.clone()
    }

    /// The signatures (`name(type,...)`) of the functions the helpers of this contract call.
    pub(crate) fn functions(self) -> &'static [&'static str] {
        match self {
            Contract::Token => token::FUNCTIONS,
            Contract::Pool => pool::FUNCTIONS,
            Contract::Factory => factory::FUNCTIONS,
            Contract::Child => child::FUNCTIONS,
        }
    }
}

/// One ABI-encodable value (the static types and `string`, all these contracts take).
#[derive(Clone, Copy, Debug)]
pub(crate) enum AbiValue<'a> {
    /// `address`
    Address(Address),
    /// `uint256`
    Uint(U256),
    /// `bool`
    Bool(bool),
    /// `bytes32`
    Bytes32(B256),
    /// `string` (dynamic)
    String(&'a str),
}

/// The 4-byte selector of a function signature such as `"transfer(address,uint256)"`.
pub(crate) fn selector(signature: &str) -> [u8; 4] {
    let hash = keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// A 32-byte word holding `address` left-padded with zeros.
pub(crate) fn address_word(address: Address) -> B256 {
    address.into_word()
}

/// ABI-encodes `values` as a tuple (function arguments or constructor arguments).
pub(crate) fn encode_args(values: &[AbiValue<'_>]) -> Vec<u8> {
    let head_len = 32 * values.len();
    let mut head = Vec::with_capacity(head_len);
    let mut tail = Vec::new();
    for value in values {
        let word: B256 = match *value {
            AbiValue::Address(a) => address_word(a),
            AbiValue::Uint(u) => u.into(),
            AbiValue::Bool(b) => U256::from(u8::from(b)).into(),
            AbiValue::Bytes32(b) => b,
            AbiValue::String(s) => {
                let offset = U256::from(head_len + tail.len());
                tail.extend_from_slice(&U256::from(s.len()).to_be_bytes::<32>());
                tail.extend_from_slice(s.as_bytes());
                tail.resize(tail.len().next_multiple_of(32), 0);
                offset.into()
            }
        };
        head.extend_from_slice(word.as_slice());
    }
    head.extend_from_slice(&tail);
    head
}

/// Calldata: the selector of `signature` followed by the encoded `values`.
pub(crate) fn encode_call(signature: &str, values: &[AbiValue<'_>]) -> Bytes {
    let mut data = selector(signature).to_vec();
    data.extend_from_slice(&encode_args(values));
    data.into()
}

/// The `index`-th 32-byte word of a call's return data.
pub(crate) fn output_word(output: &[u8], index: usize) -> Option<B256> {
    output
        .get(32 * index..32 * (index + 1))
        .map(B256::from_slice)
}

/// A `uint256` return value (the first word).
pub(crate) fn decode_uint(output: &[u8]) -> Option<U256> {
    output_word(output, 0).map(|word| U256::from_be_bytes(word.0))
}

/// An `address` return value (the first word, which must be a valid left-padded address).
pub(crate) fn decode_address(output: &[u8]) -> Option<Address> {
    let word = output_word(output, 0)?;
    word[..12]
        .iter()
        .all(|&b| b == 0)
        .then(|| Address::from_word(word))
}

/// A `bool` return value (the first word, which must be 0 or 1).
pub(crate) fn decode_bool(output: &[u8]) -> Option<bool> {
    match decode_uint(output)? {
        u if u == U256::ZERO => Some(false),
        u if u == U256::from(1) => Some(true),
        _ => None,
    }
}

/// The reason of a `revert("...")` / failed `require(..., "...")`: return data encoded as
/// `Error(string)`. `None` for any other return data.
pub(crate) fn decode_revert_reason(output: &[u8]) -> Option<String> {
    let data = output.strip_prefix(&selector("Error(string)")[..])?;
    let offset = usize::try_from(decode_uint(data)?).ok()?;
    let len_word = data.get(offset..offset.checked_add(32)?)?;
    let len = usize::try_from(U256::from_be_slice(len_word)).ok()?;
    let start = offset + 32;
    let bytes = data.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// The storage slot of `mapping[key]` for a mapping declared at slot `slot`:
/// `keccak256(key ++ pad32(slot))`, `key` being the key's 32-byte ABI word.
pub(crate) fn mapping_slot(key: B256, slot: U256) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key.as_slice());
    preimage[32..].copy_from_slice(&slot.to_be_bytes::<32>());
    keccak256(preimage).into()
}

/// The storage value of a `string` state variable of at most 31 bytes: the bytes left-aligned,
/// `2 * len` in the lowest byte (how solc stores short strings).
pub(crate) fn short_string_value(s: &str) -> U256 {
    assert!(
        s.len() <= 31,
        "{s:?} is longer than 31 bytes; solc stores it out of line"
    );
    let mut word = [0u8; 32];
    word[..s.len()].copy_from_slice(s.as_bytes());
    word[31] = (2 * s.len()) as u8;
    U256::from_be_bytes(word)
}

/// The address CREATE2 gives to `init_code` deployed by `deployer` under `salt`:
/// `keccak256(0xff ++ deployer ++ salt ++ keccak256(init_code))[12..]`.
pub(crate) fn create2_address(deployer: Address, salt: B256, init_code: &[u8]) -> Address {
    let mut preimage = Vec::with_capacity(85);
    preimage.push(0xff);
    preimage.extend_from_slice(deployer.as_slice());
    preimage.extend_from_slice(salt.as_slice());
    preimage.extend_from_slice(keccak256(init_code).as_slice());
    Address::from_slice(&keccak256(&preimage)[12..])
}

/// The address CREATE gives to the contract deployed by `deployer` with nonce `nonce`.
pub(crate) fn create_address(deployer: Address, nonce: u64) -> Address {
    deployer.create(nonce)
}

/// `Token.sol`: an ERC-20 with 18 decimals and a `mint` anyone may call. An allowance of
/// `U256::MAX` is never decreased by `transferFrom`.
pub(crate) mod token {
    use super::{AbiValue, Contract, encode_args, encode_call, mapping_slot, short_string_value};
    use alloy_primitives::{Address, Bytes, U256};

    /// Slot of `mapping(address => uint256) balanceOf`.
    pub(crate) const SLOT_BALANCE_OF: u64 = 0;
    /// Slot of `mapping(address => mapping(address => uint256)) allowance`.
    pub(crate) const SLOT_ALLOWANCE: u64 = 1;
    /// Slot of `uint256 totalSupply`.
    pub(crate) const SLOT_TOTAL_SUPPLY: u64 = 2;
    /// Slot of `string name`.
    pub(crate) const SLOT_NAME: u64 = 3;
    /// Slot of `string symbol`.
    pub(crate) const SLOT_SYMBOL: u64 = 4;
    /// `decimals()`.
    pub(crate) const DECIMALS: u8 = 18;

    /// Revert reason of a transfer above the sender's balance.
    pub(crate) const ERR_INSUFFICIENT_BALANCE: &str = "Token: insufficient balance";
    /// Revert reason of a `transferFrom` above the allowance.
    pub(crate) const ERR_INSUFFICIENT_ALLOWANCE: &str = "Token: insufficient allowance";

    /// `transfer(address,uint256)`
    pub(crate) const TRANSFER: &str = "transfer(address,uint256)";
    /// `transferFrom(address,address,uint256)`
    pub(crate) const TRANSFER_FROM: &str = "transferFrom(address,address,uint256)";
    /// `approve(address,uint256)`
    pub(crate) const APPROVE: &str = "approve(address,uint256)";
    /// `mint(address,uint256)`
    pub(crate) const MINT: &str = "mint(address,uint256)";
    /// `balanceOf(address)`
    pub(crate) const BALANCE_OF: &str = "balanceOf(address)";
    /// `allowance(address,address)`
    pub(crate) const ALLOWANCE: &str = "allowance(address,address)";
    /// `totalSupply()`
    pub(crate) const TOTAL_SUPPLY: &str = "totalSupply()";
    /// `name()`
    pub(crate) const NAME: &str = "name()";
    /// `symbol()`
    pub(crate) const SYMBOL: &str = "symbol()";
    /// `decimals()`
    pub(crate) const DECIMALS_FN: &str = "decimals()";
    /// Every function signature above.
    pub(crate) const FUNCTIONS: &[&str] = &[
        TRANSFER,
        TRANSFER_FROM,
        APPROVE,
        MINT,
        BALANCE_OF,
        ALLOWANCE,
        TOTAL_SUPPLY,
        NAME,
        SYMBOL,
        DECIMALS_FN,
    ];

    /// Creation code without constructor arguments.
    pub(crate) fn creation_code() -> Bytes {
        Contract::Token.creation_code()
    }

    /// Runtime code.
    pub(crate) fn runtime_code() -> Bytes {
        Contract::Token.runtime_code()
    }

    /// Encoded `constructor(string name, string symbol, address holder, uint256 initialSupply)`.
    pub(crate) fn constructor_args(
        name: &str,
        symbol: &str,
        holder: Address,
        initial_supply: U256,
    ) -> Vec<u8> {
        encode_args(&[
            AbiValue::String(name),
            AbiValue::String(symbol),
            AbiValue::Address(holder),
            AbiValue::Uint(initial_supply),
        ])
    }

    /// Init code of a deployment: creation code followed by the constructor arguments; it mints
    /// `initial_supply` to `holder`.
    pub(crate) fn deploy_code(
        name: &str,
        symbol: &str,
        holder: Address,
        initial_supply: U256,
    ) -> Bytes {
        let mut code = creation_code().to_vec();
        code.extend_from_slice(&constructor_args(name, symbol, holder, initial_supply));
        code.into()
    }

    /// Calldata of `transfer(to, amount)`.
    pub(crate) fn transfer(to: Address, amount: U256) -> Bytes {
        encode_call(TRANSFER, &[AbiValue::Address(to), AbiValue::Uint(amount)])
    }

    /// Calldata of `transferFrom(from, to, amount)`.
    pub(crate) fn transfer_from(from: Address, to: Address, amount: U256) -> Bytes {
        encode_call(
            TRANSFER_FROM,
            &[
                AbiValue::Address(from),
                AbiValue::Address(to),
                AbiValue::Uint(amount),
            ],
        )
    }

    /// Calldata of `approve(spender, amount)`.
    pub(crate) fn approve(spender: Address, amount: U256) -> Bytes {
        encode_call(
            APPROVE,
            &[AbiValue::Address(spender), AbiValue::Uint(amount)],
        )
    }

    /// Calldata of `mint(to, amount)`.
    pub(crate) fn mint(to: Address, amount: U256) -> Bytes {
        encode_call(MINT, &[AbiValue::Address(to), AbiValue::Uint(amount)])
    }

    /// Calldata of `balanceOf(owner)`.
    pub(crate) fn balance_of(owner: Address) -> Bytes {
        encode_call(BALANCE_OF, &[AbiValue::Address(owner)])
    }

    /// Calldata of `allowance(owner, spender)`.
    pub(crate) fn allowance(owner: Address, spender: Address) -> Bytes {
        encode_call(
            ALLOWANCE,
            &[AbiValue::Address(owner), AbiValue::Address(spender)],
        )
    }

    /// Calldata of `totalSupply()`.
    pub(crate) fn total_supply() -> Bytes {
        encode_call(TOTAL_SUPPLY, &[])
    }

    /// Calldata of `name()`.
    pub(crate) fn name() -> Bytes {
        encode_call(NAME, &[])
    }

    /// Calldata of `symbol()`.
    pub(crate) fn symbol() -> Bytes {
        encode_call(SYMBOL, &[])
    }

    /// Calldata of `decimals()`.
    pub(crate) fn decimals() -> Bytes {
        encode_call(DECIMALS_FN, &[])
    }

    /// Storage slot of `balanceOf[owner]`.
    pub(crate) fn balance_slot(owner: Address) -> U256 {
        mapping_slot(owner.into_word(), U256::from(SLOT_BALANCE_OF))
    }

    /// Storage slot of `allowance[owner][spender]`.
    pub(crate) fn allowance_slot(owner: Address, spender: Address) -> U256 {
        let inner = mapping_slot(owner.into_word(), U256::from(SLOT_ALLOWANCE));
        mapping_slot(spender.into_word(), inner)
    }

    /// Storage slot of `totalSupply`.
    pub(crate) fn total_supply_slot() -> U256 {
        U256::from(SLOT_TOTAL_SUPPLY)
    }

    /// The storage of a token with these balances and allowances, as `(slot, value)` pairs to
    /// write next to [`runtime_code`]: `totalSupply` is the sum of the balances; `name` and
    /// `symbol` must be at most 31 bytes. Zero values are left out (absent slots read as zero).
    pub(crate) fn prestate_storage(
        name: &str,
        symbol: &str,
        balances: &[(Address, U256)],
        allowances: &[(Address, Address, U256)],
    ) -> Vec<(U256, U256)> {
        let total = balances.iter().fold(U256::ZERO, |sum, &(_, b)| {
            sum.checked_add(b).expect("total supply overflows uint256")
        });
        let mut storage = vec![
            (U256::from(SLOT_NAME), short_string_value(name)),
            (U256::from(SLOT_SYMBOL), short_string_value(symbol)),
            (total_supply_slot(), total),
        ];
        storage.extend(balances.iter().map(|&(owner, b)| (balance_slot(owner), b)));
        storage.extend(
            allowances
                .iter()
                .map(|&(o, s, a)| (allowance_slot(o, s), a)),
        );
        storage.retain(|&(_, value)| value != U256::ZERO);
        storage
    }
}

/// `Pool.sol`: a constant-product pool over `token0` and `token1` with a 0.3% fee and no
/// liquidity shares.
pub(crate) mod pool {
    use super::{AbiValue, Contract, encode_args, encode_call};
    use alloy_primitives::{Address, Bytes, U256};

    /// Slot of `Token token0` (an address).
    pub(crate) const SLOT_TOKEN0: u64 = 0;
    /// Slot of `Token token1` (an address).
    pub(crate) const SLOT_TOKEN1: u64 = 1;
    /// Slot of `uint256 reserve0`.
    pub(crate) const SLOT_RESERVE0: u64 = 2;
    /// Slot of `uint256 reserve1`.
    pub(crate) const SLOT_RESERVE1: u64 = 3;
    /// The input kept after the fee, per [`FEE_DENOMINATOR`].
    pub(crate) const FEE_NUMERATOR: u64 = 997;
    /// See [`FEE_NUMERATOR`].
    pub(crate) const FEE_DENOMINATOR: u64 = 1000;

    /// Revert reason of a swap whose output is below `minOut`.
    pub(crate) const ERR_SLIPPAGE: &str = "Pool: slippage";
    /// Revert reason of a swap of 0.
    pub(crate) const ERR_ZERO_INPUT: &str = "Pool: zero input";
    /// Revert reason of a swap whose output rounds down to 0.
    pub(crate) const ERR_ZERO_OUTPUT: &str = "Pool: zero output";
    /// Revert reason of a swap before both reserves are non-zero.
    pub(crate) const ERR_NO_LIQUIDITY: &str = "Pool: no liquidity";

    /// `swap(uint256,bool,uint256,address)`
    pub(crate) const SWAP: &str = "swap(uint256,bool,uint256,address)";
    /// `addLiquidity(uint256,uint256)`
    pub(crate) const ADD_LIQUIDITY: &str = "addLiquidity(uint256,uint256)";
    /// `getAmountOut(uint256,bool)`
    pub(crate) const GET_AMOUNT_OUT: &str = "getAmountOut(uint256,bool)";
    /// `getReserves()`
    pub(crate) const GET_RESERVES: &str = "getReserves()";
    /// `token0()`
    pub(crate) const TOKEN0: &str = "token0()";
    /// `token1()`
    pub(crate) const TOKEN1: &str = "token1()";
    /// Every function signature above.
    pub(crate) const FUNCTIONS: &[&str] = &[
        SWAP,
        ADD_LIQUIDITY,
        GET_AMOUNT_OUT,
        GET_RESERVES,
        TOKEN0,
        TOKEN1,
    ];

    /// Creation code without constructor arguments.
    pub(crate) fn creation_code() -> Bytes {
        Contract::Pool.creation_code()
    }

    /// Runtime code.
    pub(crate) fn runtime_code() -> Bytes {
        Contract::Pool.runtime_code()
    }

    /// Encoded `constructor(Token token0, Token token1)`.
    pub(crate) fn constructor_args(token0: Address, token1: Address) -> Vec<u8> {
        encode_args(&[AbiValue::Address(token0), AbiValue::Address(token1)])
    }

    /// Init code of a pool over `token0` and `token1` (which must differ).
    pub(crate) fn deploy_code(token0: Address, token1: Address) -> Bytes {
        let mut code = creation_code().to_vec();
        code.extend_from_slice(&constructor_args(token0, token1));
        code.into()
    }

    /// Calldata of `swap(amountIn, zeroForOne, minOut, to)`: the caller must have approved the
    /// pool for `amount_in` of the input token (token0 when `zero_for_one`).
    pub(crate) fn swap(amount_in: U256, zero_for_one: bool, min_out: U256, to: Address) -> Bytes {
        encode_call(
            SWAP,
            &[
                AbiValue::Uint(amount_in),
                AbiValue::Bool(zero_for_one),
                AbiValue::Uint(min_out),
                AbiValue::Address(to),
            ],
        )
    }

    /// Calldata of `addLiquidity(amount0, amount1)`: pulls both amounts from the caller, who
    /// must have approved the pool on both tokens.
    pub(crate) fn add_liquidity(amount0: U256, amount1: U256) -> Bytes {
        encode_call(
            ADD_LIQUIDITY,
            &[AbiValue::Uint(amount0), AbiValue::Uint(amount1)],
        )
    }

    /// Calldata of `getAmountOut(amountIn, zeroForOne)`.
    pub(crate) fn get_amount_out(amount_in: U256, zero_for_one: bool) -> Bytes {
        encode_call(
            GET_AMOUNT_OUT,
            &[AbiValue::Uint(amount_in), AbiValue::Bool(zero_for_one)],
        )
    }

    /// Calldata of `getReserves()` (returns two words).
    pub(crate) fn get_reserves() -> Bytes {
        encode_call(GET_RESERVES, &[])
    }

    /// Calldata of `token0()`.
    pub(crate) fn token0() -> Bytes {
        encode_call(TOKEN0, &[])
    }

    /// Calldata of `token1()`.
    pub(crate) fn token1() -> Bytes {
        encode_call(TOKEN1, &[])
    }

    /// The output of swapping `amount_in` against these reserves, as the contract computes it
    /// (0 when any is 0): `in * 997 * out_reserve / (in_reserve * 1000 + in * 997)`.
    pub(crate) fn amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256) -> U256 {
        if amount_in.is_zero() || reserve_in.is_zero() || reserve_out.is_zero() {
            return U256::ZERO;
        }
        let with_fee = amount_in * U256::from(FEE_NUMERATOR);
        with_fee * reserve_out / (reserve_in * U256::from(FEE_DENOMINATOR) + with_fee)
    }

    /// Storage slot of `reserve0`.
    pub(crate) fn reserve0_slot() -> U256 {
        U256::from(SLOT_RESERVE0)
    }

    /// Storage slot of `reserve1`.
    pub(crate) fn reserve1_slot() -> U256 {
        U256::from(SLOT_RESERVE1)
    }

    /// The storage of a pool over `token0`/`token1` holding these reserves, as `(slot, value)`
    /// pairs to write next to [`runtime_code`]. The tokens' `balanceOf[pool]` must match the
    /// reserves (write it with `token::balance_slot`).
    pub(crate) fn prestate_storage(
        token0: Address,
        token1: Address,
        reserve0: U256,
        reserve1: U256,
    ) -> Vec<(U256, U256)> {
        let mut storage = vec![
            (U256::from(SLOT_TOKEN0), token0.into_word().into()),
            (U256::from(SLOT_TOKEN1), token1.into_word().into()),
            (reserve0_slot(), reserve0),
            (reserve1_slot(), reserve1),
        ];
        storage.retain(|&(_, value)| value != U256::ZERO);
        storage
    }
}

/// `Lifecycle.sol`'s `Factory`: deploys [`child`]ren with CREATE2, reverts, burns gas and
/// writes slots of `mapping(uint256 => uint256) slots`. It writes no other storage.
pub(crate) mod factory {
    use super::{AbiValue, Contract, child, create2_address, encode_call, mapping_slot};
    use alloy_primitives::{Address, B256, Bytes, U256};

    /// Slot of `mapping(uint256 => uint256) slots`.
    pub(crate) const SLOT_SLOTS: u64 = 0;

    /// Revert reason of `alwaysRevert()`.
    pub(crate) const ERR_ALWAYS_REVERTS: &str = "Factory: always reverts";
    /// Revert reason of `revertAfterWrites(..)`.
    pub(crate) const ERR_REVERTED_AFTER_WRITES: &str = "Factory: reverted after writes";
    /// Revert reason of `deploy(..)` when a child already lives at the address.
    pub(crate) const ERR_CREATE2_FAILED: &str = "Factory: create2 failed";

    /// `deploy(bytes32)`
    pub(crate) const DEPLOY: &str = "deploy(bytes32)";
    /// `deployAndDestroy(bytes32,address)`
    pub(crate) const DEPLOY_AND_DESTROY: &str = "deployAndDestroy(bytes32,address)";
    /// `childAddress(bytes32)`
    pub(crate) const CHILD_ADDRESS: &str = "childAddress(bytes32)";
    /// `alwaysRevert()`
    pub(crate) const ALWAYS_REVERT: &str = "alwaysRevert()";
    /// `writeSlots(uint256,uint256,uint256)`
    pub(crate) const WRITE_SLOTS: &str = "writeSlots(uint256,uint256,uint256)";
    /// `revertAfterWrites(uint256,uint256)`
    pub(crate) const REVERT_AFTER_WRITES: &str = "revertAfterWrites(uint256,uint256)";
    /// `burnGas(uint256)`
    pub(crate) const BURN_GAS: &str = "burnGas(uint256)";
    /// `slots(uint256)`
    pub(crate) const SLOTS: &str = "slots(uint256)";
    /// Every function signature above.
    pub(crate) const FUNCTIONS: &[&str] = &[
        DEPLOY,
        DEPLOY_AND_DESTROY,
        CHILD_ADDRESS,
        ALWAYS_REVERT,
        WRITE_SLOTS,
        REVERT_AFTER_WRITES,
        BURN_GAS,
        SLOTS,
    ];

    /// Creation code (the factory takes no constructor arguments: this is its init code).
    pub(crate) fn creation_code() -> Bytes {
        Contract::Factory.creation_code()
    }

    /// Runtime code.
    pub(crate) fn runtime_code() -> Bytes {
        Contract::Factory.runtime_code()
    }

    /// Calldata of `deploy(salt)`: deploys a child at [`child_address_of`]`(factory, salt)`,
    /// forwarding the call's value; reverts with [`ERR_CREATE2_FAILED`] when a child lives there.
    pub(crate) fn deploy(salt: B256) -> Bytes {
        encode_call(DEPLOY, &[AbiValue::Bytes32(salt)])
    }

    /// Calldata of `deployAndDestroy(salt, beneficiary)`: deploys a child and self-destructs it
    /// in the same transaction, the value going to `beneficiary`; the account is deleted, so a
    /// later transaction can deploy under `salt` again.
    pub(crate) fn deploy_and_destroy(salt: B256, beneficiary: Address) -> Bytes {
        encode_call(
            DEPLOY_AND_DESTROY,
            &[AbiValue::Bytes32(salt), AbiValue::Address(beneficiary)],
        )
    }

    /// Calldata of `childAddress(salt)`.
    pub(crate) fn child_address(salt: B256) -> Bytes {
        encode_call(CHILD_ADDRESS, &[AbiValue::Bytes32(salt)])
    }

    /// Calldata of `alwaysRevert()`.
    pub(crate) fn always_revert() -> Bytes {
        encode_call(ALWAYS_REVERT, &[])
    }

    /// Calldata of `writeSlots(start, count, value)`: `slots[start + i] = value` for
    /// `i in 0..count`.
    pub(crate) fn write_slots(start: U256, count: U256, value: U256) -> Bytes {
        encode_call(
            WRITE_SLOTS,
            &[
                AbiValue::Uint(start),
                AbiValue::Uint(count),
                AbiValue::Uint(value),
            ],
        )
    }

    /// Calldata of `revertAfterWrites(start, count)`: writes 1 to `count` slots, then reverts
    /// with [`ERR_REVERTED_AFTER_WRITES`].
    pub(crate) fn revert_after_writes(start: U256, count: U256) -> Bytes {
        encode_call(
            REVERT_AFTER_WRITES,
            &[AbiValue::Uint(start), AbiValue::Uint(count)],
        )
    }

    /// Calldata of `burnGas(amount)`: hashes until the loop has used at least `amount` gas;
    /// runs out of gas when `amount` is more than is left.
    pub(crate) fn burn_gas(amount: U256) -> Bytes {
        encode_call(BURN_GAS, &[AbiValue::Uint(amount)])
    }

    /// Calldata of `slots(key)`.
    pub(crate) fn slots(key: U256) -> Bytes {
        encode_call(SLOTS, &[AbiValue::Uint(key)])
    }

    /// Storage slot of `slots[key]`.
    pub(crate) fn slots_slot(key: U256) -> U256 {
        mapping_slot(key.into(), U256::from(SLOT_SLOTS))
    }

    /// The address of the child `factory` deploys under `salt`.
    pub(crate) fn child_address_of(factory: Address, salt: B256) -> Address {
        create2_address(factory, salt, &child::creation_code())
    }
}

/// `Lifecycle.sol`'s `Child`: records its creator, holds a value, self-destructs on request.
pub(crate) mod child {
    use super::{AbiValue, Contract, encode_call};
    use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

    /// Slot of `address creator` (written by the constructor).
    pub(crate) const SLOT_CREATOR: u64 = 0;
    /// Slot of `uint256 value`.
    pub(crate) const SLOT_VALUE: u64 = 1;

    /// `set(uint256)`
    pub(crate) const SET: &str = "set(uint256)";
    /// `destroy(address)`
    pub(crate) const DESTROY: &str = "destroy(address)";
    /// `value()`
    pub(crate) const VALUE: &str = "value()";
    /// `creator()`
    pub(crate) const CREATOR: &str = "creator()";
    /// Every function signature above.
    pub(crate) const FUNCTIONS: &[&str] = &[SET, DESTROY, VALUE, CREATOR];

    /// Creation code, which is the whole init code (no constructor arguments).
    pub(crate) fn creation_code() -> Bytes {
        Contract::Child.creation_code()
    }

    /// Runtime code.
    pub(crate) fn runtime_code() -> Bytes {
        Contract::Child.runtime_code()
    }

    /// `keccak256` of the init code, the hash in the CREATE2 address.
    pub(crate) fn init_code_hash() -> B256 {
        keccak256(creation_code())
    }

    /// Calldata of `set(value)`.
    pub(crate) fn set(value: U256) -> Bytes {
        encode_call(SET, &[AbiValue::Uint(value)])
    }

    /// Calldata of `destroy(beneficiary)`: self-destructs, sending the balance to
    /// `beneficiary` (the account is deleted only in the transaction that created it).
    pub(crate) fn destroy(beneficiary: Address) -> Bytes {
        encode_call(DESTROY, &[AbiValue::Address(beneficiary)])
    }

    /// Calldata of `value()`.
    pub(crate) fn value() -> Bytes {
        encode_call(VALUE, &[])
    }

    /// Calldata of `creator()`.
    pub(crate) fn creator() -> Bytes {
        encode_call(CREATOR, &[])
    }

    /// Storage slot of `value`.
    pub(crate) fn value_slot() -> U256 {
        U256::from(SLOT_VALUE)
    }

    /// The storage of a child created by `creator` holding `value`, as `(slot, value)` pairs.
    pub(crate) fn prestate_storage(creator: Address, value: U256) -> Vec<(U256, U256)> {
        let mut storage = vec![
            (U256::from(SLOT_CREATOR), creator.into_word().into()),
            (value_slot(), value),
        ];
        storage.retain(|&(_, v)| v != U256::ZERO);
        storage
    }
}
