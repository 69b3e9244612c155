//! A minimal keep-alive HTTP/1.1 client for JSON-RPC load: what the load tools need and no
//! more, so that generating load costs little of the CPU the node under test needs.

use bytes::Bytes;
use std::net::SocketAddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A failed request: connecting, writing, reading, or a response that is not a 200.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(pub String);

/// One keep-alive HTTP/1.1 connection, spoken by hand: the request is written as one
/// prepared buffer and the response is read with the few rules a JSON-RPC server's answer
/// needs (status line, `Content-Length` or chunked body). A general client (hyper) cost the
/// load generator about a third of a core on a 2-vCPU machine, taken from the server under
/// test; this one costs a fraction of it.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

/// Upper bound of a response accepted (a batch of blocks with their transaction hashes).
const MAX_RESPONSE: usize = 16 << 20;

impl Conn {
    /// Connects to `addr` (with `TCP_NODELAY`).
    pub async fn open(addr: SocketAddr) -> Result<Self, HttpError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| HttpError(format!("connect: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| HttpError(e.to_string()))?;
        Ok(Self {
            stream,
            host: addr.to_string(),
            buf: Vec::with_capacity(4096),
        })
    }

    /// POSTs a JSON body to `/` and returns the response body of a 200.
    pub async fn post(&mut self, body: Bytes) -> Result<Bytes, HttpError> {
        let wire = http_request(&self.host, &body);
        self.post_wire(&wire).await
    }

    /// Sends a request prepared by [`http_request`] and returns the response body of a 200.
    pub async fn post_wire(&mut self, wire: &[u8]) -> Result<Bytes, HttpError> {
        self.stream
            .write_all(wire)
            .await
            .map_err(|e| HttpError(format!("request: {e}")))?;
        self.buf.clear();
        // The head.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| HttpError("response head is not text".into()))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| HttpError(format!("bad status line in {head:?}")))?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| HttpError(format!("bad Content-Length {value:?}")))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
        let body = if chunked {
            self.chunked_body(head_end).await?
        } else {
            let length =
                length.ok_or_else(|| HttpError("response without Content-Length".into()))?;
            if length > MAX_RESPONSE {
                return Err(HttpError(format!("response of {length} bytes")));
            }
            while self.buf.len() < head_end + length {
                self.fill().await?;
            }
            if self.buf.len() > head_end + length {
                return Err(HttpError("bytes after the response".into()));
            }
            Bytes::copy_from_slice(&self.buf[head_end..])
        };
        if status != 200 {
            return Err(HttpError(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )));
        }
        Ok(body)
    }

    /// Decodes a chunked body that starts at `from` in the buffer.
    async fn chunked_body(&mut self, from: usize) -> Result<Bytes, HttpError> {
        let mut body = Vec::new();
        let mut at = from;
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf[at..], b"\r\n") {
                    break at + i;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[at..line_end]).unwrap_or("");
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError(format!("bad chunk size {size_text:?}")))?;
            if body.len() + size > MAX_RESPONSE {
                return Err(HttpError("response too large".into()));
            }
            let data = line_end + 2;
            while self.buf.len() < data + size + 2 {
                self.fill().await?;
            }
            if size == 0 {
                return Ok(Bytes::from(body));
            }
            body.extend_from_slice(&self.buf[data..data + size]);
            at = data + size + 2;
        }
    }

    /// Reads more of the response into the buffer.
    async fn fill(&mut self) -> Result<(), HttpError> {
        if self.buf.len() > MAX_RESPONSE + 64 * 1024 {
            return Err(HttpError("response too large".into()));
        }
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| HttpError(format!("response: {e}")))?;
        if n == 0 {
            return Err(HttpError("connection closed by the server".into()));
        }
        Ok(())
    }
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The bytes of a keep-alive `POST /` of a JSON body to `host`.
pub fn http_request(host: &str, body: &[u8]) -> Vec<u8> {
    let mut wire = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend_from_slice(body);
    wire
}
