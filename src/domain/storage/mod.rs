//! The storage interface the domain needs, named for what it asks rather
//! than for tables or SQL, so that SQLite (the embedded default) and a
//! later multi-node backend can sit behind the same traits.
//!
//! Reads go straight to a worker's own connection. Every change goes through
//! one entry point, `write`, which runs a closure in one transaction and
//! returns once it is committed. The closure is `Send + 'static` so that a
//! backend may run it on a writer thread with group commit without the
//! domain changing.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::domain::records::TokenPolicy;
use crate::domain::records::TokenScope;
use crate::domain::records::{
    Account, ApiTokenFilter, ApiTokenListing, ApiTokenRecord, Group, IntrospectionClient, NewUser,
    OAuthClient, Org, RightsBundle, RoleDefinition, Service, SessionRecord, SigningKeyRecord,
    UserFilter, UserPage, UserSummary,
};
use crate::domain::records::{
    ApiTokenPage, BundlePage, BundleSummary, DirectoryFilter, GroupPage, GroupSummary, OrgPage,
    RolePage, ServicePage,
};
use crate::domain::records::{
    DeviceAuthorization, DeviceDecision, NewServiceAccount, ServiceAccount, ServiceAccountPage,
    ServiceAccountStatus,
};
use crate::domain::records::{DueLeakNotice, NewLeakNotice};
use crate::domain::records::{DueReminder, ExpiringToken, NewReminder, OwnerMailLimit};
use crate::domain::records::{Event, EventFilter, PendingLogin, SecondFactorRecord, TokenCounts};
use crate::domain::records::{
    ExpiringTokenDetail, NewWebhookDelivery, WebhookDelivery, WebhookRecord,
};

mod commit;

pub use commit::{commit_channel, BatchObserver, CommitSender, PendingCommit, WriterStats};

