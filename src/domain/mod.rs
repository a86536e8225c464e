//! The domain: every decision tokend makes.
//!
//! `Authority` is the one entry point for the HTTP handlers and the admin CLI.
//! It decides who may do what (rights, token-derived limits), issues and checks
//! API tokens and access tokens, and asks storage to remember the results
//! through the interface it defines in `storage`. It knows neither HTTP nor
//! SQL; time and randomness come in through `Ambient`.

mod access;
mod account_cache;
pub mod ambient;
pub mod audit;
mod auth;
mod backup;
mod clock_watch;
mod cluster;
mod directory;
mod error;
/// The token checker, for the property tests and fuzz targets only
/// (ARCHITECTURE.md).
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod monitoring;
mod oauth;
pub mod records;
pub mod storage;
mod tokens;
mod webhooks;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use account_cache::AccountCache;
pub use ambient::{Ambient, Clock, ManualClock};
use audit::refusals::RefusalLedger;
pub use audit::{parse_event_time, Actor, TimeOrAge};
pub use auth::second_factor::{Enrolment, SecondFactorStatus, RECOVERY_CODES};
use auth::throttle::LoginThrottle;
pub use auth::{LoginEndpoint, LoginSession, Presented};
pub use backup::{
    backup_file_name, backups_beyond, health_problems, AuditStream, RestoreChoice, RestorePoint,
    RestoreReport,
};
use clock_watch::ClockWatch;
pub use directory::catalog::NewRole;
pub use directory::names::{check_audience, check_resource};
use directory::password;
pub use directory::password::check_password_rules;
use directory::rights;
pub use directory::rights::{Right, RightSet};
pub use directory::users::{NewAccount, PasswordTarget, UserDetails};
pub use error::{DeviceFlowError, DomainError, DpopRefusal};
pub use health::Readiness;
pub use monitoring::LoginLocks;
pub use oauth::introspection::{ActiveToken, ClientCredentials};
pub use oauth::service_accounts::{DeviceCodes, DeviceRequest, NewServiceAccountRequest};
pub use records::MAX_PAGE_SIZE;
pub use records::{Account, ApiTokenListing, IntrospectionClient, OAuthClient, RoleDefinition};
pub use records::{
    BundlePage, BundleSummary, GroupPage, GroupSummary, Org, OrgPage, RolePage, Service,
    ServicePage, UserPage, UserSummary,
};
pub use records::{Event, EventFilter, PageRequest, ServiceRoleScope, TokenPolicy, TokenScope};
use records::{InitialState, NewUser};
pub use records::{TokenCounts, TokenSort, TokenState};
pub use records::{WebhookDelivery, WebhookRecord};
use storage::{Database, PendingCommit, Reads, Storage};
use tokens::access_token::VerifiedTokens;
pub use tokens::api_token::ApiTokenSecret;
use tokens::dpop::DpopNonces;
pub use tokens::dpop::{CheckedProof, DpopNonce, DPOP_ALGORITHMS};
pub use tokens::identity::{ExchangeRequest, IdentityClaims};
pub use tokens::keys::{key_file_verdict, ResealReport};
pub use tokens::keys::{KeyRotation, SigningKeyInfo};
pub use tokens::leaks::{LeakCandidate, LeakReport, MAX_LEAK_CANDIDATES};
pub use tokens::named::TokenQuery;
pub use tokens::policy::{EffectivePolicy, PolicyView, SecondFactorRule};
pub use tokens::reminders::{Mail, Mailer, ReminderRequest, ReminderRun};
pub use tokens::rotation::RotatedApiToken;
pub use tokens::scopes::Grant;
pub use tokens::sealing::{Kek, KekStore, MemoryKek, KEK_LEN};
use tokens::signing::KeyRing;
pub use tokens::{CreatedApiToken, ExchangeAudience, InventoryQuery, IssuedAccess, NewApiToken};
pub use webhooks::{
    webhook_signature, CreatedWebhook, NewWebhook, WebhookRequest, WebhookRun, WebhookSender,
    WEBHOOK_EVENTS,
};

/// An answer whose write is queued but not yet on disk: `value` may be
/// sent only once `commit` has completed. Returned where a worker should go
/// on serving other requests while the writer commits (the exchange).
#[must_use = "nothing may be acknowledged before its write is committed"]
pub struct Committing<T> {
    pub value: T,
    pub commit: Commit,
}

