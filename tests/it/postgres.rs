//! Several tokend nodes on one PostgreSQL database, as an HA deployment
//! runs them behind a load balancer: whatever one node changes, every
//! other node honours at once (revocations, keys, the directory), the
//! nodes share one audit trail, and a node killed mid-load loses nothing
//! it acknowledged. What a request leaves for the next one is shared too:
//! a DPoP proof used on one node is refused on the other, a DPoP nonce one
//! node gave out is accepted by the other, and a console login whose
//! password went to one node completes its second factor on the other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::dpop::make_proof;
use crate::second_factor::code_at;
use crate::support::*;

/// The load balancer's address: the issuer every node names.
const ISSUER: &str = "http://tokend.example";

/// Two nodes on a new database behind one issuer, sharing one key file
/// (the first made it).
fn two_nodes() -> (TestServer, TestServer, TempDir) {
    two_nodes_with(&[])
}

/// The same, each node with the environment `env` as well.
fn two_nodes_with(env: &[(&str, &str)]) -> (TestServer, TestServer, TempDir) {
    let url = postgres_database();
    let shared = TempDir::new();
    let key_file = shared.path.join("tokend.key");
    let node = || {
        let mut config = TestServer::config()
            .postgres(&url)
            .key_file(&key_file)
            .env("TOKEND_ISSUER", ISSUER);
        for (name, value) in env {
            config = config.env(name, value);
        }
        config.start()
    };
    let first = node();
    let second = node();
    (first, second, shared)
}

#[test]
fn a_node_on_postgres_serves_the_whole_flow() {
    let srv = TestServer::config().postgres(&postgres_database()).start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let org = api.create_org(&admin, "Acme").id;
    srv.cli()
        .user_add("alice@Acme", &["Organization Administrator"]);
    let alice = api.user_login("alice@Acme").access_token;
    let token = api.create_token(&alice, "ci", Some("30m"));
    let access = api.exchange_tenant("Acme", &token.secret).access_token;
    let info = api.session_info(&access);
    assert_eq!(info.org.id, org);
    assert_eq!(info.api_token_id.as_deref(), Some(token.id.as_str()));
    let listed = srv.cli().token_rows(&[]);
    assert!(
        listed
            .iter()
            .any(|row| row.id == token.id && row.status == "active"),
        "{listed:?}"
    );
    // Names are one regardless of ASCII case, as in SQLite.
    api.try_create_org(&admin, "ACME")
        .assert_status(409, "an org name differing in case only");
}

#[test]
fn a_token_revoked_on_one_node_is_refused_on_the_other_within_a_second() {
    let (a, b, _shared) = two_nodes();
    let admin_a = a.api().admin_login().access_token;
    let token = a.api().create_token(&admin_a, "ci", Some("30m"));
    let access = b.api().exchange_provider(&token.secret).access_token;
    b.api()
        .try_session_info(&access)
        .assert_status(200, "before");

    let admin_b = b.api().admin_login().access_token;
    let revoked_at = Instant::now();
    a.api().revoke_token(&admin_a, &token.id);
    let refused = eventually(Duration::from_secs(1), || {
        let answer = b.api().try_exchange_provider(&token.secret);
        (answer.status == 400).then_some(answer)
    });
    assert!(
        refused.is_some(),
        "node b still exchanges a token node a revoked, after {:?}",
        revoked_at.elapsed()
    );
    b.api()
        .try_session_info(&access)
        .assert_bearer_401("an access token derived from the revoked token, on node b");
    // One trail: node b sees node a's revocation event.
    let events = b.api().audit(&admin_b, "type=token.revoke").events;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn keys_rotated_through_one_node_sign_and_verify_on_every_node() {
    let (a, b, _shared) = two_nodes();
    let before = a.api().admin_login().access_token;
    let out = a
        .cli()
        .run(&["key", "rotate", "--now"], None)
        .ok("key rotate --now");
    let kids: Vec<String> = out.stdout.lines().map(|l| l.trim().to_owned()).collect();
    assert_eq!(kids.len(), 2, "{out:#?}");
    for node in [&a, &b] {
        let served: Vec<String> = node.api().jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| str_field(k, "kid").to_owned())
            .collect();
        assert!(
            kids.iter().all(|kid| served.contains(kid)),
            "node {} publishes the new keys: {served:?}",
            node.addr()
        );
    }
    // Signed on one node, honoured on the other; the old key's tokens are
    // refused on both.
    let signed_by_b = b.api().admin_login().access_token;
    let (header, _) = jwt_parts(&signed_by_b);
    assert!(kids.iter().any(|k| header["kid"] == k.as_str()), "{header}");
    a.api()
        .try_session_info(&signed_by_b)
        .assert_status(200, "a token node b signed, on node a");
    for node in [&a, &b] {
        node.api()
            .try_session_info(&before)
            .assert_bearer_401("a token of the key retired at once");
    }
}

