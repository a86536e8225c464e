//! The records the domain works with: orgs, accounts, API tokens, sessions
//! and signing keys. They belong to the domain; a storage backend fills and
//! keeps them but adds nothing of its own.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub is_provider: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    pub role_ids: Vec<String>,
}

/// A user as listings show it: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    /// Whether a second factor is enrolled (never the secret).
    pub second_factor: bool,
}

/// Which users a listing shows, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// None: every org.
    pub org_id: Option<String>,
    /// Lower case; users whose name contains it.
    pub name_contains: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

/// One page of users, and how many there are in all.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    pub total: u64,
}

/// Which roles or groups a listing shows, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter {
    /// Some: this org's (and, for roles, the global ones); None: all.
    pub org_id: Option<String>,
    /// Lower case; entries whose name contains it.
    pub name_contains: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

/// One page of roles, and how many there are in all.
#[derive(Debug, Clone)]
pub struct RolePage {
    pub roles: Vec<RoleDefinition>,
    pub total: u64,
}

/// One page of orgs, and how many there are in all.
#[derive(Debug, Clone)]
pub struct OrgPage {
    pub orgs: Vec<Org>,
    pub total: u64,
}

/// One page of services, and how many there are in all.
#[derive(Debug, Clone)]
pub struct ServicePage {
    pub services: Vec<Service>,
    pub total: u64,
}

/// A rights bundle and the orgs it is published to.
#[derive(Debug, Clone)]
pub struct BundleSummary {
    pub id: String,
    pub name: String,
    /// `service:permission` ids.
    pub permissions: Vec<String>,
    /// Names of the orgs it is published to.
    pub orgs: Vec<String>,
    pub publish_to_new_orgs: bool,
}

/// One page of rights bundles, and how many there are in all.
#[derive(Debug, Clone)]
pub struct BundlePage {
    pub bundles: Vec<BundleSummary>,
    pub total: u64,
}

/// A group as listings show it.
#[derive(Debug, Clone)]
pub struct GroupSummary {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
    /// Member user ids.
    pub members: Vec<String>,
    /// Names of the roles granted to the group.
    pub roles: Vec<String>,
}

/// One page of groups, and how many there are in all.
#[derive(Debug, Clone)]
pub struct GroupPage {
    pub groups: Vec<GroupSummary>,
    pub total: u64,
}

/// A role the user holds, with the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRole {
    pub name: String,
    /// The role may be held in the user's org: its own, or a global role
    /// published to every org or to this one.
    pub published_here: bool,
    /// The service a service role belongs to; None for an org role.
    pub service: Option<String>,
    /// `service:permission` ids.
    pub permissions: Vec<String>,
}

