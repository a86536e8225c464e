//! Support for the integration tests, and the contract's fixed values.
//!
//! A test starts a real `tokend serve` (`process`) or, where it must set
//! the clock or the serving options, the same server in its own process
//! (`in_process`), prepares data through
//! the admin CLI (`cli`), and talks to the server through the typed API
//! client (`client`) or, for bad input, byte by byte (`wire`); `formats`
//! reads JWTs, timestamps and secrets independently of tokend's code. Tests
//! import everything with `use crate::support::*`; the CLI's types are
//! reached through `TestServer::cli` and need no import.

mod cli;
mod client;
mod formats;
mod in_process;
mod process;
mod wire;

pub use client::*;
pub use formats::*;
pub use in_process::*;
pub use process::*;
pub use wire::*;

pub const ADMIN: &str = "administrator@System";
pub const ADMIN_PASSWORD: &str = "Adm1n-Test-Passw0rd-7f3c";
/// The password of every tenant user a test creates without naming one.
pub const USER_PASSWORD: &str = "us3r-Test-Passw0rd-91ab";

pub const AUTHORIZE: &str = "/csp/gateway/am/api/auth/api-tokens/authorize";
pub const PROVIDER_TOKEN: &str = "/oauth/provider/token";
pub const SESSIONS: &str = "/cloudapi/1.0.0/sessions";
pub const PROVIDER_SESSIONS: &str = "/cloudapi/1.0.0/sessions/provider";
pub const CURRENT_SESSION: &str = "/cloudapi/1.0.0/sessions/current";
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The login answer's header holding the session's access token.
pub const ACCESS_TOKEN_HEADER: &str = "X-VMWARE-VCLOUD-ACCESS-TOKEN";

pub fn tenant_token_path(org: &str) -> String {
    format!("/oauth/tenant/{org}/token")
}

pub const INVALID_OR_REVOKED: &str = "the API token is invalid or has been revoked";
pub const EXPIRED: &str = "the API token has expired";
/// Largest accepted request body, in bytes.
pub const BODY_LIMIT: usize = 65536;
/// Default access-token lifetime in seconds.
pub const DEFAULT_ACCESS_TTL: i64 = 1800;
/// `6months`, the default API token lifetime: humantime counts a month as
/// 30.44 days.
pub const SIX_MONTHS: i64 = 6 * 2_630_016;

pub const ROLE_SYSADMIN: &str = "System Administrator";
pub const ROLE_ORG_ADMIN: &str = "Organization Administrator";
pub const ROLE_TOKEN_USER: &str = "Token User";
pub const ROLE_MEMBER: &str = "Organization Member";
