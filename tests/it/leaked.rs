//! Leaked-token reports against the binary, with its SMTP relay a real
//! SMTP server on loopback (aiosmtpd): a leaked secret in a batch of noise
//! is revoked, its owner mailed and the report audited with where it was
//! found; the noise (random strings, bad checksums, well-formed unknown
//! tokens, a revoked one) changes nothing; every answer is the same
//! whatever the batch holds; more than 1,000 candidates is 400; a flood
//! from one address is 429. The owner's notice is kept in the database
//! until a relay takes it: through a restart, and (on the in-process
//! clock) through a relay that is down, tried again with backoff, then
//! given up. And the README's scanner snippet, run with Python against
//! real tokens, agrees with tokend.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use tokend::domain::Authority;
use tokend::mail::SmtpMailer;

use crate::reminders::SmtpSink;
use crate::support::*;

const REPORT: &str = "/api/tokens/leaked";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn report_from(server: &str, source: &str, body: &Value) -> Response {
    let body = body.to_string();
    send_from(
        server,
        source,
        &build_request(
            server,
            "POST",
            REPORT,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        ),
    )
}

/// `secret` with one character of its random part changed: the checksum
/// no longer fits.
fn bad_checksum(secret: &str) -> String {
    let mut bytes = secret.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
    String::from_utf8(bytes).expect("ASCII")
}

/// A well-formed token tokend never made: 56 pseudo-random characters
/// and their checksum, computed as the README describes it.
fn well_formed_unknown(seed: u64) -> String {
    let mut state = seed;
    let body: String = std::iter::once("tkd".to_string())
        .chain((0..56).map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (BASE62[(state >> 33) as usize % 62] as char).to_string()
        }))
        .collect();
    let hash = blake3::hash(body.as_bytes());
    let mut n = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
    let mut sum = [0u8; 6];
    for digit in sum.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let token = format!("{body}{}", String::from_utf8_lossy(&sum));
    assert!(
        tokend::domain::ApiTokenSecret::parse(&token).is_some(),
        "well formed"
    );
    token
}

fn listing(api: &Client, jwt: &str) -> Vec<(String, Option<String>)> {
    let mut tokens: Vec<(String, Option<String>)> = api
        .token_page(jwt, "all=true&pageSize=100")
        .items
        .into_iter()
        .map(|t| (t.id, t.expires_at))
        .collect();
    tokens.sort();
    tokens
}

