//! Token lifetime policy over HTTP: the provider-wide default at
//! `/api/token-policy`, an org's at `/api/org/{id}/token-policy`, and the
//! tokens an org's policy would not allow today.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{Actor, Authority, TokenPolicy};
use crate::shapes::{policy_json, token_json};

/// The fields an admin sets; null (or absent) inherits.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyBody {
    default_ttl: Option<String>,
    max_ttl: Option<String>,
    allow_never: Option<bool>,
    max_idle: Option<String>,
    second_factor: Option<String>,
    max_rotation_grace: Option<String>,
    require_bound_cidrs: Option<bool>,
}

/// `GET /api/token-policy` or `/api/org/{id}/token-policy`.
pub fn get(
    authority: &Authority,
    request: &Request,
    org_id: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let view = authority.token_policy(&caller, org_id)?;
    Ok(Response::json(200, &policy_json(&view)))
}

/// `PUT /api/token-policy` or `/api/org/{id}/token-policy`: replaces the
/// policy's own fields.
pub fn set(
    authority: &mut Authority,
    request: &Request,
    org_id: Option<&str>,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: PolicyBody = request.json_body()?;
    let policy = TokenPolicy {
        default_ttl: body.default_ttl,
        max_ttl: body.max_ttl,
        allow_never: body.allow_never,
        max_idle: body.max_idle,
        second_factor: body.second_factor,
        max_rotation_grace: body.max_rotation_grace,
        require_bound_cidrs: body.require_bound_cidrs,
    };
    let view = authority.set_token_policy(Actor::Caller(&caller), org_id, policy)?;
    Ok(Response::json(200, &policy_json(&view)))
}

/// `GET /api/org/{id}/token-policy/exceeding`: live tokens beyond the
/// org's policy (made before it was tightened).
pub fn exceeding(
    authority: &Authority,
    request: &Request,
    org_id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let tokens = authority.tokens_beyond_policy(Actor::Caller(&caller), org_id)?;
    let tokens: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(Response::json(200, &json!({ "tokens": tokens })))
}
