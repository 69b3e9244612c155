//! Typed cursors over one table, and walkers that iterate a key range or prefix.

use crate::{
    codec::{Decode, Decompress, Encode},
    error::{Part, StorageError, StorageResult},
    tables::Table,
};
use libmdbx::{RW, TransactionKind};
use std::{borrow::Cow, marker::PhantomData, ops::Bound, ops::RangeBounds};

/// A raw entry as MDBX returns it; borrowed from the memory map in read-only transactions.
type RawEntry<'tx> = (Cow<'tx, [u8]>, Cow<'tx, [u8]>);

/// A decoded table entry.
pub type Entry<T> = (<T as Table>::Key, <T as Table>::Value);

pub(crate) fn decode_entry<T: Table>(raw: RawEntry<'_>) -> StorageResult<Entry<T>> {
    let key =
        T::Key::decode_key(&raw.0).map_err(|e| StorageError::decode(T::NAME, Part::Key, e))?;
    let value =
        T::Value::decompress(&raw.1).map_err(|e| StorageError::decode(T::NAME, Part::Value, e))?;
    Ok((key, value))
}

/// A cursor over table `T` in a transaction of kind `K`.
///
/// Positioning methods return the entry the cursor lands on, or `None` when there is none.
pub struct Cursor<'tx, T: Table, K: TransactionKind> {
    inner: libmdbx::Cursor<'tx, K>,
    _table: PhantomData<T>,
}

impl<T: Table, K: TransactionKind> std::fmt::Debug for Cursor<'_, T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor").field("table", &T::NAME).finish()
    }
}

impl<'tx, T: Table, K: TransactionKind> Cursor<'tx, T, K> {
    pub(crate) fn new(inner: libmdbx::Cursor<'tx, K>) -> Self {
        Self {
            inner,
            _table: PhantomData,
        }
    }

    fn raw(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&mut libmdbx::Cursor<'tx, K>) -> libmdbx::Result<Option<RawEntry<'tx>>>,
    ) -> StorageResult<Option<RawEntry<'tx>>> {
        f(&mut self.inner).map_err(|e| StorageError::table(T::NAME, op, e))
    }

    fn raw_next(&mut self) -> StorageResult<Option<RawEntry<'tx>>> {
        self.raw("cursor next", |c| c.next())
    }

    fn raw_seek(&mut self, key: &[u8]) -> StorageResult<Option<RawEntry<'tx>>> {
        self.raw("cursor seek", |c| c.set_range(key))
    }

    fn decoded(raw: Option<RawEntry<'tx>>) -> StorageResult<Option<Entry<T>>> {
        raw.map(decode_entry::<T>).transpose()
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw("cursor first", |c| c.first())?;
        Self::decoded(raw)
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw("cursor last", |c| c.last())?;
        Self::decoded(raw)
    }

    /// Moves to the next entry (the first one if the cursor is not positioned yet).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw_next()?;
        Self::decoded(raw)
    }

    /// Moves to the previous entry (the last one if the cursor is not positioned yet).
    pub fn prev(&mut self) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw("cursor prev", |c| c.prev())?;
        Self::decoded(raw)
    }

    /// The entry at the cursor.
    pub fn current(&mut self) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw("cursor current", |c| c.get_current())?;
        Self::decoded(raw)
    }

    /// Moves to the first entry whose key is `>= key`.
    pub fn seek(&mut self, key: &T::Key) -> StorageResult<Option<Entry<T>>> {
        let raw = self.raw_seek(&key.encode_key())?;
        Self::decoded(raw)
    }

    /// Moves to the entry with exactly `key`.
    pub fn seek_exact(&mut self, key: &T::Key) -> StorageResult<Option<Entry<T>>> {
        let key = key.encode_key();
        let raw = self.raw("cursor seek", |c| c.set_key(&key))?;
        Self::decoded(raw)
    }

    /// Walks from the first entry `>= start` (or the first entry) to the end of the table.
    pub fn walk(&mut self, start: Option<&T::Key>) -> Walker<'_, 'tx, T, K> {
        let start = start.map_or(Bound::Unbounded, Bound::Included);
        self.walk_bounds(start, Bound::Unbounded)
    }

    /// Walks the entries whose keys are in `range`, in key order.
    pub fn walk_range(&mut self, range: impl RangeBounds<T::Key>) -> Walker<'_, 'tx, T, K> {
        self.walk_bounds(range.start_bound(), range.end_bound())
    }

    fn walk_bounds(&mut self, start: Bound<&T::Key>, end: Bound<&T::Key>) -> Walker<'_, 'tx, T, K> {
        let start = match start {
            Bound::Unbounded => self.raw("cursor first", |c| c.first()),
            Bound::Included(key) => self.raw_seek(&key.encode_key()),
            Bound::Excluded(key) => {
                let key = key.encode_key();
                match self.raw_seek(&key) {
                    Ok(Some((found, _))) if *found == *key => self.raw_next(),
                    other => other,
                }
            }
        };
        Walker {
            cursor: self,
            start: Some(start),
            end: end.map(Encode::encode_key),
            prefix: None,
            done: false,
        }
    }

    /// Walks the entries whose encoded key starts with the encoding of `prefix`, e.g. all
    /// storage of one address with an [`Address`](alloy_primitives::Address) prefix.
    pub fn walk_prefix<P: Encode + ?Sized>(&mut self, prefix: &P) -> Walker<'_, 'tx, T, K> {
        let prefix = prefix.encode_key();
        let start = self.raw_seek(&prefix);
        Walker {
            cursor: self,
            start: Some(start),
            end: Bound::Unbounded,
            prefix: Some(prefix),
            done: false,
        }
    }
}

impl<T: Table> Cursor<'_, T, RW> {
    /// Deletes the entry at the cursor.
    pub fn delete_current(&mut self) -> StorageResult<()> {
        self.inner
            .del(libmdbx::WriteFlags::empty())
            .map_err(|e| StorageError::table(T::NAME, "cursor delete", e))
    }
}

/// An iterator over a range of a table, made by [`Cursor::walk`], [`Cursor::walk_range`] or
/// [`Cursor::walk_prefix`]. It stops after the first error.
pub struct Walker<'c, 'tx, T: Table, K: TransactionKind> {
    cursor: &'c mut Cursor<'tx, T, K>,
    /// The entry the walk starts at, fetched when the walker was made.
    start: Option<StorageResult<Option<RawEntry<'tx>>>>,
    end: Bound<Vec<u8>>,
    prefix: Option<Vec<u8>>,
    done: bool,
}

impl<T: Table, K: TransactionKind> std::fmt::Debug for Walker<'_, '_, T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walker")
            .field("table", &T::NAME)
            .field("done", &self.done)
            .finish()
    }
}

impl<T: Table, K: TransactionKind> Walker<'_, '_, T, K> {
    fn in_range(&self, key: &[u8]) -> bool {
        let below_end = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(end) => key <= end.as_slice(),
            Bound::Excluded(end) => key < end.as_slice(),
        };
        below_end && self.prefix.as_ref().is_none_or(|p| key.starts_with(p))
    }
}

impl<T: Table, K: TransactionKind> Iterator for Walker<'_, '_, T, K> {
    type Item = StorageResult<Entry<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let raw = match self.start.take() {
            Some(start) => start,
            None => self.cursor.raw_next(),
        };
        let item = match raw {
            Ok(Some(raw)) if self.in_range(&raw.0) => decode_entry::<T>(raw),
            Ok(_) => {
                self.done = true;
                return None;
            }
            Err(e) => Err(e),
        };
        self.done = item.is_err();
        Some(item)
    }
}
