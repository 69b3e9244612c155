//! The JSON-RPC middleware (a jsonrpsee [`RpcServiceT`] layer around the methods): it counts
//! every call by method, handles at most 16 calls of one WebSocket at once (jsonrpsee starts
//! each as it arrives), and makes the answers read as geth's where jsonrpsee's own differ.
//!
//! | What | jsonrpsee alone | here (geth) |
//! |---|---|---|
//! | unknown method | -32601 "Method not found" | -32601 "the method X does not exist/is not available" |
//! | `params` not an array | decoded by name | -32602 "non-array args" |
//! | a hex string without `0x` | taken by alloy's decoders | -32602 "invalid argument N: hex string without 0x prefix" |
//! | a missing argument | -32602 "Invalid params" / "No more params" | -32602 "missing value for required argument N" |
//! | too many arguments | ignored | -32602 "too many arguments, want at most N" (see [`End`](crate::params::End)) |
//! | an undecodable argument | -32602 "Invalid params" + serde's text as `data` | -32602 "invalid argument: …" (serde's text) |
//! | `eth_subscribe` over HTTP | -32603 "Internal error" | -32601 "notifications not supported" |
//! | one subscription too many | -32006 | -32005 "too many subscriptions on this connection (limit N)" |
//! | unsubscribing an unknown id | `false` | -32000 "subscription not found" |
//! | a notification | not run | run, not answered |
//! | an invalid call in a batch | -32600 "Invalid request" | -32600 "invalid request" |
//! | a call in a batch whose `id` is an object, an array, a fraction or negative (HTTP) | run as a notification, unanswered | -32600 "invalid request", id `null` (see [`transport`](crate::transport)) |
//!
//! The envelope of a single HTTP request (not JSON, not an object, no `"jsonrpc": "2.0"`, an
//! empty or oversized batch) is checked before jsonrpsee sees it, in
//! [`transport`](crate::transport).

use crate::{
    RpcStats,
    error::{INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED, METHOD_NOT_FOUND, RpcError},
    params::TOO_MANY_ARGUMENTS,
};
use jsonrpsee::{
    core::{
        middleware::{Batch, BatchEntry, Notification, RpcServiceT},
        server::{BatchResponseBuilder, MethodCallback, MethodResponse, Methods},
    },
    types::{ErrorObjectOwned, Id, Request},
};
use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use std::sync::{Arc, atomic::Ordering};
use tokio::sync::Semaphore;

/// How a request came: over HTTP (no subscriptions) or a WebSocket. The transport puts it in
/// the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Http,
    WebSocket,
}

/// Marks an answer that must not be sent: jsonrpsee's HTTP transport writes a notification's
/// (and a batch of notifications') empty answer as `null`; geth sends an empty body. The
/// transport finds the mark in the HTTP response's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unanswered;

/// What the middleware of every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: Arc<RpcStats>,
    /// The methods served (to tell unknown methods and subscriptions apart).
    pub(crate) methods: Methods,
    /// Largest response, in bytes (a batch's in all).
    pub(crate) max_response_bytes: usize,
    /// Most subscriptions on one WebSocket (for the refusal's words).
    pub(crate) max_subscriptions: usize,
}

/// The middleware around the service `S` (jsonrpsee's method router).
#[derive(Debug, Clone)]
pub(crate) struct Geth<S> {
    inner: S,
    shared: Arc<Shared>,
    /// Calls of this service's WebSocket handled at once (jsonrpsee builds one service per
    /// WebSocket and per HTTP request, and starts each WebSocket call as it arrives).
    turns: Arc<Semaphore>,
}

/// Calls of one WebSocket handled at once; the others wait their turn.
const WS_CALLS_AT_ONCE: usize = 16;

impl<S> Geth<S> {
    /// The middleware around `inner`, for one WebSocket or one HTTP request.
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            turns: Arc::new(Semaphore::new(WS_CALLS_AT_ONCE)),
        }
    }
}

