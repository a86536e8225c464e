//! Access tokens as RFC 9068 has them: `typ` `at+jwt`, and an `aud` that
//! names the services an exchange asks for by `resource` (RFC 8707) or
//! `audience`, each a registered service's identifier URI; tokend's own
//! API takes only tokens meant for it (the issuer).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::support::*;

const VMC: &str = "https://vmc.example/api";
const NSX: &str = "https://nsx.example/";

/// acme with alice (Token User) and her API token; the services vmc and
/// nsx with identifier URIs and an introspection client for vmc.
/// Returns (alice's token secret, vmc's client id, its secret).
fn setup(srv: &TestServer) -> (String, String, String) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.service_add("vmc", &["vmc:sddc.read"]);
    cli.service_add("nsx", &["nsx:net.read"]);
    cli.run(&["service", "set-identifier", "vmc", VMC], None)
        .ok("set-identifier vmc");
    cli.run(&["service", "set-identifier", "nsx", NSX], None)
        .ok("set-identifier nsx");
    let out = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client");
    let mut lines = out.stdout.lines();
    let mut next = |what: &str| lines.next().expect(what).trim().to_owned();
    let (client_id, client_secret) = (next("client id"), next("client secret"));
    let session = srv.api().user_login("alice@acme").access_token;
    let token = srv.api().create_token(&session, "ci", Some("30m"));
    (token.secret, client_id, client_secret)
}

fn exchange(srv: &TestServer, secret: &str, extra: &str) -> Response {
    srv.api().post_form(
        &tenant_token_path("acme"),
        &format!("grant_type=refresh_token&refresh_token={secret}{extra}"),
    )
}

fn access_token(srv: &TestServer, secret: &str, extra: &str) -> String {
    let answer = exchange(srv, secret, extra).assert_json("exchange");
    str_field(&answer, "access_token").to_owned()
}

/// The access token checked as a resource server with the identifier
/// `audience` checks it: signature against the JWKS, `iss`, `aud`, `exp`.
fn verified_for(srv: &TestServer, jwt: &str, audience: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    let jwks = srv.api().jwks();
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| Some(k["kid"].as_str().unwrap_or_default()) == header.kid.as_deref())
        .ok_or("kid not in the JWKS")?
        .clone();
    let key = DecodingKey::from_ec_components(str_field(&jwk, "x"), str_field(&jwk, "y"))
        .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[format!("http://{}", srv.addr())]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

#[test]
fn a_resource_names_the_service_the_token_is_for_and_only_that() {
    let srv = TestServer::start();
    let (secret, client_id, client_secret) = setup(&srv);
    let issuer = format!("http://{}", srv.addr());

    let for_vmc = access_token(&srv, &secret, &format!("&resource={}", form_encode(VMC)));
    assert_eq!(jwt_parts(&for_vmc).0["typ"], "at+jwt");
    let claims = verified_for(&srv, &for_vmc, VMC).expect("vmc accepts a token meant for it");
    assert_eq!(claims["aud"], VMC, "one audience is a string: {claims}");
    assert!(
        verified_for(&srv, &for_vmc, NSX).is_err(),
        "nsx refuses a token meant for vmc"
    );
    assert!(verified_for(&srv, &for_vmc, &issuer).is_err());
    srv.api()
        .try_session_info(&for_vmc)
        .assert_bearer_401("tokend's own API refuses a token meant for vmc");

    // Introspection describes it whatever its audience, naming it.
    let described = srv
        .api()
        .try_introspect(&client_id, &client_secret, &for_vmc)
        .assert_json("introspect");
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["aud"], VMC);

    // Without a resource: tokend itself, the issuer.
    let plain = access_token(&srv, &secret, "");
    assert_eq!(jwt_parts(&plain).1["aud"], issuer.as_str());
    assert!(verified_for(&srv, &plain, VMC).is_err(), "not for vmc");
    srv.api()
        .try_session_info(&plain)
        .assert_status(200, "tokend's own API takes a token meant for it");
}

#[test]
fn several_resources_and_audiences_make_an_array() {
    let srv = TestServer::start();
    let (secret, _, _) = setup(&srv);
    let both = access_token(
        &srv,
        &secret,
        &format!(
            "&resource={}&audience={}",
            form_encode(VMC),
            form_encode(NSX)
        ),
    );
    let claims = verified_for(&srv, &both, NSX).expect("nsx accepts it");
    assert_eq!(claims["aud"], json!([VMC, NSX]));
    verified_for(&srv, &both, VMC).expect("so does vmc");
    let twice = access_token(
        &srv,
        &secret,
        &format!("&resource={0}&resource={0}", form_encode(VMC)),
    );
    assert_eq!(jwt_parts(&twice).1["aud"], VMC, "named twice, listed once");
}

