//! The metrics address: plain HTTP on a listener, a thread and a
//! single-threaded runtime of its own, so that a scrape never waits for the
//! API's workers nor holds one up. It answers `GET /metrics` (and HEAD)
//! and nothing else: any other path is 404, another method 405. OpenMetrics
//! when the scraper's `Accept` names it (Prometheus does), else the
//! Prometheus text format 0.0.4.
//!
//! Bounded like the API, more simply: at most `MAX_CONNECTIONS` at once
//! (more are closed unanswered), `HEAD_TIMEOUT` for a request head, one
//! request per connection, `CONNECTION_TIMEOUT` for all of it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::{install, metrics};
use crate::domain::Authority;
use crate::logging;

const PATH: &str = "/metrics";
const MAX_CONNECTIONS: usize = 16;
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The running metrics listener; stopped when dropped.
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Listens on `addr` (bound before this returns, so a taken address fails
/// the start) and serves the metrics, read with `authority`, whose writer's
/// batches are counted from now on.
pub fn serve(addr: SocketAddr, authority: Authority) -> io::Result<MetricsServer> {
    install(&authority);
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let thread = thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            if let Err(e) = run(listener, authority, stopped) {
                logging::error(format!("tokend: the metrics listener failed: {e}"));
            }
        })?;
    Ok(MetricsServer {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

fn run(
    listener: std::net::TcpListener,
    authority: Authority,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::from_std(listener)?;
        let authority = Rc::new(authority);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => return Ok(()),
            };
            match accepted {
                Ok((stream, _)) => {
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        continue; // closed unanswered
                    };
                    let authority = Rc::clone(&authority);
                    tokio::task::spawn_local(async move {
                        let _slot = slot;
                        let _ = stream.set_nodelay(true);
                        let service = service_fn(move |request| {
                            let answer = answer(&request, &authority);
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        let mut http = http1::Builder::new();
                        http.timer(TokioTimer::new())
                            .header_read_timeout(HEAD_TIMEOUT)
                            .keep_alive(false);
                        let connection = http.serve_connection(TokioIo::new(stream), service);
                        let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
                    });
                }
                // Out of file descriptors, or the like: try again shortly.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
}

fn answer(
    request: &hyper::Request<Incoming>,
    authority: &Authority,
) -> hyper::Response<Full<Bytes>> {
    if request.uri().path() != PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: only /metrics is served here\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let openmetrics = wants_openmetrics(request.headers());
    let body = metrics().expose(authority, openmetrics);
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    let content_type = if openmetrics {
        OPENMETRICS
    } else {
        PROMETHEUS_TEXT
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

fn plain(status: StatusCode, text: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
