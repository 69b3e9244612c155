//! `eth_call`, `eth_estimateGas`, `eth_createAccessList` and `eth_getProof`.

use super::{error::RpcError, eth::Api};
use serde_json::Value;

impl Api<'_> {
    /// The methods that run the EVM or walk the state trie.
    pub(crate) fn evm_method(&self, method: &str, _params: &[Value]) -> Result<Value, RpcError> {
        // Served once the execution crate's call API lands (issue #6).
        Err(RpcError::method_not_found(method))
    }
}
