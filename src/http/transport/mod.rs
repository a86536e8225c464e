//! The wire: accepting connections and speaking HTTP/1.1 on them with hyper,
//! under limits a hostile client cannot get around.
//!
//! Each worker thread runs its own single-threaded tokio runtime, accepts
//! from the shared listening socket, and answers its connections' requests
//! itself with its own `Authority`: no request crosses a thread, except
//! logins, which go to the login pool so that argon2 never holds up a
//! worker. While a worker decides one request its other connections wait;
//! the other workers keep accepting and answering.
//!
//! - The accept loop never ends on an error: out of file descriptors it
//!   backs off and tries again.
//! - Connections are capped. At the cap a new connection evicts the oldest
//!   connection that is not in the middle of a request; when every one is,
//!   the newcomer is answered 503 and closed.
//! - Every wait on a client is bounded: the request head (`header_timeout`,
//!   as a whole), the body (`body_timeout`), an idle keep-alive connection
//!   (`idle_timeout`) and a client that does not read its answer
//!   (`write_timeout`).
//! - The head is limited in size and header count by hyper; framing that two
//!   parsers could read differently (RFC 9112 §6.3) is refused with 400 and
//!   the connection closed (`Content-Length` beside chunked is read as
//!   chunked, and the connection closed after the answer).
//! - Answers go out whole, with `TCP_NODELAY`.
//! - With TLS, the handshake is a layer under all of this (`tls`): it runs
//!   under the header timeout, holds a slot under the cap (a connection
//!   still in its handshake is evicted first), and every answer over TLS
//!   carries `Strict-Transport-Security`.

mod deadlines;
mod tls;

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};

use super::error::{ApiError, BadRequest};
use super::log;
use super::pool::{self, Pools, Refused};
use super::request::{BodyError, Request};
use super::response::Response;
use super::routes;
use crate::domain::Authority;
use crate::logging;
use deadlines::Deadlines;
use tls::Stream;

/// The limits the transport enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// The whole request head, from its first byte to its blank line.
    pub header_timeout: Duration,
    /// The whole request body.
    pub body_timeout: Duration,
    /// A kept-alive connection waiting for its next request.
    pub idle_timeout: Duration,
    /// Any wait for the client to take bytes of an answer.
    pub write_timeout: Duration,
    /// Request line and headers together, in bytes.
    pub max_head_bytes: usize,
    pub max_headers: usize,
    /// How long a stop waits for requests in flight.
    pub shutdown_grace: Duration,
    /// Bodies that trickle in, read at once across all workers.
    pub bodies_in_flight: usize,
}

/// What one worker thread answers with.
struct Worker {
    authority: RefCell<Authority>,
    pools: Pools,
    /// Turns to read a request body, shared by all workers.
    bodies: Arc<Semaphore>,
    /// Peers whose `X-Forwarded-For` is believed.
    trusted_proxies: Arc<[IpAddr]>,
    /// Set when connections speak TLS.
    tls: Option<Arc<ServerConfig>>,
}

/// Browsers that reached tokend over TLS keep to https for a year
/// (Keycloak's default). Not `includeSubDomains`: tokend does not know
/// what else runs under its host's domain.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// How long the accept loop waits after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections the kernel may hold for the accept loop. The default of 128
/// drops SYNs when a thousand clients connect at once, and each dropped one
/// waits a second for its retry.
const LISTEN_BACKLOG: u32 = 4096;

/// The listening socket. Listening starts here, before any worker runs, so
/// that a client may connect as soon as the address is announced.
pub struct Listener {
    socket: std::net::TcpListener,
}