/// The commit an answer waits for.
pub struct Commit {
    pending: PendingCommit,
    /// What the client is told when the write found a single-use record
    /// used already (`StoreError::Conflict`), if the write guards one.
    conflict: Option<DomainError>,
}

impl Commit {
    pub async fn done(self) -> Result<(), DomainError> {
        match (self.pending.committed().await, self.conflict) {
            (Err(storage::StoreError::Conflict), Some(refusal)) => Err(refusal),
            (result, _) => Ok(result?),
        }
    }
}

impl Commit {
    /// A commit that has happened already: the write was waited for.
    fn done_already() -> Commit {
        let (sender, pending) = storage::commit_channel();
        sender.send(Ok(()));
        Commit {
            pending,
            conflict: None,
        }
    }
}

#[cfg(test)]
impl<T> Committing<T> {
    /// The value once committed, blocking.
    pub fn wait(self) -> Result<T, DomainError> {
        match (self.commit.pending.wait(), self.commit.conflict) {
            (Err(storage::StoreError::Conflict), Some(refusal)) => return Err(refusal),
            (result, _) => result?,
        }
        Ok(self.value)
    }
}

pub const PROVIDER_ORG: &str = "System";
pub const ADMINISTRATOR: &str = "administrator";

/// How this instance issues access tokens.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `iss` of every access token, and the base of the published URLs.
    pub issuer: String,
    pub access_token_lifetime: Duration,
    /// Who acts when the admin CLI acts (`cli:<os user>`), for the audit
    /// trail; None for the service.
    pub operator: Option<String>,
    /// How long audit events are kept; None keeps them for ever.
    pub audit_retention: Option<Duration>,
    /// The database size past which the oldest successful exchanges are
    /// deleted from the trail; None: no bound.
    pub audit_max_bytes: Option<u64>,
    /// The `aud` of ID tokens when no client is known; None: the API
    /// token's id.
    pub audience: Option<String>,
    /// Who access tokens are for, beside tokend itself (the issuer), when
    /// the exchange names no resource.
    pub default_audience: Vec<String>,
    /// How long a verifier may keep the JWKS (`Cache-Control: max-age`).
    pub jwks_max_age: Duration,
    /// How long a rotated key is published before it signs: longer than
    /// `jwks_max_age`, so every verifier has it before its first token.
    pub key_publish_delay: Duration,
    /// Whether DPoP proofs must carry a nonce of tokend's.
    pub dpop_nonce: DpopNonce,
}

/// How long a verifier may keep the JWKS, unless configured.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(300);
/// How long a rotated key waits before it signs, unless configured.
pub const DEFAULT_KEY_PUBLISH_DELAY: Duration = Duration::from_secs(600);

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
    /// Every permission in force, `service:permission`, sorted: tokend's
    /// own as in `rights`, other services' as the user holds them.
    pub permissions: Vec<String>,
    /// The roles granted, as the access token's `roles` claim says them.
    pub roles: Vec<String>,
    pub origin: AccessOrigin,
    pub expires_at: i64,
    /// Where the request came from, for the audit trail.
    pub client: IpAddr,
}

impl Caller {
    pub fn api_token_id(&self) -> Option<&str> {
        match &self.origin {
            AccessOrigin::ApiToken(id) => Some(id),
            AccessOrigin::Session(_) => None,
        }
    }

    pub fn is_token_derived(&self) -> bool {
        matches!(self.origin, AccessOrigin::ApiToken(_))
    }

    pub fn session_id(&self) -> Option<&str> {
        match &self.origin {
            AccessOrigin::Session(id) => Some(id),
            AccessOrigin::ApiToken(_) => None,
        }
    }
}

/// What every handle of one process shares.
struct Shared {
    database: Arc<dyn Database>,
    settings: Settings,
    ambient: Ambient,
    throttle: LoginThrottle,
    /// Refusals counted rather than recorded one by one.
    refusals: RefusalLedger,
    /// Access tokens whose signature was checked.
    verified_tokens: VerifiedTokens,
    /// Accounts as last read.
    accounts: AccountCache,
    /// The keys as last read; replaced when the key table's generation
    /// moves. None until first needed (an admin command that never signs
    /// never opens a private key).
    keys: RwLock<Option<Arc<KeyRing>>>,
    /// Where the key-encryption key is kept, and the KEK once read.
    kek_store: Arc<dyn KekStore>,
    kek: OnceLock<Kek>,
    /// Whether the wall clock may be trusted to destroy by.
    clock_watch: ClockWatch,
    /// Leak reports per client address.
    leak_limiter: tokens::leaks::LeakReportLimiter,
    /// Wakes the mail thread when a report committed owners' notices.
    leak_notice_bell: tokens::leaks::LeakNoticeBell,
    /// DPoP nonces, under a key derived from the KEK once first needed.
    dpop_nonces: OnceLock<DpopNonces>,
}

