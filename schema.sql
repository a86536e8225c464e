-- The tokend schema: the one source of truth for the database layout.
--
-- The binary embeds this file. Each `-- migration N` section moves a database
-- from user_version N-1 to N; a database is migrated by running, in order and
-- in one transaction each, the sections above its PRAGMA user_version.
-- Sections are append-only: never edit one that has shipped.
--
-- Times are Unix seconds (UTC). Ids are UUIDs in text form.

-- migration 1
CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    is_provider INTEGER NOT NULL DEFAULT 0 CHECK (is_provider IN (0, 1)),
    created_at  INTEGER NOT NULL
);

-- At most one provider org (`System`).
CREATE UNIQUE INDEX orgs_one_provider ON orgs (is_provider) WHERE is_provider = 1;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL COLLATE NOCASE,
    -- argon2id PHC string; the plain password is never stored.
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

-- Roles are global: the same role can be granted in any org, except those
-- marked provider_only, which only System users may hold.
CREATE TABLE roles (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    provider_only INTEGER NOT NULL DEFAULT 0 CHECK (provider_only IN (0, 1))
);

CREATE TABLE role_rights (
    role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    right_name TEXT NOT NULL,
    PRIMARY KEY (role_id, right_name)
) WITHOUT ROWID;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
) WITHOUT ROWID;

-- Long-lived API tokens. Only the blake3 digest of the secret is kept.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    digest       BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,          -- NULL: never expires
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Login sessions; an access token issued at login names its session (`sid`)
-- and stops working when the session ends.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER
);

-- Access-token signing keys. The private key never leaves this table except
-- into the signer's memory.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

-- migration 2
-- Bumped by every change to signing_keys, so that a server notices a key
-- added or retired by another process (the admin CLI) and reloads.
CREATE TABLE signing_key_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO signing_key_generation (id, generation) VALUES (1, 1);

CREATE TRIGGER signing_keys_inserted AFTER INSERT ON signing_keys
BEGIN
    UPDATE signing_key_generation SET generation = generation + 1;
END;
CREATE TRIGGER signing_keys_updated AFTER UPDATE ON signing_keys
BEGIN
    UPDATE signing_key_generation SET generation = generation + 1;
END;
CREATE TRIGGER signing_keys_deleted AFTER DELETE ON signing_keys
BEGIN
    UPDATE signing_key_generation SET generation = generation + 1;
END;

-- When an admin last lifted the login lock of a `user@org` name (lower
-- case): a running server drops its in-memory lock for the name when this
-- is newer than the lock.
CREATE TABLE login_unlocks (
    login_name  TEXT PRIMARY KEY,
    unlocked_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row the readiness check rewrites, to prove the database takes writes.
CREATE TABLE health_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 0);

-- migration 3
-- Services and their permissions. tokend is itself the service `tokend`
-- (a fixed id); its permissions are the rights it checks, and first start
-- keeps them complete. Other services are registered by admins.
CREATE TABLE services (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
);

CREATE TABLE permissions (
    service_id   TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name         TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (service_id, name)
) WITHOUT ROWID;

INSERT INTO services (id, name, created_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'tokend', 0);
INSERT INTO permissions (service_id, name)
SELECT '00000000-0000-4000-8000-000000000001', name FROM (
    SELECT 'token.manage-own' AS name UNION ALL SELECT 'token.manage-all'
    UNION ALL SELECT 'user.view' UNION ALL SELECT 'user.manage'
    UNION ALL SELECT 'group.view' UNION ALL SELECT 'group.manage'
    UNION ALL SELECT 'role.view' UNION ALL SELECT 'role.manage'
    UNION ALL SELECT 'global-role.view' UNION ALL SELECT 'global-role.manage'
    UNION ALL SELECT 'rights-bundle.view' UNION ALL SELECT 'rights-bundle.manage'
    UNION ALL SELECT 'org.view' UNION ALL SELECT 'org.manage'
    UNION ALL SELECT 'audit.view'
);

