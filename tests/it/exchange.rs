//! Token exchange: the authorize endpoint (form body in every accepted
//! content-type spelling, or a query parameter) and the RFC 6749 §6
//! endpoints `/oauth/provider/token` and `/oauth/tenant/{org}/token`;
//! response shapes; org confinement of tokens; RFC 6749 §5.2 errors for
//! missing/repeated parameters, wrong grant types, non-form bodies, and
//! malformed, unknown and revoked tokens (unknown and revoked must be
//! indistinguishable); `Cache-Control: no-store` / `Pragma: no-cache` on
//! every answer; a failed exchange stamps nothing; concurrent exchanges.
//! Expired API tokens are covered in `expiry.rs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;

use serde_json::Value;

use crate::common::*;

/// Tenant `acme` with Token User alice; returns (alice, session jwt, token id, secret).
fn alice_with_token(srv: &TestServer) -> (String, String, String, String) {
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let (id, secret) = srv.create_token(&jwt, "exchange-me", Some("90d"));
    (alice, jwt, id, secret)
}

/// The checks both dialects share; returns the body. The API tokens here
/// outlive the access TTL, so `expires_in` is not capped by their expiry.
fn assert_exchanged(r: &Response, what: &str, token_type: &str) -> Value {
    r.assert_status(200, what);
    r.assert_no_store(what);
    let v = r.assert_json(what);
    assert_eq!(
        s(&v, "access_token").split('.').count(),
        3,
        "{what}: access_token is a JWT: {v}"
    );
    assert_eq!(v["token_type"], token_type, "{what}: {v}");
    assert_eq!(
        v["expires_in"].as_i64(),
        Some(DEFAULT_ACCESS_TTL),
        "{what}: {v}"
    );
    v
}

fn assert_authorize_success(r: &Response, what: &str) -> String {
    let v = assert_exchanged(r, what, "bearer");
    assert_eq!(v["scope"], "ALL_PERMISSIONS", "{what}: {v}");
    s(&v, "access_token").to_owned()
}

fn assert_oauth_success(r: &Response, what: &str) -> String {
    let v = assert_exchanged(r, what, "Bearer");
    // RFC 6749 §5.1: optional, and strict clients reject a null member.
    assert!(
        v.get("refresh_token").is_none(),
        "{what}: no refresh_token is issued, so none is sent: {v}"
    );
    s(&v, "access_token").to_owned()
}

#[test]
fn authorize_accepts_form_bodies_with_every_content_type_spelling() {
    let srv = TestServer::start();
    let (_, _, id, secret) = alice_with_token(&srv);
    for ct in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded/",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ] {
        let body = format!("refresh_token={secret}");
        let r = srv.post(AUTHORIZE, &[("Content-Type", ct)], body.as_bytes());
        let at = assert_authorize_success(&r, ct);
        // The access token is meant for the csp-auth-token header.
        let info = srv.get_csp("/api/session", &at);
        info.assert_status(200, &format!("{ct}: use access token"));
        assert_eq!(info.json()["api_token_id"], id.as_str(), "{ct}");
    }
}

#[test]
fn authorize_accepts_the_token_as_query_parameter() {
    let srv = TestServer::start();
    let (_, _, _, secret) = alice_with_token(&srv);
    let path = format!("{AUTHORIZE}?refresh_token={secret}");
    // No body, no content type.
    let r = srv.request("POST", &path, &[], None);
    assert_authorize_success(&r, "query parameter, no body");
    // Empty body with Content-Length: 0.
    let r = srv.post(&path, &[], b"");
    assert_authorize_success(&r, "query parameter, empty body");
    // Empty form body.
    let r = srv.post(&path, &[("Content-Type", FORM)], b"");
    assert_authorize_success(&r, "query parameter, empty form body");
}

