//! E-mail reminders through a real SMTP server on loopback (aiosmtpd,
//! `tests/mail/smtp_sink.py`): what a reminder says and to whom, exactly
//! once, never for a revoked token, retried while the relay is down and
//! given up in the end, STARTTLS to a relay with a private CA, and two
//! concurrent runs of `tokend remind --once` sending each reminder once.
//! Runs that need time use the in-process service's clock.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use tokend::domain::Authority;
use tokend::mail::SmtpMailer;

use crate::support::*;

const FROM: &str = "tokend@example.org";
const DAY: i64 = 86_400;

/// The SMTP server, killed on drop; what it received is in `received()`.
pub(crate) struct SmtpSink {
    child: Child,
    pub(crate) port: u16,
    outfile: PathBuf,
}

impl SmtpSink {
    pub(crate) fn start(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> SmtpSink {
        let outfile = dir.join(format!("mail-{port}.jsonl"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail/smtp_sink.py");
        let mut command = Command::new("python3");
        command.arg(script).arg(port.to_string()).arg(&outfile);
        if let Some((cert, key)) = tls {
            command.arg(cert).arg(key);
        }
        let mut child = command
            .stdout(Stdio::piped())
            // aiosmtpd logs every refused TLS handshake with a traceback.
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sink says it is ready");
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink (is aiosmtpd installed?)"
        );
        SmtpSink {
            child,
            port,
            outfile,
        }
    }

    pub(crate) fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.outfile)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON message a line"))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mailer(url: &str, ca: Option<&Path>) -> SmtpMailer {
    let ca = ca.map(|path| std::fs::read(path).expect("CA"));
    SmtpMailer::new(url, FROM, ca.as_deref()).expect("mailer")
}

fn run(authority: &mut Authority, mailer: &SmtpMailer) -> (usize, usize, usize) {
    let run = authority.send_due_reminders(mailer).expect("reminder run");
    (run.sent, run.deferred, run.given_up)
}

/// A token named `name` for `ttl`, reminded of `before` its expiry at
/// ops@example.org.
fn with_reminder(name: &str, ttl: &str, before: &str) -> NewToken {
    NewToken::named(name)
        .ttl(ttl)
        .reminder(Reminder::before(before).to("ops@example.org"))
}

#[test]
fn a_reminder_is_mailed_once_when_its_time_comes_never_for_a_revoked_token() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let sink = SmtpSink::start(&dir.path, free_port(), None);
    let mailer = mailer(&format!("smtp://127.0.0.1:{}", sink.port), None);
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token_with(&admin, &with_reminder("nightly-backup", "30d", "7d"));
    let secret = token.secret.clone();
    let revoked = api.create_token_with(&admin, &with_reminder("revoked", "30d", "7d"));
    api.revoke_token(&admin, &revoked.id);
    api.create_token(&admin, "no-reminder", Some("30d"));

    let mut authority = service.authority();
    assert_eq!(run(&mut authority, &mailer), (0, 0, 0), "not due yet");
    service.advance(23 * DAY - 60);
    assert_eq!(run(&mut authority, &mailer), (0, 0, 0), "a minute early");
    service.advance(120);
    assert_eq!(run(&mut authority, &mailer), (1, 0, 0), "due");
    assert_eq!(run(&mut authority, &mailer), (0, 0, 0), "sent once");

    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert_eq!(mail["from"], FROM);
    assert_eq!(mail["to"], json!(["ops@example.org"]));
    let data = str_field(mail, "data");
    assert!(
        data.contains("Subject: tokend: API token \"nightly-backup\" expires on"),
        "{data}"
    );
    let expires = token.expires_at.as_deref().expect("an expiry");
    for needle in [
        "nightly-backup",
        token.id.as_str(),
        "System",
        expires,
        "tokend token create",
    ] {
        assert!(data.contains(needle), "{needle} in {data}");
    }
    assert!(!data.contains(&secret), "never the secret");

    let admin = api.admin_login().access_token;
    let sent = api
        .recorded_events(&admin, "token.reminder_sent", 1)
        .remove(0);
    assert_eq!(sent["target"]["id"], token.id.as_str());
}

