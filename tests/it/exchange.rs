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
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Tenant `acme` with Token User alice and her token "exchange-me";
/// returns (alice's login access token, the token).
fn alice_with_token(srv: &TestServer) -> (String, CreatedToken) {
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let jwt = srv.api().user_login("alice@acme").access_token;
    let token = srv.api().create_token(&jwt, "exchange-me", Some("90d"));
    (jwt, token)
}

/// `last_used_at` of the caller's token `id`.
fn last_used(api: &Client, jwt: &str, id: &str) -> Option<String> {
    api.list_tokens(jwt)
        .into_iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("token {id} listed"))
        .last_used_at
}

/// The checks both dialects share; returns the body. The API tokens here
/// outlive the access TTL, so `expires_in` is not capped by their expiry.
fn assert_exchanged(r: &Response, what: &str, token_type: &str) -> Value {
    r.assert_status(200, what);
    r.assert_no_store(what);
    let v = r.assert_json(what);
    assert_eq!(
        str_field(&v, "access_token").split('.').count(),
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
    str_field(&v, "access_token").to_owned()
}

fn assert_oauth_success(r: &Response, what: &str) -> String {
    let v = assert_exchanged(r, what, "Bearer");
    // RFC 6749 §5.1: optional, and strict clients reject a null member.
    assert!(
        v.get("refresh_token").is_none(),
        "{what}: no refresh_token is issued, so none is sent: {v}"
    );
    str_field(&v, "access_token").to_owned()
}

#[test]
fn authorize_accepts_form_bodies_with_every_content_type_spelling() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    for ct in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded/",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ] {
        let body = format!("refresh_token={}", token.secret);
        let r = api.post(AUTHORIZE, &[("Content-Type", ct)], body.as_bytes());
        let at = assert_authorize_success(&r, ct);
        // The access token is meant for the csp-auth-token header.
        let info = api.get_csp("/api/session", &at);
        info.assert_status(200, &format!("{ct}: use access token"));
        assert_eq!(info.json()["api_token_id"], token.id.as_str(), "{ct}");
    }
}

#[test]
fn authorize_accepts_the_token_as_query_parameter() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let path = format!("{AUTHORIZE}?refresh_token={}", token.secret);
    // No body, no content type.
    let r = api.request("POST", &path, &[], None);
    assert_authorize_success(&r, "query parameter, no body");
    // Empty body with Content-Length: 0.
    let r = api.post(&path, &[], b"");
    assert_authorize_success(&r, "query parameter, empty body");
    // Empty form body.
    let r = api.post(&path, &[("Content-Type", FORM)], b"");
    assert_authorize_success(&r, "query parameter, empty form body");
}

#[test]
fn provider_endpoint_exchanges_system_tokens() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "provider-automation", Some("90d"));
    let r = api.try_exchange_provider(&token.secret);
    let at = assert_oauth_success(&r, "provider exchange");
    let info = api.session_info(&at);
    assert_eq!(info.api_token_id, Some(token.id), "{info:?}");
    assert_eq!(info.org.name, "System", "{info:?}");
    // The same System token also works at the authorize endpoint.
    assert_authorize_success(
        &api.try_exchange_authorize(&token.secret),
        "System token at authorize",
    );
}

#[test]
fn tenant_endpoint_exchanges_tokens_of_that_org() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let r = api.try_exchange_tenant("acme", &token.secret);
    let at = assert_oauth_success(&r, "tenant exchange");
    let info = api.session_info(&at);
    assert_eq!(info.api_token_id, Some(token.id), "{info:?}");
    assert_eq!(info.org.name, "acme", "{info:?}");
}

