//! Defences a review and an attacker's try found missing, each against the
//! real binary: no secret in the request log, login locks per name *and*
//! client address with a way back in (`tokend user unlock`), a failed first
//! start leaves nothing behind, one rule for `csp-auth-token` beside
//! `Authorization`, names without bidi or invisible characters, a single
//! valid encoding per access token (low-S), key rotation by the CLI reaching
//! a running server, and a busy database answered 503, not 500.

use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use p256::ecdsa::Signature;
use p256::elliptic_curve::ops::Neg;

use crate::support::*;

pub fn admin_login_from(srv: &TestServer, source: &str, password: &str) -> Response {
    let auth = basic(ADMIN, password);
    let request = build_request(
        srv.addr(),
        "POST",
        PROVIDER_SESSIONS,
        &[("Authorization", &auth)],
        Some(b""),
    );
    send_from(srv.addr(), source, &request)
}

#[test]
fn a_secret_sent_where_an_id_belongs_never_reaches_the_log() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let secret = srv.api().create_token(&admin, "pasted", Some("30m")).secret;
    let signature = admin.rsplit('.').next().expect("jwt signature").to_string();

    srv.api()
        .delete(
            &format!("/api/tokens/{secret}"),
            &[("Authorization", &bearer(&admin))],
        )
        .assert_error(404, "not_found", "a secret where the id belongs");
    srv.api()
        .get(&format!("/api/tokens/{admin}"), &[])
        .assert_status(405, "a JWT where the id belongs");
    srv.api()
        .get(&format!("/no/such/{secret}"), &[])
        .assert_status(404, "a secret in an unknown path");
    srv.api()
        .post_form(
            &format!("/oauth/tenant/{secret}/token"),
            "grant_type=refresh_token",
        )
        .assert_status(400, "a secret where the org belongs");

    // The log reaches the test through a pipe: wait for the last line.
    assert!(
        srv.wait_for_log("POST /oauth/tenant/{org}/token 400", Duration::from_secs(5)),
        "{}",
        srv.log()
    );
    let log = srv.log();
    assert_no_secret(log.as_bytes(), &secret, "request log");
    assert!(!log.contains(&signature), "the JWT signature was logged");
    assert!(log.contains("DELETE /api/tokens/{id} 404"), "{log}");
}

#[test]
fn a_name_locked_from_one_address_still_logs_in_from_another_and_unlocks() {
    let srv = TestServer::start();
    for attempt in 0..5 {
        admin_login_from(&srv, "127.0.0.2", "wrong password")
            .assert_status(401, &format!("failure {attempt}"));
    }
    let locked = admin_login_from(&srv, "127.0.0.2", ADMIN_PASSWORD);
    locked.assert_error(429, "too_many_requests", "locked for the attacking address");
    let retry: i64 = locked
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");

    admin_login_from(&srv, "127.0.0.3", ADMIN_PASSWORD)
        .assert_status(200, "the same name from an address that has not failed");

    let out = srv
        .cli()
        .run(&["user", "unlock", ADMIN], None)
        .ok("user unlock");
    assert!(out.stderr.contains("unlocked"), "{out:#?}");
    admin_login_from(&srv, "127.0.0.2", ADMIN_PASSWORD)
        .assert_status(200, "the running server honours the CLI's unlock");

    srv.cli()
        .run(&["user", "unlock", "nobody@System"], None)
        .code_is(1, "unlock of an unknown user");
}

#[test]
fn failures_from_many_addresses_slow_a_name_but_not_from_its_own_address() {
    let srv = TestServer::start();
    admin_login_from(&srv, "127.0.0.1", ADMIN_PASSWORD).assert_status(200, "usual address");
    // Four failures each from five addresses: no address is locked, but
    // the name has failed twenty times in a row.
    for host in 10..15 {
        for _ in 0..4 {
            admin_login_from(&srv, &format!("127.0.1.{host}"), "wrong password")
                .assert_status(401, "spread failure");
        }
    }
    admin_login_from(&srv, "127.0.2.1", ADMIN_PASSWORD).assert_error(
        429,
        "too_many_requests",
        "a new address waits out the global delay",
    );
    admin_login_from(&srv, "127.0.0.1", ADMIN_PASSWORD)
        .assert_status(200, "the name's own address is spared the delay");
}

