//! Liveness and readiness on the API port: `/health/live` answers 200
//! while the process serves, whatever the database does; `/health/ready`
//! (and `/health`, the same without the `writer` check, as it always was)
//! is 503 naming the failed check while the database cannot take a write,
//! and 200 again once it can.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

fn get(srv: &TestServer, path: &str) -> Response {
    srv.api().get(path, &[])
}

/// The readiness answer's checks, after asserting its status.
fn checks(srv: &TestServer, path: &str, status: u16) -> Value {
    let answer = get(srv, path);
    answer.assert_status(status, path);
    let body = answer.assert_json(path);
    assert_eq!(
        body["status"],
        if status == 200 { "ok" } else { "unavailable" },
        "{body}"
    );
    if status == 503 {
        assert_eq!(answer.header("Retry-After"), Some("1"), "{path}");
    }
    body["checks"].clone()
}

fn all_ok() -> Value {
    json!({"database": "ok", "writable": "ok", "signing_key": "ok", "writer": "ok"})
}

#[test]
fn live_and_ready_answer_on_the_api_port() {
    let srv = TestServer::start();
    let live = get(&srv, "/health/live");
    live.assert_status(200, "live");
    assert_eq!(live.assert_json("live"), json!({"status": "ok"}));
    assert_eq!(checks(&srv, "/health/ready", 200), all_ok());
    assert_eq!(
        checks(&srv, "/health", 200),
        json!({"database": "ok", "writable": "ok", "signing_key": "ok"}),
        "/health is readiness, as it was"
    );
    for path in ["/health/live", "/health/ready"] {
        let head = srv.api().request("HEAD", path, &[], None);
        head.assert_status(200, path);
        assert!(head.body.is_empty());
        let post = srv.api().post(path, &[], b"");
        post.assert_error(405, "method_not_allowed", path);
        assert_eq!(post.header("Allow"), Some("GET, HEAD"), "{path}");
    }
    srv.api()
        .get("/health/other", &[])
        .assert_error(404, "not_found", "no other health path");
}

/// `chattr` on each path, which stops writes even by root and even through
/// the files the server holds open.
fn chattr(flag: &str, paths: &[&std::path::Path]) {
    let status = Command::new("chattr")
        .arg(flag)
        .args(paths)
        .status()
        .expect("chattr (e2fsprogs) runs");
    assert!(status.success(), "chattr {flag} {paths:?}");
}

#[test]
fn readiness_fails_while_the_database_cannot_be_written_and_liveness_holds() {
    let srv = TestServer::start();
    // A write first: the WAL file exists.
    srv.api().admin_login();
    let db = srv.db().to_path_buf();
    let wal = db.with_extension("db-wal");
    assert!(wal.exists(), "{}", wal.display());

    // Made immutable: writes fail with an I/O error.
    chattr("+i", &[&db, &wal]);
    let frozen = checks(&srv, "/health/ready", 503);
    let from_health = checks(&srv, "/health", 503);
    let live = get(&srv, "/health/live");
    chattr("-i", &[&db, &wal]);

    assert_eq!(frozen["database"], "ok", "reads still work: {frozen}");
    assert_eq!(frozen["signing_key"], "ok");
    assert_eq!(frozen["writer"], "ok", "the writer thread runs on");
    let writable = frozen["writable"].as_str().expect("a reason");
    assert_ne!(writable, "ok");
    assert!(writable.contains("I/O error"), "{frozen}");
    assert_eq!(from_health["writable"], frozen["writable"]);
    live.assert_status(200, "live while the database is unwritable");

    // Writable again: ready again, without a restart.
    let ready = eventually(Duration::from_secs(5), || {
        (get(&srv, "/health/ready").status == 200).then_some(())
    });
    assert!(ready.is_some(), "{}", srv.log());
    assert_eq!(checks(&srv, "/health/ready", 200), all_ok());
}

#[test]
fn readiness_fails_while_another_process_holds_the_write_lock() {
    let srv = TestServer::start();
    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let busy = checks(&srv, "/health/ready", 503);
    let live = get(&srv, "/health/live");
    holder.execute_batch("ROLLBACK").expect("release the lock");

    assert_eq!(busy["database"], "ok", "{busy}");
    assert!(
        busy["writable"]
            .as_str()
            .is_some_and(|w| w.contains("busy")),
        "{busy}"
    );
    live.assert_status(200, "live while the database is locked");
    assert_eq!(checks(&srv, "/health/ready", 200), all_ok());
}