pub struct Authority {
    store: Box<dyn Storage>,
    shared: Arc<Shared>,
    /// While a restore replays the audit trail: the id of the event being
    /// replayed, which the operator's events name (`replays`).
    replaying: Option<String>,
}

impl Authority {
    /// Opens the database for `tokend serve`, initialising it on first
    /// start: the provider org, its administrator, the built-in roles and a
    /// signing key, all in one transaction. The private keys are sealed
    /// under the KEK `kek_store` keeps, made there when the database holds
    /// no sealed key yet (plaintext keys of an earlier version are sealed
    /// in place); a KEK that is missing or not the one the keys are sealed
    /// under is refused, and so is any key that does not open.
    pub fn start(
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
        admin_password: Option<&str>,
        kek_store: Arc<dyn KekStore>,
    ) -> Result<(Authority, Option<FirstStart>), DomainError> {
        let mut store = database.connect()?;
        let kek = tokens::keys::kek_for_start(store.reads(), &*kek_store, &ambient)?;
        let first_start = match store.reads().provider_org()? {
            Some(_) => None,
            None => initialize(&mut store, &ambient, admin_password, &kek)?,
        };
        ensure_builtins(&mut store, &ambient)?;
        tokens::keys::seal_plaintext_keys(&mut store, &ambient, &kek)?;
        let publish_delay = settings.key_publish_delay.as_secs() as i64;
        ensure_id_token_key(&mut store, &ambient, publish_delay, &kek)?;
        let authority = Authority::with_store(store, database, settings, ambient, kek_store)?;
        let _ = authority.shared.kek.set(kek);
        authority.load_keys_for_start()?;
        Ok((authority, first_start))
    }

    /// Opens an initialised database, for the admin commands: they never
    /// initialise one, so a mistyped path or a failed first start cannot
    /// turn into a second authority with a generated password.
    /// The KEK is read from `kek_store` only when a command needs a
    /// private key (a rotation, a reseal).
    pub fn open(
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
        kek_store: Arc<dyn KekStore>,
    ) -> Result<Authority, DomainError> {
        let mut store = database.connect()?;
        if store.reads().provider_org()?.is_none() {
            return Err(DomainError::Invalid(format!(
                "the database has no {PROVIDER_ORG} org; `tokend serve` initialises it on first start"
            )));
        }
        ensure_builtins(&mut store, &ambient)?;
        Authority::with_store(store, database, settings, ambient, kek_store)
    }

    fn with_store(
        store: Box<dyn Storage>,
        database: Arc<dyn Database>,
        settings: Settings,
        ambient: Ambient,
        kek_store: Arc<dyn KekStore>,
    ) -> Result<Authority, DomainError> {
        let clock_watch = ClockWatch::start(&ambient, store.reads())?;
        let shared = Shared {
            dpop_nonces: OnceLock::new(),
            clock_watch,
            database,
            settings,
            ambient,
            throttle: LoginThrottle::default(),
            refusals: RefusalLedger::default(),
            verified_tokens: VerifiedTokens::default(),
            accounts: AccountCache::default(),
            keys: RwLock::new(None),
            kek_store,
            kek: OnceLock::new(),
            leak_limiter: Default::default(),
            leak_notice_bell: Default::default(),
        };
        let shared = Arc::new(shared);
        cluster::hear_others(&shared);
        Ok(Authority {
            store,
            shared,
            replaying: None,
        })
    }

    /// Another handle on the same database, with its own connection.
    pub fn connect(&self) -> Result<Authority, DomainError> {
        Ok(Authority {
            store: self.shared.database.connect()?,
            shared: Arc::clone(&self.shared),
            replaying: None,
        })
    }

    /// Writes out the refusals still only counted, then waits until every
    /// write queued so far is committed: the queue is first in, first out,
    /// so a durable write behind them is enough. For a graceful stop, after
    /// the last request.
    pub fn drain_writes(&mut self) -> Result<(), DomainError> {
        self.write_refusal_summaries(true)?;
        Ok(self.store.write(|_| Ok(()))?)
    }

