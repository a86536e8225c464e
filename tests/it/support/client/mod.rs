//! The typed client for tokend's HTTP API, over the raw client in `wire`.
//!
//! API calls come in two forms. `name(..)` asserts the documented success
//! status and returns a typed value (`Session`, `CreatedToken`, `User`,
//! `Page<Role>`, ...) or, where a struct would add nothing, the JSON
//! answer, so a test reads fields instead of indexing JSON. `try_name(..)`
//! sends the same request and returns the raw `Response` whatever its
//! status, for tests that assert on errors, headers or the exact body;
//! `Session` and `SessionInfo` can also be read from such a `Response`
//! with `from_response`. Requests the typed form cannot express (other
//! headers, invalid bodies, raw bytes) go through `request`, `get`, `post`,
//! `raw` and friends.
//!
//! When a typed call gets another answer than the one it expects, it
//! panics with the method and path, the request body (passwords and
//! secrets shown by their length only), the whole answer and, for the
//! client of a `TestServer`, the tail of that server's log.
//!
//! The typed forms only decode: a test that checks a response's shape (key
//! present but null, no extra fields) does so on the raw `Response`. The
//! calls are grouped by area: `tokens` (API tokens, their exchanges and the
//! OAuth endpoints around them), `users`, `directory` (roles, groups,
//! services, rights bundles, orgs), `policy` (token lifetimes),
//! `service_accounts` (and the device grant) and `audit`; `call` sends
//! them and reports their failures.

mod audit;
mod call;
mod directory;
mod policy;
mod service_accounts;
mod tokens;
mod users;

pub use audit::*;
pub use directory::*;
pub use policy::*;
pub use tokens::*;
pub use users::*;

use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use self::call::Call;
use super::formats::parse_rfc3339;
use super::process::ServerLog;
use super::wire::{bearer, build_request, send_raw, send_raw_tls, tls_client, Response};
use super::{
    ACCESS_TOKEN_HEADER, ADMIN, ADMIN_PASSWORD, CURRENT_SESSION, FORM, PROVIDER_SESSIONS, SESSIONS,
    USER_PASSWORD,
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

/// One page of a listing (`GET /api/users`, `/api/roles`, ...): its
/// entries and where the page stands.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub page_size: u64,
    /// Entries matching, over all pages.
    pub total: u64,
}

impl<T: Entry + std::fmt::Debug> Page<T> {
    /// The entries' names, sorted.
    pub fn sorted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.items.iter().map(|e| e.name().to_owned()).collect();
        names.sort();
        names
    }

    /// The id of the entry named `name` exactly; panics when there is none.
    pub fn id_of(&self, name: &str) -> String {
        self.items
            .iter()
            .find(|e| e.name() == name)
            .map(|e| e.id().to_owned())
            .unwrap_or_else(|| panic!("no {name:?} in {self:?}"))
    }
}

/// An entry of a listing: what names it, and its name.
pub trait Entry {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
}

fn lifetime(created_at: &str, expires_at: Option<&str>) -> Option<i64> {
    expires_at.map(|e| parse_rfc3339(e) - parse_rfc3339(created_at))
}

