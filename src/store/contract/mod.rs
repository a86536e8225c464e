//! The backend contract: what every storage backend must do, as tests that
//! run unchanged on each. A contract test is a function of one connection
//! (each statement committed on its own), generic over the storage traits
//! it uses, and is listed in its file's `contract!`, which runs it on a
//! fresh SQLite database and on a fresh PostgreSQL one.

/// Runs each named test on every backend, on a database of its own.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::store::contract::sqlite_conn());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::store::contract::postgres_conn());
                }
            )*
        }
    };
}

pub(crate) use contract;

// The files below see `contract!` by textual scope: declare them after it.
mod accounts;
mod audit;
mod leak_notices;
mod reminders;
mod roles;
mod service_accounts;
mod webhooks;

mod keys;
mod second_factors;
mod sessions;
mod tokens;

/// A fresh, migrated SQLite database in memory.
pub(crate) fn sqlite_conn() -> rusqlite::Connection {
    crate::store::sqlite::test_conn()
}

/// A fresh PostgreSQL database with the schema in it, on the test server
/// (`tests/postgres/server`).
pub(crate) fn postgres_conn() -> crate::store::postgres::PgConn {
    crate::store::postgres::test_conn()
}

/// Rows the contract tests stand on, written directly rather than through
/// the traits that own them, so that each area's tests need only its own.
pub(crate) trait Fixture {
    /// A user named `user_id` in an org named `org_id`, the org made unless
    /// it exists.
    fn user(&self, org_id: &str, user_id: &str);
    /// A service named `service_id`.
    fn service(&self, service_id: &str);
    /// A service account's registration for the user `user_id`.
    fn registration(&self, user_id: &str);
    /// The readiness probe's stamp.
    fn health_stamp(&self) -> i64;
    /// A live API token of `user_id`, named `token_id`, made at 0.
    fn token(&self, user_id: &str, token_id: &str, expires_at: Option<i64>);
    /// A global role.
    fn role(&self, role_id: &str, name: &str);
    /// A statement without parameters that reads alike in both dialects,
    /// for a state no fixture above makes.
    fn exec(&self, sql: &str);
}

/// The token's digest: its id, padded (ids are short and distinct).
fn fixture_digest(token_id: &str) -> Vec<u8> {
    assert!(
        token_id.len() <= 32,
        "a fixture token id of at most 32 bytes"
    );
    let mut digest = token_id.as_bytes().to_vec();
    digest.resize(32, b'.');
    digest
}

impl Fixture for rusqlite::Connection {
    fn user(&self, org_id: &str, user_id: &str) {
        self.execute(
            "INSERT INTO orgs (id, name, created_at) VALUES (?1, ?1, 0) ON CONFLICT DO NOTHING",
            [org_id],
        )
        .unwrap();
        self.execute(
            "INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES (?1, ?2, ?1, '', 0)",
            [user_id, org_id],
        )
        .unwrap();
    }

    fn service(&self, service_id: &str) {
        self.execute(
            "INSERT INTO services (id, name, created_at) VALUES (?1, ?1, 0)",
            [service_id],
        )
        .unwrap();
    }

    fn registration(&self, user_id: &str) {
        self.execute(
            "INSERT INTO service_accounts (user_id, software_id, status, created_at)
             VALUES (?1, 'software', 'ACTIVE', 0)",
            [user_id],
        )
        .unwrap();
    }

    fn health_stamp(&self) -> i64 {
        self.query_row("SELECT checked_at FROM health_probe", [], |r| r.get(0))
            .unwrap()
    }

    fn token(&self, user_id: &str, token_id: &str, expires_at: Option<i64>) {
        self.execute(
            "INSERT INTO api_tokens (id, digest, user_id, name, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?1, 0, ?4)",
            rusqlite::params![token_id, fixture_digest(token_id), user_id, expires_at],
        )
        .unwrap();
    }

    fn role(&self, role_id: &str, name: &str) {
        self.execute(
            "INSERT INTO roles (id, name) VALUES (?1, ?2)",
            [role_id, name],
        )
        .unwrap();
    }

    fn exec(&self, sql: &str) {
        self.execute_batch(sql).unwrap();
    }
}

impl Fixture for crate::store::postgres::PgConn {
    fn user(&self, org_id: &str, user_id: &str) {
        self.execute(
            "INSERT INTO orgs (id, name, created_at) VALUES ($1, $1, 0) ON CONFLICT DO NOTHING",
            &[&org_id],
        )
        .unwrap();
        self.execute(
            "INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ($1, $2, $1, '', 0)",
            &[&user_id, &org_id],
        )
        .unwrap();
    }

    fn service(&self, service_id: &str) {
        self.execute(
            "INSERT INTO services (id, name, created_at) VALUES ($1, $1, 0)",
            &[&service_id],
        )
        .unwrap();
    }

    fn registration(&self, user_id: &str) {
        self.execute(
            "INSERT INTO service_accounts (user_id, software_id, status, created_at)
             VALUES ($1, 'software', 'ACTIVE', 0)",
            &[&user_id],
        )
        .unwrap();
    }

    fn health_stamp(&self) -> i64 {
        self.query_one("SELECT checked_at FROM health_probe", &[])
            .unwrap()
            .get(0)
    }

    fn token(&self, user_id: &str, token_id: &str, expires_at: Option<i64>) {
        self.execute(
            "INSERT INTO api_tokens (id, digest, user_id, name, created_at, expires_at)
             VALUES ($1, $2, $3, $1, 0, $4)",
            &[&token_id, &fixture_digest(token_id), &user_id, &expires_at],
        )
        .unwrap();
    }

    fn role(&self, role_id: &str, name: &str) {
        self.execute(
            "INSERT INTO roles (id, name) VALUES ($1, $2)",
            &[&role_id, &name],
        )
        .unwrap();
    }

    fn exec(&self, sql: &str) {
        self.batch_execute(sql).unwrap();
    }
}
