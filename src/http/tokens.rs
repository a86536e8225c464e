//! The native API token endpoints: create (the secret is in this one answer
//! only), list (never a secret), revoke.

use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, BadRequest};
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{format_time, Authority};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApiToken {
    name: String,
    ttl: Option<String>,
}

pub fn create(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body: NewApiToken = request.json_body()?;
    let created = authority.create_api_token(&caller, &body.name, body.ttl.as_deref())?;
    let answer = json!({
        "id": created.id,
        "name": created.name,
        "token": created.secret.reveal(),
        "created_at": format_time(created.created_at),
        "expires_at": created.expires_at.map(format_time),
    });
    Ok(Response::json(201, &answer).no_store())
}

/// The caller's own tokens, or with `?all=true` every token the caller may
/// see by name. Never a secret or a digest.
pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let all = match request.query_params()?.as_slice() {
        [] => false,
        [(name, value)] if name == "all" && (value == "true" || value == "false") => {
            value == "true"
        }
        _ => {
            return Err(
                BadRequest::Malformed("the only query parameter is all=true|false".into()).into(),
            )
        }
    };
    let listings = if all {
        authority.all_visible_api_tokens(&caller)?
    } else {
        authority.own_api_tokens(&caller)?
    };
    let tokens: Vec<_> = listings
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id,
                "name": t.name,
                "owner": { "id": t.owner_id, "name": t.owner_name, "org": t.org_name },
                "created_at": format_time(t.created_at),
                "expires_at": t.expires_at.map(format_time),
                "last_used_at": t.last_used_at.map(format_time),
            })
        })
        .collect();
    Ok(Response::json(200, &json!({ "tokens": tokens })))
}

pub fn revoke(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.revoke_api_token(&caller, id)?;
    Ok(Response::no_content())
}
