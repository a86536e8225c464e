//! The HTTP layer: the only code that knows the wire.
//!
//! `serve` binds the socket and runs a fixed pool of worker threads, each with
//! its own `Authority` (and so its own database connection). A worker turns a
//! tiny_http request into a `Request` (body read eagerly, bounded), lets the
//! route table pick a handler, and writes the `Response` back. Handlers parse
//! and answer; they decide nothing and never touch the store.
//!
//! SIGTERM and SIGINT stop the pool from taking new requests; requests in
//! flight are answered before `serve` returns. `Server` is the same without
//! the signals, for running the service inside another program (tests).

mod discovery;
mod error;
mod oauth;
mod request;
mod response;
mod routes;
mod session;
mod tokens;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use request::{BodyError, Request, MAX_BODY};
use response::Response;

use crate::domain::Authority;

/// How often an idle worker looks at the shutdown flag.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

pub struct ServeOptions {
    pub listen: SocketAddr,
    pub workers: usize,
}

#[derive(Debug)]
pub struct ServeError(String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Serves until SIGTERM or SIGINT.
pub fn serve(authority: Authority, options: ServeOptions) -> Result<(), ServeError> {
    let server = Server::start(authority, options)?;
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&server.shutdown))
            .map_err(|e| ServeError(format!("cannot handle signal {signal}: {e}")))?;
    }
    eprintln!("tokend listening on http://{}", server.local_addr());
    server.wait();
    eprintln!("tokend stopped");
    Ok(())
}

/// A running service: its workers, and the flag that stops them.
pub struct Server {
    local_addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds the socket and starts the worker pool, one `Authority` (and so
    /// one database connection) per worker.
    pub fn start(authority: Authority, options: ServeOptions) -> Result<Server, ServeError> {
        let mut authorities = Vec::with_capacity(options.workers);
        for _ in 1..options.workers {
            let worker = authority
                .connect()
                .map_err(|e| ServeError(format!("cannot open database: {e}")))?;
            authorities.push(worker);
        }
        authorities.push(authority);

        let server = tiny_http::Server::http(options.listen)
            .map_err(|e| ServeError(format!("cannot listen on {}: {e}", options.listen)))?;
        let local_addr = server.server_addr().to_ip().unwrap_or(options.listen);
        let server = Arc::new(server);
        let shutdown = Arc::new(AtomicBool::new(false));
        let workers = authorities
            .into_iter()
            .map(|authority| {
                let server = Arc::clone(&server);
                let shutdown = Arc::clone(&shutdown);
                thread::spawn(move || work(&server, authority, &shutdown))
            })
            .collect();
        Ok(Server {
            local_addr,
            shutdown,
            workers,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops taking requests, answers those in flight, and returns.
    pub fn stop(self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.wait();
    }

    fn wait(self) {
        for worker in self.workers {
            if worker.join().is_err() {
                eprintln!("tokend: a worker thread panicked");
            }
        }
    }
}

fn work(server: &tiny_http::Server, mut authority: Authority, shutdown: &AtomicBool) {
    while !shutdown.load(Ordering::Relaxed) {
        match server.recv_timeout(SHUTDOWN_POLL) {
            Ok(Some(request)) => handle(&mut authority, request),
            Ok(None) => {}
            Err(e) => {
                eprintln!("tokend: accepting a request failed: {e}");
                thread::sleep(SHUTDOWN_POLL);
            }
        }
    }
}

fn handle(authority: &mut Authority, mut raw: tiny_http::Request) {
    let started = Instant::now();
    let request = read_request(&mut raw);
    let route = routes::pattern(&request.path);
    let method = log_method(&request.method);
    let response = catch_unwind(AssertUnwindSafe(|| routes::dispatch(authority, &request)))
        .unwrap_or_else(|_| {
            eprintln!("tokend: internal error: handler panicked on {method} {route}");
            Response::json(
                500,
                &serde_json::json!({"error": "internal_error", "message": "internal error; see the server log"}),
            )
        });
    // The route's pattern, never the path or query: scripts put API tokens
    // where an id belongs, and in query strings.
    eprintln!(
        "{method} {route} {} {}us",
        response.status,
        started.elapsed().as_micros()
    );
    if let Err(e) = raw.respond(to_wire(response)) {
        eprintln!("tokend: writing a response failed: {e}");
    }
}

fn read_request(raw: &mut tiny_http::Request) -> Request {
    let url = raw.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (url, String::new()),
    };
    let headers = raw
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    Request {
        method: raw.method().as_str().to_ascii_uppercase(),
        path,
        query,
        headers,
        peer: raw
            .remote_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip()),
        body: read_body(raw),
    }
}

/// The method as logged: a client chooses it, so anything but a short
/// upper-case word is shown as `-`.
fn log_method(method: &str) -> &str {
    let plain = (1..=16).contains(&method.len()) && method.bytes().all(|b| b.is_ascii_uppercase());
    if plain {
        method
    } else {
        "-"
    }
}

/// Reads at most `MAX_BODY` bytes; a declared or actual larger body is
/// refused without reading it whole.
fn read_body(raw: &mut tiny_http::Request) -> Result<Vec<u8>, BodyError> {
    if raw.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    raw.as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| BodyError::Unreadable)?;
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    Ok(body)
}

fn to_wire(response: Response) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut wire = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    for (name, value) in response.headers {
        match tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(header) => wire.add_header(header),
            Err(()) => eprintln!("tokend: dropped an unencodable {name} header"),
        }
    }
    wire
}
