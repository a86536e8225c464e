//! The route table: which path and method reach which handler. Unknown paths
//! get 404 and known paths with another method 405 with `Allow`.

use super::error::{ApiError, BadRequest, OAuthError};
use super::request::{decode_path_segment, BodyError, Request};
use super::response::Response;
use super::vcloud::Representation;
use super::{
    audit, cloudapi, directory, discovery, oauth, policy, service_accounts, session, tokens, users,
    vcloud,
};
use crate::domain::{Authority, ExchangeAudience, LoginEndpoint};

enum Route {
    Health,
    Jwks,
    OpenidConfiguration,
    AuthorizationServerMetadata,
    Login(LoginEndpoint),
    CurrentSession,
    SessionInfo,
    UserInfo,
    ApiVersions,
    Orgs,
    Org(String),
    OrgTokenPolicy(String),
    OrgTokensBeyondPolicy(String),
    TokenPolicy,
    Tokens,
    Token(String),
    CloudTokens,
    CloudToken(String),
    Users,
    User(String),
    UserEnable(String, bool),
    UserPassword(String),
    UserRoles(String),
    UserRole(String, String),
    Roles,
    Role(String),
    RolePermissions(String),
    RoleOrgs(String),
    RoleOrg(String, String),
    Groups,
    Group(String),
    GroupMembers(String),
    GroupMember(String, String),
    GroupRoles(String),
    GroupRole(String, String),
    Audit,
    Services,
    ServicePermissions(String),
    ServiceClients(String),
    ServiceClient(String, String),
    Bundles,
    BundlePermissions(String),
    BundleOrgs(String),
    BundleOrg(String, String),
    Authorize,
    ProviderToken,
    TenantToken(String),
    ProviderRegister,
    TenantRegister(String),
    ProviderClient(String),
    /// The org in the path is the client's owner's; the client id decides.
    TenantClient(String),
    Revoke,
    Introspect,
    Authorization,
    ProviderDeviceAuthorization,
    TenantDeviceAuthorization(String),
    DeviceLookup,
    DeviceDecision(bool),
    ServiceAccounts,
    ServiceAccount(String),
    ServiceAccountRole(String),
    ServiceAccountRevoke(String),
}

