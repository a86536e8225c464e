//! The web console at `/console/`: the third face of the same domain
//! operations as the API and the CLI, for people. Pages are rendered here
//! (maud, compiled in), the stylesheet and the small script are embedded
//! at compile time; nothing is fetched from elsewhere.
//!
//! A console session is an API session: logging in opens one, and its
//! access token lives in an `HttpOnly`, `SameSite=Strict` cookie
//! (`__Host-` prefixed and `Secure` when the issuer is https). Every
//! request authenticates with it exactly as the API does, so revocation,
//! disabled users and the rights in force all count. Every form that
//! changes something carries a CSRF token derived from that session and is
//! refused (403) without it or from a foreign `Origin`. Every answer
//! carries a strict Content-Security-Policy (no inline script or style),
//! `no-store`, `nosniff` and `no-referrer`.

mod pages;

use super::error::BadRequest;
use super::request::Request;
use super::response::Response;
use crate::domain::records::EventFilter;
use crate::domain::{
    parse_event_time, Actor, Authority, Caller, DeviceRequest, DomainError, InventoryQuery,
    LoginEndpoint, NewApiToken, PageRequest, ReminderRequest, ServiceRoleScope, TokenPolicy,
    TokenScope, TokenSort, TokenState, PROVIDER_ORG,
};
use pages::{GenerateForm, Lifetime, Page};

const STYLESHEET: &str = include_str!("console.css");
const SCRIPT: &str = include_str!("console.js");

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     script-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The lifetimes the generate form offers, clipped to the policy in force.
const LIFETIMES: [(&str, &str); 6] = [
    ("1h", "1 hour"),
    ("1day", "1 day"),
    ("30days", "30 days"),
    ("90days", "90 days"),
    ("6months", "6 months"),
    ("1year", "1 year"),
];

/// How long before expiry a reminder may be asked for.
const REMINDER_LEADS: [(&str, &str); 4] = [
    ("1day", "1 day before"),
    ("7days", "7 days before"),
    ("14days", "14 days before"),
    ("30days", "30 days before"),
];

/// `GET /console/`: the caller's tokens, or the login page.
pub fn home(_: &mut Authority, _: &Request) -> Response {
    redirect("/console/tokens")
}

