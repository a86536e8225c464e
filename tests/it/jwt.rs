//! Access tokens as JWTs, checked with an independent implementation (the
//! `jsonwebtoken` crate): the JWKS publishes one public P-256 key per `kid`
//! (never a private component), the OpenID configuration is consistent with
//! the issuer, tokens verify as ES256 against the served key, and their
//! claims (`iss`, `sub`, `iat`, `exp`, `jti`, `org_id`, `org_name`,
//! `username`, `rt` or `sid`) match what the API reports. Also the
//! configurable access-token lifetime and issuer.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::common::*;

fn openid(srv: &TestServer) -> Value {
    let r = srv.get("/.well-known/openid-configuration", &[]);
    r.assert_status(200, "openid-configuration");
    r.assert_json("openid-configuration")
}

fn jwks(srv: &TestServer) -> Value {
    let r = srv.get("/.well-known/jwks.json", &[]);
    r.assert_status(200, "jwks");
    r.assert_json("jwks")
}

/// Verify `jwt` against the served JWKS with `jsonwebtoken`; returns (header kid, claims).
fn verify(srv: &TestServer, jwt: &str, issuer: &str) -> (String, Value) {
    let header = jsonwebtoken::decode_header(jwt).expect("JWT header");
    assert_eq!(header.alg, Algorithm::ES256, "alg");
    let kid = header.kid.clone().expect("kid in JWT header");
    let keys = jwks(srv);
    let jwk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS {keys}"))
        .clone();
    let key =
        DecodingKey::from_ec_components(s(&jwk, "x"), s(&jwk, "y")).expect("EC key from JWKS");
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .unwrap_or_else(|e| panic!("JWT does not verify against the JWKS: {e}"));
    (kid, data.claims)
}

#[test]
fn openid_configuration_and_jwks_are_consistent() {
    let srv = TestServer::start();
    let oc = openid(&srv);
    let issuer = s(&oc, "issuer");
    assert_eq!(
        issuer,
        format!("http://{}", srv.addr),
        "default issuer is http://<listen addr>"
    );
    let jwks_uri = s(&oc, "jwks_uri");
    assert_eq!(jwks_uri, format!("{issuer}/.well-known/jwks.json"), "{oc}");
    let token_endpoint = s(&oc, "token_endpoint");
    let te_path = token_endpoint
        .strip_prefix(issuer)
        .unwrap_or_else(|| panic!("token_endpoint on the issuer: {oc}"));
    assert!(
        te_path == PROVIDER_TOKEN
            || te_path == AUTHORIZE
            || (te_path.starts_with("/oauth/tenant/") && te_path.ends_with("/token")),
        "token_endpoint is one of the token endpoints: {oc}"
    );
    assert_eq!(
        oc["grant_types_supported"],
        serde_json::json!(["refresh_token"]),
        "{oc}"
    );
    assert_eq!(
        oc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"]),
        "{oc}"
    );
    assert_eq!(
        oc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"]),
        "{oc}"
    );
    assert!(oc["response_types_supported"].is_array(), "{oc}");
    assert!(oc["subject_types_supported"].is_array(), "{oc}");

    // jwks_uri serves the same document as the well-known path.
    let path = jwks_uri.strip_prefix(issuer).unwrap();
    let via_uri = srv.get(path, &[]);
    via_uri.assert_status(200, "jwks_uri");
    assert_eq!(via_uri.json(), jwks(&srv));

    // The token endpoint answers POSTs as a token endpoint.
    let r = srv.post_form(te_path, "");
    r.assert_status(400, "token_endpoint with an empty form");
    r.assert_no_store("token_endpoint");
}

