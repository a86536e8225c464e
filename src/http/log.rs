//! What the HTTP layer may write to the log about a request: values a client
//! chose are escaped, so that no control character, escape sequence or
//! non-ASCII byte reaches the terminal or the journal raw.

use std::fmt::Write;
use std::io::Write as _;
use std::time::Duration;

/// Writes one request's log line, formatted first and written with one
/// call: concurrent workers never interleave, and a line costs one write.
/// The route's pattern, never the path or query: scripts put API tokens
/// where an id belongs, and in query strings.
pub fn request(method: &str, route: &str, status: u16, elapsed: Option<Duration>) {
    let mut line = String::with_capacity(64);
    let _ = write!(line, "{} {route} {status} ", escape(method));
    match elapsed {
        Some(elapsed) => {
            let _ = write!(line, "{}us", elapsed.as_micros());
        }
        None => line.push('-'),
    }
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
}