    /// Counts the busy timeout of this handle's writes from `received`,
    /// when the request being answered arrived (None once it is answered):
    /// time spent queueing for a thread counts against it.
    pub fn request_received(&mut self, received: Option<std::time::Instant>) {
        self.store.request_received(received);
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The public signing keys as a JWK Set.
    pub fn jwks(&self) -> Result<serde_json::Value, DomainError> {
        Ok(self.keys()?.jwks(self.now()))
    }

    /// The longest an access token of this instance lives, in seconds.
    fn token_lifetime(&self) -> i64 {
        self.settings().access_token_lifetime.as_secs() as i64
    }

    /// The orgs the caller may see: all for a provider admin and the CLI's
    /// operator, else its own.
    pub fn visible_orgs(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<OrgPage, DomainError> {
        let org_id = match by {
            Actor::Caller(caller) => {
                (!self.sees_every_org(caller)).then(|| caller.account.org.id.clone())
            }
            Actor::Operator => None,
        };
        let filter = records::DirectoryFilter {
            org_id,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().orgs(&filter)?)
    }

    /// One org the caller may see, by id (`urn:vcloud:org:` prefix
    /// allowed); an org out of reach is unknown, as a missing one is.
    pub fn visible_org_by_id(&self, caller: &Caller, id: &str) -> Result<Org, DomainError> {
        let id = id.strip_prefix("urn:vcloud:org:").unwrap_or(id);
        let unknown = || DomainError::NotFound("no such org".into());
        if !self.sees_every_org(caller) && id != caller.account.org.id {
            return Err(unknown());
        }
        let filter = records::DirectoryFilter {
            org_id: Some(id.to_owned()),
            name_contains: None,
            offset: 0,
            limit: 1,
        };
        self.db().orgs(&filter)?.orgs.pop().ok_or_else(unknown)
    }

    /// The time by this authority's clock.
    pub fn now(&self) -> i64 {
        self.shared.ambient.now()
    }

    /// This authority's clock, for what outside the domain keeps time by
    /// it (the TLS certificate's expiry).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.shared.ambient.clock)
    }

    fn db(&self) -> &dyn Reads {
        self.store.reads()
    }

    /// The account of `user_id` as it is now: kept from an earlier read
    /// while nothing it is made of has changed (`AccountCache`).
    fn account_now(&self, user_id: &str) -> Result<Option<Account>, DomainError> {
        let generation = self.db().directory_generation()?;
        if let Some(account) = self.shared.accounts.get(generation, user_id) {
            return Ok(Some(account));
        }
        let account = self.db().account(user_id)?;
        if let Some(account) = &account {
            self.shared.accounts.insert(generation, account);
        }
        Ok(account)
    }

    /// Runs `reads` as one read transaction (`Storage::begin_snapshot`): for
    /// the hot paths, which read several tables per request.
    fn in_snapshot<T>(
        &self,
        reads: impl FnOnce() -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.store.begin_snapshot()?;
        let result = reads();
        self.store.end_snapshot();
        result
    }

    fn new_id(&self) -> Result<String, DomainError> {
        self.shared.ambient.new_id()
    }

    /// Runs a page's reads (authentication included) as one read
    /// transaction: one consistent view, and one look at what others
    /// committed. Writes inside go to the writer as always.
    pub fn reading<T>(
        &self,
        reads: impl FnOnce(&Authority) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.in_snapshot(|| reads(self))
    }

    /// A fresh random id for a request that must not be carried out twice
    /// (a form's hidden field; see `NewApiToken::request_id`).
    pub fn new_request_id(&self) -> Result<String, DomainError> {
        self.shared.ambient.new_id()
    }

    /// The key ring in force, reloaded when another process (or handle)
    /// changed the signing keys since it was read. Keys the ring holds
    /// already are kept; a new key that does not open (sealed under a KEK
    /// this process lacks) is said in the log and not used, and the
    /// service goes on with the keys it has.
    fn keys(&self) -> Result<Arc<KeyRing>, DomainError> {
        let generation = self.db().signing_key_generation()?;
        let current = self
            .shared
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(current) = current.as_ref().filter(|c| c.generation() == generation) {
            return Ok(Arc::clone(current));
        }
        let (fresh, left_out) = self.read_keys(generation, current.as_deref())?;
        for (kid, why) in &left_out {
            crate::logging::warn(format!(
                "tokend: signing key {kid} is not used: {why}; this process goes on with the \
                 keys it has (restart it with TOKEND_KEY_FILE naming the key file the keys \
                 are sealed under)"
            ));
        }
        let fresh = Arc::new(fresh);
        *self.shared.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&fresh));
        // A key retired at once must take its tokens with it.
        self.shared.verified_tokens.clear();
        Ok(fresh)
    }

    /// Reads the ring at `start`: every key in force must open.
    fn load_keys_for_start(&self) -> Result<(), DomainError> {
        let generation = self.db().signing_key_generation()?;
        let (ring, left_out) = self.read_keys(generation, None)?;
        if let Some((kid, why)) = left_out.first() {
            return Err(DomainError::Invalid(format!(
                "signing key {kid} cannot be used: {why}"
            )));
        }
        *self.shared.keys.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(ring));
        Ok(())
    }

    fn read_keys(
        &self,
        generation: i64,
        held: Option<&KeyRing>,
    ) -> Result<(KeyRing, Vec<(String, String)>), DomainError> {
        let records = self.db().signing_keys()?;
        // Only when a key is not held already: a reload that opens nothing
        // reads no key file.
        let needs_kek = records.iter().any(|r| {
            held.is_none_or(|ring| !ring.holds(&r.kid))
                && tokens::sealing::sealing_of(&r.private_key)
                    != tokens::sealing::Sealing::Plaintext
        });
        let kek = if needs_kek { self.kek().ok() } else { None };
        let location = self.shared.kek_store.location();
        let open = |record: &records::SigningKeyRecord| {
            match &kek {
            Some(kek) => tokens::sealing::unseal(kek, &record.kid, &record.algorithm, &record.private_key)
                .map_err(|e| e.to_string()),
            None => match tokens::sealing::sealing_of(&record.private_key) {
                tokens::sealing::Sealing::Plaintext => Ok(record.private_key.clone()),
                tokens::sealing::Sealing::Sealed(id) => Err(format!(
                    "it is sealed under key-encryption key {id}, and no usable key file is at {location}"
                )),
            },
        }
        };
        KeyRing::load(generation, &records, self.token_lifetime(), &open, held)
    }
}

