//! The typed client's calls about tokens: API tokens (`/api/tokens`, and
//! Cloud Director's listing at `/cloudapi/1.0.0/tokens`), exchanging them
//! at the console's and the RFC 6749 endpoints, RFC 7009 revocation,
//! RFC 7662 introspection, OAuth client registration with the JWT-bearer
//! grant, `/userinfo`, and the discovery documents.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::wire::{bearer, form_encode, Response};
use super::super::{tenant_token_path, AUTHORIZE, PROVIDER_TOKEN};
use super::{assert_default_lifetime, lifetime, with_query, Call, Client, Page};

/// The answer to `POST /api/tokens`: the only time the secret is shown.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedToken {
    pub id: String,
    // No test reads it yet; it shows in failure messages through Debug.
    #[allow(dead_code)]
    pub name: String,
    #[serde(rename = "token")]
    pub secret: String,
    pub created_at: String,
    /// `None` for a token that never expires.
    pub expires_at: Option<String>,
    /// What the token may grant (`TokenScope`).
    pub scope: Value,
    #[serde(default)]
    pub openid: Option<bool>,
}

impl CreatedToken {
    /// Seconds from creation to expiry; `None` for a token that never expires.
    pub fn lifetime(&self) -> Option<i64> {
        lifetime(&self.created_at, self.expires_at.as_deref())
    }

    /// Panics unless it has the default lifetime `ttl` (seconds): it
    /// expires on the first whole minute at least that long after its
    /// creation.
    pub fn assert_default_lifetime(&self, ttl: i64, what: &str) {
        assert_default_lifetime(&self.created_at, self.expires_at.as_deref(), ttl, what);
    }
}

/// The body of `POST /api/tokens`, for the fields beyond a name and a
/// lifetime (`Client::create_token` covers those): a reminder, a scope,
/// `openid`. A field left `None` is left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewToken {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder: Option<Reminder>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_roles: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_roles: Option<Vec<ServiceRoleScope>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_cidrs: Option<Vec<String>>,
}

impl NewToken {
    pub fn named(name: &str) -> NewToken {
        NewToken {
            name: name.to_owned(),
            ..NewToken::default()
        }
    }

    pub fn ttl(mut self, ttl: &str) -> NewToken {
        self.ttl = Some(ttl.to_owned());
        self
    }

    pub fn reminder(mut self, reminder: Reminder) -> NewToken {
        self.reminder = Some(reminder);
        self
    }

    pub fn all_roles(mut self, all: bool) -> NewToken {
        self.all_roles = Some(all);
        self
    }

    pub fn org_roles(mut self, roles: &[&str]) -> NewToken {
        self.org_roles = Some(roles.iter().map(|r| r.to_string()).collect());
        self
    }

    /// A service role, whole.
    pub fn service_role(self, service: &str, role: &str) -> NewToken {
        self.scoped(service, role, None)
    }

    /// A service role narrowed to some of its permissions.
    pub fn service_role_narrowed(
        self,
        service: &str,
        role: &str,
        permissions: &[&str],
    ) -> NewToken {
        let permissions = permissions.iter().map(|p| p.to_string()).collect();
        self.scoped(service, role, Some(permissions))
    }

    fn scoped(mut self, service: &str, role: &str, permissions: Option<Vec<String>>) -> NewToken {
        self.service_roles
            .get_or_insert_with(Vec::new)
            .push(ServiceRoleScope {
                service: service.to_owned(),
                role: role.to_owned(),
                permissions,
            });
        self
    }

    pub fn openid(mut self) -> NewToken {
        self.openid = Some(true);
        self
    }

    /// Bound to these networks (CIDRs or addresses).
    pub fn bound_to(mut self, cidrs: &[&str]) -> NewToken {
        self.bound_cidrs = Some(cidrs.iter().map(|c| c.to_string()).collect());
        self
    }
}

/// One service role of a token's scope.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRoleScope {
    pub service: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

/// A token's reminder: `before` its expiry, to `email` or the owner's
/// address on record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reminder {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Reminder {
    pub fn before(before: &str) -> Reminder {
        Reminder {
            before: Some(before.to_owned()),
            email: None,
        }
    }

    pub fn to(mut self, email: &str) -> Reminder {
        self.email = Some(email.to_owned());
        self
    }
}

