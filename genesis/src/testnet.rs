//! Generating a complete N-validator configuration: keys, genesis and one directory per node.
//!
//! Layout of the output directory:
//! ```text
//! DIR/genesis.json
//! DIR/node0/key.json      (mode 0600)
//! DIR/node0/config.toml   (datadir ./data, bootnodes = every other validator)
//! DIR/node1/…
//! DIR/full0/key.json      (full nodes: a key outside the validator set)
//! DIR/full0/config.toml   (bootnodes = every validator)
//! ```
//!
//! Validators come first in the port layout, then full nodes: full node `j` takes the ports
//! of node index `validators + j`.

use crate::{
    BridgeSettings, ChainConfig, ConsensusTiming, Genesis, GenesisError, L1Config, NodeConfig,
    ParallaxConfig, Validator, ValidatorKeys,
    node_config::{MempoolConfig, NetworkConfig},
    state::GenesisAccount,
};
use alloy_hardforks::EthereumHardfork;
use alloy_primitives::{Address, B256, Bytes, U256};
use multiaddr::{Multiaddr, Protocol};
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

/// The well-known development mnemonic whose accounts hardhat, anvil and foundry fund.
/// Its keys are public: never use these accounts for anything of value.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many development accounts a testnet funds (as hardhat does).
pub const DEV_ACCOUNTS: u32 = 20;

/// Each development account's balance: 10,000 ETH.
pub const DEV_ACCOUNT_BALANCE_WEI: u128 = 10_000 * 1_000_000_000_000_000_000;

/// Chain id of generated testnets unless another is asked for.
pub const DEFAULT_TESTNET_CHAIN_ID: u64 = 424_242;

/// Block gas limit of generated testnets.
pub const DEFAULT_TESTNET_GAS_LIMIT: u64 = 60_000_000;

/// The Ethereum rules Parallax chains run from genesis.
pub const PARALLAX_FORK: EthereumHardfork = EthereumHardfork::Prague;

/// Chain id of the local development L1 (hardhat's).
pub const DEV_L1_CHAIN_ID: u64 = 31_337;

/// Most validators a generated testnet may have.
pub const MAX_TESTNET_VALIDATORS: usize = 64;

/// Ports each node takes from the base port: p2p, RPC, gRPC, metrics.
const PORTS_PER_NODE: u16 = 10;

/// What to generate.
#[derive(Clone, Debug)]
pub struct TestnetOptions {
    /// Number of validators.
    pub validators: usize,
    /// Number of non-validator full nodes (in `DIR/full{j}`), each with its own key outside
    /// the validator set and every validator as a bootnode.
    pub full_nodes: usize,
    /// Chain id.
    pub chain_id: u64,
    /// Node `i` listens on `base_port + 10 i` (p2p), `+1` (RPC), `+2` (gRPC), `+3` (metrics);
    /// full nodes follow the validators (`i = validators + j`).
    pub base_port: u16,
    /// Genesis timestamp.
    pub timestamp: u64,
    /// The bridge to a development Ethereum; `None`: the chain has no L1 bridge yet.
    pub bridge: Option<TestnetBridge>,
}

/// A generated testnet's bridge to Ethereum.
#[derive(Clone, Debug)]
pub struct TestnetBridge {
    /// Ethereum's chain id.
    pub l1_chain_id: u64,
    /// The `ParallaxBridge` contract on Ethereum (the genesis commits to it, so it is known
    /// before the contract is deployed: a fresh dev chain's first deployment address).
    pub l1_bridge: Address,
    /// How many blocks deep a deposit must be.
    pub confirmations: u64,
    /// Whether deposits wait for Ethereum's `finalized` block instead.
    pub finalized: bool,
    /// The Ethereum RPC every node watches.
    pub l1_rpc_url: String,
}

impl Default for TestnetOptions {
    fn default() -> Self {
        Self {
            validators: 4,
            full_nodes: 0,
            chain_id: DEFAULT_TESTNET_CHAIN_ID,
            base_port: 26_000,
            timestamp: 0,
            bridge: None,
        }
    }
}

/// One generated node.
#[derive(Clone, Debug)]
pub struct GeneratedNode {
    /// Its directory.
    pub dir: PathBuf,
    /// Its config.
    pub config: NodeConfig,
    /// Its libp2p peer id.
    pub peer_id: libp2p_identity::PeerId,
    /// Whether its key is in the validator set (else it is a full node).
    pub validator: bool,
}

