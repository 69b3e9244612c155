//! `parallax keys generate|inspect`.

use eyre::WrapErr;
use parallax_genesis::ValidatorKeys;
use std::{io::Write, path::Path};

fn print_public(keys: &ValidatorKeys, out: &mut impl Write) -> eyre::Result<()> {
    writeln!(out, "consensus_public_key: {}", keys.consensus_public_key())?;
    writeln!(out, "peer_id: {}", keys.peer_id())?;
    writeln!(
        out,
        "bridge_address: {}",
        keys.bridge_address().to_checksum(None)
    )?;
    Ok(())
}

pub(crate) fn generate(path: &Path, show_secret: bool, out: &mut impl Write) -> eyre::Result<()> {
    let keys = ValidatorKeys::generate()?;
    keys.save(path).wrap_err("cannot write the key file")?;
    tracing::info!(path = %path.display(), peer_id = %keys.peer_id(), "generated validator keys");
    writeln!(out, "key_file: {}", path.display())?;
    print_public(&keys, out)?;
    if show_secret {
        writeln!(out, "{}", keys.to_json_with_secrets())?;
    }
    Ok(())
}

pub(crate) fn inspect(path: &Path, show_secret: bool, out: &mut impl Write) -> eyre::Result<()> {
    let keys = ValidatorKeys::load(path)?;
    print_public(&keys, out)?;
    if show_secret {
        writeln!(out, "{}", keys.to_json_with_secrets())?;
    }
    Ok(())
}
