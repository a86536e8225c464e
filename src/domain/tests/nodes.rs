//! Two authorities on one database as two nodes: a DPoP proof is used
//! once, a nonce and a pending console login carry across.

use super::*;

/// Another node serving the same database: a process of its own, with the
/// same key file.
fn other_node(f: &Fixture, settings: Settings) -> Authority {
    Authority::start(
        f.database.clone(),
        settings,
        ambient(&f.clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap()
    .0
}

/// An ES256 DPoP proof by a fixed key (p256, not the ring code that
/// verifies it), for `htm` at `path` of the test issuer, with `extra`
/// claims.
fn dpop_proof(htm: &str, path: &str, jti: &str, iat: i64, extra: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let point = key.verifying_key().to_encoded_point(false);
    let header = serde_json::json!({
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {
            "kty": "EC", "crv": "P-256",
            "x": B64.encode(point.x().unwrap()), "y": B64.encode(point.y().unwrap()),
        },
    });
    let mut claims = serde_json::json!({
        "jti": jti, "htm": htm, "htu": format!("https://tokend.test{path}"), "iat": iat,
    });
    if let serde_json::Value::Object(extra) = extra {
        for (name, value) in extra {
            claims[name] = value;
        }
    }
    let signed = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.to_bytes()))
}

const TOKEN_PATH: &str = "/oauth/provider/token";

fn a_dpop_proof_used_on_one_node_is_refused_on_another_until_forgotten(backend: Backend) {
    let mut f = Fixture::new(backend);
    let secret = f.admin_token("ci", "1h").secret;
    let mut node_b = other_node(&f, settings());
    let now = f.clock.now();
    let exchange = |node: &mut Authority, proof: &str| {
        let checked = node.check_token_request_proof(proof, "POST", TOKEN_PATH)?;
        let request = ExchangeRequest {
            dpop: Some(&checked),
            ..ExchangeRequest::default()
        };
        node.exchange_api_token(secret.reveal(), ExchangeAudience::Provider, &request, HOME)
            .and_then(|issued| issued.wait())
    };
    fn replayed<T>(result: Result<T, DomainError>, what: &str) {
        match result {
            Err(DomainError::Dpop(DpopRefusal::InvalidProof(why))) => {
                assert!(why.contains("used before"), "{what}: {why}")
            }
            Err(e) => panic!("{what}: {e:?}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
    let proof = dpop_proof("POST", TOKEN_PATH, "j1", now, serde_json::json!({}));
    let issued = exchange(&mut f.authority, &proof).unwrap();
    assert!(issued.dpop_bound);
    replayed(
        exchange(&mut node_b, &proof),
        "the exchange's proof on node b",
    );
    replayed(exchange(&mut f.authority, &proof), "and on node a");

    // A call with the bound token: its proof is used once, on any node.
    let token = issued.access_token;
    let ath = tokens::dpop::access_token_hash(&token);
    let call = dpop_proof(
        "GET",
        "/api/tokens",
        "j2",
        now,
        serde_json::json!({ "ath": ath }),
    );
    let presented = Presented {
        token: &token,
        dpop_scheme: true,
        proof: Some(&call),
        method: "GET",
        path: "/api/tokens",
    };
    node_b.authenticate_presented(&presented, HOME).unwrap();
    replayed(
        f.authority.authenticate_presented(&presented, HOME),
        "the call's proof on node a",
    );

    // Forgotten only once no node with a clock a little behind accepts them.
    let last_accepted = now + tokens::dpop::PROOF_MAX_AGE;
    f.clock
        .jump(last_accepted + tokens::dpop::PROOFS_KEPT - now);
    assert_eq!(
        f.authority.forget_spent_proofs_and_logins().unwrap(),
        (0, 0)
    );
    f.clock.jump(1);
    assert_eq!(
        f.authority.forget_spent_proofs_and_logins().unwrap(),
        (2, 0)
    );
}

fn a_dpop_nonce_one_node_gave_is_accepted_by_another(backend: Backend) {
    let f = Fixture::new(backend);
    let required = || Settings {
        dpop_nonce: DpopNonce::Required,
        ..settings()
    };
    let (node_a, node_b) = (other_node(&f, required()), other_node(&f, required()));
    let now = f.clock.now();
    let nonce = node_a.dpop_nonce().unwrap().expect("nonces are required");
    let proof = dpop_proof(
        "POST",
        TOKEN_PATH,
        "j1",
        now,
        serde_json::json!({ "nonce": nonce }),
    );
    node_b
        .check_token_request_proof(&proof, "POST", TOKEN_PATH)
        .expect("node a's nonce, on node b");
    let bare = dpop_proof("POST", TOKEN_PATH, "j2", now, serde_json::json!({}));
    match node_b.check_token_request_proof(&bare, "POST", TOKEN_PATH) {
        Err(DomainError::Dpop(DpopRefusal::UseNonce(offered))) => {
            assert_eq!(offered, nonce, "one nonce for the window, whichever node")
        }
        other => panic!("a proof without a nonce: {other:?}"),
    }
    // An admin command checks no proof and needs no nonce key.
    assert_eq!(f.other_process().dpop_nonce().unwrap(), None);
}

/// The TOTP code of `secret` (base32, as an app is given it) at `at`.
fn totp_code(secret: &str, at: i64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at as u64)
        .to_string()
}

fn a_console_login_waits_on_one_node_and_completes_once_on_another(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let enrolment = f.authority.begin_second_factor(&admin).unwrap();
    f.authority
        .confirm_second_factor(&admin, &totp_code(&enrolment.secret, f.clock.now()))
        .unwrap();
    let mut node_b = other_node(&f, settings());
    let expired = |result: Result<LoginSession, DomainError>, what: &str| match result {
        Err(DomainError::Unauthenticated(why)) => assert!(why.contains("expired"), "{what}"),
        Err(e) => panic!("{what}: {e:?}"),
        Ok(_) => panic!("{what}: logged in"),
    };
    let pending = |f: &mut Fixture| match f.admin_login(HOME) {
        Err(DomainError::SecondFactorRequired(handle)) => handle,
        other => panic!(
            "a login with a second factor: {:?}",
            other.map(|s| s.session_id)
        ),
    };

    f.clock.jump(30);
    let handle = pending(&mut f);
    assert!(matches!(
        node_b.continue_login(&handle, "000000", HOME),
        Err(DomainError::InvalidSecondFactor)
    ));
    let code = totp_code(&enrolment.secret, f.clock.now());
    expired(
        node_b.continue_login(&handle, &code, ELSEWHERE),
        "from another address",
    );
    let session = node_b.continue_login(&handle, &code, HOME).unwrap();
    node_b
        .authenticate(&session.access_token, HOME)
        .expect("node b's session");
    f.clock.jump(30);
    let next = totp_code(&enrolment.secret, f.clock.now());
    expired(
        f.authority.continue_login(&handle, &next, HOME),
        "the same login again, on node a",
    );

    // Five minutes, then forgotten.
    let late = pending(&mut f);
    f.clock.jump(301);
    let later = totp_code(&enrolment.secret, f.clock.now());
    expired(node_b.continue_login(&late, &later, HOME), "too late");
    assert_eq!(node_b.forget_spent_proofs_and_logins().unwrap(), (0, 1));
}

on_every_backend!(
    a_dpop_proof_used_on_one_node_is_refused_on_another_until_forgotten,
    a_dpop_nonce_one_node_gave_is_accepted_by_another,
    a_console_login_waits_on_one_node_and_completes_once_on_another,
);