fn initialize(
    store: &mut Box<dyn Storage>,
    ambient: &Ambient,
    admin_password: Option<&str>,
    kek: &Kek,
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
        roles.push(builtin_role(ambient, role, now)?);
    }
    let administrator = NewUser {
        id: ambient.new_id()?,
        org_id: provider_org.id.clone(),
        name: ADMINISTRATOR.into(),
        email: None,
        display_name: None,
        password_hash: password::hash_password(&*ambient.random, &password)?,
        created_at: now,
        role_ids: roles
            .iter()
            .filter(|r| r.name == rights::SYSTEM_ADMINISTRATOR)
            .map(|r| r.id.clone())
            .collect(),
    };
    let signing_keys = vec![
        tokens::keys::sealed(
            kek,
            ambient,
            KeyRing::generate_ec_key(&*ambient.random, now, now)?,
        )?,
        tokens::keys::sealed(
            kek,
            ambient,
            KeyRing::generate_rsa_key(&*ambient.random, now, now)?,
        )?,
    ];
    // The first event of every trail.
    let event = system_event(ambient, "system.initialize")?
        .on("org", &provider_org.id, &provider_org.name)
        .in_org(&provider_org.id)
        .with("administrator", serde_json::json!(administrator.id))
        .with(
            "signing_keys",
            serde_json::json!(signing_keys.iter().map(|k| &k.kid).collect::<Vec<_>>()),
        );
    let state = InitialState {
        provider_org,
        roles,
        administrator,
        signing_keys,
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
        for key in &state.signing_keys {
            tx.insert_signing_key(key)?;
        }
        tx.insert_event(&event)?;
        Ok(true)
    })?;
    Ok(written.then(|| FirstStart {
        generated_password: generated.then_some(password),
    }))
}

fn builtin_role(
    ambient: &Ambient,
    role: &rights::BuiltinRole,
    now: i64,
) -> Result<RoleDefinition, DomainError> {
    Ok(RoleDefinition {
        id: ambient.new_id()?,
        name: role.name.into(),
        org_id: None,
        service: None,
        provider_only: role.provider_only,
        published_to_all: true,
        permissions: role.rights.iter().map(|r| r.id()).collect(),
        created_at: now,
    })
}

