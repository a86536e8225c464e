//! The typed client for tokend's HTTP API, over the raw client in `wire`.
//!
//! API calls come in two forms. `name(..)` asserts the documented success
//! status and returns a typed value (`Session`, `CreatedToken`,
//! `TokenListing`, `Exchanged`, ...), so a test reads fields instead of
//! indexing JSON. `try_name(..)` sends the same request and returns the raw
//! `Response` whatever its status, for tests that assert on errors, headers
//! or the exact body; `Session` and `SessionInfo` can also be read from such
//! a `Response` with `from_response`. Requests the typed form cannot express (other headers,
//! invalid bodies, raw bytes) go through `request`, `get`, `post`, `raw` and
//! friends.
//!
//! The typed forms only decode: a test that checks a response's shape (key
//! present but null, no extra fields) does so on the raw `Response`.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::formats::parse_rfc3339;
use super::wire::{basic, bearer, build_request, form_encode, send_raw, Response};
use super::{
    tenant_token_path, ACCESS_TOKEN_HEADER, ADMIN, ADMIN_PASSWORD, AUTHORIZE, FORM,
    PROVIDER_SESSIONS, PROVIDER_TOKEN, SESSIONS, USER_PASSWORD,
};

/// A user or an org as the API names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A login: the body of `POST /cloudapi/1.0.0/sessions[/provider]` and the
/// access token from its `X-VMWARE-VCLOUD-ACCESS-TOKEN` header.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub access_token: String,
    pub user: Named,
    pub org: Named,
    pub roles: Vec<String>,
    pub expires_at: String,
}

impl Session {
    /// A 200 login answer as a `Session`, for tests that also check the
    /// answer itself.
    pub fn from_response(r: &Response, what: &str) -> Session {
        r.assert_status(200, what);
        let access_token = r
            .header(ACCESS_TOKEN_HEADER)
            .unwrap_or_else(|| panic!("{what}: no {ACCESS_TOKEN_HEADER}: {}", r.describe()))
            .to_owned();
        assert_eq!(
            access_token.split('.').count(),
            3,
            "{what}: {ACCESS_TOKEN_HEADER} holds a compact JWT: {access_token}"
        );
        assert_eq!(
            r.header("X-VMWARE-VCLOUD-TOKEN-TYPE"),
            Some("Bearer"),
            "{what}: the token type, as Cloud Director's SDKs read it"
        );
        let body: SessionBody = expect(r, 200, what);
        Session {
            id: body.id,
            access_token,
            user: body.user,
            org: body.org,
            roles: body.roles,
            expires_at: body.expires_at,
        }
    }
}

#[derive(Deserialize)]
struct SessionBody {
    id: String,
    user: Named,
    org: Named,
    roles: Vec<String>,
    expires_at: String,
}

/// `GET /api/session`: who the access token speaks for, and what it may do.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionInfo {
    pub user: Named,
    pub org: Named,
    pub roles: Vec<String>,
    pub rights: Vec<String>,
    /// Every permission in force, `service:permission`.
    pub permissions: Vec<String>,
    /// Set for access derived from an API token.
    pub api_token_id: Option<String>,
    /// Set for access from a login.
    pub session_id: Option<String>,
    pub expires_at: String,
}

impl SessionInfo {
    /// A 200 answer of `GET /api/session`, whichever header carried the token.
    pub fn from_response(r: &Response, what: &str) -> SessionInfo {
        expect(r, 200, what)
    }
}

/// One entry of `GET /api/org`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub is_provider: bool,
}

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
}

