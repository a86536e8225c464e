//! The route table: one row per endpoint, with its method, its path
//! pattern, who may call it and its handler. The router, the `Allow`
//! header of a 405, the request log (which shows the pattern, never the
//! values in a path), HEAD (answered as GET, without the body) and the
//! check against `docs/openapi.yaml` all read this one table. Unknown paths
//! get 404; known paths with another method 405 with `Allow`; an oversized
//! body 413, in the endpoint's own dialect.
//!
//! To add an endpoint: write its handler in the module of its resource,
//! add its row here, and describe it in `docs/openapi.yaml` (the tidy test
//! fails until both agree).

use super::error::{ApiError, BadRequest, OAuthError, DPOP_NONCE_HEADER};
use super::request::{decode_path_segment, BodyError, Request};
use super::response::Response;
use super::vcloud::Representation;
use super::{
    audit, cloudapi, console, directory, discovery, oauth, policy, second_factor, service_accounts,
    session, tokens, users, vcloud, webhooks,
};
use crate::domain::{Authority, ExchangeAudience, LoginEndpoint};

/// Who may call an endpoint: what its OpenAPI `security` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; a credential, if any, is in the body (an API token, a
    /// token to revoke).
    Public,
    /// A user's password, in HTTP Basic: the logins.
    Password,
    /// An access token, in `Authorization: Bearer` or `csp-auth-token`.
    AccessToken,
    /// An API token itself, in `Authorization: Bearer` or
    /// `csp-auth-token`: self-rotation only.
    ApiToken,
    /// An introspection client's credentials, in HTTP Basic.
    Client,
    /// A user's password, in the console's login form.
    Form,
    /// The console's session cookie.
    Console,
}

/// How an endpoint speaks, and so how it answers a mistake its handler
/// never sees (an oversized body, a method it does not take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `{"error", "message"}`; an `/api/…` resource refuses an XML-only
    /// `Accept`.
    Json,
    /// RFC 6749 §5.2 errors, every answer `no-store`.
    OAuth,
    /// Cloud Director's: JSON, or XML at the version `Accept` asks for.
    Vcloud,
    /// The console's HTML pages.
    Html,
}

/// The decoded values of a path's `{…}` segments, in order.
struct Params(Vec<String>);

impl Params {
    fn at(&self, index: usize) -> &str {
        self.0.get(index).map_or("", String::as_str)
    }
}

type Handler = fn(&mut Authority, &Request, &Params) -> Response;

struct Endpoint {
    method: &'static str,
    pattern: &'static str,
    access: Access,
    dialect: Dialect,
    handler: Handler,
}

use Access::{AccessToken, ApiToken, Client, Console, Form, Password, Public};
use Dialect::{Html, Json, OAuth, Vcloud};

const fn at(
    method: &'static str,
    pattern: &'static str,
    access: Access,
    dialect: Dialect,
    handler: Handler,
) -> Endpoint {
    Endpoint {
        method,
        pattern,
        access,
        dialect,
        handler,
    }
}

