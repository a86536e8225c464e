//! Shared harness for the integration tests: `TestServer` starts the real
//! `tokend serve` binary on a free loopback port with a fresh database in a
//! private temporary directory, waits for `/health`, and stops it with
//! SIGTERM on drop; `cli` runs admin subcommands against the same database;
//! a small hand-written HTTP/1.1 client over `TcpStream` gives the tests full
//! control of the raw bytes on the wire; and a handful of domain helpers
//! (login, token creation, exchange at each endpoint, JWT and RFC 3339
//! decoding) keep the individual tests short.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Constants from the contract
// ---------------------------------------------------------------------------

pub const ADMIN: &str = "administrator@System";
pub const ADMIN_PASSWORD: &str = "Adm1n-Test-Passw0rd-7f3c";
pub const USER_PASSWORD: &str = "us3r-Test-Passw0rd-91ab";

pub const AUTHORIZE: &str = "/csp/gateway/am/api/auth/api-tokens/authorize";
pub const PROVIDER_TOKEN: &str = "/oauth/provider/token";
pub const SESSIONS: &str = "/cloudapi/1.0.0/sessions";
pub const PROVIDER_SESSIONS: &str = "/cloudapi/1.0.0/sessions/provider";
pub const CURRENT_SESSION: &str = "/cloudapi/1.0.0/sessions/current";
pub const FORM: &str = "application/x-www-form-urlencoded";

pub const INVALID_OR_REVOKED: &str = "the API token is invalid or has been revoked";
pub const EXPIRED: &str = "the API token has expired";
/// Largest accepted request body, in bytes.
pub const BODY_LIMIT: usize = 65536;
/// Default access-token lifetime in seconds.
pub const DEFAULT_ACCESS_TTL: i64 = 1800;

pub const ROLE_SYSADMIN: &str = "System Administrator";
pub const ROLE_ORG_ADMIN: &str = "Organization Administrator";
pub const ROLE_TOKEN_USER: &str = "Token User";
pub const ROLE_MEMBER: &str = "Organization Member";

pub fn tenant_token_path(org: &str) -> String {
    format!("/oauth/tenant/{org}/token")
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tokend")
}

const TOKEND_ENV: [&str; 6] = [
    "TOKEND_DB",
    "TOKEND_LISTEN",
    "TOKEND_ADMIN_PASSWORD",
    "TOKEND_WORKERS",
    "TOKEND_ACCESS_TTL",
    "TOKEND_ISSUER",
];

// ---------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, unique per process, call
/// and instant; removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("tokend-it-{}-{}-{}", std::process::id(), n, nanos));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

// ---------------------------------------------------------------------------
// Process helpers
// ---------------------------------------------------------------------------

/// Send a signal by name ("TERM", "INT", ...) to a process via kill(1).
pub fn send_signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// Poll `child` until it exits or `timeout` passes.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn drain<R: Read + Send + 'static>(mut r: R, sink: Arc<Mutex<Vec<u8>>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Result of one CLI invocation.
#[derive(Debug)]
pub struct CliOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics unless the command exited 0.
    pub fn ok(self, what: &str) -> CliOutput {
        assert!(self.success(), "{what}: expected exit 0, got {self:#?}");
        self
    }

    /// Panics unless the command exited with `code`.
    pub fn code_is(&self, code: i32, what: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: unexpected exit code: {self:#?}"
        );
    }
}

/// Run the tokend binary with `args`, feed `stdin` (or /dev/null), extra
/// environment, bounded by 60 s.
pub fn run_tokend(
    args: &[&str],
    stdin: Option<&str>,
    envs: &[(&str, &str)],
    cwd: &Path,
) -> CliOutput {
    let mut cmd = Command::new(bin());
    for k in TOKEND_ENV {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .envs(envs.iter().copied())
        .current_dir(cwd)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tokend CLI");
    if let Some(input) = stdin {
        let mut si = child.stdin.take().unwrap();
        let input = input.to_owned();
        thread::spawn(move || {
            let _ = si.write_all(input.as_bytes());
        });
    }
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let t1 = drain(child.stdout.take().unwrap(), out.clone());
    let t2 = drain(child.stderr.take().unwrap(), err.clone());
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = t1.join();
    let _ = t2.join();
    let stdout = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.lock().unwrap()).into_owned();
    assert!(
        status.is_some(),
        "tokend {args:?} did not finish within 60 s; stdout={stdout:?} stderr={stderr:?}"
    );
    CliOutput {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
    }
}

