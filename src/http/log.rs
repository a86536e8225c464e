//! What the HTTP layer may write to the log about a request: the request
//! line (text, or one JSON object with its request id and client address),
//! the request id itself, and escaping: values a client chose are escaped,
//! so that no control character, escape sequence or non-ASCII byte reaches
//! the terminal or the journal raw.

use std::fmt::Write;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;

use super::metrics;
use crate::logging::{self, Format, Level};

/// The header a request id comes in and goes out with.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// What the log knows of the request being answered, set by the transport
/// around each request (a task of its own on a worker's runtime).
pub struct RequestContext {
    pub id: String,
    pub client: IpAddr,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// Runs `answer` with `context` as the request the log lines name.
pub async fn within<F: Future>(context: RequestContext, answer: F) -> F::Output {
    CONTEXT.scope(context, answer).await
}

/// The request's id: the one the client (or a proxy) sent in
/// `X-Request-Id` when there is exactly one of 1 to 64 visible ASCII
/// characters, else a new one (32 hex digits, unique to this process run).
pub fn request_id<'a>(mut sent: impl Iterator<Item = &'a [u8]>) -> String {
    match (sent.next(), sent.next()) {
        (Some(id), None) if is_request_id(id) => String::from_utf8_lossy(id).into_owned(),
        _ => new_request_id(),
    }
}

fn is_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len()) && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A random prefix for the run and a counter: unique, and costs no
/// randomness per request.
fn new_request_id() -> String {
    static RUN: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = *RUN.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without OS randomness the time tells runs apart well enough.
        if getrandom::getrandom(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = nanos.to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{run:016x}{n:016x}")
}

/// Counts the request in the metrics and writes its log line, formatted
/// first and written with one call: concurrent workers never interleave,
/// and a line costs one write. The route's pattern, never the path or
/// query: scripts put API tokens where an id belongs, and in query strings.
pub fn request(method: &str, route: &'static str, status: u16, elapsed: Option<Duration>) {
    metrics::request(method, route, status, elapsed);
    let line = match logging::format() {
        Format::Text => text_line(method, route, status, elapsed),
        Format::Json => json_line(method, route, status, elapsed),
    };
    logging::write_line(&line);
}

/// Today's line: `METHOD /pattern STATUS 123us` (`-` when not timed).
fn text_line(method: &str, route: &str, status: u16, elapsed: Option<Duration>) -> String {
    let mut line = String::with_capacity(64);
    let _ = write!(line, "{} {route} {status} ", escape(method));
    match elapsed {
        Some(elapsed) => {
            let _ = write!(line, "{}us", elapsed.as_micros());
        }
        None => line.push('-'),
    }
    line.push('\n');
    line
}

fn json_line(method: &str, route: &str, status: u16, elapsed: Option<Duration>) -> String {
    let (id, client) = CONTEXT
        .try_with(|c| (Some(c.id.clone()), Some(c.client.to_string())))
        .unwrap_or((None, None));
    let fields = [
        ("request_id", json!(id)),
        ("method", json!(escape(method))),
        ("route", json!(route)),
        ("status", json!(status)),
        ("duration_us", json!(elapsed.map(|e| e.as_micros() as u64))),
        ("client", json!(client)),
    ];
    logging::json_line(Level::Info, "request", &fields)
}

/// `text` with everything outside printable ASCII written as `\xNN` or
/// `\u{NNNN}`, and backslashes doubled, cut at 64 characters.
pub fn escape(text: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::with_capacity(text.len().min(MAX));
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_non_ascii_are_escaped() {
        assert_eq!(escape("GET"), "GET");
        assert_eq!(escape("G\x1b[31mET\r\n\0"), "G\\x1b[31mET\\x0d\\x0a\\x00");
        assert_eq!(escape("ü\u{202e}"), "\\xfc\\u{202e}");
        assert_eq!(escape("a\\b"), "a\\\\b");
        assert_eq!(escape(&"x".repeat(100)).len(), 67);
    }

    #[test]
    fn a_request_id_is_taken_when_valid_and_made_otherwise() {
        let id = |sent: &[&[u8]]| request_id(sent.iter().copied());
        assert_eq!(id(&[b"abc-123"]), "abc-123");
        let longest = "x".repeat(64);
        assert_eq!(id(&[longest.as_bytes()]), longest);
        let too_long = "x".repeat(65);
        for refused in [
            &b""[..],
            too_long.as_bytes(),
            b"with space",
            b"tab\there",
            b"caf\xc3\xa9",
            b"nl\n",
        ] {
            let made = id(&[refused]);
            assert_eq!(made.len(), 32, "{refused:?}");
            assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(id(&[b"one", b"two"]).len(), 32, "two ids: neither");
        assert_eq!(id(&[]).len(), 32);
        assert_ne!(id(&[]), id(&[]), "each made id is new");
    }
}
