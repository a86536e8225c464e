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

#![allow(dead_code)] // Until the backend is wired in at start-up.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use crate::domain::storage::{StoreError, StoreResult};

mod audit;
mod reminders;
mod runtime;
mod service_accounts;
mod webhooks;

#[allow(unused_imports)] // Until the backend is wired in at start-up.
pub(crate) use runtime::IoRuntime;

/// One connection, as the statements see it.
pub struct PgConn {
    client: Client,
    /// Statements prepared on this connection, by their text: a statement
    /// is parsed and planned once, then only bound and run.
    prepared: Mutex<HashMap<String, Statement>>,
}

/// Statements kept prepared per connection at most; the listings build
/// their text from the filters set, so the set is bounded but not tiny.
const MAX_PREPARED: usize = 512;

impl PgConn {
    pub(crate) fn new(client: Client) -> PgConn {
        PgConn {
            client,
            prepared: Mutex::default(),
        }
    }

    fn statement(&self, sql: &str) -> StoreResult<Statement> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(statement) = prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(self.client.prepare(sql))?;
        if prepared.len() >= MAX_PREPARED {
            prepared.clear();
        }
        prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// The rows the statement returns.
    pub(crate) fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(block_on(self.client.query(&statement, params))?)
    }

    /// The one row the statement returns, if it returns one (more than one
    /// is an error).
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let statement = self.statement(sql)?;
        Ok(block_on(self.client.query_opt(&statement, params))?)
    }

    /// The one row the statement returns; none is an error.
    pub(crate) fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Row> {
        let statement = self.statement(sql)?;
        Ok(block_on(self.client.query_one(&statement, params))?)
    }

    /// How many rows the statement changed.
    pub(crate) fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let statement = self.statement(sql)?;
        Ok(block_on(self.client.execute(&statement, params))?)
    }

    /// Runs statements without parameters (transaction control, the schema).
    pub(crate) fn batch_execute(&self, sql: &str) -> StoreResult<()> {
        Ok(block_on(self.client.batch_execute(sql))?)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(code) = e.code() else {
            return StoreError::Failed(e.to_string());
        };
        match *code {
            SqlState::UNIQUE_VIOLATION => StoreError::Duplicate,
            SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => {
                StoreError::Retry
            }
            SqlState::LOCK_NOT_AVAILABLE | SqlState::QUERY_CANCELED => StoreError::Busy,
            SqlState::DISK_FULL => StoreError::Full,
            SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::ReadOnly,
            _ => StoreError::Failed(e.to_string()),
        }
    }
}

/// Polls `future` on this thread until it is ready, parking in between. The
/// futures of a `Client` need no runtime of their own: the connection's
/// task on the backend's runtime does the I/O and wakes this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// A connection to a fresh database of its own on the test server named by
/// `TOKEND_TEST_POSTGRES` (a `postgres://` URL whose database is an admin
/// one, such as `postgres`), with the schema in it.
#[cfg(test)]
pub(crate) fn test_conn(io: &IoRuntime) -> PgConn {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = std::env::var("TOKEND_TEST_POSTGRES").expect("TOKEND_TEST_POSTGRES");
    let config: tokio_postgres::Config = url.parse().expect("a postgres:// URL");
    let admin = PgConn::new(io.connect(&config).expect("the test server"));
    let name = format!(
        "tokend_test_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut config = config.clone();
    config.dbname(&name);
    let conn = PgConn::new(io.connect(&config).unwrap());
    let schema = include_str!("../../../schema.postgres.sql");
    conn.batch_execute(schema).unwrap();
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_runs_on_a_test_database() {
        if std::env::var("TOKEND_TEST_POSTGRES").is_err() {
            return;
        }
        let io = IoRuntime::start().unwrap();
        let conn = test_conn(&io);
        let row = conn
            .query_one(
                "SELECT generation FROM generations WHERE name = $1",
                &[&"directory"],
            )
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 1);
        let duplicate = conn.execute(
            "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, 0), ($3, $4, 0)",
            &[&"a", &"Acme", &"b", &"ACME"],
        );
        assert!(
            matches!(duplicate, Err(StoreError::Duplicate)),
            "{duplicate:?}"
        );
    }
}
