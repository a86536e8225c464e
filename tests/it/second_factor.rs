//! A second factor for password logins (RFC 6238 TOTP): enrolment at
//! `/api/users/me/2fa`, the code in `X-Tokend-OTP` at every password
//! login, recovery codes, the admin's reset (API and CLI), and the org
//! policy that requires it, with the session that may only enrol. Codes
//! are computed by pyotp from the `otpauth://` URI tokend hands out, so an
//! authenticator app not written here agrees with tokend; the service runs
//! on a clock the test sets, so time steps are exact.

use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

const OTP: &str = "X-Tokend-OTP";
const STATUS: &str = "/api/users/me/2fa";
const CONFIRM: &str = "/api/users/me/2fa/confirm";

/// The code pyotp computes from `uri` for the time `at`.
pub(crate) fn code_at(uri: &str, at: i64) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import pyotp, sys; print(pyotp.parse_uri(sys.argv[1]).at(int(sys.argv[2])))",
            uri,
            &at.to_string(),
        ])
        .output()
        .expect("python3 runs (.ci/run installs pyotp)");
    assert!(
        out.status.success(),
        "pyotp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A tenant login with Basic credentials and, if given, a code.
fn login(api: &Client, user: &str, password: &str, code: Option<&str>) -> Response {
    let authorization = basic(user, password);
    let mut headers = vec![("Authorization", authorization.as_str())];
    if let Some(code) = code {
        headers.push((OTP, code));
    }
    api.post(SESSIONS, &headers, b"")
}

fn access_token(r: &Response, what: &str) -> String {
    r.assert_status(200, what);
    r.header(ACCESS_TOKEN_HEADER)
        .unwrap_or_else(|| panic!("{what}: no access token: {}", r.describe()))
        .to_string()
}

fn error_code(r: &Response, status: u16, what: &str) -> String {
    r.assert_status(status, what);
    r.json()["error"].as_str().unwrap_or_default().to_string()
}

fn call(api: &Client, method: &str, path: &str, jwt: &str, body: Option<Value>) -> Response {
    let authorization = bearer(jwt);
    let mut headers = vec![("Authorization", authorization.as_str())];
    let body = body.map(|b| b.to_string());
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    api.request(method, path, &headers, body.as_deref().map(str::as_bytes))
}

/// Begins an enrolment; the otpauth URI.
fn begin(api: &Client, jwt: &str) -> String {
    let r = call(api, "POST", STATUS, jwt, None);
    r.assert_status(201, "begin enrolment");
    let body = r.json();
    assert_eq!(body["status"], "pending", "{body}");
    body["otpauth_uri"].as_str().expect("a URI").to_string()
}

/// Enrols with the code of `at`; the recovery codes.
fn enrol(service: &InProcess, jwt: &str) -> (String, Vec<String>) {
    let api = service.api();
    let uri = begin(api, jwt);
    let code = code_at(&uri, service.now());
    let r = call(api, "POST", CONFIRM, jwt, Some(json!({ "code": code })));
    r.assert_status(200, "confirm enrolment");
    let codes: Vec<String> =
        serde_json::from_value(r.json()["recovery_codes"].clone()).expect("recovery codes");
    (uri, codes)
}

/// An org `acme` with a Token User `alice`, and the admin's session.
fn acme(service: &InProcess) -> String {
    let api = service.api();
    let admin = api.admin_login().access_token;
    api.create_org(&admin, "acme");
    api.create_user(
        &admin,
        &NewUser::new("alice", "acme").roles(&[ROLE_TOKEN_USER]),
    );
    admin
}

#[test]
fn a_user_enrols_and_then_logs_in_only_with_a_fresh_code() {
    let service = InProcess::start();
    let api = service.api();
    let admin = acme(&service);
    let alice = api.user_login("alice@acme").access_token;

    let r = call(api, "GET", STATUS, &alice, None);
    r.assert_status(200, "status");
    assert_eq!(r.json()["enrolled"], false, "{}", r.text());

    let uri = begin(api, &alice);
    assert!(
        uri.starts_with("otpauth://totp/tokend:alice@acme?secret="),
        "{uri}"
    );
    assert!(uri.contains("&issuer=tokend"), "{uri}");
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("a secret")
        .to_string();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");

    // A wrong code does not enrol.
    let right = code_at(&uri, service.now());
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let r = call(api, "POST", CONFIRM, &alice, Some(json!({ "code": wrong })));
    assert_eq!(error_code(&r, 400, "wrong code"), "invalid_request");
    let r = call(api, "POST", CONFIRM, &alice, Some(json!({ "code": right })));
    r.assert_status(200, "confirm");
    let codes = r.json()["recovery_codes"].clone();
    let codes: Vec<String> = serde_json::from_value(codes).expect("codes");
    assert_eq!(codes.len(), 10, "{codes:?}");
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{codes:?}");
    // Confirmed once: the same secret cannot be enrolled again.
    let r = call(api, "POST", STATUS, &alice, None);
    assert_eq!(error_code(&r, 409, "begin again"), "conflict");

    // The listing says enrolled, and never shows the secret.
    let r = call(api, "GET", "/api/users?name=alice", &admin, None);
    r.assert_status(200, "users");
    assert_eq!(
        r.json()["users"][0]["second_factor_enrolled"],
        true,
        "{}",
        r.text()
    );
    assert_no_secret(&r.body, &secret, "user listing");

    // Without a code: only a right password hears that one is needed.
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(error_code(&r, 401, "no code"), "second_factor_required");
    assert_eq!(r.header(OTP), Some("required"), "{}", r.describe());
    assert!(r.header(ACCESS_TOKEN_HEADER).is_none());
    let next = code_at(&uri, service.now() + 30);
    for (password, code) in [
        ("wrong-Passw0rd-123", None),
        ("wrong-Passw0rd-123", Some(next.as_str())),
    ] {
        let r = login(api, "alice@acme", password, code);
        assert_eq!(error_code(&r, 401, "wrong password"), "unauthorized");
    }

    // The code the enrolment used is spent; the next step's is accepted
    // (a step of skew), once.
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&right));
    assert_eq!(error_code(&r, 401, "replayed"), "invalid_second_factor");
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, Some(&next)),
        "next step",
    );
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&next));
    assert_eq!(
        error_code(&r, 401, "same code again"),
        "invalid_second_factor"
    );

    // Later: an earlier step than the last accepted is refused, a step
    // behind the clock is accepted, two behind are not.
    service.advance(90);
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&right));
    assert_eq!(error_code(&r, 401, "earlier step"), "invalid_second_factor");
    let too_old = code_at(&uri, service.now() - 60);
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&too_old));
    assert_eq!(
        error_code(&r, 401, "two steps behind"),
        "invalid_second_factor"
    );
    let behind = code_at(&uri, service.now() - 30);
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, Some(&behind)),
        "one behind",
    );
    service.advance(30);
    let now = code_at(&uri, service.now());
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, Some(&now)),
        "current",
    );

    // The trail tells what happened, never the secret or a code.
    let events = api.every_event(&admin, "type=user.2fa.enrol");
    assert_eq!(events.len(), 1, "{events:?}");
    let trail = serde_json::to_vec(&api.every_event(&admin, "")).expect("json");
    assert_no_secret(&trail, &secret, "audit trail");
    for code in &codes {
        assert_no_secret(&trail, code, "audit trail");
    }
    api.recorded_events(&admin, "session.second_factor_required", 1);
}