#[test]
fn nodes_starting_together_on_an_empty_database_make_one_authority() {
    let url = postgres_database();
    let shared = TempDir::new();
    let key_file = shared.path.join("tokend.key");
    // The key file is made first, as an operator hands every node a copy.
    run_tokend(&["--db", &url, "migrate"], None, &[], &shared.path).ok("migrate");
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (url, key_file) = (url.clone(), key_file.clone());
            thread::spawn(move || {
                TestServer::config()
                    .postgres(&url)
                    .key_file(&key_file)
                    .start()
            })
        })
        .collect();
    let nodes: Vec<TestServer> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    let admin = nodes[0].api().admin_login().access_token;
    let initialised = nodes[0]
        .api()
        .audit(&admin, "type=system.initialize")
        .events;
    assert_eq!(initialised.len(), 1, "{initialised:?}");
    let kids = |node: &TestServer| -> Vec<String> {
        let mut kids: Vec<String> = node.api().jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| str_field(k, "kid").to_owned())
            .collect();
        kids.sort();
        kids
    };
    for node in &nodes[1..] {
        node.api().admin_login();
        assert_eq!(kids(node), kids(&nodes[0]), "one set of keys");
    }
}

#[test]
fn a_node_killed_mid_load_loses_no_acknowledged_exchange() {
    let (a, b, _shared) = two_nodes();
    let admin = b.api().admin_login().access_token;
    let token = b.api().create_token(&admin, "load", Some("1h"));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = a.addr().to_owned();
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (acknowledged, stop, secret) = (
                Arc::clone(&acknowledged),
                Arc::clone(&stop),
                token.secret.clone(),
            );
            let client = Client::new(&addr);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let answer = client.try_exchange_provider(&secret);
                    if answer.status != 200 {
                        // Refused or cut off by the kill: not acknowledged.
                        continue;
                    }
                    let access = answer.json()["access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(jti) = jti_of(&access) {
                        acknowledged.lock().unwrap().push(jti);
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    send_signal(a.pid(), "KILL");
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        let _ = loader.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {} exchanges",
        acknowledged.len()
    );
    // Every exchange node a answered 200 has its event in the trail, read
    // on the surviving node.
    let recorded: Vec<String> = b
        .api()
        .every_event(&admin, "type=token.exchange")
        .iter()
        .filter_map(|e| {
            e["additionalProperties"]["accessTokenId"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|jti| !recorded.contains(jti))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged exchanges have no event: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
}

fn jti_of(jwt: &str) -> Option<String> {
    let (_, claims) = jwt_parts(jwt);
    claims["jti"].as_str().map(str::to_owned)
}

/// The provider's refresh grant on `node`, with `DPoP: proof`.
fn dpop_exchange(node: &TestServer, secret: &str, proof: &str) -> Response {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    );
    node.api().post(
        PROVIDER_TOKEN,
        &[("Content-Type", FORM), ("DPoP", proof)],
        body.as_bytes(),
    )
}

/// `GET /api/tokens` on `node` with a DPoP-bound `token` and `proof`.
fn dpop_call(node: &TestServer, token: &str, proof: &str) -> Response {
    let authorization = format!("DPoP {token}");
    node.api().get(
        "/api/tokens",
        &[("Authorization", authorization.as_str()), ("DPoP", proof)],
    )
}

/// A proof by `key` for `htm` at `path` of the load balancer's address,
/// with `extra` members of the script's spec.
fn proof_for(key: &Value, htm: &str, path: &str, extra: Value) -> String {
    let mut spec = json!({ "key": key, "htm": htm, "htu": format!("{ISSUER}{path}") });
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            spec[name] = value;
        }
    }
    make_proof(spec).proof
}

