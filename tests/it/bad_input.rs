//! Bad input anywhere: bodies over 64 KiB are 413 (a large Content-Length
//! is refused promptly without the body being sent; chunked bodies are cut
//! off at the limit), exactly 64 KiB is accepted; non-UTF-8 form and JSON
//! bodies are 400; unknown paths are 404 JSON; known paths with the wrong
//! method are 405 JSON with an `Allow` header; garbage on the wire never
//! yields a 5xx or kills the server; and no rejected request changes state.

use std::time::{Duration, Instant};

use crate::support::*;

type Headers<'a> = Vec<(&'a str, &'a str)>;

/// Org `acme` with Token User alice; returns her login access token.
fn tenant(srv: &TestServer) -> String {
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.api().user_login("alice@acme").access_token
}

fn sorted_names(api: &Client, jwt: &str) -> Vec<String> {
    let mut names: Vec<String> = api.list_tokens(jwt).into_iter().map(|t| t.name).collect();
    names.sort();
    names
}

/// JSON body `{"name":..}` padded with spaces to exactly `len` bytes.
fn padded_json(name: &str, len: usize) -> Vec<u8> {
    let mut b = format!(r#"{{"name":"{name}","ttl":"30m"}}"#).into_bytes();
    assert!(b.len() <= len);
    b.resize(len, b' ');
    b
}

fn headers_only(
    srv: &TestServer,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    len: usize,
) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        srv.addr()
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {len}\r\n\r\n"));
    req.into_bytes()
}

fn chunked_request(srv: &TestServer, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n",
        srv.addr()
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&chunked(body, 4096));
    bytes
}

#[test]
fn large_content_length_is_413_before_the_body_arrives() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = tenant(&srv);
    let auth = bearer(&jwt);
    let tenant_path = tenant_token_path("acme");
    let cases: Vec<(&str, Headers, bool)> = vec![
        (
            "/api/tokens",
            vec![
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            false,
        ),
        (AUTHORIZE, vec![("Content-Type", FORM)], true),
        (PROVIDER_TOKEN, vec![("Content-Type", FORM)], true),
        (&tenant_path, vec![("Content-Type", FORM)], true),
        (
            SESSIONS,
            vec![("Authorization", "Basic YWxpY2VAYWNtZTp4eHh4eHh4eA==")],
            false,
        ),
    ];
    for (path, hdrs, oauth) in &cases {
        for len in [70000usize, BODY_LIMIT + 1, 1 << 30] {
            let what = format!("POST {path} with Content-Length {len} and no body");
            let t0 = Instant::now();
            let r = api.raw_timeout(
                &headers_only(&srv, "POST", path, hdrs, len),
                Duration::from_secs(5),
            );
            assert!(
                t0.elapsed() < Duration::from_secs(4),
                "{what}: answered late"
            );
            if *oauth {
                r.assert_status(413, &what);
                r.assert_no_store(&what);
                let v = r.assert_json(&what);
                assert_eq!(
                    v["error"],
                    "invalid_request",
                    "{what}: OAuth error: {}",
                    r.describe()
                );
            } else {
                r.assert_error(413, "payload_too_large", &what);
            }
        }
    }
    assert!(api.list_tokens(&jwt).is_empty(), "nothing created");
}

#[test]
fn body_of_exactly_64_kib_is_accepted_one_more_byte_is_413() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = tenant(&srv);
    let auth = bearer(&jwt);
    let hdrs = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    api.post("/api/tokens", &hdrs, &padded_json("at-limit", BODY_LIMIT))
        .assert_status(201, "65536-byte body");
    api.post(
        "/api/tokens",
        &hdrs,
        &padded_json("over-limit", BODY_LIMIT + 1),
    )
    .assert_error(413, "payload_too_large", "65537-byte body");
    assert_eq!(sorted_names(api, &jwt), ["at-limit"]);
    // The answer names the limit of the route asked: the leak report's is
    // larger.
    let over = api.post(
        "/api/tokens",
        &hdrs,
        &padded_json("over-limit", BODY_LIMIT + 1),
    );
    assert!(
        over.text().contains("exceeds 65536 bytes"),
        "{}",
        over.text()
    );
    let leak = api.post(
        "/api/tokens/leaked",
        &[("Content-Type", "application/json")],
        &vec![b' '; 320 * 1024 + 1],
    );
    leak.assert_error(413, "payload_too_large", "a leak report over 320 KiB");
    assert!(
        leak.text().contains("exceeds 327680 bytes"),
        "{}",
        leak.text()
    );
}

