//! The Ethereum contracts of `bridge/contracts/`: their ABI (as `sol!` bindings) and their
//! compiled code (the checked-in artifacts, which a test keeps equal to the sources).

use alloy_primitives::Bytes;
use alloy_sol_types::sol;
use std::sync::OnceLock;

sol! {
    /// The Ethereum side of the bridge (`bridge/contracts/ParallaxBridge.sol`).
    #[derive(Debug, PartialEq, Eq)]
    interface IParallaxBridge {
        struct WithdrawalProof {
            uint256 id;
            address l1Token;
            address l1Recipient;
            uint256 amount;
            uint256 l2BlockNumber;
            bytes32[] proof;
        }

        event Deposit(uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount, bytes metadata);
        event WithdrawalRootAttested(uint256 indexed l2BlockNumber, bytes32 root);
        event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
        event WithdrawalPayoutFailed(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
        event WithdrawalQueued(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount, uint256 releaseAt);
        event WithdrawalCancelled(uint256 indexed nonce, uint256 indexed id);
        event WithdrawalLimitSet(uint256 indexed nonce, address indexed token, uint256 maxPerWindow, uint256 window, uint256 delay);
        event ValidatorSetUpdated(uint256 indexed nonce, address[] validators, uint256[] powers);
        event PausedSet(uint256 indexed nonce, bool paused);
        event GuardianPaused(address indexed guardian, uint256 nonce);

        function depositETH(address l2Recipient) external payable;
        function depositERC20(address token, uint256 amount, address l2Recipient) external;
        function tokenMetadata(address token) external view returns (bytes);
        function submitWithdrawalRoot(uint256 l2BlockNumber, bytes32 root, bytes[] signatures) external;
        function finalizeWithdrawal(uint256 id, address l1Token, address l1Recipient, uint256 amount, uint256 l2BlockNumber, bytes32[] proof) external;
        function finalizeWithdrawals(WithdrawalProof[] withdrawals) external;
        function isWithdrawalFinalized(uint256 id) external view returns (bool);
        function withdrawalStatus(uint256 id) external view returns (uint8 state, uint256 releaseAt);
        function withdrawalLimit(address token) external view returns (uint256 maxPerWindow, uint256 window, uint256 delay, uint256 used, uint256 windowStart);
        function updateValidatorSet(address[] validators, uint256[] powers, bytes[] signatures) external;
        function setPaused(bool paused, bytes[] signatures) external;
        function guardianPause(bytes signature) external;
        function setWithdrawalLimit(address token, uint256 maxPerWindow, uint256 window, uint256 delay, bytes[] signatures) external;
        function cancelWithdrawal(uint256 id, bytes[] signatures) external;

        function l2ChainId() external view returns (uint256);
        function depositCount() external view returns (uint256);
        function governanceNonce() external view returns (uint256);
        function paused() external view returns (bool);
        function totalPower() external view returns (uint256);
        function powerOf(address validator) external view returns (uint256);
        function withdrawalRoots(uint256 l2BlockNumber) external view returns (bytes32);
        function locked(address token) external view returns (uint256);
        function owed(address token) external view returns (uint256);
        function cancelled(address token) external view returns (uint256);
        function validators() external view returns (address[] addrs, uint256[] powers);
        function withdrawalLeaf(uint256 id, address l1Token, address l1Recipient, uint256 amount) external pure returns (bytes32);
        function processProof(bytes32 leaf, bytes32[] proof) external pure returns (bytes32);
        function domainSeparator() external view returns (bytes32);
        function withdrawalRootDigest(uint256 l2BlockNumber, bytes32 root) external view returns (bytes32);
        function validatorSetDigest(uint256 nonce, address[] validators, uint256[] powers) external view returns (bytes32);
        function setPausedDigest(uint256 nonce, bool paused) external view returns (bytes32);
        function guardianPauseDigest(uint256 nonce) external view returns (bytes32);
        function withdrawalLimitDigest(uint256 nonce, address token, uint256 maxPerWindow, uint256 window, uint256 delay) external view returns (bytes32);
        function cancelWithdrawalDigest(uint256 nonce, uint256 id) external view returns (bytes32);
    }

    /// The Parallax side of the bridge (`bridge/contracts/ParallaxBridgeL2.sol`), predeployed
    /// in every Parallax genesis at `parallax_genesis::L2_BRIDGE_ADDRESS`.
    #[derive(Debug, PartialEq, Eq)]
    interface IParallaxBridgeL2 {
        event DepositFinalized(uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount);
        event DepositFailed(uint256 indexed nonce, address indexed l1Token, address indexed l1From, uint256 amount, uint256 refundId);
        event WithdrawalInitiated(uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount);
        event BridgedTokenCreated(address indexed l1Token, address indexed l2Token);
        event PausedSet(uint256 indexed nonce, bool paused);
        event GuardianPaused(address indexed guardian, uint256 nonce);

        function finalizeDeposit(uint256 nonce, address l1Token, address l1From, address l2Recipient, uint256 amount, uint256 l1Block, bytes metadata) external;
        function mintDeposit(address l1Token, address l2Recipient, uint256 amount, bytes metadata) external;
        function decodeMetadata(bytes metadata) external pure returns (string, string, uint8);
        function withdrawERC20(address l2Token, uint256 amount, address l1Recipient) external;
        function l2TokenFor(address l1Token) external view returns (address);
        function nextDepositNonce() external view returns (uint256);
        function nextWithdrawalId() external view returns (uint256);
        function lastDepositL1Block() external view returns (uint256);
        function l1TokenOf(address l2Token) external view returns (address);
        function isBridgedToken(address l2Token) external view returns (bool);
        function failedDepositRefund(uint256 nonce) external view returns (uint256);
        function governanceNonce() external view returns (uint256);
        function paused() external view returns (bool);
        function guardianPause(bytes signature) external;
        function setPaused(bool paused, bytes[] signatures) external;
        function validators() external view returns (address[] addrs, uint256[] powers);
        function domainSeparator() external view returns (bytes32);
        function guardianPauseDigest(uint256 nonce) external view returns (bytes32);
        function setPausedDigest(uint256 nonce, bool paused) external view returns (bytes32);
    }

    /// A bridged token on Parallax (`BridgedToken` in `bridge/contracts/ParallaxBridgeL2.sol`).
    #[derive(Debug, PartialEq, Eq)]
    interface IBridgedToken {
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
        function l1Token() external view returns (address);
        function transfer(address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
    }

    /// The constructor of `ParallaxBridge`.
    #[derive(Debug)]
    struct ParallaxBridgeConstructor {
        uint256 l2ChainId;
        address[] validators;
        uint256[] powers;
    }

    /// The test ERC-20 (`bridge/contracts/TestToken.sol`); with a fee it burns part of every transfer.
    #[derive(Debug, PartialEq, Eq)]
    interface ITestToken {
        event Transfer(address indexed from, address indexed to, uint256 value);
        function mint(address to, uint256 amount) external;
        function approve(address spender, uint256 amount) external returns (bool);
        function transfer(address to, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function setBlocked(address who, bool isBlocked) external;
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
    }

    /// A contract that refuses ETH until its owner lets it in (`bridge/contracts/TestHelpers.sol`).
    #[derive(Debug, PartialEq, Eq)]
    interface IRefusingReceiver {
        function setAccepting(bool accepting) external;
    }

    /// An ERC-20 that lies about its metadata and balances (`bridge/contracts/TestHelpers.sol`).
    #[derive(Debug, PartialEq, Eq)]
    interface IHostileToken {
        function mint(address to, uint256 amount) external;
        function lieAbout(address who, uint256 amount) external;
        function transfer(address to, uint256 amount) external returns (bool);
    }

    /// The constructor of `HostileToken`.
    #[derive(Debug)]
    struct HostileTokenConstructor {
        uint256 mode;
        uint256 reportedDecimals;
    }

    /// The constructor of `TestToken`.
    #[derive(Debug)]
    struct TestTokenConstructor {
        string name;
        string symbol;
        uint256 feeBasisPoints;
    }
}

/// An L1 token's name, symbol and decimals as a deposit carries them to Parallax
/// (`abi.encode(string, string, uint8)`, what `ParallaxBridge.tokenMetadata` returns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenMetadata {
    /// The token's name.
    pub name: String,
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
}

type MetadataAbi = (
    alloy_sol_types::sol_data::String,
    alloy_sol_types::sol_data::String,
    alloy_sol_types::sol_data::Uint<8>,
);

impl TokenMetadata {
    /// Decodes a deposit's metadata; `None` when it is not a valid encoding.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        use alloy_sol_types::SolType;
        let (name, symbol, decimals) = MetadataAbi::abi_decode_params(bytes).ok()?;
        Some(Self {
            name,
            symbol,
            decimals,
        })
    }

    /// The encoding a deposit carries.
    pub fn encode(&self) -> Bytes {
        use alloy_sol_types::SolType;
        MetadataAbi::abi_encode_params(&(self.name.clone(), self.symbol.clone(), self.decimals))
            .into()
    }
}

/// Where `ParallaxBridgeL2` keeps what the node reads straight from Parallax's state (the
/// contract's storage layout; a test checks it against the compiled artifact).
pub mod l2_storage {
    use alloy_primitives::{B256, U256, keccak256};

    /// `nextDepositNonce`: the nonce the next deposit minted must have.
    pub const NEXT_DEPOSIT_NONCE: B256 = B256::ZERO;
    /// `nextWithdrawalId`: the id the next withdrawal gets.
    pub const NEXT_WITHDRAWAL_ID: B256 = B256::with_last_byte(1);
    /// `lastDepositL1Block`: the Ethereum block of the last deposit finalized.
    pub const LAST_DEPOSIT_L1_BLOCK: B256 = B256::with_last_byte(2);
    /// `paused`: whether withdrawals are paused.
    pub const PAUSED: B256 = B256::with_last_byte(7);
    /// The slot of the `failedDepositRefund` mapping.
    const FAILED_DEPOSIT_REFUND: u64 = 5;

    /// The slot of `failedDepositRefund[nonce]` (the refund's withdrawal id + 1; 0: the
    /// deposit did not fail).
    pub fn failed_deposit_refund(nonce: u64) -> B256 {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(&U256::from(nonce).to_be_bytes::<32>());
        preimage[32..].copy_from_slice(&U256::from(FAILED_DEPOSIT_REFUND).to_be_bytes::<32>());
        keccak256(preimage)
    }
}

/// Reads the creation code out of a checked-in artifact, once.
fn creation_code(artifact: &str, cell: &'static OnceLock<Bytes>) -> Bytes {
    cell.get_or_init(|| parallax_genesis::artifact::creation_code(artifact))
        .clone()
}

/// `ParallaxBridge`'s creation code (append the ABI-encoded constructor arguments).
pub fn parallax_bridge_code() -> Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    creation_code(
        include_str!("../contracts/artifacts/ParallaxBridge.json"),
        &CODE,
    )
}