#[test]
fn tokens_are_confined_to_their_own_org_endpoint() {
    let srv = TestServer::start();
    let api = srv.api();
    let (jwt, token) = alice_with_token(&srv);
    srv.cli().org_add("beta");
    let admin = api.admin_login().access_token;
    let system = api.create_token(&admin, "system", Some("90d"));

    api.try_exchange_provider(&token.secret)
        .assert_oauth_error("invalid_grant", "tenant token at the provider endpoint");
    api.try_exchange_tenant("beta", &token.secret)
        .assert_oauth_error("invalid_grant", "tenant token at another org's endpoint");
    api.try_exchange_tenant("nosuchorg", &token.secret)
        .assert_oauth_error("invalid_grant", "tenant token at an unknown org's endpoint");
    api.try_exchange_tenant("acme", &system.secret)
        .assert_oauth_error("invalid_grant", "System token at a tenant endpoint");

    // Refused exchanges change nothing: no last-use stamp.
    assert_eq!(
        last_used(api, &jwt, &token.id),
        None,
        "refused exchange must not stamp last use"
    );
    assert_eq!(
        last_used(api, &admin, &system.id),
        None,
        "refused exchange must not stamp last use"
    );

    // Positive controls.
    assert_oauth_success(&api.try_exchange_tenant("acme", &token.secret), "own org");
    assert_oauth_success(
        &api.try_exchange_provider(&system.secret),
        "System token at provider",
    );
}

#[test]
fn oauth_grant_type_and_parameter_errors() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let secret = &token.secret;
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
            let d = api.post_form(path, body).assert_oauth_error(code, &what);
            assert!(
                !d.contains(&secret[3..]),
                "{what}: description echoes the secret"
            );
        }
        // A JSON body is not a form.
        let json = format!(r#"{{"grant_type":"refresh_token","refresh_token":"{secret}"}}"#);
        api.post(
            path,
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .assert_oauth_error("invalid_request", &format!("{path} with a JSON body"));
    }
    // The token itself was never used: it still works.
    assert_oauth_success(
        &api.try_exchange_tenant("acme", secret),
        "token still valid",
    );
}

#[test]
fn authorize_parameter_errors() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let secret = &token.secret;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "empty form body"),
        (b"token=abc".to_vec(), "no refresh_token"),
        (
            format!("refresh_token={secret}&refresh_token={secret}").into_bytes(),
            "repeated refresh_token",
        ),
    ];
    for (body, what) in &cases {
        api.post(AUTHORIZE, &[("Content-Type", FORM)], body)
            .assert_oauth_error("invalid_request", what);
    }
    let json = format!(r#"{{"refresh_token":"{secret}"}}"#);
    api.post(
        AUTHORIZE,
        &[("Content-Type", "application/json")],
        json.as_bytes(),
    )
    .assert_oauth_error("invalid_request", "JSON body at authorize");
    api.post(
        AUTHORIZE,
        &[("Content-Type", "text/plain")],
        format!("refresh_token={secret}").as_bytes(),
    )
    .assert_oauth_error("invalid_request", "text/plain body at authorize");
    api.request("POST", AUTHORIZE, &[], None)
        .assert_oauth_error("invalid_request", "no body, no query");
}

#[test]
fn extra_parameters_are_ignored() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let secret = &token.secret;
    let body = format!(
        "grant_type=refresh_token&refresh_token={secret}&client_id=my-cli&scope=openid%20profile"
    );
    assert_oauth_success(
        &api.post_form(&tenant_token_path("acme"), &body),
        "client_id and scope ignored",
    );
    let body = format!("client_id=my-cli&refresh_token={secret}&scope=x");
    assert_authorize_success(&api.post_form(AUTHORIZE, &body), "authorize with extras");
}

