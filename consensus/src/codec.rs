//! The compact, deterministic byte encoding used for hashing, signing and persisting.
//!
//! Integers are big-endian and fixed width; variable-length fields carry a `u32` length
//! prefix; optional fields a `0`/`1` tag byte. Every value has exactly one encoding, and
//! decoding is bounded: lengths are checked against limits before anything is allocated, and
//! trailing bytes are an error.

use thiserror::Error;

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("input ends early reading {0}")]
    UnexpectedEnd(&'static str),
    /// A length prefix is above the field's limit.
    #[error("{field} is {len} long, more than the limit {limit}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A tag byte has no meaning.
    #[error("unknown tag {tag} for {field}")]
    UnknownTag {
        /// The field.
        field: &'static str,
        /// The tag read.
        tag: u8,
    },
    /// Bytes remain after the value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// The format version is not one this code reads.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// A field that has one canonical form is not in it (e.g. a list that must be sorted and
    /// free of repeats), so two encodings would denote one value.
    #[error("{0} is not in canonical form")]
    NotCanonical(&'static str),
}

/// Appends fields to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn fixed(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A `u32` length prefix, then the bytes. Callers keep lengths below `u32::MAX` (every
    /// variable field has a decode limit far below it).
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.fixed(v)
    }

    /// An optional value: a presence byte (0 or 1), then the value when present.
    pub(crate) fn optional<T>(
        &mut self,
        v: Option<&T>,
        write: impl FnOnce(&T, &mut Self),
    ) -> &mut Self {
        match v {
            None => {
                self.u8(0);
            }
            Some(v) => {
                self.u8(1);
                write(v, self);
            }
        }
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields from a buffer, never past its end.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::UnexpectedEnd(field));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4, field)?);
        Ok(u32::from_be_bytes(a))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, field)?);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    pub(crate) fn bytes(
        &mut self,
        field: &'static str,
        limit: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > limit {
            return Err(DecodeError::TooLong {
                field,
                len: len as u64,
                limit: limit as u64,
            });
        }
        self.take(len, field)
    }

    /// A `u32` element count of at most `limit`.
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        limit: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(field)? as usize;
        if n > limit {
            return Err(DecodeError::TooLong {
                field,
                len: n as u64,
                limit: limit as u64,
            });
        }
        Ok(n)
    }

    /// An option tag: `false` for `0`, `true` for `1`.
    pub(crate) fn option(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag { field, tag }),
        }
    }

    /// Reads what [`Writer::optional`] wrote.
    pub(crate) fn optional<T>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.option(field)? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.buf.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_fields_and_rejects_trailing_and_short_input() {
        let mut w = Writer::new();
        w.u8(7).u32(9).u64(u64::MAX).bytes(b"abc").fixed(&[1, 2]);
        let buf = w.finish();
        let mut r = Reader::new(&buf);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u32("b").unwrap(), 9);
        assert_eq!(r.u64("c").unwrap(), u64::MAX);
        assert_eq!(r.bytes("d", 3).unwrap(), b"abc");
        assert_eq!(r.array::<2>("e").unwrap(), [1, 2]);
        r.finish().unwrap();

        let mut r = Reader::new(&buf[..buf.len() - 1]);
        r.u8("a").unwrap();
        r.u32("b").unwrap();
        r.u64("c").unwrap();
        r.bytes("d", 3).unwrap();
        assert_eq!(r.array::<2>("e"), Err(DecodeError::UnexpectedEnd("e")));

        let mut r = Reader::new(&buf);
        r.u8("a").unwrap();
        assert!(matches!(r.finish(), Err(DecodeError::TrailingBytes(_))));
    }

    #[test]
    fn length_above_limit_is_rejected_before_reading() {
        let mut w = Writer::new();
        w.u32(u32::MAX);
        let buf = w.finish();
        let err = Reader::new(&buf).bytes("payload", 16).unwrap_err();
        assert!(matches!(
            err,
            DecodeError::TooLong {
                field: "payload",
                ..
            }
        ));
    }
}