#[test]
fn a_failed_first_start_leaves_no_database_behind() {
    let dir = TempDir::new();
    let db = dir.path.join("tokend.db");
    let out = run_tokend(
        &[
            "--db",
            &db.to_string_lossy(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        None,
        &[("TOKEND_ADMIN_PASSWORD", "short")],
        &dir.path,
    );
    out.code_is(1, "serve with a password that breaks the rules");
    assert!(out.stderr.contains("password is too short"), "{out:#?}");
    // Said as what it is: the administrator's password, not the database.
    assert!(out.stderr.contains("TOKEND_ADMIN_PASSWORD"), "{out:#?}");
    assert!(!out.stderr.contains("cannot open database"), "{out:#?}");
    let left: Vec<_> = std::fs::read_dir(&dir.path)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn admin_commands_refuse_a_database_without_a_provider_org() {
    let dir = TempDir::new();
    let db = dir.path.join("tokend.db");
    // What an interrupted first start or a stray `touch` leaves.
    std::fs::write(&db, b"").expect("create empty file");
    let db = db.to_string_lossy().into_owned();
    let out = run_tokend(&["--db", &db, "org", "add", "acme"], None, &[], &dir.path);
    out.code_is(1, "org add on an uninitialised database");
    assert!(out.stderr.contains("tokend serve"), "{out:#?}");
    assert!(
        !out.stderr.contains("password"),
        "no password generated by an admin command: {out:#?}"
    );
    run_tokend(&["--db", &db, "token", "list"], None, &[], &dir.path)
        .code_is(1, "token list on an uninitialised database");
}

#[test]
fn csp_auth_token_and_authorization_must_agree() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let other = srv.api().admin_login().access_token;
    let auth = bearer(&admin);
    let basic_auth = basic(ADMIN, ADMIN_PASSWORD);
    srv.api()
        .get("/api/session", &[("csp-auth-token", &admin)])
        .assert_status(200, "csp-auth-token alone");
    srv.api()
        .get("/api/session", &[("Authorization", &auth)])
        .assert_status(200, "Bearer alone");
    srv.api()
        .get(
            "/api/session",
            &[("Authorization", &auth), ("csp-auth-token", &admin)],
        )
        .assert_status(200, "both, carrying the same token");
    for (what, headers) in [
        (
            "two different tokens",
            vec![
                ("Authorization", auth.as_str()),
                ("csp-auth-token", other.as_str()),
            ],
        ),
        (
            "csp-auth-token beside Basic",
            vec![
                ("Authorization", basic_auth.as_str()),
                ("csp-auth-token", admin.as_str()),
            ],
        ),
        (
            "Authorization repeated",
            vec![
                ("Authorization", auth.as_str()),
                ("Authorization", auth.as_str()),
            ],
        ),
        (
            "csp-auth-token repeated",
            vec![
                ("csp-auth-token", admin.as_str()),
                ("csp-auth-token", other.as_str()),
            ],
        ),
    ] {
        srv.api()
            .get("/api/session", &headers)
            .assert_error(400, "invalid_request", what);
    }
}

#[test]
fn names_with_control_format_or_bidi_characters_are_refused() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    for name in [
        "invoice\\u202egpj.exe",
        "zero\\u200bwidth",
        "bell\\u0007",
        "iso\\u2066late",
    ] {
        srv.api()
            .try_create_token(&admin, &format!(r#"{{"name":"{name}"}}"#))
            .assert_error(400, "invalid_request", name);
    }
    assert!(
        srv.api().list_tokens(&admin).is_empty(),
        "nothing was created"
    );
    srv.cli()
        .run(
            &["user", "add", "eve\u{202e}@System"],
            Some(&format!("{USER_PASSWORD}\n")),
        )
        .code_is(1, "user name with a bidi override");
}

#[test]
fn a_high_s_twin_of_an_access_token_is_refused() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let (signed, signature) = admin.rsplit_once('.').expect("three parts");
    let signature = Signature::from_slice(&b64url_decode(signature)).expect("ES256 signature");
    assert!(
        signature.normalize_s().is_none(),
        "tokend signs in low-S form"
    );
    let (r, s) = signature.split_scalars();
    let twin = Signature::from_scalars(r, s.as_ref().neg()).expect("twin signature");
    let twin = format!(
        "{signed}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(twin.to_bytes())
    );
    srv.api()
        .try_session_info(&twin)
        .assert_bearer_401("the same token with s replaced by n - s");
    srv.api()
        .try_session_info(&admin)
        .assert_status(200, "the original");
}

fn served_kids(srv: &TestServer) -> Vec<String> {
    let jwks = srv.api().jwks();
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| str_field(k, "kid").to_owned())
        .collect()
}

#[test]
fn a_key_rotated_by_the_cli_reaches_the_running_server_published_first() {
    let srv = TestServer::start();
    let before = srv.api().admin_login().access_token;
    let (old_header, _) = jwt_parts(&before);
    let out = srv.cli().run(&["key", "rotate"], None).ok("key rotate");
    let kids: Vec<String> = out.stdout.lines().map(|l| l.trim().to_owned()).collect();
    assert_eq!(kids.len(), 2, "an ES256 and an RS256 key: {out:#?}");
    assert!(
        kids.iter().all(|k| k.len() == 43),
        "RFC 7638 thumbprints: {out:#?}"
    );
    assert!(out.stderr.contains("signs from"), "{out:#?}");

    // Published at once, beside the keys in force; signing only later
    // (after TOKEND_KEY_PUBLISH_DELAY, ten minutes by default).
    let served = served_kids(&srv);
    assert_eq!(served.len(), 4, "{served:?}");
    assert!(kids.iter().all(|k| served.contains(k)));
    let during = srv.api().admin_login().access_token;
    assert_eq!(
        jwt_parts(&during).0["kid"],
        old_header["kid"],
        "the old key signs on"
    );
    let listing = srv.cli().run(&["key", "list"], None).ok("key list").stdout;
    assert_eq!(
        listing.lines().filter(|l| l.ends_with("published")).count(),
        2,
        "{listing}"
    );
    assert_eq!(
        listing.lines().filter(|l| l.ends_with("signs")).count(),
        2,
        "{listing}"
    );

    // A delay within the JWKS max-age is refused: a verifier could meet a
    // token before the key.
    let refused = srv.cli().run(&["key", "rotate", "--delay", "5m"], None);
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    assert!(refused.stderr.contains("max-age"), "{refused:#?}");
    assert_eq!(served_kids(&srv).len(), 4);
}

#[test]
fn a_key_rotated_at_once_signs_now_and_the_old_keys_tokens_are_refused() {
    let srv = TestServer::start();
    let before = srv.api().admin_login().access_token;
    srv.api()
        .try_session_info(&before)
        .assert_status(200, "before the rotation");
    let out = srv
        .cli()
        .run(&["key", "rotate", "--now"], None)
        .ok("key rotate --now");
    let kids: Vec<String> = out.stdout.lines().map(|l| l.trim().to_owned()).collect();
    assert_eq!(kids.len(), 2, "{out:#?}");

    let after = srv.api().admin_login().access_token;
    let (header, _) = jwt_parts(&after);
    assert!(
        kids.iter().any(|k| header["kid"] == k.as_str()),
        "the new key signs at once"
    );
    srv.api()
        .try_session_info(&before)
        .assert_bearer_401("a token of a key retired for a compromise");
    srv.api()
        .try_session_info(&after)
        .assert_status(200, "a token of the new key");
    let mut served = served_kids(&srv);
    served.sort();
    let mut expected = kids.clone();
    expected.sort();
    assert_eq!(served, expected, "only the new keys are published");

    let listing = srv.cli().run(&["key", "list"], None).ok("key list").stdout;
    assert_eq!(
        listing.lines().filter(|l| l.ends_with("signs")).count(),
        2,
        "{listing}"
    );
    assert!(!listing.contains("verifies"), "{listing}");
}

#[test]
fn a_busy_database_answers_503_with_retry_after() {
    let mut srv = TestServer::config().arg("--busy-timeout").arg("1s").start();
    let admin = srv.api().admin_login().access_token;
    let secret = srv.api().create_token(&admin, "busy", Some("30m")).secret;

    // Another process holds the write lock past the busy timeout (1 s here).
    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let (login, exchange) = thread::scope(|scope| {
        let login = scope.spawn(|| srv.api().try_provider_login(ADMIN, ADMIN_PASSWORD));
        let exchange = scope.spawn(|| {
            let started = Instant::now();
            (srv.api().try_exchange_provider(&secret), started.elapsed())
        });
        (
            login.join().expect("login thread"),
            exchange.join().expect("exchange thread"),
        )
    });
    holder.execute_batch("ROLLBACK").expect("release the lock");

    login.assert_error(503, "unavailable", "login while the database is locked");
    assert_eq!(
        login.header("Retry-After"),
        Some("1"),
        "{}",
        login.describe()
    );
    // An exchange is acknowledged only with its audit event: it cannot be
    // recorded, so it is not granted.
    let (exchange, _) = exchange;
    exchange.assert_status(503, "exchange while the database is locked");
    exchange.assert_no_store("503 at the token endpoint");
    let body = exchange.assert_json("503 at the token endpoint");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert_eq!(exchange.header("Retry-After"), Some("1"));

    srv.api()
        .try_provider_login(ADMIN, ADMIN_PASSWORD)
        .assert_status(200, "served again once the lock is gone");
    // Stopping drains the server's output into the log first.
    srv.stop();
    let log = srv.log();
    assert!(
        !log.contains("internal error"),
        "busy is not a fault: {log}"
    );
}

/// Runs `act` while strace watches the server's threads for the syscalls
/// that put data on disk, and returns how many it saw.
fn disk_syncs_during(srv: &TestServer, act: impl FnOnce()) -> usize {
    let trace = srv.dir().join("sync.trace");
    let mut strace = std::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,sync_file_range",
            "-o",
        ])
        .arg(&trace)
        .args(["-p", &srv.pid().to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace (Debian package strace) must be installed for this test");
    // strace creates its output file once it is attached to every thread.
    let attached = eventually(Duration::from_secs(10), || {
        (trace.exists() && std::fs::metadata(&trace).is_ok()).then_some(())
    });
    assert!(attached.is_some(), "strace did not attach");
    thread::sleep(Duration::from_millis(300));
    act();
    thread::sleep(Duration::from_millis(300));
    send_signal(strace.id(), "INT");
    let _ = strace.wait();
    let text = std::fs::read_to_string(&trace).expect("read strace output");
    text.lines().filter(|l| l.contains("sync")).count()
}

#[test]
fn an_acknowledged_revocation_is_on_disk_before_its_answer() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let id = srv.api().create_token(&admin, "doomed", Some("30m")).id;
    let syncs = disk_syncs_during(&srv, || {
        srv.api()
            .try_revoke_token(&admin, &id)
            .assert_status(204, "revoke");
    });
    // In WAL mode with synchronous=NORMAL a commit is not synced, and a
    // power cut after the 204 could bring the token back.
    assert!(
        syncs >= 1,
        "the revocation's commit reached no fsync before its answer"
    );
}

