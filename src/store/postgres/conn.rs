//! One connection, as the statements see it, and the mapping of
//! PostgreSQL's errors onto `StoreError`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::generations::{Generation, Generations};
use super::runtime::Connector;
use crate::domain::storage::{StoreError, StoreResult};

/// Statements kept prepared per connection at most; the listings build
/// their text from the filters set, so the set is bounded but not tiny.
const MAX_PREPARED: usize = 512;

/// A connection that is made again when the server dropped it (a restart,
/// a failover): the statement that finds it gone fails, the next one runs
/// on a new connection.
pub struct PgConn {
    client: RwLock<Arc<Client>>,
    connector: Connector,
    /// Statements prepared on this connection, by their text: a statement
    /// is parsed and planned once, then only bound and run.
    prepared: Mutex<HashMap<String, Statement>>,
    /// The process's generations as last read, for a server's handles;
    /// None reads them every time.
    generations: Option<Arc<Generations>>,
}

impl PgConn {
    pub(crate) fn connect(connector: &Connector) -> StoreResult<PgConn> {
        Ok(PgConn {
            client: RwLock::new(Arc::new(connector.connect()?)),
            connector: connector.clone(),
            prepared: Mutex::default(),
            generations: None,
        })
    }

    /// Keeps the generations read in `generations`, shared by the process.
    pub(crate) fn with_generations(mut self, generations: Arc<Generations>) -> PgConn {
        self.generations = Some(generations);
        self
    }

    /// A generation, kept or read.
    pub(crate) fn generation(&self, which: Generation) -> StoreResult<i64> {
        let read = || -> StoreResult<i64> {
            let row = self.query_one(
                "SELECT generation FROM generations WHERE name = $1",
                &[&which.name()],
            )?;
            Ok(row.try_get(0)?)
        };
        match &self.generations {
            Some(generations) => generations.get(which, read),
            None => read(),
        }
    }

    /// Commits, and tells which generations the transaction moved.
    pub(crate) fn commit_moving(&self) -> StoreResult<Vec<Generation>> {
        let client = self.client()?;
        let answers = block_on(client.simple_query(
            "SELECT current_setting('tokend.directory_moved', true), \
                    current_setting('tokend.signing_keys_moved', true); COMMIT",
        ))?;
        let mut moved = Vec::new();
        for answer in answers {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = answer {
                for (i, which) in Generation::ALL.into_iter().enumerate() {
                    if row.get(i) == Some("1") {
                        moved.push(which);
                    }
                }
            }
        }
        Ok(moved)
    }

    /// The live client, connecting afresh if the server dropped the last.
    fn client(&self) -> StoreResult<Arc<Client>> {
        let client = Arc::clone(&self.client.read().unwrap_or_else(|e| e.into_inner()));
        if !client.is_closed() {
            return Ok(client);
        }
        let mut slot = self.client.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_closed() {
            *slot = Arc::new(self.connector.connect()?);
            self.prepared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        Ok(Arc::clone(&slot))
    }

    fn statement(&self, client: &Client, sql: &str) -> StoreResult<Statement> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(statement) = prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = block_on(client.prepare(sql))?;
        if prepared.len() >= MAX_PREPARED {
            prepared.clear();
        }
        prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// The rows the statement returns.
    pub(crate) fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let client = self.client()?;
        let statement = self.statement(&client, sql)?;
        Ok(block_on(client.query(&statement, params))?)
    }

    /// The one row the statement returns, if it returns one (more than one
    /// is an error).
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let client = self.client()?;
        let statement = self.statement(&client, sql)?;
        Ok(block_on(client.query_opt(&statement, params))?)
    }

    /// The one row the statement returns; none is an error.
    pub(crate) fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Row> {
        let client = self.client()?;
        let statement = self.statement(&client, sql)?;
        Ok(block_on(client.query_one(&statement, params))?)
    }

    /// How many rows the statement changed.
    pub(crate) fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let client = self.client()?;
        let statement = self.statement(&client, sql)?;
        Ok(block_on(client.execute(&statement, params))?)
    }

    /// Runs statements without parameters (transaction control, the schema).
    pub(crate) fn batch_execute(&self, sql: &str) -> StoreResult<()> {
        let client = self.client()?;
        Ok(block_on(client.batch_execute(sql))?)
    }

    /// Whether the connection is gone (and the transaction on it with it).
    pub(crate) fn is_closed(&self) -> bool {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_closed()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // The causes too: "error performing TLS handshake" alone does
            // not say that the certificate was not trusted.
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(inner) = cause {
                text.push_str(&format!(": {inner}"));
                cause = inner.source();
            }
            return StoreError::Failed(text);
        };
        match *db.code() {
            SqlState::UNIQUE_VIOLATION => StoreError::Duplicate,
            SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => {
                StoreError::Retry
            }
            SqlState::LOCK_NOT_AVAILABLE | SqlState::QUERY_CANCELED => StoreError::Busy,
            SqlState::DISK_FULL => StoreError::Full,
            SqlState::READ_ONLY_SQL_TRANSACTION => StoreError::ReadOnly,
            // Text with a NUL character: PostgreSQL can neither store nor
            // compare it, where SQLite would store it or match nothing.
            SqlState::CHARACTER_NOT_IN_REPERTOIRE | SqlState::UNTRANSLATABLE_CHARACTER => {
                StoreError::Unstorable("text must not contain a NUL character".into())
            }
            // The server's own words, for the log; never a client's value,
            // which travels as a parameter.
            _ => StoreError::Failed(format!("{}: {}", db.code().code(), db.message())),
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
