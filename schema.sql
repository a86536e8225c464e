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
