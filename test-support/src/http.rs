//! A raw HTTP/1.1 client for JSON-RPC tests: one `POST /` per connection, written by hand so
//! a test sees exactly what the server answered (status and body), malformed or not.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A `POST /` of `body` to `addr`: the status and the body of the answer.
pub fn post(addr: SocketAddr, body: &[u8]) -> (u16, String) {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    post_on(stream, addr, body)
}

/// A `POST /` of `body` on a connected `stream` (closed after the answer, which is read for
/// at most 20 s): the status and the body. A server that answers before reading everything
/// (413, 503) is fine: the failed write is ignored.
pub fn post_on(mut stream: TcpStream, addr: SocketAddr, body: &[u8]) -> (u16, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    let _ = write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A JSON-RPC call over [`post`]: the whole answer (`result` or `error`). Panics unless the
/// status is 200 and the body JSON.
pub fn call(addr: SocketAddr, method: &str, params: serde_json::Value) -> serde_json::Value {
    let request =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, body) = post(addr, request.to_string().as_bytes());
    assert_eq!(status, 200, "{method}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{method}: not JSON ({e}): {body:?}"))
}