#[test]
fn provider_endpoint_exchanges_system_tokens() {
    let srv = TestServer::start();
    srv.org_add("acme");
    let admin = srv.admin_login();
    let (id, secret) = srv.create_token(&admin, "provider-automation", Some("90d"));
    let r = srv.exchange_provider(&secret);
    let at = assert_oauth_success(&r, "provider exchange");
    let info = srv.session_info(&at);
    info.assert_status(200, "use provider access token with Bearer");
    let info = info.json();
    assert_eq!(info["api_token_id"], id.as_str(), "{info}");
    assert_eq!(info["org"]["name"], "System", "{info}");
    // The same System token also works at the authorize endpoint.
    assert_authorize_success(
        &srv.exchange_authorize(&secret),
        "System token at authorize",
    );
}

#[test]
fn tenant_endpoint_exchanges_tokens_of_that_org() {
    let srv = TestServer::start();
    let (_, _, id, secret) = alice_with_token(&srv);
    let r = srv.exchange_tenant("acme", &secret);
    let at = assert_oauth_success(&r, "tenant exchange");
    let info = srv.session_info(&at);
    info.assert_status(200, "use tenant access token with Bearer");
    let info = info.json();
    assert_eq!(info["api_token_id"], id.as_str(), "{info}");
    assert_eq!(info["org"]["name"], "acme", "{info}");
}

#[test]
fn tokens_are_confined_to_their_own_org_endpoint() {
    let srv = TestServer::start();
    let (_, jwt, id, secret) = alice_with_token(&srv);
    srv.org_add("beta");
    let admin = srv.admin_login();
    let (sys_id, sys_secret) = srv.create_token(&admin, "system", Some("90d"));

    srv.exchange_provider(&secret)
        .assert_oauth_error("invalid_grant", "tenant token at the provider endpoint");
    srv.exchange_tenant("beta", &secret)
        .assert_oauth_error("invalid_grant", "tenant token at another org's endpoint");
    srv.exchange_tenant("nosuchorg", &secret)
        .assert_oauth_error("invalid_grant", "tenant token at an unknown org's endpoint");
    srv.exchange_tenant("acme", &sys_secret)
        .assert_oauth_error("invalid_grant", "System token at a tenant endpoint");

    // Refused exchanges change nothing: no last-use stamp.
    let mine = srv.list_tokens(&jwt);
    let t = mine.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert!(
        t["last_used_at"].is_null(),
        "refused exchange must not stamp last use: {t}"
    );
    let sys = srv.list_tokens(&admin);
    let t = sys.iter().find(|t| t["id"] == sys_id.as_str()).unwrap();
    assert!(
        t["last_used_at"].is_null(),
        "refused exchange must not stamp last use: {t}"
    );

    // Positive controls.
    assert_oauth_success(&srv.exchange_tenant("acme", &secret), "own org");
    assert_oauth_success(
        &srv.exchange_provider(&sys_secret),
        "System token at provider",
    );
}

