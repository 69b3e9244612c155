//! The transport: our accept loop over [`limited`](crate::limited) connections, each served
//! by hyper (HTTP/1.1, HTTP/2 and the WebSocket upgrade) through CORS and the HTTP checks
//! below into jsonrpsee's tower service.
//!
//! Before jsonrpsee sees an HTTP request, a `POST` waits for its turn among
//! [`RpcLimits::max_requests_in_flight`] (HTTP/2 multiplexes many on one connection), its
//! body is read up to [`RpcLimits::max_request_bytes`] (413 beyond, with a JSON-RPC error),
//! and its envelope is checked in geth's words: not JSON is -32700; not a request object, a
//! bad `id` (jsonrpsee's ids are strings, non-negative integers or null), a `jsonrpc` other
//! than `"2.0"` or no `method` is -32600 "invalid request"; an
//! empty batch or one over [`RpcLimits::max_batch`] is -32600. jsonrpsee would answer these
//! too, in other words (and "42" as a parse error). In a batch, a call with a bad `id` is
//! replaced by `{}` before jsonrpsee sees it, so it is answered -32600 "invalid request" (id
//! `null`, as geth answers it) instead of being run as a notification and left unanswered.
//! WebSocket messages go to jsonrpsee directly, so there its wording applies.

use crate::{
    RpcLimits, RpcStats,
    error::{INVALID_REQUEST, PARSE_ERROR, RpcError},
    limited::{self, LimitedStream, Timeouts},
    middleware::{Transport, Unanswered},
};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use jsonrpsee::server::{HttpBody, StopHandle};
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tower::Service;
use tracing::{debug, warn};

/// What every connection's HTTP checks share.
pub(crate) struct Http {
    pub(crate) limits: Arc<RpcLimits>,
    pub(crate) stats: Arc<RpcStats>,
    /// HTTP requests being handled ([`RpcLimits::max_requests_in_flight`]).
    pub(crate) in_flight: Arc<Semaphore>,
}

/// Accepts connections until `stop`, holding at most `max_connections` open and at most
/// `max_connections_per_ip` from one address (one more is answered with HTTP 503 and
/// closed), and serves each with `service` (built per connection).
pub(crate) async fn accept_loop<S, F>(
    listener: TcpListener,
    limits: Arc<RpcLimits>,
    stats: Arc<RpcStats>,
    stop: StopHandle,
    mut service: F,
) where
    F: FnMut() -> S,
    S: Service<Request<Incoming>, Response = Response<HttpBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = limited::PerIp::default();
    let timeouts: Timeouts = limits.timeouts;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    warn!(error = %e, "accepting an RPC connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.clone().shutdown() => return,
        };
        let _ = stream.set_nodelay(true);
        let Some(slot) = per_ip.take(peer.ip(), limits.max_connections_per_ip) else {
            stats.refused_connections.fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "RPC connection refused: too many from this address");
            tokio::spawn(refuse(stream, "too many connections from this address"));
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            stats.refused_connections.fetch_add(1, Ordering::Relaxed);
            debug!(%peer, "RPC connection refused: too many connections");
            tokio::spawn(refuse(stream, "too many connections"));
            continue;
        };
        let stream = LimitedStream::new(stream, permit, Some(slot), Some(timeouts));
        tokio::spawn(serve_connection(stream, peer, service(), stop.clone()));
    }
}

/// Serves one connection until it closes, or finishes its requests once the server stops.
async fn serve_connection<S>(stream: LimitedStream, peer: SocketAddr, service: S, stop: StopHandle)
where
    S: Service<Request<Incoming>, Response = Response<HttpBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.shutdown() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        debug!(%peer, error = %e, "RPC connection ended");
    }
}

