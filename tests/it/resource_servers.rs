//! Resource servers and clients built on real, unmodified libraries, driven
//! against the real binary: Node's `jose` (the audience, `typ` and a key
//! rotation seen by one long-lived key set), `openid-client` 6 and 5 (the
//! refresh grant with ID tokens, userinfo, introspection, revocation),
//! PyJWT, the `jsonwebtoken` crate as docs/resource-servers.md shows it, and
//! Apache's mod_auth_openidc through introspection (`apache`). The scripts
//! live in tests/resource_servers/ (their packages installed by .ci/run);
//! each prints one JSON object of what it saw, which the tests check. The
//! guide's snippets are checked to be the code these tests run.

mod apache;
mod verify_access_token;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// The identifier URIs of the services vmc and vro.
const VMC: &str = "https://vmc.example/";
const VRO: &str = "https://vro.example/";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resource_servers")
}

fn issuer(srv: &TestServer) -> String {
    format!("http://{}", srv.addr())
}

/// `program script args...` in tests/resource_servers, `input` on its
/// stdin; what it prints, as one JSON object. Bounded by 60 s.
pub(crate) fn run_script(
    program: &str,
    script: &str,
    args: &[&str],
    input: Option<&Value>,
) -> Value {
    if program == "node" {
        assert!(
            scripts().join("node_modules/jose").is_dir(),
            "tests/resource_servers/node_modules is missing: run .ci/run \
             (npm ci --prefix tests/resource_servers)"
        );
    }
    let mut child = Command::new(program)
        .arg(script)
        .args(args)
        .current_dir(scripts())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} does not start ({e}); .ci/run installs it"));
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(input) = input {
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write stdin");
    }
    drop(stdin);
    let read_all = |mut from: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let out = read_all(Box::new(child.stdout.take().expect("stdout")));
    let err = read_all(Box::new(child.stderr.take().expect("stderr")));
    let status = wait_timeout(&mut child, Duration::from_secs(60));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.is_some_and(|s| s.success()),
        "{program} {script} failed ({status:?}):\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON object ({e}):\n{stdout}\n{stderr}"))
}

/// The first line `token create` prints: the secret.
fn api_token(srv: &TestServer, user: &str, name: &str, openid: bool) -> String {
    let mut args = vec!["token", "create", user, "--name", name];
    if openid {
        args.push("--openid");
    }
    let out = srv.cli().run(&args, None).ok("token create");
    out.stdout
        .lines()
        .next()
        .expect("the secret")
        .trim()
        .to_owned()
}

/// `service add NAME --permission P`, then its identifier URI.
fn service(srv: &TestServer, name: &str, permission: &str, identifier: &str) {
    let cli = srv.cli();
    cli.service_add(name, &[permission]);
    cli.run(&["service", "set-identifier", name, identifier], None)
        .ok("service set-identifier");
}

/// `service add-client NAME`: (client id, secret).
fn introspection_client(srv: &TestServer, service: &str) -> (String, String) {
    let out = srv
        .cli()
        .run(&["service", "add-client", service], None)
        .ok("service add-client");
    let mut lines = out.stdout.lines().map(|l| l.trim().to_owned());
    (
        lines.next().expect("client id"),
        lines.next().expect("client secret"),
    )
}

/// What a test needs of acme: alice's API token and her openid one, and
/// the introspection credentials of vmc.
struct Acme {
    secret: String,
    openid_secret: String,
    client_id: String,
    client_secret: String,
}

/// acme; the services vmc (`https://vmc.example/`, vmc:sddc.read) and vro
/// (`https://vro.example/`, vro:workflow.run), published to acme; alice
/// (Token User, vmc-reader, vro-runner) with two API tokens.
fn acme(srv: &TestServer) -> Acme {
    let cli = srv.cli();
    cli.org_add("acme");
    service(srv, "vmc", "vmc:sddc.read", VMC);
    service(srv, "vro", "vro:workflow.run", VRO);
    cli.bundle_publish_new("rights", &["vmc:sddc.read", "vro:workflow.run"], "acme");
    cli.role_add("vmc-reader", Some("acme"), Some("vmc"), &["vmc:sddc.read"]);
    cli.role_add(
        "vro-runner",
        Some("acme"),
        Some("vro"),
        &["vro:workflow.run"],
    );
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER, "vmc-reader", "vro-runner"]);
    let (client_id, client_secret) = introspection_client(srv, "vmc");
    Acme {
        secret: api_token(srv, "alice@acme", "resource-servers", false),
        openid_secret: api_token(srv, "alice@acme", "portal", true),
        client_id,
        client_secret,
    }
}