#[test]
fn a_leaked_secret_among_noise_is_revoked_mailed_and_audited_and_the_noise_changes_nothing() {
    let dir = TempDir::new();
    let sink = SmtpSink::start(&dir.path, free_port(), None);
    let srv = TestServer::start_with(
        TestServer::config()
            .env(
                "TOKEND_SMTP_URL",
                &format!("smtp://127.0.0.1:{}", sink.port),
            )
            .env("TOKEND_MAIL_FROM", "tokend@example.org"),
    );
    let api = srv.api();
    let (alice, leaked) = alice_with_token(api, "ci-deploy");
    let admin = api.admin_login().access_token;
    let bystander = api.create_token(&alice, "bystander", Some("30d"));
    let revoked = api.create_token(&alice, "revoked-already", Some("30d"));
    api.revoke_token(&alice, &revoked.id);

    let noise: Vec<Value> = vec![
        json!({"token": "hello world"}),
        json!({"token": "tkd", "url": "https://example.org/a"}),
        json!({"token": bad_checksum(&bystander.secret), "source": "content"}),
        json!({"token": bad_checksum(&leaked.secret)}),
        json!({"token": well_formed_unknown(1), "url": "https://example.org/b"}),
        json!({"token": well_formed_unknown(2)}),
        json!({"token": revoked.secret, "source": "commit"}),
        json!({"token": "x".repeat(5000)}),
    ];
    let trail_before = api.every_event(&admin, "").len();
    let tokens_before = listing(api, &admin);

    // Noise alone: nothing changes, and the answer is counts only.
    let r = report_from(srv.addr(), "127.0.0.2", &json!({ "candidates": noise }));
    r.assert_status(200, "noise");
    r.assert_no_store("noise");
    let noise_answer = r.json();
    assert_eq!(noise_answer, json!({"received": 8, "well_formed": 3}));
    assert_eq!(listing(api, &admin), tokens_before, "no token changed");
    assert_eq!(
        api.every_event(&admin, "").len(),
        trail_before,
        "no event written"
    );
    api.exchange_authorize(&bystander.secret);

    // The leaked secret among the same noise: the answer has the same
    // shape and counts, as if it were one more unknown token.
    let mut batch = noise.clone();
    batch.insert(
        3,
        json!({
            "token": leaked.secret,
            "url": "https://example.org/acme/deploy/blob/main/.env",
            "source": "content",
        }),
    );
    let unknown_instead = {
        let mut other = noise.clone();
        other.insert(3, json!({"token": well_formed_unknown(3)}));
        other
    };
    let r = report_from(srv.addr(), "127.0.0.3", &json!({ "candidates": batch }));
    r.assert_status(200, "with the leak");
    let with_leak = r.json();
    let r = report_from(
        srv.addr(),
        "127.0.0.4",
        &json!({ "candidates": unknown_instead }),
    );
    let without_leak = r.json();
    assert_eq!(with_leak, without_leak, "the answer tells nothing");
    assert_eq!(with_leak, json!({"received": 9, "well_formed": 4}));

    // Only the leaked token is revoked.
    let r = api.try_exchange_authorize(&leaked.secret);
    r.assert_oauth_error("invalid_grant", "the leaked token");
    api.exchange_authorize(&bystander.secret);
    let live: Vec<String> = api
        .list_tokens(&alice)
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        live,
        ["bystander"],
        "the leaked one is gone, the other stays"
    );

    // One `token.leaked` event, naming where it was found and from where,
    // never the secret.
    let events = api.recorded_events(&admin, "token.leaked", 1);
    let event = &events[0];
    let text = event.to_string();
    assert!(text.contains(&leaked.id), "{event}");
    assert!(
        text.contains("https://example.org/acme/deploy/blob/main/.env"),
        "{event}"
    );
    assert!(
        text.contains("content") && text.contains("127.0.0.3"),
        "{event}"
    );
    assert!(!text.contains(&leaked.secret), "no secret in the trail");

    // The owner is mailed, after the commit, once.
    let mails = eventually(Duration::from_secs(10), || {
        let received = sink.received();
        (!received.is_empty()).then_some(received)
    })
    .expect("the owner's mail");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["to"], json!(["alice@example.org"]));
    let data = str_field(&mails[0], "data");
    assert!(
        data.contains("ci-deploy") && data.contains(&leaked.id),
        "{data}"
    );
    assert!(data.contains("example.org/acme/deploy"), "{data}");
    assert!(!data.contains(&leaked.secret), "no secret in the mail");

    // Reported again: nothing more happens, the same answer.
    let r = report_from(srv.addr(), "127.0.0.5", &json!({ "candidates": batch }));
    assert_eq!(r.json(), with_leak);
    api.recorded_events(&admin, "token.leaked", 1);
}

/// Alice of acme, with an e-mail address, and her token `name`: (her
/// access token, the token).
fn alice_with_token(api: &Client, name: &str) -> (String, CreatedToken) {
    let admin = api.admin_login().access_token;
    api.create_org(&admin, "acme");
    api.create_user(
        &admin,
        &NewUser::new("alice", "acme")
            .email("alice@example.org")
            .roles(&[ROLE_TOKEN_USER]),
    );
    let alice = api.login("alice@acme", USER_PASSWORD).access_token;
    let token = api.create_token(&alice, name, Some("30d"));
    (alice, token)
}

fn report_one(server: &str, secret: &str) {
    let body = json!({"candidates": [{"token": secret, "url": "https://paste.example/1"}]});
    report_from(server, "127.0.0.2", &body).assert_status(200, "a report");
}

