//! A small blocking JSON-RPC client over HTTP/1.1 (no dependencies): enough for polling a
//! node's height, peers and consensus status.

use serde_json::{Value, json};
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

/// Why a call got no result.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Could not connect, send or read.
    #[error("{addr}: {source}")]
    Transport {
        /// The node's address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The answer was not a JSON-RPC response.
    #[error("{addr}: not a JSON-RPC response: {detail}")]
    Malformed {
        /// The node's address.
        addr: SocketAddr,
        /// What came back.
        detail: String,
    },
    /// The node answered with an error.
    #[error("{addr}: error {code}: {message}")]
    Remote {
        /// The node's address.
        addr: SocketAddr,
        /// JSON-RPC error code.
        code: i64,
        /// Its message.
        message: String,
    },
}

/// Calls `method` on the node at `addr`, giving up after `timeout` (connecting and reading).
pub fn call(
    addr: SocketAddr,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, RpcError> {
    let transport = |source| RpcError::Transport { addr, source };
    let malformed = |detail: String| RpcError::Malformed { addr, detail };
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(transport)?;
    stream.set_read_timeout(Some(timeout)).map_err(transport)?;
    stream.set_write_timeout(Some(timeout)).map_err(transport)?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(transport)?;
    let mut response = Vec::new();
    stream
        .take(16 * 1024 * 1024)
        .read_to_end(&mut response)
        .map_err(transport)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| malformed(format!("{:.200}", text)))?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(body).ok_or_else(|| malformed("bad chunked body".into()))?
    } else {
        body.to_owned()
    };
    let value: Value = serde_json::from_str(&body).map_err(|e| malformed(format!("{e}")))?;
    if let Some(error) = value.get("error") {
        return Err(RpcError::Remote {
            addr,
            code: error["code"].as_i64().unwrap_or(0),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    value
        .get("result")
        .cloned()
        .ok_or_else(|| malformed(format!("{value:.200}")))
}

/// The body of an HTTP/1.1 chunked transfer.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// A JSON-RPC quantity (`"0x1a"`) as a number.
pub fn quantity(v: &Value) -> Option<u64> {
    u64::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n").as_deref(),
            Some("{\"a\": 1}")
        );
        assert_eq!(dechunk("zz\r\n"), None);
    }

    #[test]
    fn quantities_are_hex() {
        assert_eq!(quantity(&json!("0x1a")), Some(26));
        assert_eq!(quantity(&json!("26")), None);
    }
}