/// The refresh grant at `path` with `extra` form fields; the 200 answer.
fn exchange(srv: &TestServer, path: &str, secret: &str, extra: &[(&str, &str)]) -> Value {
    srv.api()
        .post_form(path, &refresh_body(secret, extra))
        .assert_status(200, &format!("exchange at {path} with {extra:?}"))
        .json()
}

fn refresh_body(secret: &str, extra: &[(&str, &str)]) -> String {
    let mut body = format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    );
    for (name, value) in extra {
        body.push_str(&format!("&{name}={}", form_encode(value)));
    }
    body
}

/// alice's access token from acme's endpoint with `extra` form fields.
fn access_token(srv: &TestServer, acme: &Acme, extra: &[(&str, &str)]) -> String {
    let answer = exchange(srv, &tenant_token_path("acme"), &acme.secret, extra);
    str_field(&answer, "access_token").to_owned()
}

/// An ID token of alice's for the client `portal`.
fn id_token(srv: &TestServer, acme: &Acme) -> String {
    let path = tenant_token_path("acme");
    let answer = exchange(srv, &path, &acme.openid_secret, &[("client_id", "portal")]);
    str_field(&answer, "id_token").to_owned()
}

/// The `kid`s of the JWKS's EC keys.
fn ec_kids(srv: &TestServer) -> Vec<String> {
    let jwks = srv.api().jwks();
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["kty"] == "EC")
        .map(|k| str_field(k, "kid").to_owned())
        .collect()
}

fn key_rotate(srv: &TestServer, flags: &[&str]) {
    let db = srv.db().to_string_lossy().into_owned();
    let mut args = vec!["--db", &db, "key", "rotate"];
    args.extend_from_slice(flags);
    run_tokend(&args, None, &[("TOKEND_JWKS_MAX_AGE", "30s")], srv.dir())
        .ok(&format!("key rotate {flags:?}"));
}

#[test]
fn jose_accepts_tokens_for_its_audience_and_refuses_others_and_id_tokens() {
    let srv = TestServer::start();
    let acme = acme(&srv);
    let id_token = id_token(&srv, &acme);
    let no_resource = access_token(&srv, &acme, &[]);
    // Without resource or audience, the audience is the issuer.
    assert_eq!(jwt_parts(&no_resource).1["aud"], issuer(&srv));
    let input = json!({
        "issuer": issuer(&srv),
        "audience": VMC,
        "permission": "vmc:sddc.read",
        "tokens": {
            "resource": access_token(&srv, &acme, &[("resource", VMC)]),
            "both": access_token(&srv, &acme, &[("resource", VMC), ("resource", VRO)]),
            "audience": access_token(&srv, &acme, &[("audience", VMC)]),
            "no_resource": no_resource,
            "other": access_token(&srv, &acme, &[("resource", VRO)]),
            "id_token": id_token,
            "not_granted": access_token(&srv, &acme, &[("resource", VMC)]),
        },
        "permissions": {"not_granted": "vmc:sddc.write"},
        "typ_only": {"id_token": id_token},
    });
    let seen = run_script("node", "jose_checks.mjs", &[], Some(&input));

    let accepted = &seen["resource"];
    assert_eq!(accepted["ok"], true, "{seen:#}");
    assert_eq!(accepted["claims"]["aud"], VMC, "{seen:#}");
    assert_eq!(accepted["claims"]["iss"], issuer(&srv), "{seen:#}");
    assert_eq!(accepted["claims"]["username"], "alice", "{seen:#}");
    assert!(
        accepted["claims"]["perms"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("vmc:sddc.read"))),
        "{seen:#}"
    );
    assert_eq!(accepted["kid"], ec_kids(&srv)[0].as_str(), "{seen:#}");
    assert_eq!(seen["audience"]["ok"], true, "{seen:#}");
    assert_eq!(seen["both"]["ok"], true, "{seen:#}");
    let mut both: Vec<String> = serde_json::from_value(seen["both"]["claims"]["aud"].clone())
        .unwrap_or_else(|_| panic!("aud of two resources is an array: {seen:#}"));
    both.sort();
    assert_eq!(both, [VMC, VRO]);

    for refused in ["no_resource", "other"] {
        assert_eq!(seen[refused]["ok"], false, "{refused}: {seen:#}");
        assert_eq!(
            seen[refused]["code"], "ERR_JWT_CLAIM_VALIDATION_FAILED",
            "{refused}: {seen:#}"
        );
        assert_eq!(seen[refused]["claim"], "aud", "{refused}: {seen:#}");
    }
    // An ID token (RS256) is no access token: refused for its algorithm,
    // and for its `typ` by a check of that alone.
    assert_eq!(seen["id_token"]["ok"], false, "{seen:#}");
    assert_eq!(
        seen["id_token"]["code"], "ERR_JOSE_ALG_NOT_ALLOWED",
        "{seen:#}"
    );
    assert_eq!(seen["typ_only"]["id_token"]["claim"], "typ", "{seen:#}");
    assert_eq!(
        seen["not_granted"]["message"], "vmc:sddc.write is not granted",
        "{seen:#}"
    );
}

