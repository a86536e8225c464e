//! One connection, as the statements see it, and the mapping of
//! PostgreSQL's errors onto `StoreError`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::generations::{Generation, Generations};
use super::runtime::{Connector, Link};
use crate::domain::storage::{StoreError, StoreResult};

/// Statements kept prepared per connection at most; the listings build
/// their text from the filters set, so the set is bounded but not tiny.
const MAX_PREPARED: usize = 512;

/// A connection that is made again when the server dropped it (a restart,
/// a failover) or it was given up on (no answer in time): the statement
/// that finds it gone fails, the next one runs on a new connection.
pub struct PgConn {
    /// None once given up on.
    link: RwLock<Option<Link>>,
    connector: Connector,
    /// Statements prepared on this connection, by their text: a statement
    /// is parsed and planned once, then only bound and run.
    prepared: Mutex<HashMap<String, Statement>>,
    /// The process's generations as last read, for a server's handles;
    /// None reads them every time.
    generations: Option<Arc<Generations>>,
    /// Whether a transaction is open on the connection: if it is lost
    /// then, it is not made again until the transaction ends, since the
    /// statements left would commit one by one outside it.
    in_transaction: AtomicBool,
}

impl PgConn {
    pub(crate) fn connect(connector: &Connector) -> StoreResult<PgConn> {
        Ok(PgConn {
            link: RwLock::new(Some(connector.connect()?)),
            connector: connector.clone(),
            prepared: Mutex::default(),
            generations: None,
            in_transaction: AtomicBool::new(false),
        })
    }

    /// Marks a transaction opened or ended on the connection.
    pub(crate) fn set_in_transaction(&self, open: bool) {
        self.in_transaction.store(open, Ordering::SeqCst);
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
        let link = self.link()?;
        let answers = self.wait(
            &link,
            link.client.simple_query(
                "SELECT current_setting('tokend.directory_moved', true), \
                    current_setting('tokend.signing_keys_moved', true); COMMIT",
            ),
        )?;
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

    /// The live connection, made afresh if the last was dropped or given
    /// up on.
    fn link(&self) -> StoreResult<Link> {
        if let Some(link) = self.link.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if !link.client.is_closed() {
                return Ok(link.clone());
            }
        }
        let mut slot = self.link.write().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(link) if !link.client.is_closed() => Ok(link.clone()),
            _ if self.in_transaction.load(Ordering::SeqCst) => Err(StoreError::Unreachable(
                "the connection to PostgreSQL was lost, and its transaction with it".into(),
            )),
            _ => {
                *slot = None;
                self.prepared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                let link = self.connector.connect()?;
                *slot = Some(link.clone());
                Ok(link)
            }
        }
    }

    /// The answer of `future`, a request on `link`; past the answer
    /// timeout the connection is given up on, so that a server that stops
    /// answering (frozen, or cut off without a word) holds no thread for
    /// longer than that.
    fn wait<T>(
        &self,
        link: &Link,
        future: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        let limit = self.connector.answer_timeout();
        if let Some(answer) = block_on_within(future, limit) {
            return Ok(answer?);
        }
        link.abandon();
        let mut slot = self.link.write().unwrap_or_else(|e| e.into_inner());
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(&current.client, &link.client))
        {
            *slot = None;
        }
        Err(StoreError::Unreachable(format!(
            "PostgreSQL did not answer within {}",
            humantime::format_duration(limit.unwrap_or_default())
        )))
    }

    fn statement(&self, link: &Link, sql: &str) -> StoreResult<Statement> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(statement) = prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.wait(link, link.client.prepare(sql))?;
        if prepared.len() >= MAX_PREPARED {
            prepared.clear();
        }
        prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// The rows the statement returns.
    pub(crate) fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let link = self.link()?;
        let statement = self.statement(&link, sql)?;
        self.wait(&link, link.client.query(&statement, params))
    }

    /// The one row the statement returns, if it returns one (more than one
    /// is an error).
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let link = self.link()?;
        let statement = self.statement(&link, sql)?;
        self.wait(&link, link.client.query_opt(&statement, params))
    }

    /// The one row the statement returns; none is an error.
    pub(crate) fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Row> {
        let link = self.link()?;
        let statement = self.statement(&link, sql)?;
        self.wait(&link, link.client.query_one(&statement, params))
    }

    /// How many rows the statement changed.
    pub(crate) fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let link = self.link()?;
        let statement = self.statement(&link, sql)?;
        self.wait(&link, link.client.execute(&statement, params))
    }

    /// Runs statements without parameters (transaction control, the schema).
    pub(crate) fn batch_execute(&self, sql: &str) -> StoreResult<()> {
        let link = self.link()?;
        self.wait(&link, link.client.batch_execute(sql))
    }

    /// Whether the connection is gone (and the transaction on it with it).
    pub(crate) fn is_closed(&self) -> bool {
        self.link
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_none_or(|link| link.client.is_closed())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // A connection lost or cut (a restart, a failover, the
            // network) is the server's absence, not a fault of tokend's.
            let lost = e.is_closed()
                || std::error::Error::source(&e).is_some_and(|cause| cause.is::<std::io::Error>());
            return if lost {
                StoreError::Unreachable(error_chain(&e))
            } else {
                StoreError::Failed(error_chain(&e))
            };
        };
        match *db.code() {
            SqlState::UNIQUE_VIOLATION => StoreError::Duplicate,
            SqlState::T_R_SERIALIZATION_FAILURE | SqlState::T_R_DEADLOCK_DETECTED => {
                StoreError::Retry
            }
            SqlState::LOCK_NOT_AVAILABLE | SqlState::QUERY_CANCELED => StoreError::Busy,
            // The server ended the connection (a shutdown, a failover, an
            // admin's pg_terminate_backend) or takes none now.
            SqlState::ADMIN_SHUTDOWN
            | SqlState::CRASH_SHUTDOWN
            | SqlState::CANNOT_CONNECT_NOW
            | SqlState::TOO_MANY_CONNECTIONS => {
                StoreError::Unreachable(format!("{}: {}", db.code().code(), db.message()))
            }
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

/// The error and its causes: "error performing TLS handshake" alone does
/// not say that the certificate was not trusted.
pub(crate) fn error_chain(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

/// Polls `future` on this thread until it is ready, parking in between. The
/// futures of a `Client` need no runtime of their own: the connection's
/// task on the backend's runtime does the I/O and wakes this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let waker = this_thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// `block_on`, giving up (None) once `limit` has passed; None waits as
/// long as it takes.
pub(crate) fn block_on_within<F: Future>(future: F, limit: Option<Duration>) -> Option<F::Output> {
    let Some(limit) = limit else {
        return Some(block_on(future));
    };
    let deadline = Instant::now() + limit;
    let waker = this_thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        thread::park_timeout(left);
    }
}

/// A waker that unparks this thread.
fn this_thread_waker() -> Waker {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    Waker::from(Arc::new(Unpark(thread::current())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_within_a_limit_gives_up_on_a_future_that_never_ends() {
        let started = Instant::now();
        let given_up = block_on_within(
            std::future::pending::<()>(),
            Some(Duration::from_millis(50)),
        );
        assert!(given_up.is_none());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            block_on_within(async { 7 }, Some(Duration::from_millis(50))),
            Some(7)
        );
        assert_eq!(block_on_within(async { 7 }, None), Some(7));
    }
}