/// Every endpoint. The rows of one pattern share its dialect, and list
/// their methods in the order `Allow` names them.
const ENDPOINTS: &[Endpoint] = &[
    at("GET", "/health", Public, Json, |a, _, _| {
        discovery::health(a)
    }),
    at("GET", "/health/live", Public, Json, |_, _, _| {
        discovery::live()
    }),
    at("GET", "/health/ready", Public, Json, |a, _, _| {
        discovery::ready(a)
    }),
    at("GET", "/.well-known/jwks.json", Public, Json, |a, _, _| {
        api(discovery::jwks(a))
    }),
    at(
        "GET",
        "/.well-known/openid-configuration",
        Public,
        Json,
        |a, _, _| discovery::provider_metadata(a),
    ),
    at(
        "GET",
        "/.well-known/oauth-authorization-server",
        Public,
        Json,
        |a, _, _| discovery::provider_metadata(a),
    ),
    at(
        "POST",
        "/cloudapi/1.0.0/sessions",
        Password,
        Json,
        |a, r, _| api(session::login(a, r, LoginEndpoint::Tenant)),
    ),
    at(
        "POST",
        "/cloudapi/1.0.0/sessions/provider",
        Password,
        Json,
        |a, r, _| api(session::login(a, r, LoginEndpoint::Provider)),
    ),
    at(
        "DELETE",
        "/cloudapi/1.0.0/sessions/current",
        AccessToken,
        Json,
        |a, r, _| api(session::logout(a, r)),
    ),
    at(
        "GET",
        "/cloudapi/1.0.0/tokens",
        AccessToken,
        Json,
        |a, r, _| api(cloudapi::list(a, r)),
    ),
    at(
        "DELETE",
        "/cloudapi/1.0.0/tokens/{id}",
        AccessToken,
        Json,
        |a, r, p| api(cloudapi::revoke(a, r, p.at(0))),
    ),
    at("GET", "/api/session", AccessToken, Vcloud, |a, r, _| {
        in_vcloud_form(r, |form| session::current(a, r, form))
    }),
    at("DELETE", "/api/session", AccessToken, Vcloud, |a, r, _| {
        in_vcloud_form(r, |_| session::logout(a, r))
    }),
    at("GET", "/api/versions", Public, Vcloud, |a, _, _| {
        vcloud::versions(a)
    }),
    at("GET", "/userinfo", AccessToken, Json, |a, r, _| {
        api(session::userinfo(a, r))
    }),
    at("POST", "/userinfo", AccessToken, Json, |a, r, _| {
        api(session::userinfo(a, r))
    }),
    at("GET", "/api/org", AccessToken, Vcloud, |a, r, _| {
        in_vcloud_form(r, |form| session::orgs(a, r, form))
    }),
    at("POST", "/api/org", AccessToken, Vcloud, |a, r, _| {
        api(directory::create_org(a, r))
    }),
    at("GET", "/api/org/{id}", AccessToken, Vcloud, |a, r, p| {
        in_vcloud_form(r, |form| session::org(a, r, p.at(0), form))
    }),
    at(
        "GET",
        "/api/org/{id}/token-policy",
        AccessToken,
        Json,
        |a, r, p| api(policy::get(a, r, Some(p.at(0)))),
    ),
    at(
        "PUT",
        "/api/org/{id}/token-policy",
        AccessToken,
        Json,
        |a, r, p| api(policy::set(a, r, Some(p.at(0)))),
    ),
    at(
        "GET",
        "/api/org/{id}/token-policy/exceeding",
        AccessToken,
        Json,
        |a, r, p| api(policy::exceeding(a, r, p.at(0))),
    ),
    at("GET", "/api/token-policy", AccessToken, Json, |a, r, _| {
        api(policy::get(a, r, None))
    }),
    at("PUT", "/api/token-policy", AccessToken, Json, |a, r, _| {
        api(policy::set(a, r, None))
    }),
    at("GET", "/api/tokens", AccessToken, Json, |a, r, _| {
        api(tokens::list(a, r))
    }),
    at("POST", "/api/tokens", AccessToken, Json, |a, r, _| {
        api(tokens::create(a, r))
    }),
    // Before `/api/tokens/{id}`: the first pattern that fits a path wins.
    at("POST", "/api/tokens/leaked", Public, Json, |a, r, _| {
        api(tokens::report_leaked(a, r))
    }),
    at(
        "DELETE",
        "/api/tokens/{id}",
        AccessToken,
        Json,
        |a, r, p| api(tokens::revoke(a, r, p.at(0))),
    ),
    // Before `/api/tokens/{id}/rotate`, for the same reason.
    at(
        "POST",
        "/api/tokens/self/rotate",
        ApiToken,
        Json,
        |a, r, _| api(tokens::rotate_self(a, r)),
    ),
    at(
        "POST",
        "/api/tokens/{id}/rotate",
        AccessToken,
        Json,
        |a, r, p| api(tokens::rotate(a, r, p.at(0))),
    ),
    at("GET", "/api/webhooks", AccessToken, Json, |a, r, _| {
        api(webhooks::list(a, r))
    }),
    at("POST", "/api/webhooks", AccessToken, Json, |a, r, _| {
        api(webhooks::create(a, r))
    }),
    at("GET", "/api/webhooks/{id}", AccessToken, Json, |a, r, p| {
        api(webhooks::get(a, r, p.at(0)))
    }),
    at(
        "DELETE",
        "/api/webhooks/{id}",
        AccessToken,
        Json,
        |a, r, p| api(webhooks::delete(a, r, p.at(0))),
    ),
    at(
        "GET",
        "/api/webhooks/{id}/deliveries",
        AccessToken,
        Json,
        |a, r, p| api(webhooks::deliveries(a, r, p.at(0))),
    ),
    at("GET", "/api/users", AccessToken, Json, |a, r, _| {
        api(users::list(a, r))
    }),
    at("POST", "/api/users", AccessToken, Json, |a, r, _| {
        api(users::create(a, r))
    }),
    at("GET", "/api/users/me/2fa", AccessToken, Json, |a, r, _| {
        api(second_factor::status(a, r))
    }),
    at("POST", "/api/users/me/2fa", AccessToken, Json, |a, r, _| {
        api(second_factor::begin(a, r))
    }),
    at(
        "DELETE",
        "/api/users/me/2fa",
        AccessToken,
        Json,
        |a, r, _| api(second_factor::disable(a, r)),
    ),
    at(
        "POST",
        "/api/users/me/2fa/confirm",
        AccessToken,
        Json,
        |a, r, _| api(second_factor::confirm(a, r)),
    ),
    at("GET", "/api/users/{id}", AccessToken, Json, |a, r, p| {
        api(users::get(a, r, p.at(0)))
    }),
    at(
        "DELETE",
        "/api/users/{id}/2fa",
        AccessToken,
        Json,
        |a, r, p| api(second_factor::reset(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/users/{id}/disable",
        AccessToken,
        Json,
        |a, r, p| api(users::set_enabled(a, r, p.at(0), false)),
    ),
    at(
        "POST",
        "/api/users/{id}/enable",
        AccessToken,
        Json,
        |a, r, p| api(users::set_enabled(a, r, p.at(0), true)),
    ),
    at(
        "PUT",
        "/api/users/{id}/password",
        AccessToken,
        Json,
        |a, r, p| api(users::set_password(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/users/{id}/roles",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_user_role(a, r, p.at(0), None)),
    ),
    at(
        "DELETE",
        "/api/users/{id}/roles/{role}",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_user_role(a, r, p.at(0), Some(p.at(1)))),
    ),
    at("GET", "/api/roles", AccessToken, Json, |a, r, _| {
        api(directory::roles(a, r))
    }),
    at("POST", "/api/roles", AccessToken, Json, |a, r, _| {
        api(directory::create_role(a, r))
    }),
    at("DELETE", "/api/roles/{id}", AccessToken, Json, |a, r, p| {
        api(directory::delete_role(a, r, p.at(0)))
    }),
    at(
        "PUT",
        "/api/roles/{id}/permissions",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_role_permissions(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/roles/{id}/orgs",
        AccessToken,
        Json,
        |a, r, p| api(directory::publish_role(a, r, p.at(0), None)),
    ),
    at(
        "DELETE",
        "/api/roles/{id}/orgs/{org}",
        AccessToken,
        Json,
        |a, r, p| api(directory::publish_role(a, r, p.at(0), Some(p.at(1)))),
    ),
    at("GET", "/api/groups", AccessToken, Json, |a, r, _| {
        api(directory::groups(a, r))
    }),
    at("POST", "/api/groups", AccessToken, Json, |a, r, _| {
        api(directory::create_group(a, r))
    }),
    at("GET", "/api/groups/{id}", AccessToken, Json, |a, r, p| {
        api(directory::group(a, r, p.at(0)))
    }),
    at(
        "POST",
        "/api/groups/{id}/members",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_group_member(a, r, p.at(0), None)),
    ),
    at(
        "DELETE",
        "/api/groups/{id}/members/{user}",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_group_member(a, r, p.at(0), Some(p.at(1)))),
    ),
    at(
        "POST",
        "/api/groups/{id}/roles",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_group_role(a, r, p.at(0), None)),
    ),
    at(
        "DELETE",
        "/api/groups/{id}/roles/{role}",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_group_role(a, r, p.at(0), Some(p.at(1)))),
    ),
    at("GET", "/api/audit", AccessToken, Json, |a, r, _| {
        api(audit::list(a, r))
    }),
    at("GET", "/api/services", AccessToken, Json, |a, r, _| {
        api(directory::services(a, r))
    }),
    at("POST", "/api/services", AccessToken, Json, |a, r, _| {
        api(directory::create_service(a, r))
    }),
    at(
        "PATCH",
        "/api/services/{id}",
        AccessToken,
        Json,
        |a, r, p| api(directory::change_service(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/services/{id}/permissions",
        AccessToken,
        Json,
        |a, r, p| api(directory::extend_service(a, r, p.at(0))),
    ),
    at(
        "GET",
        "/api/services/{id}/clients",
        AccessToken,
        Json,
        |a, r, p| api(directory::service_clients(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/services/{id}/clients",
        AccessToken,
        Json,
        |a, r, p| api(directory::create_service_client(a, r, p.at(0))),
    ),
    at(
        "DELETE",
        "/api/services/{id}/clients/{client_id}",
        AccessToken,
        Json,
        |a, r, p| api(directory::revoke_service_client(a, r, p.at(0), p.at(1))),
    ),
    at(
        "GET",
        "/api/rights-bundles",
        AccessToken,
        Json,
        |a, r, _| api(directory::bundles(a, r)),
    ),
    at(
        "POST",
        "/api/rights-bundles",
        AccessToken,
        Json,
        |a, r, _| api(directory::create_bundle(a, r)),
    ),
    at(
        "PUT",
        "/api/rights-bundles/{id}/permissions",
        AccessToken,
        Json,
        |a, r, p| api(directory::set_bundle_permissions(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/rights-bundles/{id}/orgs",
        AccessToken,
        Json,
        |a, r, p| api(directory::publish_bundle(a, r, p.at(0), None)),
    ),
    at(
        "DELETE",
        "/api/rights-bundles/{id}/orgs/{org}",
        AccessToken,
        Json,
        |a, r, p| api(directory::publish_bundle(a, r, p.at(0), Some(p.at(1)))),
    ),
    at(
        "POST",
        "/csp/gateway/am/api/auth/api-tokens/authorize",
        Public,
        OAuth,
        |a, r, _| oauth(oauth::authorize(a, r)),
    ),
    at("POST", "/oauth/provider/token", Public, OAuth, |a, r, _| {
        oauth(oauth::provider_token(a, r))
    }),
    at(
        "POST",
        "/oauth/tenant/{org}/token",
        Public,
        OAuth,
        |a, r, p| oauth(oauth::tenant_token(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/oauth/provider/register",
        AccessToken,
        Json,
        |a, r, _| api(oauth::register(a, r, ExchangeAudience::Provider)),
    ),
    at(
        "POST",
        "/oauth/tenant/{org}/register",
        AccessToken,
        Json,
        |a, r, p| api(oauth::register(a, r, ExchangeAudience::Tenant(p.at(0)))),
    ),
    at(
        "DELETE",
        "/oauth/provider/register/{client_id}",
        AccessToken,
        Json,
        |a, r, p| api(oauth::delete_client(a, r, p.at(0))),
    ),
    // The org in the path is the client's owner's; the client id decides.
    at(
        "DELETE",
        "/oauth/tenant/{org}/register/{client_id}",
        AccessToken,
        Json,
        |a, r, p| api(oauth::delete_client(a, r, p.at(1))),
    ),
    at(
        "POST",
        "/oauth/provider/device_authorization",
        Public,
        OAuth,
        |a, r, _| {
            oauth(oauth::device_authorization(
                a,
                r,
                ExchangeAudience::Provider,
            ))
        },
    ),
    at(
        "POST",
        "/oauth/tenant/{org}/device_authorization",
        Public,
        OAuth,
        |a, r, p| {
            oauth(oauth::device_authorization(
                a,
                r,
                ExchangeAudience::Tenant(p.at(0)),
            ))
        },
    ),
    at(
        "POST",
        "/cloudapi/1.0.0/deviceLookup",
        AccessToken,
        Json,
        |a, r, _| api(service_accounts::look_up(a, r)),
    ),
    at(
        "POST",
        "/cloudapi/1.0.0/deviceLookup/grant",
        AccessToken,
        Json,
        |a, r, _| api(service_accounts::decide(a, r, true)),
    ),
    at(
        "POST",
        "/cloudapi/1.0.0/deviceLookup/deny",
        AccessToken,
        Json,
        |a, r, _| api(service_accounts::decide(a, r, false)),
    ),
    at(
        "GET",
        "/api/service-accounts",
        AccessToken,
        Json,
        |a, r, _| api(service_accounts::list(a, r)),
    ),
    at(
        "GET",
        "/api/service-accounts/{id}",
        AccessToken,
        Json,
        |a, r, p| api(service_accounts::get(a, r, p.at(0))),
    ),
    at(
        "DELETE",
        "/api/service-accounts/{id}",
        AccessToken,
        Json,
        |a, r, p| api(service_accounts::delete(a, r, p.at(0))),
    ),
    at(
        "PUT",
        "/api/service-accounts/{id}/role",
        AccessToken,
        Json,
        |a, r, p| api(service_accounts::set_role(a, r, p.at(0))),
    ),
    at(
        "POST",
        "/api/service-accounts/{id}/revoke",
        AccessToken,
        Json,
        |a, r, p| api(service_accounts::revoke(a, r, p.at(0))),
    ),
    at("POST", "/oauth/revoke", Public, OAuth, |a, r, _| {
        oauth(oauth::revoke(a, r))
    }),
    at("POST", "/oauth/introspect", Client, OAuth, |a, r, _| {
        oauth(oauth::introspect(a, r))
    }),
    at("GET", "/oauth/authorize", Public, Json, |_, _, _| {
        oauth::authorization().into_response()
    }),
    at("POST", "/oauth/authorize", Public, Json, |_, _, _| {
        oauth::authorization().into_response()
    }),
    at("GET", "/console/", Public, Html, |a, r, _| {
        console::home(a, r)
    }),
    at(
        "GET",
        "/console/assets/console.css",
        Public,
        Html,
        |_, _, _| console::stylesheet(),
    ),
    at(
        "GET",
        "/console/assets/console.js",
        Public,
        Html,
        |_, _, _| console::script(),
    ),
    at("GET", "/console/login", Public, Html, |a, r, _| {
        console::login_form(a, r)
    }),
    at("POST", "/console/login", Form, Html, |a, r, _| {
        console::login(a, r)
    }),
    at("POST", "/console/login/code", Form, Html, |a, r, _| {
        console::login_code(a, r)
    }),
    at("GET", "/console/2fa", Console, Html, |a, r, _| {
        console::second_factor_page(a, r)
    }),
    at("POST", "/console/2fa", Console, Html, |a, r, _| {
        console::begin_second_factor(a, r)
    }),
    at("POST", "/console/2fa/confirm", Console, Html, |a, r, _| {
        console::confirm_second_factor(a, r)
    }),
    at("POST", "/console/2fa/disable", Console, Html, |a, r, _| {
        console::disable_second_factor(a, r)
    }),
    at("POST", "/console/logout", Console, Html, |a, r, _| {
        console::logout(a, r)
    }),
    at("GET", "/console/tokens", Console, Html, |a, r, _| {
        console::tokens(a, r)
    }),
    at("POST", "/console/tokens", Console, Html, |a, r, _| {
        console::create_token(a, r)
    }),
    at("GET", "/console/tokens/new", Console, Html, |a, r, _| {
        console::new_token_form(a, r)
    }),
    at(
        "GET",
        "/console/tokens/{id}/revoke",
        Console,
        Html,
        |a, r, p| console::revoke_form(a, r, p.at(0)),
    ),
    at(
        "POST",
        "/console/tokens/{id}/revoke",
        Console,
        Html,
        |a, r, p| console::revoke(a, r, p.at(0)),
    ),
    at(
        "POST",
        "/console/tokens/{id}/regenerate",
        Console,
        Html,
        |a, r, p| console::regenerate(a, r, p.at(0)),
    ),
    at("GET", "/console/account", Console, Html, |a, r, _| {
        console::account(a, r)
    }),
    at(
        "GET",
        "/console/service-accounts",
        Console,
        Html,
        |a, r, _| console::service_accounts(a, r),
    ),
    at("GET", "/console/policy", Console, Html, |a, r, _| {
        console::policy(a, r)
    }),
    at("POST", "/console/policy", Console, Html, |a, r, _| {
        console::set_policy(a, r)
    }),
    at("GET", "/console/audit", Console, Html, |a, r, _| {
        console::audit(a, r)
    }),
    at(
        "POST",
        "/console/service-accounts/{id}/role",
        Console,
        Html,
        |a, r, p| {
            console::manage_service_account(a, r, p.at(0), console::ServiceAccountAction::Role)
        },
    ),
    at(
        "POST",
        "/console/service-accounts/{id}/revoke",
        Console,
        Html,
        |a, r, p| {
            console::manage_service_account(a, r, p.at(0), console::ServiceAccountAction::Revoke)
        },
    ),
    at(
        "POST",
        "/console/service-accounts/{id}/delete",
        Console,
        Html,
        |a, r, p| {
            console::manage_service_account(a, r, p.at(0), console::ServiceAccountAction::Delete)
        },
    ),
    at("GET", "/console/inventory", Console, Html, |a, r, _| {
        console::inventory(a, r)
    }),
    at(
        "POST",
        "/console/inventory/revoke",
        Console,
        Html,
        |a, r, _| console::revoke_selected(a, r),
    ),
    at("GET", "/console/device", Console, Html, |a, r, _| {
        console::device_form(a, r)
    }),
    at("POST", "/console/device", Console, Html, |a, r, _| {
        console::decide_device(a, r)
    }),
];

/// The rows `path` matches (one per method), with the values of its
/// `{…}` segments; none when no pattern matches or a value does not
/// decode.
fn find(path: &str) -> Option<(Vec<&'static Endpoint>, Params)> {
    // Cloud Director's clients ask for the org list with a trailing slash.
    let path = if path == "/api/org/" {
        "/api/org"
    } else {
        path
    };
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let mut found: Option<(&'static str, Params)> = None;
    let mut rows = Vec::new();
    for endpoint in ENDPOINTS {
        match &found {
            Some((pattern, _)) if *pattern == endpoint.pattern => rows.push(endpoint),
            Some(_) => {}
            None => {
                if let Some(params) = matches(endpoint.pattern, &segments) {
                    found = Some((endpoint.pattern, params?));
                    rows.push(endpoint);
                }
            }
        }
    }
    let (_, params) = found?;
    Some((rows, params))
}

/// Whether `segments` fit `pattern`, and if so the decoded values of its
/// `{…}` segments (None inside: a value that does not decode, or is empty).
fn matches(pattern: &str, segments: &[&str]) -> Option<Option<Params>> {
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut values = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            match decode_path_segment(segment) {
                Some(value) => values.push(value),
                None => return Some(None),
            }
        } else if part != segment {
            return None;
        }
    }
    Some(Some(Params(values)))
}

/// The pattern of the route `path` reaches, for the request log; `-` for a
/// path no route knows.
pub fn pattern(path: &str) -> &'static str {
    find(path).map_or("-", |(rows, _)| rows[0].pattern)
}

/// The largest body `path` takes: a leak report's is larger than the
/// rest.
pub fn body_limit(path: &str) -> usize {
    if path == "/api/tokens/leaked" {
        super::LEAK_REPORT_MAX_BODY
    } else {
        super::MAX_BODY
    }
}

/// Whether `path` is a password login, which runs on its own pool.
/// Answers that read only, though not to GET: they stay on the worker.
const READS_BY_POST: [&str; 4] = [
    "/userinfo",
    "/oauth/introspect",
    "/oauth/authorize",
    "/cloudapi/1.0.0/deviceLookup",
];

/// Whether a request may change state (and so wait for a commit): any
/// method but GET and HEAD, unless the endpoint only reads.
pub fn may_write(method: &str, path: &str) -> bool {
    !matches!(method, "GET" | "HEAD") && !READS_BY_POST.contains(&path)
}

pub fn is_login(path: &str) -> bool {
    find(path).is_some_and(|(rows, _)| rows.iter().any(|e| matches!(e.access, Password | Form)))
}

/// Every endpoint as (method, pattern, who may call it): for the check
/// that `docs/openapi.yaml` describes exactly these.
pub fn endpoints() -> impl Iterator<Item = (&'static str, &'static str, Access)> {
    ENDPOINTS.iter().map(|e| (e.method, e.pattern, e.access))
}

pub fn dispatch(authority: &mut Authority, request: &Request) -> Response {
    let Some((rows, params)) = find(&request.path) else {
        return ApiError::not_found().into_response();
    };
    let dialect = rows[0].dialect;
    let mut response = answer(authority, request, &rows, &params);
    // RFC 9449 §8.2, §9: a fresh nonce on every answer to a request with a
    // DPoP proof, while nonces are required.
    if request.header("dpop").is_some()
        && !response
            .headers
            .iter()
            .any(|(name, _)| *name == DPOP_NONCE_HEADER)
    {
        // The nonce is an offer: without it, a client's next proof is
        // refused with `use_dpop_nonce` and a nonce then.
        if let Ok(Some(nonce)) = authority.dpop_nonce() {
            response = response.with_header(DPOP_NONCE_HEADER, nonce);
        }
    }
    if dialect == OAuth {
        // Every answer of a token endpoint, 405 and 413 included (RFC 6749 §5.1).
        response.no_store()
    } else {
        response
    }
}

fn answer(
    authority: &mut Authority,
    request: &Request,
    rows: &[&'static Endpoint],
    params: &Params,
) -> Response {
    let dialect = rows[0].dialect;
    // Refused before authentication, in the dialect of the endpoint.
    if let Err(BodyError::TooLarge(limit)) = request.body {
        return if dialect == OAuth {
            OAuthError::from(BadRequest::TooLarge(limit)).into_response()
        } else {
            ApiError::from(BadRequest::TooLarge(limit)).into_response()
        };
    }
    if request.path.starts_with("/api/") && dialect != Vcloud {
        match vcloud::negotiate(request) {
            Ok(Representation::Json) => {}
            Ok(Representation::Xml { version }) => {
                return ApiError::not_acceptable("this resource is served as application/json only")
                    .into_xml_response(version)
            }
            Err(e) => return e.into_xml_response(vcloud::latest_version()),
        }
    }
    // HEAD is GET without the body (RFC 9110 §9.3.2); hyper leaves the
    // body of a HEAD answer unsent.
    let method = match request.method.as_str() {
        "HEAD" => "GET",
        other => other,
    };
    match rows.iter().find(|e| e.method == method) {
        Some(endpoint) => (endpoint.handler)(authority, request, params),
        None => {
            let mut allowed: Vec<&str> = Vec::with_capacity(rows.len() + 1);
            for endpoint in rows {
                allowed.push(endpoint.method);
                if endpoint.method == "GET" {
                    allowed.push("HEAD");
                }
            }
            ApiError::method_not_allowed(&allowed.join(", ")).into_response()
        }
    }
}

/// A Cloud Director resource: answered in the form the client's `Accept`
/// asks for, its errors too (an XML client cannot read a JSON error).
fn in_vcloud_form(
    request: &Request,
    handler: impl FnOnce(Representation) -> Result<Response, ApiError>,
) -> Response {
    match vcloud::negotiate(request) {
        Err(e) => e.into_xml_response(vcloud::latest_version()),
        Ok(form) => handler(form).unwrap_or_else(|e| match form {
            Representation::Json => e.into_response(),
            Representation::Xml { version } => e.into_xml_response(version),
        }),
    }
}

fn api(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

fn oauth(result: Result<Response, OAuthError>) -> Response {
    result.unwrap_or_else(OAuthError::into_response)
}