fn error_of(r: &Response) -> String {
    if r.status == 401 {
        r.header("WWW-Authenticate").unwrap_or_default().to_owned()
    } else {
        r.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

#[test]
fn a_dpop_proof_is_used_once_across_nodes_and_either_node_takes_the_others_nonce() {
    let (a, b, _shared) = two_nodes_with(&[("TOKEND_DPOP_NONCE", "required")]);
    let admin = a.api().admin_login().access_token;
    let secret = a.api().create_token(&admin, "ci", Some("30m")).secret;
    let key = make_proof(json!({ "htm": "POST", "htu": ISSUER })).key;

    // Node a asks for a nonce, and node b takes it.
    let asked = dpop_exchange(
        &a,
        &secret,
        &proof_for(&key, "POST", PROVIDER_TOKEN, json!({})),
    );
    asked.assert_status(400, "a proof without a nonce");
    assert_eq!(error_of(&asked), "use_dpop_nonce");
    let nonce = asked
        .header("DPoP-Nonce")
        .expect("node a's nonce")
        .to_owned();
    let proof = proof_for(&key, "POST", PROVIDER_TOKEN, json!({ "nonce": nonce }));
    let bound = dpop_exchange(&b, &secret, &proof);
    bound.assert_status(200, "node a's nonce on node b");
    assert_eq!(bound.json()["token_type"], "DPoP");
    let token = str_field(&bound.json(), "access_token").to_owned();
    let nonce = bound
        .header("DPoP-Nonce")
        .expect("node b's nonce")
        .to_owned();

    // The same proof again, on node a: replayed.
    let again = dpop_exchange(&a, &secret, &proof);
    again.assert_status(400, "node b's exchange proof on node a");
    assert_eq!(
        error_of(&again),
        "invalid_dpop_proof",
        "{}",
        again.describe()
    );

    // A call's proof, used on node a and replayed on node b.
    let call = proof_for(
        &key,
        "GET",
        "/api/tokens",
        json!({ "token": token, "nonce": nonce }),
    );
    dpop_call(&a, &token, &call).assert_status(200, "node b's nonce and token on node a");
    let replayed = dpop_call(&b, &token, &call);
    replayed.assert_status(401, "node a's call proof on node b");
    assert!(
        error_of(&replayed).contains(r#"error="invalid_dpop_proof""#),
        "{}",
        replayed.describe()
    );
}

#[test]
fn a_login_whose_password_went_to_one_node_completes_its_second_factor_on_the_other() {
    let (a, b, _shared) = two_nodes();
    let admin = a.api().admin_login().access_token;
    let begun = a.api().post(
        "/api/users/me/2fa",
        &[("Authorization", bearer(&admin).as_str())],
        b"",
    );
    begun.assert_status(201, "begin enrolment");
    let uri = str_field(&begun.json(), "otpauth_uri").to_owned();
    // Codes of the step now and the next: the server takes a step of
    // skew, and each code only after the last one it took.
    let now = now_secs();
    let confirmed = a.api().post(
        "/api/users/me/2fa/confirm",
        &[
            ("Authorization", bearer(&admin).as_str()),
            ("Content-Type", "application/json"),
        ],
        json!({ "code": code_at(&uri, now) }).to_string().as_bytes(),
    );
    confirmed.assert_status(200, "confirm enrolment");
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.json()["recovery_codes"].clone()).expect("codes");

    // The console: the password on node a, the code on node b.
    let form = format!(
        "org=System&user=administrator&password={}&next=",
        form_encode(ADMIN_PASSWORD)
    );
    let password = a
        .api()
        .post("/console/login", &[("Content-Type", FORM)], form.as_bytes());
    password.assert_status(200, "the password, on node a");
    let page = password.text();
    let handle = page
        .split(r#"name="login" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the pending login's handle: {page}"))
        .to_owned();
    let code_form = |code: &str| {
        format!(
            "login={}&code={}&next=",
            form_encode(&handle),
            form_encode(code)
        )
    };
    let second = b.api().post(
        "/console/login/code",
        &[("Content-Type", FORM)],
        code_form(&code_at(&uri, now + 30)).as_bytes(),
    );
    second.assert_status(303, "the code, on node b");
    assert!(
        second
            .header("Set-Cookie")
            .is_some_and(|c| c.contains("HttpOnly")),
        "{}",
        second.describe()
    );
    // Used once: the same login again, on node a, with a code it would
    // take, is over.
    let again = a.api().post(
        "/console/login/code",
        &[("Content-Type", FORM)],
        code_form(&recovery[0]).as_bytes(),
    );
    again.assert_status(401, "the login completed on node b, again on node a");
    assert!(again.text().contains("expired"), "{}", again.describe());

    // The API's login carries its code: asked for by node a, given to node b.
    let authorization = basic(ADMIN, ADMIN_PASSWORD);
    let asked = a.api().post(
        PROVIDER_SESSIONS,
        &[("Authorization", authorization.as_str())],
        b"",
    );
    asked.assert_status(401, "no code, on node a");
    assert_eq!(asked.json()["error"], "second_factor_required");
    b.api()
        .post(
            PROVIDER_SESSIONS,
            &[
                ("Authorization", authorization.as_str()),
                ("X-Tokend-OTP", recovery[0].as_str()),
            ],
            b"",
        )
        .assert_status(200, "a recovery code, on node b");
}
