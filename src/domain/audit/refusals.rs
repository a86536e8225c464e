//! Keeps a flood of refusals from filling the disk with their events.
//!
//! Each refusal (bad secret, failed login, 403) is an event, but a client
//! that sends thousands of bad tokens a second must not write thousands of
//! rows a second. Per kind of refusal, client address and target, the first
//! `RECORDED_PER_WINDOW` of each minute are recorded one by one; the rest are
//! counted, and once the minute is over one summary event says how many
//! there were, when the first and last came, and repeats the last one's
//! detail. Nothing is dropped without being counted.
//!
//! Memory is bounded: past `MAX_SOURCES` sources, refusals from new ones
//! share a single overflow entry (no address), with the same limits.
//!
//! The ledger is in memory, shared by the workers of one process; the
//! housekeeping pass and a graceful stop write out what it still counts.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::records::Event;

/// How long a window lasts, in seconds.
const WINDOW: i64 = 60;
/// Refusals recorded one by one per source and window.
const RECORDED_PER_WINDOW: u32 = 20;
/// Sources remembered at once.
const MAX_SOURCES: usize = 10_000;

/// Who is refused, and for what: the kind, the client and the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    kind: String,
    client_ip: Option<String>,
    target_id: Option<String>,
}

impl Source {
    fn of(event: &Event) -> Source {
        Source {
            kind: event.kind.clone(),
            client_ip: event.client_ip.clone(),
            target_id: event.target_id.clone(),
        }
    }

    fn overflow(kind: &str) -> Source {
        Source {
            kind: kind.to_string(),
            client_ip: None,
            target_id: None,
        }
    }
}

#[derive(Debug)]
struct Window {
    started: i64,
    recorded: u32,
    suppressed: u64,
    first_suppressed_ms: i64,
    /// The last refusal counted instead of recorded.
    last: Option<Event>,
}

impl Window {
    fn new(now: i64) -> Window {
        Window {
            started: now,
            recorded: 0,
            suppressed: 0,
            first_suppressed_ms: 0,
            last: None,
        }
    }
}

/// Refusals counted but not recorded one by one, to be written as one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The last of them, whose kind, actor, target and detail it repeats.
    pub last: Event,
    pub count: u64,
    pub first_ms: i64,
}

#[derive(Default)]
pub struct RefusalLedger {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    windows: HashMap<Source, Window>,
    /// Summaries taken but not written (the database refused them).
    unwritten: Vec<Summary>,
}

impl RefusalLedger {
    /// Whether `event` is to be recorded itself (false: it was counted),
    /// and the summaries of the source's window if that window just ended.
    pub fn admit(&self, event: &Event, now: i64) -> (bool, Option<Summary>) {
        let mut state = self.lock();
        let windows = &mut state.windows;
        let mut source = Source::of(event);
        if !windows.contains_key(&source) && windows.len() >= MAX_SOURCES {
            sweep(windows, now);
            if windows.len() >= MAX_SOURCES {
                source = Source::overflow(&event.kind);
            }
        }
        let window = windows.entry(source).or_insert_with(|| Window::new(now));
        let ended = if now >= window.started + WINDOW {
            let ended = std::mem::replace(window, Window::new(now));
            summary(ended)
        } else {
            None
        };
        if window.recorded < RECORDED_PER_WINDOW {
            window.recorded += 1;
            return (true, ended);
        }
        if window.suppressed == 0 {
            window.first_suppressed_ms = event.at_ms;
        }
        window.suppressed += 1;
        window.last = Some(event.clone());
        (false, ended)
    }

    /// Counts a refusal another process recorded one by one, so that the
    /// processes sharing a database record about `RECORDED_PER_WINDOW` of
    /// a source's refusals per window between them, not each as many.
    pub fn recorded_elsewhere(
        &self,
        kind: &str,
        client_ip: Option<String>,
        target_id: Option<String>,
        now: i64,
    ) {
        let mut state = self.lock();
        let windows = &mut state.windows;
        let mut source = Source {
            kind: kind.to_string(),
            client_ip,
            target_id,
        };
        if !windows.contains_key(&source) && windows.len() >= MAX_SOURCES {
            sweep(windows, now);
            if windows.len() >= MAX_SOURCES {
                source = Source::overflow(kind);
            }
        }
        let window = windows.entry(source).or_insert_with(|| Window::new(now));
        window.recorded = window.recorded.saturating_add(1).min(RECORDED_PER_WINDOW);
    }