impl Route {
    fn find(path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let route = match segments.as_slice() {
            ["health"] => Route::Health,
            [".well-known", "jwks.json"] => Route::Jwks,
            [".well-known", "openid-configuration"] => Route::OpenidConfiguration,
            [".well-known", "oauth-authorization-server"] => Route::AuthorizationServerMetadata,
            ["cloudapi", "1.0.0", "sessions"] => Route::Login(LoginEndpoint::Tenant),
            ["cloudapi", "1.0.0", "sessions", "provider"] => Route::Login(LoginEndpoint::Provider),
            ["cloudapi", "1.0.0", "sessions", "current"] => Route::CurrentSession,
            ["cloudapi", "1.0.0", "tokens"] => Route::CloudTokens,
            ["cloudapi", "1.0.0", "tokens", id] if !id.is_empty() => {
                Route::CloudToken(decode_path_segment(id)?)
            }
            ["api", "session"] => Route::SessionInfo,
            ["api", "versions"] => Route::ApiVersions,
            ["userinfo"] => Route::UserInfo,
            ["api", "org"] | ["api", "org", ""] => Route::Orgs,
            ["api", "org", id] => Route::Org(decode_path_segment(id)?),
            ["api", "org", id, "token-policy"] if !id.is_empty() => {
                Route::OrgTokenPolicy(decode_path_segment(id)?)
            }
            ["api", "org", id, "token-policy", "exceeding"] if !id.is_empty() => {
                Route::OrgTokensBeyondPolicy(decode_path_segment(id)?)
            }
            ["api", "token-policy"] => Route::TokenPolicy,
            ["api", "tokens"] => Route::Tokens,
            ["api", "tokens", id] if !id.is_empty() => Route::Token(decode_path_segment(id)?),
            ["api", "users"] => Route::Users,
            ["api", "users", id] if !id.is_empty() => Route::User(decode_path_segment(id)?),
            ["api", "users", id, "disable"] if !id.is_empty() => {
                Route::UserEnable(decode_path_segment(id)?, false)
            }
            ["api", "users", id, "enable"] if !id.is_empty() => {
                Route::UserEnable(decode_path_segment(id)?, true)
            }
            ["api", "users", id, "password"] if !id.is_empty() => {
                Route::UserPassword(decode_path_segment(id)?)
            }
            ["api", "users", id, "roles"] if !id.is_empty() => {
                Route::UserRoles(decode_path_segment(id)?)
            }
            ["api", "users", id, "roles", role] if !id.is_empty() && !role.is_empty() => {
                Route::UserRole(decode_path_segment(id)?, decode_path_segment(role)?)
            }
            ["api", "roles"] => Route::Roles,
            ["api", "roles", id] if !id.is_empty() => Route::Role(decode_path_segment(id)?),
            ["api", "roles", id, "permissions"] if !id.is_empty() => {
                Route::RolePermissions(decode_path_segment(id)?)
            }
            ["api", "roles", id, "orgs"] if !id.is_empty() => {
                Route::RoleOrgs(decode_path_segment(id)?)
            }
            ["api", "roles", id, "orgs", org] if !id.is_empty() && !org.is_empty() => {
                Route::RoleOrg(decode_path_segment(id)?, decode_path_segment(org)?)
            }
            ["api", "audit"] => Route::Audit,
            ["api", "services"] => Route::Services,
            ["api", "services", id, "permissions"] if !id.is_empty() => {
                Route::ServicePermissions(decode_path_segment(id)?)
            }
            ["api", "services", id, "clients"] if !id.is_empty() => {
                Route::ServiceClients(decode_path_segment(id)?)
            }
            ["api", "services", id, "clients", client] if !id.is_empty() && !client.is_empty() => {
                Route::ServiceClient(decode_path_segment(id)?, decode_path_segment(client)?)
            }
            ["api", "rights-bundles"] => Route::Bundles,
            ["api", "rights-bundles", id, "permissions"] if !id.is_empty() => {
                Route::BundlePermissions(decode_path_segment(id)?)
            }
            ["api", "rights-bundles", id, "orgs"] if !id.is_empty() => {
                Route::BundleOrgs(decode_path_segment(id)?)
            }
            ["api", "rights-bundles", id, "orgs", org] if !id.is_empty() && !org.is_empty() => {
                Route::BundleOrg(decode_path_segment(id)?, decode_path_segment(org)?)
            }
            ["api", "groups"] => Route::Groups,
            ["api", "groups", id] if !id.is_empty() => Route::Group(decode_path_segment(id)?),
            ["api", "groups", id, "members"] if !id.is_empty() => {
                Route::GroupMembers(decode_path_segment(id)?)
            }
            ["api", "groups", id, "members", user] if !id.is_empty() && !user.is_empty() => {
                Route::GroupMember(decode_path_segment(id)?, decode_path_segment(user)?)
            }
            ["api", "groups", id, "roles"] if !id.is_empty() => {
                Route::GroupRoles(decode_path_segment(id)?)
            }
            ["api", "groups", id, "roles", role] if !id.is_empty() && !role.is_empty() => {
                Route::GroupRole(decode_path_segment(id)?, decode_path_segment(role)?)
            }
            ["csp", "gateway", "am", "api", "auth", "api-tokens", "authorize"] => Route::Authorize,
            ["oauth", "provider", "token"] => Route::ProviderToken,
            ["oauth", "provider", "register"] => Route::ProviderRegister,
            ["oauth", "provider", "register", id] if !id.is_empty() => {
                Route::ProviderClient(decode_path_segment(id)?)
            }
            ["oauth", "tenant", org, "register"] if !org.is_empty() => {
                Route::TenantRegister(decode_path_segment(org)?)
            }
            ["oauth", "tenant", org, "register", id] if !org.is_empty() && !id.is_empty() => {
                Route::TenantClient(decode_path_segment(id)?)
            }
            ["oauth", "provider", "device_authorization"] => Route::ProviderDeviceAuthorization,
            ["oauth", "tenant", org, "device_authorization"] if !org.is_empty() => {
                Route::TenantDeviceAuthorization(decode_path_segment(org)?)
            }
            ["cloudapi", "1.0.0", "deviceLookup"] => Route::DeviceLookup,
            ["cloudapi", "1.0.0", "deviceLookup", "grant"] => Route::DeviceDecision(true),
            ["cloudapi", "1.0.0", "deviceLookup", "deny"] => Route::DeviceDecision(false),
            ["api", "service-accounts"] => Route::ServiceAccounts,
            ["api", "service-accounts", id] if !id.is_empty() => {
                Route::ServiceAccount(decode_path_segment(id)?)
            }
            ["api", "service-accounts", id, "role"] if !id.is_empty() => {
                Route::ServiceAccountRole(decode_path_segment(id)?)
            }
            ["api", "service-accounts", id, "revoke"] if !id.is_empty() => {
                Route::ServiceAccountRevoke(decode_path_segment(id)?)
            }
            ["oauth", "revoke"] => Route::Revoke,
            ["oauth", "introspect"] => Route::Introspect,
            ["oauth", "authorize"] => Route::Authorization,
            ["oauth", "tenant", org, "token"] if !org.is_empty() => {
                Route::TenantToken(decode_path_segment(org)?)
            }
            _ => return None,
        };
        Some(route)
    }