#[test]
fn chunked_bodies_are_cut_off_at_the_limit() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = tenant(&srv);
    let existing = api.create_token(&jwt, "existing", Some("30m"));
    let secret = &existing.secret;
    let auth = bearer(&jwt);

    // Under the limit, chunked bodies work.
    let req = chunked_request(
        &srv,
        "/api/tokens",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"chunked-ok","ttl":"30m"}"#,
    );
    api.raw(&req).assert_status(201, "small chunked JSON body");

    // Over the limit: 413, nothing created.
    let req = chunked_request(
        &srv,
        "/api/tokens",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        &padded_json("chunked-big", 70000),
    );
    api.raw_timeout(&req, Duration::from_secs(5)).assert_error(
        413,
        "payload_too_large",
        "70000-byte chunked JSON body",
    );

    let mut form = format!("refresh_token={secret}&pad=").into_bytes();
    form.resize(70000, b'a');
    let req = chunked_request(&srv, AUTHORIZE, &[("Content-Type", FORM)], &form);
    let r = api.raw_timeout(&req, Duration::from_secs(5));
    r.assert_status(413, "70000-byte chunked form body");
    r.assert_no_store("chunked 413 at authorize");

    assert_eq!(sorted_names(api, &jwt), ["chunked-ok", "existing"]);
    let t = api
        .list_tokens(&jwt)
        .into_iter()
        .find(|t| t.id == existing.id)
        .unwrap();
    assert_eq!(
        t.last_used_at, None,
        "refused exchange stamped nothing: {t:?}"
    );

    let req = chunked_request(
        &srv,
        AUTHORIZE,
        &[("Content-Type", FORM)],
        format!("refresh_token={secret}").as_bytes(),
    );
    api.raw(&req).assert_status(200, "small chunked form body");
}

#[test]
fn non_utf8_bodies_are_400() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = tenant(&srv);
    let token = api.create_token(&jwt, "t", Some("30m"));
    let mut raw_form = format!("refresh_token={}&x=", token.secret).into_bytes();
    raw_form.extend_from_slice(b"\xff\xfe\xc3\x28");
    for path in [
        AUTHORIZE.to_owned(),
        tenant_token_path("acme"),
        PROVIDER_TOKEN.to_owned(),
    ] {
        let mut body = if path == AUTHORIZE {
            Vec::new()
        } else {
            b"grant_type=refresh_token&".to_vec()
        };
        body.extend_from_slice(&raw_form);
        api.post(&path, &[("Content-Type", FORM)], &body)
            .assert_oauth_error("invalid_request", &format!("raw non-UTF-8 form at {path}"));
    }
    // Percent-encoded bytes that do not decode to UTF-8.
    api.post_form(AUTHORIZE, "refresh_token=%FF%FE%C3%28")
        .assert_oauth_error("invalid_request", "percent-encoded non-UTF-8");

    let auth = bearer(&jwt);
    let hdrs = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    api.post("/api/tokens", &hdrs, b"{\"name\":\"\xff\xfe\"}")
        .assert_error(400, "invalid_request", "non-UTF-8 JSON");
    api.post("/api/tokens", &hdrs, b"\xef\xbb\xbf\xff")
        .assert_error(400, "invalid_request", "BOM + garbage");

    let list = api.list_tokens(&jwt);
    assert_eq!(list.len(), 1, "nothing created: {list:?}");
    assert!(
        list[0].last_used_at.is_none() && list[0].id == token.id,
        "nothing stamped: {list:?}"
    );
}

#[test]
fn unknown_paths_are_404_json() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let auth = bearer(&admin);
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/api"),
        ("GET", "/api/nope"),
        ("POST", "/api/nope"),
        ("GET", "/api/tokens/a/b"),
        ("POST", "/oauth/tenant/acme/token/extra"),
        ("POST", "/oauth/provider/token/extra"),
        ("GET", "/.well-known/nope"),
        ("GET", "/cloudapi/1.0.0/nope"),
        ("DELETE", "/cloudapi/1.0.0/sessions/other"),
        ("GET", "/../../etc/passwd"),
    ] {
        for hdrs in [vec![], vec![("Authorization", auth.as_str())]] {
            let r = srv.api().request(method, path, &hdrs, None);
            r.assert_error(404, "not_found", &format!("{method} {path}"));
        }
    }
}

