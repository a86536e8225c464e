//! DPoP (RFC 9449) against the binary, with proofs made by Node's `jose`
//! (tests/resource_servers/dpop_proof.mjs), an implementation independent
//! of tokend's: a proof at the exchange binds the access token to the
//! library's key (`cnf.jkt` is jose's own thumbprint, `token_type` DPoP);
//! tokend's own endpoints then want a fresh proof by that key for each
//! request, and refuse a replayed one, the token as Bearer or without a
//! proof, and proofs for another method or URL, too old, with a wrong
//! `ath`, by another key, unsigned or with a shared secret, or carrying a
//! private key. Nonces (§8, §9) with `TOKEND_DPOP_NONCE=required`;
//! introspection's `cnf`; discovery's algorithms.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::resource_servers::run_script;
use crate::support::*;

/// A proof, the private JWK that made it, and jose's thumbprint of it.
pub(crate) struct Proof {
    pub(crate) proof: String,
    pub(crate) key: Value,
    pub(crate) jkt: String,
}

/// A proof by `dpop_proof.mjs` for `spec` (see the script).
pub(crate) fn make_proof(spec: Value) -> Proof {
    let out = run_script("node", "dpop_proof.mjs", &[], Some(&spec));
    Proof {
        proof: str_field(&out, "proof").to_owned(),
        key: out["key"].clone(),
        jkt: str_field(&out, "jkt").to_owned(),
    }
}

fn issuer(srv: &TestServer) -> String {
    format!("http://{}", srv.addr())
}

/// Tenant acme, Token User alice, and her API token's secret.
fn alice_secret(srv: &TestServer) -> String {
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let jwt = srv.api().user_login("alice@acme").access_token;
    srv.api().create_token(&jwt, "dpop", Some("90d")).secret
}

/// The refresh grant at acme's endpoint with `DPoP: proof` when given.
fn exchange(srv: &TestServer, secret: &str, proof: Option<&str>) -> Response {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    );
    let mut headers = vec![("Content-Type", FORM)];
    if let Some(proof) = proof {
        headers.push(("DPoP", proof));
    }
    srv.api()
        .post(&tenant_token_path("acme"), &headers, body.as_bytes())
}

/// A proof for the exchange at acme's endpoint, by `key` (None: a new
/// ES256 key), with `extra` members of the spec.
fn token_proof(srv: &TestServer, key: Option<&Value>, extra: Value) -> Proof {
    let mut spec = json!({
        "htm": "POST",
        "htu": format!("{}{}", issuer(srv), tenant_token_path("acme")),
    });
    if let Some(key) = key {
        spec["key"] = key.clone();
    }
    merge(&mut spec, extra);
    make_proof(spec)
}

fn merge(spec: &mut Value, extra: Value) {
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            spec[name] = value;
        }
    }
}

/// A proof for `GET /api/tokens` with `token`, by `key`, with `extra`.
fn call_proof(srv: &TestServer, key: &Value, token: &str, extra: Value) -> String {
    let mut spec = json!({
        "key": key,
        "htm": "GET",
        "htu": format!("{}/api/tokens", issuer(srv)),
        "token": token,
    });
    merge(&mut spec, extra);
    make_proof(spec).proof
}

/// `GET path` with `Authorization: {scheme} token` and `DPoP: proof`.
fn call(srv: &TestServer, path: &str, scheme: &str, token: &str, proof: Option<&str>) -> Response {
    let authorization = format!("{scheme} {token}");
    let mut headers = vec![("Authorization", authorization.as_str())];
    if let Some(proof) = proof {
        headers.push(("DPoP", proof));
    }
    srv.api().get(path, &headers)
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&B64.decode(payload).expect("base64url")).expect("JSON")
}

/// A 401 with a DPoP challenge naming `error` and the algorithms.
fn assert_dpop_401(r: &Response, error: &str, what: &str) {
    r.assert_status(401, what);
    let challenge = r.header("WWW-Authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains(&format!(r#"error="{error}""#)),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains(r#"algs="ES256 ES384 RS256 PS256 EdDSA""#),
        "{what}: {challenge}"
    );
}