impl HeldRole {
    /// The role as access tokens name it: `service/role` for a service role.
    pub fn qualified_name(&self) -> String {
        match &self.service {
            Some(service) => format!("{service}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A user with everything an authorization decision needs.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub disabled: bool,
    /// An API-only identity: it never logs in with a password.
    pub service_account: bool,
    pub org: Org,
    /// The roles granted to the user, or to a group it is in, with all
    /// their permissions; `held_roles` applies the org's cap.
    pub roles: Vec<HeldRole>,
    /// The permissions the org's rights bundles allow; None where nothing
    /// caps them (the provider org).
    pub permission_cap: Option<Vec<String>>,
}

impl Account {
    /// The roles that count in the user's org (global roles published
    /// there; every role in the provider org), with only the permissions the
    /// org's bundles allow.
    pub fn held_roles(&self) -> Vec<HeldRole> {
        let counted = self
            .roles
            .iter()
            .filter(|role| role.published_here || self.org.is_provider);
        let Some(cap) = &self.permission_cap else {
            return counted.cloned().collect();
        };
        counted
            .map(|role| HeldRole {
                permissions: role
                    .permissions
                    .iter()
                    .filter(|p| cap.iter().any(|c| c.eq_ignore_ascii_case(p)))
                    .cloned()
                    .collect(),
                ..role.clone()
            })
            .collect()
    }

    /// The names of the user's roles (`service/role` for service roles), sorted.
    pub fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .held_roles()
            .iter()
            .map(HeldRole::qualified_name)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every permission the user's roles grant in its org, deduplicated and
    /// sorted.
    pub fn permissions(&self) -> Vec<String> {
        let mut permissions: Vec<String> = self
            .held_roles()
            .into_iter()
            .flat_map(|role| role.permissions)
            .collect();
        permissions.sort();
        permissions.dedup();
        permissions
    }
}

/// A role as defined: global or local to one org, an org role or a service
/// role.
#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    /// None: a global role, defined by the provider.
    pub org_id: Option<String>,
    /// The service of a service role; None for an org role.
    pub service: Option<String>,
    pub provider_only: bool,
    /// A global role usable in every org, not only those it is published to.
    pub published_to_all: bool,
    /// `service:permission` ids.
    pub permissions: Vec<String>,
    pub created_at: i64,
}

/// A rights bundle: permissions an org may use once the bundle is
/// published to it.
#[derive(Debug, Clone)]
pub struct RightsBundle {
    pub id: String,
    pub name: String,
    /// `service:permission` ids.
    pub permissions: Vec<String>,
    pub created_at: i64,
}

/// A group of users in one org.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: i64,
}

/// A service and the permissions it defines.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// Permission names within the service (without the `service:` prefix).
    pub permissions: Vec<String>,
    pub created_at: i64,
    /// Its identifier URI: what an exchange names as `resource` or
    /// `audience` to get access tokens with it as `aud`.
    pub identifier: Option<String>,
}

/// An API token as the exchange needs it: found by the digest of its secret.
#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: String,
    pub digest: [u8; 32],
    pub user_id: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub scope: TokenScope,
    /// Exchanges also return an OpenID Connect ID token.
    pub openid: bool,
    /// Replaced by a newer token at a refresh (service accounts): refused,
    /// and presenting it again means it was stolen.
    pub rotated_at: Option<i64>,
    /// The OAuth client it was issued to or first exchanged by: the `aud`
    /// and `azp` of its ID tokens; no other client may exchange it.
    pub client_id: Option<String>,
    /// The networks (canonical CIDRs) it may be exchanged from; empty:
    /// any network.
    pub bound_cidrs: Vec<String>,
}

/// An OAuth client a user registered: it may take one API token through
/// the JWT-bearer grant.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub created_at: i64,
    /// The API token it took, once it has.
    pub token_id: Option<String>,
    pub deleted_at: Option<i64>,
}

/// A resource server's credentials for introspection (never its secret).
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    pub id: String,
    pub service_id: String,
    pub service_name: String,
    pub secret_digest: [u8; 32],
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An API token as shown in listings: metadata and owner, never the digest.
#[derive(Debug, Clone)]
pub struct ApiTokenListing {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_name: String,
    pub org_id: String,
    pub org_name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The client address of the last exchange.
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
    pub scope: TokenScope,
    pub openid: bool,
    /// The networks (canonical CIDRs) it may be exchanged from; empty:
    /// any network.
    pub bound_cidrs: Vec<String>,
}

impl ApiTokenListing {
    /// "revoked", "expired" or "active" at `now`.
    pub fn status(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// Which tokens a listing shows. Every filter set narrows the listing.
#[derive(Debug, Clone, Default)]
pub struct ApiTokenFilter {
    pub owner_id: Option<String>,
    pub org_id: Option<String>,
    pub user_name: Option<String>,
    /// Lower case; tokens whose name contains it.
    pub name_contains: Option<String>,
    /// Tokens called exactly this.
    pub name_equals: Option<String>,
    pub include_revoked: bool,
    /// Only the tokens live at this instant (not revoked, not expired), or
    /// only those no longer live then (revoked or expired, the revoked
    /// included whatever `include_revoked` says).
    pub state_at: Option<(TokenState, i64)>,
    pub sort: TokenSort,
    /// (offset, limit) of one page; None for all.
    pub page: Option<(u64, u32)>,
}

/// The order of a token listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenSort {
    /// Oldest first.
    #[default]
    Created,
    /// Soonest to expire first; those that never expire last.
    Expires,
    /// Most recently used first; never used last.
    LastUsed,
    Name,
    /// By owner's name, then token name.
    Owner,
}

/// One org's API tokens by state, for monitoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCounts {
    pub org: String,
    /// Neither revoked nor expired.
    pub live: u64,
    /// Expired, not revoked.
    pub expired: u64,
    pub revoked: u64,
}

