//! The HTTP layer: the only code that knows the wire.
//!
//! `Server` binds the socket and starts the workers: each a thread with its
//! own `Authority` (and so its own database connection) and its own
//! single-threaded runtime serving HTTP with hyper (`transport`); logins run
//! on a pool of their own (`pool`). Handlers parse and answer; they decide nothing and never touch the
//! store. `serve` is `Server` plus SIGTERM/SIGINT: it stops taking requests,
//! lets those in flight finish within a bounded grace, and returns; under
//! systemd it tells it so (`systemd`); with TLS (`tls`), SIGHUP reloads
//! the certificate. `metrics` counts and serves the Prometheus metrics on
//! an address of its own.

/// Bodies larger than this are refused unread.
const MAX_BODY: usize = 64 * 1024;
/// A leak report's bound instead: 1,000 candidates with where each was
/// found.
const LEAK_REPORT_MAX_BODY: usize = 320 * 1024;

mod audit;
mod cloudapi;
mod console;
mod directory;
mod discovery;
mod error;
/// The parsers, for the property tests and fuzz targets only (ARCHITECTURE.md).
#[doc(hidden)]
pub mod fuzzing;
mod json_objects;
mod log;
pub mod metrics;
mod oauth;
mod policy;
mod pool;
mod render;
mod request;
mod response;
mod routes;
mod second_factor;
mod service_accounts;
mod session;
mod systemd;
pub mod tls;
mod tokens;
mod transport;
mod users;
mod vcloud;
pub mod webhook_client;
mod webhooks;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{Authority, Clock};
use crate::logging;
use pool::{Pool, Pools};
pub use routes::{endpoints, Access};
use tls::Tls;
pub use transport::Limits;

pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Workers for everything but logins.
    pub workers: usize,
    /// Workers for password logins (argon2).
    pub login_workers: usize,
    /// Workers for requests that may change state.
    pub write_workers: usize,
    /// None: sized to the file-descriptor limit.
    pub max_connections: Option<usize>,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    /// Request bodies that trickle in, read at once (each up to 64 KiB).
    pub bodies_in_flight: usize,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Serve TLS with this certificate; plain HTTP without.
    pub tls: Option<Arc<Tls>>,
}

impl ServeOptions {
    /// The defaults for `listen`, with `workers` workers.
    pub fn new(listen: SocketAddr, workers: usize) -> ServeOptions {
        ServeOptions {
            listen,
            workers,
            login_workers: (workers / 2).max(1),
            write_workers: workers.max(2),
            max_connections: None,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            bodies_in_flight: 1024,
            trusted_proxies: Vec::new(),
            tls: None,
        }
    }
}

/// Request line and headers together.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// Logins that may wait for a login worker before 503: argon2 takes tens of
/// milliseconds each, so a longer queue would only make clients time out.
const LOGIN_QUEUE_PER_WORKER: usize = 64;
/// Each open connection holds some 10 KiB (buffers, task); past this many a
/// machine should be sized on purpose, with `--max-connections`.
const DEFAULT_CONNECTION_CEILING: u64 = 16_384;
/// File descriptors kept back from connections: the database, its WAL, the
/// listener, the runtime.
const RESERVED_FDS: u64 = 64;

#[derive(Debug)]
pub struct ServeError(String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads the TLS certificate.
pub fn serve(authority: Authority, options: ServeOptions) -> Result<(), ServeError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| ServeError(format!("cannot handle signals: {e}")))?;
    // Kept back for the last word: the writes still queued at the stop.
    let mut drainer = authority
        .connect()
        .map_err(|e| ServeError(format!("cannot open the database: {e}")))?;
    let writer = authority.writer_stats();
    let tls = options.tls.clone();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = Server::start(authority, options)?;
    logging::info(format!(
        "tokend listening on {scheme}://{} (at most {} connections)",
        server.local_addr(),
        server.limits.max_connections
    ));
    if let Some(tls) = &tls {
        logging::info(format!(
            "tokend: TLS certificate {} (SHA-256 {})",
            tls.files().cert.display(),
            tls.fingerprint()
        ));
        let clock = drainer.clock();
        check_certificate_expiry(tls, clock.as_ref());
        watch_certificate_expiry(Arc::clone(tls), clock)
            .map_err(|e| ServeError(format!("cannot watch the TLS certificate: {e}")))?;
    }
    systemd::ready(scheme, server.local_addr());
    systemd::start_watchdog(writer)
        .map_err(|e| ServeError(format!("cannot start the watchdog: {e}")))?;
    for signal in signals.forever() {
        if signal != SIGHUP {
            break;
        }
        reload(tls.as_deref(), drainer.clock().as_ref());
    }
    systemd::stopping();
    server.stop();
    if let Err(e) = drainer.drain_writes() {
        logging::error(format!("tokend: queued writes may be lost: {e}"));
    }
    logging::info("tokend stopped");
    Ok(())
}

