-- The tokend schema for PostgreSQL: the same tables, columns and rules as
-- schema.sql, in PostgreSQL's terms, under the same version numbers.
--
-- The binary embeds this file. A PostgreSQL database starts at the
-- baseline, version 20 of schema.sql, in one piece; each later
-- `-- migration N` section moves it from version N-1 to N, as the section
-- of the same number in schema.sql moves a SQLite file. Sections are
-- append-only: never edit one that has shipped. The version is kept in
-- `schema_version`.
--
-- Differences from the SQLite schema, all of form, none of meaning:
-- - 0/1 flags are BOOLEAN, blobs BYTEA, integers BIGINT.
-- - SQLite's COLLATE NOCASE folds ASCII letters only; `tokend_fold`
--   (lower() under the "C" collation) folds exactly those, and the unique
--   indexes and name lookups go through it.
-- - The generation counters are bumped by statement triggers, which also
--   tell the other nodes (NOTIFY) that the directory or the keys changed.
-- - events.seq is an identity column; events are inserted under the
--   cluster's write lock (store::postgres), so seq follows commit order.
-- - api_tokens, introspection_clients, signing_keys, token_reminders and
--   webhook_deliveries have `seq`, an identity column, where SQLite
--   orders their rows by its implicit rowid where nothing else does: both
--   are the order the rows were inserted in.

-- baseline 20
CREATE TABLE schema_version (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

CREATE FUNCTION tokend_fold(name TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(name COLLATE "C") $$;

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    is_provider BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_by_name ON orgs (tokend_fold(name));
CREATE UNIQUE INDEX orgs_one_provider ON orgs (is_provider) WHERE is_provider;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL,
    -- argon2id PHC string; the plain password is never stored.
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    email         TEXT,
    display_name  TEXT,
    disabled_at   BIGINT,
    kind          TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'service'))
);
CREATE UNIQUE INDEX users_by_name ON users (org_id, tokend_fold(name));

CREATE TABLE services (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    identifier TEXT
);
CREATE UNIQUE INDEX services_by_name ON services (tokend_fold(name));
CREATE UNIQUE INDEX services_by_identifier ON services (identifier)
    WHERE identifier IS NOT NULL;

-- `name` is stored as first written; role and bundle permissions refer to
-- it in that spelling (a foreign key compares exactly).
CREATE TABLE permissions (
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (service_id, name)
);
CREATE UNIQUE INDEX permissions_by_name ON permissions (service_id, tokend_fold(name));

CREATE TABLE roles (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    org_id           TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    service_id       TEXT REFERENCES services (id) ON DELETE CASCADE,
    provider_only    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL DEFAULT 0,
    published_to_all BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX roles_global_name ON roles (tokend_fold(name)) WHERE org_id IS NULL;
CREATE UNIQUE INDEX roles_org_name ON roles (org_id, tokend_fold(name)) WHERE org_id IS NOT NULL;

CREATE TABLE role_permissions (
    role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, service_id, permission),
    FOREIGN KEY (service_id, permission)
        REFERENCES permissions (service_id, name) ON DELETE CASCADE
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE role_orgs (
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    org_id  TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, org_id)
);

CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_by_name ON groups (org_id, tokend_fold(name));

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);