    /// The route as logged: its pattern, never the values in the path.
    fn pattern(&self) -> &'static str {
        match self {
            Route::Health => "/health",
            Route::Jwks => "/.well-known/jwks.json",
            Route::OpenidConfiguration => "/.well-known/openid-configuration",
            Route::AuthorizationServerMetadata => "/.well-known/oauth-authorization-server",
            Route::Login(LoginEndpoint::Tenant) => "/cloudapi/1.0.0/sessions",
            Route::Login(LoginEndpoint::Provider) => "/cloudapi/1.0.0/sessions/provider",
            Route::CurrentSession => "/cloudapi/1.0.0/sessions/current",
            Route::SessionInfo => "/api/session",
            Route::ApiVersions => "/api/versions",
            Route::UserInfo => "/userinfo",
            Route::Orgs => "/api/org",
            Route::Org(_) => "/api/org/{id}",
            Route::OrgTokenPolicy(_) => "/api/org/{id}/token-policy",
            Route::OrgTokensBeyondPolicy(_) => "/api/org/{id}/token-policy/exceeding",
            Route::TokenPolicy => "/api/token-policy",
            Route::Tokens => "/api/tokens",
            Route::Token(_) => "/api/tokens/{id}",
            Route::CloudTokens => "/cloudapi/1.0.0/tokens",
            Route::CloudToken(_) => "/cloudapi/1.0.0/tokens/{id}",
            Route::Users => "/api/users",
            Route::User(_) => "/api/users/{id}",
            Route::UserEnable(_, false) => "/api/users/{id}/disable",
            Route::UserEnable(_, true) => "/api/users/{id}/enable",
            Route::UserPassword(_) => "/api/users/{id}/password",
            Route::UserRoles(_) => "/api/users/{id}/roles",
            Route::UserRole(..) => "/api/users/{id}/roles/{role}",
            Route::Roles => "/api/roles",
            Route::Role(_) => "/api/roles/{id}",
            Route::RolePermissions(_) => "/api/roles/{id}/permissions",
            Route::RoleOrgs(_) => "/api/roles/{id}/orgs",
            Route::RoleOrg(..) => "/api/roles/{id}/orgs/{org}",
            Route::Groups => "/api/groups",
            Route::Group(_) => "/api/groups/{id}",
            Route::GroupMembers(_) => "/api/groups/{id}/members",
            Route::GroupMember(..) => "/api/groups/{id}/members/{user}",
            Route::GroupRoles(_) => "/api/groups/{id}/roles",
            Route::GroupRole(..) => "/api/groups/{id}/roles/{role}",
            Route::Audit => "/api/audit",
            Route::Services => "/api/services",
            Route::ServicePermissions(_) => "/api/services/{id}/permissions",
            Route::ServiceClients(_) => "/api/services/{id}/clients",
            Route::ServiceClient(..) => "/api/services/{id}/clients/{client_id}",
            Route::Bundles => "/api/rights-bundles",
            Route::BundlePermissions(_) => "/api/rights-bundles/{id}/permissions",
            Route::BundleOrgs(_) => "/api/rights-bundles/{id}/orgs",
            Route::BundleOrg(..) => "/api/rights-bundles/{id}/orgs/{org}",
            Route::Authorize => "/csp/gateway/am/api/auth/api-tokens/authorize",
            Route::ProviderToken => "/oauth/provider/token",
            Route::TenantToken(_) => "/oauth/tenant/{org}/token",
            Route::ProviderRegister => "/oauth/provider/register",
            Route::TenantRegister(_) => "/oauth/tenant/{org}/register",
            Route::ProviderClient(_) => "/oauth/provider/register/{client_id}",
            Route::TenantClient(_) => "/oauth/tenant/{org}/register/{client_id}",
            Route::Revoke => "/oauth/revoke",
            Route::Introspect => "/oauth/introspect",
            Route::Authorization => "/oauth/authorize",
            Route::ProviderDeviceAuthorization => "/oauth/provider/device_authorization",
            Route::TenantDeviceAuthorization(_) => "/oauth/tenant/{org}/device_authorization",
            Route::DeviceLookup => "/cloudapi/1.0.0/deviceLookup",
            Route::DeviceDecision(true) => "/cloudapi/1.0.0/deviceLookup/grant",
            Route::DeviceDecision(false) => "/cloudapi/1.0.0/deviceLookup/deny",
            Route::ServiceAccounts => "/api/service-accounts",
            Route::ServiceAccount(_) => "/api/service-accounts/{id}",
            Route::ServiceAccountRole(_) => "/api/service-accounts/{id}/role",
            Route::ServiceAccountRevoke(_) => "/api/service-accounts/{id}/revoke",
        }
    }

    /// Whether the route answers in RFC 6749 §5.2's dialect, `no-store`.
    fn speaks_oauth(&self) -> bool {
        matches!(
            self,
            Route::Authorize
                | Route::ProviderToken
                | Route::TenantToken(_)
                | Route::Revoke
                | Route::Introspect
                | Route::ProviderDeviceAuthorization
                | Route::TenantDeviceAuthorization(_)
        )
    }

    /// Whether the route has a Cloud Director XML form besides JSON.
    fn has_vcloud_form(&self) -> bool {
        matches!(
            self,
            Route::SessionInfo | Route::Orgs | Route::Org(_) | Route::ApiVersions
        )
    }

    fn allowed_methods(&self) -> &'static str {
        match self {
            Route::Health
            | Route::Jwks
            | Route::OpenidConfiguration
            | Route::AuthorizationServerMetadata => "GET",
            Route::Audit | Route::ApiVersions | Route::Org(_) | Route::OrgTokensBeyondPolicy(_) => {
                "GET"
            }
            Route::OrgTokenPolicy(_) | Route::TokenPolicy => "GET, PUT",
            Route::SessionInfo => "GET, DELETE",
            Route::UserInfo => "GET, POST",
            Route::Tokens
            | Route::Users
            | Route::Roles
            | Route::Groups
            | Route::Services
            | Route::Bundles
            | Route::Orgs => "GET, POST",
            Route::User(_) | Route::Group(_) => "GET",
            Route::UserRoles(_)
            | Route::GroupMembers(_)
            | Route::GroupRoles(_)
            | Route::BundleOrgs(_)
            | Route::RoleOrgs(_)
            | Route::ServicePermissions(_) => "POST",
            Route::UserRole(..)
            | Route::GroupMember(..)
            | Route::GroupRole(..)
            | Route::BundleOrg(..)
            | Route::RoleOrg(..)
            | Route::Role(_) => "DELETE",
            Route::RolePermissions(_) | Route::BundlePermissions(_) => "PUT",
            Route::UserEnable(..) => "POST",
            Route::UserPassword(_) => "PUT",
            Route::Token(_) | Route::CurrentSession | Route::CloudToken(_) => "DELETE",
            Route::CloudTokens => "GET",
            Route::Login(_)
            | Route::Authorize
            | Route::ProviderToken
            | Route::TenantToken(_)
            | Route::Revoke
            | Route::Introspect => "POST",
            Route::ServiceClients(_) => "GET, POST",
            Route::Authorization => "GET, POST",
            Route::ProviderRegister | Route::TenantRegister(_) => "POST",
            Route::ProviderClient(_) | Route::TenantClient(_) => "DELETE",
            Route::ServiceClient(..) => "DELETE",
            Route::ProviderDeviceAuthorization
            | Route::TenantDeviceAuthorization(_)
            | Route::DeviceLookup
            | Route::DeviceDecision(_)
            | Route::ServiceAccountRevoke(_) => "POST",
            Route::ServiceAccounts => "GET",
            Route::ServiceAccount(_) => "GET, DELETE",
            Route::ServiceAccountRole(_) => "PUT",
        }
    }
}