#[test]
fn a_proof_binds_the_access_token_to_the_librarys_key_and_each_call_needs_its_own_proof() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    let bound = token_proof(&srv, None, json!({}));
    let answer = exchange(&srv, &secret, Some(&bound.proof));
    answer.assert_status(200, "exchange with a proof");
    let answer = answer.json();
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    let token = str_field(&answer, "access_token").to_owned();
    assert_eq!(
        claims(&token)["cnf"],
        json!({ "jkt": bound.jkt }),
        "cnf.jkt is jose's thumbprint of its key"
    );
    let key = &bound.key;

    // The exchange's event names the key's thumbprint, never the key.
    let admin = srv.api().admin_login().access_token;
    let events = srv.api().every_event(&admin, "type=token.exchange");
    let event = events.last().expect("the exchange's event").to_string();
    assert!(event.contains(&bound.jkt), "{event}");
    let x = str_field(key, "x");
    assert!(!event.contains(x), "no key in the event: {event}");

    // A fresh proof by the key, for this request: honoured, a query string
    // in the URL or not.
    let proof = call_proof(&srv, key, &token, json!({}));
    call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)).assert_status(200, "a fresh proof");
    let paged = call_proof(&srv, key, &token, json!({}));
    call(&srv, "/api/tokens?page=1", "DPoP", &token, Some(&paged))
        .assert_status(200, "htu without the query");

    // The same proof again: replayed.
    assert_dpop_401(
        &call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)),
        "invalid_dpop_proof",
        "a replayed proof",
    );
    // The token as a bearer token, or without a proof.
    assert_dpop_401(
        &call(&srv, "/api/tokens", "Bearer", &token, None),
        "invalid_token",
        "a bound token as Bearer",
    );
    let fresh = call_proof(&srv, key, &token, json!({}));
    assert_dpop_401(
        &call(&srv, "/api/tokens", "Bearer", &token, Some(&fresh)),
        "invalid_token",
        "a bound token as Bearer, even with a proof",
    );
    assert_dpop_401(
        &srv.api().get_csp("/api/tokens", &token),
        "invalid_token",
        "a bound token in csp-auth-token",
    );
    assert_dpop_401(
        &call(&srv, "/api/tokens", "DPoP", &token, None),
        "invalid_dpop_proof",
        "DPoP without a proof",
    );
    // A proof by another key: not the key the token is bound to.
    let other = make_proof(json!({
        "htm": "GET", "htu": format!("{}/api/tokens", issuer(&srv)), "token": token,
    }));
    assert_dpop_401(
        &call(&srv, "/api/tokens", "DPoP", &token, Some(&other.proof)),
        "invalid_token",
        "another key's proof",
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let refused = [
        ("another method", json!({ "htm": "POST" })),
        (
            "another URL",
            json!({ "htu": format!("{}/api/users", issuer(&srv)) }),
        ),
        (
            "another host",
            json!({ "htu": "http://elsewhere.example/api/tokens" }),
        ),
        ("an iat five minutes old", json!({ "iat": now - 300 })),
        ("an iat in the future", json!({ "iat": now + 300 })),
        (
            "the hash of another token",
            json!({ "ath": B64.encode([0u8; 32]) }),
        ),
        ("no ath", json!({ "token": null })),
        ("alg none", json!({ "form": "none" })),
        ("HS256", json!({ "form": "hs256" })),
        ("a private key in jwk", json!({ "form": "private_jwk" })),
    ];
    for (what, extra) in refused {
        let proof = call_proof(&srv, key, &token, extra);
        assert_dpop_401(
            &call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)),
            "invalid_dpop_proof",
            what,
        );
    }
    // After all that, a good proof still works.
    let proof = call_proof(&srv, key, &token, json!({}));
    call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)).assert_status(200, "still bound");
}

