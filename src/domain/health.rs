//! Readiness: whether this instance can do its work now. The database
//! answers, takes a write, holds a signing key, and the writer's thread
//! runs. `/health` and `/health/ready` report it and `tokend serve` refuses
//! to start without it.

use crate::domain::storage::Durability;
use crate::domain::Authority;

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
        // Relaxed: the probe proves the write path, it need not reach the disk.
        let writable = self
            .store
            .write_with(Durability::Relaxed, move |tx| tx.record_health_probe(now))
            .map_err(|e| e.to_string());
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
