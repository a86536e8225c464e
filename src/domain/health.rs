//! Readiness: whether this instance can do its work now. The database
//! answers, takes a write, holds a signing key, and the writer's thread
//! runs. `/health` and `/health/ready` report it and `tokend serve` refuses
//! to start without it.

use std::time::Duration;

use crate::domain::storage::{Durability, StoreError};
use crate::domain::Authority;

/// How long the writes may wait for another process's lock before the
/// service says it is not ready.
const LOCK_WAIT_TOLERATED: Duration = Duration::from_millis(100);
/// How long readiness waits for its write probe to commit.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// The outcome of each check, by name.
pub struct Readiness {
    pub checks: Vec<(&'static str, Result<(), String>)>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|(_, outcome)| outcome.is_ok())
    }

    /// The first check that failed, and why.
    pub fn first_failure(&self) -> Option<(&'static str, &str)> {
        self.checks
            .iter()
            .find_map(|(name, outcome)| outcome.as_ref().err().map(|why| (*name, why.as_str())))
    }
}

impl Authority {
    pub fn readiness(&mut self) -> Readiness {
        let database = self
            .db()
            .provider_org()
            .map(|_| ())
            .map_err(|e| e.to_string());
        let now = self.now();
        let writable = self.probe_write(now);
        let signing_key = self.keys().map(|_| ()).map_err(|e| e.to_string());
        let writer = if self.store.writer_stats().alive() {
            Ok(())
        } else {
            Err("the writer thread has stopped".to_string())
        };
        Readiness {
            checks: vec![
                ("database", database),
                ("writable", writable),
                ("signing_key", signing_key),
                ("writer", writer),
            ],
        }
    }
}

impl Authority {
    /// Whether the database takes a write now. Writes stuck behind another
    /// process's lock make the service not ready at once, without queueing
    /// a probe behind them; otherwise a relaxed write (it proves the write
    /// path, it need not reach the disk) is committed.
    fn probe_write(&mut self, now: i64) -> Result<(), String> {
        let limit = match self.store.writes_waiting_for_lock() {
            Some(waited) if waited > LOCK_WAIT_TOLERATED => {
                return Err(format!(
                    "the database is busy: writes have waited {} ms for another process's \
                     write lock",
                    waited.as_millis()
                ))
            }
            // The probe would queue behind the waiting batch: it gets what
            // is left of the tolerance.
            Some(waited) => LOCK_WAIT_TOLERATED - waited,
            None => PROBE_WAIT,
        };
        self.store
            .submit_write(
                Box::new(move |tx| tx.record_health_probe(now)),
                Durability::Relaxed,
            )
            .and_then(|commit| commit.wait_at_most(limit))
            .map_err(|e| match e {
                StoreError::Busy => format!(
                    "the database is busy: it took no write within {} ms",
                    limit.as_millis()
                ),
                e => e.to_string(),
            })
    }
}