#[test]
fn malformed_tokens_are_invalid_grant_at_every_endpoint() {
    let srv = TestServer::start();
    let api = srv.api();
    let (jwt, token) = alice_with_token(&srv);
    let secret = &token.secret;
    let mut bad: Vec<(String, &str)> = vec![
        (secret[..64].to_owned(), "64 chars"),
        (format!("{secret}A"), "66 chars"),
        (flip_char(secret, 64), "last char flipped (checksum)"),
        (flip_char(secret, 30), "middle char flipped"),
        (flip_char(secret, 0), "prefix char flipped"),
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
        api.post_form(AUTHORIZE, &format!("refresh_token={enc}"))
            .assert_oauth_error("invalid_grant", &format!("authorize: {what}"));
        api.post_form(
            &tenant,
            &format!("grant_type=refresh_token&refresh_token={enc}"),
        )
        .assert_oauth_error("invalid_grant", &format!("tenant: {what}"));
        api.post_form(
            PROVIDER_TOKEN,
            &format!("grant_type=refresh_token&refresh_token={enc}"),
        )
        .assert_oauth_error("invalid_grant", &format!("provider: {what}"));
    }
    let t = api.list_tokens(&jwt);
    assert!(t[0].last_used_at.is_none() && t[0].id == token.id, "{t:?}");
    assert_authorize_success(
        &api.try_exchange_authorize(secret),
        "the real token still works",
    );
}

#[test]
fn revoked_and_unknown_tokens_are_indistinguishable() {
    let srv = TestServer::start();
    let api = srv.api();
    let (jwt, token) = alice_with_token(&srv);
    // A well-formed token with a valid checksum that this server never
    // issued: mint it on a second, independent server.
    let other = TestServer::start();
    other.cli().org_add("acme");
    other.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let ojwt = other.api().user_login("alice@acme").access_token;
    let foreign = other.api().create_token(&ojwt, "foreign", Some("90d"));
    let foreign_access = other.api().exchange_authorize(&foreign.secret).access_token;

    let unknown_authorize = api.try_exchange_authorize(&foreign.secret);
    let d_unknown =
        unknown_authorize.assert_oauth_error("invalid_grant", "unknown token at authorize");
    let d_unknown_tenant = api
        .try_exchange_tenant("acme", &foreign.secret)
        .assert_oauth_error("invalid_grant", "unknown token at tenant endpoint");

    api.revoke_token(&jwt, &token.id);
    let revoked_authorize = api.try_exchange_authorize(&token.secret);
    let d_revoked =
        revoked_authorize.assert_oauth_error("invalid_grant", "revoked token at authorize");
    let d_revoked_tenant = api
        .try_exchange_tenant("acme", &token.secret)
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
    api.try_session_info(&foreign_access)
        .assert_bearer_401("access token signed by a foreign key");
    other
        .api()
        .try_session_info(&foreign_access)
        .assert_status(200, "valid where it was issued");
}

#[test]
fn every_token_endpoint_answer_is_no_store() {
    let srv = TestServer::start();
    let api = srv.api();
    let (_, token) = alice_with_token(&srv);
    let tenant = tenant_token_path("acme");
    let responses = vec![
        ("authorize ok", api.try_exchange_authorize(&token.secret)),
        ("tenant ok", api.try_exchange_tenant("acme", &token.secret)),
        ("authorize error", api.post_form(AUTHORIZE, "")),
        (
            "tenant error",
            api.post_form(&tenant, "grant_type=password"),
        ),
        (
            "provider error",
            api.post_form(PROVIDER_TOKEN, "grant_type=refresh_token&refresh_token=x"),
        ),
        (
            "non-UTF-8 body",
            api.post(
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
    let srv = TestServer::start();
    let (jwt, token) = alice_with_token(&srv);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let api = srv.api().clone();
            let secret = token.secret.clone();
            thread::spawn(move || {
                (0..5)
                    .map(|j| {
                        let r = if (i + j) % 2 == 0 {
                            api.try_exchange_authorize(&secret)
                        } else {
                            api.try_exchange_tenant("acme", &secret)
                        };
                        r.assert_status(200, "concurrent exchange");
                        let at = str_field(&r.json(), "access_token").to_owned();
                        let (_, claims) = jwt_parts(&at);
                        str_field(&claims, "jti").to_owned()
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
    let stamped = eventually(Duration::from_secs(3), || {
        last_used(srv.api(), &jwt, &token.id).map(|_| ())
    });
    assert!(
        stamped.is_some(),
        "last use stamped after concurrent exchanges"
    );
}
