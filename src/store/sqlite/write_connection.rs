//! The writer's connection: SQLite's transactions, its `synchronous`
//! level per batch, and its busy timeout as the wait for the write lock.

use std::time::Duration;

use rusqlite::Connection;

use crate::domain::storage::{Durability, StoreResult, Transaction};
use crate::store::writer::WriteConnection;

/// How long a batch of relaxed writes (the readiness probe) waits for a busy
/// database before it is given up: it must not hold up the answers it rides
/// along with.
const RELAXED_BUSY_TIMEOUT: Duration = Duration::from_millis(20);

pub(crate) struct SqliteWriteConnection {
    conn: Connection,
    /// The `synchronous` level set, changed only when a batch needs the
    /// other.
    relaxed: bool,
}

impl SqliteWriteConnection {
    pub(crate) fn new(conn: Connection) -> SqliteWriteConnection {
        SqliteWriteConnection {
            conn,
            relaxed: false,
        }
    }

    fn run(&self, sql: &str) -> StoreResult<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl WriteConnection for SqliteWriteConnection {
    fn begin(&mut self, durability: Durability, lock_wait: Duration) -> StoreResult<()> {
        let relaxed = durability == Durability::Relaxed;
        if self.relaxed != relaxed {
            // FULL: a commit is on disk before the answers that wait for it;
            // in WAL mode NORMAL could lose it to a power cut. Relaxed
            // batches are synced by the next durable commit.
            let synchronous = if relaxed { "NORMAL" } else { "FULL" };
            self.conn.pragma_update(None, "synchronous", synchronous)?;
            self.relaxed = relaxed;
        }
        self.conn.busy_timeout(if relaxed {
            RELAXED_BUSY_TIMEOUT.min(lock_wait)
        } else {
            lock_wait
        })?;
        // IMMEDIATE takes the write lock up front: a busy database is met
        // before any job runs.
        self.run("BEGIN IMMEDIATE")
    }

    fn savepoint(&mut self) -> StoreResult<()> {
        self.run("SAVEPOINT job")
    }

    fn end_savepoint(&mut self, undo: bool) -> StoreResult<()> {
        if undo {
            self.run("ROLLBACK TO job")?;
        }
        self.run("RELEASE job")
    }

    fn transaction_lost(&self) -> bool {
        self.conn.is_autocommit()
    }

    fn commit(&mut self) -> StoreResult<()> {
        self.run("COMMIT")
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing to lose if this fails: the next BEGIN would say so.
            let _ = self.run("ROLLBACK");
        }
    }

    fn transaction(&self) -> &dyn Transaction {
        &self.conn
    }
}
