//! `parallax init`: store a chain's genesis block and state in a data directory.

use eyre::{WrapErr, bail};
use parallax_chain::genesis_write;
use parallax_genesis::Genesis;
use parallax_storage::Database;
use std::{io::Write, path::Path};

/// Stores the genesis in `datadir`. Running it again with the same genesis changes nothing;
/// with a different genesis it refuses.
pub(crate) fn init(genesis_path: &Path, datadir: &Path, out: &mut impl Write) -> eyre::Result<()> {
    let genesis = Genesis::load(genesis_path)?;
    let block = genesis.build()?;
    std::fs::create_dir_all(datadir)
        .wrap_err_with(|| format!("cannot create {}", datadir.display()))?;
    let db = Database::open(crate::service::db_path(datadir))?;
    let existing = {
        let tx = db.reader()?;
        tx.head()?.map(|_| (tx.genesis_hash(), tx.chain_id()))
    };
    match existing {
        None => {
            db.write_genesis(&genesis_write(&genesis, &block), genesis.chain_id())?;
            tracing::info!(datadir = %datadir.display(), hash = %block.hash, "stored genesis");
            writeln!(out, "initialised: {}", datadir.display())?;
        }
        Some((Ok(Some(hash)), _)) if hash == block.hash => {
            writeln!(out, "already initialised: {}", datadir.display())?;
        }
        Some((hash, chain_id)) => {
            let hash = hash?.map_or_else(|| "unknown".to_string(), |h| h.to_string());
            let chain_id = chain_id?.map_or_else(|| "unknown".to_string(), |c| c.to_string());
            bail!(
                "{} already holds chain {chain_id} with genesis {hash}, not {} from {}",
                datadir.display(),
                block.hash,
                genesis_path.display()
            );
        }
    }
    writeln!(out, "chain_id: {}", genesis.chain_id())?;
    writeln!(out, "genesis_hash: {}", block.hash)?;
    writeln!(out, "state_root: {}", block.tries.state_root)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn testnet_genesis_lands_whole_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let net = parallax_genesis::generate_testnet(&dir.path().join("net"), &Default::default())
            .unwrap();
        let datadir = dir.path().join("data");
        let mut out = Vec::new();
        init(&dir.path().join("net/genesis.json"), &datadir, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!("genesis_hash: {}", net.genesis_hash)),
            "{text}"
        );

        let db = Database::open(crate::service::db_path(&datadir)).unwrap();
        let tx = db.reader().unwrap();
        let head = tx.head().unwrap().unwrap();
        assert_eq!((head.number, head.hash), (0, net.genesis_hash));
        assert_eq!(tx.header(0).unwrap().unwrap().hash_slow(), net.genesis_hash);
        assert_eq!(tx.chain_id().unwrap(), Some(net.genesis.chain_id()));
        for (address, account) in &net.genesis.alloc {
            let stored = tx.account(*address).unwrap().unwrap();
            assert_eq!(stored.balance, account.balance);
            assert_eq!(tx.hashed_account(keccak256(address)).unwrap(), Some(stored));
        }
        // 20 accounts hash into a trie with a root branch node, which is stored.
        assert!(tx.account_trie_node(&Default::default()).unwrap().is_some());
    }

    #[test]
    fn init_is_idempotent_and_refuses_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        generate_two(dir.path());
        let datadir = dir.path().join("data");
        init(
            &dir.path().join("a/genesis.json"),
            &datadir,
            &mut Vec::new(),
        )
        .unwrap();
        let mut out = Vec::new();
        init(&dir.path().join("a/genesis.json"), &datadir, &mut out).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("already initialised")
        );
        let err = init(
            &dir.path().join("b/genesis.json"),
            &datadir,
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("already holds chain"), "{err}");
    }

    fn generate_two(dir: &Path) {
        for name in ["a", "b"] {
            parallax_genesis::generate_testnet(&dir.join(name), &Default::default()).unwrap();
        }
    }

    #[test]
    fn public_genesis_with_code_and_storage_is_stored() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/genesis/holesky.json");
        if !path.is_file() {
            eprintln!("skipping: {} is absent", path.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        init(&path, dir.path(), &mut Vec::new()).unwrap();
        let genesis = Genesis::load(&path).unwrap();
        let db = Database::open(crate::service::db_path(dir.path())).unwrap();
        let tx = db.reader().unwrap();
        assert_eq!(
            tx.head().unwrap().unwrap().hash.to_string(),
            "0xb5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4"
        );
        let (address, contract) = genesis
            .alloc
            .iter()
            .find(|(_, a)| !a.storage.is_empty())
            .unwrap();
        let stored = tx.account(*address).unwrap().unwrap();
        assert_eq!(
            tx.bytecode(stored.code_hash).unwrap().as_ref(),
            Some(&contract.code)
        );
        for (slot, value) in contract.nonzero_storage() {
            assert_eq!(tx.storage(*address, slot).unwrap(), value);
        }
        assert!(
            tx.storage_trie_node(keccak256(address), &Default::default())
                .unwrap()
                .is_some()
        );
    }
}
