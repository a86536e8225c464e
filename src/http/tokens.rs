//! The native API token endpoints: create (the secret is in this one answer
//! only), list (never a secret), revoke.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, BadRequest};
use super::render::page_json;
use super::request::Request;
use super::response::Response;
use super::session::authenticate;
use crate::domain::{
    format_time, Actor, Authority, InventoryQuery, NewApiToken, PageRequest, ReminderRequest,
    ServiceRoleScope, TokenScope,
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
