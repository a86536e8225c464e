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
    format_time, Actor, ApiTokenListing, Authority, InventoryQuery, NewApiToken, PageRequest,
    ReminderRequest, ServiceRoleScope, TokenScope,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApiTokenBody {
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
    fn scope(&mut self) -> Result<TokenScope, BadRequest> {
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

/// A scope as answers show it.
pub fn scope_json(scope: &TokenScope) -> Value {
    match scope {
        TokenScope::AllRoles => json!({ "all_roles": true }),
        TokenScope::Roles {
            org_roles,
            service_roles,
        } => {
            let service_roles: Vec<Value> = service_roles
                .iter()
                .map(|s| {
                    let mut role = json!({ "service": s.service, "role": s.role });
                    if let Some(permissions) = &s.permissions {
                        role["permissions"] = json!(permissions);
                    }
                    role
                })
                .collect();
            json!({
                "all_roles": false,
                "org_roles": org_roles,
                "service_roles": service_roles,
            })
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
    let tokens: Vec<Value> = listed.tokens.iter().map(listing_json).collect();
    Ok(page_json("tokens", tokens, page, listed.total))
}

/// A token as listings show it: never its secret.
pub fn listing_json(t: &ApiTokenListing) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "owner": { "id": t.owner_id, "name": t.owner_name, "org": t.org_name },
        "created_at": format_time(t.created_at),
        "expires_at": t.expires_at.map(format_time),
        "last_used_at": t.last_used_at.map(format_time),
        "last_used_ip": t.last_used_ip,
        "openid": t.openid,
        "scope": scope_json(&t.scope),
    })
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