#[test]
fn wrong_codes_count_as_failed_logins_and_lock_the_name() {
    let service = InProcess::start();
    let api = service.api();
    acme(&service);
    let alice = api.user_login("alice@acme").access_token;
    let (uri, _) = enrol(&service, &alice);
    service.advance(30);
    let right = code_at(&uri, service.now());
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };

    for _ in 0..4 {
        let r = login(api, "alice@acme", USER_PASSWORD, Some(wrong));
        assert_eq!(error_code(&r, 401, "wrong code"), "invalid_second_factor");
    }
    // Asking without a code, with the right password, does not start the
    // count afresh.
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(error_code(&r, 401, "no code"), "second_factor_required");
    let r = login(api, "alice@acme", USER_PASSWORD, Some(wrong));
    assert_eq!(
        error_code(&r, 401, "fifth wrong code"),
        "invalid_second_factor"
    );
    // Locked now, even with the right code.
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&right));
    assert_eq!(error_code(&r, 429, "locked"), "too_many_requests");
    service.advance(61);
    let right = code_at(&uri, service.now());
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, Some(&right)),
        "after the lock",
    );
}

#[test]
fn a_recovery_code_works_once_and_a_current_code_turns_the_factor_off() {
    let service = InProcess::start();
    let api = service.api();
    acme(&service);
    let alice = api.user_login("alice@acme").access_token;
    let (uri, codes) = enrol(&service, &alice);

    let recovery = codes[3].to_uppercase();
    let session = access_token(
        &login(api, "alice@acme", USER_PASSWORD, Some(&recovery)),
        "recovery code",
    );
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&codes[3]));
    assert_eq!(error_code(&r, 401, "used twice"), "invalid_second_factor");
    let r = call(api, "GET", STATUS, &session, None);
    assert_eq!(r.json()["recovery_codes_left"], 9, "{}", r.text());

    // Turning it off needs a current code.
    let r = call(api, "DELETE", STATUS, &session, None);
    assert_eq!(error_code(&r, 400, "no code"), "invalid_request");
    let authorization = bearer(&session);
    let r = api.delete(
        STATUS,
        &[("Authorization", &authorization), (OTP, "000000x")],
    );
    assert_eq!(error_code(&r, 401, "wrong code"), "invalid_second_factor");
    service.advance(30);
    let code = code_at(&uri, service.now());
    let r = api.delete(STATUS, &[("Authorization", &authorization), (OTP, &code)]);
    r.assert_status(204, "turned off");
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, None),
        "no code needed",
    );
    // A session derived from an API token cannot enrol.
    let token = api.create_token(&session, "ci", None);
    let derived = api.exchange_tenant("acme", &token.secret).access_token;
    let r = call(api, "POST", STATUS, &derived, None);
    assert_eq!(error_code(&r, 403, "token-derived"), "forbidden");
}