#[test]
fn oauth_grant_type_and_parameter_errors() {
    let srv = TestServer::start();
    let (_, _, _, secret) = alice_with_token(&srv);
    let tenant = tenant_token_path("acme");
    for path in [PROVIDER_TOKEN, tenant.as_str()] {
        let cases: Vec<(String, &str)> = vec![
            (format!("refresh_token={secret}"), "invalid_request"),
            (
                format!("grant_type=password&refresh_token={secret}&username=a&password=b"),
                "unsupported_grant_type",
            ),
            (
                format!("grant_type=client_credentials&refresh_token={secret}"),
                "unsupported_grant_type",
            ),
            ("grant_type=refresh_token".to_owned(), "invalid_request"),
            (String::new(), "invalid_request"),
            (
                format!("grant_type=refresh_token&refresh_token={secret}&refresh_token={secret}"),
                "invalid_request",
            ),
            (
                format!("grant_type=refresh_token&grant_type=refresh_token&refresh_token={secret}"),
                "invalid_request",
            ),
        ];
        for (body, code) in &cases {
            let what = format!("{path} body {body:?}");
            let d = srv.post_form(path, body).assert_oauth_error(code, &what);
            assert!(
                !d.contains(&secret[3..]),
                "{what}: description echoes the secret"
            );
        }
        // A JSON body is not a form.
        let json = format!(r#"{{"grant_type":"refresh_token","refresh_token":"{secret}"}}"#);
        srv.post(
            path,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .assert_oauth_error("invalid_request", &format!("{path} with a JSON body"));
    }
    // The token itself was never used: it still works.
    assert_oauth_success(&srv.exchange_tenant("acme", &secret), "token still valid");
}

#[test]
fn authorize_parameter_errors() {
    let srv = TestServer::start();
    let (_, _, _, secret) = alice_with_token(&srv);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty form body"),
        (b"token=abc".to_vec(), "no refresh_token"),
        (
            format!("refresh_token={secret}&refresh_token={secret}").into_bytes(),
            "repeated refresh_token",
        ),
    ];
    for (body, what) in &cases {
        srv.post(AUTHORIZE, &[("Content-Type", FORM)], body)
            .assert_oauth_error("invalid_request", what);
    }
    let json = format!(r#"{{"refresh_token":"{secret}"}}"#);
    srv.post(
        AUTHORIZE,
        &[("Content-Type", "application/json")],
        json.as_bytes(),
    )
    .assert_oauth_error("invalid_request", "JSON body at authorize");
    srv.post(
        AUTHORIZE,
        &[("Content-Type", "text/plain")],
        format!("refresh_token={secret}").as_bytes(),
    )
    .assert_oauth_error("invalid_request", "text/plain body at authorize");
    srv.request("POST", AUTHORIZE, &[], None)
        .assert_oauth_error("invalid_request", "no body, no query");
}

#[test]
fn extra_parameters_are_ignored() {
    let srv = TestServer::start();
    let (_, _, _, secret) = alice_with_token(&srv);
    let body = format!(
        "grant_type=refresh_token&refresh_token={secret}&client_id=my-cli&scope=openid%20profile"
    );
    assert_oauth_success(
        &srv.post_form(&tenant_token_path("acme"), &body),
        "client_id and scope ignored",
    );
    let body = format!("client_id=my-cli&refresh_token={secret}&scope=x");
    assert_authorize_success(&srv.post_form(AUTHORIZE, &body), "authorize with extras");
}

#[test]
fn malformed_tokens_are_invalid_grant_at_every_endpoint() {
    let srv = TestServer::start();
    let (_, jwt, id, secret) = alice_with_token(&srv);
    let mut bad: Vec<(String, &str)> = vec![
        (secret[..64].to_owned(), "64 chars"),
        (format!("{secret}A"), "66 chars"),
        (flip_char(&secret, 64), "last char flipped (checksum)"),
        (flip_char(&secret, 30), "middle char flipped"),
        (flip_char(&secret, 0), "prefix char flipped"),
        (format!("{}-", &secret[..64]), "non-alphanumeric char"),
        (format!("{}é", &secret[..63]), "non-ASCII char"),
        ("x".to_owned(), "one char"),
        ("tkd".to_owned() + &"0".repeat(62), "all zeros"),
    ];
    // A random string of the right shape but wrong checksum.
    bad.push((
        "tkd".to_owned() + &"aB3".repeat(20) + "Zz",
        "random 65 chars",
    ));
    let tenant = tenant_token_path("acme");
    for (tok, what) in &bad {
        let enc = form_encode(tok);
        srv.post_form(AUTHORIZE, &format!("refresh_token={enc}"))
            .assert_oauth_error("invalid_grant", &format!("authorize: {what}"));
        srv.post_form(
            &tenant,
            &format!("grant_type=refresh_token&refresh_token={enc}"),
        )
        .assert_oauth_error("invalid_grant", &format!("tenant: {what}"));
        srv.post_form(
            PROVIDER_TOKEN,
            &format!("grant_type=refresh_token&refresh_token={enc}"),
        )
        .assert_oauth_error("invalid_grant", &format!("provider: {what}"));
    }
    let t = srv.list_tokens(&jwt);
    assert!(
        t[0]["last_used_at"].is_null() && t[0]["id"] == id.as_str(),
        "{t:?}"
    );
    assert_authorize_success(
        &srv.exchange_authorize(&secret),
        "the real token still works",
    );
}

#[test]
fn revoked_and_unknown_tokens_are_indistinguishable() {
    let srv = TestServer::start();
    let (_, jwt, id, secret) = alice_with_token(&srv);
    // A well-formed token with a valid checksum that this server never
    // issued: mint it on a second, independent server.
    let other = TestServer::start();
    other.org_add("acme");
    other.user_add("alice@acme", USER_PASSWORD, &[ROLE_TOKEN_USER]);
    let ojwt = other.user_login("alice@acme");
    let (_, foreign) = other.create_token(&ojwt, "foreign", Some("90d"));
    let foreign_access = other.access_token(&foreign);

    let unknown_authorize = srv.exchange_authorize(&foreign);
    let d_unknown =
        unknown_authorize.assert_oauth_error("invalid_grant", "unknown token at authorize");
    let d_unknown_tenant = srv
        .exchange_tenant("acme", &foreign)
        .assert_oauth_error("invalid_grant", "unknown token at tenant endpoint");

    srv.revoke(&jwt, &id).assert_status(204, "revoke");
    let revoked_authorize = srv.exchange_authorize(&secret);
    let d_revoked =
        revoked_authorize.assert_oauth_error("invalid_grant", "revoked token at authorize");
    let d_revoked_tenant = srv
        .exchange_tenant("acme", &secret)
        .assert_oauth_error("invalid_grant", "revoked token at tenant endpoint");

    assert_eq!(d_unknown, d_revoked, "unknown vs revoked description");
    assert_eq!(
        d_unknown_tenant, d_revoked_tenant,
        "unknown vs revoked description (tenant)"
    );
    assert_eq!(d_revoked, INVALID_OR_REVOKED);
    assert_eq!(
        unknown_authorize.body, revoked_authorize.body,
        "identical bodies"
    );

    // An access token signed by another server's key is refused.
    srv.session_info(&foreign_access)
        .assert_bearer_401("access token signed by a foreign key");
    other
        .session_info(&foreign_access)
        .assert_status(200, "valid where it was issued");
}

#[test]
fn every_token_endpoint_answer_is_no_store() {
    let srv = TestServer::start();
    let (_, _, _, secret) = alice_with_token(&srv);
    let tenant = tenant_token_path("acme");
    let responses = vec![
        ("authorize ok", srv.exchange_authorize(&secret)),
        ("tenant ok", srv.exchange_tenant("acme", &secret)),
        ("authorize error", srv.post_form(AUTHORIZE, "")),
        (
            "tenant error",
            srv.post_form(&tenant, "grant_type=password"),
        ),
        (
            "provider error",
            srv.post_form(PROVIDER_TOKEN, "grant_type=refresh_token&refresh_token=x"),
        ),
        (
            "non-UTF-8 body",
            srv.post(
                PROVIDER_TOKEN,
                &[("Content-Type", FORM)],
                b"grant_type=refresh_token&refresh_token=\xff\xfe",
            ),
        ),
    ];
    for (what, r) in &responses {
        r.assert_no_store(what);
        r.assert_json(what);
    }
}

#[test]
fn concurrent_exchanges_all_succeed_with_unique_jtis() {
    let srv = Arc::new(TestServer::start());
    let (_, jwt, id, secret) = alice_with_token(&srv);
    let secret = Arc::new(secret);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let srv = srv.clone();
            let secret = secret.clone();
            thread::spawn(move || {
                (0..5)
                    .map(|j| {
                        let r = if (i + j) % 2 == 0 {
                            srv.exchange_authorize(&secret)
                        } else {
                            srv.exchange_tenant("acme", &secret)
                        };
                        r.assert_status(200, "concurrent exchange");
                        let at = s(&r.json(), "access_token").to_owned();
                        let (_, claims) = jwt_parts(&at);
                        s(&claims, "jti").to_owned()
                    })
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let mut jtis = HashSet::new();
    for h in handles {
        for jti in h.join().expect("exchange thread") {
            assert!(jtis.insert(jti), "duplicate jti");
        }
    }
    assert_eq!(jtis.len(), 20);
    let stamped = eventually(std::time::Duration::from_secs(3), || {
        let list = srv.list_tokens(&jwt);
        let t = list.iter().find(|t| t["id"] == id.as_str())?.clone();
        t["last_used_at"].is_string().then_some(())
    });
    assert!(
        stamped.is_some(),
        "last use stamped after concurrent exchanges"
    );
}
