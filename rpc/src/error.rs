//! JSON-RPC errors with the codes and wording geth uses, so wallets and libraries recognise
//! them.

use alloy_primitives::Bytes;
use serde_json::{Value, json};

/// What a method answers: its result or a geth-worded error.
pub(crate) type RpcResult<T> = Result<T, RpcError>;

/// Parse error: the request is not JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid request object.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// The parameters do not fit the method.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// Something failed inside the node.
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// geth's generic server error: rejected transactions, missing blocks, failed calls.
pub(crate) const SERVER_ERROR: i64 = -32000;
/// A query exceeded a limit (result count, block range).
pub(crate) const LIMIT_EXCEEDED: i64 = -32005;
/// geth's code for a reverted `eth_call` / `eth_estimateGas`, with the revert data.
pub(crate) const EXECUTION_REVERTED: i64 = 3;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32602 with `message`.
    pub(crate) fn params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    /// -32000 with `message`.
    pub(crate) fn server(message: impl Into<String>) -> Self {
        Self::new(SERVER_ERROR, message)
    }

    /// -32603: a failure inside the node (a database read, ...).
    pub(crate) fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(INTERNAL_ERROR, message.to_string())
    }

    /// -32601 in geth's words.
    pub(crate) fn method_not_found(method: &str) -> Self {
        Self::new(
            METHOD_NOT_FOUND,
            format!("the method {method} does not exist/is not available"),
        )
    }

    /// geth's "header not found" for a block that is not (yet) there.
    pub(crate) fn header_not_found() -> Self {
        Self::server("header not found")
    }

    /// Code 3, "execution reverted[: reason]", with the revert bytes as `data`.
    pub(crate) fn reverted(output: &Bytes) -> Self {
        let message = match decode_revert_reason(output) {
            Some(reason) => format!("execution reverted: {reason}"),
            None => "execution reverted".to_owned(),
        };
        Self {
            code: EXECUTION_REVERTED,
            message,
            data: Some(Value::String(output.to_string())),
        }
    }

    /// The error object of a response.
    pub(crate) fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({"code": self.code, "message": self.message, "data": data}),
            None => json!({"code": self.code, "message": self.message}),
        }
    }
}

impl From<RpcError> for jsonrpsee::types::ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        // Codes are geth's, all well within i32.
        let code = i32::try_from(e.code).unwrap_or(INTERNAL_ERROR as i32);
        jsonrpsee::types::ErrorObject::owned(code, e.message, e.data)
    }
}

/// The reason of a revert: `Error(string)`'s message, or `Panic(uint256)`'s code in geth's
/// wording. Custom errors have no text; wallets decode them from the data.
pub(crate) fn decode_revert_reason(output: &[u8]) -> Option<String> {
    const ERROR_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    const PANIC_SELECTOR: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    let (selector, body) = output.split_at_checked(4)?;
    if selector == ERROR_SELECTOR {
        // offset (32) | length (32) | bytes, padded
        let offset = usize::try_from(word(body, 0)?).ok()?;
        let len = usize::try_from(word(body, offset)?).ok()?;
        let start = offset.checked_add(32)?;
        let text = body.get(start..start.checked_add(len)?)?;
        return Some(String::from_utf8_lossy(text).into_owned());
    }
    if selector == PANIC_SELECTOR {
        let code = word(body, 0)?;
        return Some(panic_reason(code));
    }
    None
}

/// A big-endian word of `data` at `offset` that fits in u64.
fn word(data: &[u8], offset: usize) -> Option<u64> {
    let w = data.get(offset..offset.checked_add(32)?)?;
    if w[..24].iter().any(|b| *b != 0) {
        return None;
    }
    Some(u64::from_be_bytes(w[24..].try_into().ok()?))
}

/// geth's text for a Solidity panic code.
fn panic_reason(code: u64) -> String {
    let what = match code {
        0x00 => "generic panic",
        0x01 => "assert(false)",
        0x11 => "arithmetic underflow or overflow",
        0x12 => "division or modulo by zero",
        0x21 => "enum overflow",
        0x22 => "invalid encoded storage byte array accessed",
        0x31 => "out-of-bounds array access; popping on an empty array",
        0x32 => "out-of-bounds access of an array or bytesN",
        0x41 => "out of memory",
        0x51 => "uninitialized function",
        _ => return format!("unknown panic code: {code:#x}"),
    };
    what.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_string_reverts_are_decoded() {
        // Error("nope")
        let data: Bytes = "0x08c379a0\
            0000000000000000000000000000000000000000000000000000000000000020\
            0000000000000000000000000000000000000000000000000000000000000004\
            6e6f706500000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap();
        let e = RpcError::reverted(&data);
        assert_eq!(e.code, 3);
        assert_eq!(e.message, "execution reverted: nope");
        assert_eq!(e.data, Some(Value::String(data.to_string())));
    }

    #[test]
    fn panics_and_custom_errors() {
        let panic: Bytes = "0x4e487b71\
            0000000000000000000000000000000000000000000000000000000000000011"
            .parse()
            .unwrap();
        assert_eq!(
            RpcError::reverted(&panic).message,
            "execution reverted: arithmetic underflow or overflow"
        );
        let custom: Bytes = "0xdeadbeef".parse().unwrap();
        assert_eq!(RpcError::reverted(&custom).message, "execution reverted");
        assert_eq!(
            RpcError::reverted(&Bytes::new()).message,
            "execution reverted"
        );
        // A truncated Error(string) does not panic.
        let cut: Bytes = "0x08c379a000000000".parse().unwrap();
        assert_eq!(RpcError::reverted(&cut).message, "execution reverted");
    }
}