/// One jose key set (the library's defaults: a refetch for an unknown
/// `kid` at most every 30 s) lives through `key rotate --delay 35s`: the
/// new key is published at once and signs only after the delay, so no
/// token is ever refused. A rotation that signed at once would be refused
/// for up to 30 s.
#[test]
fn jose_keeps_verifying_through_a_key_rotation() {
    let srv = TestServer::config()
        .env("TOKEND_JWKS_MAX_AGE", "30s")
        .start();
    let acme = acme(&srv);
    let jwks = srv.api().get("/.well-known/jwks.json", &[]);
    assert_eq!(
        jwks.header("Cache-Control"),
        Some("public, max-age=30"),
        "{}",
        jwks.describe()
    );
    assert!(
        scripts().join("node_modules/jose").is_dir(),
        "tests/resource_servers/node_modules is missing: run .ci/run"
    );
    let mut child = Command::new("node")
        .args([
            "jose_rotation.mjs",
            &issuer(&srv),
            "acme",
            &acme.secret,
            VMC,
            "vmc:sddc.read",
        ])
        .current_dir(scripts())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let stderr = child.stderr.take().expect("stderr");
    let errors = thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen: Vec<Value> = Vec::new();
    let mut next = |seen: &mut Vec<Value>| -> Value {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        seen.push(v.clone());
        v
    };

    let first = next(&mut seen);
    assert_eq!(first["ok"], true, "the first token verifies: {first}");
    let old_kid = str_field(&first, "kid").to_owned();
    key_rotate(&srv, &["--delay", "35s"]);
    let rotated = Instant::now();
    let published = ec_kids(&srv);
    assert_eq!(
        published.len(),
        2,
        "the new key is published at once: {published:?}"
    );
    let new_kid = published
        .iter()
        .find(|k| **k != old_kid)
        .expect("a new kid")
        .clone();

    let mut first_new: Option<Duration> = None;
    let done = loop {
        let v = next(&mut seen);
        if v["done"] == true || v.is_null() {
            break v;
        }
        if v["kid"] == new_kid.as_str() && first_new.is_none() {
            first_new = Some(rotated.elapsed());
        }
    };
    let _ = child.wait();
    let errors = errors.join().unwrap();
    let transcript = format!("{seen:#?}\n{errors}");
    assert_eq!(done["refused"], 0, "no token is refused: {transcript}");
    assert_eq!(done["kids"], json!([old_kid, new_kid]), "{transcript}");
    assert!(
        done["verified"][&new_kid].as_u64().is_some_and(|n| n >= 3),
        "{transcript}"
    );
    assert_eq!(done["first_still_verifies"], true, "{transcript}");
    let waited = first_new.expect("a token signed with the new key");
    assert!(
        waited >= Duration::from_secs(30),
        "the new key signs only after the delay, not after {waited:?}: {transcript}"
    );
    let listed = srv.cli().run(&["key", "list"], None).ok("key list").stdout;
    assert!(
        listed.contains(&new_kid),
        "key list shows {new_kid}: {listed}"
    );
}

