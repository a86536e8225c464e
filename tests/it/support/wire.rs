//! The raw HTTP/1.1 client: building requests byte by byte, sending them
//! over a plain `TcpStream` or TLS over it (rustls, trusting one
//! certificate), and reading one response back (fixed-length, chunked or
//! close-delimited). Tests of bad input need full control of
//! what goes on the wire, so nothing here normalises or validates a
//! request. `Response` carries the assertion helpers every test shares.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use base64::Engine as _;
use serde_json::Value;
use socket2::{Domain, Socket, Type};

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// For the answer to a typed call of the `client`, what was sent, for
    /// its failure messages; `None` for a raw request.
    pub sent: Option<Sent>,
}

/// What a typed call sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The client method.
    pub name: &'static str,
    /// The request line, credentials and body, with secrets hidden.
    pub request: String,
}

impl Response {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Short description for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "HTTP {} headers={:?} body={}",
            self.status,
            self.headers,
            self.text()
        )
    }

    /// Body parsed as JSON (panics with the response otherwise).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.describe()))
    }

    pub fn assert_status(&self, status: u16, what: &str) -> &Self {
        assert_eq!(self.status, status, "{what}: {}", self.describe());
        self
    }

    /// Content-Type is application/json (parameters allowed) and the body parses.
    pub fn assert_json(&self, what: &str) -> Value {
        let ct = self.header("Content-Type").unwrap_or("");
        assert!(
            ct.to_ascii_lowercase().starts_with("application/json"),
            "{what}: Content-Type should be application/json: {}",
            self.describe()
        );
        self.json()
    }

    /// Non-OAuth JSON error `{"error": code, "message": ...}` with `status`.
    pub fn assert_error(&self, status: u16, code: &str, what: &str) -> Value {
        self.assert_status(status, what);
        let v = self.assert_json(what);
        assert_eq!(v["error"], code, "{what}: error code: {}", self.describe());
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: error needs a non-empty message: {}",
            self.describe()
        );
        v
    }

    /// `Cache-Control: no-store` and `Pragma: no-cache`.
    pub fn assert_no_store(&self, what: &str) {
        let cc = self
            .header("Cache-Control")
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            cc.split(',').any(|d| d.trim() == "no-store"),
            "{what}: Cache-Control: no-store missing: {}",
            self.describe()
        );
        let pragma = self.header("Pragma").unwrap_or("").to_ascii_lowercase();
        assert_eq!(
            pragma.trim(),
            "no-cache",
            "{what}: Pragma: no-cache missing: {}",
            self.describe()
        );
    }

    /// RFC 6749 §5.2 error: 400, JSON, `error` == code, string
    /// `error_description`, no-store. Returns the description.
    pub fn assert_oauth_error(&self, code: &str, what: &str) -> String {
        self.assert_status(400, what);
        self.assert_no_store(what);
        let v = self.assert_json(what);
        assert_eq!(
            v["error"],
            code,
            "{what}: OAuth error code: {}",
            self.describe()
        );
        v["error_description"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: error_description missing: {}", self.describe()))
            .to_owned()
    }

    /// 401 with `WWW-Authenticate: Bearer...` and JSON error `unauthorized`.
    pub fn assert_bearer_401(&self, what: &str) {
        self.assert_error(401, "unauthorized", what);
        let wa = self.header("WWW-Authenticate").unwrap_or("");
        assert!(
            wa.starts_with("Bearer"),
            "{what}: WWW-Authenticate should start with Bearer: {}",
            self.describe()
        );
    }

    /// 405 with an `Allow` header listing `method`.
    pub fn assert_405_allows(&self, method: &str, what: &str) {
        self.assert_error(405, "method_not_allowed", what);
        let allow = self.header_all("Allow").join(",");
        assert!(
            allow
                .split(',')
                .any(|m| m.trim().eq_ignore_ascii_case(method)),
            "{what}: Allow should list {method}: {}",
            self.describe()
        );
    }
}

/// A request with `Host`, `Connection: close` and, when a body is given,
/// `Content-Length`; `headers` are written verbatim in between.
pub fn build_request(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

/// Encode `data` as a chunked body in pieces of `piece` bytes.
pub fn chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

pub fn bearer(jwt: &str) -> String {
    format!("Bearer {jwt}")
}

pub fn basic(user: &str, password: &str) -> String {
    basic_raw(format!("{user}:{password}").as_bytes())
}

/// A Basic header over arbitrary bytes, for credentials that are not UTF-8
/// or lack the colon.
pub fn basic_raw(cred: &[u8]) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(cred)
    )
}

