//! The console's pages about one's own API tokens: the list (live and
//! inactive), the generate form, the secret shown once, regenerating and
//! revoking.

use super::pages::{self, GenerateForm, Lifetime, Page};
use super::{
    error_page, field, form_of_session, form_with_session, html, one_read, query_number,
    query_text, redirect, session, values, SignedForm,
};
use crate::domain::{
    Actor, Authority, Caller, DomainError, NewApiToken, PageRequest, ReminderRequest,
    ServiceRoleScope, TokenScope, TokenState,
};
use crate::http::request::Request;
use crate::http::response::Response;

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

/// `GET /console/tokens`: the caller's own API tokens, names only.
pub fn tokens(authority: &mut Authority, request: &Request) -> Response {
    one_read(authority, |authority| tokens_page(authority, request))
}

fn tokens_page(authority: &Authority, request: &Request) -> Response {
    let (caller, jwt) = or_answer!(session(authority, request));
    let page_number = query_number(request, "page").unwrap_or(1);
    let inactive = query_text(request, "state").as_deref() == Some("inactive");
    let state = if inactive {
        TokenState::Inactive
    } else {
        TokenState::Live
    };
    let listed = or_answer!(PageRequest::new(page_number, 50)
        .and_then(|page| authority.own_api_tokens_by_state(&caller, state, page))
        .map_err(error_page));
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
    let (caller, jwt) = or_answer!(session(authority, request));
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
    } = or_answer!(form_with_session(authority, request));
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
    let bound_cidrs: Vec<String> = field(&form, "bound_cidrs")
        .split([',', '\n', '\r', ' ', '\t'])
        .filter(|entry| !entry.is_empty())
        .map(String::from)
        .collect();
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
            bound_cidrs: &bound_cidrs,
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
    let (caller, jwt) = or_answer!(session(authority, request));
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
    let caller = or_answer!(form_with_session(authority, request)).caller;
    match authority.revoke_api_token(Actor::Caller(&caller), id) {
        Ok(()) => redirect("/console/tokens"),
        Err(e) => error_page(e),
    }
}

/// `POST /console/tokens/{id}/regenerate`: a new secret with the same
/// name, scopes, lifetime and OpenID choice; the old token is revoked at
/// once, as the vendor's console does.
pub fn regenerate(authority: &mut Authority, request: &Request, id: &str) -> Response {
    let (caller, jwt) = or_answer!(form_of_session(authority, request));
    // The same rotation as the API's, without grace; the form's request id
    // makes a reload show no second secret.
    let request_id = format!("regenerate:{id}");
    match authority.rotate_api_token(Actor::Caller(&caller), id, None, Some(&request_id)) {
        Ok(rotated) => secret_page(&caller, &jwt, &rotated.created),
        // A reload after the old token was replaced: nothing to show again.
        Err(DomainError::NotFound(_) | DomainError::Conflict(_)) => {
            html(200, pages::secret_gone(&Page::new(&caller, &jwt)))
        }
        Err(e) => error_page(e),
    }
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
        networks_required: policy.require_bound_cidrs,
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