// ---------------------------------------------------------------------------
// TestServer
// ---------------------------------------------------------------------------

/// How to start a server.
#[derive(Clone)]
pub struct ServerConfig {
    /// `Some` → TOKEND_ADMIN_PASSWORD is set; `None` → left unset.
    pub admin_password: Option<String>,
    /// Extra environment variables.
    pub envs: Vec<(String, String)>,
    /// Extra arguments after `serve`.
    pub args: Vec<String>,
    /// Pass --db/--listen/--workers as flags instead of environment variables.
    pub use_flags: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            admin_password: Some(ADMIN_PASSWORD.to_owned()),
            envs: Vec::new(),
            args: Vec::new(),
            use_flags: false,
        }
    }
}

impl ServerConfig {
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_owned());
        self
    }

    pub fn no_admin_password(mut self) -> Self {
        self.admin_password = None;
        self
    }

    pub fn flags(mut self) -> Self {
        self.use_flags = true;
        self
    }

    pub fn start(self) -> TestServer {
        TestServer::start_with(self)
    }
}

/// A running `tokend serve` with its own database.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    pub addr: String,
    pub db: PathBuf,
    cfg: ServerConfig,
    /// Everything the server wrote on stdout and stderr, over all its runs.
    log: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
    // Declared last so the directory is removed after the process is gone.
    dir: TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        ServerConfig::default().start()
    }

    pub fn config() -> ServerConfig {
        ServerConfig::default()
    }

    pub fn start_with(cfg: ServerConfig) -> TestServer {
        let dir = TempDir::new();
        let db = dir.path.join("tokend.db");
        let mut s = TestServer {
            child: None,
            port: 0,
            addr: String::new(),
            db,
            cfg,
            log: Arc::new(Mutex::new(Vec::new())),
            readers: Vec::new(),
            dir,
        };
        let mut last_err = String::new();
        for _ in 0..3 {
            s.port = free_port();
            s.addr = format!("127.0.0.1:{}", s.port);
            match s.spawn() {
                Ok(()) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("tokend serve did not come up: {last_err}");
    }

    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(bin());
        for k in TOKEND_ENV {
            cmd.env_remove(k);
        }
        cmd.arg("serve");
        let db = self.db.to_string_lossy().into_owned();
        if self.cfg.use_flags {
            cmd.args(["--db", &db, "--listen", &self.addr, "--workers", "2"]);
        } else {
            cmd.env("TOKEND_DB", &db)
                .env("TOKEND_LISTEN", &self.addr)
                .env("TOKEND_WORKERS", "2");
        }
        if let Some(pw) = &self.cfg.admin_password {
            cmd.env("TOKEND_ADMIN_PASSWORD", pw);
        }
        for (k, v) in &self.cfg.envs {
            cmd.env(k, v);
        }
        cmd.args(&self.cfg.args)
            .current_dir(&self.dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        self.readers
            .push(drain(child.stdout.take().unwrap(), self.log.clone()));
        self.readers
            .push(drain(child.stderr.take().unwrap(), self.log.clone()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Err(format!(
                    "server exited early with {st}; log:\n{}",
                    self.log()
                ));
            }
            if let Ok(r) = send_raw(
                &self.addr,
                format!(
                    "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.addr
                )
                .as_bytes(),
                Duration::from_secs(2),
            ) {
                if r.status == 200 {
                    break;
                }
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("/health not 200 within 10 s; log:\n{}", self.log()));
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Everything the server printed so far (stdout and stderr, all runs).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Byte length of the log, to look at output of later runs only.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn log_since(&self, mark: usize) -> String {
        let l = self.log.lock().unwrap();
        String::from_utf8_lossy(&l[mark.min(l.len())..]).into_owned()
    }

    /// Wait (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send `sig` and wait up to `timeout` for the process to exit; kill it
    /// otherwise. Returns the exit status if it exited by itself in time.
    pub fn stop_with(&mut self, sig: &str, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        send_signal(child.id(), sig);
        self.reap(child, timeout)
    }

    /// SIGTERM, bounded wait (10 s).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.stop_with("TERM", Duration::from_secs(10))
    }

    /// Wait (bounded) for the process to exit by itself, without signalling.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.take()?;
        self.reap(child, timeout)
    }

    /// Bounded wait for exit (killing on timeout), then drain the log readers.
    fn reap(&mut self, mut child: Child, timeout: Duration) -> Option<ExitStatus> {
        let st = wait_timeout(&mut child, timeout);
        if st.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        st
    }

    /// Replace the start configuration (used by the next `restart`).
    pub fn set_config(&mut self, cfg: ServerConfig) {
        self.cfg = cfg;
    }

    /// Stop (if running) and start again on the same port and database.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let st = self.stop();
            assert!(
                st.is_some_and(|s| s.success()),
                "server did not exit cleanly on SIGTERM: {st:?}"
            );
        }
        if let Err(e) = self.spawn() {
            panic!("restart failed: {e}");
        }
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    // -- CLI ---------------------------------------------------------------

    /// `tokend --db <this db> ARGS...` with `stdin`.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        let db = self.db.to_string_lossy().into_owned();
        let mut full: Vec<&str> = vec!["--db", &db];
        full.extend_from_slice(args);
        run_tokend(&full, stdin, &[], &self.dir.path)
    }

    pub fn org_add(&self, name: &str) {
        self.cli(&["org", "add", name], None)
            .ok(&format!("org add {name}"));
    }

    /// `user add USER@ORG [--role R]...` with the password on stdin.
    pub fn user_add(&self, user: &str, password: &str, roles: &[&str]) {
        let mut args = vec!["user", "add", user];
        for r in roles {
            args.push("--role");
            args.push(r);
        }
        self.cli(&args, Some(&format!("{password}\n")))
            .ok(&format!("user add {user} {roles:?}"));
    }

    /// Create org (if `create_org`) and a user with the default test password.
    pub fn tenant_user(&self, org: &str, user: &str, roles: &[&str], create_org: bool) -> String {
        if create_org {
            self.org_add(org);
        }
        let u = format!("{user}@{org}");
        self.user_add(&u, USER_PASSWORD, roles);
        u
    }

    /// `token create` via the CLI; returns (secret, stderr).
    pub fn cli_token_create(&self, user: &str, name: &str, ttl: Option<&str>) -> (String, String) {
        let mut args = vec!["token", "create", user, "--name", name];
        if let Some(t) = ttl {
            args.push("--ttl");
            args.push(t);
        }
        let out = self
            .cli(&args, None)
            .ok(&format!("token create {user} {name}"));
        let secret = out.stdout.lines().next().unwrap_or("").trim().to_owned();
        assert!(is_token_format(&secret), "CLI printed no token: {out:#?}");
        (secret, out.stderr)
    }

    // -- HTTP --------------------------------------------------------------

    /// Send raw bytes; panics on I/O errors.
    pub fn raw(&self, bytes: &[u8]) -> Response {
        self.raw_timeout(bytes, Duration::from_secs(15))
    }

    pub fn raw_timeout(&self, bytes: &[u8], timeout: Duration) -> Response {
        send_raw(&self.addr, bytes, timeout).unwrap_or_else(|e| {
            panic!(
                "request failed: {e}\nrequest: {:?}",
                String::from_utf8_lossy(bytes)
            )
        })
    }

    /// Build and send a request with `Host`, `Connection: close` and (when a
    /// body is given) `Content-Length`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        self.raw(&build_request(&self.addr, method, path, headers, body))
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, None)
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.request("POST", path, headers, Some(body))
    }

    pub fn delete(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("DELETE", path, headers, None)
    }

    pub fn post_form(&self, path: &str, body: &str) -> Response {
        self.post(path, &[("Content-Type", FORM)], body.as_bytes())
    }

    /// GET with `Authorization: Bearer`.
    pub fn get_bearer(&self, path: &str, jwt: &str) -> Response {
        let h = bearer(jwt);
        self.get(path, &[("Authorization", &h)])
    }

    /// GET with `csp-auth-token`.
    pub fn get_csp(&self, path: &str, jwt: &str) -> Response {
        self.get(path, &[("csp-auth-token", jwt)])
    }

    // -- domain helpers ----------------------------------------------------

    pub fn login_response(&self, user: &str, password: &str, provider: bool) -> Response {
        let path = if provider {
            PROVIDER_SESSIONS
        } else {
            SESSIONS
        };
        let h = basic(user, password);
        self.post(path, &[("Authorization", &h)], b"")
    }

    /// Log in and return the session access token.
    pub fn login(&self, user: &str, password: &str, provider: bool) -> String {
        let r = self.login_response(user, password, provider);
        assert_eq!(
            r.status,
            200,
            "login {user} (provider={provider}): {}",
            r.describe()
        );
        let jwt = r
            .header("X-VMWARE-VCLOUD-ACCESS-TOKEN")
            .unwrap_or_else(|| panic!("no X-VMWARE-VCLOUD-ACCESS-TOKEN: {}", r.describe()))
            .to_owned();
        assert_eq!(jwt.split('.').count(), 3, "not a JWT: {jwt}");
        jwt
    }

    pub fn admin_login(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD, true)
    }

    pub fn user_login(&self, user: &str) -> String {
        self.login(user, USER_PASSWORD, false)
    }

    pub fn create_token_raw(&self, jwt: &str, json_body: &str) -> Response {
        let h = bearer(jwt);
        self.post(
            "/api/tokens",
            &[("Authorization", &h), ("Content-Type", "application/json")],
            json_body.as_bytes(),
        )
    }

    /// POST /api/tokens; returns (id, secret).
    pub fn create_token(&self, jwt: &str, name: &str, ttl: Option<&str>) -> (String, String) {
        let body = match ttl {
            Some(t) => serde_json::json!({ "name": name, "ttl": t }),
            None => serde_json::json!({ "name": name }),
        };
        let r = self.create_token_raw(jwt, &body.to_string());
        assert_eq!(r.status, 201, "create token {name}: {}", r.describe());
        let v = r.json();
        (s(&v, "id").to_owned(), s(&v, "token").to_owned())
    }

    /// GET /api/tokens → the `tokens` array.
    pub fn list_tokens(&self, jwt: &str) -> Vec<Value> {
        let r = self.get_bearer("/api/tokens", jwt);
        assert_eq!(r.status, 200, "list tokens: {}", r.describe());
        r.json()["tokens"]
            .as_array()
            .unwrap_or_else(|| panic!("no tokens array: {}", r.describe()))
            .clone()
    }

    pub fn revoke(&self, jwt: &str, id: &str) -> Response {
        let h = bearer(jwt);
        self.delete(&format!("/api/tokens/{id}"), &[("Authorization", &h)])
    }

    pub fn exchange_authorize(&self, secret: &str) -> Response {
        self.post_form(AUTHORIZE, &format!("refresh_token={}", form_encode(secret)))
    }

    pub fn exchange_provider(&self, secret: &str) -> Response {
        self.post_form(
            PROVIDER_TOKEN,
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                form_encode(secret)
            ),
        )
    }

    pub fn exchange_tenant(&self, org: &str, secret: &str) -> Response {
        self.post_form(
            &tenant_token_path(org),
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                form_encode(secret)
            ),
        )
    }

    /// Exchange at the authorize endpoint; return the access token.
    pub fn access_token(&self, secret: &str) -> String {
        let r = self.exchange_authorize(secret);
        assert_eq!(r.status, 200, "exchange: {}", r.describe());
        s(&r.json(), "access_token").to_owned()
    }

    /// GET /api/session with Bearer.
    pub fn session_info(&self, jwt: &str) -> Response {
        self.get_bearer("/api/session", jwt)
    }

    /// CLI `token list` output (asserting success).
    pub fn cli_token_list(&self, extra: &[&str]) -> String {
        let mut args = vec!["token", "list"];
        args.extend_from_slice(extra);
        self.cli(&args, None).ok("token list").stdout
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop();
        if thread::panicking() {
            eprintln!(
                "---- tokend log ({}) ----\n{}\n---- end of tokend log ----",
                self.addr,
                self.log()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 client
// ---------------------------------------------------------------------------

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// Connect, write `bytes` (write errors are tolerated: the server may answer
/// and close early), and read one response.
pub fn send_raw(addr: &str, bytes: &[u8], timeout: Duration) -> io::Result<Response> {
    let mut stream = connect(addr, timeout)?;
    let _ = stream.write_all(bytes);
    let _ = stream.flush();
    read_response(&mut stream)
}

pub fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let sa = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e}")))?;
    let stream = TcpStream::connect_timeout(&sa, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// Read one HTTP/1.1 response (skipping 1xx interim responses).
pub fn read_response(stream: &mut TcpStream) -> io::Result<Response> {
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
        };
        if status == 204 || status == 304 {
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
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut tmp = [0u8; 8192];
    let n = stream.read(&mut tmp)?;
    buf.extend_from_slice(&tmp[..n]);
    Ok(n > 0)
}

fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<String> {
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

fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
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
            // trailers until an empty line
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

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

pub fn bearer(jwt: &str) -> String {
    format!("Bearer {jwt}")
}

pub fn basic(user: &str, password: &str) -> String {
    basic_raw(format!("{user}:{password}").as_bytes())
}

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

pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("bad base64url {s:?}: {e}"))
}

/// Decode a JWT's header and claims without verifying it.
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    let h = serde_json::from_slice(&b64url_decode(parts[0])).expect("JWT header JSON");
    let c = serde_json::from_slice(&b64url_decode(parts[1])).expect("JWT claims JSON");
    (h, c)
}

/// String field of a JSON object, panicking with context when absent.
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key:?} missing or not a string in {v}"))
}

