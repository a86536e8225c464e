//! The console's pages for admins: every user's tokens in reach, the
//! audit trail, the token policy, service accounts, and the device flow's
//! approval page. Each action is the API's, with the API's rights.

use super::pages::{self, Page};
use super::{
    error_page, field, form_with_session, html, one_read, query_number, query_text, redirect,
    session, values, SignedForm,
};
use crate::domain::records::EventFilter;
use crate::domain::{
    parse_event_time, Actor, Authority, Caller, DeviceRequest, DomainError, InventoryQuery,
    PageRequest, TokenPolicy, TokenSort, TokenState,
};
use crate::http::request::Request;
use crate::http::response::Response;

/// `GET /console/service-accounts`: the org's service accounts and their
/// state (every org's, for the provider), for a holder of "User: View".
pub fn service_accounts(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| {
        service_accounts_page(authority, request)
    })
}

fn service_accounts_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let page_number = query_number(request, "page").unwrap_or(1);
    let listed = PageRequest::new(page_number, 50)
        .and_then(|page| authority.service_accounts_in_reach(Actor::Caller(&caller), None, page));
    match listed {
        Ok(listed) => {
            let manages = !caller.is_token_derived()
                && caller.rights.contains(crate::domain::Right::UserManage);
            let roles = if manages {
                held_org_roles(&caller)
            } else {
                Vec::new()
            };
            html(
                200,
                pages::service_accounts(
                    &Page::new(&caller, &jwt),
                    &listed.accounts,
                    listed.total,
                    &roles,
                ),
            )
        }
        Err(e) => error_page(e),
    }
}

/// `GET /console/policy`: the token lifetime policy in force for the
/// caller's org (and, for the provider, the default every org inherits),
/// with a form to change it for those who may.
pub fn policy(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| policy_view(authority, request))
}

fn policy_view(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    policy_page(authority, &caller, &jwt, None, 200)
}

/// `POST /console/policy`: sets the policy of the caller's org, or the
/// provider's default (`scope=default`), as `PUT /api/…token-policy` does.
pub fn set_policy(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields: form,
    } = or_answer!(form_with_session(authority, request));
    let text = |name: &str| {
        let value = field(&form, name).trim();
        (!value.is_empty()).then(|| value.to_string())
    };
    let policy = TokenPolicy {
        default_ttl: text("default_ttl"),
        max_ttl: text("max_ttl"),
        allow_never: match field(&form, "allow_never") {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        max_idle: text("max_idle"),
        second_factor: text("second_factor"),
        max_rotation_grace: text("max_rotation_grace"),
        require_bound_cidrs: match field(&form, "require_bound_cidrs") {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
    };
    let org_id = caller.account.org.id.clone();
    let target = (field(&form, "scope") != "default").then_some(org_id.as_str());
    match authority.set_token_policy(Actor::Caller(&caller), target, policy) {
        Ok(_) => redirect("/console/policy"),
        Err(DomainError::Invalid(message)) => {
            policy_page(authority, &caller, &jwt, Some(&message), 400)
        }
        Err(e) => error_page(e),
    }
}

fn policy_page(
    authority: &Authority,
    caller: &Caller,
    jwt: &str,
    error: Option<&str>,
    status: u16,
) -> Response {
    let org = authority.token_policy(caller, Some(&caller.account.org.id));
    let default = authority.token_policy(caller, None);
    match (org, default) {
        (Ok(org), Ok(default)) => {
            let may_change = !caller.is_token_derived()
                && caller.rights.contains(crate::domain::Right::TokenManageAll);
            html(
                status,
                pages::policy(
                    &Page::new(caller, jwt),
                    &org,
                    &default,
                    may_change,
                    caller.account.org.is_provider,
                    error,
                ),
            )
        }
        (Err(e), _) | (_, Err(e)) => error_page(e),
    }
}

/// `GET /console/audit`: the audit trail as the caller may read it
/// ("Audit: View"; its org's, every org's for the provider), newest
/// first, 50 a page, with the API's filters: type, actor (a user id),
/// since and until (RFC 3339).
pub fn audit(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| audit_page(authority, request))
}

