//! Access tokens as JWTs, checked with an independent implementation (the
//! `jsonwebtoken` crate): the JWKS publishes one public P-256 key per `kid`
//! (never a private component), the OpenID configuration is consistent with
//! the issuer, tokens verify as ES256 against the served key, and their
//! claims (`iss`, `sub`, `iat`, `exp`, `jti`, `org_id`, `org_name`,
//! `username`, `rt` or `sid`) match what the API reports. Also the
//! configurable access-token lifetime and issuer.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::support::*;

/// Verify `jwt` against the served JWKS with `jsonwebtoken`; returns (header kid, claims).
pub fn verify(srv: &TestServer, jwt: &str, issuer: &str) -> (String, Value) {
    let header = jsonwebtoken::decode_header(jwt).expect("JWT header");
    assert_eq!(header.alg, Algorithm::ES256, "alg");
    let kid = header.kid.clone().expect("kid in JWT header");
    let keys = srv.api().jwks();
    let jwk = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS {keys}"))
        .clone();
    let key = DecodingKey::from_ec_components(str_field(&jwk, "x"), str_field(&jwk, "y"))
        .expect("EC key from JWKS");
    let mut v = Validation::new(Algorithm::ES256);
    v.set_issuer(&[issuer]);
    v.set_audience(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .unwrap_or_else(|e| panic!("JWT does not verify against the JWKS: {e}"));
    (kid, data.claims)
}

#[test]
fn openid_configuration_and_jwks_are_consistent() {
    let srv = TestServer::start();
    let oc = srv.api().openid_configuration();
    let issuer = str_field(&oc, "issuer");
    assert_eq!(
        issuer,
        format!("http://{}", srv.addr()),
        "default issuer is http://<listen addr>"
    );
    let jwks_uri = str_field(&oc, "jwks_uri");
    assert_eq!(jwks_uri, format!("{issuer}/.well-known/jwks.json"), "{oc}");
    let token_endpoint = str_field(&oc, "token_endpoint");
    let te_path = token_endpoint
        .strip_prefix(issuer)
        .unwrap_or_else(|| panic!("token_endpoint on the issuer: {oc}"));
    assert_eq!(
        te_path, PROVIDER_TOKEN,
        "token_endpoint is the provider token endpoint: {oc}"
    );
    assert_eq!(
        oc["device_authorization_endpoint"],
        format!("{issuer}/oauth/provider/device_authorization"),
        "{oc}"
    );
    assert_eq!(
        oc["grant_types_supported"],
        serde_json::json!([
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:device_code"
        ]),
        "{oc}"
    );
    assert_eq!(
        oc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"]),
        "{oc}"
    );
    assert_eq!(
        oc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none"]),
        "{oc}"
    );
    assert_eq!(
        oc["response_types_supported"],
        serde_json::json!([]),
        "/oauth/authorize answers no response type: {oc}"
    );
    assert!(oc["subject_types_supported"].is_array(), "{oc}");

    // jwks_uri serves the same document as the well-known path.
    let path = jwks_uri.strip_prefix(issuer).unwrap();
    let via_uri = srv.api().get(path, &[]);
    via_uri.assert_status(200, "jwks_uri");
    assert_eq!(via_uri.json(), srv.api().jwks());

    // The token endpoint answers POSTs as a token endpoint.
    let r = srv.api().post_form(te_path, "");
    r.assert_status(400, "token_endpoint with an empty form");
    r.assert_no_store("token_endpoint");

    // The revocation endpoint is where it says, and answers as RFC 7009 does.
    let revocation = str_field(&oc, "revocation_endpoint")
        .strip_prefix(issuer)
        .unwrap_or_else(|| panic!("revocation_endpoint on the issuer: {oc}"))
        .to_owned();
    srv.api()
        .post_form(&revocation, "token=unknown")
        .assert_status(200, "revocation_endpoint");

    // RFC 8414's well-known path serves the same metadata.
    let rfc8414 = srv
        .api()
        .get("/.well-known/oauth-authorization-server", &[])
        .assert_json("oauth-authorization-server");
    assert_eq!(rfc8414, oc);
}

#[test]
fn jwks_publishes_public_keys_only_one_p256_and_one_rsa() {
    let srv = TestServer::start();
    let response = srv.api().get("/.well-known/jwks.json", &[]);
    response.assert_status(200, "jwks");
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=300"),
        "verifiers may keep it for TOKEND_JWKS_MAX_AGE"
    );
    let keys = srv.api().jwks();
    let list = keys["keys"].as_array().expect("keys array");
    assert_eq!(list.len(), 2, "{keys}");
    let mut kids = std::collections::HashSet::new();
    for k in list.iter().filter(|k| k["kty"] == "RSA") {
        assert_eq!(k["alg"], "RS256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        assert_eq!(
            b64url_decode(str_field(k, "n")).len(),
            256,
            "2048 bits: {k}"
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "no private part: {k}");
        }
        assert!(kids.insert(str_field(k, "kid").to_owned()));
    }
    assert_eq!(kids.len(), 1, "one RSA key: {keys}");
    for k in list.iter().filter(|k| k["kty"] != "RSA") {
        assert_eq!(k["kty"], "EC", "{k}");
        assert_eq!(k["crv"], "P-256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        assert_eq!(k["alg"], "ES256", "{k}");
        assert_eq!(
            b64url_decode(str_field(k, "x")).len(),
            32,
            "x is 32 bytes: {k}"
        );
        assert_eq!(
            b64url_decode(str_field(k, "y")).len(),
            32,
            "y is 32 bytes: {k}"
        );
        assert!(
            k.get("d").is_none(),
            "JWKS must not publish the private key: {k}"
        );
        assert!(
            kids.insert(str_field(k, "kid").to_owned()),
            "kid unique: {keys}"
        );
    }
}

