//! Password guessing defence, per name and client address.
//!
//! - After a run of failed logins for one `user@org` from one address, that
//!   name is locked *for that address*, growing with each further run. The
//!   same name stays usable from an address that has not failed, so an
//!   attacker cannot lock the administrator out for everyone.
//! - Across all addresses, once a name has failed many times in a row,
//!   attempts on it are held to one per `GLOBAL_DELAY`. This slows guessing
//!   spread over many addresses; an address the name last logged in from
//!   successfully is exempt, so the real user keeps a way in.
//! - Names are throttled whether or not the user exists, so the lock itself
//!   tells nothing. Memory is bounded, and a locked entry is never evicted to
//!   make room: spraying names cannot reset the victim's lock.
//!
//! The state is in memory, shared by the workers of one process. An admin
//! lifts a lock with `tokend user unlock`, which the domain checks for when
//! a lock is hit (`Authority::login`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

/// Failures in a row, from one address, that lock a name for that address.
const FAILURES_BEFORE_LOCK: u32 = 5;
/// First lock; each further lock doubles it, up to `MAX_LOCK`.
const FIRST_LOCK: i64 = 60;
const MAX_LOCK: i64 = 15 * 60;
/// Failures in a row, from any address, after which the global delay applies.
const FAILURES_BEFORE_GLOBAL_DELAY: u32 = 20;
const GLOBAL_DELAY: i64 = 2;
/// An entry without a failure for this long starts afresh.
const FORGET_AFTER: i64 = 60 * 60;
/// Bound on remembered (name, address) pairs and on remembered names.
const MAX_ENTRIES: usize = 10_000;
/// Addresses remembered per name as having logged in successfully.
const TRUSTED_SOURCES: usize = 8;

/// A lock in force: when it began, and how long until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub since: i64,
    pub retry_after: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct SourceRecord {
    failures: u32,
    locks: u32,
    last_failure: i64,
    locked_at: i64,
    locked_until: i64,
}

#[derive(Debug, Clone, Default)]
struct NameRecord {
    failures: u32,
    last_failure: i64,
    delayed_at: i64,
    delayed_until: i64,
    trusted: Vec<IpAddr>,
}

#[derive(Debug, Default)]
struct State {
    sources: HashMap<(String, IpAddr), SourceRecord>,
    names: HashMap<String, NameRecord>,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

impl LoginThrottle {
    /// The lock that keeps `name` from trying from `source` now, if any.
    pub fn lock_on(&self, name: &str, source: IpAddr, now: i64) -> Option<Lock> {
        let state = self.state();
        let key = login_key(name);
        if let Some(r) = state.sources.get(&(key.clone(), source)) {
            if r.locked_until > now {
                return Some(Lock {
                    since: r.locked_at,
                    retry_after: r.locked_until - now,
                });
            }
        }
        let r = state.names.get(&key)?;
        (r.delayed_until > now && !r.trusted.contains(&source)).then_some(Lock {
            since: r.delayed_at,
            retry_after: r.delayed_until - now,
        })
    }

    pub fn record_failure(&self, name: &str, source: IpAddr, now: i64) {
        let mut state = self.state();
        let key = login_key(name);
        let source_key = (key.clone(), source);
        if !state.sources.contains_key(&source_key) {
            make_room(
                &mut state.sources,
                now,
                |r| r.locked_until > now,
                |r| r.last_failure,
            );
        }
        if state.sources.len() < MAX_ENTRIES || state.sources.contains_key(&source_key) {
            let r = state.sources.entry(source_key).or_default();
            if now - r.last_failure >= FORGET_AFTER {
                *r = SourceRecord::default();
            }
            r.failures += 1;
            r.last_failure = now;
            if r.failures >= FAILURES_BEFORE_LOCK {
                let lock = FIRST_LOCK
                    .saturating_mul(1 << r.locks.min(16))
                    .min(MAX_LOCK);
                r.locked_at = now;
                r.locked_until = now + lock;
                r.locks += 1;
                r.failures = 0;
            }
        }
        if !state.names.contains_key(&key) {
            make_room(
                &mut state.names,
                now,
                |r| r.failures >= FAILURES_BEFORE_GLOBAL_DELAY || !r.trusted.is_empty(),
                |r| r.last_failure,
            );
        }
        if state.names.len() < MAX_ENTRIES || state.names.contains_key(&key) {
            let r = state.names.entry(key).or_default();
            if now - r.last_failure >= FORGET_AFTER {
                r.failures = 0;
            }
            r.failures += 1;
            r.last_failure = now;
            if r.failures >= FAILURES_BEFORE_GLOBAL_DELAY {
                r.delayed_at = now;
                r.delayed_until = now + GLOBAL_DELAY;
            }
        }
    }

    /// A successful login clears the address's record and the name's run of
    /// failures, and remembers the address as the name's own.
    pub fn record_success(&self, name: &str, source: IpAddr) {
        let mut state = self.state();
        let key = login_key(name);
        state.sources.remove(&(key.clone(), source));
        let r = state.names.entry(key).or_default();
        r.failures = 0;
        r.delayed_until = 0;
        r.trusted.retain(|a| *a != source);
        r.trusted.insert(0, source);
        r.trusted.truncate(TRUSTED_SOURCES);
    }