-- Roles become bundles of permissions: global (org_id NULL, defined by the
-- provider) or local to one org; an org role (service_id NULL) may hold any
-- service's permissions, a service role only its service's. Names are unique
-- among global roles and within an org.
CREATE TABLE roles_with_scope (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL COLLATE NOCASE,
    org_id        TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    service_id    TEXT REFERENCES services (id) ON DELETE CASCADE,
    provider_only INTEGER NOT NULL DEFAULT 0 CHECK (provider_only IN (0, 1)),
    created_at    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO roles_with_scope (id, name, provider_only)
SELECT id, name, provider_only FROM roles;

CREATE TABLE role_permissions (
    role_id    TEXT NOT NULL REFERENCES roles_with_scope (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    permission TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (role_id, service_id, permission),
    FOREIGN KEY (service_id, permission)
        REFERENCES permissions (service_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

-- The rights of migration 1, by their display names, become permissions;
-- those the model no longer has (changing one's own password needs no
-- right; viewing tokens comes with managing them) are dropped.
INSERT INTO role_permissions (role_id, service_id, permission)
SELECT role_id, '00000000-0000-4000-8000-000000000001', permission FROM (
    SELECT role_id, CASE right_name
        WHEN 'Manage user''s own API token' THEN 'token.manage-own'
        WHEN 'Manage all users'' API tokens' THEN 'token.manage-all'
        WHEN 'User: View' THEN 'user.view'
        WHEN 'User: Manage' THEN 'user.manage'
        WHEN 'Group: View' THEN 'group.view'
        WHEN 'Role: View' THEN 'role.view'
        WHEN 'Global Role: View' THEN 'global-role.view'
        WHEN 'Rights Bundle: View' THEN 'rights-bundle.view'
        WHEN 'Organization: View All' THEN 'org.view'
        WHEN 'Organization: Manage' THEN 'org.manage'
    END AS permission
    FROM role_rights
) WHERE permission IS NOT NULL;

DROP TABLE role_rights;
DROP TABLE roles;
ALTER TABLE roles_with_scope RENAME TO roles;
CREATE UNIQUE INDEX roles_global_name ON roles (name) WHERE org_id IS NULL;
CREATE UNIQUE INDEX roles_org_name ON roles (org_id, name) WHERE org_id IS NOT NULL;

-- Users: contact details, and a switch an admin turns off.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- A token's scope as JSON; NULL means all of its user's roles.
ALTER TABLE api_tokens ADD COLUMN scope TEXT;

-- Groups in an org: members hold the roles granted to the group, for as
-- long as they are members.
CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL COLLATE NOCASE,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
) WITHOUT ROWID;

-- Rights bundles: published to orgs, they cap which permissions the org may
-- use at all. In a tenant org a role grants only what a bundle published to
-- the org holds; the provider org is not capped. The Default Rights Bundle
-- (a fixed id) holds tokend's permissions and is published to every org,
-- existing and new; other services' permissions reach tenants only through
-- a bundle the provider publishes.
CREATE TABLE rights_bundles (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    publish_to_new_orgs INTEGER NOT NULL DEFAULT 0 CHECK (publish_to_new_orgs IN (0, 1)),
    created_at          INTEGER NOT NULL
);

CREATE TABLE bundle_permissions (
    bundle_id  TEXT NOT NULL REFERENCES rights_bundles (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    permission TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (bundle_id, service_id, permission),
    FOREIGN KEY (service_id, permission)
        REFERENCES permissions (service_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE bundle_orgs (
    bundle_id TEXT NOT NULL REFERENCES rights_bundles (id) ON DELETE CASCADE,
    org_id    TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (bundle_id, org_id)
) WITHOUT ROWID;
CREATE INDEX bundle_orgs_by_org ON bundle_orgs (org_id);

INSERT INTO rights_bundles (id, name, publish_to_new_orgs, created_at)
VALUES ('00000000-0000-4000-8000-000000000002', 'Default Rights Bundle', 1, 0);
INSERT INTO bundle_permissions (bundle_id, service_id, permission)
SELECT '00000000-0000-4000-8000-000000000002', service_id, name FROM permissions
WHERE service_id = '00000000-0000-4000-8000-000000000001';
INSERT INTO bundle_orgs (bundle_id, org_id)
SELECT '00000000-0000-4000-8000-000000000002', id FROM orgs WHERE is_provider = 0;

-- Global roles reach tenant orgs when published: to every org (the built-in
-- ones), or to the orgs named here. The provider org uses every global role.
ALTER TABLE roles ADD COLUMN published_to_all INTEGER NOT NULL DEFAULT 0
    CHECK (published_to_all IN (0, 1));
UPDATE roles SET published_to_all = 1 WHERE org_id IS NULL;

CREATE TABLE role_orgs (
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    org_id  TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, org_id)
) WITHOUT ROWID;

-- Where each token was last used from.
ALTER TABLE api_tokens ADD COLUMN last_used_ip TEXT;

-- migration 4
-- The audit trail: one row per action, committed with the action itself.
-- seq orders events and pages them (keyset); properties is JSON.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at_ms       INTEGER NOT NULL,
    type        TEXT NOT NULL,
    org_id      TEXT,
    actor_id    TEXT,
    actor_name  TEXT,
    target_type TEXT,
    target_id   TEXT,
    target_name TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    client_ip   TEXT,
    properties  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_org ON events (org_id, seq);
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_target ON events (target_id, seq);
-- since/until, and the retention pass.
CREATE INDEX events_by_time ON events (at_ms);

-- migration 5
-- seq never reused, even after a prune emptied the trail: a follower that
-- resumes after a seq must not miss the events written since.
CREATE TABLE events_v5 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    at_ms       INTEGER NOT NULL,
    type        TEXT NOT NULL,
    org_id      TEXT,
    actor_id    TEXT,
    actor_name  TEXT,
    target_type TEXT,
    target_id   TEXT,
    target_name TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    client_ip   TEXT,
    properties  TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO events_v5 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE INDEX events_by_org ON events (org_id, seq);
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_target ON events (target_id, seq);
CREATE INDEX events_by_time ON events (at_ms);

-- migration 6
-- Bumped by every change to what an account is (its user, org, roles,
-- groups, the permissions they hold, the bundles capping its org): a
-- process may keep accounts it read for as long as this has not moved,
-- and reads it on every request, so a change counts at once.
CREATE TABLE directory_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO directory_generation (id, generation) VALUES (1, 1);
CREATE TRIGGER orgs_inserted_directory AFTER INSERT ON orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER orgs_updated_directory AFTER UPDATE ON orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER orgs_deleted_directory AFTER DELETE ON orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER users_inserted_directory AFTER INSERT ON users
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER users_updated_directory AFTER UPDATE ON users
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER users_deleted_directory AFTER DELETE ON users
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER roles_inserted_directory AFTER INSERT ON roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER roles_updated_directory AFTER UPDATE ON roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER roles_deleted_directory AFTER DELETE ON roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_permissions_inserted_directory AFTER INSERT ON role_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_permissions_updated_directory AFTER UPDATE ON role_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_permissions_deleted_directory AFTER DELETE ON role_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER user_roles_inserted_directory AFTER INSERT ON user_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER user_roles_updated_directory AFTER UPDATE ON user_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER user_roles_deleted_directory AFTER DELETE ON user_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER services_inserted_directory AFTER INSERT ON services
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER services_updated_directory AFTER UPDATE ON services
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER services_deleted_directory AFTER DELETE ON services
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER permissions_inserted_directory AFTER INSERT ON permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER permissions_updated_directory AFTER UPDATE ON permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER permissions_deleted_directory AFTER DELETE ON permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER groups_inserted_directory AFTER INSERT ON groups
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER groups_updated_directory AFTER UPDATE ON groups
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER groups_deleted_directory AFTER DELETE ON groups
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_members_inserted_directory AFTER INSERT ON group_members
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_members_updated_directory AFTER UPDATE ON group_members
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_members_deleted_directory AFTER DELETE ON group_members
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_roles_inserted_directory AFTER INSERT ON group_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_roles_updated_directory AFTER UPDATE ON group_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER group_roles_deleted_directory AFTER DELETE ON group_roles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER rights_bundles_inserted_directory AFTER INSERT ON rights_bundles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER rights_bundles_updated_directory AFTER UPDATE ON rights_bundles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER rights_bundles_deleted_directory AFTER DELETE ON rights_bundles
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_permissions_inserted_directory AFTER INSERT ON bundle_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_permissions_updated_directory AFTER UPDATE ON bundle_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_permissions_deleted_directory AFTER DELETE ON bundle_permissions
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_orgs_inserted_directory AFTER INSERT ON bundle_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_orgs_updated_directory AFTER UPDATE ON bundle_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER bundle_orgs_deleted_directory AFTER DELETE ON bundle_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_orgs_inserted_directory AFTER INSERT ON role_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_orgs_updated_directory AFTER UPDATE ON role_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;
CREATE TRIGGER role_orgs_deleted_directory AFTER DELETE ON role_orgs
BEGIN
    UPDATE directory_generation SET generation = generation + 1;
END;

-- migration 7
-- Access tokens revoked before their expiry (RFC 7009), by jti, kept until
-- they would have expired.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

-- migration 8
-- Exchanges of a token with this set also return an OpenID Connect ID token.
ALTER TABLE api_tokens ADD COLUMN openid INTEGER NOT NULL DEFAULT 0 CHECK (openid IN (0, 1));

-- migration 9
-- Credentials a service's resource server presents to introspect tokens
-- (RFC 7662): the client id, and a digest of its secret, never the secret.
CREATE TABLE introspection_clients (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    secret_digest BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX introspection_clients_by_service ON introspection_clients (service_id);

-- migration 10
-- OAuth clients registered by users, Cloud Director style: each may take
-- one API token through the JWT-bearer grant (token_id once it has).
CREATE TABLE oauth_clients (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    token_id   TEXT REFERENCES api_tokens (id),
    deleted_at INTEGER
);
CREATE INDEX oauth_clients_by_user ON oauth_clients (user_id);

-- migration 11
-- Service accounts, Cloud Director style: API-only identities of an org.
-- Each is a users row of kind 'service' (no password: it never logs in,
-- and holds roles like any user), with its registration and its status
-- here. An admin grants it access through the RFC 8628 device flow.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'service'));
CREATE TABLE service_accounts (
    user_id          TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    software_id      TEXT NOT NULL,
    software_version TEXT,
    client_uri       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('CREATED', 'REQUESTED', 'GRANTED', 'ACTIVE')),
    created_at       INTEGER NOT NULL,
    deleted_at       INTEGER
);
-- A service account's API token is replaced at each refresh; the one it
-- replaced is refused, and presenting it again reveals a stolen token.
ALTER TABLE api_tokens ADD COLUMN rotated_at INTEGER;
-- RFC 8628 device authorizations: the device code only as a digest; the
-- user code (short, single use) is what an admin looks up.
CREATE TABLE device_authorizations (
    id                 TEXT PRIMARY KEY,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (user_id) ON DELETE CASCADE,
    device_code_digest BLOB NOT NULL UNIQUE CHECK (length(device_code_digest) = 32),
    user_code          TEXT NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    interval_s         INTEGER NOT NULL,
    last_polled_at     INTEGER,
    decision           TEXT CHECK (decision IN ('granted', 'denied')),
    decided_at         INTEGER,
    -- The grant was looked up and used (a user code works once), or its
    -- token taken (a device code works once).
    used_at            INTEGER
);
CREATE INDEX device_authorizations_by_account ON device_authorizations (service_account_id);

-- migration 12
-- Token lifetime policy: the provider-wide default (org_id '*') and each
-- org's own. A NULL field is inherited (an org's from the default, the
-- default's from tokend's built-in rules); lifetimes are kept as the admin
-- wrote them ("30days", "never"). max_idle 'none' lifts an inherited limit.
CREATE TABLE token_policies (
    org_id      TEXT PRIMARY KEY,
    default_ttl TEXT,
    max_ttl     TEXT,
    allow_never INTEGER CHECK (allow_never IN (0, 1)),
    max_idle    TEXT
);

-- migration 13
-- E-mail reminders before a token expires: one per token, sent once. A run
-- claims due reminders for a while (claimed_until) in one transaction, so
-- two runs never send the same one; the send is recorded after it
-- succeeded. Failures are retried with backoff, then given up (failed_at).
CREATE TABLE token_reminders (
    token_id        TEXT PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    before_s        INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    claimed_until   INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    failed_at       INTEGER
);
CREATE INDEX token_reminders_pending ON token_reminders (due_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

-- migration 14
-- A password change or a disable ends the user's sessions: find them by user.
CREATE INDEX sessions_live_by_user ON sessions (user_id) WHERE ended_at IS NULL;

-- migration 15
-- A form that creates an API token carries a request id, so that sending
-- the same form again (a reload, the back button) makes no second token.
CREATE TABLE token_requests (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    token_id   TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, request_id)
);

-- migration 16
-- Keys are published before they sign: a rotated key is in the JWKS at
-- once and signs from activates_at on, so verifiers have fetched it first.
-- Keys made before this signed from their creation.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER;
UPDATE signing_keys SET activates_at = created_at;
-- A service's identifier URI: what an exchange names as `resource` or
-- `audience` (RFC 8707) to get access tokens for that service's `aud`.
ALTER TABLE services ADD COLUMN identifier TEXT;
CREATE UNIQUE INDEX services_by_identifier ON services (identifier)
    WHERE identifier IS NOT NULL;
-- The client an API token was issued to, or first exchanged by: its ID
-- tokens keep that `aud`/`azp`, and another client cannot use it.
ALTER TABLE api_tokens ADD COLUMN client_id TEXT;
-- What a registered client asks ID tokens to be signed with (OpenID
-- Connect Registration's id_token_signed_response_alg); NULL: RS256.
ALTER TABLE oauth_clients ADD COLUMN id_token_alg TEXT
    CHECK (id_token_alg IN ('RS256', 'ES256'));
ALTER TABLE service_accounts ADD COLUMN id_token_alg TEXT
    CHECK (id_token_alg IN ('RS256', 'ES256'));

-- migration 17
-- A second factor for password logins (RFC 6238 TOTP). One per user: the
-- shared secret, pending until the user proves it with a code
-- (enrolled_at), and the last time step a code was accepted for, so that
-- no code is accepted twice. The secret is kept as the domain hands it
-- over (`secret`), so it can be sealed at rest without a schema change.
CREATE TABLE second_factors (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    enrolled_at INTEGER,
    last_step   INTEGER
);
-- One-time recovery codes, as BLAKE3 digests only: high-entropy secrets
-- like API tokens, so a fast digest is enough.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest  BLOB NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, digest)
);
-- A session opened by a user who must enrol a second factor and has not:
-- it may only enrol and log out.
ALTER TABLE sessions ADD COLUMN enrol_only INTEGER NOT NULL DEFAULT 0
    CHECK (enrol_only IN (0, 1));
-- Who must log in with a second factor: nobody, admins or everyone; NULL
-- inherits the provider's default.
ALTER TABLE token_policies ADD COLUMN second_factor TEXT
    CHECK (second_factor IN ('nobody', 'admins', 'everyone'));

-- migration 18
-- A token rotated by its owner: the id of the token that replaced it. Its
-- secret works on until its expiry, which the rotation moved to the end
-- of the grace the owner chose (or it was revoked at once); a replaced
-- token is never rotated again.
ALTER TABLE api_tokens ADD COLUMN replaced_by TEXT;
-- The longest grace a rotation may give the old secret; NULL inherits.
ALTER TABLE token_policies ADD COLUMN max_rotation_grace TEXT;

-- migration 19
-- The networks an API token may be exchanged from: a JSON array of
-- canonical CIDRs; NULL: any network (every token made before).
ALTER TABLE api_tokens ADD COLUMN bound_cidrs TEXT;
-- Whether every new token must be bound to networks; NULL inherits the
-- provider's default.
ALTER TABLE token_policies ADD COLUMN require_bound_cidrs INTEGER
    CHECK (require_bound_cidrs IN (0, 1));

-- migration 20
-- Webhooks: an HTTPS endpoint told of token events. `org_id` NULL: every
-- org's (a System Administrator's); else that org's events only. `events`
-- is the JSON array of event types it wants; `expiring_days` the N of
-- `token.expiring`. The signing secret is kept sealed under the
-- key-encryption key. `cursor` is the audit trail's `seq` up to which
-- events were turned into deliveries, so none is lost across a restart.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    expiring_days INTEGER,
    secret        BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    cursor        INTEGER NOT NULL
);
-- One delivery of one event to one webhook: the exact body sent, kept so
-- every retry sends the same bytes under the same id; retried at
-- `next_attempt_at` until delivered or given up (`failed_at`).
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    token_id        TEXT,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_status     INTEGER,
    last_error      TEXT
);
-- `token.expiring` is sent once per token and webhook.
CREATE UNIQUE INDEX webhook_deliveries_expiring_once
    ON webhook_deliveries (webhook_id, token_id) WHERE event_type = 'token.expiring';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);