/// Whether a listing wants live tokens or the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Live,
    Inactive,
}

/// One page of tokens, and how many there are in all.
#[derive(Debug, Clone)]
pub struct ApiTokenPage {
    pub tokens: Vec<ApiTokenListing>,
    pub total: u64,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// Opened by a user who must enrol a second factor and has not: it
    /// may only enrol and log out.
    pub enrol_only: bool,
}

/// A signing key as stored. `private_key` is what the table holds: sealed
/// under the key-encryption key (`tokens::sealing`), or, in a database an
/// earlier version wrote and no start has sealed yet, plaintext. Wiped
/// from memory when the record is dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Zeroizing<Vec<u8>>,
    pub created_at: i64,
    /// When it starts signing; published from `created_at` on.
    pub activates_at: i64,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"..")
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .finish()
    }
}

/// Everything a first start writes, in one transaction.
pub struct InitialState {
    pub provider_org: Org,
    pub roles: Vec<RoleDefinition>,
    pub administrator: NewUser,
    /// The first ES256 key (access tokens) and RS256 key (ID tokens).
    pub signing_keys: Vec<SigningKeyRecord>,
}

/// Where a service account stands, as Cloud Director names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAccountStatus {
    /// Registered, or its access revoked: no token, no request.
    Created,
    /// A device authorization waits for an admin.
    Requested,
    /// An admin granted it; the client has not taken its token yet.
    Granted,
    /// It holds a live API token.
    Active,
}

impl ServiceAccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAccountStatus::Created => "CREATED",
            ServiceAccountStatus::Requested => "REQUESTED",
            ServiceAccountStatus::Granted => "GRANTED",
            ServiceAccountStatus::Active => "ACTIVE",
        }
    }

    pub fn parse(text: &str) -> Option<ServiceAccountStatus> {
        [
            ServiceAccountStatus::Created,
            ServiceAccountStatus::Requested,
            ServiceAccountStatus::Granted,
            ServiceAccountStatus::Active,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// An API-only identity of an org. Its id is its user's id and its OAuth
/// `client_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub name: String,
    pub software_id: String,
    pub software_version: Option<String>,
    pub client_uri: Option<String>,
    pub status: ServiceAccountStatus,
    /// The roles granted to it directly, by name.
    pub roles: Vec<String>,
    pub created_at: i64,
}

/// A service account to store: its user (no password) and registration.
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub user: NewUser,
    pub software_id: String,
    pub software_version: Option<String>,
    pub client_uri: Option<String>,
}

/// One page of service accounts, and how many there are in all.
#[derive(Debug, Clone)]
pub struct ServiceAccountPage {
    pub accounts: Vec<ServiceAccount>,
    pub total: u64,
}

/// What an admin decided on a device authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    Granted,
    Denied,
}

/// An RFC 8628 device authorization of a service account.
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub id: String,
    pub service_account_id: String,
    pub device_code_digest: [u8; 32],
    pub user_code: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Seconds a client waits between polls; grows at each `slow_down`.
    pub interval_s: i64,
    pub last_polled_at: Option<i64>,
    pub decision: Option<DeviceDecision>,
    /// When its token was taken: a device code works once.
    pub used_at: Option<i64>,
}

/// A reminder a token asked for at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminder {
    pub token_id: String,
    pub email: String,
    pub before_s: i64,
    /// When to send it: `before_s` ahead of the expiry.
    pub due_at: i64,
}

