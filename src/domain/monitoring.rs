//! Numbers for monitoring, as plain data: API tokens by state per org
//! (one read), the login locks, and the writer's own report. Whoever
//! exposes them (the metrics endpoint) decides their format; nothing here
//! knows it.

use std::sync::Arc;

use crate::domain::records::TokenCounts;
use crate::domain::storage::WriterStats;
use crate::domain::{Authority, DomainError};

/// The login throttle's (name, address) locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLocks {
    /// In force now.
    pub in_force: u64,
    /// Imposed since the process started.
    pub imposed: u64,
}

impl Authority {
    /// Every org's API tokens by state (live, expired, revoked), now.
    pub fn api_token_counts(&self) -> Result<Vec<TokenCounts>, DomainError> {
        Ok(self.db().api_token_counts(self.now())?)
    }

    /// The login locks of this process.
    pub fn login_locks(&self) -> LoginLocks {
        let (in_force, imposed) = self.shared.throttle.locks(self.now());
        LoginLocks { in_force, imposed }
    }

    /// The writer's queue depth, liveness and batches.
    pub fn writer_stats(&self) -> Arc<WriterStats> {
        self.store.writer_stats()
    }
}