#[derive(Debug, Clone)]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. an org name already taken).
    Duplicate,
    /// Another write changed the record first: a race lost, or a
    /// single-use record used already. Raised by the domain's own write
    /// jobs when a guarded update changed nothing.
    Conflict,
    /// A referenced record (e.g. a role name) does not exist.
    Missing(String),
    /// The transaction lost to a concurrent one (a serialization failure
    /// or a deadlock) and was rolled back: the same write, run again, may
    /// succeed. Backends retry it themselves before they report it.
    Retry,
    /// A value the database cannot hold or compare, from the client (a
    /// NUL character in text, which PostgreSQL refuses).
    Unstorable(String),
    /// Another writer held the database past the busy timeout.
    Busy,
    /// The database server could not be reached, dropped the connection,
    /// or did not answer in time (PostgreSQL): the same request may
    /// succeed once it answers again. The text is for the log.
    Unreachable(String),
    /// The disk is full.
    Full,
    /// The database cannot be written (read-only file, directory or mount).
    ReadOnly,
    /// The database file was written by a newer tokend.
    TooNew { found: i64, known: i64 },
    /// The file holds no tokend database (empty, or another program's):
    /// only a first start may write the schema into it.
    NotTokend,
    /// Anything else (I/O error, corrupt file); the text is for the log.
    Failed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Duplicate => f.write_str("record already exists"),
            StoreError::Conflict => f.write_str("another write changed the record first"),
            StoreError::Missing(what) => write!(f, "{what} does not exist"),
            StoreError::Retry => f.write_str("the write lost to a concurrent one"),
            StoreError::Unstorable(why) => f.write_str(why),
            StoreError::Busy => f.write_str("the database is busy"),
            StoreError::Unreachable(why) => write!(f, "the database is unreachable: {why}"),
            StoreError::Full => f.write_str("the disk is full"),
            StoreError::ReadOnly => f.write_str("the database is read-only"),
            StoreError::TooNew { found, known } => write!(
                f,
                "database schema version {found} is newer than this tokend knows ({known})"
            ),
            StoreError::NotTokend => f.write_str(
                "the file holds no tokend database (it is empty or another program's); \
                 `tokend serve` initialises a new database on first start",
            ),
            StoreError::Failed(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

pub trait AccountReads {
    fn provider_org(&self) -> StoreResult<Option<Org>>;
    fn org_by_name(&self, name: &str) -> StoreResult<Option<Org>>;
    /// Orgs, the provider first, then by name; with an org id, that one.
    fn orgs(&self, filter: &DirectoryFilter) -> StoreResult<OrgPage>;
    fn account(&self, user_id: &str) -> StoreResult<Option<Account>>;
    /// The account and password hash of `user_name` in `org_name`.
    fn login_account(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> StoreResult<Option<(Account, String)>>;
    fn user(&self, user_id: &str) -> StoreResult<Option<UserSummary>>;
    /// A page of users, by org and name.
    fn users(&self, filter: &UserFilter) -> StoreResult<UserPage>;
    /// When an admin last lifted the login lock of `user@org`.
    fn login_unlocked_at(&self, login_name: &str) -> StoreResult<Option<i64>>;
    /// Moves whenever anything an `Account` is made of changes.
    fn directory_generation(&self) -> StoreResult<i64>;
    /// The names of the groups `user_id` is in, sorted.
    fn group_names_of(&self, user_id: &str) -> StoreResult<Vec<String>>;
    /// How `user_id` holds each role: (role id, None when granted to the
    /// user, else the group it comes through), one row per grant.
    fn role_grants_of(&self, user_id: &str) -> StoreResult<Vec<(String, Option<String>)>>;
}

pub trait AccountWrites {
    fn insert_org(&self, org: &Org) -> StoreResult<()>;
    /// Fails with `Missing` when one of the user's roles does not exist.
    fn insert_user(&self, user: &NewUser) -> StoreResult<()>;
    /// False when the user does not exist.
    fn set_user_disabled(&self, user_id: &str, disabled_at: Option<i64>) -> StoreResult<bool>;
    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()>;
    /// Sets both fields as given (None: no value).
    fn set_user_details(
        &self,
        user_id: &str,
        email: Option<&str>,
        display_name: Option<&str>,
    ) -> StoreResult<()>;
    fn record_login_unlock(&self, login_name: &str, at: i64) -> StoreResult<()>;
}

pub trait RoleReads {
    /// The role called `name` in the scope given: an org's own roles, or
    /// (None) the global ones.
    fn role(&self, org_id: Option<&str>, name: &str) -> StoreResult<Option<RoleDefinition>>;
    fn service(&self, name: &str) -> StoreResult<Option<Service>>;
    fn service_by_id(&self, id: &str) -> StoreResult<Option<Service>>;
    /// The service whose identifier URI this is (an exchange's `resource`).
    fn service_by_identifier(&self, identifier: &str) -> StoreResult<Option<Service>>;
    fn group(&self, org_id: &str, name: &str) -> StoreResult<Option<Group>>;
    fn rights_bundle(&self, name: &str) -> StoreResult<Option<RightsBundle>>;
    fn role_by_id(&self, id: &str) -> StoreResult<Option<RoleDefinition>>;
    /// Whether a global role is published to the org by name (not counting
    /// `published_to_all`).
    fn role_published_to(&self, role_id: &str, org_id: &str) -> StoreResult<bool>;
    /// Roles by name, oldest first; with an org, that org's and the global ones.
    fn roles(&self, filter: &DirectoryFilter) -> StoreResult<RolePage>;
    fn group_by_id(&self, id: &str) -> StoreResult<Option<GroupSummary>>;
    fn groups(&self, filter: &DirectoryFilter) -> StoreResult<GroupPage>;
    /// Services by name; the filter's org is ignored.
    fn services(&self, filter: &DirectoryFilter) -> StoreResult<ServicePage>;
    fn rights_bundle_by_id(&self, id: &str) -> StoreResult<Option<BundleSummary>>;
    /// Bundles by name; with an org, those published to it.
    fn rights_bundles(&self, filter: &DirectoryFilter) -> StoreResult<BundlePage>;
}

pub trait RoleWrites {
    fn insert_service(&self, service: &Service) -> StoreResult<()>;
    /// Fails with `Conflict` when another service has the identifier.
    fn set_service_identifier(&self, service_id: &str, identifier: Option<&str>)
        -> StoreResult<()>;
    /// Adds a permission to a service unless it has it.
    fn add_permission(&self, service_id: &str, name: &str) -> StoreResult<()>;
    /// Fails with `Missing` when a permission does not exist.
    fn insert_role(&self, role: &RoleDefinition) -> StoreResult<()>;
    /// Adds a `service:permission` to a role unless it holds it.
    fn add_role_permission(&self, role_id: &str, permission: &str) -> StoreResult<()>;
    /// False when the user held the role already.
    fn grant_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool>;
    /// False when the user did not hold the role.
    fn revoke_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool>;
    /// Publishes (true) or withdraws a global role; false when nothing changed.
    fn set_role_published(&self, role_id: &str, org_id: &str, published: bool)
        -> StoreResult<bool>;
    /// Replaces a role's permissions (`service:permission` ids).
    fn set_role_permissions(&self, role_id: &str, permissions: &[String]) -> StoreResult<()>;
    /// Deletes a role no user or group holds; false when one does (or it
    /// does not exist).
    fn delete_unused_role(&self, role_id: &str) -> StoreResult<bool>;
    fn insert_group(&self, group: &Group) -> StoreResult<()>;
    /// Adds (true) or removes a member; false when nothing changed.
    fn set_group_member(&self, group_id: &str, user_id: &str, member: bool) -> StoreResult<bool>;
    /// Grants (true) or takes back a role; false when nothing changed.
    fn set_group_role(&self, group_id: &str, role_id: &str, granted: bool) -> StoreResult<bool>;
    fn insert_rights_bundle(&self, bundle: &RightsBundle) -> StoreResult<()>;
    /// Replaces a bundle's permissions (`service:permission` ids).
    fn set_bundle_permissions(&self, bundle_id: &str, permissions: &[String]) -> StoreResult<()>;
    /// Adds a `service:permission` to a bundle unless it holds it.
    fn add_bundle_permission(&self, bundle_id: &str, permission: &str) -> StoreResult<()>;
    /// Publishes (true) or withdraws a bundle; false when nothing changed.
    fn set_bundle_published(
        &self,
        bundle_id: &str,
        org_id: &str,
        published: bool,
    ) -> StoreResult<bool>;
    /// Publishes to `org_id` every bundle marked for new orgs; how many.
    fn publish_new_org_bundles(&self, org_id: &str) -> StoreResult<u64>;
}

pub trait TokenReads {
    fn api_token_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>>;
    fn api_token(&self, id: &str) -> StoreResult<Option<ApiTokenListing>>;
    /// Oldest first, one page if the filter asks for one, and how many
    /// match in all.
    fn api_tokens(&self, filter: &ApiTokenFilter) -> StoreResult<ApiTokenPage>;
    /// The owner and scope of the token if it exists and is not revoked.
    fn active_api_token(&self, id: &str) -> StoreResult<Option<(String, TokenScope)>>;
    /// Whether the access token `jti` was revoked before its expiry.
    fn access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    fn introspection_client(&self, id: &str) -> StoreResult<Option<IntrospectionClient>>;
    fn oauth_client(&self, id: &str) -> StoreResult<Option<OAuthClient>>;
    /// What the registered client `client_id` (an OAuth client or a
    /// service account) asked ID tokens to be signed with, if it asked.
    fn client_id_token_alg(&self, client_id: &str) -> StoreResult<Option<String>>;
    /// A service's clients that are not revoked, oldest first.
    fn introspection_clients(&self, service_id: &str) -> StoreResult<Vec<IntrospectionClient>>;
    /// The token policy stored under `key` (an org id, or the default's).
    fn token_policy(&self, key: &str) -> StoreResult<Option<TokenPolicy>>;
    /// An org's live tokens that expire after `latest`, or never when
    /// `never_forbidden`, or are bound to no network when
    /// `unbound_forbidden`.
    fn tokens_beyond(
        &self,
        org_id: &str,
        latest: i64,
        never_forbidden: bool,
        unbound_forbidden: bool,
        now: i64,
    ) -> StoreResult<Vec<ApiTokenListing>>;
    /// Up to `limit` of an org's live tokens last used (or, never used,
    /// made) before `cutoff`.
    fn idle_tokens(
        &self,
        org_id: &str,
        cutoff: i64,
        limit: u32,
    ) -> StoreResult<Vec<ApiTokenListing>>;
    /// Every org's API tokens counted by state at `now`, in one read.
    fn api_token_counts(&self, now: i64) -> StoreResult<Vec<TokenCounts>>;
}

pub trait TokenWrites {
    fn insert_api_token(&self, token: &ApiTokenRecord) -> StoreResult<()>;
    /// Remembers which request made a token; `Duplicate` when that user's
    /// request made one already.
    fn insert_token_request(
        &self,
        user_id: &str,
        request_id: &str,
        token_id: &str,
    ) -> StoreResult<()>;
    /// False when the token was unknown or already revoked.
    fn revoke_api_token(&self, id: &str, at: i64) -> StoreResult<bool>;
    /// Marks a live token replaced by `successor` (an owner's rotation):
    /// its secret works until `works_until`, its expiry brought forward
    /// to it, or is revoked at `now` when that is no later. False when it
    /// was revoked, expired or replaced already.
    fn replace_api_token(
        &self,
        id: &str,
        successor: &str,
        works_until: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// Stamps an exchange from the address `client`; binds the token to
    /// the OAuth client `client_id` unless it is bound already.
    fn record_api_token_use(
        &self,
        id: &str,
        at: i64,
        client: &str,
        client_id: Option<&str>,
    ) -> StoreResult<()>;
    /// False when it was revoked already.
    fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<bool>;
    /// Forgets revocations of access tokens that expired before `now`.
    fn forget_expired_revocations(&self, now: i64) -> StoreResult<u64>;
    /// Records the first use of a DPoP proof, by a digest of its key and
    /// `jti`, remembered until `expires_at`; false (nothing changed) when
    /// it was recorded already, on whichever node.
    fn record_dpop_proof(&self, replay_key: &[u8; 32], expires_at: i64) -> StoreResult<bool>;
    /// Forgets the DPoP proofs remembered until before `before`; how many.
    fn forget_expired_dpop_proofs(&self, before: i64) -> StoreResult<u64>;
    fn insert_introspection_client(&self, client: &IntrospectionClient) -> StoreResult<()>;
    fn insert_oauth_client(&self, client: &OAuthClient) -> StoreResult<()>;
    /// Records the ID token algorithm a registered client (OAuth client or
    /// service account) asked for.
    fn set_client_id_token_alg(&self, client_id: &str, algorithm: &str) -> StoreResult<()>;
    /// Records the token a client took; false when it had one, or is deleted.
    fn bind_oauth_client_token(&self, client_id: &str, token_id: &str) -> StoreResult<bool>;
    /// False when it was unknown or deleted already.
    fn delete_oauth_client(&self, id: &str, at: i64) -> StoreResult<bool>;
    /// False when it was unknown or revoked already.
    fn revoke_introspection_client(&self, id: &str, at: i64) -> StoreResult<bool>;
    fn set_token_policy(&self, key: &str, policy: &TokenPolicy) -> StoreResult<()>;
}

pub trait SessionReads {
    fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
}

pub trait SessionWrites {
    fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// False when the session was unknown or already ended.
    fn end_session(&self, id: &str, at: i64) -> StoreResult<bool>;
    /// Ends every live session of a user but `keep`; how many.
    fn end_user_sessions(&self, user_id: &str, keep: Option<&str>, at: i64) -> StoreResult<u64>;
    /// Lets an enrol-only session do everything its user may.
    fn lift_enrol_only(&self, id: &str) -> StoreResult<bool>;
}

/// A user's second factor and recovery codes.
pub trait SecondFactorReads {
    fn second_factor(&self, user_id: &str) -> StoreResult<Option<SecondFactorRecord>>;
    /// Recovery codes not used yet.
    fn recovery_codes_left(&self, user_id: &str) -> StoreResult<u64>;
    /// Every second factor, pending ones too: what a reseal rewrites.
    fn all_second_factors(&self) -> StoreResult<Vec<SecondFactorRecord>>;
    /// The pending login kept under this digest of its handle, expired or
    /// not.
    fn pending_login(&self, handle_digest: &[u8; 32]) -> StoreResult<Option<PendingLogin>>;
    /// How many pending logins are kept, expired ones included.
    fn pending_login_count(&self) -> StoreResult<u64>;
}

pub trait SecondFactorWrites {
    /// Starts an enrolment: a pending secret, replacing a pending one;
    /// false (nothing changed) when one is enrolled already.
    fn begin_second_factor(&self, record: &SecondFactorRecord) -> StoreResult<bool>;
    /// Enrols the pending secret, accepting `step`, with these recovery
    /// code digests (replacing any); false if none was pending.
    fn enrol_second_factor(
        &self,
        user_id: &str,
        at: i64,
        step: i64,
        recovery_digests: &[[u8; 32]],
    ) -> StoreResult<bool>;
    /// Records `step` as accepted, only if it is later than the last one
    /// accepted: false for a replayed code.
    fn accept_second_factor_step(&self, user_id: &str, step: i64) -> StoreResult<bool>;
    /// Marks an unused recovery code used; false if none matched.
    fn use_recovery_code(&self, user_id: &str, digest: &[u8; 32], at: i64) -> StoreResult<bool>;
    /// Removes the second factor and its recovery codes; false if there
    /// was none.
    fn delete_second_factor(&self, user_id: &str) -> StoreResult<bool>;
    /// Replaces the stored secret of `user_id`'s second factor (sealed
    /// anew); false when there is none.
    fn replace_second_factor_secret(&self, user_id: &str, secret: &[u8]) -> StoreResult<bool>;
    /// Keeps a pending login; `Duplicate` when its handle's digest is
    /// taken.
    fn insert_pending_login(&self, login: &PendingLogin) -> StoreResult<()>;
    /// Uses up the pending login of this digest if it is still live at
    /// `now`: false when it was used, forgotten or had expired.
    fn use_pending_login(&self, handle_digest: &[u8; 32], now: i64) -> StoreResult<bool>;
    /// Forgets the pending logins that expired by `now`; how many.
    fn forget_expired_pending_logins(&self, now: i64) -> StoreResult<u64>;
    /// Forgets the `count` pending logins that expire soonest; how many.
    fn forget_oldest_pending_logins(&self, count: u64) -> StoreResult<u64>;
}

pub trait KeyReads {
    /// Signing keys not retired, newest first, of every algorithm.
    fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Every signing key, the retired ones too: what a (re)seal rewrites.
    fn all_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// A number that changes whenever the set of signing keys changes, in
    /// this process or another, so that a rotation reaches running servers.
    fn signing_key_generation(&self) -> StoreResult<i64>;
}

pub trait KeyWrites {
    fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    /// Retires every key but those named, at once.
    fn retire_signing_keys_except(&self, kids: &[String], at: i64) -> StoreResult<()>;
    /// Replaces the stored private key of `kid` (sealed anew); false when
    /// there is no such key.
    fn replace_signing_key_private(&self, kid: &str, private_key: &[u8]) -> StoreResult<bool>;
}

pub trait AuditReads {
    /// Events matching, newest first, with their sequence numbers.
    fn events(&self, filter: &EventFilter) -> StoreResult<Vec<(i64, Event)>>;
    /// The sequence number of the event with this id.
    fn event_seq(&self, id: &str) -> StoreResult<Option<i64>>;
    /// When the newest event (of type `kind`, if given) happened, in Unix
    /// milliseconds.
    fn newest_event_at(&self, kind: Option<&str>) -> StoreResult<Option<i64>>;
    /// The bytes the database's pages hold (its size less free pages).
    fn database_bytes_used(&self) -> StoreResult<u64>;
}

pub trait AuditWrites {
    fn insert_event(&self, event: &Event) -> StoreResult<()>;
    /// Deletes up to `batch` of the oldest events before `at_ms`; how many.
    fn delete_events_before(&self, at_ms: i64, batch: u32) -> StoreResult<u64>;
    /// Deletes up to `batch` of the oldest events of type `kind` with the
    /// outcome `success`; how many.
    fn delete_oldest_successes(&self, kind: &str, batch: u32) -> StoreResult<u64>;
}

pub trait HealthWrites {
    /// A write with no meaning but that it succeeds: the readiness check.
    fn record_health_probe(&self, at: i64) -> StoreResult<()>;
}

/// Everything that can be read.
pub trait ServiceAccountReads {
    /// A service account that is not deleted.
    fn service_account(&self, id: &str) -> StoreResult<Option<ServiceAccount>>;
    /// Service accounts that are not deleted, by org and name.
    fn service_accounts(&self, filter: &DirectoryFilter) -> StoreResult<ServiceAccountPage>;
    fn device_authorization_by_device_code(
        &self,
        digest: &[u8; 32],
    ) -> StoreResult<Option<DeviceAuthorization>>;
    fn device_authorization_by_user_code(
        &self,
        user_code: &str,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// The account's undecided request, if it has one.
    fn pending_device_authorization(
        &self,
        service_account_id: &str,
    ) -> StoreResult<Option<DeviceAuthorization>>;
}

pub trait ServiceAccountWrites {
    /// Its user (of kind service, with its roles) and its registration.
    fn insert_service_account(&self, account: &NewServiceAccount) -> StoreResult<()>;
    fn set_service_account_status(&self, id: &str, status: ServiceAccountStatus)
        -> StoreResult<()>;
    /// Marks it deleted and disables its user; false when it was not there.
    fn delete_service_account(&self, id: &str, at: i64) -> StoreResult<bool>;
    /// Replaces the roles granted to a user directly.
    fn set_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()>;
    /// Replaces the account's undecided request, if it has one.
    fn insert_device_authorization(&self, authorization: &DeviceAuthorization) -> StoreResult<()>;
    fn record_device_poll(&self, id: &str, at: i64, interval_s: i64) -> StoreResult<()>;
    /// False when it was decided already.
    fn decide_device_authorization(
        &self,
        id: &str,
        decision: DeviceDecision,
        at: i64,
    ) -> StoreResult<bool>;
    /// False when its token was taken already, or the grant was withdrawn.
    fn use_device_authorization(&self, id: &str, at: i64) -> StoreResult<bool>;
    /// Denies every request of the account not redeemed yet, pending or
    /// granted; how many.
    fn cancel_device_authorizations(&self, service_account_id: &str, at: i64) -> StoreResult<u64>;
    /// Revokes every live API token of a user; how many.
    fn revoke_user_api_tokens(&self, user_id: &str, at: i64) -> StoreResult<u64>;
    /// Marks a live token replaced (and so revoked); false when it was
    /// replaced or revoked already: another refresh won.
    fn rotate_api_token(&self, id: &str, at: i64) -> StoreResult<bool>;
}

pub trait ReminderWrites {
    fn insert_reminder(&self, reminder: &NewReminder) -> StoreResult<()>;
    /// Claims up to `limit` reminders due at `now` (their token live, not
    /// claimed by another run, not sent, not given up, their owner within
    /// `per_owner`) until `claimed_until`, and returns them.
    fn claim_due_reminders(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
        per_owner: OwnerMailLimit,
    ) -> StoreResult<Vec<DueReminder>>;
    fn record_reminder_sent(&self, token_id: &str, at: i64) -> StoreResult<()>;
    /// A failed send: tried again at `next_attempt_at`, or given up when
    /// that is None.
    fn record_reminder_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
}

pub trait LeakNoticeWrites {
    fn insert_leak_notice(&self, notice: &NewLeakNotice) -> StoreResult<()>;
    /// Claims up to `limit` leak notices due at `now` (not claimed by
    /// another run, not sent, not given up) until `claimed_until`, and
    /// returns them, earliest report first.
    fn claim_due_leak_notices(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueLeakNotice>>;
    fn record_leak_notice_sent(&self, token_id: &str, at: i64) -> StoreResult<()>;
    /// A failed send: tried again at `next_attempt_at`, or given up when
    /// that is None.
    fn record_leak_notice_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
}

pub trait ReminderReads {
    /// The reminder a token asked for, as (address, seconds before expiry),
    /// whether sent yet or not.
    fn reminder_of(&self, token_id: &str) -> StoreResult<Option<(String, i64)>>;
    /// An org's live tokens that expire by `until`, soonest first.
    fn tokens_expiring(
        &self,
        org_id: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Vec<ExpiringToken>>;
}

pub trait WebhookReads {
    /// Webhooks by creation; with `org_id`, that org's only.
    fn webhooks(&self, org_id: Option<&str>) -> StoreResult<Vec<WebhookRecord>>;
    fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRecord>>;
    /// A webhook's deliveries, newest first.
    fn webhook_deliveries(&self, webhook_id: &str, limit: u32)
        -> StoreResult<Vec<WebhookDelivery>>;
    /// Whether a delivery not claimed by a live run is due at `now`.
    fn webhook_delivery_due(&self, now: i64) -> StoreResult<bool>;
    /// The newest event's sequence number (0 for an empty trail).
    fn newest_event_seq(&self) -> StoreResult<i64>;
    /// Events after `after` up to `upto` of one of `kinds` (in `org_id`,
    /// if given), oldest first, at most `limit`.
    fn events_for_webhook(
        &self,
        after: i64,
        upto: i64,
        kinds: &[String],
        org_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Event)>>;
    /// Live tokens (in `org_id`, if given) expiring after `now` and by
    /// `until` that webhook `webhook_id` was not told of yet.
    fn tokens_expiring_untold(
        &self,
        webhook_id: &str,
        org_id: Option<&str>,
        now: i64,
        until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiringTokenDetail>>;
}

pub trait WebhookWrites {
    fn insert_webhook(&self, webhook: &WebhookRecord) -> StoreResult<()>;
    /// Deletes it with its deliveries; false when there was none.
    fn delete_webhook(&self, id: &str) -> StoreResult<bool>;
    fn set_webhook_cursor(&self, id: &str, cursor: i64) -> StoreResult<()>;
    /// Queues a delivery, first tried at `next_attempt_at`; false when it
    /// was queued before (a `token.expiring` of the same token).
    fn insert_webhook_delivery(
        &self,
        delivery: &NewWebhookDelivery,
        next_attempt_at: i64,
    ) -> StoreResult<bool>;
    /// Claims up to `limit` deliveries due at `now` (not claimed by a live
    /// run) until `claimed_until`.
    fn claim_due_webhook_deliveries(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    fn record_webhook_delivered(&self, id: &str, at: i64, status: i64) -> StoreResult<()>;
    /// A failed attempt: tried again at `next_attempt_at`, or given up
    /// when that is None.
    fn record_webhook_failure(
        &self,
        id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        status: Option<i64>,
        error: &str,
    ) -> StoreResult<()>;
    /// Replaces the stored secret (sealed anew); false when there is none.
    fn replace_webhook_secret(&self, id: &str, secret: &[u8]) -> StoreResult<bool>;
}

pub trait Reads:
    AccountReads
    + RoleReads
    + TokenReads
    + SessionReads
    + SecondFactorReads
    + KeyReads
    + AuditReads
    + ServiceAccountReads
    + ReminderReads
    + WebhookReads
{
}
impl<T> Reads for T where
    T: AccountReads
        + RoleReads
        + TokenReads
        + SessionReads
        + SecondFactorReads
        + KeyReads
        + AuditReads
        + ServiceAccountReads
        + ReminderReads
        + WebhookReads
        + ?Sized
{
}

/// Reads and writes inside one transaction.
pub trait Transaction:
    Reads
    + AccountWrites
    + RoleWrites
    + TokenWrites
    + SessionWrites
    + SecondFactorWrites
    + KeyWrites
    + HealthWrites
    + AuditWrites
    + ServiceAccountWrites
    + ReminderWrites
    + LeakNoticeWrites
    + WebhookWrites
{
}
impl<T> Transaction for T where
    T: Reads
        + AccountWrites
        + RoleWrites
        + TokenWrites
        + SessionWrites
        + SecondFactorWrites
        + KeyWrites
        + HealthWrites
        + AuditWrites
        + ServiceAccountWrites
        + ReminderWrites
        + LeakNoticeWrites
        + WebhookWrites
        + ?Sized
{
}

/// How a committed write must survive a power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before `write` returns: everything a response acknowledges.
    Durable,
    /// May be lost with the last moments before a power loss, but never
    /// torn; and given up rather than waited for when the database is busy
    /// (the readiness probe).
    Relaxed,
}

/// A write: run in one transaction, and run again from the start if the
/// backend has to retry the transaction (`StoreError::Retry`), so it may
/// be called more than once and must leave nothing behind but through `tx`.
pub type WriteJob = Box<dyn FnMut(&dyn Transaction) -> StoreResult<()> + Send>;

/// One worker's handle on the database.
pub trait Storage: Send {
    fn reads(&self) -> &dyn Reads;
    /// Runs `job` in one transaction; commits it with `durability` when the
    /// job succeeds, rolls it back otherwise.
    /// A shared borrow is enough: the job goes to the writer, and
    /// authentication, which handlers run with one, records DPoP proofs.
    fn run_write(&self, job: WriteJob, durability: Durability) -> StoreResult<()>;
    /// Like `run_write`, but returns once the job is queued: the caller
    /// awaits the commit (and must, before acknowledging anything).
    fn submit_write(&self, job: WriteJob, durability: Durability) -> StoreResult<PendingCommit>;
    /// Queues `events` for a later durable commit and returns at once: for
    /// events no answer waits for (refusals'). The backend keeps them until
    /// a commit holds them, trying again while the database cannot take
    /// them; it waits while its queue is full.
    fn queue_events(&self, events: Vec<Event>) -> StoreResult<()>;
    /// How long the writes have been waiting for another process's write
    /// lock, if they are.
    fn writes_waiting_for_lock(&self) -> Option<Duration>;
    /// Counts the busy timeout of the writes to come from `received` (when
    /// the request that makes them arrived) rather than from each write;
    /// None again once the request is answered.
    fn request_received(&mut self, received: Option<Instant>);
    /// Makes the reads until `end_snapshot` one read transaction: one view
    /// of the database, and one look at what other connections committed
    /// instead of one per statement (in WAL mode each new look at a changed
    /// database starts the connection's page cache afresh). Snapshots
    /// nest: the read transaction ends with the outermost `end_snapshot`.
    fn begin_snapshot(&self) -> StoreResult<()>;
    fn end_snapshot(&self);
    /// What the backend's writer reports about itself.
    fn writer_stats(&self) -> Arc<WriterStats>;
}

/// Where handles come from: one per worker, each with its own connection.
pub trait Database: Send + Sync {
    fn connect(&self) -> StoreResult<Box<dyn Storage>>;
    /// Tells the other processes serving this database, without waiting
    /// and without a guarantee: what they keep in memory only (the login
    /// throttle, refusal counts) follows, lost if a process is down. A
    /// backend whose other processes keep no such state tells no one
    /// (SQLite's are admin commands).
    fn tell_others(&self, _notice: &ClusterNotice) {}
    /// Has `handler` hear what the other processes tell, from now on; the
    /// first handler set stays.
    fn hear_others(&self, _handler: NoticeHandler) {}
}

/// What one process tells the others on its database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClusterNotice {
    /// A login for `name` from `source` was refused.
    LoginFailed {
        name: String,
        source: IpAddr,
        at: i64,
    },
    LoginSucceeded {
        name: String,
        source: IpAddr,
    },
    /// A leak report from `client` was taken (its bucket pays one).
    LeakReportAdmitted {
        client: IpAddr,
        at_ms: i64,
    },
    /// A refusal was recorded one by one (not counted into a summary).
    RefusalRecorded {
        event_kind: String,
        client_ip: Option<String>,
        target_id: Option<String>,
        at: i64,
    },
}

/// Hears what other processes tell; it runs on the backend's thread, so
/// it must be quick and never block.
pub type NoticeHandler = Box<dyn Fn(ClusterNotice) + Send + Sync>;

impl dyn Storage {
    /// Runs `work` in one durable transaction and returns its result.
    pub fn write<T: Send + 'static>(
        &self,
        work: impl FnMut(&dyn Transaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.write_with(Durability::Durable, work)
    }

    pub fn write_with<T: Send + 'static>(
        &self,
        durability: Durability,
        mut work: impl FnMut(&dyn Transaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        // The job may run on another thread, more than once if the backend
        // retries it: the last run's value is the committed one.
        let slot = Arc::new(Mutex::new(None));
        let result = Arc::clone(&slot);
        let job: WriteJob = Box::new(move |tx| {
            let value = work(tx)?;
            *result.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            Ok(())
        });
        self.run_write(job, durability)?;
        let value = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        value.ok_or_else(|| StoreError::Failed("a committed write returned no result".into()))
    }
}
