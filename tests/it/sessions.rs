//! Login sessions: `POST /cloudapi/1.0.0/sessions` (tenant users) and
//! `/cloudapi/1.0.0/sessions/provider` (System users) with HTTP Basic
//! `user@org:password`; the response header and body; identical 401 answers
//! for wrong password, unknown user, unknown org and missing credentials;
//! each endpoint refusing the other kind of user; malformed Basic headers
//! (400); the lock on a name after repeated failed logins (429); and logout
//! via `DELETE /cloudapi/1.0.0/sessions/current`, which ends exactly that
//! session and is refused for token-derived access.

use crate::common::*;

#[test]
fn tenant_login_returns_access_token_header_and_session_body() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);

    let r = srv.login_response(&alice, USER_PASSWORD, false);
    r.assert_status(200, "tenant login");
    let body = r.assert_json("tenant login");
    let jwt = r
        .header("X-VMWARE-VCLOUD-ACCESS-TOKEN")
        .expect("X-VMWARE-VCLOUD-ACCESS-TOKEN header")
        .to_owned();
    assert_eq!(
        jwt.split('.').count(),
        3,
        "header holds a compact JWT: {jwt}"
    );

    assert!(is_uuid(s(&body, "id")), "session id is a UUID: {body}");
    assert!(is_uuid(s(&body["user"], "id")), "user.id is a UUID: {body}");
    let uname = s(&body["user"], "name");
    assert!(
        uname == "alice" || uname == "alice@acme",
        "user.name: {body}"
    );
    assert!(is_uuid(s(&body["org"], "id")), "org.id is a UUID: {body}");
    assert_eq!(s(&body["org"], "name"), "acme", "{body}");
    assert_eq!(
        body["roles"],
        serde_json::json!([ROLE_TOKEN_USER]),
        "{body}"
    );
    let exp = parse_rfc3339(s(&body, "expires_at"));
    assert!(exp > now_secs(), "session expires in the future: {body}");

    // The JWT belongs to this session and works.
    let (_, claims) = jwt_parts(&jwt);
    assert_eq!(
        claims["sid"], body["id"],
        "sid claim is the session id: {claims}"
    );
    assert!(
        claims.get("rt").is_none_or(|v| v.is_null()),
        "no rt on a login token: {claims}"
    );
    let info = srv.session_info(&jwt);
    info.assert_status(200, "/api/session with the session token");
    let info = info.json();
    assert_eq!(info["session_id"], body["id"], "{info}");
    assert!(info["api_token_id"].is_null(), "{info}");
    assert_eq!(info["user"]["id"], body["user"]["id"], "{info}");
}

#[test]
fn provider_login_for_system_administrator() {
    let srv = TestServer::start();
    let r = srv.login_response(ADMIN, ADMIN_PASSWORD, true);
    r.assert_status(200, "provider login");
    let body = r.assert_json("provider login");
    assert!(
        r.header("X-VMWARE-VCLOUD-ACCESS-TOKEN").is_some(),
        "{}",
        r.describe()
    );
    assert_eq!(s(&body["org"], "name"), "System", "{body}");
    let roles: Vec<&str> = body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(roles.contains(&ROLE_SYSADMIN), "{body}");
    assert!(is_uuid(s(&body, "id")), "{body}");
}

#[test]
fn bad_credentials_get_identical_401_answers() {
    let srv = TestServer::start();
    srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);

    let cases: Vec<(&str, Response)> = vec![
        (
            "wrong password",
            srv.login_response("alice@acme", "wrong-password-123", false),
        ),
        (
            "unknown user",
            srv.login_response("mallory@acme", USER_PASSWORD, false),
        ),
        (
            "unknown org",
            srv.login_response("alice@nowhere", USER_PASSWORD, false),
        ),
        ("missing Authorization", srv.post(SESSIONS, &[], b"")),
        (
            "provider: wrong password",
            srv.login_response(ADMIN, "wrong-password-123", true),
        ),
        (
            "provider: unknown user",
            srv.login_response("root@System", ADMIN_PASSWORD, true),
        ),
        (
            "provider: missing Authorization",
            srv.post(PROVIDER_SESSIONS, &[], b""),
        ),
    ];
    let reference = cases[0].1.body.clone();
    for (what, r) in &cases {
        let v = r.assert_error(401, "unauthorized", what);
        assert_eq!(
            v["message"],
            "invalid credentials",
            "{what}: {}",
            r.describe()
        );
        assert_eq!(
            r.body, reference,
            "{what}: body must be identical to the wrong-password body"
        );
        let wa = r.header("WWW-Authenticate").unwrap_or("");
        assert!(
            wa.starts_with("Basic") && wa.contains("realm=\"tokend\""),
            "{what}: WWW-Authenticate: {}",
            r.describe()
        );
        assert!(
            r.header("X-VMWARE-VCLOUD-ACCESS-TOKEN").is_none(),
            "{what}: no token on failure"
        );
    }
}

