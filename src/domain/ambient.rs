//! Time and randomness, passed in rather than reached for, so that tests set
//! the clock instead of sleeping or editing the database, and can script the
//! random bytes a decision depends on.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::domain::DomainError;

/// The current time in Unix seconds, and a monotonic clock beside it.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;

    /// The current time in Unix milliseconds.
    fn now_millis(&self) -> i64 {
        self.now().saturating_mul(1000)
    }

    /// Milliseconds on a clock that only moves forward, at the rate of real
    /// time, whatever is done to the wall clock: what a jump of the wall
    /// clock is measured against.
    fn monotonic_millis(&self) -> i64;
}

/// The host's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    fn monotonic_millis(&self) -> i64 {
        static BASE: OnceLock<Instant> = OnceLock::new();
        BASE.get_or_init(Instant::now).elapsed().as_millis() as i64
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    wall: AtomicI64,
    /// Seconds on the monotonic clock.
    monotonic: AtomicI64,
}

impl ManualClock {
    pub fn at(now: i64) -> ManualClock {
        ManualClock {
            wall: AtomicI64::new(now),
            monotonic: AtomicI64::new(0),
        }
    }

    /// Time passes: both clocks move on.
    pub fn advance(&self, seconds: i64) {
        self.wall.fetch_add(seconds, Ordering::SeqCst);
        self.monotonic.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The wall clock is set (wrongly, or right again) while no time
    /// passes: the monotonic clock stays.
    pub fn jump(&self, seconds: i64) {
        self.wall.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.wall.load(Ordering::SeqCst)
    }

    fn monotonic_millis(&self) -> i64 {
        self.monotonic.load(Ordering::SeqCst).saturating_mul(1000)
    }
}

/// Cryptographically secure random bytes.
pub trait RandomSource: Send + Sync {
    fn fill(&self, buf: &mut [u8]) -> Result<(), DomainError>;
}

/// The operating system's RNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), DomainError> {
        getrandom::getrandom(buf)
            .map_err(|e| DomainError::Internal(format!("the OS random source failed: {e}")))
    }
}

/// The clock and random source an `Authority` uses.
#[derive(Clone)]
pub struct Ambient {
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
}

impl Ambient {
    /// The host's clock and the OS RNG: what production runs on.
    pub fn system() -> Ambient {
        Ambient {
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A time-ordered (version 7, RFC 9562) UUID for `at_ms`: ids made in
    /// order land at the end of their index instead of on a random page of
    /// it (audit events, one per exchange).
    pub fn new_ordered_id(&self, at_ms: i64) -> Result<String, DomainError> {
        let mut bytes = [0u8; 10];
        self.random.fill(&mut bytes)?;
        Ok(
            uuid::Builder::from_unix_timestamp_millis(at_ms.max(0) as u64, &bytes)
                .into_uuid()
                .hyphenated()
                .to_string(),
        )
    }

    /// A random (version 4) UUID in canonical text form.
    pub fn new_id(&self) -> Result<String, DomainError> {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes)?;
        Ok(uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string())
    }
}

/// `length` characters drawn uniformly from `alphabet`. Bytes at or above
/// the largest multiple of the alphabet's size are dropped, so that no
/// character is more likely than another (no modulo bias).
pub fn random_string(
    random: &dyn RandomSource,
    alphabet: &[u8],
    length: usize,
) -> Result<String, DomainError> {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(length);
    let mut pool = [0u8; 64];
    while out.len() < length {
        random.fill(&mut pool)?;
        for &byte in pool.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == length {
                break;
            }
            out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
        }
    }
    Ok(out)
}
