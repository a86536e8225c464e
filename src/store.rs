//! The store: the only code that knows SQLite.
//!
//! It owns the connection, the migrations embedded from `schema.sql`, and every
//! SQL statement. Its interface speaks in records the domain needs (orgs,
//! accounts, API tokens, sessions, signing keys), never in rows or SQL, so that
//! another backend can later sit behind the same methods. It decides nothing:
//! rights, expiry and visibility are the domain's business.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

const SCHEMA: &str = include_str!("../schema.sql");
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. an org name already taken).
    Duplicate,
    /// A referenced record (e.g. a role name) does not exist.
    Missing(String),
    /// The database file was written by a newer tokend.
    TooNew {
        found: i64,
        known: i64,
    },
    Io(String),
    Sqlite(rusqlite::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Duplicate => f.write_str("record already exists"),
            StoreError::Missing(what) => write!(f, "{what} does not exist"),
            StoreError::TooNew { found, known } => write!(
                f,
                "database schema version {found} is newer than this tokend knows ({known})"
            ),
            StoreError::Io(e) => f.write_str(e),
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(code, _)
                if code.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        code.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
            {
                StoreError::Duplicate
            }
            other => StoreError::Sqlite(other),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

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
    pub password_hash: String,
    pub created_at: i64,
    pub role_names: Vec<String>,
}

/// A user with everything an authorization decision needs.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub user_name: String,
    pub org: Org,
    pub role_names: Vec<String>,
    /// Names of the rights granted by the roles, deduplicated and sorted.
    pub right_names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    pub provider_only: bool,
    pub right_names: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: String,
    pub digest: [u8; 32],
    pub user_id: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
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
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct ApiTokenFilter {
    pub owner_id: Option<String>,
    pub org_name: Option<String>,
    pub user_name: Option<String>,
    pub include_revoked: bool,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub created_at: i64,
}

