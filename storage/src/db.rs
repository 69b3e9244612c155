//! Opening the MDBX environment, the schema check, and typed transactions.

use crate::{
    codec::{Compress, Decompress, Encode},
    cursor::Cursor,
    error::{CodecError, Part, StorageError, StorageResult},
    tables::{self, Metadata, TABLES, Table, meta_keys},
};
use alloy_primitives::Bytes;
use libmdbx::{
    DatabaseOptions, Mode, NoWriteMap, RO, RW, ReadWriteOptions, SyncMode, TableFlags,
    TransactionKind, WriteFlags,
};
use std::{
    borrow::Cow,
    path::{Path, PathBuf},
};
use tracing::info;

/// The schema version this build writes, and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Upper bound of the data file. MDBX reserves this much address space, not disk.
const MAX_MAP_SIZE: isize = 1 << 40; // 1 TiB
/// Step by which the data file grows (and the free tail above which it shrinks is 4 steps).
const GROWTH_STEP: isize = 64 << 20; // 64 MiB
/// Room for the current tables and those later schemas add.
const MAX_TABLES: u64 = 64;
/// Concurrent read transactions across all processes.
const MAX_READERS: u32 = 256;
/// The MDBX data file inside the database directory.
const DATA_FILE: &str = "mdbx.dat";

/// A Parallax database: an MDBX environment holding the [tables](crate::tables).
///
/// It is `Send + Sync`: share it (e.g. in an `Arc`) between the writer and any number of reader
/// threads. Writes are serialised by MDBX; reads never wait for them.
#[derive(Debug)]
pub struct Database {
    env: libmdbx::Database<NoWriteMap>,
    path: PathBuf,
    read_only: bool,
}

