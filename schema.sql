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