/// Makes a file immutable (even to root, which the tests may run as) until
/// dropped.
struct Immutable<'a>(&'a std::path::Path);

impl<'a> Immutable<'a> {
    fn new(path: &'a std::path::Path) -> Immutable<'a> {
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .expect("chattr (e2fsprogs) runs");
        assert!(status.success(), "chattr +i {}", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(self.0)
            .status();
    }
}

#[test]
fn serve_refuses_a_database_it_cannot_write() {
    let mut srv = TestServer::start();
    srv.stop();
    let db = srv.db().to_path_buf();
    let _frozen = Immutable::new(&db);
    let out = run_tokend(
        &[
            "--db",
            &db.to_string_lossy(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        None,
        &[],
        srv.dir(),
    );
    out.code_is(1, "serve on a read-only database");
    assert!(
        out.stderr.contains("read-only") || out.stderr.contains("readonly"),
        "the reason is given: {out:#?}"
    );
}

fn admin_login_via(srv: &TestServer, proxy: &str, forwarded_for: &str, password: &str) -> Response {
    let auth = basic(ADMIN, password);
    let request = build_request(
        srv.addr(),
        "POST",
        PROVIDER_SESSIONS,
        &[("Authorization", &auth), ("X-Forwarded-For", forwarded_for)],
        Some(b""),
    );
    send_from(srv.addr(), proxy, &request)
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_the_one_locked_and_recorded() {
    let srv = TestServer::config()
        .arg("--trusted-proxy")
        .arg("127.0.0.7")
        .start();
    for _ in 0..5 {
        admin_login_via(&srv, "127.0.0.7", "203.0.113.9", "wrong password")
            .assert_status(401, "failure through the proxy");
    }
    admin_login_via(&srv, "127.0.0.7", "203.0.113.9", ADMIN_PASSWORD).assert_error(
        429,
        "too_many_requests",
        "the forwarded client is locked",
    );
    admin_login_via(&srv, "127.0.0.7", "203.0.113.10", ADMIN_PASSWORD)
        .assert_status(200, "another client behind the same proxy");
    // An untrusted peer cannot pick its address with the header.
    for _ in 0..5 {
        admin_login_via(&srv, "127.0.0.8", "203.0.113.77", "wrong password")
            .assert_status(401, "failure from an untrusted peer");
    }
    admin_login_via(&srv, "127.0.0.8", "203.0.113.78", ADMIN_PASSWORD).assert_error(
        429,
        "too_many_requests",
        "the untrusted peer itself is locked, whatever it forwards",
    );

    // The token records where it was last used from.
    let admin = srv.api().admin_login().access_token;
    let secret = srv
        .api()
        .create_token(&admin, "proxied", Some("30m"))
        .secret;
    let form = format!("grant_type=refresh_token&refresh_token={secret}");
    let request = build_request(
        srv.addr(),
        "POST",
        PROVIDER_TOKEN,
        &[("Content-Type", FORM), ("X-Forwarded-For", "198.51.100.4")],
        Some(form.as_bytes()),
    );
    send_from(srv.addr(), "127.0.0.7", &request).assert_status(200, "exchange through the proxy");
    let stamped = eventually(Duration::from_secs(5), || {
        let listing = srv.api().get_bearer("/api/tokens", &admin).json();
        listing["tokens"][0]["last_used_ip"]
            .as_str()
            .map(String::from)
    });
    assert_eq!(stamped.as_deref(), Some("198.51.100.4"));
}
