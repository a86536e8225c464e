//! Process control: private temporary directories, running the `tokend`
//! binary once for a CLI command, and `TestServer`, a `tokend serve` on a
//! free loopback port with a fresh database that is started, signalled,
//! restarted and stopped under the test's control while everything it
//! prints is captured in a `ServerLog`, which the server's typed client
//! shares to quote in its failure messages. A server is stopped with
//! SIGTERM when dropped, and its log is printed if the test is failing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cli::Cli;
use super::client::Client;
use super::ADMIN_PASSWORD;

/// The server reads these; the tests' own environment must not leak in
/// (systemd's too: a test run under systemd must not notify it).
const TOKEND_ENV: [&str; 16] = [
    "TOKEND_DB",
    "TOKEND_KEY_FILE",
    "TOKEND_TLS_CERT",
    "TOKEND_TLS_KEY",
    "TOKEND_SMTP_URL",
    "TOKEND_SMTP_URL_FILE",
    "TOKEND_LISTEN",
    "TOKEND_ADMIN_PASSWORD",
    "TOKEND_WORKERS",
    "TOKEND_ACCESS_TTL",
    "TOKEND_ISSUER",
    "TOKEND_METRICS_LISTEN",
    "TOKEND_LOG_FORMAT",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
];

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tokend")
}

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

/// Poll `f` every 50 ms for up to `timeout`; returns its first `Some`.
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

/// Everything a server wrote on stdout and stderr, over all its runs.
/// Cheap to clone: the clones share one buffer.
#[derive(Clone, Default)]
pub struct ServerLog(Arc<Mutex<Vec<u8>>>);

impl ServerLog {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Byte length, to look at what is written later only.
    pub fn byte_len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn since(&self, mark: usize) -> String {
        let l = self.0.lock().unwrap();
        String::from_utf8_lossy(&l[mark.min(l.len())..]).into_owned()
    }

    /// The last `lines` lines.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn append(&self, bytes: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(bytes);
    }
}

impl std::fmt::Debug for ServerLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerLog({} bytes)", self.byte_len())
    }
}

/// Copy everything `r` yields into `sink` until EOF, on its own thread so a
/// full pipe never blocks the child.
fn drain<R: Read + Send + 'static>(mut r: R, sink: ServerLog) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.append(&buf[..n]),
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
    /// Panics unless the command exited 0.
    pub fn ok(self, what: &str) -> CliOutput {
        self.code_is(0, what);
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

/// Run the tokend binary with `args` in `cwd`, feeding `stdin` (or
/// /dev/null) and extra environment; bounded by 60 s.
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
        // A command that exits without reading stdin must not block the test.
        thread::spawn(move || {
            let _ = si.write_all(input.as_bytes());
        });
    }
    let out = ServerLog::default();
    let err = ServerLog::default();
    let t1 = drain(child.stdout.take().unwrap(), out.clone());
    let t2 = drain(child.stderr.take().unwrap(), err.clone());
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = t1.join();
    let _ = t2.join();
    let stdout = out.text();
    let stderr = err.text();
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

/// How to start a server: by default with `ADMIN_PASSWORD` and the
/// database, address and worker count given as environment variables.
#[derive(Clone)]
pub struct ServerConfig {
    /// `None` leaves TOKEND_ADMIN_PASSWORD unset.
    admin_password: Option<String>,
    envs: Vec<(String, String)>,
    /// Extra arguments after `serve`.
    args: Vec<String>,
    /// Pass --db/--listen/--workers as flags instead of environment variables.
    use_flags: bool,
    /// Serve TLS with a self-signed certificate made for the test.
    tls: bool,
    /// The address to listen on (a free port is added); 127.0.0.1 if None.
    host: Option<String>,
    /// A PostgreSQL database URL instead of a SQLite file of its own.
    database_url: Option<String>,
    /// The key file, when not the default beside the SQLite file (with
    /// PostgreSQL, `tokend.key` in the server's directory unless given).
    key_file: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            admin_password: Some(ADMIN_PASSWORD.to_owned()),
            envs: Vec::new(),
            args: Vec::new(),
            use_flags: false,
            tls: false,
            host: None,
            database_url: None,
            key_file: None,
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

    pub fn admin_password(mut self, password: &str) -> Self {
        self.admin_password = Some(password.to_owned());
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

    /// Serve TLS: `tokend tls self-signed` makes the certificate (for
    /// 127.0.0.1 and localhost) in the server's directory, and the typed
    /// client trusts it.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Listen on `host` (an IPv6 address in brackets, `[::1]`).
    pub fn listen_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }

