//! Parallax's chain spec: the genesis file, the genesis block and state, validator keys, node
//! configuration files and testnet generation.
//!
//! - [`Genesis`] reads a genesis file in geth's `genesis.json` shape (`config.chainId`,
//!   `alloc`, `gasLimit`, `baseFeePerGas`, `timestamp`, `extraData`, …) plus a `parallax`
//!   section ([`ParallaxConfig`]: validators, consensus timing, bridge settings). Loading
//!   validates everything and every error names the offending field
//!   (`parallax.validators[2].votingPower: must be greater than zero`).
//! - [`Genesis::build`] computes the state's Merkle-Patricia root with alloy-trie (keeping
//!   the trie's branch nodes for the database) and the genesis header, whose hash is
//!   `keccak(rlp(header))`. It reproduces the recorded genesis of Ethereum mainnet, sepolia,
//!   holesky and hoodi.
//! - [`ValidatorKeys`] generates and loads key files (ed25519 consensus key, ed25519 network
//!   key, secp256k1 bridge key).
//! - [`NodeConfig`] is a node's TOML configuration; [`generate_testnet`] writes a complete
//!   N-validator configuration.
//! - [`artifact`] reads code out of the checked-in contract artifacts, for this crate's
//!   bridge predeploy and for every other crate that deploys one of our contracts.
//!
//! Invariants: a [`Genesis`] that loaded is valid (no duplicate or zero-power validators,
//! valid keys, forks known and in order); the same file always yields the same genesis hash;
//! files this crate writes load back to equal values.

pub mod artifact;
mod config;
mod error;
mod genesis;
mod keys;
mod known;
mod node_config;
mod parallax;
mod serde_helpers;
pub mod state;
mod testnet;

pub use alloy_hardforks::{EthereumHardfork, ForkCondition};
pub use config::{BlobParams, ChainConfig};
pub use error::GenesisError;
pub use genesis::{
    DEFAULT_GAS_LIMIT, DEFAULT_POW_DIFFICULTY, Genesis, GenesisBlock, MAX_GAS_LIMIT,
    MAX_GENESIS_FILE_BYTES, MIN_GAS_LIMIT,
};
pub use keys::{KEY_FILE_VERSION, ValidatorKeys};
pub use known::{KNOWN_NETWORKS, KnownNetwork};
pub use node_config::{L1Config, MempoolConfig, NetworkConfig, NodeConfig};
pub use parallax::{
    BridgeSettings, ConsensusKey, ConsensusTiming, DepositFinality, L2_BRIDGE_ADDRESS,
    MAX_BRIDGE_CONFIRMATIONS, MAX_TOTAL_VOTING_POWER, MAX_VALIDATORS, NativeCurrency,
    ParallaxConfig, Validator, bridged_token_address, l2_bridge_code, l2_bridge_storage,
};
pub use testnet::{
    DEFAULT_TESTNET_CHAIN_ID, DEFAULT_TESTNET_GAS_LIMIT, DEV_ACCOUNT_BALANCE_WEI, DEV_ACCOUNTS,
    DEV_L1_CHAIN_ID, DEV_MNEMONIC, GeneratedNode, GeneratedTestnet, MAX_TESTNET_VALIDATORS,
    PARALLAX_FORK, TestnetBridge, TestnetOptions, dev_accounts, generate_testnet, parallax_genesis,
};
