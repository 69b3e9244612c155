//! `parallax genesis testnet|inspect`.

use parallax_genesis::{Genesis, TestnetOptions, generate_testnet};
use std::{io::Write, path::Path};

/// `nodes`: validators, full nodes.
pub(crate) fn testnet(
    dir: &Path,
    (validators, full_nodes): (usize, usize),
    chain_id: u64,
    base_port: u16,
    out: &mut impl Write,
) -> eyre::Result<()> {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let options = TestnetOptions {
        validators,
        full_nodes,
        chain_id,
        base_port,
        timestamp,
        bridge: None,
    };
    let net = generate_testnet(dir, &options)?;
    tracing::info!(dir = %dir.display(), validators, full_nodes, chain_id, "generated testnet configuration");
    writeln!(out, "genesis: {}", dir.join("genesis.json").display())?;
    writeln!(out, "chain_id: {chain_id}")?;
    writeln!(out, "genesis_hash: {}", net.genesis_hash)?;
    for node in &net.nodes {
        writeln!(
            out,
            "{}: config={} rpc=http://{} p2p={} peer_id={}",
            node.config.name,
            node.dir.join("config.toml").display(),
            node.config.rpc_addr,
            node.config.network.listen_addr,
            node.peer_id
        )?;
    }
    writeln!(
        out,
        "dev_accounts: {} funded from the public test mnemonic (never use them for value)",
        net.dev_accounts.len()
    )?;
    Ok(())
}

pub(crate) fn inspect(path: &Path, out: &mut impl Write) -> eyre::Result<()> {
    let genesis = Genesis::load(path)?;
    let block = genesis.build()?;
    writeln!(out, "chain_id: {}", genesis.chain_id())?;
    if let Some(network) = genesis.network {
        writeln!(out, "network: {}", network.name)?;
    }
    writeln!(out, "accounts: {}", genesis.alloc.len())?;
    writeln!(out, "state_root: {}", block.tries.state_root)?;
    writeln!(out, "genesis_hash: {}", block.hash)?;
    writeln!(out, "fork: {}", genesis.fork())?;
    writeln!(out, "gas_limit: {}", block.header.gas_limit)?;
    if let Some(fee) = block.header.base_fee_per_gas {
        writeln!(out, "base_fee_per_gas: {fee}")?;
    }
    if let Some(p) = &genesis.parallax {
        writeln!(out, "validators: {}", p.validators.len())?;
        writeln!(out, "total_voting_power: {}", p.total_voting_power())?;
    }
    Ok(())
}
