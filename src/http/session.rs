//! Login, logout, and what a caller can learn about itself and its orgs.

use serde_json::json;

use super::error::{ApiError, OTP_HEADER};
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::vcloud::{self, Representation};
use crate::domain::{
    format_time, Actor, Authority, Caller, DomainError, DpopRefusal, LoginEndpoint, PageRequest,
    Presented, MAX_PAGE_SIZE,
};
use crate::shapes::org_json;

pub const ACCESS_TOKEN_HEADER: &str = "X-VMWARE-VCLOUD-ACCESS-TOKEN";

/// The caller behind the request's access token, or a 401.
pub fn authenticate(authority: &Authority, request: &Request) -> Result<Caller, ApiError> {
    Ok(authority.authenticate_presented(&presented(request)?, request.peer)?)
}

/// The request's access token as it presents it: scheme, DPoP proof,
/// method and path (RFC 9449 §7.1).
fn presented(request: &Request) -> Result<Presented<'_>, ApiError> {
    let (token, dpop_scheme) = request.access_credentials()?.ok_or_else(|| {
        DomainError::Unauthenticated(
            "an access token is required (Authorization: Bearer or DPoP, or csp-auth-token)".into(),
        )
    })?;
    Ok(Presented {
        token,
        dpop_scheme,
        proof: dpop_proof(request)?,
        method: &request.method,
        path: &request.path,
    })
}

/// The `DPoP` header: at most one (RFC 9449 §4.3).
pub(super) fn dpop_proof(request: &Request) -> Result<Option<&str>, DomainError> {
    request.single_header("dpop").map_err(|_| {
        DomainError::Dpop(DpopRefusal::InvalidProof(
            "more than one DPoP header".into(),
        ))
    })
}

/// The same, admitting a session that may only enrol a second factor
/// (enrolment and logout).
pub fn authenticate_for_enrolment(
    authority: &Authority,
    request: &Request,
) -> Result<Caller, ApiError> {
    Ok(authority.authenticate_presented_for_enrolment(&presented(request)?, request.peer)?)
}

pub fn login(
    authority: &mut Authority,
    request: &Request,
    endpoint: LoginEndpoint,
) -> Result<Response, ApiError> {
    let credentials = request
        .basic_credentials()?
        .ok_or_else(ApiError::login_required)?;
    let second_factor = request.single_header(OTP_HEADER)?;
    let session = authority.login(
        endpoint,
        &credentials.org,
        &credentials.user,
        &credentials.password,
        second_factor,
        request.peer,
    )?;
    let account = &session.account;
    let body = json!({
        "id": session.session_id,
        "user": { "id": account.user_id, "name": account.user_name },
        "org": { "id": account.org.id, "name": account.org.name },
        "roles": account.role_names(),
        "expires_at": format_time(session.expires_at),
        "second_factor_enrolment_required": session.enrol_only,
    });
    Ok(Response::json(200, &body)
        .with_header(ACCESS_TOKEN_HEADER, session.access_token)
        // Cloud Director's SDKs read the token's type from here.
        .with_header("X-VMWARE-VCLOUD-TOKEN-TYPE", "Bearer")
        .no_store())
}

pub fn logout(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate_for_enrolment(authority, request)?;
    authority.logout(&caller)?;
    Ok(Response::no_content())
}

/// `GET /api/session`: who the caller is, as JSON or as Cloud Director's
/// `Session`.
pub fn current(
    authority: &Authority,
    request: &Request,
    form: Representation,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    if let Representation::Xml { version } = form {
        return Ok(vcloud::session(
            &authority.settings().issuer,
            &caller,
            version,
        )?);
    }
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

/// The orgs the caller may see: a page at a time as JSON, or all of them as
/// Cloud Director's `OrgList`.
pub fn orgs(
    authority: &Authority,
    request: &Request,
    form: Representation,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    if let Representation::Xml { version } = form {
        let mut orgs = Vec::new();
        for number in 1.. {
            let page = PageRequest::new(number, MAX_PAGE_SIZE)?;
            let listed = authority.visible_orgs(Actor::Caller(&caller), None, page)?;
            let last = listed.orgs.len() < MAX_PAGE_SIZE as usize;
            orgs.extend(listed.orgs);
            if last || orgs.len() as u64 >= listed.total {
                break;
            }
        }
        return Ok(vcloud::org_list(
            &authority.settings().issuer,
            &orgs,
            version,
        )?);
    }
    let query = request.list_query(false, false)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let listed = authority.visible_orgs(Actor::Caller(&caller), query.name.as_deref(), page)?;
    let orgs: Vec<_> = listed.orgs.iter().map(org_json).collect();
    Ok(page_json("orgs", orgs, page, listed.total))
}

/// `GET /api/org/{id}`: one org in the caller's reach.
pub fn org(
    authority: &Authority,
    request: &Request,
    id: &str,
    form: Representation,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let org = authority.visible_org_by_id(&caller, id)?;
    match form {
        Representation::Xml { version } => {
            Ok(vcloud::org(&authority.settings().issuer, &org, version)?)
        }
        Representation::Json => Ok(Response::json(200, &org_json(&org))),
    }
}