fn audit_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let given = |name: &str| query_text(request, name).filter(|v| !v.trim().is_empty());
    let mut filter = EventFilter {
        limit: 50,
        kind: given("type"),
        actor_id: given("actor"),
        before: given("cursor").and_then(|c| c.parse().ok()),
        ..EventFilter::default()
    };
    for (name, slot) in [
        ("since", &mut filter.since_ms),
        ("until", &mut filter.until_ms),
    ] {
        if let Some(text) = given(name) {
            match parse_event_time(&text) {
                Some(at) => *slot = Some(at),
                None => {
                    return error_page(DomainError::Invalid(format!(
                        "{name} must be an RFC 3339 time, such as 2026-12-01T00:00:00Z"
                    )))
                }
            }
        }
    }
    let shown = pages::AuditFilter {
        kind: given("type").unwrap_or_default(),
        actor: given("actor").unwrap_or_default(),
        since: given("since").unwrap_or_default(),
        until: given("until").unwrap_or_default(),
    };
    match authority.events(&caller, filter) {
        Ok(page) => html(200, pages::audit(&Page::new(&caller, &jwt), &page, &shown)),
        Err(e) => error_page(e),
    }
}

/// `POST /console/service-accounts/{id}/{role|revoke|delete}`: the
/// same actions, and rights, as `/api/service-accounts/{id}/…`.
pub fn manage_service_account(
    authority: &mut Authority,
    request: &Request,
    id: &str,
    action: ServiceAccountAction,
) -> Response {
    let SignedForm {
        caller,
        fields: form,
        ..
    } = or_answer!(form_with_session(authority, request));
    let by = Actor::Caller(&caller);
    let done = match action {
        ServiceAccountAction::Role => {
            let role = field(&form, "role");
            authority
                .set_service_account_role(by, id, (!role.is_empty()).then_some(role))
                .map(drop)
        }
        ServiceAccountAction::Revoke => authority.revoke_service_account(by, id).map(drop),
        ServiceAccountAction::Delete => authority.delete_service_account(by, id),
    };
    match done {
        Ok(()) => redirect("/console/service-accounts"),
        Err(e) => error_page(e),
    }
}

/// What an admin does to a service account from the console.
#[derive(Clone, Copy)]
pub enum ServiceAccountAction {
    Role,
    Revoke,
    Delete,
}

/// `GET /console/inventory`: every user's tokens in the caller's reach
/// (its org; every org for the provider), names only, for a holder of
/// "Manage all users' API tokens"; filtered by owner and name, paged.
pub fn inventory(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| inventory_page(authority, request))
}

