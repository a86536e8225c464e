//! The domain: every decision tokend makes.
//!
//! `Authority` is the one entry point for the HTTP handlers and the admin CLI.
//! It decides who may do what (rights, token-derived limits), issues and checks
//! API tokens and access tokens, and asks storage to remember the results
//! through the interface it defines in `storage`. It knows neither HTTP nor
//! SQL; time and randomness come in through `Ambient`.

mod access_token;
mod admin;
pub mod ambient;
mod api_token;
mod auth;
mod error;
mod health;
mod names;
mod password;
pub mod records;
mod rights;
pub mod storage;
mod throttle;
mod tokens;

use std::sync::{Arc, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use access_token::KeyRing;
pub use admin::{SigningKeyInfo, TokenQuery};
pub use ambient::{Ambient, Clock, ManualClock};
pub use api_token::ApiTokenSecret;
pub use auth::{LoginEndpoint, LoginSession};
pub use error::DomainError;
pub use health::Readiness;
pub use records::{Account, ApiTokenListing};
use records::{InitialState, NewUser, Org, RoleDefinition};
pub use rights::{Right, RightSet};
use storage::{Database, Reads, Storage};
use throttle::LoginThrottle;
pub use tokens::{CreatedApiToken, ExchangeAudience, IssuedAccess};

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

    fn is_token_derived(&self) -> bool {
        matches!(self.origin, AccessOrigin::ApiToken(_))
    }
}

/// What every handle of one process shares.
struct Shared {
    database: Arc<dyn Database>,
    settings: Settings,
    ambient: Ambient,
    throttle: LoginThrottle,
    /// The keys as last read; replaced when the key table's generation moves.
    keys: RwLock<Arc<KeyRing>>,
}

pub struct Authority {
    store: Box<dyn Storage>,
    shared: Arc<Shared>,
}

impl Authority {
    /// Opens the database for `tokend serve`, initialising it on first
    /// start: the provider org, its administrator, the built-in roles and a
    /// signing key, all in one transaction.
    pub fn start(
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
        admin_password: Option<&str>,
    ) -> Result<(Authority, Option<FirstStart>), DomainError> {
        let mut store = database.connect()?;
        let first_start = match store.reads().provider_org()? {
            Some(_) => None,
            None => initialize(&mut store, &ambient, admin_password)?,
        };
        let authority = Authority::with_store(store, database, settings, ambient)?;
        Ok((authority, first_start))
    }

    /// Opens an initialised database, for the admin commands: they never
    /// initialise one, so a mistyped path or a failed first start cannot
    /// turn into a second authority with a generated password.
    pub fn open(
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
    ) -> Result<Authority, DomainError> {
        let store = database.connect()?;
        if store.reads().provider_org()?.is_none() {
            return Err(DomainError::Invalid(format!(
                "the database has no {PROVIDER_ORG} org; `tokend serve` initialises it on first start"
            )));
        }
        Authority::with_store(store, database, settings, ambient)
    }

    fn with_store(
        store: Box<dyn Storage>,
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
    ) -> Result<Authority, DomainError> {
        let keys = read_keys(store.reads())?;
        let shared = Shared {
            database,
            settings,
            ambient,
            throttle: LoginThrottle::default(),
            keys: RwLock::new(Arc::new(keys)),
        };
        Ok(Authority {
            store,
            shared: Arc::new(shared),
        })
    }

    /// Another handle on the same database, with its own connection.
    pub fn connect(&self) -> Result<Authority, DomainError> {
        Ok(Authority {
            store: self.shared.database.connect()?,
            shared: Arc::clone(&self.shared),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The public signing keys as a JWK Set.
    pub fn jwks(&self) -> Result<serde_json::Value, DomainError> {
        Ok(self.keys()?.jwks())
    }

    /// The orgs the caller may see: all for a provider admin, else their own.
    pub fn visible_orgs(&self, caller: &Caller) -> Result<Vec<Org>, DomainError> {
        let org = &caller.account.org;
        if org.is_provider && caller.rights.contains(Right::ViewAllOrganizations) {
            return Ok(self.db().orgs()?);
        }
        Ok(vec![org.clone()])
    }

    /// The time by this authority's clock.
    pub fn now(&self) -> i64 {
        self.shared.ambient.now()
    }

    fn db(&self) -> &dyn Reads {
        self.store.reads()
    }

    fn new_id(&self) -> Result<String, DomainError> {
        self.shared.ambient.new_id()
    }

    /// The key ring in force, reloaded when another process (or handle)
    /// changed the signing keys since it was read.
    fn keys(&self) -> Result<Arc<KeyRing>, DomainError> {
        let generation = self.db().signing_key_generation()?;
        let current = Arc::clone(&self.shared.keys.read().unwrap_or_else(|e| e.into_inner()));
        if current.generation() == generation {
            return Ok(current);
        }
        let fresh = Arc::new(read_keys(self.db())?);
        *self.shared.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&fresh);
        Ok(fresh)
    }
}

fn read_keys(db: &dyn Reads) -> Result<KeyRing, DomainError> {
    let generation = db.signing_key_generation()?;
    KeyRing::from_records(generation, &db.signing_keys()?)
}

fn initialize(
    store: &mut Box<dyn Storage>,
    ambient: &Ambient,
    admin_password: Option<&str>,
) -> Result<Option<FirstStart>, DomainError> {
    let now = ambient.now();
    let (password, generated) = match admin_password {
        Some(p) => (p.to_string(), false),
        None => (password::generate_password(&*ambient.random)?, true),
    };
    password::check_password_rules(&password)?;
    let provider_org = Org {
        id: ambient.new_id()?,
        name: PROVIDER_ORG.into(),
        is_provider: true,
        created_at: now,
    };
    let mut roles = Vec::with_capacity(rights::BUILTIN_ROLES.len());
    for role in rights::BUILTIN_ROLES {
        roles.push(RoleDefinition {
            id: ambient.new_id()?,
            name: role.name.into(),
            provider_only: role.provider_only,
            right_names: role.rights.iter().map(|r| r.name().to_string()).collect(),
        });
    }
    let administrator = NewUser {
        id: ambient.new_id()?,
        org_id: provider_org.id.clone(),
        name: ADMINISTRATOR.into(),
        password_hash: password::hash_password(&*ambient.random, &password)?,
        created_at: now,
        role_names: vec![rights::SYSTEM_ADMINISTRATOR.into()],
    };
    let state = InitialState {
        provider_org,
        roles,
        administrator,
        signing_key: KeyRing::generate_key(&*ambient.random, now)?,
    };
    let written = store.write(move |tx| {
        // Another process may have initialised the file first; its admin stands.
        if tx.provider_org()?.is_some() {
            return Ok(false);
        }
        tx.insert_org(&state.provider_org)?;
        for role in &state.roles {
            tx.insert_role(role)?;
        }
        tx.insert_user(&state.administrator)?;
        tx.insert_signing_key(&state.signing_key)?;
        Ok(true)
    })?;
    Ok(written.then(|| FirstStart {
        generated_password: generated.then_some(password),
    }))
}

/// A Unix time as RFC 3339 UTC, the form every answer and listing uses.
pub fn format_time(secs: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A canonical UUID, or None: ids from clients are checked before any lookup.
fn parse_id(text: &str) -> Option<String> {
    uuid::Uuid::parse_str(text)
        .ok()
        .map(|id| id.hyphenated().to_string())
}

#[cfg(test)]
mod tests;
