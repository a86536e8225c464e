//! The domain: every decision tokend makes.
//!
//! `Authority` is the one entry point for the HTTP handlers and the admin CLI.
//! It decides who may do what (rights, token-derived limits), issues and checks
//! API tokens and access tokens, and asks the store to remember the results.
//! It knows neither HTTP nor SQL.

mod access_token;
mod admin;
mod api_token;
mod auth;
mod error;
mod password;
mod rights;
mod throttle;
mod tokens;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use access_token::KeyRing;
pub use auth::LoginEndpoint;
pub use error::DomainError;
pub use rights::{Right, RightSet};
use store::{InitialState, NewUser, Org, RoleDefinition, Store};
use throttle::LoginThrottle;
pub use tokens::ExchangeAudience;

use crate::store;
pub use crate::store::{Account, ApiTokenFilter};

pub const PROVIDER_ORG: &str = "System";
pub const ADMINISTRATOR: &str = "administrator";

/// How this instance issues access tokens.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `iss` of every access token, and the base of the published URLs.
    pub issuer: String,
    pub access_token_lifetime: Duration,
}

/// The one thing the first start has to tell the admin.
pub struct FirstStart {
    /// Set when no password was given: shown once, never stored in clear.
    pub generated_password: Option<String>,
}

/// How the caller's access token was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessOrigin {
    Session(String),
    /// Derived from the API token with this id: limited to view rights.
    ApiToken(String),
}

/// An authenticated caller and the rights in force for this request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: Account,
    /// Effective rights: already limited when the access is token-derived.
    pub rights: RightSet,
    pub origin: AccessOrigin,
    pub expires_at: i64,
}

impl Caller {
    pub fn api_token_id(&self) -> Option<&str> {
        match &self.origin {
            AccessOrigin::ApiToken(id) => Some(id),
            AccessOrigin::Session(_) => None,
        }
    }

    pub fn session_id(&self) -> Option<&str> {
        match &self.origin {
            AccessOrigin::Session(id) => Some(id),
            AccessOrigin::ApiToken(_) => None,
        }
    }
}

pub struct Authority {
    store: Store,
    keys: Arc<KeyRing>,
    settings: Arc<Settings>,
    /// Shared by all workers of the process.
    throttle: Arc<LoginThrottle>,
}

impl Authority {
    /// Opens the database, creating and initialising it on first start: the
    /// provider org, its administrator, the built-in roles and a signing key.
    pub fn open(
        path: &Path,
        settings: Settings,
        admin_password: Option<&str>,
    ) -> Result<(Authority, Option<FirstStart>), DomainError> {
        let mut store = Store::open(path)?;
        let first_start = match store.provider_org()? {
            Some(_) => None,
            None => initialize(&mut store, admin_password)?,
        };
        let keys = KeyRing::from_records(&store.signing_keys()?)?;
        let authority = Authority {
            store,
            keys: Arc::new(keys),
            settings: Arc::new(settings),
            throttle: Arc::default(),
        };
        Ok((authority, first_start))
    }

    /// Another handle on the same database, with its own connection.
    pub fn connect(&self, path: &Path) -> Result<Authority, DomainError> {
        Ok(Authority {
            store: Store::open(path)?,
            keys: Arc::clone(&self.keys),
            settings: Arc::clone(&self.settings),
            throttle: Arc::clone(&self.throttle),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The public signing keys as a JWK Set.
    pub fn jwks(&self) -> serde_json::Value {
        self.keys.jwks()
    }

    /// The orgs the caller may see: all for a provider admin, else their own.
    pub fn visible_orgs(&self, caller: &Caller) -> Result<Vec<Org>, DomainError> {
        let org = &caller.account.org;
        if org.is_provider && caller.rights.contains(Right::ViewAllOrganizations) {
            return Ok(self.store.orgs()?);
        }
        Ok(vec![org.clone()])
    }
}

fn initialize(
    store: &mut Store,
    admin_password: Option<&str>,
) -> Result<Option<FirstStart>, DomainError> {
    let now = now();
    let (password, generated) = match admin_password {
        Some(p) => (p.to_string(), false),
        None => (password::generate_password()?, true),
    };
    password::check_password_rules(&password)?;
    let provider_org = Org {
        id: new_id(),
        name: PROVIDER_ORG.into(),
        is_provider: true,
        created_at: now,
    };
    let roles = rights::BUILTIN_ROLES
        .iter()
        .map(|role| RoleDefinition {
            id: new_id(),
            name: role.name.into(),
            provider_only: role.provider_only,
            right_names: role.rights.iter().map(|r| r.name().to_string()).collect(),
        })
        .collect();
    let administrator = NewUser {
        id: new_id(),
        org_id: provider_org.id.clone(),
        name: ADMINISTRATOR.into(),
        password_hash: password::hash_password(&password)?,
        created_at: now,
        role_names: vec![rights::SYSTEM_ADMINISTRATOR.into()],
    };
    let state = InitialState {
        provider_org,
        roles,
        administrator,
        signing_key: KeyRing::generate_key(now)?,
    };
    if !store.initialize(&state)? {
        // Another process initialised the file first; its admin stands.
        return Ok(None);
    }
    Ok(Some(FirstStart {
        generated_password: generated.then_some(password),
    }))
}

/// A Unix time as RFC 3339 UTC, the form every answer and listing uses.
pub fn format_time(secs: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A canonical UUID, or None: ids from clients are checked before any lookup.
fn parse_id(text: &str) -> Option<String> {
    uuid::Uuid::parse_str(text)
        .ok()
        .map(|id| id.hyphenated().to_string())
}