fn inventory_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let owner = query_text(request, "owner").filter(|o| !o.trim().is_empty());
    let name = query_text(request, "name").filter(|n| !n.trim().is_empty());
    let state_text = query_text(request, "state").unwrap_or_default();
    let sort_text = query_text(request, "sort").unwrap_or_default();
    let state = match state_text.as_str() {
        "inactive" => TokenState::Inactive,
        _ => TokenState::Live,
    };
    let sort = match sort_text.as_str() {
        "expires" => TokenSort::Expires,
        "last_used" => TokenSort::LastUsed,
        "name" => TokenSort::Name,
        "owner" => TokenSort::Owner,
        _ => TokenSort::Created,
    };
    let page_number = query_number(request, "page").unwrap_or(1);
    let query = InventoryQuery {
        name: name.as_deref(),
        owner: owner.as_deref(),
        state: Some(state),
        sort,
    };
    let listed = PageRequest::new(page_number, 50)
        .and_then(|page| authority.all_visible_api_tokens(&caller, &query, page));
    match listed {
        Ok(listed) => html(
            200,
            pages::inventory(
                &Page::new(&caller, &jwt),
                &listed.tokens,
                listed.total,
                page_number,
                authority.now(),
                pages::InventoryFilter {
                    owner: owner.as_deref().unwrap_or(""),
                    name: name.as_deref().unwrap_or(""),
                    inactive: state == TokenState::Inactive,
                    sort: &sort_text,
                    every_org: caller.account.org.is_provider,
                },
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// `POST /console/inventory/revoke`: the tokens ticked, after a page that
/// names them (`confirmed` absent), then revoked (`confirmed=yes`).
pub fn revoke_selected(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields: form,
    } = or_answer!(form_with_session(authority, request));
    let by = Actor::Caller(&caller);
    let ids = values(&form, "token");
    if ids.is_empty() {
        return redirect("/console/inventory");
    }
    let mut chosen = Vec::with_capacity(ids.len());
    for id in &ids {
        match authority.api_token_in_reach(by, id) {
            Ok(token) => chosen.push(token),
            Err(e) => return error_page(e),
        }
    }
    if field(&form, "confirmed") != "yes" {
        return html(
            200,
            pages::confirm_revoke_selected(&Page::new(&caller, &jwt), &chosen),
        );
    }
    for token in &chosen {
        if let Err(e) = authority.revoke_api_token(by, &token.id) {
            return error_page(e);
        }
    }
    redirect("/console/inventory")
}

/// `GET /console/device`: the device flow's `verification_uri`. With a
/// `user_code`, the request it names, for an admin to grant or deny; else
/// a field to type the code the client shows.
pub fn device_form(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| device_form_page(authority, request))
}

fn device_form_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let page = Page::new(&caller, &jwt);
    let Some(code) = query_text(request, "user_code").filter(|c| !c.trim().is_empty()) else {
        return html(200, pages::device_entry(&page, None, ""));
    };
    match authority.look_up_device(&caller, &code) {
        Ok(found) => html(
            200,
            pages::device_approve(&page, &found, &roles_to_offer(authority, &caller, &found)),
        ),
        Err(
            e @ (DomainError::NotFound(_) | DomainError::Invalid(_) | DomainError::Forbidden(_)),
        ) => html(404, pages::device_entry(&page, Some(&e.to_string()), &code)),
        Err(e) => error_page(e),
    }
}

/// `POST /console/device`: grants (with the role chosen) or denies.
pub fn decide_device(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields: form,
    } = or_answer!(form_with_session(authority, request));
    let by = Actor::Caller(&caller);
    let code = field(&form, "user_code");
    let grant = field(&form, "decision") == "grant";
    let found = or_answer!(authority.look_up_device(&caller, code).map_err(error_page));
    let role = field(&form, "role");
    if grant && !role.is_empty() && !found.account.roles.iter().any(|r| r == role) {
        if let Err(e) = authority.set_service_account_role(by, &found.account.id, Some(role)) {
            return error_page(e);
        }
    }
    match authority.decide_device(by, code, grant) {
        Ok(decided) => html(
            200,
            pages::device_done(&Page::new(&caller, &jwt), &decided, grant),
        ),
        Err(e) => error_page(e),
    }
}

/// The organization roles a service account of `account_org` may be
/// given: those the caller sees, else those it holds. The ceiling still
/// refuses any the caller may not hand out.
fn roles_to_offer(authority: &Authority, caller: &Caller, found: &DeviceRequest) -> Vec<String> {
    let account_org = &found.account.org_id;
    let in_reach = PageRequest::new(1, 100)
        .and_then(|page| authority.roles_in_reach(Actor::Caller(caller), None, page));
    let mut roles: Vec<String> = match in_reach {
        Ok(listed) => listed
            .roles
            .into_iter()
            .filter(|role| role.service.is_none())
            .filter(|role| role.org_id.as_ref().is_none_or(|org| org == account_org))
            .filter(|role| !role.provider_only || caller.account.org.id == *account_org)
            .map(|role| role.name)
            .collect(),
        Err(_) => held_org_roles(caller),
    };
    roles.sort();
    roles.dedup();
    roles
}

/// The organization roles the caller holds: what it may surely hand on.
fn held_org_roles(caller: &Caller) -> Vec<String> {
    let mut roles: Vec<String> = caller
        .account
        .held_roles()
        .into_iter()
        .filter(|role| role.service.is_none())
        .map(|role| role.name)
        .collect();
    roles.sort();
    roles.dedup();
    roles
}
