//! What this process tells the other processes serving its database, and
//! what it does with what they tell: the state each keeps in memory only
//! follows the others', so a password spray, a flood of refusals or of
//! leak reports spread over several nodes behind a load balancer meets
//! the same limits as one aimed at a single node. What must hold exactly (revocations, keys,
//! single-use codes) is in the database, never here.

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use crate::domain::storage::ClusterNotice;
use crate::domain::{Authority, Shared};

impl Authority {
    pub(in crate::domain) fn tell_others(&self, notice: ClusterNotice) {
        self.shared.database.tell_others(&notice);
    }

    /// A refused login (a wrong password or second factor) for `name`
    /// from `source`, counted here and by every other node.
    pub(in crate::domain) fn login_failed(&self, name: &str, source: IpAddr, now: i64) {
        self.shared.throttle.record_failure(name, source, now);
        self.tell_others(ClusterNotice::LoginFailed {
            name: name.to_string(),
            source,
            at: now,
        });
    }
}

/// Has `shared` follow what the other processes tell.
pub(in crate::domain) fn hear_others(shared: &Arc<Shared>) {
    // Weak: the database holds the handler, and `shared` the database.
    let heard: Weak<Shared> = Arc::downgrade(shared);
    shared.database.hear_others(Box::new(move |notice| {
        let Some(shared) = heard.upgrade() else {
            return;
        };
        match notice {
            ClusterNotice::LoginFailed { name, source, at } => {
                shared.throttle.record_failure(&name, source, at);
            }
            ClusterNotice::LoginSucceeded { name, source } => {
                shared.throttle.record_success(&name, source);
            }
            ClusterNotice::LeakReportAdmitted { client, at_ms } => {
                // An empty bucket stays empty: the report was answered there.
                let _ = shared.leak_limiter.admit(client, at_ms);
            }
            ClusterNotice::RefusalRecorded {
                event_kind,
                client_ip,
                target_id,
                at,
            } => shared
                .refusals
                .recorded_elsewhere(&event_kind, client_ip, target_id, at),
        }
    }));
}
