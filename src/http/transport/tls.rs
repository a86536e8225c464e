//! TLS as a layer under the connection: `Stream` is a connection's bytes,
//! plain TCP or TLS over it, which `Deadlines` then wraps as before; and
//! `handshake`, which runs the TLS handshake under a deadline.
//!
//! The handshake is a task on the worker's runtime like any connection, so
//! a client that stalls in it holds no thread; it holds a slot under the
//! connection cap, and is the first to be evicted when the cap is reached.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A connection's byte stream, plain or TLS.
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A TLS record that starts a handshake begins with this byte.
const HANDSHAKE_RECORD: u8 = 0x16;

/// The answer to a plain HTTP request on the TLS port, which a client
/// shows its user: a TLS alert would read as garbage.
const PLAIN_HTTP_ANSWER: &str = concat!(
    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n",
    "connection: close\r\ncontent-length: 86\r\n\r\n",
    r#"{"error":"invalid_request","message":"this port speaks TLS: use https:// to reach it"}"#
);

/// Runs the server side of a TLS handshake on `stream`; gives up at
/// `deadline`, counted from the connection's start. Whatever goes wrong,
/// the connection is just closed, but for a client that spoke plain HTTP,
/// which is told to use https.
pub(super) async fn handshake(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    deadline: Duration,
) -> Option<Stream> {
    let handshake = async {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await.ok()? == 0 {
            return None;
        }
        if first[0] != HANDSHAKE_RECORD {
            if first[0].is_ascii_uppercase() {
                let _ = stream.try_write(PLAIN_HTTP_ANSWER.as_bytes());
            }
            return None;
        }
        TlsAcceptor::from(config).accept(stream).await.ok()
    };
    let tls = tokio::time::timeout(deadline, handshake).await.ok()??;
    Some(Stream::Tls(Box::new(tls)))
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