#[test]
fn without_a_proof_tokens_are_bearer_and_an_unbound_token_is_refused_as_dpop() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    let answer = exchange(&srv, &secret, None);
    answer.assert_status(200, "exchange without a proof");
    let answer = answer.json();
    assert_eq!(answer["token_type"], "Bearer");
    let token = str_field(&answer, "access_token").to_owned();
    assert!(claims(&token).get("cnf").is_none());
    srv.api()
        .get_bearer("/api/tokens", &token)
        .assert_status(200, "an unbound token as Bearer");
    // RFC 9449 §7.1: the DPoP scheme asserts a binding the token lacks.
    let key = make_proof(json!({ "htm": "GET", "htu": "http://x.example/" }));
    let proof = call_proof(&srv, &key.key, &token, json!({}));
    assert_dpop_401(
        &call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)),
        "invalid_token",
        "an unbound token with the DPoP scheme",
    );
}

#[test]
fn invalid_proofs_at_both_exchange_endpoints_are_invalid_dpop_proof() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let refused = [
        ("alg none", json!({ "form": "none" })),
        ("HS256", json!({ "form": "hs256" })),
        ("a private key in jwk", json!({ "form": "private_jwk" })),
        ("GET", json!({ "htm": "GET" })),
        (
            "the provider's endpoint",
            json!({ "htu": format!("{}/oauth/provider/token", issuer(&srv)) }),
        ),
        ("an old iat", json!({ "iat": now - 120 })),
    ];
    for (what, extra) in refused {
        let proof = token_proof(&srv, None, extra);
        let r = exchange(&srv, &secret, Some(&proof.proof));
        r.assert_status(400, what);
        assert_eq!(r.json()["error"], "invalid_dpop_proof", "{what}");
        r.assert_no_store(what);
    }
    let garbage = exchange(&srv, &secret, Some("not.a.proof"));
    garbage.assert_status(400, "garbage");
    assert_eq!(garbage.json()["error"], "invalid_dpop_proof");

    // One proof, one exchange.
    let proof = token_proof(&srv, None, json!({}));
    exchange(&srv, &secret, Some(&proof.proof)).assert_status(200, "first use");
    let again = exchange(&srv, &secret, Some(&proof.proof));
    again.assert_status(400, "the same proof again");
    assert_eq!(again.json()["error"], "invalid_dpop_proof");

    // A proof with a bad API token: the token is refused, and the proof
    // was not used up.
    let proof = token_proof(&srv, None, json!({}));
    let bad = exchange(&srv, "not-a-token", Some(&proof.proof));
    bad.assert_status(400, "a bad API token");
    assert_eq!(bad.json()["error"], "invalid_grant");

    // The console's authorize endpoint binds too.
    let path = "/csp/gateway/am/api/auth/api-tokens/authorize";
    let proof = make_proof(
        json!({ "alg": "RS256", "htm": "POST", "htu": format!("{}{path}", issuer(&srv)) }),
    );
    let body = format!("refresh_token={}", form_encode(&secret));
    let r = srv.api().post(
        path,
        &[("Content-Type", FORM), ("DPoP", proof.proof.as_str())],
        body.as_bytes(),
    );
    r.assert_status(200, "authorize with a proof");
    let answer = r.json();
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(
        claims(str_field(&answer, "access_token"))["cnf"]["jkt"],
        proof.jkt.as_str()
    );
}

#[test]
fn every_algorithm_binds_and_is_honoured() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    for alg in ["ES256", "ES384", "RS256", "PS256", "EdDSA"] {
        let bound = token_proof(&srv, None, json!({ "alg": alg }));
        let r = exchange(&srv, &secret, Some(&bound.proof));
        r.assert_status(200, alg);
        let token = str_field(&r.json(), "access_token").to_owned();
        assert_eq!(claims(&token)["cnf"]["jkt"], bound.jkt.as_str(), "{alg}");
        let proof = call_proof(&srv, &bound.key, &token, json!({ "alg": alg }));
        call(&srv, "/api/tokens", "DPoP", &token, Some(&proof)).assert_status(200, alg);
    }
}