CREATE TABLE rights_bundles (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    publish_to_new_orgs BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX rights_bundles_by_name ON rights_bundles (tokend_fold(name));

CREATE TABLE bundle_permissions (
    bundle_id  TEXT NOT NULL REFERENCES rights_bundles (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (bundle_id, service_id, permission),
    FOREIGN KEY (service_id, permission)
        REFERENCES permissions (service_id, name) ON DELETE CASCADE
);

CREATE TABLE bundle_orgs (
    bundle_id TEXT NOT NULL REFERENCES rights_bundles (id) ON DELETE CASCADE,
    org_id    TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    PRIMARY KEY (bundle_id, org_id)
);
CREATE INDEX bundle_orgs_by_org ON bundle_orgs (org_id);

-- tokend is itself the service `tokend`, and the Default Rights Bundle
-- holds its permissions and is published to every new org: the rows
-- schema.sql's migration 3 writes, under the same fixed ids. First start
-- completes them (it adds to what is here, and makes nothing without them).
INSERT INTO services (id, name, created_at)
VALUES ('00000000-0000-4000-8000-000000000001', 'tokend', 0);
INSERT INTO permissions (service_id, name)
SELECT '00000000-0000-4000-8000-000000000001', name FROM (VALUES
    ('token.manage-own'), ('token.manage-all'), ('user.view'), ('user.manage'),
    ('group.view'), ('group.manage'), ('role.view'), ('role.manage'),
    ('global-role.view'), ('global-role.manage'),
    ('rights-bundle.view'), ('rights-bundle.manage'),
    ('org.view'), ('org.manage'), ('audit.view')
) AS rights (name);
INSERT INTO rights_bundles (id, name, publish_to_new_orgs, created_at)
VALUES ('00000000-0000-4000-8000-000000000002', 'Default Rights Bundle', TRUE, 0);
INSERT INTO bundle_permissions (bundle_id, service_id, permission)
SELECT '00000000-0000-4000-8000-000000000002', service_id, name FROM permissions
WHERE service_id = '00000000-0000-4000-8000-000000000001';

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    digest       BYTEA NOT NULL UNIQUE CHECK (length(digest) = 32),
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,          -- NULL: never expires
    last_used_at BIGINT,
    revoked_at   BIGINT,
    scope        TEXT,
    last_used_ip TEXT,
    openid       BOOLEAN NOT NULL DEFAULT FALSE,
    rotated_at   BIGINT,
    client_id    TEXT,
    replaced_by  TEXT,
    bound_cidrs  TEXT,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE token_requests (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    token_id   TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, request_id)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT,
    enrol_only BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_live_by_user ON sessions (user_id) WHERE ended_at IS NULL;

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT,
    activates_at BIGINT,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE login_unlocks (
    login_name  TEXT PRIMARY KEY,
    unlocked_at BIGINT NOT NULL
);

CREATE TABLE health_probe (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT NOT NULL
);

CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    at_ms       BIGINT NOT NULL,
    type        TEXT NOT NULL,
    org_id      TEXT,
    actor_id    TEXT,
    actor_name  TEXT,
    target_type TEXT,
    target_id   TEXT,
    target_name TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    client_ip   TEXT,
    -- JSON text, as written: the audit trail keeps exactly what was said.
    properties  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_org ON events (org_id, seq);
CREATE INDEX events_by_type ON events (type, seq);
CREATE INDEX events_by_target ON events (target_id, seq);
CREATE INDEX events_by_time ON events (at_ms);

CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);

CREATE TABLE introspection_clients (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    secret_digest BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX introspection_clients_by_service ON introspection_clients (service_id);

CREATE TABLE oauth_clients (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    token_id     TEXT REFERENCES api_tokens (id),
    deleted_at   BIGINT,
    id_token_alg TEXT CHECK (id_token_alg IN ('RS256', 'ES256'))
);
CREATE INDEX oauth_clients_by_user ON oauth_clients (user_id);

CREATE TABLE service_accounts (
    user_id          TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    software_id      TEXT NOT NULL,
    software_version TEXT,
    client_uri       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('CREATED', 'REQUESTED', 'GRANTED', 'ACTIVE')),
    created_at       BIGINT NOT NULL,
    deleted_at       BIGINT,
    id_token_alg     TEXT CHECK (id_token_alg IN ('RS256', 'ES256'))
);

CREATE TABLE device_authorizations (
    id                 TEXT PRIMARY KEY,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (user_id) ON DELETE CASCADE,
    device_code_digest BYTEA NOT NULL UNIQUE CHECK (length(device_code_digest) = 32),
    user_code          TEXT NOT NULL UNIQUE,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    interval_s         BIGINT NOT NULL,
    last_polled_at     BIGINT,
    decision           TEXT CHECK (decision IN ('granted', 'denied')),
    decided_at         BIGINT,
    -- The grant was looked up and used (a user code works once), or its
    -- token taken (a device code works once).
    used_at            BIGINT
);
CREATE INDEX device_authorizations_by_account ON device_authorizations (service_account_id);

CREATE TABLE token_policies (
    org_id              TEXT PRIMARY KEY,
    default_ttl         TEXT,
    max_ttl             TEXT,
    allow_never         BOOLEAN,
    max_idle            TEXT,
    second_factor       TEXT CHECK (second_factor IN ('nobody', 'admins', 'everyone')),
    max_rotation_grace  TEXT,
    require_bound_cidrs BOOLEAN
);

CREATE TABLE token_reminders (
    token_id        TEXT PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    -- The order of insertion, which SQLite's rowid gives: a claim returns
    -- its reminders in it.
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    email           TEXT NOT NULL,
    before_s        BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    claimed_until   BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    failed_at       BIGINT
);
CREATE INDEX token_reminders_pending ON token_reminders (due_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE second_factors (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    enrolled_at BIGINT,
    last_step   BIGINT
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest  BYTEA NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,
    expiring_days BIGINT,
    secret        BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    cursor        BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    -- The order of insertion, which SQLite's rowid gives: deliveries made
    -- in the same millisecond, or due at the same instant, go in it.
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    token_id        TEXT,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_status     BIGINT,
    last_error      TEXT
);
CREATE UNIQUE INDEX webhook_deliveries_expiring_once
    ON webhook_deliveries (webhook_id, token_id) WHERE event_type = 'token.expiring';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);

-- The generations: a number that moves whenever the directory (what an
-- account is made of) or the set of signing keys changes, so that the
-- caches of every node notice. Bumped once per statement, told to the
-- other nodes on the channel of the same name when the change commits,
-- and marked in the transaction for the node that commits it.
CREATE TABLE generations (
    name       TEXT PRIMARY KEY CHECK (name IN ('directory', 'signing_keys')),
    generation BIGINT NOT NULL
);
INSERT INTO generations (name, generation) VALUES ('directory', 1), ('signing_keys', 1);

CREATE FUNCTION tokend_bump_generation() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE generations SET generation = generation + 1 WHERE name = TG_ARGV[0];
    PERFORM pg_notify('tokend_' || TG_ARGV[0], '');
    -- For the committing node itself: it reads this before its COMMIT.
    PERFORM set_config('tokend.' || TG_ARGV[0] || '_moved', '1', true);
    RETURN NULL;
END
$$;

CREATE TRIGGER signing_keys_changed
    AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('signing_keys');
CREATE TRIGGER orgs_changed AFTER INSERT OR UPDATE OR DELETE ON orgs
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER roles_changed AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER role_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER user_roles_changed AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER services_changed AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER permissions_changed AFTER INSERT OR UPDATE OR DELETE ON permissions
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER groups_changed AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER group_members_changed AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER group_roles_changed AFTER INSERT OR UPDATE OR DELETE ON group_roles
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER rights_bundles_changed AFTER INSERT OR UPDATE OR DELETE ON rights_bundles
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER bundle_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON bundle_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER bundle_orgs_changed AFTER INSERT OR UPDATE OR DELETE ON bundle_orgs
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');
CREATE TRIGGER role_orgs_changed AFTER INSERT OR UPDATE OR DELETE ON role_orgs
    FOR EACH STATEMENT EXECUTE FUNCTION tokend_bump_generation('directory');

-- migration 21
-- DPoP proofs seen (RFC 9449 §11.1), by a digest of the proof's key and
-- its `jti`: a proof used on one node is refused on every other.
CREATE TABLE dpop_proofs (
    replay_key BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
-- Console logins whose password was right, waiting for the second factor,
-- by a digest of the handle: the second step may reach another node.
CREATE TABLE pending_logins (
    handle_digest BYTEA PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    org_name      TEXT NOT NULL,
    source        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX pending_logins_by_expiry ON pending_logins (expires_at);

-- migration 22
-- The owner's notice of a leaked token, written in the commit that
-- revoked it: neither a restart nor a relay that is down loses it.
CREATE TABLE leak_notices (
    token_id        TEXT PRIMARY KEY REFERENCES api_tokens (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    reported_at     BIGINT NOT NULL,
    url             TEXT,
    source          TEXT,
    claimed_until   BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    sent_at         BIGINT,
    failed_at       BIGINT
);
CREATE INDEX leak_notices_pending ON leak_notices (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
