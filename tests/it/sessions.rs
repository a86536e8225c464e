//! Login sessions: `POST /cloudapi/1.0.0/sessions` (tenant users) and
//! `/cloudapi/1.0.0/sessions/provider` (System users) with HTTP Basic
//! `user@org:password`; the response header and body; identical 401 answers
//! for wrong password, unknown user, unknown org and missing credentials;
//! each endpoint refusing the other kind of user; malformed Basic headers
//! (400); the lock on a name after repeated failed logins (429); and logout
//! via `DELETE /cloudapi/1.0.0/sessions/current`, which ends exactly that
//! session and is refused for token-derived access.

use crate::support::*;

#[test]
fn tenant_login_returns_access_token_header_and_session_body() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);

    let r = api.try_login("alice@acme", USER_PASSWORD);
    // Asserts the 200 and that the header holds a compact JWT.
    let session = Session::from_response(&r, "tenant login");
    r.assert_json("tenant login");

    assert!(is_uuid(&session.id), "session id is a UUID: {session:?}");
    assert!(is_uuid(&session.user.id), "user.id is a UUID: {session:?}");
    assert_eq!(session.user.name, "alice", "user.name: {session:?}");
    assert!(is_uuid(&session.org.id), "org.id is a UUID: {session:?}");
    assert_eq!(session.org.name, "acme", "{session:?}");
    assert_eq!(session.roles, [ROLE_TOKEN_USER], "{session:?}");
    let exp = parse_rfc3339(&session.expires_at);
    assert!(
        exp > now_secs(),
        "session expires in the future: {session:?}"
    );

    // The JWT belongs to this session and works.
    let (_, claims) = jwt_parts(&session.access_token);
    assert_eq!(
        claims["sid"],
        session.id.as_str(),
        "sid claim is the session id: {claims}"
    );
    assert!(
        claims.get("rt").is_none(),
        "no rt on a login token: {claims}"
    );
    let info = api.session_info(&session.access_token);
    assert_eq!(info.session_id, Some(session.id), "{info:?}");
    assert_eq!(info.api_token_id, None, "{info:?}");
    assert_eq!(info.user.id, session.user.id, "{info:?}");
}

#[test]
fn provider_login_for_system_administrator() {
    let srv = TestServer::start();
    let r = srv.api().try_provider_login(ADMIN, ADMIN_PASSWORD);
    let session = Session::from_response(&r, "provider login");
    r.assert_json("provider login");
    assert_eq!(session.org.name, "System", "{session:?}");
    assert!(
        session.roles.iter().any(|r| r == ROLE_SYSADMIN),
        "{session:?}"
    );
    assert!(is_uuid(&session.id), "{session:?}");
}

#[test]
fn bad_credentials_get_identical_401_answers() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);

    let cases: Vec<(&str, Response)> = vec![
        (
            "wrong password",
            api.try_login("alice@acme", "wrong-password-123"),
        ),
        ("unknown user", api.try_login("mallory@acme", USER_PASSWORD)),
        ("unknown org", api.try_login("alice@nowhere", USER_PASSWORD)),
        ("missing Authorization", api.post(SESSIONS, &[], b"")),
        (
            "provider: wrong password",
            api.try_provider_login(ADMIN, "wrong-password-123"),
        ),
        (
            "provider: unknown user",
            api.try_provider_login("root@System", ADMIN_PASSWORD),
        ),
        (
            "provider: missing Authorization",
            api.post(PROVIDER_SESSIONS, &[], b""),
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
            r.header(ACCESS_TOKEN_HEADER).is_none(),
            "{what}: no token on failure"
        );
    }
}

#[test]
fn each_login_endpoint_refuses_the_other_kind_of_user() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_ORG_ADMIN]);

    let r = api.try_provider_login("alice@acme", USER_PASSWORD);
    r.assert_error(401, "unauthorized", "tenant user at the provider endpoint");
    assert!(r.header(ACCESS_TOKEN_HEADER).is_none(), "{}", r.describe());

    let r = api.try_login(ADMIN, ADMIN_PASSWORD);
    r.assert_error(401, "unauthorized", "System user at the tenant endpoint");
    assert!(r.header(ACCESS_TOKEN_HEADER).is_none(), "{}", r.describe());

    // Positive controls: the same credentials work at the right endpoint.
    api.login("alice@acme", USER_PASSWORD);
    api.provider_login(ADMIN, ADMIN_PASSWORD);
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
            let r = srv.api().post(path, &[("Authorization", h)], b"");
            r.assert_error(400, "invalid_request", &format!("{what} at {path}"));
        }
    }
}