#[test]
fn wrong_methods_are_405_with_allow() {
    let srv = TestServer::start();
    let cases: Vec<(&str, String, &str)> = vec![
        ("GET", PROVIDER_TOKEN.to_owned(), "POST"),
        ("GET", tenant_token_path("acme"), "POST"),
        ("PUT", tenant_token_path("acme"), "POST"),
        ("GET", AUTHORIZE.to_owned(), "POST"),
        ("GET", SESSIONS.to_owned(), "POST"),
        ("GET", PROVIDER_SESSIONS.to_owned(), "POST"),
        ("PUT", "/api/tokens".to_owned(), "GET"),
        ("PUT", "/api/tokens".to_owned(), "POST"),
        ("DELETE", "/api/tokens".to_owned(), "POST"),
        ("POST", "/api/session".to_owned(), "GET"),
        ("DELETE", "/api/org".to_owned(), "GET"),
        ("POST", "/health".to_owned(), "GET"),
        ("POST", "/.well-known/jwks.json".to_owned(), "GET"),
        (
            "POST",
            "/.well-known/openid-configuration".to_owned(),
            "GET",
        ),
    ];
    for (method, path, allowed) in &cases {
        let body: Option<&[u8]> = if *method == "GET" { None } else { Some(b"") };
        let r = srv.api().request(method, path, &[], body);
        r.assert_405_allows(allowed, &format!("{method} {path}"));
    }
    let r = srv.api().get(PROVIDER_TOKEN, &[]);
    assert!(
        !r.header_all("Allow").join(",").contains("GET"),
        "GET is not allowed: {}",
        r.describe()
    );
}