/// How many reminder mails one token owner may be sent in a window: a
/// reminder is no mail relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerMailLimit {
    /// Mails sent after this instant count.
    pub since: i64,
    pub mails: u32,
}

/// A reminder claimed for sending, with what its message says.
#[derive(Debug, Clone)]
pub struct DueReminder {
    pub token_id: String,
    pub token_name: String,
    pub owner_id: String,
    pub owner_name: String,
    pub org_id: String,
    pub org_name: String,
    pub email: String,
    pub expires_at: i64,
    /// Sends tried before this one.
    pub attempts: i64,
}

/// The owner's notice of a leaked token, written in the commit that
/// revoked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLeakNotice {
    pub token_id: String,
    pub email: String,
    pub reported_at: i64,
    /// Where the report said the token was found, capped.
    pub url: Option<String>,
    pub source: Option<String>,
}

/// A leak notice claimed for sending, with what its message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueLeakNotice {
    pub token_id: String,
    pub token_name: String,
    pub org_id: String,
    pub org_name: String,
    pub email: String,
    pub reported_at: i64,
    pub url: Option<String>,
    pub source: Option<String>,
    /// Sends tried before this one.
    pub attempts: i64,
}

/// A token about to expire, as a digest lists it.
#[derive(Debug, Clone)]
pub struct ExpiringToken {
    pub id: String,
    pub name: String,
    pub owner_name: String,
    pub expires_at: i64,
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub at_ms: i64,
    /// Stable and dotted: `token.exchange`, `session.login_failed`, ...
    pub kind: String,
    pub org_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: &'static str,
    pub client_ip: Option<String>,
    pub properties: Value,
}

/// Which events a query returns: newest first, below `before` (the seq of
/// the last event of the previous page); or, with `after`, oldest first
/// above it (following the trail as it grows).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub org_id: Option<String>,
    pub kind: Option<String>,
    pub actor_id: Option<String>,
    /// An API token id: events on it, or done with access derived from it.
    pub token_id: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: u32,
}

/// A policy as stored: None inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenPolicy {
    pub default_ttl: Option<String>,
    pub max_ttl: Option<String>,
    pub allow_never: Option<bool>,
    /// A span, or `none`: no idle limit even if the default has one.
    pub max_idle: Option<String>,
    /// Who must log in with a second factor: `nobody`, `admins` or
    /// `everyone`.
    pub second_factor: Option<String>,
    /// The longest grace a rotation may give the old secret: a span, or
    /// `0` (rotations revoke the old secret at once).
    pub max_rotation_grace: Option<String>,
    /// Every new token must be bound to networks (`bound_cidrs`).
    pub require_bound_cidrs: Option<bool>,
}

/// What a token may grant, as its owner chose at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    /// Every role the user holds at the moment of each exchange.
    AllRoles,
    Roles {
        /// Org roles, by name.
        org_roles: Vec<String>,
        service_roles: Vec<ServiceRoleScope>,
    },
}

/// A service role in a scope, whole or narrowed to some permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRoleScope {
    pub service: String,
    pub role: String,
    /// `service:permission` ids; None for the whole role.
    pub permissions: Option<Vec<String>>,
}

/// The largest page a listing answers.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A page of a listing: 1-based page number and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub fn new(page: u32, page_size: u32) -> Result<PageRequest, DomainError> {
        if page == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(DomainError::Invalid(format!(
                "page starts at 1 and pageSize is 1-{MAX_PAGE_SIZE}"
            )));
        }
        Ok(PageRequest { page, page_size })
    }

    /// Entries before this page.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }
}

/// Where a backup stands in the audit trail: the newest event its copy
/// holds. Every change commits with its event, so what the copy lacks is
/// exactly what the trail holds after this event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPoint {
    pub event_id: String,
    pub event_at_ms: i64,
}