/// Answers a connection over the limit with 503 and a JSON-RPC error, then closes it.
async fn refuse(mut stream: TcpStream, why: &'static str) {
    let body = json!({"jsonrpc": "2.0", "id": null, "error":
        {"code": -32000, "message": why}})
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        // Read what the client sends until it closes, so closing does not reset the
        // connection before it has read the answer.
        let mut sink = [0u8; 4096];
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

impl Http {
    /// One HTTP request: a `POST` is checked here and handed to `rpc` (jsonrpsee); anything
    /// else (the WebSocket upgrade) goes to `rpc` as it is.
    pub(crate) async fn handle<R>(
        &self,
        mut rpc: R,
        mut request: Request<Incoming>,
    ) -> Response<HttpBody>
    where
        R: Service<Request<HttpBody>, Response = Response<HttpBody>>,
        R::Error: std::fmt::Display,
    {
        if request.method() != Method::POST {
            request.extensions_mut().insert(Transport::WebSocket);
            return answer(rpc.call(request.map(HttpBody::new)).await);
        }
        // Waits its turn (before reading the body) when too many are being handled.
        let _turn = match self.in_flight.clone().try_acquire_owned() {
            Ok(turn) => turn,
            Err(_) => {
                self.stats.waited.fetch_add(1, Ordering::Relaxed);
                match self.in_flight.clone().acquire_owned().await {
                    Ok(turn) => turn,
                    Err(_) => return status(StatusCode::SERVICE_UNAVAILABLE),
                }
            }
        };
        // Counted until the request is answered, or dropped when its client goes away.
        let _in_flight = InFlight::new(&self.stats);
        let (mut parts, body) = request.into_parts();
        let max = self.limits.max_request_bytes;
        let bytes = match http_body_util::Limited::new(body, max).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_none()
                {
                    // The client went away mid-body.
                    return status(StatusCode::BAD_REQUEST);
                }
                self.stats.oversized.fetch_add(1, Ordering::Relaxed);
                let e = RpcError::new(
                    INVALID_REQUEST,
                    format!("request body too large: the limit is {max} bytes"),
                );
                return json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    error_response(Value::Null, &e),
                );
            }
        };
        let body = match check_envelope(&bytes, self.limits.max_batch) {
            Ok(None) => bytes.to_vec(),
            Ok(Some(rewritten)) => rewritten.into_bytes(),
            Err(refusal) => {
                let counter = if refusal.oversized {
                    &self.stats.oversized
                } else {
                    &self.stats.malformed
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return json_response(StatusCode::OK, refusal.body);
            }
        };
        parts.extensions.insert(Transport::Http);
        let request = Request::from_parts(parts, HttpBody::from(body));
        let mut response = answer(rpc.call(request).await);
        if response.extensions().get::<Unanswered>().is_some() {
            // Notifications only: geth answers 200 with an empty body.
            *response.body_mut() = HttpBody::empty();
            response.headers_mut().remove(header::CONTENT_LENGTH);
        }
        response
    }
}

/// jsonrpsee's answer; its service does not fail, but if it did the client gets a 500.
fn answer<E: std::fmt::Display>(result: Result<Response<HttpBody>, E>) -> Response<HttpBody> {
    result.unwrap_or_else(|e| {
        warn!(error = %e, "the JSON-RPC service failed");
        status(StatusCode::INTERNAL_SERVER_ERROR)
    })
}

/// An HTTP request counted in [`RpcStats::in_flight`] while it lives.
struct InFlight<'a>(&'a RpcStats);

impl<'a> InFlight<'a> {
    fn new(stats: &'a RpcStats) -> Self {
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(stats)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn status(code: StatusCode) -> Response<HttpBody> {
    let mut response = Response::new(HttpBody::empty());
    *response.status_mut() = code;
    response
}

fn json_response(code: StatusCode, body: String) -> Response<HttpBody> {
    let mut response = Response::new(HttpBody::from(body));
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response object carrying an error.
fn error_response(id: Value, e: &RpcError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}).to_string()
}

/// A request refused for its envelope: the answer, and which counter it counts in.
#[derive(Debug)]
struct Refusal {
    body: String,
    oversized: bool,
}

impl Refusal {
    fn malformed(id: Value, code: i64, message: impl Into<String>) -> Self {
        Self {
            body: error_response(id, &RpcError::new(code, message)),
            oversized: false,
        }
    }
}

/// The members of a request object that geth checks, undecoded.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<&'a RawValue>,
}

/// Whether `id` is one jsonrpsee cannot carry (it takes strings, non-negative integers and
/// `null`): it would run such a call as a notification and never answer it.
fn bad_id(id: &RawValue) -> bool {
    match serde_json::from_str::<Value>(id.get()) {
        Ok(Value::Null | Value::String(_)) => false,
        Ok(Value::Number(n)) => !n.is_u64(),
        _ => true,
    }
}