/// Everything a first start writes, in one transaction.
pub struct InitialState {
    pub provider_org: Org,
    pub roles: Vec<RoleDefinition>,
    pub administrator: NewUser,
    pub signing_key: SigningKeyRecord,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database file and migrates it.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let created = !path.exists();
        let conn = Connection::open(path)?;
        if created {
            restrict_to_owner(path)?;
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets the server's readers run beside one writer and beside the
        // admin CLI working on the same file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> StoreResult<()> {
        let migrations = migrations();
        let known = migrations.len() as i64;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        for (version, sql) in migrations.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    #[cfg(test)]
    pub fn schema_version(&self) -> StoreResult<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub fn provider_org(&self) -> StoreResult<Option<Org>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, is_provider, created_at FROM orgs WHERE is_provider = 1",
                [],
                org_from_row,
            )
            .optional()?)
    }

    /// Writes the first-start state. Returns false, writing nothing, when
    /// another process initialised the database first.
    pub fn initialize(&mut self, state: &InitialState) -> StoreResult<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM orgs WHERE is_provider = 1)",
            [],
            |r| r.get(0),
        )?;
        if exists {
            return Ok(false);
        }
        write_org(&tx, &state.provider_org)?;
        for role in &state.roles {
            tx.execute(
                "INSERT INTO roles (id, name, provider_only) VALUES (?1, ?2, ?3)",
                params![role.id, role.name, role.provider_only],
            )?;
            for right in &role.right_names {
                tx.execute(
                    "INSERT INTO role_rights (role_id, right_name) VALUES (?1, ?2)",
                    params![role.id, right],
                )?;
            }
        }
        write_user(&tx, &state.administrator)?;
        let key = &state.signing_key;
        tx.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![key.kid, key.algorithm, key.private_key, key.created_at],
        )?;
        tx.commit()?;
        Ok(true)
    }

    pub fn insert_org(&mut self, org: &Org) -> StoreResult<()> {
        write_org(&self.conn, org)
    }

    pub fn org_by_name(&self, name: &str) -> StoreResult<Option<Org>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, is_provider, created_at FROM orgs WHERE name = ?1",
                [name],
                org_from_row,
            )
            .optional()?)
    }

    pub fn orgs(&self) -> StoreResult<Vec<Org>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, is_provider, created_at FROM orgs
             ORDER BY is_provider DESC, name",
        )?;
        let rows = stmt.query_map([], org_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn role(&self, name: &str) -> StoreResult<Option<RoleDefinition>> {
        let role = self
            .conn
            .query_row(
                "SELECT id, name, provider_only FROM roles WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, name, provider_only)) = role else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT right_name FROM role_rights WHERE role_id = ?1 ORDER BY right_name",
        )?;
        let right_names = stmt
            .query_map([&id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(RoleDefinition {
            id,
            name,
            provider_only,
            right_names,
        }))
    }

    pub fn insert_user(&mut self, user: &NewUser) -> StoreResult<()> {
        let tx = self.conn.transaction()?;
        write_user(&tx, user)?;
        tx.commit()?;
        Ok(())
    }

    /// The account and password hash of `user_name` in `org_name`, for login.
    pub fn login_account(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> StoreResult<Option<(Account, String)>> {
        let found = self
            .conn
            .query_row(
                "SELECT u.id, u.password_hash FROM users u JOIN orgs o ON o.id = u.org_id
                 WHERE o.name = ?1 AND u.name = ?2",
                [org_name, user_name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        let Some((user_id, hash)) = found else {
            return Ok(None);
        };
        Ok(self.account(&user_id)?.map(|account| (account, hash)))
    }

    pub fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.id, u.name, o.id, o.name, o.is_provider, o.created_at
             FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
        )?;
        let found = stmt
            .query_row([user_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Org {
                        id: r.get(2)?,
                        name: r.get(3)?,
                        is_provider: r.get(4)?,
                        created_at: r.get(5)?,
                    },
                ))
            })
            .optional()?;
        let Some((user_id, user_name, org)) = found else {
            return Ok(None);
        };
        let mut roles = self.conn.prepare_cached(
            "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
             WHERE ur.user_id = ?1 ORDER BY r.name",
        )?;
        let role_names = roles
            .query_map([&user_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut rights = self.conn.prepare_cached(
            "SELECT DISTINCT rr.right_name FROM user_roles ur
             JOIN role_rights rr ON rr.role_id = ur.role_id
             WHERE ur.user_id = ?1 ORDER BY rr.right_name",
        )?;
        let right_names = rights
            .query_map([&user_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(Account {
            user_id,
            user_name,
            org,
            role_names,
            right_names,
        }))
    }

    pub fn insert_api_token(&mut self, token: &ApiTokenRecord) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO api_tokens (id, digest, user_id, name, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                token.id,
                &token.digest[..],
                token.user_id,
                token.name,
                token.created_at,
                token.expires_at
            ],
        )?;
        Ok(())
    }

    pub fn api_token_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, digest, user_id, name, created_at, expires_at, revoked_at
             FROM api_tokens WHERE digest = ?1",
        )?;
        Ok(stmt
            .query_row([&digest[..]], api_token_from_row)
            .optional()?)
    }

    pub fn api_token(&self, id: &str) -> StoreResult<Option<ApiTokenListing>> {
        let filter = ApiTokenFilter {
            include_revoked: true,
            ..ApiTokenFilter::default()
        };
        Ok(self.api_tokens_where(&filter, Some(id))?.pop())
    }

    pub fn api_tokens(&self, filter: &ApiTokenFilter) -> StoreResult<Vec<ApiTokenListing>> {
        self.api_tokens_where(filter, None)
    }

    fn api_tokens_where(
        &self,
        filter: &ApiTokenFilter,
        id: Option<&str>,
    ) -> StoreResult<Vec<ApiTokenListing>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.name, u.id, u.name, o.id, o.name,
                    t.created_at, t.expires_at, t.last_used_at, t.revoked_at
             FROM api_tokens t
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             WHERE (?1 IS NULL OR t.id = ?1)
               AND (?2 IS NULL OR u.id = ?2)
               AND (?3 IS NULL OR o.name = ?3)
               AND (?4 IS NULL OR u.name = ?4)
               AND (?5 OR t.revoked_at IS NULL)
             ORDER BY t.created_at, t.rowid",
        )?;
        let rows = stmt.query_map(
            params![
                id,
                filter.owner_id,
                filter.org_name,
                filter.user_name,
                filter.include_revoked
            ],
            |r| {
                Ok(ApiTokenListing {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner_id: r.get(2)?,
                    owner_name: r.get(3)?,
                    org_id: r.get(4)?,
                    org_name: r.get(5)?,
                    created_at: r.get(6)?,
                    expires_at: r.get(7)?,
                    last_used_at: r.get(8)?,
                    revoked_at: r.get(9)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a token revoked. Returns false when it was unknown or already revoked.
    pub fn revoke_api_token(&mut self, id: &str, now: i64) -> StoreResult<bool> {
        let changed = self.conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now],
        )?;
        Ok(changed == 1)
    }

    /// The owner of the token if it exists and is not revoked (expiry is the
    /// caller's check).
    pub fn active_api_token_owner(&self, id: &str) -> StoreResult<Option<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT user_id FROM api_tokens WHERE id = ?1 AND revoked_at IS NULL",
        )?;
        Ok(stmt.query_row([id], |r| r.get(0)).optional()?)
    }

    pub fn record_api_token_use(&mut self, id: &str, now: i64) -> StoreResult<()> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1")?;
        stmt.execute(params![id, now])?;
        Ok(())
    }

    pub fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                session.id,
                session.user_id,
                session.created_at,
                session.expires_at
            ],
        )?;
        Ok(())
    }

    pub fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, user_id, created_at, expires_at, ended_at FROM sessions WHERE id = ?1",
        )?;
        Ok(stmt
            .query_row([id], |r| {
                Ok(SessionRecord {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    ended_at: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Ends a session. Returns false when it was unknown or already ended.
    pub fn end_session(&mut self, id: &str, now: i64) -> StoreResult<bool> {
        let changed = self.conn.execute(
            "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
            params![id, now],
        )?;
        Ok(changed == 1)
    }

    /// Signing keys not retired, newest first.
    pub fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT kid, algorithm, private_key, created_at FROM signing_keys
             WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SigningKeyRecord {
                kid: r.get(0)?,
                algorithm: r.get(1)?,
                private_key: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The file holds password hashes and signing keys: only its owner may read it.
/// SQLite gives the -wal and -shm files the same mode.
fn restrict_to_owner(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Io(format!("cannot restrict {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Splits `schema.sql` into its numbered migrations, in order; the text before
/// the first marker is commentary.
fn migrations() -> Vec<&'static str> {
    SCHEMA
        .split("\n-- migration ")
        .skip(1)
        .map(|section| section.split_once('\n').map_or("", |(_, body)| body))
        .collect()
}

fn write_org(conn: &Connection, org: &Org) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![org.id, org.name, org.is_provider, org.created_at],
    )?;
    Ok(())
}

fn write_user(conn: &Connection, user: &NewUser) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO users (id, org_id, name, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            user.id,
            user.org_id,
            user.name,
            user.password_hash,
            user.created_at
        ],
    )?;
    for role in &user.role_names {
        let changed = conn.execute(
            "INSERT INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE name = ?2",
            params![user.id, role],
        )?;
        if changed == 0 {
            return Err(StoreError::Missing(format!("role {role:?}")));
        }
    }
    Ok(())
}

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        is_provider: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn api_token_from_row(r: &Row<'_>) -> rusqlite::Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.get(0)?,
        digest: r.get(1)?,
        user_id: r.get(2)?,
        name: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_splits_into_migrations_numbered_from_one() {
        let m = migrations();
        assert!(m[0].trim_start().starts_with("CREATE TABLE orgs"));
        assert!(m[0].contains("CREATE TABLE api_tokens"));
        let numbers: Vec<String> = SCHEMA
            .split("\n-- migration ")
            .skip(1)
            .map(|s| s.lines().next().unwrap_or("").trim().to_string())
            .collect();
        let expected: Vec<String> = (1..=m.len()).map(|n| n.to_string()).collect();
        assert_eq!(numbers, expected);
    }

    #[test]
    fn reopening_keeps_the_schema_version() {
        let dir = std::env::temp_dir().join(format!("tokend-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations().len() as i64);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations().len() as i64);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