impl CreatedToken {
    /// Seconds from creation to expiry; `None` for a token that never expires.
    pub fn lifetime(&self) -> Option<i64> {
        lifetime(&self.created_at, self.expires_at.as_deref())
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
}

impl TokenListing {
    /// Seconds from creation to expiry; `None` for a token that never expires.
    pub fn lifetime(&self) -> Option<i64> {
        lifetime(&self.created_at, self.expires_at.as_deref())
    }
}

#[derive(Deserialize)]
struct TokenList {
    tokens: Vec<ListedToken>,
}

#[derive(Deserialize)]
struct ListedToken {
    id: String,
    name: String,
    owner: Owner,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
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
}

#[derive(Deserialize)]
struct OrgList {
    orgs: Vec<Org>,
}

fn lifetime(created_at: &str, expires_at: Option<&str>) -> Option<i64> {
    expires_at.map(|e| parse_rfc3339(e) - parse_rfc3339(created_at))
}

/// Assert `status`, then decode the body as `T`.
fn expect<T: DeserializeOwned>(r: &Response, status: u16, what: &str) -> T {
    r.assert_status(status, what);
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "{what}: body is not a {}: {e}: {}",
            std::any::type_name::<T>(),
            r.describe()
        )
    })
}

/// A client for one server address. Cheap to clone and `Send`, so a test
/// can hand copies to threads.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
}

impl Client {
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_owned(),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    // -- raw requests -------------------------------------------------------

    /// Send raw bytes; panics on I/O errors.
    pub fn raw(&self, bytes: &[u8]) -> Response {
        self.raw_timeout(bytes, Duration::from_secs(15))
    }

    pub fn raw_timeout(&self, bytes: &[u8], timeout: Duration) -> Response {
        send_raw(&self.addr, bytes, timeout).unwrap_or_else(|e| {
            panic!(
                "request failed: {e}\nrequest: {:?}",
                String::from_utf8_lossy(bytes)
            )
        })
    }