#[test]
fn garbage_on_the_wire_never_yields_5xx_or_kills_the_server() {
    let mut srv = TestServer::start();
    let jwt = tenant(&srv);
    let a = srv.addr().to_owned();
    // Each request with its answer's status, always with a JSON body, even
    // where the HTTP engine answers a request it could not parse. What must
    // never happen is a 5xx or a dead server.
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400),
        (b"\x00\x01\x02\x03\r\n\r\n".to_vec(), 400),
        ({
            let mut v = format!("GET /api/session HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nAuthorization: Bearer ").into_bytes();
            v.extend_from_slice(b"\xff\xfe\xfd\r\n\r\n");
            v
        }, 400),
        ({
            let mut v = format!("GET /api/session HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\ncsp-auth-token: ").into_bytes();
            v.extend_from_slice(b"\xff\xfe\xfd\r\n\r\n");
            v
        }, 400),
        ({
            let mut v = format!("POST {SESSIONS} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Length: 0\r\nAuthorization: Basic ").into_bytes();
            v.extend_from_slice(b"\xff\xfe\r\n\r\n");
            v
        }, 400),
        (format!("GET /api/session HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nthis header has no colon\r\n\r\n").into_bytes(), 400),
        (format!("GET /api/%00%ff%fe HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n").into_bytes(), 404),
        (format!("GET /api/tokens/%E0%A4%A HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n").into_bytes(), 404),
        (format!("POST {AUTHORIZE} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Length: -1\r\n\r\n").into_bytes(), 400),
        (format!("POST {AUTHORIZE} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Length: abc\r\n\r\n").into_bytes(), 400),
        (format!("POST {AUTHORIZE}?refresh_token=%ZZ HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .into_bytes(), 400),
        (format!("POST /api/tokens HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nAuthorization: Bearer {jwt}\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{{\"nam").into_bytes(), 400),
        (format!("GET /api/session HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nAuthorization: {}\r\n\r\n", "B".repeat(8000)).into_bytes(), 401),
        (format!("POST {AUTHORIZE} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Type: {FORM}\r\nContent-Length: 14\r\n\r\nrefresh_token=").into_bytes(), 400),
        (format!("POST {AUTHORIZE} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nContent-Type: {FORM}\r\nContent-Length: 3\r\n\r\n&&=").into_bytes(), 400),
        (build_request(
            &a,
            "POST",
            "/api/tokens",
            &[("Authorization", &bearer(&jwt)), ("Content-Type", "application/json")],
            Some(br#"{"name":"x","name":"y","ttl":"30m"}"#),
        ), 400),
    ];
    for (req, expected) in &cases {
        let what = String::from_utf8_lossy(req).into_owned();
        let r = send_raw(&a, req, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{what:?}: expected {expected}, got {e}"));
        r.assert_status(*expected, &format!("{what:?}"));
        r.assert_json(&format!("{what:?}"));
        assert!(srv.is_running(), "server died on {what:?}");
        srv.api()
            .get("/health", &[])
            .assert_status(200, &format!("healthy after {what:?}"));
    }
    srv.api()
        .try_session_info(&jwt)
        .assert_status(200, "the session still works");
    let list = srv.api().list_tokens(&jwt);
    assert!(list.is_empty(), "no request created a token: {list:?}");
}

#[test]
fn rejected_requests_change_nothing() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = tenant(&srv);
    srv.cli().user_add("mia@acme", &[]);
    let mia = api.user_login("mia@acme").access_token;
    let baseline = api.create_token(&jwt, "baseline", Some("30m"));
    let secret = &baseline.secret;
    let access = api.exchange_authorize(secret).access_token;
    let before_cli = srv.cli().token_list(&[]);
    let before_api = api.get_bearer("/api/tokens", &jwt).body;
    let auth = bearer(&jwt);
    let json = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];

    api.post("/api/tokens", &json, br#"{"name":"x","ttl":"30s"}"#)
        .assert_status(400, "short ttl");
    api.post("/api/tokens", &json, br#"{"name":"x","evil":1}"#)
        .assert_status(400, "unknown field");
    // serde would read an array of a struct's fields in order as that
    // struct; no description of the API allows it, at any depth.
    for body in [
        r#"["x", null, false, null, null, null, null, null]"#,
        r#"{"name":"x","all_roles":false,"service_roles":[["svc","role",null]]}"#,
        r#"{"name":"x","reminder":["7d",null]}"#,
    ] {
        let r = api.post("/api/tokens", &json, body.as_bytes());
        r.assert_status(400, body);
        assert!(r.text().contains("JSON object"), "{body}: {}", r.text());
    }
    // A NUL holds in no name, id or parameter of the API; SQLite would
    // store it where PostgreSQL refuses to, so both are refused before
    // any store sees them.
    let nul = api.post("/api/tokens", &json, br#"{"name":"x\u0000y"}"#);
    nul.assert_status(400, "NUL in JSON");
    assert!(nul.text().contains("NUL"), "{}", nul.text());
    let nul = api.get_bearer("/api/tokens?filter=name%3D%3Dx%00", &jwt);
    nul.assert_status(400, "NUL in a query");
    assert!(nul.text().contains("NUL"), "{}", nul.text());
    assert!(nul.json().is_object(), "a JSON error: {}", nul.text());
    api.post_form(
        &tenant_token_path("acme"),
        &format!("grant_type=refresh_token&refresh_token={secret}%00"),
    )
    .assert_status(400, "NUL in a form");
    api.get_bearer(&format!("/api/tokens/{}%00", baseline.id), &jwt)
        .assert_status(404, "NUL in a path");
    api.post("/api/tokens", &json, &padded_json("big", BODY_LIMIT + 10))
        .assert_status(413, "too big");
    api.try_create_token(&mia, r#"{"name":"member"}"#)
        .assert_status(403, "member");
    api.try_create_token(&access, r#"{"name":"derived"}"#)
        .assert_status(403, "derived");
    api.try_revoke_token(&access, &baseline.id)
        .assert_status(403, "derived revoke");
    api.try_revoke_token(&mia, &baseline.id)
        .assert_status(404, "member revoke");
    api.try_exchange_provider(secret)
        .assert_status(400, "wrong endpoint");
    api.try_exchange_tenant("beta", secret)
        .assert_status(400, "unknown org");
    api.post_form(
        &tenant_token_path("acme"),
        &format!("grant_type=password&refresh_token={secret}"),
    )
    .assert_status(400, "wrong grant");
    api.try_login("alice@acme", "wrong password!")
        .assert_status(401, "bad login");

    assert_eq!(
        srv.cli().token_list(&[]),
        before_cli,
        "CLI listing unchanged"
    );
    assert_eq!(
        api.get_bearer("/api/tokens", &jwt).body,
        before_api,
        "API listing unchanged"
    );
}

/// HEAD is GET without the body, wherever GET is answered; `Allow` names
/// it beside GET; a path without GET refuses it.
#[test]
fn head_is_answered_as_get_without_a_body() {
    let srv = TestServer::start();
    let get = srv.api().get("/.well-known/jwks.json", &[]);
    get.assert_status(200, "GET the JWKS");
    let head = srv
        .api()
        .request("HEAD", "/.well-known/jwks.json", &[], None);
    head.assert_status(200, "HEAD the JWKS");
    assert!(head.body.is_empty(), "no body: {}", head.describe());
    assert_eq!(
        head.header("Content-Length"),
        get.header("Content-Length"),
        "the length GET would send"
    );
    let admin = srv.api().admin_login().access_token;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/health",
        "/api/tokens",
        "/api/org",
        "/api/audit",
    ] {
        let auth = [("Authorization", bearer(&admin))];
        let headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let get = srv.api().get(path, &headers);
        get.assert_status(200, path);
        let head = srv.api().request("HEAD", path, &headers, None);
        head.assert_status(200, path);
        assert!(head.body.is_empty(), "{path}: {}", head.describe());
        assert_eq!(
            head.header("Content-Type"),
            get.header("Content-Type"),
            "{path}"
        );
    }
    srv.api()
        .request("HEAD", "/api/tokens", &[], None)
        .assert_status(
            401,
            "HEAD of a protected resource needs a token as GET does",
        );
    srv.api()
        .request("HEAD", PROVIDER_TOKEN, &[], None)
        .assert_status(405, "no GET, no HEAD");
    srv.api()
        .request("PUT", "/api/session", &[], Some(b""))
        .assert_405_allows("HEAD", "Allow names HEAD beside GET");
}