    /// The summaries of windows that have ended (all of them with `all`,
    /// at a stop), forgetting those windows.
    pub fn take_summaries(&self, now: i64, all: bool) -> Vec<Summary> {
        let mut state = self.lock();
        let ended: Vec<Source> = state
            .windows
            .iter()
            .filter(|(_, w)| all || now >= w.started + WINDOW)
            .map(|(source, _)| source.clone())
            .collect();
        let mut summaries = std::mem::take(&mut state.unwritten);
        summaries.extend(
            ended
                .into_iter()
                .filter_map(|source| state.windows.remove(&source))
                .filter_map(summary),
        );
        summaries
    }

    /// Keeps summaries that could not be written for the next take.
    pub fn put_back(&self, summaries: Vec<Summary>) {
        self.lock().unwritten.extend(summaries);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forgets ended windows that counted nothing; those that did stay until
/// their summary is taken.
fn sweep(windows: &mut HashMap<Source, Window>, now: i64) {
    windows.retain(|_, w| w.suppressed > 0 || now < w.started + WINDOW);
}

fn summary(window: Window) -> Option<Summary> {
    let last = window.last?;
    Some(Summary {
        last,
        count: window.suppressed,
        first_ms: window.first_suppressed_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(n: i64, client: &str) -> Event {
        let mut event = Event::new(
            format!("e{n}"),
            n * 1000,
            "token.exchange_failed",
            "failure",
        );
        event.client_ip = Some(client.into());
        event
    }

    #[test]
    fn past_the_limit_refusals_are_counted_and_summed_up_once_the_window_ends() {
        let ledger = RefusalLedger::default();
        let admitted = (0..50)
            .filter(|_| ledger.admit(&refusal(0, "10.0.0.1"), 0).0)
            .count();
        assert_eq!(admitted, RECORDED_PER_WINDOW as usize);
        assert!(
            ledger.admit(&refusal(1, "10.0.0.2"), 1).0,
            "another address has its own limit"
        );
        assert!(ledger.take_summaries(30, false).is_empty(), "not over yet");

        let (recorded, ended) = ledger.admit(&refusal(61, "10.0.0.1"), 61);
        assert!(recorded, "a new window records again");
        let summary = ended.expect("the last window's summary");
        assert_eq!(summary.count, 30);
        assert_eq!(summary.last.client_ip.as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn summaries_are_taken_when_due_or_all_at_a_stop() {
        let ledger = RefusalLedger::default();
        for _ in 0..25 {
            ledger.admit(&refusal(0, "10.0.0.1"), 0);
        }
        for _ in 0..22 {
            ledger.admit(&refusal(30, "10.0.0.2"), 30);
        }
        let due = ledger.take_summaries(60, false);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, 5);
        let rest = ledger.take_summaries(61, true);
        assert_eq!(rest.len(), 1, "a stop takes what is not due yet");
        assert_eq!(rest[0].count, 2);
        assert!(ledger.take_summaries(1000, true).is_empty(), "each once");
        ledger.put_back(rest);
        assert_eq!(
            ledger.take_summaries(1000, false).len(),
            1,
            "unless put back"
        );
    }

    #[test]
    fn memory_is_bounded_and_new_sources_share_one_entry() {
        let ledger = RefusalLedger::default();
        for n in 0..MAX_SOURCES {
            ledger.admit(&refusal(0, &format!("source-{n}")), 0);
        }
        let overflowed = (0..100)
            .filter(|n| ledger.admit(&refusal(0, &format!("new-{n}")), 0).0)
            .count();
        assert_eq!(overflowed, RECORDED_PER_WINDOW as usize);
        assert_eq!(ledger.lock().windows.len(), MAX_SOURCES + 1);
        let summaries = ledger.take_summaries(0, true);
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].count, 80);
    }
}