#[test]
fn an_admin_resets_a_users_second_factor_within_its_rights() {
    let service = InProcess::start();
    let api = service.api();
    let admin = acme(&service);
    api.create_org(&admin, "other");
    for (user, org, role) in [
        ("boss", "acme", ROLE_ORG_ADMIN),
        ("bob", "acme", ROLE_TOKEN_USER),
        ("carol", "other", ROLE_ORG_ADMIN),
    ] {
        api.create_user(&admin, &NewUser::new(user, org).roles(&[role]));
    }
    let alice = api.user_login("alice@acme").access_token;
    enrol(&service, &alice);
    let alice_id = api.user_id(&admin, "alice@acme");
    let path = format!("/api/users/{alice_id}/2fa");

    let bob = api.user_login("bob@acme").access_token;
    let r = call(api, "DELETE", &path, &bob, None);
    assert_eq!(error_code(&r, 403, "a plain user"), "forbidden");
    let carol = api.user_login("carol@other").access_token;
    let r = call(api, "DELETE", &path, &carol, None);
    assert_eq!(error_code(&r, 404, "another org's admin"), "not_found");
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(
        error_code(&r, 401, "still enrolled"),
        "second_factor_required"
    );

    let boss = api.user_login("boss@acme").access_token;
    let boss_id = api.user_id(&admin, "boss@acme");
    let r = call(
        api,
        "DELETE",
        &format!("/api/users/{boss_id}/2fa"),
        &boss,
        None,
    );
    assert_eq!(error_code(&r, 400, "one's own"), "invalid_request");
    let r = call(api, "DELETE", &path, &boss, None);
    r.assert_status(200, "reset");
    assert_eq!(r.json()["second_factor_enrolled"], false, "{}", r.text());
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, None),
        "after the reset",
    );
    let r = call(api, "DELETE", &path, &boss, None);
    assert_eq!(error_code(&r, 404, "nothing to reset"), "not_found");
    let events = api.every_event(&admin, "type=user.2fa.reset");
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn a_policy_requiring_a_second_factor_gives_an_unenrolled_user_a_session_that_can_only_enrol() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let acme_id = api.create_org(&admin, "acme").id;
    for (user, role) in [("alice", ROLE_TOKEN_USER), ("boss", ROLE_ORG_ADMIN)] {
        api.create_user(&admin, &NewUser::new(user, "acme").roles(&[role]));
    }
    let policy = format!("/api/org/{acme_id}/token-policy");

    // Admins only: the org admin must enrol, alice need not.
    let r = call(
        api,
        "PUT",
        &policy,
        &admin,
        Some(json!({ "second_factor": "admins" })),
    );
    r.assert_status(200, "policy");
    assert_eq!(
        r.json()["effective"]["second_factor"],
        "admins",
        "{}",
        r.text()
    );
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(
        r.json()["second_factor_enrolment_required"],
        false,
        "{}",
        r.text()
    );
    let r = login(api, "boss@acme", USER_PASSWORD, None);
    assert_eq!(
        r.json()["second_factor_enrolment_required"],
        true,
        "{}",
        r.text()
    );
    let boss = access_token(&r, "enrol-only login");
    let (_, claims) = jwt_parts(&boss);
    assert_eq!(claims["roles"], json!([]), "it grants nothing: {claims}");

    // Everything but enrolling and logging out is refused.
    for (method, path, body) in [
        ("GET", "/api/session", None),
        ("GET", "/api/users", None),
        ("POST", "/api/tokens", Some(json!({ "name": "ci" }))),
        ("DELETE", STATUS, None),
    ] {
        let r = call(api, method, path, &boss, body);
        assert_eq!(
            error_code(&r, 403, path),
            "second_factor_enrolment_required",
            "{method} {path}"
        );
    }
    let r = call(api, "GET", STATUS, &boss, None);
    r.assert_status(200, "status");
    assert_eq!(r.json()["required"], true, "{}", r.text());
    let spare = access_token(&login(api, "boss@acme", USER_PASSWORD, None), "spare");
    api.logout(&spare);

    // Enrolled, the same session does what the user may, and cannot
    // turn the factor off while the policy requires it.
    let (uri, _) = enrol(&service, &boss);
    call(api, "GET", "/api/session", &boss, None).assert_status(200, "after enrolling");
    call(
        api,
        "POST",
        "/api/tokens",
        &boss,
        Some(json!({ "name": "ci" })),
    )
    .assert_status(201, "a token after enrolling");
    service.advance(30);
    let code = code_at(&uri, service.now());
    let authorization = bearer(&boss);
    let r = api.delete(STATUS, &[("Authorization", &authorization), (OTP, &code)]);
    assert_eq!(error_code(&r, 403, "required"), "forbidden");

    // Everyone: alice too; an org cannot loosen the provider's default.
    let r = call(
        api,
        "PUT",
        &policy,
        &admin,
        Some(json!({ "second_factor": "everyone" })),
    );
    r.assert_status(200, "everyone");
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(
        r.json()["second_factor_enrolment_required"],
        true,
        "{}",
        r.text()
    );
    let r = call(
        api,
        "PUT",
        "/api/token-policy",
        &admin,
        Some(json!({ "second_factor": "admins" })),
    );
    r.assert_status(200, "default");
    let r = call(
        api,
        "PUT",
        &policy,
        &admin,
        Some(json!({ "second_factor": "nobody" })),
    );
    assert_eq!(
        error_code(&r, 400, "looser than the default"),
        "invalid_request"
    );
    let r = call(
        api,
        "PUT",
        &policy,
        &admin,
        Some(json!({ "second_factor": "some" })),
    );
    assert_eq!(error_code(&r, 400, "unknown rule"), "invalid_request");
}