#[test]
fn a_relay_that_is_down_is_tried_again_then_given_up() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let port = free_port();
    let mailer = mailer(&format!("smtp://127.0.0.1:{port}"), None);
    let api = service.api();
    let admin = api.admin_login().access_token;
    api.create_token_with(&admin, &with_reminder("first", "2d", "1d"));
    let mut authority = service.authority();

    // Down: tried again a minute later, not before.
    service.advance(DAY + 1);
    assert_eq!(run(&mut authority, &mailer), (0, 1, 0), "the relay is down");
    service.advance(30);
    assert_eq!(
        run(&mut authority, &mailer),
        (0, 0, 0),
        "not before its backoff"
    );
    // Back: sent.
    let sink = SmtpSink::start(&dir.path, port, None);
    service.advance(31);
    assert_eq!(run(&mut authority, &mailer), (1, 0, 0), "the relay is back");
    assert_eq!(sink.received().len(), 1);
    drop(sink);

    // Down for good: after the last try, given up and recorded.
    let admin = api.admin_login().access_token;
    api.create_token_with(&admin, &with_reminder("second", "2d", "1d"));
    service.advance(DAY + 1);
    let mut tries = Vec::new();
    for wait in [0, 60, 300, 900, 3600] {
        service.advance(wait);
        tries.push(run(&mut authority, &mailer));
    }
    assert_eq!(
        tries,
        [(0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 1, 0), (0, 0, 1)],
        "four retries with backoff, then given up"
    );
    service.advance(DAY / 2);
    assert_eq!(run(&mut authority, &mailer), (0, 0, 0), "never again");
    let admin = api.admin_login().access_token;
    let failed = api
        .recorded_events(&admin, "token.reminder_failed", 1)
        .remove(0);
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["additionalProperties"]["attempts"], 5);
}

/// A private CA and a certificate for localhost it signed: (CA, cert, key).
pub(crate) fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=tokend test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "relay.key",
        "-out",
        "relay.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("relay.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "relay.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "relay.pem",
        "-days",
        "2",
        "-extfile",
        "relay.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("relay.pem"),
        dir.join("relay.key"),
    )
}

#[test]
fn starttls_to_a_relay_whose_certificate_a_private_ca_signed() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let (ca, cert, key) = test_certificates(&dir.path);
    let sink = SmtpSink::start(&dir.path, free_port(), Some((&cert, &key)));
    let url = format!("smtp://localhost:{}?tls=starttls", sink.port);
    let api = service.api();
    let admin = api.admin_login().access_token;
    // Due in an hour.
    api.create_token_with(&admin, &with_reminder("tls", "1d", "23h"));
    let mut authority = service.authority();
    service.advance(3600);

    // The system's roots do not know the private CA: refused, kept for later.
    assert_eq!(
        run(&mut authority, &mailer(&url, None)),
        (0, 1, 0),
        "unknown CA"
    );
    service.advance(61);
    assert_eq!(
        run(&mut authority, &mailer(&url, Some(&ca))),
        (1, 0, 0),
        "trusted CA"
    );
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["tls"], true, "delivered under STARTTLS");
}

#[test]
fn two_runs_at_once_send_each_reminder_once_and_a_digest_lists_what_expires() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let sink = SmtpSink::start(&dir.path, free_port(), None);
    let api = service.api();
    // Made two and a half hours ago, for three hours, reminding an hour
    // ahead: due now by the wall clock the `tokend remind` processes read.
    service.advance(-9000);
    let admin = api.admin_login().access_token;
    for n in 0..5 {
        api.create_token_with(&admin, &with_reminder(&format!("ci-{n}"), "3h", "1h"));
    }
    service.advance(9000);
    let admin = api.admin_login().access_token;
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let db = service.db().to_string_lossy().into_owned();
    let runs: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(bin())
                .args(["--db", &db, "remind", "--once", "--mail-from", FROM])
                .env("TOKEND_SMTP_URL", &url)
                .env_remove("TOKEND_SMTP_URL_FILE")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tokend remind")
        })
        .collect();
    for mut run in runs {
        assert!(run.wait().expect("remind exits").success());
    }
    let received = sink.received();
    let mut names: Vec<String> = received
        .iter()
        .map(|mail| {
            let data = str_field(mail, "data");
            let start = data.find("API token \"").expect("names the token") + 11;
            data[start..start + data[start..].find('"').expect("closing quote")].to_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["ci-0", "ci-1", "ci-2", "ci-3", "ci-4"], "each once");
    assert!(
        received
            .iter()
            .all(|m| m["to"] == json!(["ops@example.org"])),
        "the address the admin set"
    );

    // An admin's digest lists the tokens that expire within the span,
    // only; the relay's URL (which may hold credentials) comes from a file.
    api.create_token(&admin, "far", Some("30d"));
    let url_file = dir.path.join("smtp-url");
    std::fs::write(&url_file, format!("{url}\n")).expect("write the URL file");
    let url_file = url_file.to_string_lossy().into_owned();
    let digest_args = [
        "--db",
        &db,
        "remind",
        "--digest",
        "System",
        "--within",
        "1day",
        "--to",
        "ops@example.org",
        "--smtp-url-file",
        &url_file,
        "--mail-from",
        FROM,
    ];
    let digest = run_tokend(&digest_args, None, &[], &dir.path).ok("remind --digest");
    assert!(digest.stderr.contains("5 tokens"), "{digest:?}");
    let received = sink.received();
    let mail = received.last().expect("the digest");
    assert_eq!(mail["to"], json!(["ops@example.org"]));
    let data = str_field(mail, "data");
    assert!(
        data.contains("5 API tokens of System expire within 1 days"),
        "{data}"
    );
    assert!(data.contains("ci-4") && !data.contains("far"), "{data}");

    // The command line never takes the relay's URL: it would show, with
    // its credentials, in the process list.
    let on_the_command_line = run_tokend(
        &[
            "--db",
            &db,
            "remind",
            "--once",
            "--smtp-url",
            "smtp://user:secret@127.0.0.1:25",
        ],
        None,
        &[],
        &dir.path,
    );
    on_the_command_line.code_is(2, "--smtp-url is no option");
    assert_eq!(sink.received().len(), 6, "nothing more was sent");
}