/// SIGHUP: the certificate and key are read again. Connections keep the
/// certificate they were made with; a file that cannot be used leaves the
/// one in use in place.
fn reload(tls: Option<&Tls>, clock: &dyn Clock) {
    let Some(tls) = tls else {
        logging::info("tokend: SIGHUP: no TLS certificate to reload");
        return;
    };
    match tls.reload() {
        Ok(()) => {
            logging::info(format!(
                "tokend: TLS certificate reloaded from {} (SHA-256 {})",
                tls.files().cert.display(),
                tls.fingerprint()
            ));
            check_certificate_expiry(tls, clock);
        }
        Err(e) => logging::warn(format!(
            "tokend: TLS certificate not reloaded, the one in use stays: {e}"
        )),
    }
}

/// Says in the metrics when the certificate in use expires, and warns in
/// the log once it expired or expires soon.
fn check_certificate_expiry(tls: &Tls, clock: &dyn Clock) {
    metrics::tls_certificate_expiry(tls.not_after());
    if let Some(warning) = tls.expiry_warning(clock.now()) {
        logging::warn(warning);
    }
}

/// How often a running server looks at its certificate's expiry again.
const CERTIFICATE_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Warns once a day of a certificate that expires soon: a server that
/// runs for months is started once, when the certificate had long to go.
fn watch_certificate_expiry(tls: Arc<Tls>, clock: Arc<dyn Clock>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tls-expiry".into())
        .spawn(move || loop {
            std::thread::sleep(CERTIFICATE_CHECK_INTERVAL);
            check_certificate_expiry(&tls, clock.as_ref());
        })
        .map(drop)
}

/// A running service.
pub struct Server {
    local_addr: SocketAddr,
    limits: Limits,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    login_workers: Vec<JoinHandle<()>>,
    write_workers: Vec<JoinHandle<()>>,
}

impl Server {
    pub fn start(authority: Authority, options: ServeOptions) -> Result<Server, ServeError> {
        let limits = Limits {
            max_connections: options
                .max_connections
                .unwrap_or_else(|| default_max_connections(&options)),
            header_timeout: options.header_timeout,
            body_timeout: options.body_timeout,
            idle_timeout: options.idle_timeout,
            write_timeout: options.write_timeout,
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            shutdown_grace: options.body_timeout + options.write_timeout,
            bodies_in_flight: options.bodies_in_flight.max(1),
        };
        let connect = |n: usize| -> Result<Vec<Authority>, ServeError> {
            (0..n)
                .map(|_| authority.connect())
                .collect::<Result<_, _>>()
                .map_err(|e| ServeError(format!("cannot open database: {e}")))
        };
        let login = connect(options.login_workers.max(1))?;
        let writes = connect(options.write_workers.max(1))?;
        let mut main = connect(options.workers.max(1) - 1)?;
        main.push(authority);

        let cannot_listen =
            |e: std::io::Error| ServeError(format!("cannot listen on {}: {e}", options.listen));
        let listener = transport::Listener::bind(options.listen).map_err(cannot_listen)?;
        let local_addr = listener.local_addr().map_err(cannot_listen)?;

        let start_failed = |e: std::io::Error| ServeError(format!("cannot start workers: {e}"));
        let login_queue = login.len() * LOGIN_QUEUE_PER_WORKER;
        let (login, login_workers) =
            Pool::start("login", login, login_queue).map_err(start_failed)?;
        // Room for every connection's one request in flight: an exchange
        // leaves its write worker as soon as its write is queued, so under
        // load (1,024 connections exchanging at once) the queue is long
        // but short-lived, and must not refuse. A write that waits for its
        // commit holds its worker at most the busy timeout from its
        // request's arrival, so nothing waits in it longer than that.
        let write_queue = limits.max_connections.max(writes.len());
        let (writes, write_workers) =
            Pool::start("write", writes, write_queue).map_err(start_failed)?;
        let (stop, stopped) = watch::channel(false);
        let trusted: Arc<[IpAddr]> = options.trusted_proxies.into();
        let tls = options.tls.as_ref().map(|tls| tls.config());
        let workers = listener
            .serve(main, Pools { login, writes }, limits, trusted, tls, stopped)
            .map_err(start_failed)?;
        Ok(Server {
            local_addr,
            limits,
            stop,
            workers,
            login_workers,
            write_workers,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops taking requests, lets those in flight finish within the grace,
    /// and returns once every thread has ended.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        // The workers held the login queue; with them gone the login
        // workers finish their last request and end.
        let pools = self.login_workers.into_iter().chain(self.write_workers);
        for worker in self.workers.into_iter().chain(pools) {
            if worker.join().is_err() {
                logging::error("tokend: a worker thread panicked");
            }
        }
    }
}

/// Raises the soft file-descriptor limit to the hard one and leaves room
/// for the database and the workers; no more than `DEFAULT_CONNECTION_CEILING`.
fn default_max_connections(options: &ServeOptions) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let workers = (options.workers + options.login_workers + options.write_workers) as u64;
    let usable = limit.saturating_sub(RESERVED_FDS + 4 * workers);
    usable.clamp(16, DEFAULT_CONNECTION_CEILING) as usize
}