/// ops@System, a provider user with an openid API token; `roles` besides
/// Token User.
fn provider_user_with_openid(srv: &TestServer, roles: &[&str]) -> String {
    let mut all = vec![ROLE_TOKEN_USER];
    all.extend_from_slice(roles);
    srv.cli().user_add("ops@System", &all);
    api_token(srv, "ops@System", "relying-party", true)
}

#[test]
fn openid_client_6_refreshes_validates_introspects_and_revokes() {
    let srv = TestServer::start();
    service(&srv, "vmc", "vmc:sddc.read", VMC);
    srv.cli()
        .role_add("vmc-reader", None, Some("vmc"), &["vmc:sddc.read"]);
    let secret = provider_user_with_openid(&srv, &["vmc-reader"]);
    let (client_id, client_secret) = introspection_client(&srv, "vmc");
    let iss = issuer(&srv);
    let seen = run_script(
        "node",
        "openid_client_6.mjs",
        &[&iss, "cli-6", &secret, VMC, &client_id, &client_secret],
        None,
    );

    let metadata = &seen["metadata"];
    assert_eq!(metadata["token_endpoint"], format!("{iss}{PROVIDER_TOKEN}"));
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"]),
        "{seen:#}"
    );
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    let id_token = &seen["id_token"]["claims"];
    assert_eq!(seen["id_token"]["alg"], "RS256", "{seen:#}");
    assert_eq!(id_token["aud"], "cli-6", "{seen:#}");
    assert_eq!(id_token["azp"], "cli-6", "{seen:#}");
    assert_eq!(id_token["iss"], iss.as_str(), "{seen:#}");
    assert_eq!(id_token["preferred_username"], "ops", "{seen:#}");
    assert_eq!(id_token["org_name"], "System", "{seen:#}");
    let auth_time = id_token["auth_time"].as_i64().expect("auth_time");
    assert_near(
        auth_time,
        now_secs(),
        120,
        "auth_time: when the API token was made",
    );
    assert_eq!(seen["second_id_token"]["auth_time"], auth_time, "{seen:#}");
    assert_eq!(seen["second_id_token"]["aud"], "cli-6", "{seen:#}");
    assert_eq!(seen["access_token_aud"], VMC, "{seen:#}");

    assert_eq!(seen["userinfo"]["sub"], id_token["sub"], "{seen:#}");
    assert_eq!(seen["userinfo"]["preferred_username"], "ops", "{seen:#}");
    assert_eq!(seen["other_client"]["error"], "invalid_grant", "{seen:#}");

    let described = &seen["introspected"];
    assert_eq!(described["active"], true, "{seen:#}");
    assert_eq!(described["token_type"], "Bearer", "{seen:#}");
    assert_eq!(described["username"], "ops", "{seen:#}");
    assert_eq!(described["aud"], VMC, "{seen:#}");
    assert_eq!(described["sub"], id_token["sub"], "{seen:#}");
    assert_eq!(seen["api_token_introspected"], json!({"active": false}));
    assert_eq!(seen["after_revocation"], json!({"active": false}));
}

#[test]
fn openid_client_5_with_its_defaults_validates_rs256_id_tokens() {
    let srv = TestServer::start();
    let secret = provider_user_with_openid(&srv, &[]);
    let iss = issuer(&srv);
    let seen = run_script(
        "node",
        "openid_client_5.mjs",
        &[&iss, "cli-5", &secret],
        None,
    );

    assert_eq!(seen["issuer"], iss.as_str());
    assert_eq!(seen["id_token_signed_response_alg"], "RS256");
    assert_eq!(seen["id_token"]["alg"], "RS256", "{seen:#}");
    let claims = &seen["id_token"]["claims"];
    assert_eq!(claims["aud"], "cli-5", "{seen:#}");
    assert_eq!(claims["azp"], "cli-5", "{seen:#}");
    assert_eq!(claims["preferred_username"], "ops", "{seen:#}");
    assert_eq!(seen["userinfo"]["sub"], claims["sub"], "{seen:#}");
    assert_eq!(seen["userinfo"]["org_name"], "System", "{seen:#}");
    assert_eq!(seen["tampered"]["refused"], true, "{seen:#}");
}