/// The pattern of the route `path` reaches, for the request log; `-` for a
/// path no route knows.
pub fn pattern(path: &str) -> &'static str {
    Route::find(path).map_or("-", |route| route.pattern())
}

/// Whether `path` is a password login, which runs on its own pool.
pub fn is_login(path: &str) -> bool {
    matches!(Route::find(path), Some(Route::Login(_)))
}

pub fn dispatch(authority: &mut Authority, request: &Request) -> Response {
    let Some(route) = Route::find(&request.path) else {
        return ApiError::not_found().into_response();
    };
    let is_token_endpoint = route.speaks_oauth();
    let response = answer(authority, request, route);
    if is_token_endpoint {
        // Every answer of a token endpoint, 405 and 413 included (RFC 6749 §5.1).
        response.no_store()
    } else {
        response
    }
}

fn answer(authority: &mut Authority, request: &Request, route: Route) -> Response {
    // Refused before authentication, in the dialect of the endpoint.
    if request.body == Err(BodyError::TooLarge) {
        return if route.speaks_oauth() {
            OAuthError::from(BadRequest::TooLarge).into_response()
        } else {
            ApiError::from(BadRequest::TooLarge).into_response()
        };
    }
    if request.path.starts_with("/api/") && !route.has_vcloud_form() {
        match vcloud::negotiate(request) {
            Ok(Representation::Json) => {}
            Ok(Representation::Xml { version }) => {
                return ApiError::not_acceptable("this resource is served as application/json only")
                    .into_xml_response(version)
            }
            Err(e) => return e.into_xml_response(vcloud::latest_version()),
        }
    }
    match (request.method.as_str(), route) {
        ("GET", Route::Health) => discovery::health(authority),
        ("GET", Route::Jwks) => api(discovery::jwks(authority)),
        ("GET", Route::OpenidConfiguration | Route::AuthorizationServerMetadata) => {
            discovery::provider_metadata(authority)
        }
        ("POST", Route::Login(endpoint)) => api(session::login(authority, request, endpoint)),
        ("DELETE", Route::CurrentSession) => api(session::logout(authority, request)),
        ("GET", Route::SessionInfo) => {
            in_vcloud_form(request, |form| session::current(authority, request, form))
        }
        ("DELETE", Route::SessionInfo) => {
            in_vcloud_form(request, |_| session::logout(authority, request))
        }
        ("GET", Route::ApiVersions) => vcloud::versions(authority),
        ("GET" | "POST", Route::UserInfo) => api(session::userinfo(authority, request)),
        ("GET", Route::Orgs) => {
            in_vcloud_form(request, |form| session::orgs(authority, request, form))
        }
        ("GET", Route::Org(id)) => {
            in_vcloud_form(request, |form| session::org(authority, request, &id, form))
        }
        ("GET", Route::Tokens) => api(tokens::list(authority, request)),
        ("POST", Route::Tokens) => api(tokens::create(authority, request)),
        ("DELETE", Route::Token(id)) => api(tokens::revoke(authority, request, &id)),
        ("GET", Route::CloudTokens) => api(cloudapi::list(authority, request)),
        ("DELETE", Route::CloudToken(id)) => api(cloudapi::revoke(authority, request, &id)),
        ("GET", Route::Users) => api(users::list(authority, request)),
        ("POST", Route::Users) => api(users::create(authority, request)),
        ("GET", Route::User(id)) => api(users::get(authority, request, &id)),
        ("POST", Route::UserEnable(id, enabled)) => {
            api(users::set_enabled(authority, request, &id, enabled))
        }
        ("PUT", Route::UserPassword(id)) => api(users::set_password(authority, request, &id)),
        ("POST", Route::UserRoles(id)) => {
            api(directory::set_user_role(authority, request, &id, None))
        }
        ("DELETE", Route::UserRole(id, role)) => api(directory::set_user_role(
            authority,
            request,
            &id,
            Some(&role),
        )),
        ("POST", Route::Orgs) => api(directory::create_org(authority, request)),
        ("GET", Route::Audit) => api(audit::list(authority, request)),
        ("GET", Route::Services) => api(directory::services(authority, request)),
        ("POST", Route::Services) => api(directory::create_service(authority, request)),
        ("POST", Route::ServicePermissions(id)) => {
            api(directory::extend_service(authority, request, &id))
        }
        ("PUT", Route::BundlePermissions(id)) => {
            api(directory::set_bundle_permissions(authority, request, &id))
        }
        ("GET", Route::Bundles) => api(directory::bundles(authority, request)),
        ("POST", Route::Bundles) => api(directory::create_bundle(authority, request)),
        ("POST", Route::BundleOrgs(id)) => {
            api(directory::publish_bundle(authority, request, &id, None))
        }
        ("DELETE", Route::BundleOrg(id, org)) => api(directory::publish_bundle(
            authority,
            request,
            &id,
            Some(&org),
        )),
        ("GET", Route::Roles) => api(directory::roles(authority, request)),
        ("DELETE", Route::Role(id)) => api(directory::delete_role(authority, request, &id)),
        ("PUT", Route::RolePermissions(id)) => {
            api(directory::set_role_permissions(authority, request, &id))
        }
        ("POST", Route::RoleOrgs(id)) => {
            api(directory::publish_role(authority, request, &id, None))
        }
        ("DELETE", Route::RoleOrg(id, org)) => {
            api(directory::publish_role(authority, request, &id, Some(&org)))
        }
        ("POST", Route::Roles) => api(directory::create_role(authority, request)),
        ("GET", Route::Groups) => api(directory::groups(authority, request)),
        ("POST", Route::Groups) => api(directory::create_group(authority, request)),
        ("GET", Route::Group(id)) => api(directory::group(authority, request, &id)),
        ("POST", Route::GroupMembers(id)) => {
            api(directory::set_group_member(authority, request, &id, None))
        }
        ("DELETE", Route::GroupMember(id, user)) => api(directory::set_group_member(
            authority,
            request,
            &id,
            Some(&user),
        )),
        ("POST", Route::GroupRoles(id)) => {
            api(directory::set_group_role(authority, request, &id, None))
        }
        ("DELETE", Route::GroupRole(id, role)) => api(directory::set_group_role(
            authority,
            request,
            &id,
            Some(&role),
        )),
        ("POST", Route::Authorize) => oauth(oauth::authorize(authority, request)),
        ("POST", Route::ProviderToken) => oauth(oauth::provider_token(authority, request)),
        ("POST", Route::TenantToken(org)) => oauth(oauth::tenant_token(authority, request, &org)),
        ("POST", Route::Revoke) => oauth(oauth::revoke(authority, request)),
        ("POST", Route::ProviderRegister) => api(oauth::register(
            authority,
            request,
            ExchangeAudience::Provider,
        )),
        ("POST", Route::TenantRegister(org)) => api(oauth::register(
            authority,
            request,
            ExchangeAudience::Tenant(&org),
        )),
        ("DELETE", Route::ProviderClient(id) | Route::TenantClient(id)) => {
            api(oauth::delete_client(authority, request, &id))
        }
        ("POST", Route::Introspect) => oauth(oauth::introspect(authority, request)),
        ("POST", Route::ProviderDeviceAuthorization) => oauth(oauth::device_authorization(
            authority,
            request,
            ExchangeAudience::Provider,
        )),
        ("POST", Route::TenantDeviceAuthorization(org)) => oauth(oauth::device_authorization(
            authority,
            request,
            ExchangeAudience::Tenant(&org),
        )),
        ("GET", Route::TokenPolicy) => api(policy::get(authority, request, None)),
        ("PUT", Route::TokenPolicy) => api(policy::set(authority, request, None)),
        ("GET", Route::OrgTokenPolicy(id)) => api(policy::get(authority, request, Some(&id))),
        ("PUT", Route::OrgTokenPolicy(id)) => api(policy::set(authority, request, Some(&id))),
        ("GET", Route::OrgTokensBeyondPolicy(id)) => {
            api(policy::exceeding(authority, request, &id))
        }
        ("POST", Route::DeviceLookup) => api(service_accounts::look_up(authority, request)),
        ("POST", Route::DeviceDecision(grant)) => {
            api(service_accounts::decide(authority, request, grant))
        }
        ("GET", Route::ServiceAccounts) => api(service_accounts::list(authority, request)),
        ("GET", Route::ServiceAccount(id)) => api(service_accounts::get(authority, request, &id)),
        ("DELETE", Route::ServiceAccount(id)) => {
            api(service_accounts::delete(authority, request, &id))
        }
        ("PUT", Route::ServiceAccountRole(id)) => {
            api(service_accounts::set_role(authority, request, &id))
        }
        ("POST", Route::ServiceAccountRevoke(id)) => {
            api(service_accounts::revoke(authority, request, &id))
        }
        ("GET" | "POST", Route::Authorization) => oauth::authorization().into_response(),
        ("POST", Route::ServiceClients(id)) => {
            api(directory::create_service_client(authority, request, &id))
        }
        ("GET", Route::ServiceClients(id)) => {
            api(directory::service_clients(authority, request, &id))
        }
        ("DELETE", Route::ServiceClient(id, client)) => api(directory::revoke_service_client(
            authority, request, &id, &client,
        )),
        (_, route) => ApiError::method_not_allowed(route.allowed_methods()).into_response(),
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
