//! Unauthenticated documents: liveness and readiness, the JWKS and the
//! OpenID provider metadata that let resource servers verify access tokens
//! on their own.

use serde_json::json;

use super::error::ApiError;
use super::response::Response;
use crate::domain::{Authority, DPOP_ALGORITHMS};

/// Liveness: the process answers. Nothing is checked beyond a worker
/// taking the request, so a database in trouble never makes a supervisor
/// restart a process that would come back to the same database.
pub fn live() -> Response {
    Response::json(200, &json!({ "status": "ok" }))
}

/// Readiness (`/health/ready`): 200 when every check passes, else 503
/// naming the failed ones.
pub fn ready(authority: &mut Authority) -> Response {
    readiness(authority, |_| true)
}

/// `/health`, as it was before `/health/ready`: the same readiness, without
/// the `writer` check (a stopped writer fails `writable` too).
pub fn health(authority: &mut Authority) -> Response {
    readiness(authority, |check| check != "writer")
}

fn readiness(authority: &mut Authority, shown: impl Fn(&str) -> bool) -> Response {
    let readiness = authority.readiness();
    let checks: serde_json::Map<String, serde_json::Value> = readiness
        .checks
        .iter()
        .filter(|(name, _)| shown(name))
        .map(|(name, outcome)| {
            let value = match outcome {
                Ok(()) => "ok".to_string(),
                Err(why) => why.clone(),
            };
            (name.to_string(), value.into())
        })
        .collect();
    if checks.values().all(|v| v == "ok") {
        Response::json(200, &json!({ "status": "ok", "checks": checks }))
    } else {
        Response::json(503, &json!({ "status": "unavailable", "checks": checks }))
            .with_header("Retry-After", "1")
    }
}

/// The JWKS, which verifiers may keep for `TOKEND_JWKS_MAX_AGE`: a key
/// is published longer than that before it signs.
pub fn jwks(authority: &Authority) -> Result<Response, ApiError> {
    let cache = format!("public, max-age={}", authority.jwks_max_age());
    Ok(Response::json(200, &authority.jwks()?).with_header("Cache-Control", cache))
}

/// The provider metadata, for `/.well-known/openid-configuration` (OpenID
/// Connect Discovery 1.0) and `/.well-known/oauth-authorization-server`
/// (RFC 8414) alike. Only what tokend serves. The authorization endpoint
/// is named because discovery requires one; it refuses every flow (tokens
/// come from API tokens, not from a browser), so no response type is
/// listed as supported.
pub fn provider_metadata(authority: &Authority) -> Response {
    let issuer = &authority.settings().issuer;
    Response::json(
        200,
        &json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/provider/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post"
            ],
            "device_authorization_endpoint":
                format!("{issuer}/oauth/provider/device_authorization"),
            "grant_types_supported": [
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:device_code"
            ],
            "scopes_supported": ["openid"],
            "response_types_supported": [],
            "subject_types_supported": ["public"],
            // Discovery §3: RS256 must be among them; it is the default.
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["none"],
            // RFC 9449 §5.1: the algorithms of DPoP proofs.
            "dpop_signing_alg_values_supported": DPOP_ALGORITHMS,
            "revocation_endpoint_auth_methods_supported": ["none"],
            "claims_supported": [
                "iss", "sub", "aud", "azp", "iat", "exp", "auth_time", "jti", "client_id",
                "org_id", "org_name",
                "username", "roles", "perms", "rt", "sid", "preferred_username", "name",
                "email", "email_verified", "groups"
            ],
        }),
    )
}