#[test]
fn pyjwt_accepts_tokens_for_its_audience_and_stops_at_a_compromised_key() {
    let srv = TestServer::start();
    let acme = acme(&srv);
    let resource = access_token(&srv, &acme, &[("resource", VMC)]);
    let mut input = json!({
        "issuer": issuer(&srv),
        "audience": VMC,
        "permission": "vmc:sddc.read",
        "tokens": {
            "resource": resource,
            "both": access_token(&srv, &acme, &[("audience", VRO), ("audience", VMC)]),
            "other": access_token(&srv, &acme, &[("resource", VRO)]),
            "no_resource": access_token(&srv, &acme, &[]),
            "id_token": id_token(&srv, &acme),
            "not_granted": resource,
        },
        "permissions": {"not_granted": "vmc:sddc.write"},
    });
    let seen = run_script("python3", "pyjwt_verify.py", &[], Some(&input));

    let accepted = &seen["resource"];
    assert_eq!(accepted["ok"], true, "{seen:#}");
    assert_eq!(accepted["header"]["typ"], "at+jwt", "{seen:#}");
    assert_eq!(accepted["header"]["alg"], "ES256", "{seen:#}");
    assert_eq!(accepted["claims"]["aud"], VMC, "{seen:#}");
    assert_eq!(seen["both"]["ok"], true, "{seen:#}");
    for refused in ["other", "no_resource"] {
        assert_eq!(
            seen[refused]["error"], "InvalidAudienceError",
            "{refused}: {seen:#}"
        );
    }
    assert_eq!(seen["id_token"]["error"], "InvalidTokenError", "{seen:#}");
    assert!(
        seen["id_token"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("not an access token")),
        "{seen:#}"
    );
    assert_eq!(seen["not_granted"]["error"], "PermissionError", "{seen:#}");

    // A compromised key: `key rotate --now` withdraws it, so a token it
    // signed no longer verifies, and new tokens carry the new key.
    let old_kid = str_field(&jwt_parts(&resource).0, "kid").to_owned();
    key_rotate(&srv, &["--now"]);
    input["tokens"] = json!({
        "old": resource,
        "new": access_token(&srv, &acme, &[("resource", VMC)]),
    });
    let after = run_script("python3", "pyjwt_verify.py", &[], Some(&input));
    assert_eq!(after["old"]["error"], "PyJWKClientError", "{after:#}");
    assert_eq!(after["new"]["ok"], true, "{after:#}");
    assert_ne!(after["new"]["header"]["kid"], old_kid.as_str(), "{after:#}");
}

#[test]
fn jsonwebtoken_verifies_as_the_guide_shows() {
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::jwk::JwkSet;
    use verify_access_token::{verify_access_token, Refused};

    let srv = TestServer::start();
    let acme = acme(&srv);
    let iss = issuer(&srv);
    let fetch = || -> JwkSet { serde_json::from_value(srv.api().jwks()).expect("a JWK set") };
    let jwks = fetch();
    let verify = |token: &str, jwks: &JwkSet, permission: &str| {
        verify_access_token(token, jwks, &iss, VMC, permission)
    };

    let resource = access_token(&srv, &acme, &[("resource", VMC)]);
    let claims = verify(&resource, &jwks, "vmc:sddc.read").expect("a token for vmc verifies");
    assert_eq!(claims.username, "alice");
    assert_eq!(claims.org_name, "acme");
    assert!(!claims.sub.is_empty());
    assert!(claims.perms.iter().any(|p| p == "vmc:sddc.read"));
    assert!(matches!(
        verify(&resource, &jwks, "vmc:sddc.write"),
        Err(Refused::NotGranted)
    ));
    let no_resource = access_token(&srv, &acme, &[]);
    match verify(&no_resource, &jwks, "vmc:sddc.read") {
        Err(Refused::Invalid(e)) => assert_eq!(*e.kind(), ErrorKind::InvalidAudience),
        other => panic!("a token for the issuer: {other:?}"),
    }
    assert!(matches!(
        verify(&id_token(&srv, &acme), &jwks, "vmc:sddc.read"),
        Err(Refused::NotAnAccessToken)
    ));
    let tampered = flip_char(&resource, resource.len() - 10);
    match verify(&tampered, &jwks, "vmc:sddc.read") {
        Err(Refused::Invalid(e)) => assert_eq!(*e.kind(), ErrorKind::InvalidSignature),
        other => panic!("a tampered token: {other:?}"),
    }

    // After a rotation the new key is unknown to the JWKS in hand: fetched
    // again, it verifies.
    key_rotate(&srv, &["--now"]);
    let newer = access_token(&srv, &acme, &[("resource", VMC)]);
    assert!(matches!(
        verify(&newer, &jwks, "vmc:sddc.read"),
        Err(Refused::UnknownKey)
    ));
    verify(&newer, &fetch(), "vmc:sddc.read").expect("verifies with the JWKS fetched again");
}