#[test]
fn the_cli_resets_a_second_factor_and_shows_who_has_one() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let alice = api.user_login("alice@acme").access_token;
    let uri = begin(api, &alice);
    let code = code_at(&uri, now_secs());
    call(api, "POST", CONFIRM, &alice, Some(json!({ "code": code }))).assert_status(200, "confirm");

    let shown = srv
        .cli()
        .run(&["user", "show", "alice@acme"], None)
        .ok("show");
    assert!(shown.stdout.contains("enrolled"), "{}", shown.stdout);
    let r = login(api, "alice@acme", USER_PASSWORD, None);
    assert_eq!(error_code(&r, 401, "no code"), "second_factor_required");

    srv.cli()
        .run(&["user", "reset-2fa", "alice@acme"], None)
        .ok("reset-2fa");
    let shown = srv
        .cli()
        .run(&["user", "show", "alice@acme", "--output", "json"], None)
        .ok("show");
    let user: Value = serde_json::from_str(&shown.stdout).expect("json");
    assert_eq!(user["second_factor_enrolled"], false, "{user}");
    access_token(
        &login(api, "alice@acme", USER_PASSWORD, None),
        "after the reset",
    );
    srv.cli()
        .run(&["user", "reset-2fa", "alice@acme"], None)
        .code_is(1, "nothing to reset");
}