/// What a read-only look at a database file found, for `tokend check` and
/// before a restore: SQLite's own checks, the schema version, and counts.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// `PRAGMA user_version`; None when it could not be read.
    pub schema_version: Option<i64>,
    /// The newest schema this binary knows.
    pub known_schema_version: i64,
    /// What `PRAGMA integrity_check` said: `["ok"]` when all is well.
    pub integrity: Vec<String>,
    /// Rows that refer to a row that does not exist.
    pub foreign_key_violations: Option<u64>,
    pub counts: Option<DatabaseCounts>,
    pub audit: Option<AuditSize>,
    /// The newest event of the trail.
    pub newest_event: Option<Event>,
    /// The signing keys in force, as stored (sealed): whether the key
    /// file opens them.
    pub signing_keys: Vec<SigningKeyRecord>,
    /// Queries that failed, with SQLite's words.
    pub errors: Vec<String>,
}

/// What a database holds, counted at an instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseCounts {
    pub orgs: u64,
    /// Whether the provider org exists: a first start initialised it.
    pub has_provider: bool,
    /// People, not service accounts.
    pub users: u64,
    pub users_disabled: u64,
    /// Not deleted.
    pub service_accounts: u64,
    pub api_tokens_live: u64,
    pub api_tokens_expired: u64,
    pub api_tokens_revoked: u64,
    pub sessions_live: u64,
    /// Keys that sign or verify (not retired), and those retired.
    pub signing_keys: u64,
    pub signing_keys_retired: u64,
}

/// How big and how old the audit trail is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSize {
    pub events: u64,
    /// The trail's table and indexes, in bytes.
    pub bytes: u64,
    /// True when `bytes` counts the trail's own pages; false when it is the
    /// whole file's size (SQLite without the `dbstat` table).
    pub bytes_exact: bool,
    pub oldest_ms: Option<i64>,
    pub newest_ms: Option<i64>,
}

/// A user's second factor as stored. `secret` is what the domain handed
/// the store (see `auth::second_factor`), never shown by `Debug`.
#[derive(Clone)]
pub struct SecondFactorRecord {
    pub user_id: String,
    pub secret: Vec<u8>,
    pub created_at: i64,
    /// None: pending, not yet proven with a code.
    pub enrolled_at: Option<i64>,
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for SecondFactorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorRecord")
            .field("user_id", &self.user_id)
            .field("enrolled_at", &self.enrolled_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

impl Drop for SecondFactorRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// A console login whose password was right, waiting for its second
/// factor. Kept by a digest of the handle the client holds, never the
/// handle itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub handle_digest: [u8; 32],
    pub user_id: String,
    /// `user@org` as the login named it, and the org's name.
    pub name: String,
    pub org_name: String,
    /// The client address the password came from.
    pub source: String,
    pub expires_at: i64,
}

/// An endpoint told of token events (`domain::webhooks`).
#[derive(Clone)]
pub struct WebhookRecord {
    pub id: String,
    /// None: every org's events (a System Administrator's webhook).
    pub org_id: Option<String>,
    pub org_name: Option<String>,
    pub url: String,
    /// The event types it wants.
    pub events: Vec<String>,
    /// The N of `token.expiring`: tokens expiring within N days.
    pub expiring_days: Option<i64>,
    /// The signing secret, sealed under the key-encryption key.
    pub secret: Vec<u8>,
    pub created_at: i64,
    pub created_by: String,
    /// The audit trail's sequence number up to which events were queued.
    pub cursor: i64,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// A delivery to queue: one event's body for one webhook.
#[derive(Debug, Clone)]
pub struct NewWebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    pub event_id: String,
    /// The token it is about (once per token for `token.expiring`).
    pub token_id: Option<String>,
    pub body: String,
    pub created_at: i64,
}

/// A delivery as stored: its state and, when claimed, what to send.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    pub event_id: String,
    pub token_id: Option<String>,
    pub body: String,
    pub created_at: i64,
    /// Attempts made before now.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub failed_at: Option<i64>,
    /// The HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// A token about to expire, with what a `token.expiring` delivery names.
#[derive(Debug, Clone)]
pub struct ExpiringTokenDetail {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_name: String,
    pub org_id: String,
    pub org_name: String,
    pub expires_at: i64,
}
