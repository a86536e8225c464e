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
//! - The table fails closed. A name past the global delay is kept while its
//!   run counts (an hour since its last failure), so a long spray can fill
//!   the table; a name that then finds no room is counted in one of a fixed
//!   set of shared buckets, picked by a hash of the name, and a bucket past
//!   the global delay holds every untracked name in it to one attempt per
//!   `GLOBAL_DELAY`. A name's own record, once it has one, is used instead.
//!   (A full table of (name, address) locks gets no shared bucket: sharing a
//!   lock among addresses would let whoever fills the table lock a name out
//!   from everywhere; the name's delay still applies.)
//!
//! The state is in memory, shared by the workers of one process. An admin
//! lifts a lock with `tokend user unlock`, which the domain checks for when
//! a lock is hit (`Authority::login`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// Shared runs for names the table has no room for. More buckets share
/// less (an untracked name is held up by others' failures only when they
/// land in its bucket); 1,024 runs are 32 KiB.
const OVERFLOW_BUCKETS: usize = 1024;

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

/// A run of failures in a row, from any address, and the delay it earned:
/// one name's, or an overflow bucket's.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    failures: u32,
    last_failure: i64,
    delayed_at: i64,
    delayed_until: i64,
}

impl Run {
    fn fail(&mut self, now: i64) {
        if now - self.last_failure >= FORGET_AFTER {
            self.failures = 0;
        }
        self.failures += 1;
        self.last_failure = now;
        if self.failures >= FAILURES_BEFORE_GLOBAL_DELAY {
            self.delayed_at = now;
            self.delayed_until = now + GLOBAL_DELAY;
        }
    }

    fn delay(&self, now: i64) -> Option<Lock> {
        (self.delayed_until > now).then_some(Lock {
            since: self.delayed_at,
            retry_after: self.delayed_until - now,
        })
    }

    /// Whether the run still counts: past the global delay, and not yet
    /// forgotten. Evicting it would give the next guesses a fresh run.
    fn counts(&self, now: i64) -> bool {
        self.failures >= FAILURES_BEFORE_GLOBAL_DELAY && now - self.last_failure < FORGET_AFTER
    }
}

#[derive(Debug, Clone, Default)]
struct NameRecord {
    run: Run,
    trusted: Vec<IpAddr>,
}

#[derive(Debug)]
struct State {
    sources: HashMap<(String, IpAddr), SourceRecord>,
    names: HashMap<String, NameRecord>,
    /// Runs of the names `names` has no room for, shared by hash.
    overflow: Box<[Run]>,
}

impl Default for State {
    fn default() -> State {
        State {
            sources: HashMap::new(),
            names: HashMap::new(),
            overflow: vec![Run::default(); OVERFLOW_BUCKETS].into_boxed_slice(),
        }
    }
}

