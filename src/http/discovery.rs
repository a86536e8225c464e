//! Unauthenticated documents: health, the JWKS and the OpenID provider
//! metadata that let resource servers verify access tokens on their own.

use serde_json::json;

use super::error::ApiError;
use super::response::Response;
use crate::domain::Authority;

pub fn health() -> Response {
    Response::json(200, &json!({ "status": "ok" }))
}

pub fn jwks(authority: &Authority) -> Result<Response, ApiError> {
    Ok(Response::json(200, &authority.jwks()?))
}

pub fn openid_configuration(authority: &Authority) -> Response {
    let issuer = &authority.settings().issuer;
    Response::json(
        200,
        &json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth/provider/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "grant_types_supported": ["refresh_token"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }),
    )
}