/// Panics unless a token made at `created_at` with the default lifetime
/// `ttl` (in seconds) expires on the first whole minute at least that late.
fn assert_default_lifetime(created_at: &str, expires_at: Option<&str>, ttl: i64, what: &str) {
    let expires =
        parse_rfc3339(expires_at.unwrap_or_else(|| panic!("{what}: no expiry, {ttl} s expected")));
    let lived = expires - parse_rfc3339(created_at);
    assert_eq!(
        expires % 60,
        0,
        "{what}: expires on a whole minute: {expires_at:?}"
    );
    assert!(
        (ttl..ttl + 60).contains(&lived),
        "{what}: {lived} s from {created_at} to {expires_at:?}, for {ttl} s"
    );
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

/// What goes into a path segment or a query value unencoded: RFC 3986's
/// unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` percent-encoded for a path segment or a query value.
fn encoded(s: &str) -> String {
    utf8_percent_encode(s, ENCODED).to_string()
}

/// `path`, with `?query` when there is one.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A client for one server address. Cheap to clone and `Send`, so a test
/// can hand copies to threads.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
    /// The server's log, quoted when a typed call fails.
    log: Option<ServerLog>,
    /// Speak TLS, trusting what this config trusts.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Client {
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_owned(),
            log: None,
            tls: None,
        }
    }

    /// The same client over TLS, trusting the certificate in `ca`.
    pub fn with_tls(mut self, ca: &std::path::Path) -> Client {
        self.tls = Some(tls_client(ca));
        self
    }

    /// Sends `bytes` on a new connection, over TLS if this client speaks it.
    fn send_bytes(&self, bytes: &[u8], timeout: Duration) -> std::io::Result<Response> {
        match &self.tls {
            Some(tls) => send_raw_tls(&self.addr, tls, bytes, timeout),
            None => send_raw(&self.addr, bytes, timeout),
        }
    }

    /// The same client, quoting `log` when a typed call fails.
    pub fn with_log(mut self, log: ServerLog) -> Client {
        self.log = Some(log);
        self
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
        self.send_bytes(bytes, timeout).unwrap_or_else(|e| {
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
        self.send_bytes(&req, Duration::from_secs(2))
            .is_ok_and(|r| r.status == 200)
    }

    // -- login sessions -----------------------------------------------------

    /// Log in at the tenant endpoint with HTTP Basic `user@org:password`.
    pub fn try_login(&self, user: &str, password: &str) -> Response {
        self.send(Call::post("login", SESSIONS).basic(user, password).empty())
    }

    /// Log in at the provider (System org) endpoint.
    pub fn try_provider_login(&self, user: &str, password: &str) -> Response {
        let call = Call::post("provider_login", PROVIDER_SESSIONS);
        self.send(call.basic(user, password).empty())
    }

    pub fn login(&self, user: &str, password: &str) -> Session {
        let r = retried_while_busy(|| self.try_login(user, password));
        let r = self.expect_status(r, 200);
        Session::from_response(&r, &format!("login {user}"))
    }

    pub fn provider_login(&self, user: &str, password: &str) -> Session {
        let r = retried_while_busy(|| self.try_provider_login(user, password));
        let r = self.expect_status(r, 200);
        Session::from_response(&r, &format!("provider login {user}"))
    }

    /// The System Administrator, with `ADMIN_PASSWORD`.
    pub fn admin_login(&self) -> Session {
        self.provider_login(ADMIN, ADMIN_PASSWORD)
    }

    /// A tenant user created with `USER_PASSWORD`.
    pub fn user_login(&self, user: &str) -> Session {
        self.login(user, USER_PASSWORD)
    }

    /// `DELETE /cloudapi/1.0.0/sessions/current` with Bearer.
    pub fn try_logout(&self, jwt: &str) -> Response {
        self.send(Call::delete("logout", CURRENT_SESSION).bearer(jwt))
    }

    pub fn logout(&self, jwt: &str) {
        self.expect_status(self.try_logout(jwt), 204);
    }

    /// `GET /api/session` with Bearer.
    pub fn try_session_info(&self, jwt: &str) -> Response {
        self.send(Call::get("session_info", "/api/session").bearer(jwt))
    }

    pub fn session_info(&self, jwt: &str) -> SessionInfo {
        self.expect(self.try_session_info(jwt), 200)
    }
}

/// `send`'s answer, sent again (for up to about ten seconds) while it is 503 with
/// `Retry-After`, as a client does: a test's setup login must not fail
/// because a loaded machine hashed its password past a short busy timeout
/// the test set for what it checks afterwards.
fn retried_while_busy(send: impl Fn() -> Response) -> Response {
    let mut r = send();
    for _ in 0..40 {
        if r.status != 503 || r.header("Retry-After").is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        r = send();
    }
    r
}