#[test]
fn each_login_endpoint_refuses_the_other_kind_of_user() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_ORG_ADMIN], true);

    let r = srv.login_response(&alice, USER_PASSWORD, true);
    r.assert_error(401, "unauthorized", "tenant user at the provider endpoint");
    assert!(
        r.header("X-VMWARE-VCLOUD-ACCESS-TOKEN").is_none(),
        "{}",
        r.describe()
    );

    let r = srv.login_response(ADMIN, ADMIN_PASSWORD, false);
    r.assert_error(401, "unauthorized", "System user at the tenant endpoint");
    assert!(
        r.header("X-VMWARE-VCLOUD-ACCESS-TOKEN").is_none(),
        "{}",
        r.describe()
    );

    // Positive controls: the same credentials work at the right endpoint.
    srv.login(&alice, USER_PASSWORD, false);
    srv.login(ADMIN, ADMIN_PASSWORD, true);
}

#[test]
fn malformed_basic_headers_are_400() {
    let srv = TestServer::start();
    let cases: Vec<(&str, String)> = vec![
        ("not base64", "Basic !!!not*base64!!!".to_owned()),
        ("not UTF-8", basic_raw(b"\xff\xfe@acme:\xc3\x28password")),
        ("no colon", basic_raw(b"alice@acme")),
        ("no @", basic_raw(b"alice:password123")),
    ];
    for (what, h) in &cases {
        for path in [SESSIONS, PROVIDER_SESSIONS] {
            let r = srv.post(path, &[("Authorization", h)], b"");
            r.assert_error(400, "invalid_request", &format!("{what} at {path}"));
        }
    }
}

#[test]
fn logout_ends_only_that_session() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let s1 = srv.user_login(&alice);
    let s2 = srv.user_login(&alice);
    srv.session_info(&s1).assert_status(200, "s1 before logout");

    let h = bearer(&s1);
    let r = srv.delete(CURRENT_SESSION, &[("Authorization", &h)]);
    r.assert_status(204, "logout with Bearer");
    assert!(r.body.is_empty(), "204 has no body: {}", r.describe());

    for path in ["/api/session", "/api/org", "/api/tokens"] {
        srv.get_bearer(path, &s1)
            .assert_bearer_401(&format!("logged-out token (Bearer) at {path}"));
        srv.get_csp(path, &s1)
            .assert_bearer_401(&format!("logged-out token (csp) at {path}"));
    }
    srv.create_token_raw(&s1, r#"{"name":"after logout"}"#)
        .assert_bearer_401("create token with a logged-out token");
    srv.delete(CURRENT_SESSION, &[("Authorization", &h)])
        .assert_bearer_401("second logout with the same token");

    // The other session is untouched.
    srv.session_info(&s2)
        .assert_status(200, "other session still works");

    // Logout with csp-auth-token works too.
    let r = srv.delete(CURRENT_SESSION, &[("csp-auth-token", &s2)]);
    r.assert_status(204, "logout with csp-auth-token");
    srv.session_info(&s2).assert_bearer_401("s2 after logout");
}

#[test]
fn logout_with_token_derived_access_is_forbidden() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let sess = srv.user_login(&alice);
    let (_, secret) = srv.create_token(&sess, "ci", Some("30m"));
    let access = srv.access_token(&secret);

    let h = bearer(&access);
    srv.delete(CURRENT_SESSION, &[("Authorization", &h)])
        .assert_error(
            403,
            "forbidden",
            "logout with token-derived access (Bearer)",
        );
    srv.delete(CURRENT_SESSION, &[("csp-auth-token", &access)])
        .assert_error(403, "forbidden", "logout with token-derived access (csp)");
    srv.session_info(&access)
        .assert_status(200, "derived access still valid");
    srv.session_info(&sess)
        .assert_status(200, "session still valid");
}

#[test]
fn logout_without_a_token_is_401() {
    let srv = TestServer::start();
    srv.delete(CURRENT_SESSION, &[])
        .assert_bearer_401("logout without token");
    srv.delete(CURRENT_SESSION, &[("Authorization", "Bearer not-a-jwt")])
        .assert_bearer_401("logout with garbage token");
}

#[test]
fn repeated_failed_logins_lock_that_name_only() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let bob = srv.tenant_user("acme", "bob", &[ROLE_TOKEN_USER], false);

    for attempt in 1..=5 {
        srv.login_response(&alice, "wrong-password", false)
            .assert_error(401, "unauthorized", &format!("wrong password #{attempt}"));
    }
    // Locked now: even the right password is refused, without saying whether it was right.
    let r = srv.login_response(&alice, USER_PASSWORD, false);
    r.assert_error(429, "too_many_requests", "locked name, right password");
    let retry: i64 = r
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in seconds: {}", r.describe()));
    assert!((1..=60).contains(&retry), "{}", r.describe());
    // Case does not get around the lock.
    srv.login_response("ALICE@acme", USER_PASSWORD, false)
        .assert_error(429, "too_many_requests", "same name, other case");

    // Another user of the same org is not affected.
    srv.user_login(&bob);

    // A name that does not exist locks the same way: the lock reveals nothing.
    for _ in 1..=5 {
        srv.login_response("ghost@acme", "wrong-password", false)
            .assert_error(401, "unauthorized", "unknown user");
    }
    srv.login_response("ghost@acme", "wrong-password", false)
        .assert_error(429, "too_many_requests", "unknown name locked too");
}

#[test]
fn a_successful_login_clears_earlier_failures() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    for _ in 0..4 {
        srv.login_response(&alice, "wrong-password", false)
            .assert_status(401, "wrong password");
    }
    srv.user_login(&alice);
    for _ in 0..4 {
        srv.login_response(&alice, "wrong-password", false)
            .assert_status(401, "wrong password after a success");
    }
    srv.user_login(&alice);
}