    /// Build and send a request with `Host`, `Connection: close` and (when a
    /// body is given) `Content-Length`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        self.raw(&build_request(&self.addr, method, path, headers, body))
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, None)
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.request("POST", path, headers, Some(body))
    }

    pub fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("DELETE", path, headers, None)
    }

    pub fn post_form(&self, path: &str, body: &str) -> Response {
        self.post(path, &[("Content-Type", FORM)], body.as_bytes())
    }

    /// A request with `Authorization: Bearer` and, when given, a JSON body.
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        jwt: &str,
        body: Option<&serde_json::Value>,
    ) -> Response {
        let auth = bearer(jwt);
        let mut headers = vec![("Authorization", auth.as_str())];
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.request(method, path, &headers, body.as_deref().map(str::as_bytes))
    }

    /// GET with `Authorization: Bearer`.
    pub fn get_bearer(&self, path: &str, jwt: &str) -> Response {
        self.get(path, &[("Authorization", &bearer(jwt))])
    }

    /// GET with `csp-auth-token`.
    pub fn get_csp(&self, path: &str, jwt: &str) -> Response {
        self.get(path, &[("csp-auth-token", jwt)])
    }

    /// True once `/health` answers 200; false on any failure, for polling a
    /// server that is still starting.
    pub(super) fn probe_health(&self) -> bool {
        let req = build_request(&self.addr, "GET", "/health", &[], None);
        send_raw(&self.addr, &req, Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
    }

    // -- login sessions -----------------------------------------------------

    /// Log in at the tenant endpoint with HTTP Basic `user@org:password`.
    pub fn try_login(&self, user: &str, password: &str) -> Response {
        self.post(SESSIONS, &[("Authorization", &basic(user, password))], b"")
    }

    /// Log in at the provider (System org) endpoint.
    pub fn try_provider_login(&self, user: &str, password: &str) -> Response {
        self.post(
            PROVIDER_SESSIONS,
            &[("Authorization", &basic(user, password))],
            b"",
        )
    }

    pub fn login(&self, user: &str, password: &str) -> Session {
        Session::from_response(&self.try_login(user, password), &format!("login {user}"))
    }

    pub fn provider_login(&self, user: &str, password: &str) -> Session {
        Session::from_response(
            &self.try_provider_login(user, password),
            &format!("provider login {user}"),
        )
    }

    /// The System Administrator, with `ADMIN_PASSWORD`.
    pub fn admin_login(&self) -> Session {
        self.provider_login(ADMIN, ADMIN_PASSWORD)
    }

    /// A tenant user created with `USER_PASSWORD`.
    pub fn user_login(&self, user: &str) -> Session {
        self.login(user, USER_PASSWORD)
    }

    /// `GET /api/session` with Bearer.
    pub fn try_session_info(&self, jwt: &str) -> Response {
        self.get_bearer("/api/session", jwt)
    }

    pub fn session_info(&self, jwt: &str) -> SessionInfo {
        SessionInfo::from_response(&self.try_session_info(jwt), "session info")
    }

    /// `GET /api/org` with Bearer.
    pub fn orgs(&self, jwt: &str) -> Vec<Org> {
        expect::<OrgList>(&self.get_bearer("/api/org", jwt), 200, "list orgs").orgs
    }

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
        let body = match ttl {
            Some(t) => serde_json::json!({ "name": name, "ttl": t }),
            None => serde_json::json!({ "name": name }),
        };
        expect(
            &self.try_create_token(jwt, &body.to_string()),
            201,
            &format!("create token {name:?}"),
        )
    }

    /// The caller's own tokens.
    pub fn list_tokens(&self, jwt: &str) -> Vec<TokenListing> {
        self.listing("/api/tokens", jwt)
    }

    /// `?all=true`: every token within the caller's reach.
    pub fn list_all_tokens(&self, jwt: &str) -> Vec<TokenListing> {
        self.listing("/api/tokens?all=true", jwt)
    }

    fn listing(&self, path: &str, jwt: &str) -> Vec<TokenListing> {
        let list: TokenList = expect(&self.get_bearer(path, jwt), 200, path);
        list.tokens.into_iter().map(TokenListing::from).collect()
    }

    pub fn try_revoke_token(&self, jwt: &str, id: &str) -> Response {
        self.delete(
            &format!("/api/tokens/{id}"),
            &[("Authorization", &bearer(jwt))],
        )
    }

    pub fn revoke_token(&self, jwt: &str, id: &str) {
        self.try_revoke_token(jwt, id)
            .assert_status(204, &format!("revoke token {id}"));
    }

    // -- exchanging API tokens ---------------------------------------------

    /// The console's authorize endpoint, the token in a form body.
    pub fn try_exchange_authorize(&self, secret: &str) -> Response {
        self.post_form(AUTHORIZE, &format!("refresh_token={}", form_encode(secret)))
    }

    /// RFC 6749 §6 refresh-token grant at `/oauth/provider/token`.
    pub fn try_exchange_provider(&self, secret: &str) -> Response {
        self.post_form(PROVIDER_TOKEN, &refresh_grant(secret))
    }

    /// RFC 6749 §6 refresh-token grant at `/oauth/tenant/{org}/token`.
    pub fn try_exchange_tenant(&self, org: &str, secret: &str) -> Response {
        self.post_form(&tenant_token_path(org), &refresh_grant(secret))
    }

    pub fn exchange_authorize(&self, secret: &str) -> Exchanged {
        expect(
            &self.try_exchange_authorize(secret),
            200,
            "exchange at authorize",
        )
    }

    pub fn exchange_provider(&self, secret: &str) -> Exchanged {
        expect(
            &self.try_exchange_provider(secret),
            200,
            "exchange at the provider endpoint",
        )
    }

    pub fn exchange_tenant(&self, org: &str, secret: &str) -> Exchanged {
        expect(
            &self.try_exchange_tenant(org, secret),
            200,
            &format!("exchange at the tenant endpoint of {org}"),
        )
    }
}

fn refresh_grant(secret: &str) -> String {
    format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    )
}

/// The `count` events of type `kind` in the audit trail as `jwt` reads it,
/// waiting up to 5 s for them (refusals are written a moment after their
/// answer); panics when they do not all arrive.
pub fn recorded_events(
    api: &Client,
    jwt: &str,
    kind: &str,
    count: usize,
) -> Vec<serde_json::Value> {
    super::eventually(std::time::Duration::from_secs(5), || {
        let trail = api
            .get_bearer(&format!("/api/audit?type={kind}&limit=500"), jwt)
            .assert_json("audit");
        let events = trail["events"].as_array().cloned().unwrap_or_default();
        (events.len() == count).then_some(events)
    })
    .unwrap_or_else(|| panic!("{count} {kind} events in the trail"))
}
