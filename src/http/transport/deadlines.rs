//! Bounded waits on a client's socket: `Deadlines` wraps a connection's
//! stream so that a read idle past the idle timeout, or a write stuck past
//! the write timeout, fails; and gives hyper's bodiless parse-error answers
//! the JSON body every other error has.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::tls::Stream;
use super::{ConnectionState, Limits};

/// A connection's stream (plain or TLS) whose waits are bounded: a read that waits longer than the
/// idle timeout while no request is in flight (the body has a timeout of its
/// own), or a write that waits longer than the write timeout, fails.
///
/// It also gives hyper's own answers to requests it could not parse (400,
/// 414, 431, sent with an empty body just before hyper closes) the JSON body
/// every other error has: such an answer is recognised by its empty body and
/// missing content type, which no answer of tokend's has, and replaced.
pub(super) struct Deadlines {
    stream: Stream,
    state: Arc<ConnectionState>,
    idle_timeout: Duration,
    write_timeout: Duration,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// The rest of a replaced answer, written before flush and shutdown.
    replacement: Vec<u8>,
}

impl Deadlines {
    pub(super) fn new(stream: Stream, state: Arc<ConnectionState>, limits: Limits) -> Deadlines {
        Deadlines {
            stream,
            state,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.write_timeout,
            read_timer: None,
            write_timer: None,
            replacement: Vec::new(),
        }
    }

    /// A write's outcome, or an error once it has waited past the write
    /// timeout.
    fn bounded_write(
        &mut self,
        written: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                self.write_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                expired(&mut self.write_timer, self.write_timeout, cx, "slow reader").map(Err)
            }
        }
    }

    /// Writes what is left of a replaced answer; Ready once it is all out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.replacement.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.replacement) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.write_timer = None;
                    self.replacement.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    return expired(&mut self.write_timer, self.write_timeout, cx, "slow reader")
                        .map(Err)
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The JSON answer to put in place of hyper's bodiless answer `head`, if it
/// is one.
fn json_for_parse_error(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let lower = text.to_ascii_lowercase();
    let bodiless = lower.contains("\r\ncontent-length: 0\r\n") && !lower.contains("content-type:");
    if !bodiless || !text.ends_with("\r\n\r\n") {
        return None;
    }
    let (status, code, message) = match text.get(..12)? {
        "HTTP/1.1 400" => (400, "invalid_request", "the request is malformed"),
        "HTTP/1.1 414" => (414, "uri_too_long", "the request target is too long"),
        "HTTP/1.1 431" => (
            431,
            "request_header_fields_too_large",
            "the request line and headers are too large or too many",
        ),
        _ => return None,
    };
    let reason = text.lines().next()?.get(13..)?;
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// Ready with an error once `timer` (started on first use) has run out.
fn expired(
    timer: &mut Option<Pin<Box<Sleep>>>,
    after: Duration,
    cx: &mut Context<'_>,
    what: &'static str,
) -> Poll<io::Error> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, what)),
        Poll::Pending => Poll::Pending,
    }
}

impl AsyncRead for Deadlines {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read_timer = None;
                Poll::Ready(result)
            }
            Poll::Pending if this.state.busy.load(Ordering::Relaxed) => {
                this.read_timer = None;
                Poll::Pending
            }
            Poll::Pending => expired(&mut this.read_timer, this.idle_timeout, cx, "idle").map(Err),
        }
    }
}

impl AsyncWrite for Deadlines {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(replacement) = json_for_parse_error(buf) {
            this.replacement = replacement;
            return this.poll_replacement(cx).map_ok(|()| buf.len());
        }
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.bounded_write(written, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let [head] = bufs {
            if let Some(replacement) = json_for_parse_error(head) {
                this.replacement = replacement;
                return this.poll_replacement(cx).map_ok(|()| head.len());
            }
        }
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.bounded_write(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bodiless_parse_errors_get_a_json_body() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 25 Nov 2026 14:13:03 GMT\r\n\r\n";
        let replaced = String::from_utf8(json_for_parse_error(head).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let (_, body) = replaced.split_once("\r\n\r\n").unwrap();
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], "request_header_fields_too_large");
        assert!(replaced.contains(&format!("content-length: {}", body.to_string().len())));
    }

    #[test]
    fn tokends_own_answers_are_left_alone() {
        for head in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"{\"error\":\"x\"}",
        ] {
            assert!(json_for_parse_error(head).is_none());
        }
    }
}