#[test]
fn api_token_access_tokens_verify_with_an_independent_library() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let sess = api.user_login("alice@acme").access_token;
    let token = api.create_token(&sess, "jwt", Some("90d"));
    let issuer = str_field(&srv.api().openid_configuration(), "issuer").to_owned();
    let si = api.session_info(&sess);
    let org_id = api.orgs(&sess)[0].id.clone();

    let a = api.exchange_authorize(&token.secret);
    let b = api.exchange_tenant("acme", &token.secret);
    let mut jtis = Vec::new();
    for exchanged in [&a, &b] {
        let jwt = &exchanged.access_token;
        let (h, _) = jwt_parts(jwt);
        assert_eq!(h["alg"], "ES256", "{h}");
        assert_eq!(h["typ"], "at+jwt", "RFC 9068 §2.1: {h}");
        let (kid, c) = verify(&srv, jwt, &issuer);
        assert_eq!(h["kid"], kid.as_str());
        assert_eq!(c["iss"], issuer.as_str(), "{c}");
        assert_eq!(c["sub"], si.user.id.as_str(), "sub is the user id: {c}");
        let iat = c["iat"].as_i64().expect("iat");
        let exp = c["exp"].as_i64().expect("exp");
        assert_near(iat, now_secs(), 60, "iat is now");
        assert_eq!(
            exp - iat,
            exchanged.expires_in,
            "exp - iat == expires_in: {c}"
        );
        assert_eq!(exp - iat, DEFAULT_ACCESS_TTL, "default access TTL 30 min");
        assert_eq!(c["org_id"], org_id.as_str(), "{c}");
        assert_eq!(c["org_name"], "acme", "{c}");
        assert_eq!(c["username"], si.user.name.as_str(), "{c}");
        assert_eq!(c["rt"], token.id.as_str(), "rt is the API token id: {c}");
        assert!(
            c.get("sid").is_none(),
            "no sid on token-derived access: {c}"
        );
        jtis.push(str_field(&c, "jti").to_owned());
    }
    assert_ne!(jtis[0], jtis[1], "jti is unique per token");

    // The verification above is not vacuous: a tampered token fails it.
    let good = a.access_token;
    let (_, mut claims) = jwt_parts(&good);
    claims["org_name"] = "System".into();
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    let jwks = srv.api().jwks();
    let k = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kty"] == "EC")
        .expect("an EC key");
    let key = DecodingKey::from_ec_components(str_field(k, "x"), str_field(k, "y")).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.validate_aud = false;
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &v).is_err());
}

#[test]
fn session_access_tokens_carry_sid_not_rt() {
    let srv = TestServer::start();
    let login = srv.api().admin_login();
    let issuer = str_field(&srv.api().openid_configuration(), "issuer").to_owned();
    let (_, c) = verify(&srv, &login.access_token, &issuer);
    assert_eq!(c["sid"], login.id.as_str(), "sid is the session id: {c}");
    assert!(c.get("rt").is_none(), "no rt on a login token: {c}");
    assert_eq!(c["org_name"], "System", "{c}");
    assert_eq!(c["sub"], login.user.id.as_str(), "{c}");
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
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let token = srv
        .cli()
        .token_create("alice@acme", "short-access", Some("90d"));
    for exchanged in [
        api.exchange_tenant("acme", &token.secret),
        api.exchange_authorize(&token.secret),
    ] {
        assert_eq!(
            exchanged.expires_in, 60,
            "expires_in follows TOKEND_ACCESS_TTL: {exchanged:?}"
        );
        assert_eq!(jwt_lifetime(&exchanged.access_token), 60, "{exchanged:?}");
    }
    let sess = api.user_login("alice@acme").access_token;
    assert_eq!(jwt_lifetime(&sess), 60, "session token: {sess}");
}

#[test]
fn issuer_flag_sets_iss_and_discovery() {
    let iss = "https://tokend.example.test";
    let srv = TestServer::config().arg("--issuer").arg(iss).start();
    let oc = srv.api().openid_configuration();
    assert_eq!(oc["issuer"], iss, "{oc}");
    assert_eq!(
        oc["jwks_uri"],
        format!("{iss}/.well-known/jwks.json"),
        "{oc}"
    );
    assert!(str_field(&oc, "token_endpoint").starts_with(iss), "{oc}");
    let admin = srv.api().admin_login().access_token;
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
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "sys", Some("90d"));
    let exchanged = api.exchange_provider(&token.secret);
    assert_eq!(exchanged.expires_in, 300, "{exchanged:?}");
    verify(
        &srv,
        &exchanged.access_token,
        "https://env-issuer.example.test",
    );
    assert_eq!(jwt_lifetime(&exchanged.access_token), 300);
}