impl Listener {
    pub fn bind(addr: SocketAddr) -> io::Result<Listener> {
        // tokio's socket sets the backlog; a runtime is needed only to make it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let _context = runtime.enter();
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let socket = socket.listen(LISTEN_BACKLOG)?.into_std()?;
        Ok(Listener { socket })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Starts one worker thread per authority. They serve until `stop`
    /// turns true, then let requests in flight finish for up to
    /// `limits.shutdown_grace`.
    pub fn serve(
        self,
        authorities: Vec<Authority>,
        pools: Pools,
        limits: Limits,
        trusted_proxies: Arc<[IpAddr]>,
        tls: Option<Arc<ServerConfig>>,
        stop: watch::Receiver<bool>,
    ) -> io::Result<Vec<JoinHandle<()>>> {
        let connections = Arc::new(Connections::default());
        let bodies = Arc::new(Semaphore::new(limits.bodies_in_flight));
        let mut threads = Vec::with_capacity(authorities.len());
        for (n, authority) in authorities.into_iter().enumerate() {
            let socket = self.socket.try_clone()?;
            let pools = pools.clone();
            let bodies = Arc::clone(&bodies);
            let trusted_proxies = Arc::clone(&trusted_proxies);
            let connections = Arc::clone(&connections);
            let tls = tls.clone();
            let stop = stop.clone();
            let thread = thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || {
                    let worker = Worker {
                        authority: RefCell::new(authority),
                        pools,
                        bodies,
                        trusted_proxies,
                        tls,
                    };
                    if let Err(e) = run(socket, worker, connections, limits, stop) {
                        logging::error(format!("tokend: a worker failed: {e}"));
                    }
                })?;
            threads.push(thread);
        }
        Ok(threads)
    }
}

fn run(
    socket: std::net::TcpListener,
    worker: Worker,
    connections: Arc<Connections>,
    limits: Limits,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let name = thread::current().name().unwrap_or("worker").to_string();
    local.spawn_local(super::systemd::heartbeat(name));
    local.block_on(&runtime, async move {
        let listener = TcpListener::from_std(socket)?;
        serve(listener, Rc::new(worker), connections, limits, stop).await
    })
}

