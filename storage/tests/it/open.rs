//! Opening databases: schema versions, read-only opening, and files that are not (or no longer)
//! MDBX databases.

use crate::common;

use alloy_primitives::Bytes;
use parallax_storage::{
    Database, SCHEMA_VERSION, StorageError, tables::Metadata, tables::meta_keys,
};
use std::path::Path;

fn set_schema_version(db: &Database, version: u32) {
    let tx = db.begin_rw().unwrap();
    let bytes = Bytes::copy_from_slice(&version.to_be_bytes());
    tx.put::<Metadata>(&meta_keys::SCHEMA_VERSION.to_owned(), &bytes)
        .unwrap();
    tx.commit().unwrap();
}

#[test]
fn new_database_records_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("db");
    drop(Database::open(&path).unwrap());
    let db = Database::open_read_only(&path).unwrap();
    let version = db
        .reader()
        .unwrap()
        .metadata(meta_keys::SCHEMA_VERSION)
        .unwrap();
    assert_eq!(
        version.map(|v| v.to_vec()),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec())
    );
}

#[test]
fn database_from_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = common::Chain::default();
    {
        let db = Database::open(dir.path()).unwrap();
        db.write_block(chain.block(0)).unwrap();
        set_schema_version(&db, SCHEMA_VERSION + 1);
    }
    let expected = |err: StorageError| {
        assert!(
            matches!(err, StorageError::SchemaTooNew { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
            "{err}"
        );
    };
    expected(Database::open(dir.path()).unwrap_err());
    expected(Database::open_read_only(dir.path()).unwrap_err());
}

#[test]
fn database_from_an_older_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        set_schema_version(&db, 0);
    }
    let err = Database::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StorageError::SchemaTooOld { found: 0, .. }),
        "{err}"
    );
}

/// The error names the path and carries MDBX's reason.
fn assert_open_error(err: StorageError, path: &Path) {
    let message = err.to_string();
    assert!(matches!(err, StorageError::Open { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    let reason = std::error::Error::source(&err)
        .expect("MDBX reason")
        .to_string();
    assert!(!reason.is_empty());
    assert!(message.ends_with(&reason), "{message}");
}

#[test]
fn garbage_file_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("mdbx.dat"), data).unwrap();
    assert_open_error(Database::open(dir.path()).unwrap_err(), dir.path());
    assert_open_error(
        Database::open_read_only(dir.path()).unwrap_err(),
        dir.path(),
    );
}

#[test]
fn truncated_file_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = common::Chain::default();
    {
        let db = Database::open(dir.path()).unwrap();
        for n in 0..50 {
            db.write_block(chain.block(n)).unwrap();
        }
    }
    let file = dir.path().join("mdbx.dat");
    let data = std::fs::read(&file).unwrap();
    let used = data.iter().rposition(|&b| b != 0).unwrap() + 1;
    // Inside the first page, between the meta pages, and through the data pages (on and off
    // the page grid).
    for cut in [100, 6_000, 12_288, used / 2, used - 5_000] {
        std::fs::write(&file, &data[..cut]).unwrap();
        for err in [
            Database::open(dir.path()).unwrap_err(),
            Database::open_read_only(dir.path()).unwrap_err(),
        ] {
            assert_open_error(err, dir.path());
        }
    }
    // Cutting only the unused tail loses nothing.
    std::fs::write(&file, &data[..used.next_multiple_of(64 * 1024)]).unwrap();
    let db = Database::open(dir.path()).unwrap();
    common::assert_database_matches(&db, &mut chain, 49);
}

#[test]
fn empty_mdbx_database_without_schema_is_refused_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    drop(libmdbx::Database::<libmdbx::NoWriteMap>::open(dir.path()).unwrap());
    let err = Database::open_read_only(dir.path()).unwrap_err();
    assert!(
        matches!(err, StorageError::MissingSchemaVersion { .. }),
        "{err}"
    );
}

#[test]
fn missing_database_is_an_open_error_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    assert_open_error(Database::open_read_only(&path).unwrap_err(), &path);
}

#[test]
fn path_that_is_a_file_is_a_create_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, b"not a directory").unwrap();
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, StorageError::CreateDir { .. }), "{err}");
}