/// Checks a body's envelope as geth does (see the module's doc); the calls themselves are
/// checked by the middleware, and the calls of a batch by jsonrpsee and the middleware.
/// `Some` is the body to serve instead: a batch whose calls with a bad `id` are replaced by
/// `{}`, which jsonrpsee answers as an invalid request.
fn check_envelope(bytes: &[u8], max_batch: usize) -> Result<Option<String>, Refusal> {
    let body: &RawValue = serde_json::from_slice(bytes)
        .map_err(|e| Refusal::malformed(Value::Null, PARSE_ERROR, format!("parse error: {e}")))?;
    let text = body.get();
    if text.starts_with('[') {
        let calls: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
            Refusal::malformed(Value::Null, PARSE_ERROR, format!("parse error: {e}"))
        })?;
        if calls.is_empty() {
            return Err(Refusal::malformed(
                Value::Null,
                INVALID_REQUEST,
                "empty batch",
            ));
        }
        if calls.len() > max_batch {
            let e = RpcError::new(
                INVALID_REQUEST,
                format!(
                    "batch too large: {} calls, the limit is {max_batch}",
                    calls.len()
                ),
            );
            return Err(Refusal {
                body: error_response(Value::Null, &e),
                oversized: true,
            });
        }
        let with_bad_id = |call: &RawValue| {
            serde_json::from_str::<Envelope<'_>>(call.get())
                .ok()
                .and_then(|e| e.id)
                .is_some_and(bad_id)
        };
        let bad: Vec<bool> = calls.iter().map(|c| with_bad_id(c)).collect();
        if !bad.contains(&true) {
            return Ok(None);
        }
        let kept: Vec<&str> = calls
            .iter()
            .zip(bad)
            .map(|(c, bad)| if bad { "{}" } else { c.get() })
            .collect();
        return Ok(Some(format!("[{}]", kept.join(","))));
    }
    let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text) else {
        return Err(Refusal::malformed(
            Value::Null,
            INVALID_REQUEST,
            "invalid request",
        ));
    };
    let id = match envelope.id {
        None => Value::Null,
        Some(raw) if bad_id(raw) => {
            return Err(Refusal::malformed(
                Value::Null,
                INVALID_REQUEST,
                "invalid request: bad id",
            ));
        }
        Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
    };
    // geth answers a call without `"jsonrpc": "2.0"` as an invalid request (a notification
    // too: it is not a valid one).
    if envelope.jsonrpc.map(RawValue::get) != Some("\"2.0\"") {
        return Err(Refusal::malformed(id, INVALID_REQUEST, "invalid request"));
    }
    if !envelope.method.is_some_and(|m| m.get().starts_with('"')) {
        return Err(Refusal::malformed(
            id,
            INVALID_REQUEST,
            "invalid request: no method",
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> Value {
        let r = check_envelope(body.as_bytes(), 2).unwrap_err();
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn envelopes_are_checked_in_geths_words() {
        assert_eq!(refused("{oops")["error"]["code"], -32700);
        assert_eq!(refused("42")["error"]["message"], "invalid request");
        let v = refused(r#"{"jsonrpc":"1.0","id":7,"method":"eth_chainId"}"#);
        assert_eq!(
            (v["error"]["code"].clone(), v["id"].clone()),
            (json!(-32600), json!(7))
        );
        assert_eq!(
            refused(r#"{"id":7,"method":"x"}"#)["error"]["message"],
            "invalid request"
        );
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#)["error"]["message"],
            "invalid request: bad id"
        );
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":-1,"method":"x"}"#)["error"]["message"],
            "invalid request: bad id"
        );
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":1}"#)["error"]["message"],
            "invalid request: no method"
        );
        assert_eq!(refused("[]")["error"]["message"], "empty batch");
        let r = check_envelope(b"[1,2,3]", 2).unwrap_err();
        assert!(r.oversized);
        assert!(r.body.contains("batch too large: 3 calls, the limit is 2"));
        assert_eq!(
            check_envelope(br#"{"jsonrpc":"2.0","method":"eth_chainId"}"#, 2).unwrap(),
            None
        );
        assert_eq!(
            check_envelope(br#"[{"jsonrpc":"2.0","id":1,"method":"a"}, 7]"#, 2).unwrap(),
            None
        );
    }

    /// A batch's calls with ids jsonrpsee cannot carry become `{}` (answered as invalid
    /// requests); the others are served as sent.
    #[test]
    fn batch_calls_with_bad_ids_become_invalid_requests() {
        let batch = br#"[{"jsonrpc":"2.0","id":{},"method":"a"},{"jsonrpc":"2.0","id":"x","method":"b"},{"jsonrpc":"2.0","id":1.5,"method":"c"},{"jsonrpc":"2.0","id":true,"method":"d"},{"jsonrpc":"2.0","method":"e"}]"#;
        let rewritten = check_envelope(batch, 8).unwrap().unwrap();
        assert_eq!(
            rewritten,
            r#"[{},{"jsonrpc":"2.0","id":"x","method":"b"},{},{},{"jsonrpc":"2.0","method":"e"}]"#
        );
    }
}