/// What resource servers rely on, over plain HTTP: the discovery values,
/// the JWKS's caching, refused targets, and introspection that knows API
/// tokens from access tokens whatever the client authentication.
#[test]
fn discovery_targets_and_introspection_over_plain_http() {
    let srv = TestServer::start();
    let acme = acme(&srv);
    let oc = srv.api().openid_configuration();
    assert_eq!(
        oc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(oc["token_endpoint_auth_methods_supported"], json!(["none"]));
    let jwks = srv.api().get("/.well-known/jwks.json", &[]);
    assert_eq!(jwks.header("Cache-Control"), Some("public, max-age=300"));
    let keys = jwks.json()["keys"].clone();
    let kinds: Vec<&str> = keys
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kty"].as_str().unwrap_or(""))
        .collect();
    assert!(
        kinds.contains(&"EC") && kinds.contains(&"RSA"),
        "{}",
        jwks.text()
    );

    let path = tenant_token_path("acme");
    for field in ["resource", "audience"] {
        let body = refresh_body(&acme.secret, &[(field, "https://unknown.example/")]);
        srv.api()
            .post_form(&path, &body)
            .assert_oauth_error("invalid_target", field);
    }

    let token = access_token(&srv, &acme, &[("resource", VMC)]);
    // client_secret_basic, the credentials form-urlencoded as RFC 6749
    // §2.3.1 has them (openid-client 6 writes `-` as `%2D`).
    let encoded = |s: &str| s.replace('-', "%2D");
    let introspect_basic = |id: &str, secret: &str, token: &str| -> Value {
        let auth = basic(id, secret);
        srv.api()
            .post(
                "/oauth/introspect",
                &[("Content-Type", FORM), ("Authorization", &auth)],
                format!("token={}", form_encode(token)).as_bytes(),
            )
            .assert_status(200, "introspection")
            .json()
    };
    let (id, secret) = (&acme.client_id, &acme.client_secret);
    let described = introspect_basic(&encoded(id), &encoded(secret), &token);
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["aud"], VMC, "{described}");
    assert_eq!(described["token_type"], "Bearer", "{described}");
    assert_eq!(
        introspect_basic(id, secret, &acme.secret),
        json!({"active": false}),
        "an API token is never active at introspection"
    );
    // client_secret_post.
    let body = format!(
        "token={}&client_id={}&client_secret={}",
        form_encode(&acme.secret),
        form_encode(id),
        form_encode(secret)
    );
    let posted = srv
        .api()
        .post_form("/oauth/introspect", &body)
        .assert_status(200, "client_secret_post")
        .json();
    assert_eq!(posted, json!({"active": false}));
}