    /// Forgets every lock and failure of `name`, from every address.
    pub fn unlock(&self, name: &str) {
        let mut state = self.state();
        let key = login_key(name);
        state.sources.retain(|(n, _), _| *n != key);
        if let Some(r) = state.names.get_mut(&key) {
            r.failures = 0;
            r.delayed_until = 0;
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked mid-update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key a name is throttled and unlocked under: names match
/// case-insensitively, as the database does.
pub fn login_key(name: &str) -> String {
    name.to_lowercase()
}

/// Frees one slot when `map` is full: first everything forgotten by age,
/// then the oldest entry that is not `protected`. Protected entries (locks
/// in force) are never evicted; when all are protected nothing is.
fn make_room<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    now: i64,
    protected: impl Fn(&V) -> bool,
    last_failure: impl Fn(&V) -> i64,
) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, r| protected(r) || now - last_failure(r) < FORGET_AFTER);
    if map.len() < MAX_ENTRIES {
        return;
    }
    let oldest = map
        .iter()
        .filter(|(_, r)| !protected(r))
        .min_by_key(|(_, r)| last_failure(r))
        .map(|(k, _)| k.clone());
    if let Some(oldest) = oldest {
        map.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    fn fail(t: &LoginThrottle, name: &str, source: IpAddr, now: i64, times: u32) {
        for _ in 0..times {
            t.record_failure(name, source, now);
        }
    }

    #[test]
    fn five_failures_lock_the_name_for_that_address_only() {
        let t = LoginThrottle::default();
        fail(&t, "alice@acme", ATTACKER, 1000, 4);
        assert_eq!(t.lock_on("alice@acme", ATTACKER, 1000), None);
        fail(&t, "alice@acme", ATTACKER, 1000, 1);
        let lock = t.lock_on("ALICE@acme", ATTACKER, 1000).unwrap();
        assert_eq!(
            lock,
            Lock {
                since: 1000,
                retry_after: 60
            }
        );
        assert_eq!(t.lock_on("alice@acme", HOME, 1000), None);
        assert_eq!(t.lock_on("bob@acme", ATTACKER, 1000), None);
        assert_eq!(t.lock_on("alice@acme", ATTACKER, 1060), None);
    }

    #[test]
    fn each_further_lock_doubles_up_to_fifteen_minutes() {
        let t = LoginThrottle::default();
        let mut now = 0;
        let mut locks = Vec::new();
        for _ in 0..6 {
            fail(&t, "a@b", ATTACKER, now, 5);
            let lock = t.lock_on("a@b", ATTACKER, now).unwrap().retry_after;
            locks.push(lock);
            now += lock;
        }
        assert_eq!(locks, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn many_addresses_slow_a_name_down_but_not_from_its_own_address() {
        let t = LoginThrottle::default();
        t.record_success("admin@System", HOME);
        for i in 0..FAILURES_BEFORE_GLOBAL_DELAY {
            let source = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, i as u8));
            t.record_failure("admin@System", source, 500);
        }
        let fresh = IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 9));
        assert_eq!(
            t.lock_on("admin@System", fresh, 500),
            Some(Lock {
                since: 500,
                retry_after: GLOBAL_DELAY
            })
        );
        assert_eq!(t.lock_on("admin@System", fresh, 500 + GLOBAL_DELAY), None);
        assert_eq!(t.lock_on("admin@System", HOME, 500), None);
    }

    #[test]
    fn success_time_and_unlock_clear_the_record() {
        let t = LoginThrottle::default();
        fail(&t, "a@b", ATTACKER, 0, 4);
        t.record_success("a@b", ATTACKER);
        fail(&t, "a@b", ATTACKER, 0, 1);
        assert_eq!(t.lock_on("a@b", ATTACKER, 0), None);

        fail(&t, "c@d", ATTACKER, 0, 4);
        fail(&t, "c@d", ATTACKER, FORGET_AFTER, 1);
        assert_eq!(t.lock_on("c@d", ATTACKER, FORGET_AFTER), None);

        fail(&t, "e@f", ATTACKER, 0, 25);
        assert!(t.lock_on("e@f", ATTACKER, 0).is_some());
        t.unlock("E@f");
        assert_eq!(t.lock_on("e@f", ATTACKER, 0), None);
        assert_eq!(t.lock_on("e@f", HOME, 0), None);
    }

    #[test]
    fn spraying_names_neither_grows_memory_nor_evicts_a_lock() {
        let t = LoginThrottle::default();
        fail(&t, "administrator@System", ATTACKER, 0, 3);
        fail(&t, "administrator@System", ATTACKER, 1, 2);
        for i in 0..(MAX_ENTRIES + 100) {
            t.record_failure(&format!("user{i}@x"), ATTACKER, 2);
        }
        let state = t.state();
        assert!(state.sources.len() <= MAX_ENTRIES);
        assert!(state.names.len() <= MAX_ENTRIES);
        drop(state);
        assert_eq!(
            t.lock_on("administrator@System", ATTACKER, 2),
            Some(Lock {
                since: 1,
                retry_after: 59
            })
        );
    }
}
