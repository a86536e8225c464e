//! The PostgreSQL backend, for several tokend nodes on one database.
//!
//! The statements live beside this file, one file per aggregate as in the
//! SQLite backend, and implement the same storage traits on `PgConn`. The
//! schema is `schema.postgres.sql`, under the same version numbers as
//! `schema.sql`.
//!
//! tokio-postgres's `Client` takes `&self` for every statement, so the
//! storage traits' `&self` suits it as it suits rusqlite. Its futures are
//! polled on the calling thread (`block_on`), which blocks as a SQLite read
//! does; only the connections' socket I/O runs on the backend's own runtime
//! thread, so no worker's runtime is entered twice.

mod accounts;
mod audit;
mod conn;
mod database;
mod generations;
mod keys;
mod leak_notices;
mod listing;
mod notices;
mod reminders;
mod roles;
mod runtime;
mod second_factors;
mod service_accounts;
mod sessions;
mod tokens;
mod webhooks;

pub use conn::PgConn;
pub use database::PgDatabase;
#[cfg(test)]
use runtime::IoRuntime;

/// The URL of an admin database on the test server: `TOKEND_TEST_POSTGRES`
/// if set, else the throwaway server `tests/postgres/server` starts (or
/// finds running).
#[cfg(test)]
pub(crate) fn test_server_url() -> String {
    use std::sync::OnceLock;
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TOKEND_TEST_POSTGRES") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/server");
        let out = std::process::Command::new(script)
            .output()
            .expect("tests/postgres/server runs");
        assert!(
            out.status.success(),
            "tests/postgres/server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

/// The URL of a new, empty database of its own on the test server.
#[cfg(test)]
pub(crate) fn test_database_url() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = test_server_url();
    let io = IoRuntime::start().unwrap();
    let admin = PgConn::connect(&io.connector(url.parse().unwrap(), None).unwrap())
        .expect("the test server");
    let name = format!(
        "tokend_test_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Ordered by English rules, not bytes: every order the backend
    // promises must come from its own COLLATE "C", as on a server an
    // admin set up for their language.
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        ))
        .unwrap();
    let (server, _) = url.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

/// A connection to a new database with the schema in it.
#[cfg(test)]
pub(crate) fn test_conn() -> PgConn {
    use std::sync::OnceLock;
    static IO: OnceLock<IoRuntime> = OnceLock::new();
    let url = test_database_url();
    PgDatabase::migrate(&url, None).unwrap();
    let io = IO.get_or_init(|| IoRuntime::start().unwrap());
    PgConn::connect(&io.connector(url.parse().unwrap(), None).unwrap()).unwrap()
}

#[cfg(test)]
mod tests;
