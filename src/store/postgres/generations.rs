//! The generations (directory, signing keys) as last read, kept while
//! nothing says they moved: the domain reads them on every request, and
//! on PostgreSQL each read is a round trip to the server.
//!
//! A generation is read again when it may have moved:
//! - this process committed a change to it (the writer learns so from the
//!   transaction itself, before it answers, so this node's next request
//!   sees its own change);
//! - another node did (its trigger's NOTIFY reaches `notices`);
//! - the notices' connection dropped (what it missed is unknown);
//! - or `MAX_AGE` passed, should a notice be lost some other way.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::domain::storage::StoreResult;

/// How long a generation is kept without a notice at most.
const MAX_AGE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    Directory,
    SigningKeys,
}

impl Generation {
    pub(crate) const ALL: [Generation; 2] = [Generation::Directory, Generation::SigningKeys];

    /// Its row in `generations`, and the channel its trigger notifies.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Generation::Directory => "directory",
            Generation::SigningKeys => "signing_keys",
        }
    }
}

pub(crate) struct Generations {
    started: Instant,
    slots: [Slot; 2],
}

struct Slot {
    value: AtomicI64,
    /// When it was read, in nanoseconds since `started`.
    read_at: AtomicU64,
    stale: AtomicBool,
}

impl Default for Generations {
    fn default() -> Generations {
        let slot = || Slot {
            value: AtomicI64::new(0),
            read_at: AtomicU64::new(0),
            stale: AtomicBool::new(true),
        };
        Generations {
            started: Instant::now(),
            slots: [slot(), slot()],
        }
    }
}

impl Generations {
    fn slot(&self, which: Generation) -> &Slot {
        &self.slots[which as usize]
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The generation, kept or read with `read`.
    pub(crate) fn get(
        &self,
        which: Generation,
        read: impl FnOnce() -> StoreResult<i64>,
    ) -> StoreResult<i64> {
        let slot = self.slot(which);
        let age = self
            .now()
            .saturating_sub(slot.read_at.load(Ordering::Acquire));
        if !slot.stale.load(Ordering::Acquire) && age < MAX_AGE.as_nanos() as u64 {
            return Ok(slot.value.load(Ordering::Acquire));
        }
        // Fresh before the read: a notice that arrives during it marks the
        // slot stale again, and the next caller reads once more.
        slot.stale.store(false, Ordering::Release);
        let read_at = self.now();
        let value = match read() {
            Ok(value) => value,
            Err(e) => {
                slot.stale.store(true, Ordering::Release);
                return Err(e);
            }
        };
        // Generations only grow: a slower read that saw less keeps nothing.
        let kept = slot.value.fetch_max(value, Ordering::AcqRel).max(value);
        slot.read_at.store(read_at, Ordering::Release);
        Ok(kept)
    }

    /// It may have moved: read it again when next asked.
    pub(crate) fn moved(&self, which: Generation) {
        self.slot(which).stale.store(true, Ordering::Release);
    }

    pub(crate) fn all_moved(&self) {
        for which in Generation::ALL {
            self.moved(which);
        }
    }

    /// The generation named `name` (a channel's or a setting's), if any.
    pub(crate) fn named(name: &str) -> Option<Generation> {
        Generation::ALL.into_iter().find(|g| g.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_is_kept_until_it_moves_or_ages() {
        let generations = Generations::default();
        let reads = std::cell::Cell::new(0);
        let read = |value: i64| {
            reads.set(reads.get() + 1);
            Ok(value)
        };
        assert_eq!(
            generations.get(Generation::Directory, || read(5)).unwrap(),
            5
        );
        assert_eq!(
            generations.get(Generation::Directory, || read(6)).unwrap(),
            5
        );
        assert_eq!(reads.get(), 1, "kept");
        generations.moved(Generation::Directory);
        assert_eq!(
            generations.get(Generation::Directory, || read(7)).unwrap(),
            7
        );
        assert_eq!(
            generations
                .get(Generation::SigningKeys, || read(3))
                .unwrap(),
            3,
            "each its own"
        );
        generations.all_moved();
        assert_eq!(
            generations.get(Generation::Directory, || read(6)).unwrap(),
            7,
            "a read that saw less keeps the larger"
        );
        std::thread::sleep(MAX_AGE);
        assert_eq!(
            generations.get(Generation::Directory, || read(9)).unwrap(),
            9
        );
        assert_eq!(reads.get(), 5);
    }
}
