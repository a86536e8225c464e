//! The service's log lines other than the request log: one line each on
//! stderr, as text (the line as written) or as one JSON object
//! (`TOKEND_LOG_FORMAT=json`), and a condition that repeats logged once
//! with a count per interval instead of once per occurrence.
//!
//! A line is written with one `write`, so concurrent threads never
//! interleave. The same text again within `REPEAT_INTERVAL` of its first
//! occurrence is only counted; when the interval is over a line says how
//! many times it came again (`… (repeated N times in the last 10 s)`), and
//! the next occurrence is logged afresh. A flood of one error (a full or
//! busy database answering every request) thus costs two lines per
//! interval, not one per request. Callers never put a secret, token,
//! password or client-chosen value into a line.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

/// How the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One line of text, as people read it.
    Text,
    /// One JSON object per line, for a log pipeline.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Sets the format of every line written from now on.
pub fn set_format(format: Format) {
    FORMAT.store(matches!(format, Format::Json) as u8, Ordering::Relaxed);
}

pub fn format() -> Format {
    match FORMAT.load(Ordering::Relaxed) {
        0 => Format::Text,
        _ => Format::Json,
    }
}

pub fn info(text: impl AsRef<str>) {
    emit(Level::Info, text.as_ref());
}

pub fn warn(text: impl AsRef<str>) {
    emit(Level::Warn, text.as_ref());
}

pub fn error(text: impl AsRef<str>) {
    emit(Level::Error, text.as_ref());
}

/// The time as JSON lines carry it: RFC 3339 in UTC, milliseconds.
pub fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Writes `line` (which ends in a newline) with one call.
pub fn write_line(line: &str) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A JSON log line: one object with `time`, `level`, `message`, then
/// `fields`, in that order.
pub fn json_line(level: Level, message: &str, fields: &[(&str, Value)]) -> String {
    let mut line = String::with_capacity(128);
    let mut field = |name: &str, value: &Value| {
        line.push(if line.is_empty() { '{' } else { ',' });
        line.push_str(&Value::from(name).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    };
    field("time", &timestamp().into());
    field("level", &level.as_str().into());
    field("message", &message.into());
    for (name, value) in fields {
        field(name, value);
    }
    line.push_str("}\n");
    line
}

/// Writes one line, unless the same text was written within the interval.
fn emit(level: Level, text: &str) {
    let admitted = repeats().admit(level, text, Instant::now());
    if admitted {
        write(level, text, None);
    }
}

/// How long the same text is counted rather than written again.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(10);
/// Different texts tracked at once; past it a text is written every time.
const MAX_TRACKED: usize = 1024;

fn write(level: Level, text: &str, repeated: Option<u64>) {
    let line = match format() {
        Format::Text => match repeated {
            None => format!("{text}\n"),
            Some(n) => format!(
                "{text} (repeated {n} times in the last {} s)\n",
                REPEAT_INTERVAL.as_secs()
            ),
        },
        Format::Json => {
            // The text form names the program; a JSON line has it elsewhere.
            let message = text.strip_prefix("tokend: ").unwrap_or(text);
            match repeated {
                None => json_line(level, message, &[]),
                Some(n) => json_line(
                    level,
                    message,
                    &[
                        ("repeated", json!(n)),
                        ("interval_s", json!(REPEAT_INTERVAL.as_secs())),
                    ],
                ),
            }
        }
    };
    write_line(&line);
}

/// One text seen within its interval.
struct Seen {
    level: Level,
    since: Instant,
    /// Occurrences counted, not written.
    again: u64,
}

/// The texts seen in their current interval.
struct Repeats {
    interval: Duration,
    seen: Mutex<HashMap<String, Seen>>,
}

impl Repeats {
    fn new(interval: Duration) -> Repeats {
        Repeats {
            interval,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `text` is to be written now; counted otherwise. An interval
    /// that ended with occurrences counted is reported first.
    fn admit(&self, level: Level, text: &str, now: Instant) -> bool {
        let ended = {
            let mut seen = self.seen();
            match seen.get_mut(text) {
                Some(s) if now.duration_since(s.since) < self.interval => {
                    s.again += 1;
                    return false;
                }
                Some(s) => {
                    let again = std::mem::take(&mut s.again);
                    s.since = now;
                    (again > 0).then_some((s.level, again))
                }
                None => {
                    if seen.len() < MAX_TRACKED {
                        seen.insert(
                            text.to_string(),
                            Seen {
                                level,
                                since: now,
                                again: 0,
                            },
                        );
                    }
                    None
                }
            }
        };
        if let Some((level, again)) = ended {
            write(level, text, Some(again));
        }
        true
    }

    /// Takes the texts whose interval has ended: those counted again, with
    /// how often, to be reported; the others are forgotten.
    fn ended(&self, now: Instant) -> Vec<(Level, String, u64)> {
        let mut ended = Vec::new();
        self.seen().retain(|text, s| {
            if now.duration_since(s.since) < self.interval {
                return true;
            }
            if s.again > 0 {
                ended.push((s.level, text.clone(), s.again));
            }
            false
        });
        ended
    }
}

/// The process's repeat counter, with a thread that reports ended intervals
/// (started with the first line).
fn repeats() -> &'static Repeats {
    static REPEATS: OnceLock<Repeats> = OnceLock::new();
    static REPORTER: OnceLock<()> = OnceLock::new();
    let repeats = REPEATS.get_or_init(|| Repeats::new(REPEAT_INTERVAL));
    REPORTER.get_or_init(|| {
        let report = move || loop {
            std::thread::sleep(Duration::from_secs(1));
            for (level, text, again) in repeats.ended(Instant::now()) {
                write(level, &text, Some(again));
            }
        };
        // Without the thread a count is still reported, by the next
        // occurrence after its interval.
        let _ = std::thread::Builder::new()
            .name("log-repeats".into())
            .spawn(report);
    });
    repeats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_text_is_written_once_per_interval_and_counted() {
        let repeats = Repeats::new(Duration::from_secs(10));
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        assert!(repeats.admit(Level::Warn, "busy", at(0)));
        for s in 0..9 {
            assert!(!repeats.admit(Level::Warn, "busy", at(s)));
        }
        assert!(repeats.admit(Level::Warn, "other", at(1)), "another text");
        assert!(repeats.ended(at(9)).is_empty(), "the interval runs on");
        assert_eq!(
            repeats.ended(at(10)),
            vec![(Level::Warn, "busy".to_string(), 9)]
        );
        // "other" came once: forgotten without a report.
        assert!(repeats.ended(at(20)).is_empty());
        assert!(repeats.admit(Level::Warn, "busy", at(21)), "afresh");
    }

    #[test]
    fn the_next_occurrence_after_an_interval_is_written() {
        let repeats = Repeats::new(Duration::from_secs(10));
        let start = Instant::now();
        assert!(repeats.admit(Level::Error, "full", start));
        assert!(!repeats.admit(Level::Error, "full", start));
        // No reporter ran: the occurrence that ends the interval reports
        // the count (written to stderr) and is written itself.
        assert!(repeats.admit(Level::Error, "full", start + Duration::from_secs(10)));
        assert!(!repeats.admit(Level::Error, "full", start + Duration::from_secs(11)));
    }

    #[test]
    fn a_json_line_is_one_object_with_time_level_and_message() {
        let line = json_line(Level::Info, "re\"quest\n", &[("status", json!(200))]);
        assert!(line.starts_with("{\"time\":"), "{line}");
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "info");
        assert_eq!(value["message"], "re\"quest\n");
        assert_eq!(value["status"], 200);
        let time = value["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    }
}
