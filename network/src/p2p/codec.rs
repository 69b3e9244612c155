//! The sync protocol's wire format: one length-prefixed frame per request and per response.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes. The reader checks the
//! length against the configured limit *before* reading anything else and never allocates the
//! peer-supplied length up front: the buffer grows only as bytes actually arrive, so a peer that
//! announces 4 GiB and sends nothing costs us nothing.

use std::io;
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use super::Counters;

/// The error carried inside an [`io::Error`] when a frame exceeds its limit, so the swarm task
/// can tell "too large" apart from other stream failures.
#[derive(Debug, thiserror::Error)]
#[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
pub(crate) struct FrameTooLarge {
    /// The length the frame announced (or, when writing, had).
    pub(crate) len: u64,
    /// The configured limit.
    pub(crate) limit: usize,
}

/// Whether `error` is a [`FrameTooLarge`] wrapped by this codec.
pub(crate) fn is_frame_too_large(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<FrameTooLarge>().is_some())
}

/// A request-response codec over raw bytes with separate request and response limits.
///
/// It counts oversized inbound requests itself: request-response reports no event for an
/// inbound stream whose request could not be read.
#[derive(Debug, Clone)]
pub(crate) struct SyncCodec {
    max_request_bytes: usize,
    max_response_bytes: usize,
    counters: Arc<Counters>,
}

impl SyncCodec {
    /// A codec refusing requests above `max_request_bytes` and responses above
    /// `max_response_bytes`, in both directions.
    pub(crate) fn new(
        max_request_bytes: usize,
        max_response_bytes: usize,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            max_request_bytes,
            max_response_bytes,
            counters,
        }
    }
}

/// Reads one frame of at most `limit` bytes.
pub(crate) async fn read_frame<T>(io: &mut T, limit: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u64::from(u32::from_be_bytes(prefix));
    if len > limit as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            FrameTooLarge { len, limit },
        ));
    }
    // `len <= limit`, and `take` stops at `len`; the vector grows with what arrives.
    let mut data = Vec::new();
    io.take(len).read_to_end(&mut data).await?;
    if data.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "frame announced {len} bytes, stream ended after {}",
                data.len()
            ),
        ));
    }
    Ok(data)
}

/// Writes one frame, refusing data above `limit` (or above what the 4-byte prefix can carry).
pub(crate) async fn write_frame<T>(io: &mut T, data: &[u8], limit: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let len = u32::try_from(data.len())
        .ok()
        .filter(|len| *len as usize <= limit)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                FrameTooLarge {
                    len: data.len() as u64,
                    limit,
                },
            )
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await?;
    io.flush().await?;
    io.close().await
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let result = read_frame(io, self.max_request_bytes).await;
        if let Err(error) = &result
            && is_frame_too_large(error)
        {
            Counters::bump(&self.counters.oversized_requests);
            tracing::warn!(%error, "oversized sync request dropped");
        }
        result
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response_bytes).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request, self.max_request_bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response, self.max_response_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use futures::io::Cursor;

    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn frame_round_trips() {
        block_on(async {
            let mut wire = Cursor::new(Vec::new());
            write_frame(&mut wire, b"hello", 16).await.expect("write");
            assert_eq!(wire.get_ref().as_slice(), b"\0\0\0\x05hello");
            wire.set_position(0);
            assert_eq!(read_frame(&mut wire, 16).await.expect("read"), b"hello");
        });
    }

    #[test]
    fn announced_length_above_limit_is_refused_before_reading() {
        block_on(async {
            // Announces u32::MAX bytes and carries none: must fail on the prefix alone.
            let mut wire = Cursor::new(vec![0xff, 0xff, 0xff, 0xff]);
            let error = read_frame(&mut wire, 1024).await.expect_err("too large");
            assert!(is_frame_too_large(&error), "{error}");
        });
    }

    #[test]
    fn limit_is_inclusive_and_short_frames_fail() {
        block_on(async {
            let mut wire = Cursor::new(Vec::new());
            write_frame(&mut wire, &[7; 8], 8)
                .await
                .expect("at the limit");
            wire.set_position(0);
            assert_eq!(read_frame(&mut wire, 8).await.expect("read"), vec![7; 8]);

            let mut wire = Cursor::new(Vec::new());
            let error = write_frame(&mut wire, &[7; 9], 8).await.expect_err("above");
            assert!(is_frame_too_large(&error));

            let mut wire = Cursor::new(vec![0, 0, 0, 4, 1, 2]);
            let error = read_frame(&mut wire, 8).await.expect_err("truncated");
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
            assert!(!is_frame_too_large(&error));
        });
    }
}
