//! Login, logout, and what a caller can learn about itself and its orgs.

use serde_json::json;

use super::error::ApiError;
use super::request::Request;
use super::response::Response;
use super::users::page_json;
use crate::domain::{format_time, Authority, Caller, DomainError, LoginEndpoint, PageRequest};

pub const ACCESS_TOKEN_HEADER: &str = "X-VMWARE-VCLOUD-ACCESS-TOKEN";

/// The caller behind the request's access token, or a 401.
pub fn authenticate(authority: &Authority, request: &Request) -> Result<Caller, ApiError> {
    let token = request.access_token()?.ok_or_else(|| {
        DomainError::Unauthenticated(
            "an access token is required (Authorization: Bearer or csp-auth-token)".into(),
        )
    })?;
    Ok(authority.authenticate(token, request.peer)?)
}

pub fn login(
    authority: &mut Authority,
    request: &Request,
    endpoint: LoginEndpoint,
) -> Result<Response, ApiError> {
    let credentials = request
        .basic_credentials()?
        .ok_or_else(ApiError::login_required)?;
    let session = authority.login(
        endpoint,
        &credentials.org,
        &credentials.user,
        &credentials.password,
        request.peer,
    )?;
    let account = &session.account;
    let body = json!({
        "id": session.session_id,
        "user": { "id": account.user_id, "name": account.user_name },
        "org": { "id": account.org.id, "name": account.org.name },
        "roles": account.role_names(),
        "expires_at": format_time(session.expires_at),
    });
    Ok(Response::json(200, &body)
        .with_header(ACCESS_TOKEN_HEADER, session.access_token)
        // Cloud Director's SDKs read the token's type from here.
        .with_header("X-VMWARE-VCLOUD-TOKEN-TYPE", "Bearer")
        .no_store())
}

pub fn logout(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.logout(&caller)?;
    Ok(Response::no_content())
}

pub fn current(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let account = &caller.account;
    let rights: Vec<&str> = caller.rights.iter().map(|r| r.name()).collect();
    Ok(Response::json(
        200,
        &json!({
            "user": { "id": account.user_id, "name": account.user_name },
            "org": { "id": account.org.id, "name": account.org.name },
            "roles": account.role_names(),
            "rights": rights,
            "permissions": caller.permissions,
            "api_token_id": caller.api_token_id(),
            "session_id": caller.session_id(),
            "expires_at": format_time(caller.expires_at),
        }),
    ))
}

/// `GET` or `POST /userinfo` (OpenID Connect Core 1.0 §5.3): who the access
/// token's user is, with the roles its grant holds.
pub fn userinfo(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let claims = authority.identity(&caller)?;
    let body = serde_json::to_value(&claims)
        .map_err(|e| DomainError::Internal(format!("userinfo: {e}")))?;
    Ok(Response::json(200, &body).no_store())
}

/// The orgs the caller may see, a page at a time.
pub fn orgs(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.visible_orgs(&caller, query.name.as_deref(), page)?;
    let orgs: Vec<_> = listed
        .orgs
        .into_iter()
        .map(|o| json!({ "id": o.id, "name": o.name, "is_provider": o.is_provider }))
        .collect();
    Ok(page_json("orgs", orgs, page, listed.total))
}
