//! TLS in the binary: clients that are not tokend's own (Python `requests`,
//! curl, `openssl s_client`) make the handshake and exchange an API token
//! trusting the certificate `tokend tls self-signed` made; old protocol
//! versions, weak suites and plain HTTP are refused; sessions resume; a
//! SIGHUP reloads the certificate for new connections while an open one
//! keeps working; a bad certificate refuses the start or the reload; a
//! certificate that expired or expires within 30 days is warned of at the
//! start and at a reload, and its expiry is a metric; and clients that
//! stall in the handshake neither hold up others nor stay
//! past the deadline, under the connection cap too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// An API token of the administrator's, made over TLS by the test's own
/// client.
fn admin_token(srv: &TestServer) -> String {
    let session = srv.api().admin_login();
    let token = srv
        .api()
        .create_token(&session.access_token, "over-tls", None);
    token.secret
}

fn port(srv: &TestServer) -> &str {
    srv.addr().rsplit(':').next().expect("a port")
}

/// Runs `program` with `args`, `input` on stdin; (success, stdout, stderr).
fn run(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs (.ci/run installs it): {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The SHA-256 fingerprint of the first certificate in PEM `text`, as
/// openssl computes it.
fn openssl_fingerprint(pem: &str) -> String {
    let (ok, out, err) = run(
        "openssl",
        &["x509", "-noout", "-fingerprint", "-sha256"],
        pem,
    );
    assert!(ok, "openssl x509: {err}");
    out.trim()
        .rsplit('=')
        .next()
        .expect("a fingerprint")
        .to_owned()
}

/// What `openssl s_client` sees at `addr` with `extra` options: its whole
/// output (the handshake summary and the server's certificate).
fn s_client(addr: &str, extra: &[&str]) -> String {
    let mut args = vec!["s_client", "-connect", addr];
    args.extend_from_slice(extra);
    let (_, out, err) = run("openssl", &args, "");
    format!("{out}\n{err}")
}

/// `s_client` making one request and reading the answer to the end, so
/// that the TLS 1.3 session tickets, sent after the handshake, are in.
fn s_client_request(addr: &str, extra: &[&str]) -> String {
    let mut args = vec!["s_client", "-connect", addr, "-ign_eof"];
    args.extend_from_slice(extra);
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let (_, out, err) = run("openssl", &args, &request);
    format!("{out}\n{err}")
}

/// The fingerprint of the certificate a new connection to `addr` is shown.
fn presented_fingerprint(addr: &str) -> String {
    let seen = s_client(addr, &[]);
    let begin = seen
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("a certificate in {seen}"));
    openssl_fingerprint(&seen[begin..])
}

fn file_fingerprint(path: &Path) -> String {
    openssl_fingerprint(&std::fs::read_to_string(path).expect("read the certificate"))
}

#[test]
fn requests_and_curl_exchange_an_api_token_over_tls() {
    let srv = TestServer::config().tls().start();
    let secret = admin_token(&srv);
    let cert = srv.tls_cert();
    let cert = cert.to_str().expect("a UTF-8 path");

    // Python requests, verifying against the certificate as its only CA;
    // and, trusting only its default CAs, refusing the connection.
    let script = r#"
import json, sys, requests
base, ca, secret = sys.argv[1], sys.argv[2], sys.argv[3]
r = requests.post(base + "/csp/gateway/am/api/auth/api-tokens/authorize",
                  data={"refresh_token": secret}, verify=ca)
d = requests.get(base + "/.well-known/openid-configuration", verify=ca)
try:
    requests.get(base + "/health", timeout=5)
    unverified = "accepted"
except requests.exceptions.SSLError:
    unverified = "refused"
print(json.dumps({"status": r.status_code, "body": r.json(), "hsts": r.headers.get("strict-transport-security"),
                  "issuer": d.json()["issuer"], "unverified": unverified}))
"#;
    let base = format!("https://localhost:{}", port(&srv));
    let (ok, out, err) = run("python3", &["-c", script, &base, cert, &secret], "");
    assert!(ok, "python requests: {out}\n{err}");
    let seen: Value = serde_json::from_str(out.trim()).expect("the script's JSON");
    assert_eq!(seen["status"], 200, "{seen}");
    assert!(
        seen["body"]["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{seen}"
    );
    assert_eq!(seen["hsts"], "max-age=31536000", "{seen}");
    assert_eq!(seen["unverified"], "refused", "{seen}");
    // Discovery follows the scheme: the issuer is https.
    assert_eq!(seen["issuer"], format!("https://{}", srv.addr()), "{seen}");

    // curl, with the certificate as its CA, by IP address.
    let url = format!("https://{}{AUTHORIZE}", srv.addr());
    let form = format!("refresh_token={secret}");
    let (ok, out, err) = run(
        "curl",
        &["-sS", "--fail", "--cacert", cert, "--data", &form, &url],
        "",
    );
    assert!(ok, "curl: {out}\n{err}");
    let answer: Value = serde_json::from_str(&out).expect("curl got JSON");
    assert!(answer["access_token"].is_string(), "{answer}");
    // Without the CA curl refuses the certificate.
    let (ok, _, err) = run("curl", &["-sS", "--fail", &url, "--data", &form], "");
    assert!(!ok, "curl trusted a self-signed certificate: {err}");

    // The access token works over TLS; the issuer in it is https.
    let jwt = answer["access_token"].as_str().expect("a token");
    let info = srv.api().session_info(jwt);
    let (_, claims) = jwt_parts(jwt);
    assert_eq!(claims["iss"], format!("https://{}", srv.addr()), "{info:?}");
}

#[test]
fn old_protocols_weak_suites_and_plain_http_are_refused() {
    let srv = TestServer::config().tls().start();
    let addr = srv.addr();
    // TLS 1.1 and 1.0: no protocol in common.
    for version in ["-tls1_1", "-tls1"] {
        let seen = s_client(addr, &[version, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        assert!(
            seen.contains("Cipher is (NONE)") || seen.contains("no protocols available"),
            "{version} was accepted: {seen}"
        );
    }
    // TLS 1.2 with a CBC suite, or RSA key exchange: refused.
    for suite in ["ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256"] {
        let seen = s_client(addr, &["-tls1_2", "-cipher", suite]);
        assert!(
            seen.contains("Cipher is (NONE)"),
            "{suite} accepted: {seen}"
        );
    }
    // What is accepted: TLS 1.3, and TLS 1.2 with ECDHE and AES-GCM.
    let seen = s_client(addr, &["-tls1_3"]);
    assert!(seen.contains("New, TLSv1.3"), "{seen}");
    let seen = s_client(addr, &["-tls1_2"]);
    assert!(
        seen.contains("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES"),
        "{seen}"
    );
    // ALPN: http/1.1.
    let seen = s_client(addr, &["-alpn", "h2,http/1.1"]);
    assert!(seen.contains("ALPN protocol: http/1.1"), "{seen}");

    // Plain HTTP to the TLS port: told to use https, served nothing.
    let plain = send_raw(
        addr,
        &build_request(addr, "GET", "/.well-known/jwks.json", &[], None),
        Duration::from_secs(5),
    )
    .expect("an answer");
    plain.assert_status(400, "plain HTTP on the TLS port");
    assert!(
        plain.text().contains("use https://"),
        "{}",
        plain.describe()
    );
    assert!(!plain.text().contains("keys"), "{}", plain.describe());
    // Over plain HTTP (no TLS) there is no HSTS.
    let plain_srv = TestServer::start();
    let answer = plain_srv.api().get("/health", &[]);
    assert_eq!(answer.header("Strict-Transport-Security"), None);
}

#[test]
fn sessions_resume_by_ticket_and_by_id() {
    let srv = TestServer::config().tls().start();
    let sessions = TempDir::new();
    let cert = srv.tls_cert();
    let ca = cert.to_str().expect("a UTF-8 path");
    for (version, file) in [("-tls1_3", "s13.pem"), ("-tls1_2", "s12.pem")] {
        let file = sessions.path.join(file);
        let file = file.to_str().expect("a UTF-8 path");
        let first = s_client_request(srv.addr(), &[version, "-CAfile", ca, "-sess_out", file]);
        assert!(first.contains("Verify return code: 0 (ok)"), "{first}");
        assert!(first.contains("New, TLSv1."), "{first}");
        let again = s_client_request(srv.addr(), &[version, "-CAfile", ca, "-sess_in", file]);
        assert!(again.contains("HTTP/1.1 200 OK"), "{again}");
        assert!(
            again.contains("Reused, TLSv1."),
            "{version} not resumed: {again}"
        );
    }
}

/// A request on `stream`, kept alive; its status.
fn keep_alive_get(stream: &mut TlsStream, addr: &str, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    read_response(stream).expect("an answer").status
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_only() {
    let srv = TestServer::config().tls().start();
    let addr = srv.addr().to_owned();
    let old = file_fingerprint(&srv.tls_cert());
    assert_eq!(presented_fingerprint(&addr), old);

    // A keep-alive connection made before the reload, trusting both.
    let both = TempDir::new();
    let (new_cert, new_key) = (both.path.join("new.pem"), both.path.join("new.key"));
    srv.make_certificate(&new_cert, &new_key);
    let trust = both.path.join("both.pem");
    let mut pems = std::fs::read_to_string(srv.tls_cert()).expect("read");
    pems.push_str(&std::fs::read_to_string(&new_cert).expect("read"));
    std::fs::write(&trust, pems).expect("write");
    let tls = tls_client(&trust);
    let mut open = connect_tls(&addr, &tls, Duration::from_secs(10)).expect("connect");
    assert_eq!(keep_alive_get(&mut open, &addr, "/health"), 200);

    // The files are replaced (renamed into place, as an ACME client does)
    // and the service told.
    let mark = srv.log_len();
    std::fs::rename(&new_cert, srv.tls_cert()).expect("replace the certificate");
    std::fs::rename(&new_key, srv.tls_key()).expect("replace the key");
    send_signal(srv.pid(), "HUP");
    assert!(
        srv.wait_for_log("TLS certificate reloaded", Duration::from_secs(5)),
        "{}",
        srv.log_since(mark)
    );
    let new = file_fingerprint(&srv.tls_cert());
    assert_ne!(new, old);
    assert_eq!(presented_fingerprint(&addr), new, "a new connection");
    // The connection made before still works, with the certificate it had.
    assert_eq!(keep_alive_get(&mut open, &addr, "/health"), 200);
    let held = open.conn.peer_certificates().expect("a peer certificate")[0].to_vec();
    let held = pem_of(&held);
    assert_eq!(openssl_fingerprint(&held), old);
    // The typed client (trusting the new certificate only) works too.
    let fresh = Client::new(&addr).with_tls(&srv.tls_cert());
    fresh
        .get("/health", &[])
        .assert_status(200, "after the reload");

    // A reload that fails keeps the certificate in use and says why,
    // without quoting the key.
    std::fs::write(
        srv.tls_key(),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("spoil the key");
    let mark = srv.log_len();
    send_signal(srv.pid(), "HUP");
    assert!(
        srv.wait_for_log("TLS certificate not reloaded", Duration::from_secs(5)),
        "{}",
        srv.log_since(mark)
    );
    let said = srv.log_since(mark);
    assert!(said.contains("tls-key.pem"), "{said}");
    assert!(!said.contains("AAAA"), "{said}");
    assert_eq!(
        presented_fingerprint(&addr),
        new,
        "the old certificate stays"
    );
    assert_eq!(keep_alive_get(&mut open, &addr, "/health"), 200);
}

/// The certificate expiry the metrics address says, if any.
fn expiry_metric(metrics: &str) -> Option<i64> {
    let request = build_request(metrics, "GET", "/metrics", &[], None);
    let text = send_raw(metrics, &request, Duration::from_secs(5))
        .expect("the metrics address answers")
        .text();
    text.lines()
        .find_map(|l| l.strip_prefix("tokend_tls_certificate_expiry_timestamp_seconds "))
        .map(|value| value.trim().parse().expect("a number"))
}

/// A self-signed certificate for 127.0.0.1 that expired a day ago.
fn expired_certificate(cert: &Path, key: &Path) -> i64 {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(400);
    params.not_after = now - time::Duration::days(1);
    let pair = rcgen::KeyPair::generate().unwrap();
    let made = params.self_signed(&pair).unwrap();
    std::fs::write(cert, pem_of(made.der())).unwrap();
    std::fs::write(key, pem("PRIVATE KEY", &pair.serialize_der())).unwrap();
    params.not_after.unix_timestamp()
}

#[test]
fn a_certificate_that_expired_or_expires_soon_is_warned_of_and_its_expiry_measured() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut srv = TestServer::config()
        .tls()
        .arg("--metrics-listen")
        .arg(&metrics)
        .start();
    // A year to go: no warning, the expiry measured.
    let year = expiry_metric(&metrics).expect("the expiry metric");
    assert!((year - now_secs() - 365 * 86_400).abs() < 120, "{year}");
    assert!(!srv.log().contains("expire"), "{}", srv.log());

    // Reloaded with one that expired: said, and measured.
    let dir = TempDir::new();
    let (cert, key) = (dir.path.join("c.pem"), dir.path.join("k.pem"));
    let expired = expired_certificate(&cert, &key);
    std::fs::rename(&cert, srv.tls_cert()).unwrap();
    std::fs::rename(&key, srv.tls_key()).unwrap();
    let mark = srv.log_len();
    send_signal(srv.pid(), "HUP");
    let said = eventually(Duration::from_secs(5), || {
        let said = srv.log_since(mark);
        said.contains("expired at").then_some(said)
    })
    .unwrap_or_else(|| panic!("no warning: {}", srv.log_since(mark)));
    assert!(said.contains("TLS certificate reloaded"), "{said}");
    assert!(said.contains("tls-cert.pem expired at"), "{said}");
    assert_eq!(expiry_metric(&metrics), Some(expired));

    // Restarted with ten days to go: said at the start, with the days left.
    let args = [
        "tls",
        "self-signed",
        "--host",
        "127.0.0.1",
        "--days",
        "10",
        "--cert",
    ];
    let mut args: Vec<&str> = args.to_vec();
    let (cert_arg, key_arg) = (cert.to_string_lossy(), key.to_string_lossy());
    args.extend([cert_arg.as_ref(), "--key", key_arg.as_ref()]);
    run_tokend(&args, None, &[], &dir.path).ok("tls self-signed --days 10");
    std::fs::rename(&cert, srv.tls_cert()).unwrap();
    std::fs::rename(&key, srv.tls_key()).unwrap();
    let mark = srv.log_len();
    srv.restart();
    let said = eventually(Duration::from_secs(5), || {
        let said = srv.log_since(mark);
        said.contains("days; replace").then_some(said)
    })
    .unwrap_or_else(|| panic!("no warning: {}", srv.log_since(mark)));
    // Ten days less the moments since the certificate was made.
    assert!(
        said.contains("expires at") && (said.contains("in 10 days") || said.contains("in 9 days")),
        "{said}"
    );
    let soon = expiry_metric(&metrics).expect("the expiry metric");
    assert!((soon - now_secs() - 10 * 86_400).abs() < 120, "{soon}");
}

fn pem_of(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn a_bad_certificate_or_key_refuses_the_start() {
    let dir = TempDir::new();
    let work = &dir.path;
    let srv = TestServer::config().tls().start();
    let other = (work.join("other.pem"), work.join("other.key"));
    srv.make_certificate(&other.0, &other.1);
    let garbage = work.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let db = work.join("tokend.db");
    let cert = srv.tls_cert();
    let key = srv.tls_key();
    let p = |path: &Path| path.to_str().expect("a UTF-8 path").to_owned();
    let key_text = std::fs::read_to_string(&key).expect("read the key");
    let key_body = key_text.lines().nth(1).expect("a base64 line").to_owned();
    for (cert, key, expected) in [
        (p(&cert), p(&other.1), "is not the key of the certificate"),
        (p(&garbage), p(&key), "holds no PEM certificate"),
        (p(&cert), p(&garbage), "holds no PEM private key"),
        (p(&cert), p(&work.join("missing.key")), "cannot read it"),
        (p(&work.join("missing.pem")), p(&key), "cannot read it"),
        // A key where the certificate belongs.
        (p(&key), p(&key), "holds no PEM certificate"),
    ] {
        let listen = format!("127.0.0.1:{}", free_port());
        let out = run_tokend(
            &["--db", &p(&db), "serve", "--listen", &listen],
            None,
            &[
                ("TOKEND_TLS_CERT", &cert),
                ("TOKEND_TLS_KEY", &key),
                ("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ],
            work,
        );
        assert_ne!(out.code, Some(0), "{cert} {key}: {out:?}");
        assert!(out.stderr.contains(expected), "{expected}: {out:?}");
        assert!(!out.stderr.contains(&key_body), "the key quoted: {out:?}");
        assert!(!db.exists(), "a refused first start made the database");
    }
    // Both or neither.
    let out = run_tokend(
        &["--db", &p(&db), "serve", "--tls-cert", &p(&cert)],
        None,
        &[],
        work,
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--tls-key"), "{out:?}");
    // An http issuer while serving TLS.
    let out = run_tokend(
        &[
            "--db",
            &p(&db),
            "serve",
            "--tls-cert",
            &p(&cert),
            "--tls-key",
            &p(&key),
        ],
        None,
        &[("TOKEND_ISSUER", "http://tokend.example.org")],
        work,
    );
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("not an https URL"), "{out:?}");
}

#[test]
fn self_signed_never_overwrites_and_keeps_the_key_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let (cert, key) = (dir.path.join("c.pem"), dir.path.join("k.pem"));
    let args = |cert: &Path, key: &Path| {
        vec![
            "tls".to_owned(),
            "self-signed".to_owned(),
            "--host".to_owned(),
            "tokend.lab.example".to_owned(),
            "--host".to_owned(),
            "192.0.2.10".to_owned(),
            "--days".to_owned(),
            "30".to_owned(),
            "--cert".to_owned(),
            cert.to_string_lossy().into_owned(),
            "--key".to_owned(),
            key.to_string_lossy().into_owned(),
        ]
    };
    let made = args(&cert, &key);
    let made: Vec<&str> = made.iter().map(String::as_str).collect();
    let out = run_tokend(&made, None, &[], &dir.path).ok("self-signed");
    let mode = std::fs::metadata(&key)
        .expect("the key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key mode {mode:o}");
    // The fingerprint printed is the certificate's.
    let printed = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SHA-256 fingerprint "))
        .expect("a fingerprint line");
    assert_eq!(printed, file_fingerprint(&cert));
    let (ok, text, err) = run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-text",
            "-in",
            cert.to_str().expect("path"),
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(text.contains("DNS:tokend.lab.example"), "{text}");
    assert!(text.contains("IP Address:192.0.2.10"), "{text}");
    assert!(text.contains("prime256v1"), "{text}");
    assert!(text.contains("CA:FALSE"), "{text}");

    // Existing files are never replaced, the key neither.
    let key_before = std::fs::read(&key).expect("read");
    let cert_before = std::fs::read(&cert).expect("read");
    let fresh_cert = dir.path.join("fresh.pem");
    for (c, k) in [(&cert, &key), (&fresh_cert, &key)] {
        let again = args(c, k);
        let again: Vec<&str> = again.iter().map(String::as_str).collect();
        let out = run_tokend(&again, None, &[], &dir.path);
        assert_ne!(out.code, Some(0), "{out:?}");
        assert!(out.stderr.contains("never overwritten"), "{out:?}");
    }
    assert_eq!(std::fs::read(&key).expect("read"), key_before);
    assert_eq!(std::fs::read(&cert).expect("read"), cert_before);
    assert!(!fresh_cert.exists(), "a refused run left a file behind");
}

/// The first bytes of a real ClientHello, as rustls writes it.
fn half_a_client_hello() -> Vec<u8> {
    let roots = rustls::RootCertStore::empty();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).expect("a client");
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("a ClientHello");
    hello.truncate(hello.len() / 2);
    hello
}

/// True once the server has closed `stream` (EOF or reset), polling up
/// to `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn stalled_handshakes_hold_up_no_one_and_end_at_the_deadline() {
    let srv = TestServer::config()
        .tls()
        .arg("--header-timeout")
        .arg("2s")
        .start();
    let addr = srv.addr().to_owned();
    let hello = half_a_client_hello();
    let mut stalled = Vec::new();
    for n in 0..60 {
        let mut stream = connect(&addr, Duration::from_secs(10)).expect("connect");
        if n % 2 == 1 {
            stream.write_all(&hello).expect("half a hello");
        }
        stalled.push(stream);
    }
    let opened = Instant::now();
    // Others are served meanwhile, at once.
    for _ in 0..5 {
        let started = Instant::now();
        srv.api()
            .get("/health", &[])
            .assert_status(200, "beside stalled handshakes");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    // Every stalled client is closed at the deadline (2 s), not long after.
    for stream in &mut stalled {
        let left = Duration::from_secs(5).saturating_sub(opened.elapsed());
        assert!(
            closed_within(stream, left),
            "a stalled handshake was still open"
        );
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(1500),
        "closed before the deadline: {:?}",
        opened.elapsed()
    );
}

#[test]
fn stalled_handshakes_count_against_the_cap_and_are_evicted_first() {
    let srv = TestServer::config()
        .tls()
        .arg("--max-connections")
        .arg("16")
        .arg("--header-timeout")
        .arg("30s")
        .start();
    let addr = srv.addr().to_owned();
    // A client served and kept alive, then a flood of stalled handshakes
    // three times the cap.
    let tls = tls_client(&srv.tls_cert());
    let mut kept = connect_tls(&addr, &tls, Duration::from_secs(10)).expect("connect");
    assert_eq!(keep_alive_get(&mut kept, &addr, "/health"), 200);
    let mut flood = Vec::new();
    for _ in 0..48 {
        flood.push(connect(&addr, Duration::from_secs(10)).expect("connect"));
    }
    // The earliest of the flood were evicted to make room, long before the
    // 30 s deadline: handshakes hold slots under the cap.
    assert!(
        closed_within(&mut flood[0], Duration::from_secs(5)),
        "a stalled handshake outlived the cap"
    );
    // Newcomers are served, one after another, while the flood stands.
    for _ in 0..5 {
        srv.api()
            .get("/health", &[])
            .assert_status(200, "under a flood");
    }
    // The connection served before the flood was not the one evicted.
    assert_eq!(keep_alive_get(&mut kept, &addr, "/health"), 200);
}

#[test]
fn the_console_cookie_is_secure_over_tls() {
    let srv = TestServer::config().tls().start();
    let body = format!(
        "org=System&user=administrator&password={}&next=",
        form_encode(ADMIN_PASSWORD)
    );
    let answer = srv
        .api()
        .post("/console/login", &[("Content-Type", FORM)], body.as_bytes());
    answer.assert_status(303, "console login over TLS");
    let cookie = answer.header("Set-Cookie").expect("a session cookie");
    assert!(cookie.starts_with("__Host-"), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(
        answer.header("Strict-Transport-Security"),
        Some("max-age=31536000")
    );
}

#[test]
fn sighup_without_tls_changes_nothing() {
    // systemctl reload sends SIGHUP whether or not TLS is on: the default
    // action would end the process.
    let mut srv = TestServer::start();
    let mark = srv.log_len();
    send_signal(srv.pid(), "HUP");
    assert!(
        srv.wait_for_log("no TLS certificate to reload", Duration::from_secs(5)),
        "{}",
        srv.log_since(mark)
    );
    assert!(srv.is_running());
    srv.api()
        .get("/health", &[])
        .assert_status(200, "after SIGHUP");
}