/// A generated testnet.
#[derive(Clone, Debug)]
pub struct GeneratedTestnet {
    /// The genesis written to `DIR/genesis.json`.
    pub genesis: Genesis,
    /// The genesis block hash.
    pub genesis_hash: B256,
    /// The nodes: validator `i` in `DIR/node{i}`, then full node `j` in `DIR/full{j}`.
    pub nodes: Vec<GeneratedNode>,
    /// The funded development accounts (address, private key).
    pub dev_accounts: Vec<(Address, B256)>,
}

/// The first `n` accounts of [`DEV_MNEMONIC`] (BIP-44 `m/44'/60'/0'/0/i`), with their keys.
pub fn dev_accounts(n: u32) -> Result<Vec<(Address, B256)>, GenesisError> {
    (0..n)
        .map(|i| {
            let signer = alloy_signer_local::MnemonicBuilder::<
                alloy_signer_local::coins_bip39::English,
            >::try_from_phrase_nth(DEV_MNEMONIC, i)
            .map_err(|e| GenesisError::invalid("dev mnemonic", e.to_string()))?;
            Ok((
                signer.address(),
                B256::from_slice(&signer.credential().to_bytes()),
            ))
        })
        .collect()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn p2p_addr(port: u16) -> Multiaddr {
    Multiaddr::empty()
        .with(Protocol::Ip4(Ipv4Addr::LOCALHOST))
        .with(Protocol::Tcp(port))
}

/// Builds the genesis of a Parallax chain for a validator set, funding the development
/// accounts.
pub fn parallax_genesis(
    chain_id: u64,
    timestamp: u64,
    validators: Vec<Validator>,
    dev_accounts: &[(Address, B256)],
) -> Result<Genesis, GenesisError> {
    let mut alloc: BTreeMap<Address, GenesisAccount> = dev_accounts
        .iter()
        .map(|(addr, _)| {
            (
                *addr,
                GenesisAccount {
                    balance: U256::from(DEV_ACCOUNT_BALANCE_WEI),
                    ..Default::default()
                },
            )
        })
        .collect();
    // The Parallax side of the bridge, with the validator set it checks pause signatures
    // against (it has no constructor).
    alloc.insert(
        crate::L2_BRIDGE_ADDRESS,
        GenesisAccount {
            code: crate::l2_bridge_code(),
            storage: crate::l2_bridge_storage(
                validators
                    .iter()
                    .map(|v| (v.bridge_address, v.voting_power)),
            ),
            ..Default::default()
        },
    );
    let genesis = Genesis {
        config: ChainConfig::all_active_from_genesis(chain_id, PARALLAX_FORK),
        network: None,
        nonce: 0,
        timestamp,
        extra_data: Bytes::from_static(b"parallax"),
        gas_limit: DEFAULT_TESTNET_GAS_LIMIT,
        difficulty: Some(U256::ZERO),
        mix_hash: B256::ZERO,
        coinbase: Address::ZERO,
        number: 0,
        gas_used: 0,
        parent_hash: B256::ZERO,
        base_fee_per_gas: Some(alloy_eips::eip1559::INITIAL_BASE_FEE),
        excess_blob_gas: Some(0),
        blob_gas_used: Some(0),
        alloc,
        recorded_state_root: None,
        parallax: Some(ParallaxConfig {
            validators,
            consensus: ConsensusTiming::default(),
            bridge: BridgeSettings {
                l1_chain_id: DEV_L1_CHAIN_ID,
                l1_bridge: None,
                confirmations: 0,
                deposit_finality: Default::default(),
            },
            native_currency: Default::default(),
        }),
    };
    // Round-trip through JSON so what we write is exactly what loading accepts.
    Genesis::from_json(&genesis.to_json().to_string())
}

/// Writes a complete N-validator configuration (and any full nodes) into `out`, which must
/// not exist or be empty.
pub fn generate_testnet(
    out: &Path,
    options: &TestnetOptions,
) -> Result<GeneratedTestnet, GenesisError> {
    let n = options.validators;
    if n == 0 || n > MAX_TESTNET_VALIDATORS {
        return Err(GenesisError::invalid(
            "validators",
            format!("must be between 1 and {MAX_TESTNET_VALIDATORS}"),
        ));
    }
    if options.full_nodes > MAX_TESTNET_VALIDATORS {
        return Err(GenesisError::invalid(
            "full nodes",
            format!("must be at most {MAX_TESTNET_VALIDATORS}"),
        ));
    }
    let total = n + options.full_nodes;
    let last_port = u32::from(options.base_port) + u32::from(PORTS_PER_NODE) * total as u32;
    if options.base_port < 1024 || last_port > u32::from(u16::MAX) {
        return Err(GenesisError::invalid(
            "base port",
            format!(
                "{total} nodes need ports {}..{last_port}, which must lie within 1024..=65535",
                options.base_port
            ),
        ));
    }
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| GenesisError::io(out, e))?
            .next()
            .is_some()
    {
        return Err(GenesisError::AlreadyExists {
            path: out.to_path_buf(),
        });
    }

    let keys: Vec<ValidatorKeys> = (0..n)
        .map(|_| ValidatorKeys::generate())
        .collect::<Result<_, _>>()?;
    let validators: Vec<Validator> = ValidatorKeys::equal_validators(&keys);
    let dev_accounts = dev_accounts(DEV_ACCOUNTS)?;
    let mut genesis = parallax_genesis(
        options.chain_id,
        options.timestamp,
        validators,
        &dev_accounts,
    )?;
    if let (Some(b), Some(p)) = (&options.bridge, genesis.parallax.as_mut()) {
        p.bridge = BridgeSettings {
            l1_chain_id: b.l1_chain_id,
            l1_bridge: Some(b.l1_bridge),
            confirmations: b.confirmations,
            deposit_finality: if b.finalized {
                crate::DepositFinality::Finalized
            } else {
                crate::DepositFinality::Confirmations
            },
        };
        p.validate(options.chain_id)?;
    }
    let genesis_hash = genesis.build()?.hash;

    std::fs::create_dir_all(out).map_err(|e| GenesisError::io(out, e))?;
    let genesis_path = out.join("genesis.json");
    let json = serde_json::to_string_pretty(&genesis.to_json()).expect("genesis serialises");
    std::fs::write(&genesis_path, json + "\n").map_err(|e| GenesisError::io(&genesis_path, e))?;

    let port = |i: usize, offset: u16| options.base_port + PORTS_PER_NODE * i as u16 + offset;
    let validator_addr = |j: usize| p2p_addr(port(j, 0)).with(Protocol::P2p(keys[j].peer_id()));
    let full_keys: Vec<ValidatorKeys> = (0..options.full_nodes)
        .map(|_| ValidatorKeys::generate())
        .collect::<Result<_, _>>()?;
    let mut nodes = Vec::with_capacity(total);
    let members = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            // Every other validator.
            let bootnodes = (0..n).filter(|j| *j != i).map(validator_addr).collect();
            (format!("node{i}"), key, bootnodes)
        })
        .chain(full_keys.iter().enumerate().map(|(j, key)| {
            // Every validator.
            (
                format!("full{j}"),
                key,
                (0..n).map(validator_addr).collect(),
            )
        }));
    for (i, (name, key, bootnodes)) in members.enumerate() {
        let dir = out.join(&name);
        std::fs::create_dir_all(&dir).map_err(|e| GenesisError::io(&dir, e))?;
        key.save(dir.join("key.json"))?;
        let config = NodeConfig {
            name,
            genesis_file: PathBuf::from("../genesis.json"),
            datadir: PathBuf::from("data"),
            key_file: PathBuf::from("key.json"),
            network: NetworkConfig {
                listen_addr: p2p_addr(port(i, 0)),
                bootnodes,
            },
            rpc_addr: loopback(port(i, 1)),
            grpc_addr: loopback(port(i, 2)),
            metrics_addr: loopback(port(i, 3)),
            mempool: MempoolConfig::default(),
            l1: options.bridge.as_ref().map(|b| L1Config {
                rpc_url: b.l1_rpc_url.clone(),
                from_block: 0,
                poll_interval_ms: 500,
                // Validators relay withdrawals; full nodes only watch.
                relay: i < n,
            }),
        };
        config.validate()?;
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config.to_toml())
            .map_err(|e| GenesisError::io(&config_path, e))?;
        nodes.push(GeneratedNode {
            dir,
            config,
            peer_id: key.peer_id(),
            validator: i < n,
        });
    }
    Ok(GeneratedTestnet {
        genesis,
        genesis_hash,
        nodes,
        dev_accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn dev_accounts_are_hardhats() {
        let accounts = dev_accounts(2).unwrap();
        // The first two accounts every Ethereum developer tool funds from this mnemonic.
        assert_eq!(
            accounts[0].0,
            address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            accounts[1].0,
            address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
        );
    }

    fn one_validator() -> Validator {
        let keys = ValidatorKeys::generate().unwrap();
        keys.validator("node0", 3)
    }

    #[test]
    fn a_parallax_genesis_predeploys_the_bridge_with_its_validator_set() {
        let accounts = dev_accounts(2).unwrap();
        let v = one_validator();
        let genesis = parallax_genesis(4242, 0, vec![v.clone()], &accounts).unwrap();
        // The state it builds holds the code (the state root covers it).
        genesis.build().unwrap();
        let parallax = genesis.parallax.clone().unwrap();
        assert_eq!(
            parallax.native_currency.symbol, "PLX",
            "the genesis states its own currency"
        );
        let alloc = genesis.alloc;
        let bridge = &alloc[&crate::L2_BRIDGE_ADDRESS];
        assert_eq!(bridge.code, crate::l2_bridge_code());
        assert!(bridge.code.len() > 1_000, "real runtime code");
        assert_eq!(bridge.balance, U256::ZERO);
        assert_eq!(alloc.len(), 3, "two development accounts and the bridge");
        // The validator set sits where the compiled contract keeps it: power by address at
        // the struct's slot, the list (length, then its elements) at +1, the total at +2.
        let artifact: serde_json::Value = serde_json::from_str(include_str!(
            "../../bridge/contracts/artifacts/ParallaxBridgeL2.json"
        ))
        .unwrap();
        let slot = artifact["storageLayout"]["storage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["label"] == "validatorSet")
            .unwrap()["slot"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        let word = |n: u64| B256::from(U256::from(n));
        let mut key = [0u8; 64];
        key[12..32].copy_from_slice(v.bridge_address.as_slice());
        key[32..].copy_from_slice(word(slot).as_slice());
        let list = alloy_primitives::keccak256(word(slot + 1));
        let expected: std::collections::BTreeMap<B256, B256> = [
            (alloy_primitives::keccak256(key), word(3)),
            (word(slot + 1), word(1)),
            (list, v.bridge_address.into_word()),
            (word(slot + 2), word(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(bridge.storage, expected);
    }

    #[test]
    fn a_genesis_whose_bridge_does_not_hold_its_validator_set_is_refused() {
        let accounts = dev_accounts(1).unwrap();
        let genesis = parallax_genesis(4242, 0, vec![one_validator()], &accounts).unwrap();
        let mut json = genesis.to_json();
        let key = format!("{:#x}", crate::L2_BRIDGE_ADDRESS);
        let alloc = json["alloc"].as_object_mut().unwrap();
        let entry = alloc
            .iter_mut()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case(&key)
                    || k.trim_start_matches("0x")
                        .eq_ignore_ascii_case(key.trim_start_matches("0x"))
            })
            .map(|(_, v)| v)
            .unwrap();
        entry["storage"] = serde_json::json!({});
        let err = Genesis::from_json(&json.to_string())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("storage") && err.contains("validator set"),
            "{err}"
        );
    }

    #[test]
    fn the_native_currency_and_the_deposit_depth_are_checked() {
        let accounts = dev_accounts(1).unwrap();
        let genesis = parallax_genesis(4242, 0, vec![one_validator()], &accounts).unwrap();
        let check = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut json = genesis.to_json();
            // The file's mixHash commits to the parallax section being edited here.
            json["mixHash"] = format!("{:#x}", B256::ZERO).into();
            edit(&mut json);
            Genesis::from_json(&json.to_string())
                .map(drop)
                .map_err(|e| e.to_string())
        };
        assert!(check(&|_| {}).is_ok());
        let err = check(&|j| j["parallax"]["nativeCurrency"]["decimals"] = 6.into()).unwrap_err();
        assert!(err.contains("parallax.nativeCurrency.decimals"), "{err}");
        let err = check(&|j| j["parallax"]["nativeCurrency"]["symbol"] = "X".into()).unwrap_err();
        assert!(err.contains("parallax.nativeCurrency.symbol"), "{err}");
        // A chain bridged to Ethereum must wait at least one block (or for finality).
        let bridged = |j: &mut serde_json::Value| {
            j["parallax"]["bridge"]["l1Bridge"] =
                "0x5FbDB2315678afecb367f032d93F642f64180aa3".into();
        };
        let err = check(&|j| bridged(j)).unwrap_err();
        assert!(err.contains("parallax.bridge.confirmations"), "{err}");
        assert_eq!(
            check(&|j| {
                bridged(j);
                j["parallax"]["bridge"]["depositFinality"] = "finalized".into();
            }),
            Ok(())
        );
        assert_eq!(
            check(&|j| {
                bridged(j);
                j["parallax"]["bridge"]["confirmations"] = 1.into();
            }),
            Ok(())
        );
        // Another currency is another chain.
        let mut other = genesis.parallax.clone().unwrap();
        other.native_currency.symbol = "ETH".into();
        assert_ne!(
            other.commitment(),
            genesis.parallax.clone().unwrap().commitment()
        );
    }
}