#[test]
fn logout_ends_only_that_session() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let s1 = api.user_login("alice@acme").access_token;
    let s2 = api.user_login("alice@acme").access_token;
    api.try_session_info(&s1)
        .assert_status(200, "s1 before logout");

    let r = api.try_logout(&s1);
    r.assert_status(204, "logout with Bearer");
    assert!(r.body.is_empty(), "204 has no body: {}", r.describe());

    for path in ["/api/session", "/api/org", "/api/tokens"] {
        api.get_bearer(path, &s1)
            .assert_bearer_401(&format!("logged-out token (Bearer) at {path}"));
        api.get_csp(path, &s1)
            .assert_bearer_401(&format!("logged-out token (csp) at {path}"));
    }
    api.try_create_token(&s1, r#"{"name":"after logout"}"#)
        .assert_bearer_401("create token with a logged-out token");
    api.try_logout(&s1)
        .assert_bearer_401("second logout with the same token");

    // The other session is untouched.
    api.try_session_info(&s2)
        .assert_status(200, "other session still works");

    // Logout with csp-auth-token works too.
    let r = api.delete(CURRENT_SESSION, &[("csp-auth-token", &s2)]);
    r.assert_status(204, "logout with csp-auth-token");
    api.try_session_info(&s2)
        .assert_bearer_401("s2 after logout");
}

#[test]
fn logout_with_token_derived_access_is_forbidden() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let sess = api.user_login("alice@acme").access_token;
    let token = api.create_token(&sess, "ci", Some("30m"));
    let access = api.exchange_authorize(&token.secret).access_token;

    api.try_logout(&access).assert_error(
        403,
        "forbidden",
        "logout with token-derived access (Bearer)",
    );
    api.delete(CURRENT_SESSION, &[("csp-auth-token", &access)])
        .assert_error(403, "forbidden", "logout with token-derived access (csp)");
    api.try_session_info(&access)
        .assert_status(200, "derived access still valid");
    api.try_session_info(&sess)
        .assert_status(200, "session still valid");
}

#[test]
fn logout_without_a_token_is_401() {
    let srv = TestServer::start();
    let api = srv.api();
    api.delete(CURRENT_SESSION, &[])
        .assert_bearer_401("logout without token");
    api.delete(CURRENT_SESSION, &[("Authorization", "Bearer not-a-jwt")])
        .assert_bearer_401("logout with garbage token");
}

#[test]
fn repeated_failed_logins_lock_that_name_only() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("bob@acme", &[ROLE_TOKEN_USER]);

    for attempt in 1..=5 {
        api.try_login("alice@acme", "wrong-password").assert_error(
            401,
            "unauthorized",
            &format!("wrong password #{attempt}"),
        );
    }
    // Locked now: even the right password is refused, without saying whether it was right.
    let r = api.try_login("alice@acme", USER_PASSWORD);
    r.assert_error(429, "too_many_requests", "locked name, right password");
    let retry: i64 = r
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After in seconds: {}", r.describe()));
    // The first lock is a minute, counted from the fifth failure just now.
    assert!((55..=60).contains(&retry), "{}", r.describe());
    // Case does not get around the lock.
    api.try_login("ALICE@acme", USER_PASSWORD).assert_error(
        429,
        "too_many_requests",
        "same name, other case",
    );

    // Another user of the same org is not affected.
    api.user_login("bob@acme");

    // A name that does not exist locks the same way: the lock reveals nothing.
    for _ in 1..=5 {
        api.try_login("ghost@acme", "wrong-password").assert_error(
            401,
            "unauthorized",
            "unknown user",
        );
    }
    api.try_login("ghost@acme", "wrong-password").assert_error(
        429,
        "too_many_requests",
        "unknown name locked too",
    );
}

#[test]
fn a_successful_login_clears_earlier_failures() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    for _ in 0..4 {
        api.try_login("alice@acme", "wrong-password")
            .assert_status(401, "wrong password");
    }
    api.user_login("alice@acme");
    for _ in 0..4 {
        api.try_login("alice@acme", "wrong-password")
            .assert_status(401, "wrong password after a success");
    }
    api.user_login("alice@acme");
}
