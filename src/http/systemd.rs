//! systemd's service protocol (`sd_notify`, with `Type=notify`): READY=1
//! once the socket listens and the workers run, STOPPING=1 when a graceful
//! stop begins, and WATCHDOG=1 every half `WatchdogSec=` while the writer
//! thread and every worker are alive. Without `NOTIFY_SOCKET` (not under
//! systemd) nothing is sent; without `WATCHDOG_USEC` no watchdog runs.
//!
//! Alive means: each worker's runtime turns (a heartbeat task on it beats
//! every `BEAT`, and must have beaten within the last half watchdog
//! interval), each pool thread has not ended, and the writer's thread runs.
//! A worker stuck that long, or a thread gone, withholds the ping, and
//! systemd restarts the service once `WatchdogSec=` has passed without one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::domain::storage::WriterStats;
use crate::logging;

/// How often a worker's heartbeat beats.
const BEAT: Duration = Duration::from_millis(250);

/// One worker or pool thread, as the watchdog sees it.
struct Slot {
    name: String,
    /// Whether it beats (a runtime) or only lives (a blocking thread).
    beats: bool,
    /// Its last beat, in milliseconds since `EPOCH`.
    last_beat: AtomicU64,
    ended: AtomicBool,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
static SLOTS: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());
static STOPPING: AtomicBool = AtomicBool::new(false);

fn millis_now() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

fn register(name: String, beats: bool) -> Arc<Slot> {
    let slot = Arc::new(Slot {
        name,
        beats,
        last_beat: AtomicU64::new(millis_now()),
        ended: AtomicBool::new(false),
    });
    SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(&slot));
    slot
}

/// Marks its slot ended when dropped: the thread returned, panicked, or its
/// runtime dropped the heartbeat.
pub struct Alive(Arc<Slot>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.ended.store(true, Ordering::Relaxed);
    }
}

/// For a blocking thread (a pool's): alive until the guard is dropped.
pub fn thread_alive(name: &str) -> Alive {
    Alive(register(name.to_string(), false))
}

/// For a worker's runtime: beats while the runtime turns.
pub async fn heartbeat(name: String) {
    let alive = Alive(register(name, true));
    loop {
        alive.0.last_beat.store(millis_now(), Ordering::Relaxed);
        tokio::time::sleep(BEAT).await;
    }
}

/// Why the process is not alive as a whole, if it is not: each worker that
/// has not beaten within `max_age` or has ended, and a stopped writer.
fn failures(max_age: Duration, writer: &WriterStats) -> Vec<String> {
    let now = millis_now();
    let max_age = max_age.as_millis() as u64;
    let mut failures: Vec<String> = SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(|slot| {
            if slot.ended.load(Ordering::Relaxed) {
                return Some(format!("{} has ended", slot.name));
            }
            let silent = now.saturating_sub(slot.last_beat.load(Ordering::Relaxed));
            (slot.beats && silent > max_age)
                .then(|| format!("{} has not turned for {silent} ms", slot.name))
        })
        .collect();
    if !writer.alive() {
        failures.push("the writer thread has stopped".into());
    }
    failures
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        logging::warn(format!("tokend: cannot notify systemd: {e}"));
    }
}

/// The service is serving on `addr`.
pub fn ready(scheme: &str, addr: SocketAddr) {
    let status = format!("serving on {scheme}://{addr}");
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A graceful stop has begun: the watchdog pings no more.
pub fn stopping() {
    STOPPING.store(true, Ordering::Relaxed);
    notify(&[NotifyState::Stopping]);
}

/// Starts pinging systemd's watchdog, if it asked for pings, every half
/// interval while everything is alive.
pub fn start_watchdog(writer: Arc<WriterStats>) -> std::io::Result<()> {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return Ok(());
    };
    let every = (interval / 2).max(Duration::from_millis(100));
    let watch = move || loop {
        thread::sleep(every);
        if STOPPING.load(Ordering::Relaxed) {
            return;
        }
        let failures = failures(every, &writer);
        if failures.is_empty() {
            notify(&[NotifyState::Watchdog]);
        } else {
            logging::error(format!(
                "tokend: watchdog not pinged: {}",
                failures.join("; ")
            ));
        }
    };
    thread::Builder::new()
        .name("watchdog".into())
        .spawn(watch)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_worker_an_ended_thread_and_a_stopped_writer_fail() {
        let writer = WriterStats::default();
        writer.set_alive(true);
        let beating = Alive(register("test-beating".into(), true));
        let living = thread_alive("test-living");
        let mine = |writer: &WriterStats, max_age: Duration| -> Vec<String> {
            failures(max_age, writer)
                .into_iter()
                .filter(|f| f.starts_with("test-") || f.contains("writer"))
                .collect()
        };
        assert!(mine(&writer, Duration::from_secs(60)).is_empty());

        thread::sleep(Duration::from_millis(30));
        let silent = mine(&writer, Duration::from_millis(10));
        assert_eq!(silent.len(), 1, "{silent:?}");
        assert!(silent[0].starts_with("test-beating has not turned"));
        beating.0.last_beat.store(millis_now(), Ordering::Relaxed);
        assert!(mine(&writer, Duration::from_secs(1)).is_empty());

        drop(living);
        writer.set_alive(false);
        assert_eq!(
            mine(&writer, Duration::from_secs(1)),
            ["test-living has ended", "the writer thread has stopped"]
        );
    }
}
