//! The public Ethereum networks whose genesis files are published without a `config`.
//!
//! geth's mainnet, sepolia and holesky genesis files carry only the block fields and the
//! `alloc`; geth knows their chain id and fork schedule because it recognises the network
//! (by genesis hash). We do the same by the alloc's state root, which needs no fork schedule
//! to compute, and take the schedules from `alloy-hardforks`, the schedules reth runs.

use crate::ChainConfig;
use alloy_hardforks::EthereumHardfork;
use alloy_primitives::{B256, b256};

/// A public network Parallax can recognise by its genesis alloc.
#[derive(Clone, Copy, Debug)]
pub struct KnownNetwork {
    /// The network's name.
    pub name: &'static str,
    /// The EIP-155 chain id.
    pub chain_id: u64,
    /// The state root of its genesis alloc.
    pub alloc_root: B256,
}

/// The networks recognised when a genesis file has no `config`.
pub const KNOWN_NETWORKS: &[KnownNetwork] = &[
    KnownNetwork {
        name: "mainnet",
        chain_id: 1,
        alloc_root: b256!("0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"),
    },
    KnownNetwork {
        name: "sepolia",
        chain_id: 11_155_111,
        alloc_root: b256!("0x5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494"),
    },
    KnownNetwork {
        name: "holesky",
        chain_id: 17_000,
        alloc_root: b256!("0x69d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783"),
    },
    KnownNetwork {
        name: "hoodi",
        chain_id: 560_048,
        alloc_root: b256!("0xda87d7f5f91c51508791bbcbd4aa5baf04917830b86985eeb9ad3d5bfb657576"),
    },
];

impl KnownNetwork {
    /// Finds the network whose genesis alloc has this state root.
    pub fn by_alloc_root(root: B256) -> Option<&'static Self> {
        KNOWN_NETWORKS.iter().find(|n| n.alloc_root == root)
    }

    /// The network's chain config with its published fork schedule.
    pub fn chain_config(&self) -> ChainConfig {
        match self.name {
            "mainnet" => {
                ChainConfig::from_schedule(self.chain_id, &EthereumHardfork::mainnet(), true)
            }
            "sepolia" => {
                ChainConfig::from_schedule(self.chain_id, &EthereumHardfork::sepolia(), false)
            }
            "holesky" => {
                ChainConfig::from_schedule(self.chain_id, &EthereumHardfork::holesky(), false)
            }
            _ => ChainConfig::from_schedule(self.chain_id, &EthereumHardfork::hoodi(), false),
        }
    }
}