async fn serve(
    listener: TcpListener,
    worker: Rc<Worker>,
    connections: Arc<Connections>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let (close_all, closing) = watch::channel(false);
    let mut last_complaint: Option<Instant> = None;
    while !*stop.borrow() {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let handshake = worker.tls.is_some();
                let Some(slot) = connections.admit(limits.max_connections, handshake) else {
                    // Over TLS there is no channel to answer on yet.
                    if worker.tls.is_none() {
                        refuse(&stream);
                    }
                    continue;
                };
                // Answers are written whole; without this a second segment
                // waits for the client's delayed ACK.
                let _ = stream.set_nodelay(true);
                let connection = connection(
                    stream,
                    peer.ip(),
                    slot,
                    Rc::clone(&worker),
                    limits,
                    closing.clone(),
                );
                tokio::task::spawn_local(connection);
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS, ...: never a reason to stop
                // listening. Complain at most once a minute.
                if last_complaint.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    logging::warn(format!(
                        "tokend: accepting a connection failed: {e}; retrying"
                    ));
                    last_complaint = Some(Instant::now());
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let _ = close_all.send(true);
    let deadline = Instant::now() + limits.shutdown_grace;
    while connections.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Answers a connection over the cap with 503, as far as the socket takes it
/// without waiting, and closes it.
fn refuse(stream: &TcpStream) {
    const BODY: &str = r#"{"error":"unavailable","message":"too many connections; retry later"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// The open connections, and which of them may be evicted.
#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
    count: AtomicUsize,
}

pub(super) struct ConnectionState {
    opened: Instant,
    /// A request is being read, decided or answered.
    pub(super) busy: AtomicBool,
    /// The TLS handshake has not finished.
    handshaking: AtomicBool,
    evict: Notify,
}

/// A connection's place among the open ones; freed on drop.
struct Slot {
    id: u64,
    state: Arc<ConnectionState>,
    connections: Arc<Connections>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        open.remove(&self.id);
        self.connections.count.store(open.len(), Ordering::Relaxed);
    }
}

impl Connections {
    /// A slot for a new connection. At the cap a connection that is between
    /// requests is told to close to make room: one still in its TLS
    /// handshake first (it has cost nothing yet, and a flood of stalled
    /// handshakes so replaces itself rather than the clients being served),
    /// else the oldest; None when all are busy. `handshake`: the new
    /// connection starts with a TLS handshake (it counts as in one from
    /// here, before its task first runs).
    fn admit(self: &Arc<Self>, cap: usize, handshake: bool) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= cap {
            let victim = open
                .iter()
                .filter(|(_, c)| !c.busy.load(Ordering::Relaxed))
                .min_by_key(|(_, c)| (!c.handshaking.load(Ordering::Relaxed), c.opened))
                .map(|(id, _)| *id)?;
            if let Some(state) = open.remove(&victim) {
                state.evict.notify_one();
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState {
            opened: Instant::now(),
            busy: AtomicBool::new(false),
            handshaking: AtomicBool::new(handshake),
            evict: Notify::new(),
        });
        open.insert(id, Arc::clone(&state));
        self.count.store(open.len(), Ordering::Relaxed);
        Some(Slot {
            id,
            state,
            connections: Arc::clone(self),
        })
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

async fn connection(
    stream: TcpStream,
    peer: IpAddr,
    slot: Slot,
    worker: Rc<Worker>,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) {
    let state = Arc::clone(&slot.state);
    let stream = match &worker.tls {
        None => Stream::Plain(stream),
        Some(config) => {
            let handshake = tls::handshake(stream, Arc::clone(config), limits.header_timeout);
            let stream = tokio::select! {
                stream = handshake => stream,
                _ = state.evict.notified() => None,
                _ = closing.wait_for(|closing| *closing) => None,
            };
            state.handshaking.store(false, Ordering::Relaxed);
            match stream {
                Some(stream) => stream,
                None => return,
            }
        }
    };
    let over_tls = worker.tls.is_some();
    let io = TokioIo::new(Deadlines::new(stream, Arc::clone(&state), limits));
    let service = {
        let state = Arc::clone(&state);
        service_fn(move |request| {
            let worker = Rc::clone(&worker);
            let state = Arc::clone(&state);
            async move {
                state.busy.store(true, Ordering::Relaxed);
                let (context, id) = request_context(&request, peer, &worker);
                let mut response =
                    log::within(context, answer(request, peer, &worker, limits)).await;
                response.headers_mut().insert(log::REQUEST_ID_HEADER, id);
                if over_tls {
                    response
                        .headers_mut()
                        .insert(hyper::header::STRICT_TRANSPORT_SECURITY, HSTS);
                }
                state.busy.store(false, Ordering::Relaxed);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_head_bytes)
        .max_headers(limits.max_headers)
        // Bodies stream through in pieces; the buffer need only hold a head.
        .max_buf_size(limits.max_head_bytes.max(8192));
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = state.evict.notified() => return,
        _ = closing.wait_for(|closing| *closing) => {}
    }
    // Stopping: finish the request in flight (bounded by the timeouts),
    // take no new one.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = state.evict.notified() => {}
    }
    drop(slot);
}

/// What the request log names a request by: its id (also sent back in
/// `X-Request-Id`) and its client's address.
fn request_context(
    request: &hyper::Request<Incoming>,
    peer: IpAddr,
    worker: &Worker,
) -> (log::RequestContext, HeaderValue) {
    let sent = request.headers().get_all(log::REQUEST_ID_HEADER);
    let id = log::request_id(sent.iter().map(HeaderValue::as_bytes));
    // Visible ASCII by construction, so always a valid header value.
    let header = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("-"));
    let client = client_address(peer, request.headers(), &worker.trusted_proxies);
    (log::RequestContext { id, client }, header)
}

/// Turns one hyper request into a `Request`, answers it (a login through
/// the login pool, a request that may change state through the write pool,
/// the rest right here), and turns the `Response` into a hyper response.
async fn answer(
    incoming: hyper::Request<Incoming>,
    peer: IpAddr,
    worker: &Worker,
    limits: Limits,
) -> hyper::Response<Full<Bytes>> {
    let received = Instant::now();
    let (parts, body) = incoming.into_parts();
    // Answers given here, before a worker sees the request, are logged here.
    let refuse = |error: ApiError| {
        let response = error.into_response();
        log::request(
            parts.method.as_str(),
            routes::pattern(parts.uri.path()),
            response.status,
            None,
        );
        closing(response)
    };
    if let Some(problem) = ambiguous_framing(&parts.headers) {
        return refuse(BadRequest::Malformed(problem.into()).into());
    }
    let Some(headers) = text_headers(&parts.headers) else {
        return refuse(BadRequest::Malformed("header values must be visible ASCII".into()).into());
    };
    let limit = super::routes::body_limit(parts.uri.path());
    let body = match read_body(
        &parts.headers,
        body,
        limit,
        limits.body_timeout,
        &worker.bodies,
    )
    .await
    {
        Err(BodyError::TimedOut) => return refuse(ApiError::request_timeout()),
        body => body,
    };
    let too_large = matches!(body, Err(BodyError::TooLarge(_)));
    let peer = client_address(peer, &parts.headers, &worker.trusted_proxies);
    let request = Request {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        peer,
        body,
        received,
    };
    let started = Instant::now();
    let pool = if routes::is_login(&request.path) {
        Some(&worker.pools.login)
    } else if routes::may_write(&request.method, &request.path)
        // A DPoP proof's use is recorded, shared with the other nodes, before
        // its request is answered: a write to wait for.
        || request.header("dpop").is_some()
    {
        Some(&worker.pools.writes)
    } else {
        None
    };
    let mut response = if let Some(pool) = pool {
        match pool.answer(request).await {
            Ok(response) => response,
            Err(Refused::Busy) => return refuse(ApiError::overloaded()),
            Err(Refused::Closed) => return refuse(ApiError::stopping()),
        }
    } else {
        // Decided right here: the borrow ends before the next await.
        let mut authority = worker.authority.borrow_mut();
        pool::handle(&mut authority, &request)
    };
    // Awaited, not blocked on: this worker answers other requests while the
    // writer commits, and their writes join the same commit.
    if let Some(awaited) = response.awaits.take() {
        if let Err(e) = awaited.commit.done().await {
            response = (awaited.otherwise)(e);
        }
    }
    log::request(
        parts.method.as_str(),
        routes::pattern(parts.uri.path()),
        response.status,
        Some(started.elapsed()),
    );
    if too_large {
        // The rest of the body was never read: the connection cannot carry
        // another request.
        closing(response)
    } else {
        to_hyper(response)
    }
}

/// The client's address: the socket's peer, or, when that peer is a
/// trusted proxy, what the trusted proxies' `X-Forwarded-For` says.
///
/// Each proxy appends the address it was connected from, so the list is
/// read from the right: the last entry was written by the peer, the one
/// before it by the proxy that entry names, and so on. An entry is believed
/// only when the hop that wrote it is trusted, so the walk starts at the
/// peer and, while the current hop is a trusted proxy, steps one entry to
/// the left; the first hop that is not trusted is the client. Entries left
/// of it were written by the client or its own proxies, and could say
/// anything. Several header lines are one list, in their order.
///
/// Strict on purpose: an entry is a bare IPv4 or IPv6 address with optional
/// spaces or tabs around it; a port, brackets, a zone, `unknown`, an empty
/// entry or any other text is malformed. A malformed entry ends the walk at
/// the hop just right of it, the nearest trusted proxy reached: that
/// proxy's view is all that can be believed, and taking an address from
/// beyond the junk would let a client choose one (`<victim>, junk`). When
/// every entry names a trusted proxy the leftmost is the best known.
/// An untrusted peer's header is ignored altogether.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    // An IPv4-mapped IPv6 address is the same host as the IPv4 address.
    let is_trusted = |hop: IpAddr| {
        trusted
            .iter()
            .any(|proxy| proxy.to_canonical() == hop.to_canonical())
    };
    let mut client = peer;
    if !is_trusted(client) {
        return client;
    }
    for line in headers.get_all("x-forwarded-for").iter().rev() {
        // Not text: malformed as a whole (the transport refuses such a
        // request anyway, before it gets here).
        let Ok(line) = line.to_str() else {
            return client;
        };
        for entry in line.rsplit(',') {
            let Some(hop) = forwarded_hop(entry) else {
                return client;
            };
            client = hop;
            if !is_trusted(hop) {
                return client;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: a bare address between optional spaces or
/// tabs (HTTP's optional whitespace around list commas), or nothing.
fn forwarded_hop(entry: &str) -> Option<IpAddr> {
    entry.trim_matches([' ', '\t']).parse().ok()
}

/// RFC 9112 §6.3: framing a proxy in front could read differently. Hyper
/// already refuses differing or malformed `Content-Length`s and transfer
/// codings that do not end in chunked.
fn ambiguous_framing(headers: &HeaderMap) -> Option<&'static str> {
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    let coding = codings.next()?;
    if headers.contains_key(CONTENT_LENGTH) {
        return Some("Content-Length and Transfer-Encoding must not both be sent");
    }
    let only_chunked = codings.next().is_none()
        && coding
            .to_str()
            .is_ok_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
    (!only_chunked).then_some("the only transfer coding accepted is chunked")
}

fn text_headers(headers: &HeaderMap) -> Option<Vec<(String, String)>> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect()
}

/// Reads at most `limit` bytes within `timeout`; a declared larger body is
/// refused without reading it (and without a `100 Continue`).
///
/// A body that has arrived whole (as small form bodies do, with their head)
/// is taken at once. One that trickles in needs a turn first: at most
/// `Limits::bodies_in_flight` are read at once across the service, so that
/// many clients sending large bodies slowly cannot exhaust memory, nor hold
/// up the small bodies of everyone else. Waiting for a turn counts against
/// the timeout.
async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
    timeout: Duration,
    bodies: &Semaphore,
) -> Result<Vec<u8>, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = Limited::new(body, limit);
    let mut bytes = Vec::new();
    let mut turn = None;
    loop {
        // A zero timeout still polls once: what has arrived is taken.
        let frame = match tokio::time::timeout(Duration::ZERO, body.frame()).await {
            Ok(frame) => frame,
            Err(_) => {
                if turn.is_none() {
                    let acquired = tokio::time::timeout_at(deadline, bodies.acquire()).await;
                    let permit = acquired.map_err(|_| BodyError::TimedOut)?;
                    turn = Some(permit.map_err(|_| BodyError::Unreadable)?);
                }
                tokio::time::timeout_at(deadline, body.frame())
                    .await
                    .map_err(|_| BodyError::TimedOut)?
            }
        };
        match frame {
            None => return Ok(bytes),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Some(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(BodyError::TooLarge(limit))
            }
            Some(Err(_)) => return Err(BodyError::Unreadable),
        }
    }
}

fn to_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut wire = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *wire.status_mut() = hyper::StatusCode::from_u16(response.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = wire.headers_mut();
    for (name, value) in response.headers {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.append(name, value);
            }
            Err(_) => logging::warn(format!("tokend: dropped an unencodable {name} header")),
        }
    }
    wire
}