#[test]
fn a_notice_waits_in_the_database_for_a_relay_across_a_restart() {
    // No relay at first: the token is revoked and the notice kept.
    let mut srv = TestServer::start();
    let api = srv.api();
    let (_, leaked) = alice_with_token(api, "ci-deploy");
    report_one(srv.addr(), &leaked.secret);
    api.try_exchange_authorize(&leaked.secret)
        .assert_oauth_error("invalid_grant", "the leaked token");
    srv.stop();

    // Restarted with a relay: the notice goes out at once, once.
    let dir = TempDir::new();
    let sink = SmtpSink::start(&dir.path, free_port(), None);
    let relay = format!("smtp://127.0.0.1:{}", sink.port);
    let metrics = format!("127.0.0.1:{}", free_port());
    srv.set_config(
        TestServer::config()
            .env("TOKEND_SMTP_URL", &relay)
            .arg("--metrics-listen")
            .arg(&metrics),
    );
    srv.restart();
    let mails = eventually(Duration::from_secs(10), || {
        let received = sink.received();
        (!received.is_empty()).then_some(received)
    })
    .expect("the owner's mail after the restart");
    assert_eq!(mails[0]["to"], json!(["alice@example.org"]));
    let data = str_field(&mails[0], "data");
    assert!(
        data.contains("ci-deploy") && data.contains(&leaked.id),
        "{data}"
    );
    assert!(data.contains("https://paste.example/1"), "{data}");
    assert!(!data.contains(&leaked.secret), "no secret in the mail");
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let sent = api
        .recorded_events(&admin, "token.leak_notice_sent", 1)
        .remove(0);
    assert_eq!(sent["target"]["id"], leaked.id.as_str());
    assert_eq!(sent["additionalProperties"]["to"], "alice@example.org");
    let request = build_request(&metrics, "GET", "/metrics", &[], None);
    let exposition = send_raw(&metrics, &request, Duration::from_secs(5))
        .expect("the metrics address answers")
        .text();
    assert!(
        exposition.contains("\ntokend_leak_notices_sent_total 1\n"),
        "{exposition}"
    );
    srv.stop();

    // Sent is sent: a timer's run finds nothing due.
    let url_file = dir.path.join("relay");
    std::fs::write(&url_file, &relay).unwrap();
    let out = srv
        .cli()
        .run(
            &[
                "remind",
                "--once",
                "--smtp-url-file",
                url_file.to_str().unwrap(),
            ],
            None,
        )
        .ok("remind --once");
    assert!(!out.stderr.contains("leak notices"), "{}", out.stderr);
    assert_eq!(sink.received().len(), 1, "mailed once");
}

fn mailer(port: u16) -> SmtpMailer {
    SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "tokend@example.org",
        None,
    )
    .expect("mailer")
}

fn send(authority: &mut Authority, mailer: &SmtpMailer) -> (usize, usize, usize) {
    let run = authority.send_due_leak_notices(mailer).expect("a run");
    (run.sent, run.deferred, run.given_up)
}

#[test]
fn a_notice_the_relay_refuses_is_tried_again_then_given_up() {
    let service = InProcess::start();
    let api = service.api();
    let (alice, first) = alice_with_token(api, "first");
    let second = api.create_token(&alice, "second", Some("30d"));
    let dir = TempDir::new();
    let port = free_port();
    let mailer = mailer(port);
    let mut authority = service.authority();
    assert_eq!(send(&mut authority, &mailer), (0, 0, 0), "nothing reported");

    // Down: tried again a minute later, not before; then sent.
    report_one(api.addr(), &first.secret);
    assert_eq!(
        send(&mut authority, &mailer),
        (0, 1, 0),
        "the relay is down"
    );
    service.advance(30);
    assert_eq!(
        send(&mut authority, &mailer),
        (0, 0, 0),
        "not before its backoff"
    );
    let sink = SmtpSink::start(&dir.path, port, None);
    service.advance(31);
    assert_eq!(
        send(&mut authority, &mailer),
        (1, 0, 0),
        "the relay is back"
    );
    assert_eq!(sink.received().len(), 1);
    drop(sink);

    // Down for good: after the last try, given up and recorded.
    report_one(api.addr(), &second.secret);
    let mut tries = Vec::new();
    for wait in [0, 60, 300, 900, 3600] {
        service.advance(wait);
        tries.push(send(&mut authority, &mailer));
    }
    assert_eq!(
        tries,
        [(0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 0, 1)],
        "four retries with backoff, then given up"
    );
    service.advance(86_400);
    assert_eq!(send(&mut authority, &mailer), (0, 0, 0), "never again");
    let admin = api.admin_login().access_token;
    let failed = api
        .recorded_events(&admin, "token.leak_notice_failed", 1)
        .remove(0);
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["target"]["id"], second.id.as_str());
    assert_eq!(failed["additionalProperties"]["attempts"], 5);
    assert_eq!(failed["additionalProperties"]["to"], "alice@example.org");
}