/// One entry of `GET /api/tokens`.
#[derive(Debug, Clone)]
pub struct TokenListing {
    pub id: String,
    pub name: String,
    pub owner_name: String,
    pub owner_org: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub scope: Value,
}

impl TokenListing {
    /// Seconds from creation to expiry; `None` for a token that never expires.
    pub fn lifetime(&self) -> Option<i64> {
        lifetime(&self.created_at, self.expires_at.as_deref())
    }

    /// Panics unless it has the default lifetime `ttl` (seconds): it
    /// expires on the first whole minute at least that long after its
    /// creation.
    pub fn assert_default_lifetime(&self, ttl: i64, what: &str) {
        assert_default_lifetime(&self.created_at, self.expires_at.as_deref(), ttl, what);
    }
}

#[derive(Deserialize)]
struct ListedToken {
    id: String,
    name: String,
    owner: Owner,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    scope: Value,
}

#[derive(Deserialize)]
struct Owner {
    name: String,
    org: String,
}

impl From<ListedToken> for TokenListing {
    fn from(t: ListedToken) -> Self {
        TokenListing {
            id: t.id,
            name: t.name,
            owner_name: t.owner.name,
            owner_org: t.owner.org,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            scope: t.scope,
        }
    }
}

/// A successful exchange of an API token for an access token, at any of
/// the exchange endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct Exchanged {
    pub access_token: String,
    // Tests check it on the raw answer, where the dialects differ in case;
    // it shows in failure messages through Debug.
    #[allow(dead_code)]
    pub token_type: String,
    pub expires_in: i64,
    /// The permissions granted, space-separated (`ALL_PERMISSIONS` at the
    /// console's endpoint for a token of all roles).
    #[serde(default)]
    pub scope: Option<String>,
    /// An OpenID Connect ID token, for a token made with `openid`.
    #[serde(default)]
    pub id_token: Option<String>,
}

/// Where an org's OAuth endpoints are: the provider's, or a tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    Provider,
    Tenant(&'a str),
}

impl Endpoint<'_> {
    /// `/oauth/provider` or `/oauth/tenant/{org}`.
    pub fn prefix(&self) -> String {
        match self {
            Endpoint::Provider => "/oauth/provider".to_owned(),
            Endpoint::Tenant(org) => format!("/oauth/tenant/{org}"),
        }
    }
}

/// The body of `POST /oauth/{provider|tenant/{org}}/register`: an OAuth
/// client for the JWT-bearer grant, or (with `software_id`) a service
/// account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Registration {
    pub client_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl Registration {
    /// An OAuth client of the caller's, for the JWT-bearer grant.
    pub fn oauth_client(name: &str) -> Registration {
        Registration {
            client_name: name.to_owned(),
            ..Registration::default()
        }
    }

    /// A service account of the endpoint's org, with no role.
    pub fn service_account(name: &str, software_id: &str) -> Registration {
        Registration {
            client_name: name.to_owned(),
            software_id: Some(software_id.to_owned()),
            ..Registration::default()
        }
    }

    pub fn version(mut self, version: &str) -> Registration {
        self.software_version = Some(version.to_owned());
        self
    }

    pub fn role(mut self, role: &str) -> Registration {
        self.role = Some(role.to_owned());
        self
    }
}

/// A registered client: an OAuth client, or a service account.
#[derive(Debug, Clone, Deserialize)]
pub struct Registered {
    pub client_id: String,
    pub client_name: String,
    pub grant_types: Vec<String>,
}

/// Introspection credentials of a service's resource server, as made.
#[derive(Debug, Clone, Deserialize)]
pub struct IntrospectionClient {
    pub client_id: String,
    pub client_secret: String,
}