/// Seconds since the epoch now: a real server runs on the real clock.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The stored form of the one second factor in the database at `db`.
fn stored_secret(db: &std::path::Path) -> Vec<u8> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens read-only");
    conn.query_row("SELECT secret FROM second_factors", [], |r| r.get(0))
        .expect("one second factor")
}

/// The secret is sealed under the key file, as the signing keys are: the
/// database alone holds no code generator, and `tokend key reseal` carries
/// the secret to the new key file with the keys. A server still on the
/// old key file answers 503 for it until restarted on the new one.
#[test]
fn the_secret_is_sealed_under_the_key_file_and_resealed_with_the_signing_keys() {
    let cfg = TestServer::config();
    let mut srv = cfg.clone().start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    api.create_org(&admin, "acme");
    api.create_user(
        &admin,
        &NewUser::new("alice", "acme").roles(&[ROLE_TOKEN_USER]),
    );
    let alice = api.user_login("alice@acme").access_token;
    let uri = begin(api, &alice);
    let code = code_at(&uri, unix_now());
    call(api, "POST", CONFIRM, &alice, Some(json!({ "code": code })))
        .assert_status(200, "confirm enrolment");

    let base32 = uri
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("a secret");
    let secret = Command::new("python3")
        .args([
            "-c",
            "import base64, sys; print(base64.b32decode(sys.argv[1]).hex())",
            base32,
        ])
        .output()
        .expect("python3 runs");
    let secret = String::from_utf8(secret.stdout).expect("hex");
    let secret: Vec<u8> = (0..secret.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&secret[i..i + 2], 16).expect("hex"))
        .collect();
    assert_eq!(secret.len(), 20, "160 bits");
    let sealed = stored_secret(srv.db());
    assert!(sealed.starts_with(b"TKS1"), "sealed: {sealed:?}");
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret),
        "the secret itself is not in the database"
    );

    let new_key = srv.dir().join("next.key");
    let new_file = new_key.to_str().expect("utf-8 path");
    let resealed = srv
        .cli()
        .run(&["key", "reseal", "--new-key-file", new_file], None)
        .ok("key reseal");
    assert!(
        resealed.stderr.contains("and 1 second-factor secrets"),
        "{resealed:#?}"
    );
    let resealed_secret = stored_secret(srv.db());
    assert!(resealed_secret.starts_with(b"TKS1"));
    assert_ne!(
        sealed[4..12],
        resealed_secret[4..12],
        "sealed under the new key-encryption key"
    );

    // The running server holds the old key-encryption key only.
    let code = code_at(&uri, unix_now() + 30);
    let r = login(api, "alice@acme", USER_PASSWORD, Some(&code));
    r.assert_status(503, "a code while the server holds the old key file");
    assert_eq!(r.json()["error"], "unavailable", "{}", r.text());
    assert!(
        srv.wait_for_log(
            "restart it with the new key file",
            std::time::Duration::from_secs(10)
        ),
        "the log tells the admin why: {}",
        srv.log()
    );

    srv.stop();
    srv.set_config(cfg.env("TOKEND_KEY_FILE", new_file));
    srv.restart();
    let code = code_at(&uri, unix_now() + 30);
    let r = srv.api().post(
        SESSIONS,
        &[
            ("Authorization", &basic("alice@acme", USER_PASSWORD)),
            (OTP, &code),
        ],
        b"",
    );
    access_token(&r, "a code after the restart on the new key file");
}
