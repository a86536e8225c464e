//! Password guessing defence: after a run of failed logins for one
//! `user@org` the name is locked for a while, growing with each further run.
//!
//! Names are throttled whether or not the user exists, so the lock itself
//! tells nothing. The state is in memory and shared by the workers of one
//! process; a restart forgets it, which an attacker cannot cause from outside.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures in a row that lock a name.
const FAILURES_BEFORE_LOCK: u32 = 5;
/// First lock; each further lock doubles it, up to `MAX_LOCK`.
const FIRST_LOCK: i64 = 60;
const MAX_LOCK: i64 = 15 * 60;
/// A name without a failure for this long starts afresh.
const FORGET_AFTER: i64 = 60 * 60;
/// Bound on remembered names, so that spraying random names cannot grow
/// memory without limit; the oldest entries go first.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    failures: u32,
    locks: u32,
    last_failure: i64,
    locked_until: i64,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    records: Mutex<HashMap<String, Record>>,
}

impl LoginThrottle {
    /// Seconds until `name` may try again, or None when it may now.
    pub fn locked_for(&self, name: &str, now: i64) -> Option<i64> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let until = records.get(&key(name))?.locked_until;
        (until > now).then(|| until - now)
    }

    pub fn record_failure(&self, name: &str, now: i64) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_ENTRIES {
            records.retain(|_, r| now - r.last_failure < FORGET_AFTER);
            if records.len() >= MAX_ENTRIES {
                let oldest = records
                    .iter()
                    .min_by_key(|(_, r)| r.last_failure)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    records.remove(&oldest);
                }
            }
        }
        let record = records.entry(key(name)).or_default();
        if now - record.last_failure >= FORGET_AFTER {
            *record = Record::default();
        }
        record.failures += 1;
        record.last_failure = now;
        if record.failures >= FAILURES_BEFORE_LOCK {
            let lock = FIRST_LOCK
                .saturating_mul(1 << record.locks.min(16))
                .min(MAX_LOCK);
            record.locked_until = now + lock;
            record.locks += 1;
            record.failures = 0;
        }
    }

    pub fn record_success(&self, name: &str) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.remove(&key(name));
    }
}

/// Names match case-insensitively, as the database does.
fn key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_name_for_a_minute() {
        let t = LoginThrottle::default();
        for _ in 0..4 {
            t.record_failure("alice@acme", 1000);
        }
        assert_eq!(t.locked_for("alice@acme", 1000), None);
        t.record_failure("alice@acme", 1000);
        assert_eq!(t.locked_for("ALICE@acme", 1000), Some(60));
        assert_eq!(t.locked_for("bob@acme", 1000), None);
        assert_eq!(t.locked_for("alice@acme", 1060), None);
    }

    #[test]
    fn each_further_lock_doubles_up_to_fifteen_minutes() {
        let t = LoginThrottle::default();
        let mut now = 0;
        let mut locks = Vec::new();
        for _ in 0..6 {
            for _ in 0..5 {
                t.record_failure("a@b", now);
            }
            let lock = t.locked_for("a@b", now).unwrap();
            locks.push(lock);
            now += lock;
        }
        assert_eq!(locks, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn success_and_time_clear_the_record() {
        let t = LoginThrottle::default();
        for _ in 0..4 {
            t.record_failure("a@b", 0);
        }
        t.record_success("a@b");
        t.record_failure("a@b", 0);
        assert_eq!(t.locked_for("a@b", 0), None);
        for _ in 0..4 {
            t.record_failure("c@d", 0);
        }
        t.record_failure("c@d", FORGET_AFTER);
        assert_eq!(t.locked_for("c@d", FORGET_AFTER), None);
    }

    #[test]
    fn memory_stays_bounded_under_name_spraying() {
        let t = LoginThrottle::default();
        for i in 0..(MAX_ENTRIES + 50) {
            t.record_failure(&format!("user{i}@x"), i as i64);
        }
        assert!(t.records.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