#[test]
fn an_unregistered_or_malformed_resource_is_invalid_target_and_issues_nothing() {
    let srv = TestServer::start();
    let (secret, _, _) = setup(&srv);
    let admin = srv.api().admin_login().access_token;
    let exchanges = || {
        srv.api()
            .audit(&admin, "type=token.exchange&limit=500")
            .events
            .len()
    };
    let before = exchanges();
    for (extra, what) in [
        (
            "&resource=https%3A%2F%2Funknown.example%2F",
            "an unknown resource",
        ),
        ("&audience=vmc", "a service's name is not its identifier"),
        (
            &format!(
                "&resource={}&resource=https%3A%2F%2Fx.example%2F",
                form_encode(VMC)
            ) as &str,
            "one unknown among known ones",
        ),
        ("&resource=not%20a%20uri", "not even an audience"),
    ] {
        exchange(&srv, &secret, extra).assert_oauth_error("invalid_target", what);
    }
    assert_eq!(exchanges(), before, "no exchange was made");
}

#[test]
fn the_default_audience_is_tokend_and_what_the_admin_adds() {
    let srv = TestServer::config()
        .env("TOKEND_DEFAULT_AUDIENCE", NSX)
        .start();
    let (secret, _, _) = setup(&srv);
    let issuer = format!("http://{}", srv.addr());
    let plain = access_token(&srv, &secret, "");
    assert_eq!(jwt_parts(&plain).1["aud"], json!([issuer, NSX]));
    verified_for(&srv, &plain, NSX).expect("the default resource server accepts it");
    srv.api()
        .try_session_info(&plain)
        .assert_status(200, "and so does tokend");
}

#[test]
fn a_service_identifier_is_an_absolute_uri_held_by_one_service() {
    let srv = TestServer::start();
    setup(&srv);
    let cli = srv.cli();
    for (identifier, what) in [
        ("vmc.example", "no scheme"),
        ("https://vmc.example/#frag", "a fragment"),
        (NSX, "another service's"),
    ] {
        let out = cli.run(&["service", "set-identifier", "vmc", identifier], None);
        assert_ne!(out.code, Some(0), "{what}: {out:#?}");
    }
    let admin = srv.api().admin_login().access_token;
    let services = srv
        .api()
        .get_bearer("/api/services?name=vmc", &admin)
        .assert_json("services");
    assert_eq!(services["services"][0]["identifier"], VMC, "{services}");
    cli.run(&["service", "set-identifier", "vmc", "--clear"], None)
        .ok("--clear");
    let services = srv
        .api()
        .get_bearer("/api/services?name=vmc", &admin)
        .assert_json("services");
    assert!(
        services["services"][0]["identifier"].is_null(),
        "{services}"
    );

    // Over the API: the provider's "Rights Bundle: Manage", no one else.
    let path = format!(
        "/api/services/{}",
        str_field(&services["services"][0], "id")
    );
    let patch = |jwt: &str, body: Value| {
        srv.api().request(
            "PATCH",
            &path,
            &[
                ("Authorization", &bearer(jwt)),
                ("Content-Type", "application/json"),
            ],
            Some(body.to_string().as_bytes()),
        )
    };
    let alice = srv.api().user_login("alice@acme").access_token;
    patch(&alice, json!({"identifier": "https://mine.example/"}))
        .assert_status(403, "a tenant user");
    patch(&admin, json!({"identifier": "no uri"})).assert_status(400, "not a URI");
    patch(&admin, json!({"identifier": NSX})).assert_status(409, "another service's");
    patch(
        &admin,
        json!({"identifier": format!("http://{}", srv.addr())}),
    )
    .assert_status(400, "the issuer, tokend's own");
    let changed = patch(&admin, json!({"identifier": "https://vmc2.example/"}))
        .assert_json("PATCH by the provider");
    assert_eq!(changed["identifier"], "https://vmc2.example/");
    let secret = srv.api().create_token(&alice, "x", None).secret;
    let token = access_token(&srv, &secret, "&resource=https%3A%2F%2Fvmc2.example%2F");
    verified_for(&srv, &token, "https://vmc2.example/").expect("the new identifier counts");
    exchange(&srv, &secret, &format!("&resource={}", form_encode(VMC)))
        .assert_oauth_error("invalid_target", "the old identifier is gone");
}
