//! How a token's scope and bound networks are kept: JSON text, in every
//! backend alike, so that a database's tokens mean the same wherever they
//! are read.

use crate::domain::records::TokenScope;
use crate::domain::storage::{StoreError, StoreResult};

/// Bound networks are kept as a JSON array of CIDRs; NULL means any
/// network, as for every token made before bindings existed.
pub(crate) fn cidrs_to_column(cidrs: &[String]) -> StoreResult<Option<String>> {
    if cidrs.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(cidrs)
        .map(Some)
        .map_err(|e| StoreError::Failed(format!("cannot encode bound networks: {e}")))
}

pub(crate) fn cidrs_from_column(text: Option<String>) -> StoreResult<Vec<String>> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Failed(format!("stored bound networks are corrupt: {e}"))),
    }
}

/// A scope is kept as JSON; NULL means all roles, the default.
pub(crate) fn scope_to_column(scope: &TokenScope) -> StoreResult<Option<String>> {
    match scope {
        TokenScope::AllRoles => Ok(None),
        limited => serde_json::to_string(limited)
            .map(Some)
            .map_err(|e| StoreError::Failed(format!("cannot encode a token scope: {e}"))),
    }
}

pub(crate) fn scope_from_column(text: Option<String>) -> StoreResult<TokenScope> {
    match text {
        None => Ok(TokenScope::AllRoles),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Failed(format!("a stored token scope is corrupt: {e}"))),
    }
}