/// 65 characters of [A-Za-z0-9] starting with "tkd".
pub fn is_token_format(t: &str) -> bool {
    t.len() == 65 && t.starts_with("tkd") && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// Replace the alphanumeric character at `idx` by a different one.
pub fn flip_char(t: &str, idx: usize) -> String {
    let mut b = t.as_bytes().to_vec();
    b[idx] = if b[idx] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

/// Every `n`-character window of `secret` (to detect partial storage).
pub fn windows(secret: &str, n: usize) -> Vec<&str> {
    (0..=secret.len().saturating_sub(n))
        .map(|i| &secret[i..i + n])
        .collect()
}

/// Panics if `hay` contains the secret or any 12-character piece of it.
pub fn assert_no_secret(hay: &[u8], secret: &str, what: &str) {
    for w in windows(secret, 12) {
        assert!(
            !contains_bytes(hay, w.as_bytes()),
            "{what}: contains {w:?}, a piece of secret {secret:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse an RFC 3339 timestamp to Unix seconds (fractions dropped).
pub fn parse_rfc3339(s: &str) -> i64 {
    let b = s.as_bytes();
    let bad = || -> ! { panic!("not an RFC 3339 timestamp: {s:?}") };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        bad();
    }
    let num = |r: std::ops::Range<usize>| -> i64 {
        let t = &s[r];
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            bad();
        }
        t.parse().unwrap_or_else(|_| bad())
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        bad();
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            bad();
        }
    }
    let rest = &s[i..];
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                bad();
            }
            let oh: i64 = rest[1..3].parse().unwrap_or_else(|_| bad());
            let om: i64 = rest[4..6].parse().unwrap_or_else(|_| bad());
            let o = oh * 3600 + om * 60;
            if rb[0] == b'-' {
                -o
            } else {
                o
            }
        }
    };
    days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset
}

/// Assert `a` is within `tol` of `b`.
pub fn assert_near(a: i64, b: i64, tol: i64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} not within {tol} of {b} (diff {})",
        a - b
    );
}

/// Poll `f` every 50 ms for up to `timeout`; returns its last value.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rfc3339_parser_is_correct() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), 951868800);
    assert_eq!(parse_rfc3339("2024-02-29T12:34:56.789Z"), 1709210096);
    assert_eq!(parse_rfc3339("2024-02-29T14:34:56+02:00"), 1709210096);
}