/// The guide's DPoP verifier (verify_dpop.mjs, over the guide's jose
/// verifier) on a token bound at the exchange to a key of jose's: a fresh
/// proof passes; the same proof again, the token as Bearer, a proof by
/// another key, for another URL or with another token's hash do not.
#[test]
fn the_guides_dpop_verifier_checks_proof_key_and_replay() {
    let srv = TestServer::start();
    let acme = acme(&srv);
    let make = |spec: Value| run_script("node", "dpop_proof.mjs", &[], Some(&spec));
    let path = tenant_token_path("acme");
    let bound = make(json!({ "htm": "POST", "htu": format!("{}{path}", issuer(&srv)) }));
    let answer = srv
        .api()
        .post(
            &path,
            &[("Content-Type", FORM), ("DPoP", str_field(&bound, "proof"))],
            refresh_body(&acme.secret, &[("resource", VMC)]).as_bytes(),
        )
        .assert_status(200, "a bound token for vmc")
        .json();
    assert_eq!(answer["token_type"], "DPoP");
    let token = str_field(&answer, "access_token");
    let url = "https://vmc.example/sddcs?limit=5";
    let proof = |key: &Value, extra: Value| -> String {
        let mut spec =
            json!({ "key": key, "htm": "GET", "htu": "https://vmc.example/sddcs", "token": token });
        for (name, value) in extra.as_object().expect("an object") {
            spec[name] = value.clone();
        }
        str_field(&make(spec), "proof").to_owned()
    };
    let key = &bound["key"];
    let fresh = proof(key, json!({}));
    let other_key = make(json!({ "htm": "GET", "htu": url }))["key"].clone();
    let request = |authorization: String, dpop: &str| json!({ "method": "GET", "url": url, "authorization": authorization, "dpop": dpop });
    let requests = [
        request(format!("DPoP {token}"), &fresh),
        request(format!("DPoP {token}"), &fresh),
        request(format!("Bearer {token}"), &proof(key, json!({}))),
        request(format!("DPoP {token}"), &proof(&other_key, json!({}))),
        request(
            format!("DPoP {token}"),
            &proof(key, json!({ "htu": "https://vmc.example/other" })),
        ),
        request(
            format!("DPoP {token}"),
            &proof(key, json!({ "token": "another token" })),
        ),
    ];
    let out = run_script(
        "node",
        "dpop_resource_server.mjs",
        &[],
        Some(&json!({
            "issuer": issuer(&srv),
            "audience": VMC,
            "permission": "vmc:sddc.read",
            "requests": requests,
        })),
    );
    let errors: Vec<Value> = out["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            if r["ok"] == true {
                json!("ok")
            } else {
                r["error"].clone()
            }
        })
        .collect();
    assert_eq!(
        errors,
        [
            "ok",
            "invalid_dpop_proof",
            "invalid_token",
            "invalid_token",
            "invalid_dpop_proof",
            "invalid_dpop_proof"
        ],
        "{out}"
    );
}

/// The guide shows what the tests run: each snippet of
/// docs/resource-servers.md is, verbatim, a script's core, the Rust module
/// above, or the Apache configuration the Apache test includes.
#[test]
fn the_guide_shows_the_code_the_tests_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("docs/resource-servers.md")).expect("the guide");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect(path);
    let between = |text: &str, begin: &str, end: &str| -> String {
        let start = text.find(begin).expect(begin) + begin.len();
        let stop = text[start..].find(end).expect(end) + start;
        text[start..stop].trim_matches('\n').to_owned()
    };
    let rust = read("tests/it/resource_servers/verify_access_token.rs");
    let rust_body: String = rust
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let snippets = [
        (
            "verify_access_token.mjs",
            read("tests/resource_servers/verify_access_token.mjs"),
        ),
        (
            "openid_client_6.mjs (introspection)",
            between(
                &read("tests/resource_servers/openid_client_6.mjs"),
                "// guide:introspection:begin",
                "// guide:introspection:end",
            ),
        ),
        (
            "pyjwt_verify.py",
            between(
                &read("tests/resource_servers/pyjwt_verify.py"),
                "# guide:begin",
                "# guide:end",
            ),
        ),
        ("verify_access_token.rs", rust_body),
        (
            "verify_dpop.mjs",
            read("tests/resource_servers/verify_dpop.mjs"),
        ),
        (
            "apache-resource-server.conf",
            read("tests/resource_servers/apache-resource-server.conf"),
        ),
    ];
    for (name, snippet) in snippets {
        let snippet = snippet.trim();
        assert!(
            guide.contains(snippet),
            "docs/resource-servers.md does not show {name} as the tests run it:\n{snippet}"
        );
    }
}
