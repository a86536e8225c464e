//! systemd's notify protocol, with the test as systemd: it binds the
//! datagram socket `NOTIFY_SOCKET` names and reads what the server sends.
//! READY=1 once it serves, WATCHDOG=1 every half `WATCHDOG_USEC` while its
//! workers turn, none while one is stuck, and STOPPING=1 at SIGTERM, after
//! which no ping comes. And the units keep their sandbox, as
//! `systemd-analyze security` scores it.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// The notify socket, bound in `dir`.
fn notify_socket(dir: &Path) -> (UnixDatagram, String) {
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a read timeout");
    (socket, path.to_string_lossy().into_owned())
}

/// The messages that arrive within `within`.
fn messages(socket: &UnixDatagram, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    seen
}

/// Forgets what has arrived so far.
fn drain(socket: &UnixDatagram) {
    socket.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 4096];
    while socket.recv(&mut buf).is_ok() {}
    socket.set_nonblocking(false).expect("blocking");
}

fn pings(messages: &[String]) -> usize {
    messages.iter().filter(|m| *m == "WATCHDOG=1\n").count()
}

#[test]
fn ready_watchdog_pings_and_stopping_reach_systemd() {
    let dir = TempDir::new();
    let (socket, path) = notify_socket(&dir.path);
    // Pings every second.
    let mut srv = TestServer::config()
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "2000000")
        .start();

    let first = messages(&socket, Duration::from_millis(3500));
    assert_eq!(
        first.first().map(String::as_str),
        Some(format!("READY=1\nSTATUS=serving on http://{}\n", srv.addr()).as_str()),
        "{first:?}"
    );
    assert_eq!(first.iter().filter(|m| m.contains("READY=1")).count(), 1);
    let pinged = pings(&first);
    assert!((2..=4).contains(&pinged), "{first:?}");
    assert_eq!(pinged + 1, first.len(), "nothing else: {first:?}");

    let status = srv.stop();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let last = messages(&socket, Duration::from_millis(300));
    let stopping = last
        .iter()
        .position(|m| m == "STOPPING=1\n")
        .unwrap_or_else(|| panic!("STOPPING=1 at SIGTERM: {last:?}"));
    assert_eq!(
        pings(&last[stopping..]),
        0,
        "no ping after STOPPING: {last:?}"
    );
}

#[test]
fn a_held_write_lock_stalls_no_worker_and_the_pings_go_on() {
    let dir = TempDir::new();
    let (socket, path) = notify_socket(&dir.path);
    let srv = TestServer::config()
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "1000000")
        .arg("--busy-timeout")
        .arg("3s")
        .start();
    let admin = srv.api().admin_login().access_token;
    let secret = srv.api().create_token(&admin, "stuck", Some("30m")).secret;
    let steady = messages(&socket, Duration::from_millis(1500));
    assert!(pings(&steady) >= 2, "{steady:?}");

    // Another process holds the write lock: an exchange waits out the 3 s
    // busy timeout, readiness says so at once, and no worker is held up,
    // so the watchdog goes on being pinged. (A worker that stops turning
    // withholds the ping: see the unit test in src/http/systemd.rs.)
    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let (during, exchange, ready) = thread::scope(|scope| {
        let exchange = scope.spawn(|| srv.api().try_exchange_provider(&secret).status);
        thread::sleep(Duration::from_millis(300));
        let ready = scope.spawn(|| srv.api().get("/health/ready", &[]).status);
        drain(&socket);
        let during = messages(&socket, Duration::from_millis(2000));
        (
            during,
            exchange.join().expect("exchange"),
            ready.join().expect("readiness"),
        )
    });
    holder.execute_batch("ROLLBACK").expect("release the lock");
    assert_eq!((exchange, ready), (503, 503));
    assert!(
        pings(&during) >= 2,
        "the watchdog went unpinged behind a held lock: {during:?}"
    );
    assert!(!srv.log().contains("watchdog not pinged"), "{}", srv.log());
}

#[test]
fn without_watchdog_usec_ready_comes_and_no_ping() {
    let dir = TempDir::new();
    let (socket, path) = notify_socket(&dir.path);
    let _srv = TestServer::config().env("NOTIFY_SOCKET", &path).start();
    let seen = messages(&socket, Duration::from_millis(1500));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("READY=1\n"), "{seen:?}");
}

#[test]
fn both_units_keep_their_sandbox() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    for unit in ["tokend.service", "tokend-remind.service"] {
        let scored = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(units.join(unit))
            .output();
        let out = scored.expect("systemd-analyze runs: .ci/run installs systemd");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{unit}: {out:?}");
        let verdict = text
            .lines()
            .find_map(|l| l.split_once(&format!("Overall exposure level for {unit}: ")))
            .map(|(_, verdict)| verdict.to_owned())
            .unwrap_or_else(|| panic!("{unit}: no verdict in {text}"));
        let level: f64 = verdict
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: {verdict}"));
        assert!(level <= 1.5, "{unit} is exposed at {verdict}");
        assert!(
            verdict.contains("OK") || verdict.contains("SAFE"),
            "{verdict}"
        );
    }
}