#[test]
fn jwks_publishes_public_p256_keys_only() {
    let srv = TestServer::start();
    let keys = jwks(&srv);
    let list = keys["keys"].as_array().expect("keys array");
    assert!(!list.is_empty(), "{keys}");
    let mut kids = std::collections::HashSet::new();
    for k in list {
        assert_eq!(k["kty"], "EC", "{k}");
        assert_eq!(k["crv"], "P-256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        assert_eq!(k["alg"], "ES256", "{k}");
        assert_eq!(b64url_decode(s(k, "x")).len(), 32, "x is 32 bytes: {k}");
        assert_eq!(b64url_decode(s(k, "y")).len(), 32, "y is 32 bytes: {k}");
        assert!(
            k.get("d").is_none(),
            "JWKS must not publish the private key: {k}"
        );
        assert!(kids.insert(s(k, "kid").to_owned()), "kid unique: {keys}");
    }
}

#[test]
fn api_token_access_tokens_verify_with_an_independent_library() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let sess = srv.user_login(&alice);
    let (tid, secret) = srv.create_token(&sess, "jwt", Some("90d"));
    let issuer = s(&openid(&srv), "issuer").to_owned();
    let si = srv.session_info(&sess).json();
    let org = srv.get_bearer("/api/org", &sess).json();
    let org_id = s(&org["orgs"][0], "id").to_owned();

    let a = srv.exchange_authorize(&secret);
    a.assert_status(200, "authorize");
    let b = srv.exchange_tenant("acme", &secret);
    b.assert_status(200, "tenant");
    let mut jtis = Vec::new();
    for r in [&a, &b] {
        let body = r.json();
        let jwt = s(&body, "access_token");
        let (h, _) = jwt_parts(jwt);
        assert_eq!(h["alg"], "ES256", "{h}");
        assert_eq!(h["typ"], "JWT", "{h}");
        let (kid, c) = verify(&srv, jwt, &issuer);
        assert_eq!(h["kid"], kid.as_str());
        assert_eq!(c["iss"], issuer.as_str(), "{c}");
        assert_eq!(c["sub"], si["user"]["id"], "sub is the user id: {c}");
        let iat = c["iat"].as_i64().expect("iat");
        let exp = c["exp"].as_i64().expect("exp");
        assert_near(iat, now_secs(), 60, "iat is now");
        assert_eq!(
            Some(exp - iat),
            body["expires_in"].as_i64(),
            "exp - iat == expires_in: {c}"
        );
        assert_eq!(exp - iat, DEFAULT_ACCESS_TTL, "default access TTL 30 min");
        assert_eq!(c["org_id"], org_id.as_str(), "{c}");
        assert_eq!(c["org_name"], "acme", "{c}");
        assert_eq!(c["username"], si["user"]["name"], "{c}");
        assert_eq!(c["rt"], tid.as_str(), "rt is the API token id: {c}");
        assert!(
            c.get("sid").is_none_or(Value::is_null),
            "no sid on token-derived access: {c}"
        );
        jtis.push(s(&c, "jti").to_owned());
    }
    assert_ne!(jtis[0], jtis[1], "jti is unique per token");

    // The verification above is not vacuous: a tampered token fails it.
    let good = s(&a.json(), "access_token").to_owned();
    let (_, mut claims) = jwt_parts(&good);
    claims["org_name"] = "System".into();
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    let k = &jwks(&srv)["keys"][0];
    let key = DecodingKey::from_ec_components(s(k, "x"), s(k, "y")).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.validate_aud = false;
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &v).is_err());
}

#[test]
fn session_access_tokens_carry_sid_not_rt() {
    let srv = TestServer::start();
    let login = srv.login_response(ADMIN, ADMIN_PASSWORD, true);
    login.assert_status(200, "admin login");
    let jwt = login
        .header("X-VMWARE-VCLOUD-ACCESS-TOKEN")
        .unwrap()
        .to_owned();
    let issuer = s(&openid(&srv), "issuer").to_owned();
    let (_, c) = verify(&srv, &jwt, &issuer);
    assert_eq!(c["sid"], login.json()["id"], "sid is the session id: {c}");
    assert!(
        c.get("rt").is_none_or(Value::is_null),
        "no rt on a login token: {c}"
    );
    assert_eq!(c["org_name"], "System", "{c}");
    assert_eq!(c["sub"], login.json()["user"]["id"], "{c}");
}

/// `TOKEND_ACCESS_TTL` sets `expires_in` and `exp - iat`.
///
/// Not covered: that an *expired* access token is refused. The server
/// accepts no access lifetime below one minute, a test cannot sign a
/// back-dated token without the private key, and this suite allows no
/// sleep of over a few seconds.
#[test]
fn access_ttl_is_configurable() {
    let srv = TestServer::config().env("TOKEND_ACCESS_TTL", "1m").start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let (secret, _) = srv.cli_token_create(&alice, "short-access", Some("90d"));
    for r in [
        srv.exchange_tenant("acme", &secret),
        srv.exchange_authorize(&secret),
    ] {
        r.assert_status(200, "exchange");
        let body = r.json();
        assert_eq!(
            body["expires_in"].as_i64(),
            Some(60),
            "expires_in follows TOKEND_ACCESS_TTL: {body}"
        );
        let (_, c) = jwt_parts(s(&body, "access_token"));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            60,
            "{c}"
        );
    }
    let sess = srv.user_login(&alice);
    let (_, c) = jwt_parts(&sess);
    assert!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() <= 60,
        "session token: {c}"
    );
}

#[test]
fn issuer_flag_sets_iss_and_discovery() {
    let iss = "https://tokend.example.test";
    let srv = TestServer::config().arg("--issuer").arg(iss).start();
    let oc = openid(&srv);
    assert_eq!(oc["issuer"], iss, "{oc}");
    assert_eq!(
        oc["jwks_uri"],
        format!("{iss}/.well-known/jwks.json"),
        "{oc}"
    );
    assert!(s(&oc, "token_endpoint").starts_with(iss), "{oc}");
    let admin = srv.admin_login();
    let (_, c) = verify(&srv, &admin, iss);
    assert_eq!(c["iss"], iss);
}

#[test]
fn access_ttl_flag_and_issuer_env() {
    let srv = TestServer::config()
        .arg("--access-ttl")
        .arg("5m")
        .env("TOKEND_ISSUER", "https://env-issuer.example.test")
        .start();
    let admin = srv.admin_login();
    let (_, secret) = srv.create_token(&admin, "sys", Some("90d"));
    let r = srv.exchange_provider(&secret);
    r.assert_status(200, "exchange");
    assert_eq!(
        r.json()["expires_in"].as_i64(),
        Some(300),
        "{}",
        r.describe()
    );
    let (_, c) = verify(
        &srv,
        s(&r.json(), "access_token"),
        "https://env-issuer.example.test",
    );
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);
}