-- migration 21
-- DPoP proofs seen (RFC 9449 §11.1), by a digest of the proof's key and
-- its `jti`: a proof used on one node is refused on every other. Kept a
-- while past the time any node would still accept the proof, then
-- forgotten by the housekeeping pass.
CREATE TABLE dpop_proofs (
    replay_key BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
-- Console logins whose password was right, waiting for the second factor,
-- by a digest of the handle the browser holds (never the handle): the
-- second step may reach another node. Used once; forgotten once expired.
CREATE TABLE pending_logins (
    handle_digest BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    org_name      TEXT NOT NULL,
    source        TEXT NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX pending_logins_by_expiry ON pending_logins (expires_at);

-- migration 22
-- The owner's notice of a leaked token, written in the commit that
-- revoked it, so that neither a restart nor a relay that is down loses
-- it. Sent as reminders are: claimed by one run at a time
-- (claimed_until), recorded once sent, retried with backoff, then given
-- up (failed_at). `url` and `source` are where the report said it was
-- found, as capped for the trail; never the secret.
CREATE TABLE leak_notices (
    token_id        TEXT PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    reported_at     INTEGER NOT NULL,
    url             TEXT,
    source          TEXT,
    claimed_until   INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    failed_at       INTEGER
);
CREATE INDEX leak_notices_pending ON leak_notices (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
