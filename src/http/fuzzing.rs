//! The parsers of the HTTP layer, reachable from outside the crate for the
//! property tests (`tests/properties.rs`) and the cargo-fuzz targets
//! (`fuzz/`): each takes the bytes or text a client sends and returns plain
//! values, so the harnesses need none of the layer's private types. Not an
//! API: nothing but those harnesses calls it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use serde::de::DeserializeOwned;

use super::error::BadRequest;
use super::request::{parse_form, BodyError, Request};
use crate::domain::{Org, TokenScope};

fn request(headers: &[(&str, &str)], body: &[u8]) -> Request {
    Request {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_string()))
            .collect(),
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        body: Ok::<_, BodyError>(body.to_vec()),
        received: Instant::now(),
    }
}

fn why(e: BadRequest) -> String {
    match e {
        BadRequest::TooLarge(_) => "too large".into(),
        BadRequest::Malformed(message) => message,
    }
}

/// An `application/x-www-form-urlencoded` body (or a query string) as the
/// handlers read it: its pairs in order, or why it was refused.
pub fn form(input: &[u8]) -> Result<Vec<(String, String)>, String> {
    parse_form(input).map_err(why)
}

/// The `Authorization` header read as a login's `Basic
/// base64(user@org:password)`: `(user, org, password)`.
pub fn basic_login(authorization: &str) -> Result<Option<(String, String, String)>, String> {
    request(&[("authorization", authorization)], b"")
        .basic_credentials()
        .map(|c| c.map(|c| (c.user, c.org, c.password)))
        .map_err(why)
}

/// The `Authorization` header read as an OAuth client's Basic credentials
/// (RFC 6749 §2.3.1, each half form-urlencoded): `(client id, secret)`.
pub fn basic_client(authorization: &str) -> Result<Option<(String, String)>, String> {
    request(&[("authorization", authorization)], b"")
        .oauth_client_credentials()
        .map_err(why)
}

/// The access token a request carries in `Authorization: Bearer` and
/// `csp-auth-token` (each header as many times as given).
pub fn access_token(headers: &[(&str, &str)]) -> Result<Option<String>, String> {
    request(headers, b"")
        .access_token()
        .map(|t| t.map(str::to_string))
        .map_err(why)
}

/// What a Cloud Director token listing's FIQL `filter` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub name: Option<String>,
    pub owner: Option<String>,
    /// A `type` other than Cloud Director's `REFRESH` was asked for.
    pub other_type: bool,
}

pub fn cloudapi_filter(filter: &str) -> Result<TokenFilter, String> {
    super::cloudapi::parse_filter(filter)
        .map(|f| TokenFilter {
            name: f.name,
            owner: f.owner,
            other_type: f.other_type,
        })
        .map_err(why)
}

/// The representation an `Accept` header asks of a Cloud Director
/// resource: `Ok(None)` for JSON, `Ok(Some(version))` for XML, `Err` 406.
pub fn vcloud_accept(accept: &str) -> Result<Option<&'static str>, u16> {
    match super::vcloud::negotiate(&request(&[("accept", accept)], b"")) {
        Ok(super::vcloud::Representation::Json) => Ok(None),
        Ok(super::vcloud::Representation::Xml { version }) => Ok(Some(version)),
        Err(e) => Err(e.status),
    }
}

/// Cloud Director's `Error` document for an error answer: `(status,
/// content type, body)`.
pub fn vcloud_error(status: u16, code: &str, message: &str) -> (u16, String, Vec<u8>) {
    let response = super::vcloud::error(status, code, message, super::vcloud::latest_version());
    let content_type = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (response.status, content_type, response.body)
}

/// Cloud Director's `Org` document for an org named `name`.
pub fn vcloud_org(issuer: &str, id: &str, name: &str) -> Result<Vec<u8>, String> {
    let org = Org {
        id: id.into(),
        name: name.into(),
        is_provider: false,
        created_at: 0,
    };
    super::vcloud::org(issuer, &org, super::vcloud::latest_version())
        .map(|r| r.body)
        .map_err(|e| e.to_string())
}

/// The JSON request bodies, by the name of the operation that reads each.
pub const JSON_BODIES: &[&str] = &[
    "createRole",
    "roleRef",
    "createGroup",
    "memberRef",
    "namedPermissions",
    "orgRef",
    "createOrg",
    "permissions",
    "changeService",
    "register",
    "tokenPolicy",
    "userCode",
    "serviceAccountRole",
    "createApiToken",
    "createUser",
    "setPassword",
    "rotateToken",
    "reportLeakedTokens",
    "createWebhook",
];

fn parses<T: DeserializeOwned>(body: &[u8]) -> Result<(), String> {
    request(&[("content-type", "application/json")], body)
        .json_body::<T>()
        .map(drop)
        .map_err(why)
}

/// Reads `body` as the handler of `operation` (one of `JSON_BODIES`) would.
pub fn json_body(operation: &str, body: &[u8]) -> Result<(), String> {
    use super::{directory, oauth, policy, service_accounts, tokens, users, webhooks};
    match operation {
        "createRole" => parses::<directory::NewRoleBody>(body),
        "roleRef" => parses::<directory::RoleRef>(body),
        "createGroup" => parses::<directory::NewGroupBody>(body),
        "memberRef" => parses::<directory::MemberRef>(body),
        "namedPermissions" => parses::<directory::NamedPermissions>(body),
        "orgRef" => parses::<directory::OrgRef>(body),
        "createOrg" => parses::<directory::NewOrgBody>(body),
        "permissions" => parses::<directory::PermissionsBody>(body),
        "changeService" => parses::<directory::ServiceChange>(body),
        "register" => parses::<oauth::ClientRegistration>(body),
        "tokenPolicy" => parses::<policy::PolicyBody>(body),
        "userCode" => parses::<service_accounts::UserCodeBody>(body),
        "serviceAccountRole" => parses::<service_accounts::RoleBody>(body),
        "createApiToken" => parses::<tokens::NewApiTokenBody>(body),
        "createUser" => parses::<users::NewUserBody>(body),
        "setPassword" => parses::<users::PasswordBody>(body),
        "rotateToken" => parses::<tokens::RotationBody>(body),
        "reportLeakedTokens" => parses::<tokens::LeakReportBody>(body),
        "createWebhook" => parses::<webhooks::NewWebhookBody>(body),
        other => Err(format!("no operation {other:?} reads a JSON body")),
    }
}

/// The scope a `POST /api/tokens` body asks for.
pub fn api_token_scope(body: &[u8]) -> Result<TokenScope, String> {
    let mut parsed: super::tokens::NewApiTokenBody = request(&[], body).json_body().map_err(why)?;
    parsed.scope().map_err(why)
}
pub use super::vcloud::API_VERSIONS as VCLOUD_VERSIONS;