#[test]
fn nonces_when_required_at_the_token_endpoint_and_at_resources() {
    let srv = TestServer::start_with(TestServer::config().env("TOKEND_DPOP_NONCE", "required"));
    let secret = alice_secret(&srv);
    let first = token_proof(&srv, None, json!({}));
    let r = exchange(&srv, &secret, Some(&first.proof));
    r.assert_status(400, "no nonce");
    assert_eq!(r.json()["error"], "use_dpop_nonce");
    let nonce = r.header("DPoP-Nonce").expect("a nonce offered").to_owned();

    let forged = token_proof(
        &srv,
        Some(&first.key),
        json!({ "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
    );
    let r = exchange(&srv, &secret, Some(&forged.proof));
    r.assert_status(400, "a nonce tokend did not give");
    assert_eq!(r.json()["error"], "use_dpop_nonce");

    let retry = token_proof(&srv, Some(&first.key), json!({ "nonce": nonce }));
    let r = exchange(&srv, &secret, Some(&retry.proof));
    r.assert_status(200, "with the nonce");
    assert!(r.header("DPoP-Nonce").is_some(), "a fresh nonce offered");
    let token = str_field(&r.json(), "access_token").to_owned();

    let proof = call_proof(&srv, &first.key, &token, json!({}));
    let r = call(&srv, "/api/tokens", "DPoP", &token, Some(&proof));
    assert_dpop_401(&r, "use_dpop_nonce", "a call without the nonce");
    let nonce = r.header("DPoP-Nonce").expect("a nonce offered").to_owned();
    let proof = call_proof(&srv, &first.key, &token, json!({ "nonce": nonce }));
    let r = call(&srv, "/api/tokens", "DPoP", &token, Some(&proof));
    r.assert_status(200, "a call with the nonce");
    assert!(r.header("DPoP-Nonce").is_some(), "a fresh nonce offered");

    // Without a proof, nothing changes: Bearer, and no nonce.
    let r = exchange(&srv, &secret, None);
    r.assert_status(200, "no proof");
    assert_eq!(r.json()["token_type"], "Bearer");
    assert!(r.header("DPoP-Nonce").is_none());
}

#[test]
fn nonces_are_off_by_default_and_never_offered() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    let proof = token_proof(&srv, None, json!({}));
    let r = exchange(&srv, &secret, Some(&proof.proof));
    r.assert_status(200, "no nonce needed");
    assert!(r.header("DPoP-Nonce").is_none());
}

#[test]
fn introspection_shows_the_binding_and_discovery_the_algorithms() {
    let srv = TestServer::start();
    let secret = alice_secret(&srv);
    srv.cli().service_add("vmc", &["vmc:sddc.read"]);
    let out = srv
        .cli()
        .run(&["service", "add-client", "vmc"], None)
        .ok("service add-client");
    let mut lines = out.stdout.lines().map(|l| l.trim().to_owned());
    let (id, client_secret) = (lines.next().unwrap(), lines.next().unwrap());
    let introspect = |token: &str| -> Value {
        let body = format!(
            "token={}&client_id={}&client_secret={}",
            form_encode(token),
            form_encode(&id),
            form_encode(&client_secret)
        );
        srv.api()
            .post_form("/oauth/introspect", &body)
            .assert_status(200, "introspection")
            .json()
    };
    let bound = token_proof(&srv, None, json!({}));
    let r = exchange(&srv, &secret, Some(&bound.proof));
    let token = str_field(&r.json(), "access_token").to_owned();
    let answer = introspect(&token);
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(answer["cnf"], json!({ "jkt": bound.jkt }), "{answer}");

    let plain = exchange(&srv, &secret, None);
    let answer = introspect(str_field(&plain.json(), "access_token"));
    assert_eq!(answer["token_type"], "Bearer", "{answer}");
    assert!(answer.get("cnf").is_none(), "{answer}");

    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let metadata = srv.api().get(path, &[]).assert_status(200, path).json();
        assert_eq!(
            metadata["dpop_signing_alg_values_supported"],
            json!(["ES256", "ES384", "RS256", "PS256", "EdDSA"]),
            "{path}"
        );
    }
}