impl<S> RpcServiceT for Geth<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        let turns = self.turns.clone();
        async move {
            let websocket = request.extensions().get::<Transport>() == Some(&Transport::WebSocket);
            // HTTP requests wait their turn in the transport.
            let _turn = match websocket {
                true => turns.acquire_owned().await.ok(),
                false => None,
            };
            let id = request.id().into_owned();
            let response = match shared.methods.method_with_name(request.method_name()) {
                None => {
                    shared.stats.count_call(None);
                    error(id, RpcError::method_not_found(request.method_name()))
                }
                Some((name, callback)) => {
                    shared.stats.count_call(Some(name));
                    let subscription = matches!(
                        callback,
                        MethodCallback::Subscription(_) | MethodCallback::Unsubscription(_)
                    );
                    match check_params(request.params.as_deref()) {
                        _ if !websocket && subscription => error(
                            id,
                            RpcError::new(METHOD_NOT_FOUND, "notifications not supported"),
                        ),
                        Err(e) => error(id, e),
                        Ok(given) => {
                            let response = inner.call(request).await;
                            match callback {
                                MethodCallback::Subscription(_) => {
                                    subscription_in_geths_words(response, id, &shared)
                                }
                                MethodCallback::Unsubscription(_) => {
                                    unsubscription_in_geths_words(response, id)
                                }
                                _ => in_geths_words(response, id, given),
                            }
                        }
                    }
                }
            };
            if response.is_error() {
                shared.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            response
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        // jsonrpsee's own batch handler would call the methods past this middleware: each
        // call is sent through `call` here instead.
        let this = self.clone();
        async move {
            let mut answers = BatchResponseBuilder::new_with_limit(this.shared.max_response_bytes);
            let mut notified = false;
            for entry in batch {
                let answer = match entry {
                    Ok(BatchEntry::Call(request)) => this.call(request).await,
                    Ok(BatchEntry::Notification(n)) => {
                        notified = true;
                        this.notification(n).await;
                        continue;
                    }
                    Err(e) => {
                        this.shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                        let (_, id) = e.into_parts();
                        error(id, RpcError::new(INVALID_REQUEST, "invalid request"))
                    }
                };
                if let Err(too_large) = answers.append(answer) {
                    return too_large;
                }
            }
            if answers.is_empty() && notified {
                unanswered(MethodResponse::notification())
            } else {
                MethodResponse::from_batch(answers.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        // geth runs a notification and does not answer it.
        let this = self.clone();
        async move {
            let extensions = n.extensions.clone();
            let request = Request {
                jsonrpc: n.jsonrpc,
                id: Id::Null,
                method: n.method,
                params: n.params,
                extensions: n.extensions,
            };
            let _ = this.call(request).await;
            unanswered(MethodResponse::notification().with_extensions(extensions))
        }
    }
}

fn unanswered(mut response: MethodResponse) -> MethodResponse {
    response.extensions_mut().insert(Unanswered);
    response
}

fn error(id: Id<'_>, e: RpcError) -> MethodResponse {
    MethodResponse::error(id, ErrorObjectOwned::from(e))
}

/// Checks what geth checks of any method's parameters before decoding them: an array (or
/// none), without hex strings lacking `0x` (block tags and other words are not all hex
/// digits). Answers how many were given.
fn check_params(params: Option<&RawValue>) -> Result<usize, RpcError> {
    let Some(params) = params else {
        return Ok(0);
    };
    let text = params.get().trim_start();
    if text == "null" {
        return Ok(0);
    }
    if !text.starts_with('[') {
        return Err(RpcError::params("non-array args"));
    }
    let items: Vec<Value> =
        serde_json::from_str(text).map_err(|_| RpcError::params("non-array args"))?;
    for (i, item) in items.iter().enumerate() {
        if has_unprefixed_hex(item) {
            return Err(RpcError::params(format!(
                "invalid argument {i}: hex string without 0x prefix"
            )));
        }
    }
    Ok(items.len())
}

/// Whether a parameter holds, anywhere inside, a string of hex digits without `0x`: geth's
/// hex types (addresses, hashes, data, quantities) refuse those, and alloy's would take them.
fn has_unprefixed_hex(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()),
        Value::Array(items) => items.iter().any(has_unprefixed_hex),
        Value::Object(map) => map.values().any(has_unprefixed_hex),
        _ => false,
    }
}

/// jsonrpsee's refusal of one subscription too many on a connection, in our words (-32005,
/// with the limit).
fn subscription_in_geths_words(
    response: MethodResponse,
    id: Id<'static>,
    shared: &Shared,
) -> MethodResponse {
    if response.as_error_code() != Some(jsonrpsee::types::error::TOO_MANY_SUBSCRIPTIONS_CODE) {
        return in_geths_words(response, id, 0);
    }
    let e = RpcError::new(
        LIMIT_EXCEEDED,
        format!(
            "too many subscriptions on this connection (limit {})",
            shared.max_subscriptions
        ),
    );
    error(id, e).with_extensions(response.extensions().clone())
}

/// jsonrpsee answers `false` to unsubscribing an unknown subscription; geth answers -32000
/// "subscription not found".
fn unsubscription_in_geths_words(response: MethodResponse, id: Id<'static>) -> MethodResponse {
    #[derive(Deserialize)]
    struct Answer {
        result: Option<bool>,
    }
    match serde_json::from_str::<Answer>(response.as_json().get()) {
        Ok(Answer {
            result: Some(false),
        }) => error(id, RpcError::server("subscription not found"))
            .with_extensions(response.extensions().clone()),
        _ => response,
    }
}

/// jsonrpsee's parameter errors, reworded as geth's (other answers pass unchanged).
/// `given`: how many arguments the call had.
fn in_geths_words(response: MethodResponse, id: Id<'static>, given: usize) -> MethodResponse {
    if response.as_error_code() != Some(INVALID_PARAMS as i32) {
        return response;
    }
    #[derive(Deserialize)]
    struct Answer {
        error: ErrorBody,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        message: String,
        data: Option<Value>,
    }
    let Ok(answer) = serde_json::from_str::<Answer>(response.as_json().get()) else {
        return response;
    };
    // Our own -32602s carry no `data`; jsonrpsee's decoding errors carry serde's text.
    let (jsonrpsee::types::error::INVALID_PARAMS_MSG, Some(Value::String(why))) =
        (answer.error.message.as_str(), answer.error.data)
    else {
        return response;
    };
    let why = match why.rfind(" at line ") {
        Some(i) => &why[..i],
        None => why.as_str(),
    };
    let message = if why == "No more params" {
        format!("missing value for required argument {given}")
    } else if why.starts_with(TOO_MANY_ARGUMENTS) {
        why.to_owned()
    } else if why.starts_with("Invalid params. Expected one of") {
        "non-array args".to_owned()
    } else {
        format!("invalid argument: {why}")
    };
    let extensions = response.extensions().clone();
    error(id, RpcError::params(message)).with_extensions(extensions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn parameters_are_an_array_without_unprefixed_hex() {
        assert_eq!(check_params(None).unwrap(), 0);
        assert_eq!(check_params(Some(&raw("null"))).unwrap(), 0);
        assert_eq!(
            check_params(Some(&raw(r#"["0x12", "latest", 3]"#))).unwrap(),
            3
        );
        assert_eq!(
            check_params(Some(&raw(r#"{"a": 1}"#))).unwrap_err().message,
            "non-array args"
        );
        let e = check_params(Some(&raw(r#"["latest", {"to": "12ab"}]"#))).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS);
        assert_eq!(
            e.message,
            "invalid argument 1: hex string without 0x prefix"
        );
    }

    #[test]
    fn decoding_errors_are_reworded() {
        let jsonrpsee_error = |data: &str| {
            MethodResponse::error(
                Id::Number(1),
                jsonrpsee::types::ErrorObject::owned(
                    INVALID_PARAMS as i32,
                    jsonrpsee::types::error::INVALID_PARAMS_MSG,
                    Some(data),
                ),
            )
        };
        let message = |r: MethodResponse| -> String {
            let v: Value = serde_json::from_str(r.as_json().get()).unwrap();
            v["error"]["message"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            message(in_geths_words(
                jsonrpsee_error("No more params"),
                Id::Number(1),
                0
            )),
            "missing value for required argument 0"
        );
        assert_eq!(
            message(in_geths_words(
                jsonrpsee_error("too many arguments, want at most 2 at line 1 column 3"),
                Id::Number(1),
                3
            )),
            "too many arguments, want at most 2"
        );
        assert_eq!(
            message(in_geths_words(
                jsonrpsee_error("invalid length 1, expected 20 bytes at line 1 column 6"),
                Id::Number(1),
                1
            )),
            "invalid argument: invalid length 1, expected 20 bytes"
        );
        // Our own errors pass as they are.
        let ours = error(
            Id::Number(1),
            RpcError::params("invalid reward percentile: 101"),
        );
        assert_eq!(
            message(in_geths_words(ours, Id::Number(1), 3)),
            "invalid reward percentile: 101"
        );
    }
}