#[test]
fn reports_are_bounded_and_rate_limited_per_address() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "kept", None);

    let too_many: Vec<Value> = (0..1001).map(|_| json!({"token": "x"})).collect();
    let r = report_from(srv.addr(), "127.0.0.6", &json!({ "candidates": too_many }));
    r.assert_error(400, "invalid_request", "1,001 candidates");
    let most: Vec<Value> = (0..1000)
        .map(|_| json!({"token": token.secret, "url": "https://example.org/some/long/path/to/where/it/was/found/in/a/repository/file.txt", "source": "scanner"}))
        .collect();
    let r = report_from(srv.addr(), "127.0.0.6", &json!({ "candidates": most }));
    r.assert_status(200, "1,000 candidates with their origins fit");
    for (what, body) in [
        ("an array", r#"[{"token":"x"}]"#),
        (
            "an unknown field",
            r#"{"candidates":[{"token":"x","secret":true}]}"#,
        ),
        ("no candidates", r#"{}"#),
    ] {
        let request = build_request(
            srv.addr(),
            "POST",
            REPORT,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        send_from(srv.addr(), "127.0.0.6", &request).assert_error(400, "invalid_request", what);
    }
    // That was the live token itself: revoked, so from here on it is noise.
    api.try_exchange_authorize(&token.secret)
        .assert_oauth_error("invalid_grant", "reported");

    // A burst from one address, then 429 with Retry-After; another address
    // is not held up.
    let empty = json!({ "candidates": [] });
    let mut limited = None;
    for n in 0..40 {
        let r = report_from(srv.addr(), "127.0.0.7", &empty);
        if r.status == 429 {
            limited = Some((n, r));
            break;
        }
        r.assert_status(200, "within the burst");
    }
    let (n, r) = limited.expect("a flood is refused");
    assert!(n >= 10, "a burst of 10 is allowed, refused after {n}");
    r.assert_error(429, "too_many_requests", "flood");
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=6).contains(&retry), "{retry}");
    report_from(srv.addr(), "127.0.0.8", &empty).assert_status(200, "another address");
    let leaked = api.recorded_events(&admin, "token.leaked", 1);
    assert_eq!(leaked.len(), 1);
}

#[test]
fn the_readme_scanner_snippet_agrees_with_tokend() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- scanner-snippet -->\n```python\n")
        .expect("the snippet's marker")
        + "<!-- scanner-snippet -->\n```python\n".len();
    let snippet = &readme[start..start + readme[start..].find("```").expect("its end")];

    let mut cases: Vec<(String, bool)> = Vec::new();
    for n in 0..5 {
        let token = api.create_token(&admin, &format!("scanned-{n}"), None);
        cases.push((bad_checksum(&token.secret), false));
        cases.push((token.secret[..64].to_string(), false));
        cases.push((format!("{}0", token.secret), false));
        cases.push((token.secret.replacen("tkd", "tke", 1), false));
        cases.push((token.secret, true));
    }
    cases.push((well_formed_unknown(7), true));
    let program = format!(
        "{snippet}\nimport json, sys\nfor line in sys.stdin:\n    print(json.dumps(is_tokend_token(line.strip())))\n"
    );
    let input: String = cases.iter().map(|(c, _)| format!("{c}\n")).collect();
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("python3 runs");
    assert!(
        output.status.success(),
        "the snippet runs (is blake3 installed?)"
    );
    let verdicts: Vec<bool> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l == "true")
        .collect();
    let expected: Vec<bool> = cases.iter().map(|(_, ok)| *ok).collect();
    assert_eq!(verdicts, expected, "{cases:?}");
    // And tokend agrees with each verdict.
    for (candidate, ok) in &cases {
        assert_eq!(
            tokend::domain::ApiTokenSecret::parse(candidate).is_some(),
            *ok,
            "{candidate}"
        );
    }
}