/// Brings tokend's own service, the built-in roles and the Default Rights
/// Bundle up to this version: every right a permission of `tokend`, every
/// built-in role present and holding at least its rights, the bundle
/// holding every right. Adds only: what an admin granted stays.
fn ensure_builtins(store: &mut Box<dyn Storage>, ambient: &Ambient) -> Result<(), DomainError> {
    let reads = store.reads();
    let service = reads.service(rights::TOKEND_SERVICE)?;
    let missing_permissions: Vec<&str> = Right::ALL
        .iter()
        .map(|r| r.permission_name())
        .filter(|name| {
            service
                .as_ref()
                .is_none_or(|s| !s.permissions.iter().any(|p| p == name))
        })
        .collect();
    let mut missing_roles = Vec::new();
    let mut missing_grants = Vec::new();
    let bundle = reads.rights_bundle(rights::DEFAULT_RIGHTS_BUNDLE)?;
    let missing_in_bundle: Vec<(String, String)> = bundle
        .iter()
        .flat_map(|bundle| {
            Right::ALL
                .iter()
                .map(|r| r.id())
                .filter(|id| !bundle.permissions.contains(id))
                .map(|id| (bundle.id.clone(), id))
        })
        .collect();
    for builtin in rights::BUILTIN_ROLES {
        match reads.role(None, builtin.name)? {
            None => missing_roles.push(builtin_role(ambient, builtin, ambient.now())?),
            Some(role) => {
                for right in builtin.rights {
                    if !role.permissions.contains(&right.id()) {
                        missing_grants.push((role.id.clone(), right.id()));
                    }
                }
            }
        }
    }
    let (Some(service), true) = (
        service,
        !(missing_permissions.is_empty()
            && missing_roles.is_empty()
            && missing_grants.is_empty()
            && missing_in_bundle.is_empty()),
    ) else {
        return Ok(());
    };
    let missing_permissions: Vec<String> =
        missing_permissions.into_iter().map(String::from).collect();
    let event = system_event(ambient, "system.upgrade")?
        .on("service", &service.id, &service.name)
        .with("permissions_added", serde_json::json!(missing_permissions))
        .with(
            "roles_added",
            serde_json::json!(missing_roles.iter().map(|r| &r.name).collect::<Vec<_>>()),
        );
    store.write(move |tx| {
        for name in &missing_permissions {
            tx.add_permission(&service.id, name)?;
        }
        for role in &missing_roles {
            tx.insert_role(role)?;
        }
        for (role_id, permission) in &missing_grants {
            tx.add_role_permission(role_id, permission)?;
        }
        for (bundle_id, permission) in &missing_in_bundle {
            tx.add_bundle_permission(bundle_id, permission)?;
        }
        tx.insert_event(&event)
    })?;
    Ok(())
}

/// Gives a database made before ID tokens were signed RS256 its first RSA
/// key, published now and signing after `publish_delay` (ES256 signs ID
/// tokens until then), so that verifiers hold it before its first token.
fn ensure_id_token_key(
    store: &mut Box<dyn Storage>,
    ambient: &Ambient,
    publish_delay: i64,
    kek: &Kek,
) -> Result<(), DomainError> {
    let keys = store.reads().signing_keys()?;
    if keys.iter().any(|k| k.algorithm == tokens::signing::RS256) {
        return Ok(());
    }
    let now = ambient.now();
    let key = tokens::keys::sealed(
        kek,
        ambient,
        KeyRing::generate_rsa_key(&*ambient.random, now, now + publish_delay)?,
    )?;
    let event = system_event(ambient, "key.rotate")?
        .on("signing_key", &key.kid, &key.kid)
        .with("algorithm", serde_json::json!(key.algorithm))
        .with("activates_at", serde_json::json!(key.activates_at));
    store.write(move |tx| {
        // Another process may have added one first.
        if tx
            .signing_keys()?
            .iter()
            .any(|k| k.algorithm == tokens::signing::RS256)
        {
            return Ok(());
        }
        tx.insert_signing_key(&key)?;
        tx.insert_event(&event)
    })?;
    Ok(())
}

/// An event of the service itself, made before there is an `Authority`.
fn system_event(ambient: &Ambient, kind: &str) -> Result<records::Event, DomainError> {
    let at_ms = ambient.clock.now_millis();
    Ok(records::Event::new(
        ambient.new_ordered_id(at_ms)?,
        at_ms,
        kind,
        "success",
    ))
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