#[test]
fn a_token_owner_is_mailed_a_few_reminders_an_hour_at_most() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let sink = SmtpSink::start(&dir.path, free_port(), None);
    let mailer = mailer(&format!("smtp://127.0.0.1:{}", sink.port), None);
    let api = service.api();
    let admin = api.admin_login().access_token;
    for n in 0..7 {
        api.create_token_with(&admin, &with_reminder(&format!("ci-{n}"), "2d", "1d"));
    }
    let mut authority = service.authority();
    service.advance(DAY + 1);
    assert_eq!(run(&mut authority, &mailer), (5, 0, 0), "five in the hour");
    assert_eq!(run(&mut authority, &mailer), (0, 0, 0), "the rest wait");
    service.advance(1800);
    assert_eq!(
        run(&mut authority, &mailer),
        (0, 0, 0),
        "still within the hour"
    );
    service.advance(1801);
    assert_eq!(run(&mut authority, &mailer), (2, 0, 0), "the next hour");
    assert_eq!(sink.received().len(), 7, "each reminder once, none lost");
}

#[test]
fn reminders_go_to_the_owners_address_and_bad_ones_are_refused() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.run(
        &[
            "user",
            "add",
            "alice@acme",
            "--email",
            "alice@example.org",
            "--role",
            ROLE_TOKEN_USER,
        ],
        Some(USER_PASSWORD),
    )
    .ok("user add");
    cli.user_add("bob@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let alice = api.user_login("alice@acme").access_token;
    let bob = api.user_login("bob@acme").access_token;

    // Her own address, named or on record: accepted.
    let token = |name: &str, ttl: &str, reminder: Reminder| {
        NewToken::named(name).ttl(ttl).reminder(reminder)
    };
    for (name, reminder) in [
        ("own", Reminder::before("7d")),
        ("own-named", Reminder::before("7d").to("Alice@Example.org")),
    ] {
        api.create_token_with(&alice, &token(name, "30d", reminder));
    }
    // Any other address is an admin's to set: a token user is refused.
    let elsewhere = api.try_create_token_with(
        &alice,
        &token("x", "30d", Reminder::before("7d").to("victim@example.net")),
    );
    elsewhere.assert_status(403, "another address, by a token user");
    assert_eq!(
        elsewhere.json()["error"],
        "forbidden",
        "{}",
        elsewhere.describe()
    );

    let no_before = Reminder::default().to("alice@example.org");
    for (jwt, body, what) in [
        (
            &alice,
            token("x", "never", Reminder::before("7d")),
            "a token that never expires",
        ),
        (
            &alice,
            token("x", "30d", Reminder::before("soon")),
            "no span",
        ),
        (
            &alice,
            token("x", "30d", Reminder::before("7d").to("nobody")),
            "no address",
        ),
        (&alice, token("x", "30d", no_before), "no before"),
        (
            &alice,
            token("x", "1h", Reminder::before("2h")),
            "a reminder before the token was made",
        ),
        (
            &alice,
            token("x", "1h", Reminder::before("59m 30s")),
            "a reminder within a minute of now",
        ),
        (
            &bob,
            token("x", "30d", Reminder::before("7d")),
            "no address on record",
        ),
    ] {
        api.try_create_token_with(jwt, &body)
            .assert_status(400, what);
    }
    // A reminder two minutes ahead.
    api.create_token_with(&alice, &token("soon", "1h", Reminder::before("58m")));
    for jwt in [&alice, &bob] {
        assert!(
            api.list_tokens(jwt).iter().all(|t| t.name != "x"),
            "no token made by a refused request"
        );
    }
}
