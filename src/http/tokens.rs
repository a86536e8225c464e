//! The native API token endpoints: create (the secret is in this one answer
//! only), list (never a secret), revoke, rotate (by id, or the token
//! itself), and the leak report.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, BadRequest};
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{
    format_time, Actor, Authority, DomainError, InventoryQuery, LeakCandidate, NewApiToken,
    PageRequest, ReminderRequest, RotatedApiToken, ServiceRoleScope, TokenScope,
    MAX_LEAK_CANDIDATES,
};
use crate::shapes::{scope_json, token_json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewApiTokenBody {
    name: String,
    ttl: Option<String>,
    /// Exchanges also return an OpenID Connect ID token.
    #[serde(default)]
    openid: bool,
    all_roles: Option<bool>,
    org_roles: Option<Vec<String>>,
    service_roles: Option<Vec<ServiceRoleBody>>,
    /// An e-mail reminder before the token expires.
    reminder: Option<ReminderBody>,
    /// The networks it may be exchanged from; absent, null or empty: any.
    bound_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReminderBody {
    before: String,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRoleBody {
    service: String,
    role: String,
    permissions: Option<Vec<String>>,
}

impl NewApiTokenBody {
    /// `all_roles` (the default) or the roles named; not both.
    pub(super) fn scope(&mut self) -> Result<TokenScope, BadRequest> {
        let names_roles = self.org_roles.is_some() || self.service_roles.is_some();
        match (self.all_roles, names_roles) {
            (Some(true), true) => Err(BadRequest::Malformed(
                "all_roles and org_roles/service_roles exclude each other".into(),
            )),
            (None | Some(true), false) => Ok(TokenScope::AllRoles),
            (_, _) => Ok(TokenScope::Roles {
                org_roles: self.org_roles.take().unwrap_or_default(),
                service_roles: self
                    .service_roles
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| ServiceRoleScope {
                        service: s.service,
                        role: s.role,
                        permissions: s.permissions,
                    })
                    .collect(),
            }),
        }
    }
}

pub fn create(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let mut body: NewApiTokenBody = request.json_body()?;
    let scope = body.scope()?;
    let created = authority.create_api_token(
        Actor::Caller(&caller),
        &caller.account.user_id,
        NewApiToken {
            name: &body.name,
            ttl: body.ttl.as_deref(),
            scope,
            openid: body.openid,
            request_id: None,
            bound_cidrs: body.bound_cidrs.as_deref().unwrap_or_default(),
        },
        body.reminder.as_ref().map(|r| ReminderRequest {
            before: &r.before,
            email: r.email.as_deref(),
        }),
    )?;
    let answer = json!({
        "id": created.id,
        "name": created.name,
        "token": created.secret.reveal(),
        "created_at": format_time(created.created_at),
        "expires_at": created.expires_at.map(format_time),
        "scope": scope_json(&created.scope),
        "openid": created.openid,
        "bound_cidrs": created.bound_cidrs,
        "network_bound": !created.bound_cidrs.is_empty(),
    });
    Ok(Response::json(201, &answer).no_store())
}

/// The caller's own tokens, or with `?all=true` every token the caller may
/// see by name, a page at a time. Never a secret or a digest.
pub fn list(authority: &Authority, request: &Request) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let query = request.list_query(false, true)?;
    let page = PageRequest::new(query.page, query.page_size)?;
    let name = query.name.as_deref();
    let listed = if query.all {
        let everyone = InventoryQuery {
            name,
            ..InventoryQuery::default()
        };
        authority.all_visible_api_tokens(&caller, &everyone, page)?
    } else {
        authority.own_api_tokens(&caller, name, page)?
    };
    let tokens: Vec<Value> = listed.tokens.iter().map(token_json).collect();
    Ok(page_json("tokens", tokens, page, listed.total))
}

pub fn revoke(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    authority.revoke_api_token(Actor::Caller(&caller), id)?;
    Ok(Response::no_content())
}

/// A rotation's body: how long the old secret keeps working.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RotationBody {
    /// `0` or a span such as `1h`; absent: 0.
    grace: Option<String>,
}

fn rotation_body(request: &Request) -> Result<RotationBody, BadRequest> {
    if request.body()?.iter().all(u8::is_ascii_whitespace) {
        return Ok(RotationBody::default());
    }
    request.json_body()
}

fn rotated_answer(rotated: &RotatedApiToken) -> Response {
    let created = &rotated.created;
    let answer = json!({
        "id": created.id,
        "name": created.name,
        "token": created.secret.reveal(),
        "created_at": format_time(created.created_at),
        "expires_at": created.expires_at.map(format_time),
        "scope": scope_json(&created.scope),
        "openid": created.openid,
        "bound_cidrs": created.bound_cidrs,
        "network_bound": !created.bound_cidrs.is_empty(),
        "replaces": rotated.replaces,
        "old_token_refused_from": format_time(rotated.old_refused_from),
    });
    Response::json(201, &answer).no_store()
}

/// `POST /api/tokens/{id}/rotate`: a new secret for the caller's own
/// token; the old one works on for the grace asked for.
pub fn rotate(
    authority: &mut Authority,
    request: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let caller = authenticate(authority, request)?;
    let body = rotation_body(request)?;
    let rotated =
        authority.rotate_api_token(Actor::Caller(&caller), id, body.grace.as_deref(), None)?;
    Ok(rotated_answer(&rotated))
}

/// `POST /api/tokens/self/rotate`: the API token presented (not an access
/// token: the only endpoint that takes one as its credential) rotates
/// itself.
pub fn rotate_self(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let presented = request.access_token()?.ok_or_else(|| {
        DomainError::Unauthenticated(
            "the API token is required (Authorization: Bearer or csp-auth-token)".into(),
        )
    })?;
    let body = rotation_body(request)?;
    let rotated =
        authority.rotate_presented_api_token(presented, body.grace.as_deref(), request.peer)?;
    Ok(rotated_answer(&rotated))
}

/// A leak report: the candidates and where each was found.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LeakReportBody {
    candidates: Vec<LeakCandidateBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeakCandidateBody {
    token: String,
    url: Option<String>,
    source: Option<String>,
}

/// `POST /api/tokens/leaked`: anyone reports secrets found in public.
/// The answer is counts only, the same whether any was a live token.
pub fn report_leaked(authority: &mut Authority, request: &Request) -> Result<Response, ApiError> {
    let body: LeakReportBody = request.json_body()?;
    if body.candidates.len() > MAX_LEAK_CANDIDATES {
        return Err(BadRequest::Malformed(format!(
            "a report holds at most {MAX_LEAK_CANDIDATES} candidates; split it"
        ))
        .into());
    }
    let candidates: Vec<LeakCandidate<'_>> = body
        .candidates
        .iter()
        .map(|c| LeakCandidate {
            token: &c.token,
            url: c.url.as_deref(),
            source: c.source.as_deref(),
        })
        .collect();
    let report = authority.report_leaked_tokens(&candidates, request.peer)?;
    let answer = json!({
        "received": report.received,
        "well_formed": report.well_formed,
    });
    Ok(Response::json(200, &answer).no_store())
}