impl Database {
    /// Opens the database in directory `path` for reading and writing, creating the directory
    /// and the tables if needed.
    ///
    /// Every commit is durable (fsynced) before it returns.
    pub fn open(path: impl AsRef<Path>) -> StorageResult<Self> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| StorageError::CreateDir {
            path: path.clone(),
            source,
        })?;
        // Opened for writing, MDBX silently re-creates a data file too short to hold its meta
        // pages as a new empty database, and resizes one cut off the page grid as if nothing
        // were lost. Opening an existing file read-only first reports such damage as an error
        // instead, without writing to the file. (With durable commits, a crash alone never
        // leaves a file that needs this kind of recovery.)
        let existing = std::fs::metadata(path.join(DATA_FILE)).is_ok_and(|m| m.len() > 0);
        if existing {
            drop(Self::open_env(path.clone(), Mode::ReadOnly)?);
        }
        let mode = Mode::ReadWrite(ReadWriteOptions {
            sync_mode: SyncMode::Durable,
            max_size: Some(MAX_MAP_SIZE),
            growth_step: Some(GROWTH_STEP),
            shrink_threshold: Some(4 * GROWTH_STEP),
            ..Default::default()
        });
        let db = Self::open_env(path, mode)?;
        db.init().map_err(|e| e.at_open(&db.path))?;
        Ok(db)
    }

    /// Opens an existing database read-only, e.g. from a tool running beside the node.
    ///
    /// Fails if the directory holds no Parallax database.
    pub fn open_read_only(path: impl AsRef<Path>) -> StorageResult<Self> {
        let db = Self::open_env(path.as_ref().to_path_buf(), Mode::ReadOnly)?;
        db.check_read_only().map_err(|e| e.at_open(&db.path))?;
        Ok(db)
    }

    fn check_read_only(&self) -> StorageResult<()> {
        let tx = self.begin_ro()?;
        let schema = tx
            .schema_version()?
            .ok_or_else(|| StorageError::MissingSchemaVersion {
                path: self.path.clone(),
            })?;
        check_schema(schema)?;
        for name in TABLES {
            tx.inner
                .open_table(Some(name))
                .map_err(|e| StorageError::table(name, "open table", e))?;
        }
        info!(path = %self.path.display(), schema, read_only = true, "opened database");
        Ok(())
    }

    fn open_env(path: PathBuf, mode: Mode) -> StorageResult<Self> {
        let options = DatabaseOptions {
            max_tables: Some(MAX_TABLES),
            max_readers: Some(MAX_READERS),
            mode,
            ..Default::default()
        };
        match libmdbx::Database::open_with_options(&path, options) {
            Ok(env) => Ok(Self {
                env,
                path,
                read_only: matches!(mode, Mode::ReadOnly),
            }),
            Err(source) => Err(StorageError::Open { path, source }),
        }
    }

    /// Checks the schema version, creates missing tables and stamps a new database.
    fn init(&self) -> StorageResult<()> {
        let tx = self.begin_rw()?;
        // Check the version before touching any table: a newer schema may define them
        // differently.
        let found = tx.schema_version()?;
        if let Some(found) = found {
            check_schema(found)?;
        }
        for name in TABLES {
            tx.inner
                .create_table(Some(name), TableFlags::empty())
                .map_err(|e| StorageError::table(name, "create table", e))?;
        }
        if found.is_none() {
            if tx.entries::<tables::CanonicalHeaders>()? > 0 || tx.entries::<Metadata>()? > 0 {
                return Err(StorageError::MissingSchemaVersion {
                    path: self.path.clone(),
                });
            }
            let version = Bytes::copy_from_slice(&SCHEMA_VERSION.to_be_bytes());
            tx.put::<Metadata>(&meta_keys::SCHEMA_VERSION.to_owned(), &version)?;
        }
        tx.commit()?;
        info!(
            path = %self.path.display(),
            schema = SCHEMA_VERSION,
            created = found.is_none(),
            read_only = false,
            "opened database"
        );
        Ok(())
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the database was opened with [`Database::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Begins a read-only transaction: a consistent snapshot of the last commit.
    ///
    /// Many may be open at once, from any threads, alongside the writer. A long-lived one keeps
    /// the pages of its snapshot from being reused, so drop it when done.
    pub fn begin_ro(&self) -> StorageResult<Tx<'_, RO>> {
        let inner = self
            .env
            .begin_ro_txn()
            .map_err(|source| StorageError::Transaction {
                op: "begin read transaction",
                source,
            })?;
        Ok(Tx { inner })
    }

    /// Begins the read-write transaction, waiting while another one is open (in this process
    /// or another). Nothing is written unless it is committed.
    ///
    /// This is the low-level path: its writes bypass the checks of [`Database::write_block`]
    /// and the metadata setters, so the caller keeps the crate's invariants.
    pub fn begin_rw(&self) -> StorageResult<Tx<'_, RW>> {
        if self.read_only {
            return Err(StorageError::ReadOnly);
        }
        let inner = self
            .env
            .begin_rw_txn()
            .map_err(|source| StorageError::Transaction {
                op: "begin write transaction",
                source,
            })?;
        Ok(Tx { inner })
    }

    /// A reader: a read-only transaction with the block, state and history queries of
    /// [`Tx`]. Cheap; see [`Database::begin_ro`].
    pub fn reader(&self) -> StorageResult<crate::Reader<'_>> {
        self.begin_ro()
    }
}

fn check_schema(found: u32) -> StorageResult<()> {
    let supported = SCHEMA_VERSION;
    if found > supported {
        Err(StorageError::SchemaTooNew { found, supported })
    } else if found < supported {
        Err(StorageError::SchemaTooOld { found, supported })
    } else {
        Ok(())
    }
}

/// A typed transaction: read-only (`Tx<RO>`) or read-write (`Tx<RW>`).
///
/// The low-level methods here read and write single tables; the block, state and history
/// queries are in [`read`](crate::read) and available on both kinds.
pub struct Tx<'db, K: TransactionKind> {
    pub(crate) inner: libmdbx::Transaction<'db, K, NoWriteMap>,
}

impl<K: TransactionKind> std::fmt::Debug for Tx<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("id", &self.inner.id()).finish()
    }
}

impl<'db, K: TransactionKind> Tx<'db, K> {
    fn table<T: Table>(&self) -> StorageResult<libmdbx::Table<'_>> {
        self.inner
            .open_table(Some(T::NAME))
            .map_err(|e| StorageError::table(T::NAME, "open table", e))
    }

    /// The value stored under `key`.
    pub fn get<T: Table>(&self, key: &T::Key) -> StorageResult<Option<T::Value>> {
        let table = self.table::<T>()?;
        let raw: Option<Cow<'_, [u8]>> = self
            .inner
            .get(&table, key.encode_key())
            .map_err(|e| StorageError::table(T::NAME, "get", e))?;
        raw.map(|bytes| {
            T::Value::decompress(&bytes).map_err(|e| StorageError::decode(T::NAME, Part::Value, e))
        })
        .transpose()
    }

    /// A cursor over table `T`.
    pub fn cursor<T: Table>(&self) -> StorageResult<Cursor<'_, T, K>> {
        let table = self.table::<T>()?;
        let cursor = self
            .inner
            .cursor(&table)
            .map_err(|e| StorageError::table(T::NAME, "open cursor", e))?;
        Ok(Cursor::new(cursor))
    }

    /// The number of entries in table `T`.
    pub fn entries<T: Table>(&self) -> StorageResult<usize> {
        let table = self.table::<T>()?;
        let stat = self
            .inner
            .table_stat(&table)
            .map_err(|e| StorageError::table(T::NAME, "stat", e))?;
        Ok(stat.entries())
    }

    /// The stored schema version; `None` for a database without one (or without tables).
    fn schema_version(&self) -> StorageResult<Option<u32>> {
        match self.inner.open_table(Some(Metadata::NAME)) {
            Err(libmdbx::Error::NotFound) => return Ok(None),
            Err(e) => return Err(StorageError::table(Metadata::NAME, "open table", e)),
            Ok(_) => {}
        }
        let Some(bytes) = self.get::<Metadata>(&meta_keys::SCHEMA_VERSION.to_owned())? else {
            return Ok(None);
        };
        let version = <[u8; 4]>::try_from(bytes.as_ref()).map_err(|_| {
            let e = CodecError::InvalidLength {
                expected: 4,
                got: bytes.len(),
            };
            StorageError::decode(Metadata::NAME, Part::Value, e)
        })?;
        Ok(Some(u32::from_be_bytes(version)))
    }
}

impl Tx<'_, RW> {
    /// Stores `value` under `key`, replacing any previous value.
    pub fn put<T: Table>(&self, key: &T::Key, value: &T::Value) -> StorageResult<()> {
        let table = self.table::<T>()?;
        self.inner
            .put(
                &table,
                key.encode_key(),
                value.compress(),
                WriteFlags::UPSERT,
            )
            .map_err(|e| StorageError::table(T::NAME, "put", e))
    }

    /// Deletes the entry under `key`; returns whether there was one.
    pub fn delete<T: Table>(&self, key: &T::Key) -> StorageResult<bool> {
        let table = self.table::<T>()?;
        self.inner
            .del(&table, key.encode_key(), None)
            .map_err(|e| StorageError::table(T::NAME, "delete", e))
    }

    /// Deletes every entry whose encoded key starts with the encoding of `prefix`; returns
    /// how many.
    pub fn delete_prefix<T: Table, P: Encode + ?Sized>(&self, prefix: &P) -> StorageResult<usize> {
        let mut cursor = self.cursor::<T>()?;
        let keys = cursor
            .walk_prefix(prefix)
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<StorageResult<Vec<_>>>()?;
        for key in &keys {
            self.delete::<T>(key)?;
        }
        Ok(keys.len())
    }

    /// Commits durably: when this returns, the writes survive a crash or power loss.
    pub fn commit(self) -> StorageResult<()> {
        self.inner
            .commit()
            .map(drop)
            .map_err(|source| StorageError::Transaction {
                op: "commit",
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{Headers, PlainAccounts};
    use alloy_primitives::Address;

    #[test]
    fn junk_in_a_table_is_a_decode_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let tx = db.begin_rw().unwrap();
        let table = tx.table::<PlainAccounts>().unwrap();
        let address = Address::with_last_byte(1);
        tx.inner
            .put(
                &table,
                address.encode_key(),
                [1u8, 0xff, 0x01],
                WriteFlags::UPSERT,
            )
            .unwrap();
        let table = tx.table::<Headers>().unwrap();
        tx.inner
            .put(&table, [1u8, 2, 3], [9u8, 9, 9], WriteFlags::UPSERT)
            .unwrap();
        tx.commit().unwrap();

        let reader = db.reader().unwrap();
        let err = reader.get::<PlainAccounts>(&address).unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::Decode {
                    table: "PlainAccounts",
                    part: Part::Value,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("PlainAccounts"), "{err}");

        // A malformed key is found by a walk and reported as a key error.
        let mut cursor = reader.cursor::<Headers>().unwrap();
        let err = cursor.walk(None).next().unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                StorageError::Decode {
                    table: "Headers",
                    part: Part::Key,
                    ..
                }
            ),
            "{err}"
        );
        assert!(reader.header(0).unwrap().is_none());
    }

    #[test]
    fn read_only_database_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        drop(Database::open(dir.path()).unwrap());
        let db = Database::open_read_only(dir.path()).unwrap();
        assert!(db.is_read_only());
        assert!(matches!(db.begin_rw(), Err(StorageError::ReadOnly)));
        assert_eq!(db.reader().unwrap().head().unwrap(), None);
    }
}