fn refresh_grant(secret: &str) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    )
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl Client {
    // -- API tokens ---------------------------------------------------------

    /// `POST /api/tokens` with `body` sent verbatim, so that tests can send
    /// what the typed form would never produce.
    pub fn try_create_token(&self, jwt: &str, body: &str) -> Response {
        self.post(
            "/api/tokens",
            &[
                ("Authorization", &bearer(jwt)),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// Create a token named `name`; `ttl` `None` leaves the field out.
    pub fn create_token(&self, jwt: &str, name: &str, ttl: Option<&str>) -> CreatedToken {
        let mut token = NewToken::named(name);
        token.ttl = ttl.map(str::to_owned);
        self.create_token_with(jwt, &token)
    }

    /// `POST /api/tokens` with a reminder, a scope or `openid`.
    pub fn try_create_token_with(&self, jwt: &str, token: &NewToken) -> Response {
        let call = Call::post("create_token", "/api/tokens").bearer(jwt);
        self.send(call.json(token))
    }

    pub fn create_token_with(&self, jwt: &str, token: &NewToken) -> CreatedToken {
        self.expect(self.try_create_token_with(jwt, token), 201)
    }

    /// The caller's own tokens.
    pub fn list_tokens(&self, jwt: &str) -> Vec<TokenListing> {
        self.token_page(jwt, "").items
    }

    /// `?all=true`: every token within the caller's reach.
    pub fn list_all_tokens(&self, jwt: &str) -> Vec<TokenListing> {
        self.token_page(jwt, "all=true").items
    }

    /// `GET /api/tokens?{query}`.
    pub fn try_token_page(&self, jwt: &str, query: &str) -> Response {
        let path = with_query("/api/tokens", query);
        self.send(Call::get("token_page", path).bearer(jwt))
    }

    /// One page of tokens, filtered.
    pub fn token_page(&self, jwt: &str, query: &str) -> Page<TokenListing> {
        let page: Page<ListedToken> = self.page(self.try_token_page(jwt, query), "tokens");
        Page {
            items: page.items.into_iter().map(TokenListing::from).collect(),
            page: page.page,
            page_size: page.page_size,
            total: page.total,
        }
    }

    pub fn try_revoke_token(&self, jwt: &str, id: &str) -> Response {
        let path = format!("/api/tokens/{id}");
        self.send(Call::delete("revoke_token", path).bearer(jwt))
    }

    pub fn revoke_token(&self, jwt: &str, id: &str) {
        self.expect_status(self.try_revoke_token(jwt, id), 204);
    }

    // -- Cloud Director's token listing --------------------------------------

    /// `GET /cloudapi/1.0.0/tokens?{query}`.
    pub fn try_cloudapi_tokens(&self, jwt: &str, query: &str) -> Response {
        let path = with_query("/cloudapi/1.0.0/tokens", query);
        self.send(Call::get("cloudapi_tokens", path).bearer(jwt))
    }

    /// A page of Cloud Director's listing: `values`, `resultTotal`,
    /// `pageCount`, `page`.
    pub fn cloudapi_tokens(&self, jwt: &str, query: &str) -> Value {
        self.expect(self.try_cloudapi_tokens(jwt, query), 200)
    }

    /// `DELETE /cloudapi/1.0.0/tokens/{urn}`.
    pub fn try_revoke_cloudapi_token(&self, jwt: &str, urn: &str) -> Response {
        let path = format!("/cloudapi/1.0.0/tokens/{urn}");
        self.send(Call::delete("revoke_cloudapi_token", path).bearer(jwt))
    }

    pub fn revoke_cloudapi_token(&self, jwt: &str, urn: &str) {
        self.expect_status(self.try_revoke_cloudapi_token(jwt, urn), 204);
    }

    // -- exchanging API tokens ---------------------------------------------

    /// The console's authorize endpoint, the token in a form body.
    pub fn try_exchange_authorize(&self, secret: &str) -> Response {
        let body = format!("refresh_token={}", form_encode(secret));
        self.send(Call::post("exchange_authorize", AUTHORIZE).form(body))
    }

    /// RFC 6749 §6 refresh-token grant at `/oauth/provider/token`.
    pub fn try_exchange_provider(&self, secret: &str) -> Response {
        self.try_refresh(Endpoint::Provider, secret)
    }

    /// RFC 6749 §6 refresh-token grant at `/oauth/tenant/{org}/token`.
    pub fn try_exchange_tenant(&self, org: &str, secret: &str) -> Response {
        self.try_refresh(Endpoint::Tenant(org), secret)
    }

    /// RFC 6749 §6 refresh-token grant at `at`'s token endpoint.
    pub fn try_refresh(&self, at: Endpoint<'_>, secret: &str) -> Response {
        let path = match at {
            Endpoint::Provider => PROVIDER_TOKEN.to_owned(),
            Endpoint::Tenant(org) => tenant_token_path(org),
        };
        self.send(Call::post("refresh", path).form(refresh_grant(secret)))
    }

    pub fn exchange_authorize(&self, secret: &str) -> Exchanged {
        self.expect(self.try_exchange_authorize(secret), 200)
    }

    pub fn exchange_provider(&self, secret: &str) -> Exchanged {
        self.expect(self.try_exchange_provider(secret), 200)
    }

    pub fn exchange_tenant(&self, org: &str, secret: &str) -> Exchanged {
        self.expect(self.try_exchange_tenant(org, secret), 200)
    }

    // -- RFC 7009 revocation and RFC 7662 introspection ---------------------

    /// `POST /oauth/revoke` with `token` (an API token or an access token);
    /// tests check the answer's exact shape themselves.
    pub fn try_revoke_presented(&self, token: &str) -> Response {
        let body = format!("token={}", form_encode(token));
        self.send(Call::post("revoke_presented", "/oauth/revoke").form(body))
    }

    /// `POST /oauth/introspect` with HTTP Basic client credentials.
    pub fn try_introspect(&self, client_id: &str, secret: &str, token: &str) -> Response {
        let call = Call::post("introspect", "/oauth/introspect").basic(client_id, secret);
        self.send(call.form(format!("token={}", form_encode(token))))
    }

    /// `POST /api/services/{id}/clients`.
    pub fn try_create_introspection_client(&self, jwt: &str, service: &str) -> Response {
        let path = introspection_clients_path(service);
        self.send(Call::post("create_introspection_client", path).bearer(jwt))
    }

    pub fn create_introspection_client(&self, jwt: &str, service: &str) -> IntrospectionClient {
        self.expect(self.try_create_introspection_client(jwt, service), 201)
    }

    /// `GET /api/services/{id}/clients`: `{"clients": [...]}`.
    pub fn introspection_clients(&self, jwt: &str, service: &str) -> Value {
        let path = introspection_clients_path(service);
        let call = Call::get("introspection_clients", path).bearer(jwt);
        self.expect(self.send(call), 200)
    }

    /// `DELETE /api/services/{id}/clients/{client_id}`.
    pub fn delete_introspection_client(&self, jwt: &str, service: &str, client_id: &str) {
        let path = format!("{}/{client_id}", introspection_clients_path(service));
        let call = Call::delete("delete_introspection_client", path).bearer(jwt);
        self.expect_status(self.send(call), 204);
    }

    // -- OAuth clients and the JWT-bearer grant ------------------------------

    /// `POST /oauth/{provider|tenant/{org}}/register`.
    pub fn try_register(&self, at: Endpoint<'_>, jwt: &str, client: &Registration) -> Response {
        let path = format!("{}/register", at.prefix());
        self.send(Call::post("register", path).bearer(jwt).json(client))
    }

    pub fn register(&self, at: Endpoint<'_>, jwt: &str, client: &Registration) -> Registered {
        self.expect(self.try_register(at, jwt, client), 200)
    }

    /// `DELETE /oauth/{provider|tenant/{org}}/register/{client_id}`.
    pub fn delete_registered(&self, at: Endpoint<'_>, jwt: &str, client_id: &str) {
        let path = format!("{}/register/{client_id}", at.prefix());
        let call = Call::delete("delete_registered", path).bearer(jwt);
        self.expect_status(self.send(call), 204);
    }

    /// RFC 7523's JWT-bearer grant at `org`'s token endpoint, a session's
    /// access token as the assertion.
    pub fn try_jwt_bearer(&self, org: &str, client_id: &str, assertion: &str) -> Response {
        let body = format!(
            "grant_type={}&client_id={client_id}&assertion={assertion}",
            form_encode(JWT_BEARER)
        );
        self.send(Call::post("jwt_bearer", tenant_token_path(org)).form(body))
    }

    // -- OpenID Connect and discovery --------------------------------------

    /// `GET /userinfo` with Bearer.
    pub fn try_userinfo(&self, jwt: &str) -> Response {
        self.send(Call::get("userinfo", "/userinfo").bearer(jwt))
    }

    /// The claims `/userinfo` answers.
    pub fn userinfo(&self, jwt: &str) -> Value {
        self.expect(self.try_userinfo(jwt), 200)
    }

    /// `GET /.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let call = Call::get("jwks", "/.well-known/jwks.json");
        self.expect(self.send(call), 200)
    }

    /// `GET /.well-known/openid-configuration`.
    pub fn openid_configuration(&self) -> Value {
        let call = Call::get("openid_configuration", "/.well-known/openid-configuration");
        self.expect(self.send(call), 200)
    }
}

fn introspection_clients_path(service: &str) -> String {
    format!("/api/services/{service}/clients")
}