/// An answer after which the connection closes.
fn closing(response: Response) -> hyper::Response<Full<Bytes>> {
    let mut wire = to_hyper(response);
    wire.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    wire
}

#[cfg(test)]
mod forwarded_tests {
    use super::*;

    const PROXY: &str = "10.0.0.1";
    const INNER_PROXY: &str = "10.0.0.2";
    const EDGE_PROXY: &str = "10.0.0.3";
    const CLIENT: &str = "203.0.113.9";
    const VICTIM: &str = "192.0.2.1";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// A header map with one `X-Forwarded-For` line per item, in order.
    fn lines(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn headers(value: &str) -> HeaderMap {
        lines(&[value])
    }

    /// The client seen by a server whose peer is `PROXY`, trusting `trusted`.
    fn via(trusted: &[&str], forwarded: &[&str]) -> IpAddr {
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        client_address(ip(PROXY), &lines(forwarded), &trusted)
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted = [proxy];
        let forwarded = headers("198.51.100.1, 203.0.113.9");
        assert_eq!(client_address(proxy, &forwarded, &trusted), client);
        let stranger: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_address(stranger, &forwarded, &trusted), stranger);
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_address(proxy, &headers("garbage"), &trusted), proxy);
        assert_eq!(client_address(proxy, &headers("10.0.0.1"), &trusted), proxy);
    }

    #[test]
    fn the_walk_goes_left_through_trusted_proxies_only() {
        // Two hops: edge proxy, then us.
        let two = [PROXY, INNER_PROXY];
        assert_eq!(
            via(&two, &[&format!("{CLIENT}, {INNER_PROXY}")]),
            ip(CLIENT)
        );
        // What the client wrote itself, left of its own address, is ignored.
        let forged = format!("{VICTIM}, {CLIENT}, {INNER_PROXY}");
        assert_eq!(via(&two, &[&forged]), ip(CLIENT));
        // Three hops.
        let three = [PROXY, INNER_PROXY, EDGE_PROXY];
        let chain = format!("{VICTIM}, {CLIENT}, {EDGE_PROXY}, {INNER_PROXY}");
        assert_eq!(via(&three, &[&chain]), ip(CLIENT));
        // A hop that is not trusted is the client, even with a trusted
        // address left of it.
        let untrusted_middle = format!("{EDGE_PROXY}, {CLIENT}, {INNER_PROXY}");
        assert_eq!(via(&three, &[&untrusted_middle]), ip(CLIENT));
        // Only our own peer trusted: its entry is the client, whatever is
        // left of it.
        assert_eq!(via(&[PROXY], &[&chain]), ip(INNER_PROXY));
        // Every entry a trusted proxy: the leftmost is the best known.
        let all_trusted = format!("{EDGE_PROXY}, {INNER_PROXY}");
        assert_eq!(via(&three, &[&all_trusted]), ip(EDGE_PROXY));
    }

    #[test]
    fn junk_ends_the_walk_at_the_nearest_trusted_proxy() {
        let three = [PROXY, INNER_PROXY, EDGE_PROXY];
        for (forwarded, seen) in [
            // Right next to the peer: the peer's own view.
            (format!("{VICTIM}, junk"), PROXY),
            (format!("{VICTIM},junk"), PROXY),
            (format!("{VICTIM}, "), PROXY),
            (format!("{VICTIM},"), PROXY),
            (String::new(), PROXY),
            (",".to_string(), PROXY),
            // One trusted hop in: that proxy's address.
            (format!("{VICTIM}, junk, {INNER_PROXY}"), INNER_PROXY),
            (format!("{VICTIM}, , {INNER_PROXY}"), INNER_PROXY),
            // Two trusted hops in.
            (
                format!("{VICTIM}, junk, {EDGE_PROXY}, {INNER_PROXY}"),
                EDGE_PROXY,
            ),
            // Junk left of the first untrusted hop is never reached.
            (format!("junk, {VICTIM}, {CLIENT}, {INNER_PROXY}"), CLIENT),
            (format!("{VICTIM}, junk, {CLIENT}"), CLIENT),
        ] {
            assert_eq!(via(&three, &[&forwarded]), ip(seen), "{forwarded:?}");
        }
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        let two = [PROXY, INNER_PROXY];
        let spread = [VICTIM, CLIENT, INNER_PROXY];
        assert_eq!(via(&two, &spread), ip(CLIENT));
        let split = [&format!("{VICTIM}, {CLIENT}")[..], INNER_PROXY];
        assert_eq!(via(&two, &split), ip(CLIENT));
        // Junk in a line of its own, or an empty line, is junk in the list.
        assert_eq!(via(&two, &[VICTIM, "junk"]), ip(PROXY));
        assert_eq!(via(&two, &[VICTIM, ""]), ip(PROXY));
        assert_eq!(via(&two, &[VICTIM, "junk", INNER_PROXY]), ip(INNER_PROXY));
        // A line that is not text is junk too.
        let mut bytes = lines(&[VICTIM]);
        bytes.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(client_address(ip(PROXY), &bytes, &[ip(PROXY)]), ip(PROXY));
    }

    #[test]
    fn ipv6_hops_and_mapped_addresses() {
        let trusted = [ip("2001:db8::1"), ip("2001:db8::2")];
        let forwarded = headers("2001:db8:beef::7, 2001:db8::2");
        assert_eq!(
            client_address(ip("2001:db8::1"), &forwarded, &trusted),
            ip("2001:db8:beef::7")
        );
        let mixed = headers("198.51.100.4, 2001:db8::2");
        assert_eq!(
            client_address(ip("2001:db8::1"), &mixed, &trusted),
            ip("198.51.100.4")
        );
        // A proxy configured by its IPv4 address is the same host when it
        // appears IPv4-mapped (a dual-stack socket, or a proxy writing it so).
        assert_eq!(
            via(&[PROXY, INNER_PROXY], &["192.0.2.50, ::ffff:10.0.0.2"]),
            ip("192.0.2.50")
        );
        let mapped_peer = ip("::ffff:10.0.0.1");
        assert_eq!(
            client_address(mapped_peer, &headers(CLIENT), &[ip(PROXY)]),
            ip(CLIENT)
        );
    }

    #[test]
    fn an_entry_is_a_bare_address_and_nothing_else() {
        // Accepted: spaces and tabs around an entry (HTTP list syntax).
        assert_eq!(via(&[PROXY], &[" \t203.0.113.9\t "]), ip(CLIENT));
        // Everything else is malformed, so the peer's own view is used.
        for entry in [
            "203.0.113.9:4711",
            "[2001:db8::7]",
            "[2001:db8::7]:443",
            "fe80::1%eth0",
            "unknown",
            "_hidden",
            "203.0.113",
            "203.0.113.256",
            "0203.0.113.9",
            "203.0.113.9 203.0.113.10",
            "2001:db8::7::1",
            "\"203.0.113.9\"",
            "for=203.0.113.9",
        ] {
            assert_eq!(via(&[PROXY], &[entry]), ip(PROXY), "{entry:?}");
            let behind = format!("{VICTIM}, {entry}");
            assert_eq!(via(&[PROXY], &[&behind]), ip(PROXY), "{behind:?}");
        }
    }
}