/// application/x-www-form-urlencoded encoding of a value.
pub fn form_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Connect, write `bytes`, and read one response. Write errors are
/// tolerated: the server may answer and close before reading everything.
pub fn send_raw(addr: &str, bytes: &[u8], timeout: Duration) -> io::Result<Response> {
    let mut stream = connect(addr, timeout)?;
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    if bytes.starts_with(b"HEAD ") {
        read_head_response(&mut stream)
    } else {
        read_response(&mut stream)
    }
}

/// A TLS client that trusts the certificate in the PEM file `ca` (and
/// nothing else): a self-signed server certificate, or a private CA.
pub fn tls_client(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read the CA file") {
        roots
            .add(cert.expect("a PEM certificate"))
            .expect("a usable CA");
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS connection to `addr` (an IP address and port, which the
/// certificate must name), its handshake done.
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

pub fn connect_tls(
    addr: &str,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> io::Result<TlsStream> {
    let tcp = connect(addr, timeout)?;
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
    let name = ServerName::IpAddress(sa.ip().into());
    let connection =
        rustls::ClientConnection::new(Arc::clone(tls), name).map_err(io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// `send_raw` over TLS.
pub fn send_raw_tls(
    addr: &str,
    tls: &Arc<rustls::ClientConfig>,
    bytes: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let mut stream = connect_tls(addr, tls, timeout)?;
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    if bytes.starts_with(b"HEAD ") {
        read_head_response(&mut stream)
    } else {
        read_response(&mut stream)
    }
}

/// The answer to a HEAD request sent with `Connection: close`: its head,
/// and as its body whatever else arrives before the server closes (which
/// should be nothing).
pub fn read_head_response<S: Read>(stream: &mut S) -> io::Result<Response> {
    read_response_to(stream, true)
}

pub fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let sa = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
    let stream = loop {
        match TcpStream::connect_timeout(&sa, Duration::from_secs(2)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            connected => break connected?,
        }
    };
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// Read one HTTP/1.1 response (skipping 1xx interim responses).
pub fn read_response<S: Read>(stream: &mut S) -> io::Result<Response> {
    read_response_to(stream, false)
}

fn read_response_to<S: Read>(stream: &mut S, head_only: bool) -> io::Result<Response> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p;
            }
            if !fill(stream, &mut buf)? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before end of headers; got {:?}",
                        String::from_utf8_lossy(&buf)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        }
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let mut headers = Vec::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            sent: None,
        };
        if status == 204 || status == 304 {
            return Ok(resp);
        }
        if head_only {
            while fill(stream, &mut buf)? {}
            resp.body = buf;
            return Ok(resp);
        }
        let chunked = resp
            .header("Transfer-Encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            resp.body = read_chunked(stream, &mut buf)?;
        } else if let Some(cl) = resp.header("Content-Length") {
            let n: usize = cl.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length {cl:?}"),
                )
            })?;
            while buf.len() < n {
                if !fill(stream, &mut buf)? {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body shorter than Content-Length",
                    ));
                }
            }
            buf.truncate(n);
            resp.body = buf;
        } else {
            while fill(stream, &mut buf)? {}
            resp.body = buf;
        }
        return Ok(resp);
    }
}

/// Read more bytes into `buf`; false on EOF.
fn fill<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut tmp = [0u8; 8192];
    // A read with a timeout is not restarted after a signal (EINTR): a
    // client tries again, as std's `read_to_end` does.
    let n = loop {
        match stream.read(&mut tmp) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            read => break read?,
        }
    };
    buf.extend_from_slice(&tmp[..n]);
    Ok(n > 0)
}

fn read_line<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<String> {
    loop {
        if let Some(p) = find(buf, b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..p]).into_owned();
            buf.drain(..p + 2);
            return Ok(line);
        }
        if !fill(stream, buf)? {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF in chunked body",
            ));
        }
    }
}

fn read_chunked<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream, buf)?;
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {line:?}"),
            )
        })?;
        if size == 0 {
            // Trailers run until an empty line.
            while !read_line(stream, buf)?.is_empty() {}
            return Ok(body);
        }
        while buf.len() < size + 2 {
            if !fill(stream, buf)? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in chunk"));
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// Sends `request` to `server` from the loopback address `source` (any
/// 127.x.y.z is this machine), as a client on another host would appear to
/// the server.
pub fn send_from(server: &str, source: &str, request: &[u8]) -> Response {
    let source: IpAddr = source.parse().expect("source address");
    let domain = match source {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(domain, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .expect("bind source");
    let server: SocketAddr = server.parse().expect("server address");
    socket
        .connect_timeout(&server.into(), Duration::from_secs(2))
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("write request");
    read_response(&mut stream).expect("read response")
}
