//! Whether the wall clock can be trusted by the passes that destroy on its
//! word: audit retention, the revocation of idle tokens, forgetting revoked
//! access tokens. A clock set 400 days ahead would otherwise prune the whole
//! trail, revoke every token as idle and forget every revocation, none of
//! which a corrected clock could undo.
//!
//! The clock is doubted when, since this handle started, the wall clock has
//! moved more than `JUMP_TOLERANCE` apart from the monotonic clock; or when,
//! at the start, it stood more than `JUMP_TOLERANCE` before the newest event
//! of the trail, or more than `SILENCE_TOLERATED` after it. The passes then
//! refuse and say why until an admin confirms the clock (`tokend clock
//! confirm`, an event the running service reads), which starts the watch
//! afresh from that moment.

use std::sync::Mutex;

use serde_json::json;

use crate::domain::ambient::Ambient;
use crate::domain::audit::Actor;
use crate::domain::storage::Reads;
use crate::domain::{format_time, Authority, DomainError};

/// How far the wall clock may move apart from the monotonic one (an NTP
/// step, a suspended VM) before it is doubted.
const JUMP_TOLERANCE_MS: i64 = 5 * 60 * 1000;
/// How long the trail may have been silent before a start: longer, and a
/// clock far ahead is likelier than a service left off that long.
const SILENCE_TOLERATED_MS: i64 = 30 * 24 * 3600 * 1000;

/// The event an admin's confirmation writes.
pub const CLOCK_CONFIRMED: &str = "clock.confirm";

/// Where the watch started: both clocks then, and whether the wall clock
/// agreed with the trail.
#[derive(Debug, Clone)]
struct Baseline {
    wall_ms: i64,
    monotonic_ms: i64,
    /// Why the wall clock was doubted at the start, if it was.
    doubted: Option<String>,
}

/// The watch kept by every handle of one process.
#[derive(Debug)]
pub struct ClockWatch {
    baseline: Mutex<Baseline>,
}

impl ClockWatch {
    /// Starts watching now, judging the wall clock against the newest
    /// event of the trail.
    pub fn start(ambient: &Ambient, db: &dyn Reads) -> Result<ClockWatch, DomainError> {
        let wall_ms = ambient.clock.now_millis();
        let newest = db.newest_event_at(None)?;
        let doubted = newest.and_then(|newest| {
            if wall_ms < newest - JUMP_TOLERANCE_MS {
                Some(format!(
                    "the clock ({}) is behind the newest audit event ({})",
                    format_time(wall_ms / 1000),
                    format_time(newest / 1000)
                ))
            } else if wall_ms > newest + SILENCE_TOLERATED_MS {
                Some(format!(
                    "the clock ({}) is more than 30 days past the newest audit event ({})",
                    format_time(wall_ms / 1000),
                    format_time(newest / 1000)
                ))
            } else {
                None
            }
        });
        Ok(ClockWatch {
            baseline: Mutex::new(Baseline {
                wall_ms,
                monotonic_ms: ambient.clock.monotonic_millis(),
                doubted,
            }),
        })
    }

    fn baseline(&self) -> std::sync::MutexGuard<'_, Baseline> {
        self.baseline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Authority {
    /// Ok when the wall clock can be trusted to destroy by; otherwise why
    /// not and what the admin can do (`Unavailable`: the pass waits).
    pub(in crate::domain) fn clock_trusted(&self) -> Result<(), DomainError> {
        let clock = &self.shared.ambient.clock;
        let (wall_ms, monotonic_ms) = (clock.now_millis(), clock.monotonic_millis());
        let watch = &self.shared.clock_watch;
        let doubt = {
            let baseline = watch.baseline();
            let drift = (wall_ms - baseline.wall_ms) - (monotonic_ms - baseline.monotonic_ms);
            if drift.abs() > JUMP_TOLERANCE_MS {
                Some(format!(
                    "the clock moved {} s {} real time since {}",
                    drift.abs() / 1000,
                    if drift > 0 { "ahead of" } else { "behind" },
                    format_time(baseline.wall_ms / 1000)
                ))
            } else {
                baseline.doubted.clone()
            }
        };
        let Some(doubt) = doubt else {
            return Ok(());
        };
        // An admin who confirmed the clock since the doubt arose lifts it:
        // the watch starts afresh from the confirmation.
        let confirmed = self.db().newest_event_at(Some(CLOCK_CONFIRMED))?;
        if confirmed.is_some_and(|at| (at - wall_ms).abs() <= JUMP_TOLERANCE_MS) {
            *watch.baseline() = Baseline {
                wall_ms,
                monotonic_ms,
                doubted: None,
            };
            return Ok(());
        }
        Err(DomainError::Unavailable(format!(
            "{doubt}; nothing is pruned, revoked as idle or forgotten until an admin \
             sets the clock right and runs `tokend clock confirm`"
        )))
    }

    /// Records that an admin checked the wall clock and it is right: the
    /// doubting passes act again, measuring from now.
    pub fn confirm_clock(&mut self, by: Actor<'_>) -> Result<i64, DomainError> {
        let now = self.now();
        let event = self
            .event_by(by, CLOCK_CONFIRMED)?
            .with("clock", json!(format_time(now)));
        self.write_recorded(event, |_| Ok(()))?;
        Ok(now)
    }
}