/// `GET /console/assets/console.css`.
pub fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// `GET /console/assets/console.js`.
pub fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/login`.
pub fn login_form(authority: &mut Authority, request: &Request) -> Response {
    let next = next_page(query_text(request, "next").as_deref());
    if session_caller(authority, request).is_ok() {
        return redirect(&next);
    }
    html(200, pages::login(None, "", "", &next))
}

/// `POST /console/login`: opens a session as the API's logins do (the
/// throttle and locks included) and keeps its access token in the cookie.
pub fn login(authority: &mut Authority, request: &Request) -> Response {
    if let Err(refused) = same_origin(request) {
        return refused;
    }
    let form = match request.form_body() {
        Ok(form) => form,
        Err(e) => return html(400, pages::login(Some(&bad_request(e)), "", "", "")),
    };
    let user = field(&form, "user").trim().to_string();
    let org = field(&form, "org").trim().to_string();
    let password = field(&form, "password");
    let next = next_page(Some(field(&form, "next")));
    let endpoint = if org.eq_ignore_ascii_case(PROVIDER_ORG) {
        LoginEndpoint::Provider
    } else {
        LoginEndpoint::Tenant
    };
    match authority.login(endpoint, &org, &user, password, request.peer) {
        Ok(session) => {
            let max_age = (session.expires_at - authority.now()).max(0);
            redirect(&next).with_header(
                "Set-Cookie",
                format!(
                    "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
                    cookie_name(authority),
                    session.access_token,
                    secure_flag(authority)
                ),
            )
        }
        Err(DomainError::LoginLocked(seconds)) => html(
            429,
            pages::login(
                Some(&format!(
                    "too many failed logins: try again in {seconds} seconds"
                )),
                &user,
                &org,
                &next,
            ),
        )
        .with_header("Retry-After", seconds.to_string()),
        Err(DomainError::InvalidCredentials) => html(
            401,
            pages::login(
                Some("wrong user, organization or password"),
                &user,
                &org,
                &next,
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// `POST /console/logout`: ends the session and forgets the cookie.
pub fn logout(authority: &mut Authority, request: &Request) -> Response {
    let (caller, _) = match form_of_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if let Err(e) = authority.logout(&caller) {
        return error_page(e);
    }
    redirect("/console/login").with_header(
        "Set-Cookie",
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            cookie_name(authority),
            secure_flag(authority)
        ),
    )
}

/// `GET /console/tokens`: the caller's own API tokens, names only.
pub fn tokens(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| tokens_page(authority, request))
}

fn tokens_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    let page_number = query_number(request, "page").unwrap_or(1);
    let inactive = query_text(request, "state").as_deref() == Some("inactive");
    let state = if inactive {
        TokenState::Inactive
    } else {
        TokenState::Live
    };
    let listed = match PageRequest::new(page_number, 50)
        .and_then(|page| authority.own_api_tokens_by_state(&caller, state, page))
    {
        Ok(listed) => listed,
        Err(e) => return error_page(e),
    };
    let now = authority.now();
    html(
        200,
        pages::tokens(
            &Page::new(&caller, &jwt),
            &listed.tokens,
            listed.total,
            page_number,
            now,
            may_create(&caller),
            inactive,
        ),
    )
}

/// `GET /console/tokens/new`: the generate form.
pub fn new_token_form(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| {
        new_token_form_page(authority, request)
    })
}

fn new_token_form_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    match generate_form(authority, &caller, None) {
        Ok(form) => html(200, pages::generate(&Page::new(&caller, &jwt), &form)),
        Err(e) => error_page(e),
    }
}

/// `POST /console/tokens`: makes the token and shows its secret, once.
pub fn create_token(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields: form,
    } = match form_with_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let name = field(&form, "name").trim().to_string();
    let ttl = match field(&form, "ttl") {
        "custom" => field(&form, "ttl_custom").trim().to_string(),
        "" => String::new(),
        preset => preset.to_string(),
    };
    let scope = match scope_of(&form) {
        Ok(scope) => scope,
        Err(message) => return form_error(authority, &caller, &jwt, &message),
    };
    let request_id = field(&form, "request").to_string();
    let lead = field(&form, "remind_before");
    let reminder = (!lead.is_empty()).then_some(ReminderRequest {
        before: lead,
        email: None,
    });
    let created = authority.create_api_token(
        Actor::Caller(&caller),
        &caller.account.user_id,
        NewApiToken {
            name: &name,
            ttl: (!ttl.is_empty()).then_some(ttl.as_str()),
            scope,
            openid: field(&form, "openid") == "on",
            request_id: (!request_id.is_empty()).then_some(request_id.as_str()),
        },
        reminder,
    );
    match created {
        Ok(created) => secret_page(&caller, &jwt, &created),
        Err(DomainError::Conflict(_)) if !request_id.is_empty() => {
            html(200, pages::secret_gone(&Page::new(&caller, &jwt)))
        }
        Err(DomainError::Invalid(message)) => form_error(authority, &caller, &jwt, &message),
        Err(e) => error_page(e),
    }
}

/// `GET /console/tokens/{id}/revoke`: asks before revoking, naming the
/// token.
pub fn revoke_form(authority: &mut Authority, request: &Request, id: &str) -> Response {
    one_read(authority, |authority| {
        revoke_form_page(authority, request, id)
    })
}

fn revoke_form_page(authority: &Authority, request: &Request, id: &str) -> Response {
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    match authority.api_token_in_reach(Actor::Caller(&caller), id) {
        Ok(token) => html(
            200,
            pages::confirm_revoke(&Page::new(&caller, &jwt), &token),
        ),
        Err(e) => error_page(e),
    }
}

/// `POST /console/tokens/{id}/revoke`.
pub fn revoke(authority: &mut Authority, request: &Request, id: &str) -> Response {
    let caller = match form_with_session(authority, request) {
        Ok(form) => form.caller,
        Err(refused) => return refused,
    };
    match authority.revoke_api_token(Actor::Caller(&caller), id) {
        Ok(()) => redirect("/console/tokens"),
        Err(e) => error_page(e),
    }
}

/// `POST /console/tokens/{id}/regenerate`: a new secret with the same
/// name, scopes, lifetime and OpenID choice; the old token is revoked at
/// once, as the vendor's console does.
pub fn regenerate(authority: &mut Authority, request: &Request, id: &str) -> Response {
    let (caller, jwt) = match form_of_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let by = Actor::Caller(&caller);
    let old = match authority.api_token_in_reach(by, id) {
        Ok(old) if old.owner_id == caller.account.user_id => old,
        // A reload after the old token was revoked: nothing to show again.
        Err(DomainError::NotFound(_)) => {
            return html(200, pages::secret_gone(&Page::new(&caller, &jwt)))
        }
        Ok(_) => {
            return error_page(DomainError::Forbidden(
                "only a token's owner regenerates it".into(),
            ))
        }
        Err(e) => return error_page(e),
    };
    let ttl = old
        .expires_at
        .map(|at| format!("{}s", (at - old.created_at).max(60)));
    let request_id = format!("regenerate:{}", old.id);
    // The reminder comes along, to the same address when that is the
    // owner's own (another address stays an admin's to set).
    let reminder = match authority.reminder_of(by, &old.id) {
        Ok(reminder) => reminder,
        Err(e) => return error_page(e),
    };
    let own_address = caller.account.email.clone();
    let reminder = reminder.as_ref().map(|(email, before)| ReminderRequest {
        before,
        email: (Some(email) != own_address.as_ref()).then_some(email.as_str()),
    });
    let created = authority.create_api_token(
        by,
        &caller.account.user_id,
        NewApiToken {
            name: &old.name,
            ttl: Some(ttl.as_deref().unwrap_or("never")),
            scope: old.scope.clone(),
            openid: old.openid,
            request_id: Some(&request_id),
        },
        reminder,
    );
    let created = match created {
        Ok(created) => created,
        Err(DomainError::Conflict(_)) => {
            return html(200, pages::secret_gone(&Page::new(&caller, &jwt)))
        }
        Err(e) => return error_page(e),
    };
    if let Err(e) = authority.revoke_api_token(by, &old.id) {
        return error_page(e);
    }
    secret_page(&caller, &jwt, &created)
}

/// `GET /console/account`: what the caller holds, and through what: its
/// roles with their permissions (as the org's rights bundles cap them),
/// its groups, and the rights in force now.
pub fn account(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| account_page(authority, request))
}

fn account_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    let found = authority
        .identity(&caller)
        .and_then(|identity| Ok((identity, authority.role_sources(&caller)?)));
    match found {
        Ok((identity, sources)) => html(
            200,
            pages::account(
                &Page::new(&caller, &jwt),
                &caller,
                &identity.groups,
                &sources,
            ),
        ),
        Err(e) => error_page(e),
    }
}

/// `GET /console/service-accounts`: the org's service accounts and their
/// state (every org's, for the provider), for a holder of "User: View".
pub fn service_accounts(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| {
        service_accounts_page(authority, request)
    })
}

fn service_accounts_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    let page_number = query_number(request, "page").unwrap_or(1);
    let listed = PageRequest::new(page_number, 50)
        .and_then(|page| authority.service_accounts_in_reach(&caller, None, page));
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
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
    policy_page(authority, &caller, &jwt, None, 200)
}

/// `POST /console/policy`: sets the policy of the caller's org, or the
/// provider's default (`scope=default`), as `PUT /api/…token-policy` does.
pub fn set_policy(authority: &mut Authority, request: &Request) -> Response {
    let SignedForm {
        caller,
        jwt,
        fields: form,
    } = match form_with_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
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
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
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
    } = match form_with_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
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
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
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
    } = match form_with_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
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
    let (caller, jwt) = match session(authority, request) {
        Ok(found) => found,
        Err(to_login) => return to_login,
    };
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
    } = match form_with_session(authority, request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let by = Actor::Caller(&caller);
    let code = field(&form, "user_code");
    let grant = field(&form, "decision") == "grant";
    let found = match authority.look_up_device(&caller, code) {
        Ok(found) => found,
        Err(e) => return error_page(e),
    };
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
    let in_reach =
        PageRequest::new(1, 100).and_then(|page| authority.roles_in_reach(caller, None, page));
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

/// A page that only reads: all its reads, authentication included, are
/// one read transaction.
fn one_read(authority: &Authority, page: impl FnOnce(&Authority) -> Response) -> Response {
    authority
        .reading(|authority| Ok(page(authority)))
        .unwrap_or_else(error_page)
}

fn secret_page(caller: &Caller, jwt: &str, created: &crate::domain::CreatedApiToken) -> Response {
    html(
        200,
        pages::secret(
            &Page::new(caller, jwt),
            &created.name,
            created.secret.reveal(),
            created.expires_at,
        ),
    )
}

/// The generate form again, with `message` shown beside it.
fn form_error(authority: &Authority, caller: &Caller, jwt: &str, message: &str) -> Response {
    match generate_form(authority, caller, Some(message)) {
        Ok(form) => html(400, pages::generate(&Page::new(caller, jwt), &form)),
        Err(e) => error_page(e),
    }
}

/// What the generate form offers this caller: the lifetimes its org's
/// policy allows, the roles it holds, and a fresh request id.
fn generate_form<'a>(
    authority: &Authority,
    caller: &Caller,
    error: Option<&'a str>,
) -> Result<GenerateForm<'a>, DomainError> {
    let policy = authority
        .token_policy(caller, Some(&caller.account.org.id))?
        .effective;
    let org = &caller.account.org.name;
    let mut lifetimes: Vec<Lifetime> = LIFETIMES
        .iter()
        .filter(|(value, _)| policy.lifetime(Some(value), org).is_ok())
        .map(|(value, label)| Lifetime {
            value,
            label,
            default: *value == policy.default_ttl,
        })
        .collect();
    if policy.allow_never {
        lifetimes.push(Lifetime {
            value: "never",
            label: "Never expires",
            default: policy.default_ttl == "never",
        });
    }
    let held = caller.account.held_roles();
    let mut org_roles: Vec<String> = held
        .iter()
        .filter(|r| r.service.is_none())
        .map(|r| r.name.clone())
        .collect();
    org_roles.sort();
    org_roles.dedup();
    let mut service_roles: Vec<pages::ServiceRoleChoice> = held
        .iter()
        .filter_map(|r| {
            r.service.clone().map(|service| pages::ServiceRoleChoice {
                service,
                role: r.name.clone(),
                permissions: r.permissions.clone(),
            })
        })
        .collect();
    service_roles.sort();
    service_roles.dedup();
    Ok(GenerateForm {
        error,
        lifetimes,
        max_ttl: policy.max_ttl,
        org_roles,
        service_roles,
        reminder_leads: &REMINDER_LEADS,
        has_email: caller.account.email.is_some(),
        request_id: authority.new_request_id()?,
    })
}

/// The scope the form asks for: all roles, or the roles ticked.
fn scope_of(form: &[(String, String)]) -> Result<TokenScope, String> {
    if field(form, "scope") != "roles" {
        return Ok(TokenScope::AllRoles);
    }
    let org_roles: Vec<String> = values(form, "org_role");
    let mut service_roles = Vec::new();
    let ticked_permissions = values(form, "permission");
    for qualified in values(form, "service_role") {
        let Some((service, role)) = qualified.split_once('/') else {
            return Err(format!("{qualified:?} is not service/role"));
        };
        // Permissions ticked under the role narrow it; none: the whole role.
        let narrowed: Vec<String> = ticked_permissions
            .iter()
            .filter_map(|p| p.strip_prefix(&format!("{qualified}|")))
            .map(String::from)
            .collect();
        service_roles.push(ServiceRoleScope {
            service: service.to_string(),
            role: role.to_string(),
            permissions: (!narrowed.is_empty()).then_some(narrowed),
        });
    }
    Ok(TokenScope::Roles {
        org_roles,
        service_roles,
    })
}

fn may_create(caller: &Caller) -> bool {
    !caller.is_token_derived() && caller.rights.contains(crate::domain::Right::TokenManageOwn)
}

/// The caller of a console page, or the way to the login page.
fn session(authority: &Authority, request: &Request) -> Result<(Caller, String), Response> {
    session_caller(authority, request).map_err(|_| {
        let here = if request.query.is_empty() {
            request.path.clone()
        } else {
            format!("{}?{}", request.path, request.query)
        };
        let next: String = url_encode(&here);
        redirect(&format!("/console/login?next={next}"))
    })
}

/// Where to go after logging in: a console page, never another site.
fn next_page(asked: Option<&str>) -> String {
    match asked {
        Some(path)
            if path.starts_with("/console/")
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/console/tokens".to_string(),
    }
}

fn url_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn session_caller(authority: &Authority, request: &Request) -> Result<(Caller, String), ()> {
    let jwt = cookie(request, &cookie_name(authority)).ok_or(())?;
    let caller = authority.authenticate(&jwt, request.peer).map_err(|_| ())?;
    Ok((caller, jwt))
}

/// A form that may change something: sent within a live session, with
/// that session's CSRF token, from this site.
struct SignedForm {
    caller: Caller,
    jwt: String,
    fields: Vec<(String, String)>,
}

/// A state-changing form: a live session, the same origin, and the CSRF
/// token of that session; else 403 and nothing changes.
fn form_with_session(authority: &Authority, request: &Request) -> Result<SignedForm, Response> {
    same_origin(request)?;
    let (caller, jwt) = session_caller(authority, request)
        .map_err(|_| forbidden("your session has ended; log in again"))?;
    let form = request
        .form_body()
        .map_err(|e| html(400, pages::message("Bad request", &bad_request(e))))?;
    if !csrf_matches(&jwt, field(&form, "csrf")) {
        return Err(forbidden(
            "this form has expired or did not come from this console",
        ));
    }
    Ok(SignedForm {
        caller,
        jwt,
        fields: form,
    })
}

fn form_of_session(authority: &Authority, request: &Request) -> Result<(Caller, String), Response> {
    form_with_session(authority, request).map(|form| (form.caller, form.jwt))
}

/// A form must come from this console's own pages. Browsers say where a
/// request comes from in `Sec-Fetch-Site`; older ones only in `Origin`
/// (which `Referrer-Policy: no-referrer` turns into `null` even for this
/// site's own forms). Another site is refused; a request that says nothing
/// rests on the CSRF token (and the `SameSite=Strict` cookie).
fn same_origin(request: &Request) -> Result<(), Response> {
    if let Some(site) = request.header("sec-fetch-site") {
        return match site {
            "same-origin" | "none" => Ok(()),
            _ => Err(forbidden("this form was sent from another site")),
        };
    }
    let (Some(origin), Some(host)) = (request.header("origin"), request.header("host")) else {
        return Ok(());
    };
    if origin == "null" {
        return Ok(());
    }
    let own = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
    if own {
        Ok(())
    } else {
        Err(forbidden("this form was sent from another site"))
    }
}

/// The CSRF token of a session: derived from its access token, which no
/// other site can read (the cookie is `HttpOnly` and `SameSite=Strict`).
pub(super) fn csrf_token(jwt: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("tokend console 2026 csrf token");
    hasher.update(jwt.as_bytes());
    hasher.finalize().to_hex()[..32].to_string()
}

fn csrf_matches(jwt: &str, presented: &str) -> bool {
    let expected = csrf_token(jwt);
    // Compared as digests, so the time taken says nothing of the token.
    blake3::hash(expected.as_bytes()) == blake3::hash(presented.as_bytes())
}

fn cookie_name(authority: &Authority) -> String {
    if authority.settings().issuer.starts_with("https://") {
        "__Host-tokend-session".into()
    } else {
        "tokend-session".into()
    }
}

fn secure_flag(authority: &Authority) -> &'static str {
    if authority.settings().issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .filter(|(header, _)| header == "cookie")
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

fn values(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .collect()
}

fn query_text(request: &Request, name: &str) -> Option<String> {
    request
        .query_params()
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn query_number(request: &Request, name: &str) -> Option<u32> {
    request
        .query_params()
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.parse().ok())
}

/// A domain refusal as a page, in the API's words.
fn error_page(error: DomainError) -> Response {
    let (status, title) = match &error {
        DomainError::Invalid(_) => (400, "Not possible"),
        DomainError::Unauthenticated(_) | DomainError::InvalidCredentials => (401, "Not logged in"),
        DomainError::Forbidden(_) => (403, "Not allowed"),
        DomainError::NotFound(_) => (404, "Not found"),
        DomainError::Conflict(_) => (409, "Conflict"),
        DomainError::LoginLocked(_) => (429, "Locked"),
        DomainError::Unavailable(_) => (503, "Busy"),
        DomainError::InvalidGrant(_)
        | DomainError::InvalidTarget(_)
        | DomainError::DeviceFlow(_) => (400, "Not possible"),
        DomainError::Internal(_) => (500, "Something went wrong"),
    };
    let message = match error {
        DomainError::Internal(_) => "an internal error; the service log says more".to_string(),
        other => other.to_string(),
    };
    html(status, pages::message(title, &message))
}

fn bad_request(error: BadRequest) -> String {
    match error {
        BadRequest::TooLarge => "the form is too large".into(),
        BadRequest::Malformed(message) => message,
    }
}

fn forbidden(message: &str) -> Response {
    html(403, pages::message("Not allowed", message))
}

fn redirect(to: &str) -> Response {
    with_defences(Response::empty(303).with_header("Location", to.to_string()))
}

fn html(status: u16, markup: maud::Markup) -> Response {
    let mut response = Response::empty(status);
    response.body = markup.into_string().into_bytes();
    with_defences(response.with_header("Content-Type", "text/html; charset=utf-8"))
}

fn asset(content_type: &str, body: &'static str) -> Response {
    let mut response = Response::empty(200);
    response.body = body.as_bytes().to_vec();
    response
        .with_header("Content-Type", content_type.to_string())
        .with_header("Cache-Control", "public, max-age=3600")
        .with_header("X-Content-Type-Options", "nosniff")
}

/// The headers every console page carries: no framing, no inline code, no
/// caching, no referrer.
fn with_defences(response: Response) -> Response {
    response
        .no_store()
        .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("X-Frame-Options", "DENY")
        .with_header("Referrer-Policy", "no-referrer")
}