/// The overflow bucket of a name's key. The hash need not be secret: an
/// attacker who keeps a bucket delayed holds up no more than failing on a
/// name in it does, and a name with a record of its own (every name that
/// logged in since the start, with its known-good addresses) never looks
/// at its bucket.
fn bucket(key: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % OVERFLOW_BUCKETS as u64) as usize
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
    /// (name, address) locks imposed since the start, for monitoring.
    imposed: AtomicU64,
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
        match state.names.get(&key) {
            Some(r) if r.trusted.contains(&source) => None,
            Some(r) => r.run.delay(now),
            None => state.overflow[bucket(&key)].delay(now),
        }
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
                self.imposed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !state.names.contains_key(&key) {
            make_room(
                &mut state.names,
                now,
                |r| r.run.counts(now) || !r.trusted.is_empty(),
                |r| r.run.last_failure,
            );
        }
        if state.names.len() < MAX_ENTRIES || state.names.contains_key(&key) {
            state.names.entry(key).or_default().run.fail(now);
        } else {
            // No room: counted all the same, in the name's shared bucket.
            state.overflow[bucket(&key)].fail(now);
        }
    }

    /// A successful login clears the address's record and the name's run of
    /// failures, and remembers the address as the name's own. (Such records
    /// are never evicted, and need no room made: only a right password makes
    /// one, so there are at most as many as accounts that log in.) A shared
    /// bucket is left alone: other names' failures are in it too.
    pub fn record_success(&self, name: &str, source: IpAddr) {
        let mut state = self.state();
        let key = login_key(name);
        state.sources.remove(&(key.clone(), source));
        let r = state.names.entry(key).or_default();
        r.run = Run::default();
        r.trusted.retain(|a| *a != source);
        r.trusted.insert(0, source);
        r.trusted.truncate(TRUSTED_SOURCES);
    }

    /// Forgets every lock and failure of `name`, from every address. A
    /// shared bucket is left as it is (it counts other names too); the
    /// login's check of the recorded unlock lifts its delay for this name
    /// (`Authority::login`).
    pub fn unlock(&self, name: &str) {
        let mut state = self.state();
        let key = login_key(name);
        state.sources.retain(|(n, _), _| *n != key);
        if let Some(r) = state.names.get_mut(&key) {
            r.run = Run::default();
        }
    }

    /// The (name, address) locks in force at `now`, and how many were
    /// imposed since the start. For monitoring: it looks at every entry.
    pub fn locks(&self, now: i64) -> (u64, u64) {
        let in_force = self
            .state()
            .sources
            .values()
            .filter(|r| r.locked_until > now)
            .count();
        (in_force as u64, self.imposed.load(Ordering::Relaxed))
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
    fn locks_in_force_and_imposed_are_counted() {
        let t = LoginThrottle::default();
        assert_eq!(t.locks(1000), (0, 0));
        fail(&t, "alice@acme", ATTACKER, 1000, 5);
        fail(&t, "bob@acme", ATTACKER, 1000, 4);
        assert_eq!(t.locks(1000), (1, 1), "four failures lock nothing");
        fail(&t, "bob@acme", HOME, 1010, 5);
        assert_eq!(t.locks(1010), (2, 2));
        assert_eq!(t.locks(1060), (1, 2), "alice's lock has ended");
        t.unlock("bob@acme");
        assert_eq!(t.locks(1060), (0, 2), "lifted, still imposed once");
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
    fn address(i: usize) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32))
    }

    /// Fills the name table the way a long spray does: every name failed
    /// past the global delay, so none may be evicted. (A real spray needs
    /// several addresses per name to get past the per-address lock; one
    /// address gives the name table the same failures, and keeps the
    /// address table from filling, which would only make the test slow.)
    fn fill_with_sprayed_names(t: &LoginThrottle, now: i64) {
        let room = MAX_ENTRIES - t.state().names.len();
        for i in 0..room {
            fail(
                t,
                &format!("sprayed{i}@x"),
                ATTACKER,
                now,
                FAILURES_BEFORE_GLOBAL_DELAY,
            );
        }
        assert_eq!(t.state().names.len(), MAX_ENTRIES);
    }

    #[test]
    fn a_full_table_still_throttles_a_name_it_has_no_room_for() {
        let t = LoginThrottle::default();
        t.record_success("admin@System", HOME);
        fill_with_sprayed_names(&t, 100);
        let fresh = IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 9, 9));

        // Untracked and not failed: not held up.
        assert_eq!(t.lock_on("victim@acme", fresh, 200), None);
        for i in 0..FAILURES_BEFORE_GLOBAL_DELAY as usize {
            t.record_failure("victim@acme", address(1000 + i), 200);
        }
        assert!(!t.state().names.contains_key("victim@acme"), "no room");
        assert_eq!(
            t.lock_on("Victim@acme", fresh, 200),
            Some(Lock {
                since: 200,
                retry_after: GLOBAL_DELAY
            }),
            "an untracked name past the global delay is still delayed"
        );
        assert_eq!(t.lock_on("victim@acme", fresh, 200 + GLOBAL_DELAY), None);

        // A tracked name keeps its own record, and its known-good address.
        for i in 0..FAILURES_BEFORE_GLOBAL_DELAY as usize {
            t.record_failure("admin@System", address(2000 + i), 300);
        }
        assert!(t.lock_on("admin@System", fresh, 300).is_some());
        assert_eq!(t.lock_on("admin@System", HOME, 300), None);

        // A spray of further names stays within the table and the buckets.
        for i in 0..(2 * OVERFLOW_BUCKETS) {
            t.record_failure(&format!("more{i}@x"), ATTACKER, 400);
        }
        let state = t.state();
        assert_eq!(state.names.len(), MAX_ENTRIES);
        assert!(state.sources.len() <= MAX_ENTRIES);
        assert_eq!(state.overflow.len(), OVERFLOW_BUCKETS);
    }

    #[test]
    fn names_past_the_global_delay_make_room_once_their_run_is_forgotten() {
        let t = LoginThrottle::default();
        fill_with_sprayed_names(&t, 100);
        t.record_failure("early@acme", ATTACKER, 100 + FORGET_AFTER - 1);
        assert!(
            !t.state().names.contains_key("early@acme"),
            "still counting"
        );
        t.record_failure("late@acme", ATTACKER, 100 + FORGET_AFTER);
        let state = t.state();
        assert!(
            state.names.contains_key("late@acme"),
            "forgotten runs evicted"
        );
        assert!(state.names.len() <= MAX_ENTRIES);
    }
}