    /// Serve the PostgreSQL database `url` (a node of several, when
    /// others are started on it with the same key file).
    pub fn postgres(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    /// The key file; nodes on one PostgreSQL database share one.
    pub fn key_file(mut self, path: &Path) -> Self {
        self.key_file = Some(path.to_owned());
        self
    }

    pub fn start(self) -> TestServer {
        TestServer::start_with(self)
    }
}

/// A new, empty database of its own on the tests' PostgreSQL server
/// (`tests/postgres/server`, started on first use), as a URL.
pub fn postgres_database() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static SERVER: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let server = SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("TOKEND_TEST_POSTGRES") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/server");
        let out = Command::new(script)
            .output()
            .expect("tests/postgres/server");
        assert!(
            out.status.success(),
            "tests/postgres/server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    });
    let name = format!(
        "tokend_it_{}_{}_{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let created = Command::new("psql")
        .args([server.as_str(), "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        // English collation, as an admin's server may have: tokend's
        // orders must not depend on it.
        .arg(format!(
            "CREATE DATABASE {name} TEMPLATE template0 \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        ))
        .output()
        .expect("psql");
    assert!(
        created.status.success(),
        "CREATE DATABASE: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// A running `tokend serve` with its own database.
pub struct TestServer {
    child: Option<Child>,
    addr: String,
    db: PathBuf,
    api: Client,
    cfg: ServerConfig,
    log: ServerLog,
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
        let db = match &cfg.database_url {
            Some(url) => PathBuf::from(url),
            None => dir.path.join("tokend.db"),
        };
        let mut s = TestServer {
            child: None,
            addr: String::new(),
            db,
            api: Client::new(""),
            cfg,
            log: ServerLog::default(),
            readers: Vec::new(),
            dir,
        };
        // The free port may be taken by someone else before the server binds it.
        let mut last_err = String::new();
        if s.cfg.tls {
            s.make_certificate(&s.tls_cert(), &s.tls_key());
        }
        for _ in 0..3 {
            let host = s.cfg.host.as_deref().unwrap_or("127.0.0.1");
            s.addr = format!("{host}:{}", free_port());
            let api = Client::new(&s.addr).with_log(s.log.clone());
            s.api = if s.cfg.tls {
                api.with_tls(&s.tls_cert())
            } else {
                api
            };
            match s.spawn() {
                Ok(()) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("tokend serve did not come up: {last_err}");
    }

    /// The typed HTTP client for this server.
    pub fn api(&self) -> &Client {
        &self.api
    }

    /// The admin CLI on this server's database.
    pub fn cli(&self) -> Cli<'_> {
        Cli::new(&self.db, &self.dir.path, self.key_file())
    }

    /// The key file given, or with PostgreSQL the one in the server's
    /// directory; None for the default beside the SQLite file.
    pub fn key_file(&self) -> Option<PathBuf> {
        match (&self.cfg.key_file, &self.cfg.database_url) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(_)) => Some(self.dir.path.join("tokend.key")),
            (None, None) => None,
        }
    }

    /// `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn db(&self) -> &Path {
        &self.db
    }

    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// The certificate a TLS server was started with (`ServerConfig::tls`),
    /// and read again on SIGHUP.
    pub fn tls_cert(&self) -> PathBuf {
        self.dir.path.join("tls-cert.pem")
    }

    pub fn tls_key(&self) -> PathBuf {
        self.dir.path.join("tls-key.pem")
    }

    /// A new self-signed certificate for 127.0.0.1 and localhost, with
    /// `tokend tls self-signed`.
    pub fn make_certificate(&self, cert: &Path, key: &Path) {
        let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
        let args = [
            "tls",
            "self-signed",
            "--host",
            "127.0.0.1",
            "--host",
            "localhost",
            "--cert",
            &cert,
            "--key",
            &key,
        ];
        run_tokend(&args, None, &[], &self.dir.path).ok("tls self-signed");
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
        if let Some(key_file) = self.key_file() {
            cmd.env("TOKEND_KEY_FILE", key_file);
        }
        if self.cfg.tls {
            cmd.env("TOKEND_TLS_CERT", self.tls_cert())
                .env("TOKEND_TLS_KEY", self.tls_key());
        }
        for (k, v) in &self.cfg.envs {
            cmd.env(k, v);
        }
        cmd.args(&self.cfg.args)
            .current_dir(&self.dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mark = self.log_len();
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
            // Its own line first: until this server has bound the port, a
            // health answer there may be another test's server's.
            if self.log_since(mark).contains("listening on") && self.api.probe_health() {
                break;
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
        self.log.text()
    }

    /// Byte length of the log, to look at output of later runs only.
    pub fn log_len(&self) -> usize {
        self.log.byte_len()
    }

    pub fn log_since(&self, mark: usize) -> String {
        self.log.since(mark)
    }

    /// Wait (bounded) until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        eventually(timeout, || self.log().contains(needle).then_some(())).is_some()
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

    /// Stop (if running) and start again on the same port and database;
    /// with TLS, the typed client then trusts the certificate in the files
    /// now (they may have been replaced).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let st = self.stop();
            assert!(
                st.is_some_and(|s| s.success()),
                "server did not exit cleanly on SIGTERM: {st:?}"
            );
        }
        if self.cfg.tls {
            self.api = Client::new(&self.addr)
                .with_log(self.log.clone())
                .with_tls(&self.tls_cert());
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
