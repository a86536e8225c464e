//! Process lifecycle: the startup line on stderr and `/health`; serve flags
//! instead of environment variables; the administrator password (from
//! `TOKEND_ADMIN_PASSWORD` on first start only, or generated and printed
//! exactly once); SIGTERM and SIGINT stop the server with exit status 0
//! within a few seconds, after finishing a request already in flight.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

#[test]
fn startup_line_and_health() {
    let srv = TestServer::start();
    let line = format!("tokend listening on http://{}", srv.addr());
    assert!(
        srv.wait_for_log(&line, Duration::from_secs(2)),
        "stderr announces {line:?}:\n{}",
        srv.log()
    );
    let r = srv.api().get("/health", &[]);
    r.assert_status(200, "health");
    assert_eq!(
        r.assert_json("health"),
        serde_json::json!({"status": "ok", "checks": {"database": "ok", "writable": "ok", "signing_key": "ok"}})
    );
    assert!(srv.db().exists(), "database created at TOKEND_DB");
}

#[test]
fn serve_flags_work_without_environment() {
    let srv = TestServer::config().flags().start();
    srv.api().get("/health", &[]).assert_status(200, "health");
    assert!(srv.db().exists(), "database created at --db");
    srv.api().admin_login();
}

#[test]
fn sigterm_exits_zero_promptly() {
    let mut srv = TestServer::start();
    srv.api().admin_login();
    let t0 = Instant::now();
    let st = srv.stop_with("TERM", Duration::from_secs(5));
    let st = st.expect("exited within 5 s of SIGTERM");
    assert!(st.success(), "exit status 0 on SIGTERM, got {st}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        connect(srv.addr(), Duration::from_secs(1)).is_err(),
        "no longer accepting"
    );
}

#[test]
fn sigint_exits_zero_promptly() {
    let mut srv = TestServer::start();
    let st = srv
        .stop_with("INT", Duration::from_secs(5))
        .expect("exited within 5 s of SIGINT");
    assert!(st.success(), "exit status 0 on SIGINT, got {st}");
}

#[test]
fn in_flight_request_finishes_during_shutdown() {
    let mut srv = TestServer::start();
    // Start a request and hold back the end of its body: the request is in
    // flight (its body being read) when SIGTERM arrives.
    let mut body = b"refresh_token=tkdNotARealTokenButTheRequestMustStillBeAnswered0&pad=".to_vec();
    body.resize(4000, b'p');
    let head = format!(
        "POST {AUTHORIZE} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\n\r\n",
        srv.addr(),
        body.len()
    );
    let mut stream = connect(srv.addr(), Duration::from_secs(10)).expect("connect");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..10]).unwrap();
    thread::sleep(Duration::from_millis(300));

    let pid = srv.pid();
    send_signal(pid, "TERM");
    thread::sleep(Duration::from_millis(300));
    stream
        .write_all(&body[10..])
        .expect("server still reading the in-flight request");
    let r = read_response(&mut stream).expect("the in-flight request gets its answer");
    r.assert_oauth_error("invalid_grant", "in-flight exchange");

    let st = srv
        .wait_exit(Duration::from_secs(5))
        .expect("exited within 5 s of SIGTERM");
    assert!(st.success(), "exit status 0, got {st}");
}

#[test]
fn generated_admin_password_is_printed_once_and_works() {
    let mut srv = TestServer::config().no_admin_password().start();
    let prefix = "administrator@System password: ";
    assert!(
        srv.wait_for_log(prefix, Duration::from_secs(2)),
        "password printed:\n{}",
        srv.log()
    );
    let log = srv.log();
    let line = log.lines().find(|l| l.contains(prefix)).unwrap();
    let pw = line[line.find(prefix).unwrap() + prefix.len()..]
        .trim()
        .to_owned();
    assert!(pw.len() >= 12, "generated password is long enough: {pw:?}");
    srv.api().provider_login(ADMIN, &pw);
    srv.api()
        .try_provider_login(ADMIN, ADMIN_PASSWORD)
        .assert_status(401, "no default password");
    let db = std::fs::read(srv.db()).unwrap();
    assert!(
        !contains_bytes(&db, pw.as_bytes()),
        "generated password stored in clear"
    );

    let mark = srv.log_len();
    srv.restart();
    assert!(srv.wait_for_log("tokend listening on", Duration::from_secs(2)));
    assert!(
        !srv.log_since(mark).contains(prefix),
        "printed on first start only:\n{}",
        srv.log_since(mark)
    );
    srv.api().provider_login(ADMIN, &pw);
}

#[test]
fn admin_password_env_applies_on_first_start_only() {
    let mut srv = TestServer::start();
    assert!(
        !srv.log().contains("administrator@System password:"),
        "no password printed when given"
    );
    srv.api().admin_login();
    // Restart with a different TOKEND_ADMIN_PASSWORD: it must be ignored.
    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}");
    srv.set_config(TestServer::config().admin_password("a-different-passw0rd"));
    srv.restart();
    srv.api().admin_login();
    srv.api()
        .try_provider_login(ADMIN, "a-different-passw0rd")
        .assert_status(401, "TOKEND_ADMIN_PASSWORD is for the first start only");
}