/// `TestToken`'s creation code (append the ABI-encoded constructor arguments).
pub fn test_token_code() -> Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    creation_code(include_str!("../contracts/artifacts/TestToken.json"), &CODE)
}

/// `RefusingReceiver`'s creation code (no constructor arguments).
pub fn refusing_receiver_code() -> Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    creation_code(
        include_str!("../contracts/artifacts/RefusingReceiver.json"),
        &CODE,
    )
}

/// `HostileToken`'s creation code (append the ABI-encoded constructor arguments).
pub fn hostile_token_code() -> Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    creation_code(
        include_str!("../contracts/artifacts/HostileToken.json"),
        &CODE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ABI parameter's canonical type, tuples spelled out as `(type,…)`.
    fn abi_type(param: &serde_json::Value) -> String {
        let ty = param["type"].as_str().unwrap();
        match ty.strip_prefix("tuple") {
            Some(suffix) => {
                let inner: Vec<String> = param["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(abi_type)
                    .collect();
                format!("({}){suffix}", inner.join(","))
            }
            None => ty.to_owned(),
        }
    }

    /// `name(type,…)` of every function (or event) in an artifact's ABI.
    fn abi_signatures(artifact: &str, kind: &str) -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(artifact).unwrap();
        json["abi"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| {
                let inputs: Vec<String> = e["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(abi_type)
                    .collect();
                format!("{}({})", e["name"].as_str().unwrap(), inputs.join(","))
            })
            .collect()
    }

    #[test]
    fn the_l2_storage_slots_are_the_compiled_layout() {
        let l2: serde_json::Value =
            serde_json::from_str(include_str!("../contracts/artifacts/ParallaxBridgeL2.json"))
                .unwrap();
        let slot_of = |label: &str| {
            l2["storageLayout"]["storage"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["label"] == label)
                .map(|e| e["slot"].as_str().unwrap().parse::<u8>().unwrap())
                .unwrap_or_else(|| panic!("no {label} in the layout"))
        };
        assert_eq!(
            slot_of("nextDepositNonce"),
            l2_storage::NEXT_DEPOSIT_NONCE[31]
        );
        assert_eq!(
            slot_of("nextWithdrawalId"),
            l2_storage::NEXT_WITHDRAWAL_ID[31]
        );
        assert_eq!(
            slot_of("lastDepositL1Block"),
            l2_storage::LAST_DEPOSIT_L1_BLOCK[31]
        );
        assert_eq!(slot_of("paused"), l2_storage::PAUSED[31]);
        assert_eq!(slot_of("failedDepositRefund"), 5);
    }

    #[test]
    fn the_bindings_are_the_compiled_abi() {
        let bridge = include_str!("../contracts/artifacts/ParallaxBridge.json");
        let mut functions = abi_signatures(bridge, "function");
        // The contract's public constants are not bound.
        functions.retain(|f| {
            !f.ends_with("_TYPEHASH()") && f != "PAYOUT_GAS()" && f != "MAX_LIMIT_PERIOD()"
        });
        functions.sort();
        let mut bound: Vec<String> = IParallaxBridge::IParallaxBridgeCalls::SIGNATURES
            .iter()
            .map(|s| s.to_string())
            .collect();
        bound.sort();
        assert_eq!(bound, functions);
        let mut events = abi_signatures(bridge, "event");
        events.sort();
        let mut bound: Vec<String> = IParallaxBridge::IParallaxBridgeEvents::SIGNATURES
            .iter()
            .map(|s| s.to_string())
            .collect();
        bound.sort();
        assert_eq!(bound, events);

        let token = include_str!("../contracts/artifacts/TestToken.json");
        let functions = abi_signatures(token, "function");
        for bound in ITestToken::ITestTokenCalls::SIGNATURES {
            assert!(
                functions.iter().any(|f| f == bound),
                "TestToken has {bound}"
            );
        }
        let l2 = include_str!("../contracts/artifacts/ParallaxBridgeL2.json");
        let mut functions = abi_signatures(l2, "function");
        functions.retain(|f| f != "SYSTEM()" && !f.ends_with("_TYPEHASH()"));
        functions.sort();
        let mut bound: Vec<String> = IParallaxBridgeL2::IParallaxBridgeL2Calls::SIGNATURES
            .iter()
            .map(|s| s.to_string())
            .collect();
        bound.sort();
        assert_eq!(bound, functions);
        let mut events = abi_signatures(l2, "event");
        events.sort();
        let mut bound: Vec<String> = IParallaxBridgeL2::IParallaxBridgeL2Events::SIGNATURES
            .iter()
            .map(|s| s.to_string())
            .collect();
        bound.sort();
        assert_eq!(bound, events);
        assert!(parallax_bridge_code().len() > 1_000);
        assert!(test_token_code().len() > 500);
    }
}
