//! The Ethereum contracts of `bridge/contracts/`: their ABI (as `sol!` bindings) and their
//! compiled code (the checked-in artifacts, which a test keeps equal to the sources).

use alloy_primitives::Bytes;
use alloy_sol_types::sol;
use std::sync::OnceLock;

sol! {
    /// The Ethereum side of the bridge (`bridge/contracts/ParallaxBridge.sol`).
    #[derive(Debug, PartialEq, Eq)]
    interface IParallaxBridge {
        event Deposit(uint256 indexed nonce, address indexed token, address indexed from, address l2Recipient, uint256 amount);
        event WithdrawalRootAttested(uint256 indexed l2BlockNumber, bytes32 root);
        event WithdrawalFinalized(uint256 indexed id, address indexed token, address indexed recipient, uint256 amount);
        event ValidatorSetUpdated(uint256 indexed nonce, address[] validators, uint256[] powers);
        event PausedSet(uint256 indexed nonce, bool paused);

        function depositETH(address l2Recipient) external payable;
        function depositERC20(address token, uint256 amount, address l2Recipient) external;
        function submitWithdrawalRoot(uint256 l2BlockNumber, bytes32 root, bytes[] signatures) external;
        function finalizeWithdrawal(uint256 id, address l1Token, address l1Recipient, uint256 amount, uint256 l2BlockNumber, bytes32[] proof) external;
        function isWithdrawalFinalized(uint256 id) external view returns (bool);
        function updateValidatorSet(address[] validators, uint256[] powers, bytes[] signatures) external;
        function setPaused(bool paused, bytes[] signatures) external;

        function l2ChainId() external view returns (uint256);
        function depositCount() external view returns (uint256);
        function governanceNonce() external view returns (uint256);
        function paused() external view returns (bool);
        function totalPower() external view returns (uint256);
        function powerOf(address validator) external view returns (uint256);
        function withdrawalRoots(uint256 l2BlockNumber) external view returns (bytes32);
        function locked(address token) external view returns (uint256);
        function validators() external view returns (address[] addrs, uint256[] powers);
        function withdrawalLeaf(uint256 id, address l1Token, address l1Recipient, uint256 amount) external pure returns (bytes32);
        function processProof(bytes32 leaf, bytes32[] proof) external pure returns (bytes32);
        function domainSeparator() external view returns (bytes32);
        function withdrawalRootDigest(uint256 l2BlockNumber, bytes32 root) external view returns (bytes32);
        function validatorSetDigest(uint256 nonce, address[] validators, uint256[] powers) external view returns (bytes32);
        function setPausedDigest(uint256 nonce, bool paused) external view returns (bytes32);
    }

    /// The Parallax side of the bridge (`bridge/contracts/ParallaxBridgeL2.sol`), predeployed
    /// in every Parallax genesis at `parallax_genesis::L2_BRIDGE_ADDRESS`.
    #[derive(Debug, PartialEq, Eq)]
    interface IParallaxBridgeL2 {
        event DepositFinalized(uint256 indexed nonce, address indexed l1Token, address indexed l2Recipient, uint256 amount);
        event WithdrawalInitiated(uint256 indexed id, address indexed l1Token, address indexed from, address l1Recipient, uint256 amount);
        event BridgedTokenCreated(address indexed l1Token, address indexed l2Token);

        function finalizeDeposit(uint256 nonce, address l1Token, address l2Recipient, uint256 amount) external;
        function withdrawETH(address l1Recipient) external payable;
        function withdrawERC20(address l2Token, uint256 amount, address l1Recipient) external;
        function l2TokenFor(address l1Token) external view returns (address);
        function nextDepositNonce() external view returns (uint256);
        function nextWithdrawalId() external view returns (uint256);
        function minted(address l1Token) external view returns (uint256);
        function burned(address l1Token) external view returns (uint256);
        function l1TokenOf(address l2Token) external view returns (address);
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
    }

    /// The constructor of `TestToken`.
    #[derive(Debug)]
    struct TestTokenConstructor {
        string name;
        string symbol;
        uint256 feeBasisPoints;
    }
}

/// Reads the creation code out of a checked-in artifact.
fn creation_code(artifact: &str, cell: &'static OnceLock<Bytes>) -> Bytes {
    cell.get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(artifact).expect("the checked-in artifacts are JSON");
        let hex = json["bytecode"]
            .as_str()
            .expect("an artifact has a bytecode string");
        hex.parse().expect("an artifact's bytecode is hex")
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `name(type,…)` of every function (or event) in an artifact's ABI.
    fn abi_signatures(artifact: &str, kind: &str) -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(artifact).unwrap();
        json["abi"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind)
            .map(|e| {
                let inputs: Vec<&str> = e["inputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["type"].as_str().unwrap())
                    .collect();
                format!("{}({})", e["name"].as_str().unwrap(), inputs.join(","))
            })
            .collect()
    }

    #[test]
    fn the_bindings_are_the_compiled_abi() {
        let bridge = include_str!("../contracts/artifacts/ParallaxBridge.json");
        let mut functions = abi_signatures(bridge, "function");
        // The contract's public constants are not bound.
        functions.retain(|f| !f.ends_with("_TYPEHASH()"));
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
        functions.retain(|f| f != "SYSTEM()");
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
