//! A TCP connection that holds its place under a server's connection limits (the JSON-RPC
//! and gRPC admin servers): the permits are released when the connection is dropped, and a
//! connection that stops sending is closed.
//!
//! Idle connections are what a client that does not play along uses to hold every slot: a
//! connection that sends nothing for [`Timeouts::first_byte`] after it opens, or nothing for
//! [`Timeouts::idle`] later (between keep-alive requests, or a WebSocket whose client answers
//! no ping), fails its next read with `TimedOut` and is closed. Only reads count: a server
//! writing into a dead connection does not keep it open.

use std::{
    collections::HashMap,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::OwnedSemaphorePermit,
    time::{Instant, Sleep},
};

/// How long a connection may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accepting it to its first byte (geth's read-header timeout is 30 s).
    pub first_byte: Duration,
    /// Between reads afterwards (geth's idle timeout is 120 s).
    pub idle: Duration,
}

/// Connections open per client address, shared by a listener and its connections.
#[derive(Debug, Default, Clone)]
pub struct PerIp(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl PerIp {
    /// Takes a slot for `ip` unless it already holds `max`.
    pub fn take(&self, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().ok()?;
        let held = map.entry(ip).or_default();
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(IpSlot {
            map: self.clone(),
            ip,
        })
    }
}

/// One connection's place in its address's count; given back when dropped.
#[derive(Debug)]
pub struct IpSlot {
    map: PerIp,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.0.lock()
            && let Some(held) = map.get_mut(&self.ip)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A connection, its permits, and its silence deadline.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _slot: Option<IpSlot>,
    timeouts: Option<Timeouts>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl LimitedStream {
    /// Wraps an accepted connection; without `timeouts` it may stay silent for ever.
    pub fn new(
        stream: TcpStream,
        permit: OwnedSemaphorePermit,
        slot: Option<IpSlot>,
        timeouts: Option<Timeouts>,
    ) -> Self {
        let deadline = timeouts.map(|t| Box::pin(tokio::time::sleep(t.first_byte)));
        Self {
            stream,
            _permit: permit,
            _slot: slot,
            timeouts,
            deadline,
        }
    }
}

impl LimitedStream {
    /// The TCP connection.
    pub fn tcp(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before
                    && let Some(idle) = self.timeouts.map(|t| t.idle)
                    && let Some(deadline) = self.deadline.as_mut()
                {
                    deadline.as_mut().reset(Instant::now() + idle);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = self
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client sent nothing for too long",
                    )))
                } else {
                    Poll::Pending
                }
            }
            other => other,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
