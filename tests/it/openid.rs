//! OpenID Connect: `/userinfo` says who an access token's user is, with the
//! roles its grant holds; what the discovery document names is served.

use serde_json::{json, Value};

use crate::support::*;

/// acme with alice (Token User and `auditors`, in group `ops`), her name
/// and e-mail address set; returns her session's access token.
fn alice(srv: &TestServer) -> String {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.role_add("auditors", Some("acme"), None, &["tokend:user.view"]);
    cli.run(
        &[
            "user",
            "add",
            "alice@acme",
            "--role",
            ROLE_TOKEN_USER,
            "--role",
            "auditors",
            "--email",
            "alice@acme.example",
            "--name",
            "Alice Example",
        ],
        Some(&format!("{USER_PASSWORD}\n")),
    )
    .ok("user add alice");
    cli.run(&["group", "add", "ops@acme"], None).ok("group add");
    cli.run(&["group", "join", "ops@acme", "alice"], None)
        .ok("group join");
    srv.api().user_login("alice@acme").access_token
}

#[test]
fn userinfo_names_the_user_and_the_roles_of_the_grant() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let mut info = srv.api().userinfo(&session);
    let roles = info["roles"].take();
    assert_eq!(
        info,
        json!({
            "sub": srv.api().session_info(&session).user.id,
            "preferred_username": "alice",
            "name": "Alice Example",
            "email": "alice@acme.example",
            "email_verified": false,
            "org_id": info["org_id"],
            "org_name": "acme",
            "groups": ["ops"],
            "roles": null,
        })
    );
    let mut roles: Vec<&str> = roles
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["Token User", "auditors"]);

    // A token narrowed to one role: userinfo says that role only.
    let created = srv.api().create_token_with(
        &session,
        &NewToken::named("narrow").org_roles(&["auditors"]),
    );
    let derived = srv
        .api()
        .exchange_tenant("acme", &created.secret)
        .access_token;
    assert_eq!(srv.api().userinfo(&derived)["roles"], json!(["auditors"]));

    // POST is served too (OpenID Connect Core §5.3.1).
    let posted = srv.api().request(
        "POST",
        "/userinfo",
        &[("Authorization", &bearer(&session))],
        Some(b""),
    );
    assert_eq!(
        posted.assert_json("POST /userinfo")["preferred_username"],
        "alice"
    );
}

#[test]
fn userinfo_needs_a_live_access_token() {
    let srv = TestServer::start();
    let session = alice(&srv);
    srv.api()
        .get("/userinfo", &[])
        .assert_bearer_401("no access token");
    srv.api()
        .try_userinfo(&flip_char(&session, 30))
        .assert_bearer_401("a tampered access token");
    srv.api().logout(&session);
    srv.api()
        .try_userinfo(&session)
        .assert_bearer_401("after logout");
}

/// The path of the endpoint the discovery document names `member`.
fn discovered_path(srv: &TestServer, member: &str) -> String {
    let metadata = srv.api().openid_configuration();
    let issuer = str_field(&metadata, "issuer");
    str_field(&metadata, member)
        .strip_prefix(issuer)
        .unwrap_or_else(|| panic!("{member} on the issuer: {metadata}"))
        .to_owned()
}

#[test]
fn the_authorization_endpoint_refuses_every_flow_without_redirecting() {
    let srv = TestServer::start();
    let path = discovered_path(&srv, "authorization_endpoint");
    let answer = srv.api().get(
        &format!(
            "{path}?response_type=code&client_id=x&redirect_uri=https%3A%2F%2Fevil.example%2F"
        ),
        &[],
    );
    answer.assert_oauth_error("unsupported_response_type", "an authorization request");
    assert!(answer.header("Location").is_none(), "never a redirect");
}

#[test]
fn the_discovery_document_names_userinfo() {
    let srv = TestServer::start();
    assert_eq!(discovered_path(&srv, "userinfo_endpoint"), "/userinfo");
}

/// The ID token checked with `jsonwebtoken`, as a relying party checks it:
/// the signature against the served JWKS, `iss`, `aud` and `exp`.
fn verified_id_token(srv: &TestServer, id_token: &str, audience: &str) -> Result<Value, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header = jsonwebtoken::decode_header(id_token).map_err(|e| e.to_string())?;
    let jwks = srv.api().jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| Some(k["kid"].as_str().unwrap()) == header.kid.as_deref())
        .ok_or("kid not in the JWKS")?
        .clone();
    let key = DecodingKey::from_ec_components(str_field(&jwk, "x"), str_field(&jwk, "y"))
        .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[format!("http://{}", srv.addr())]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn openid_token(srv: &TestServer, session: &str) -> String {
    let created = srv
        .api()
        .create_token_with(session, &NewToken::named("oidc").openid());
    assert_eq!(created.openid, Some(true));
    created.secret
}

fn tenant_exchange(srv: &TestServer, body: &str) -> Response {
    srv.api().post_form(&tenant_token_path("acme"), body)
}

#[test]
fn an_openid_token_yields_an_id_token_at_both_endpoints() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let secret = openid_token(&srv, &session);
    let issuer = format!("http://{}", srv.addr());

    let answer = srv.api().exchange_tenant("acme", &secret);
    let scope = answer.scope.as_deref().expect("a scope");
    assert!(scope.split(' ').any(|s| s == "openid"), "{answer:?}");
    let access = jwt_parts(&answer.access_token).1;
    let id_token = answer.id_token.as_deref().expect("an ID token");
    let claims = verified_id_token(&srv, id_token, &issuer)
        .expect("a valid ID token, for the issuer by default");
    assert_eq!(claims["sub"], access["sub"]);
    assert_eq!(
        claims["exp"], access["exp"],
        "expires with its access token"
    );
    assert_eq!(claims["iat"], claims["auth_time"]);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@acme.example");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["org_name"], "acme");
    assert_eq!(claims["groups"], json!(["ops"]));
    assert!(claims["roles"].as_array().unwrap().len() == 2, "{claims}");

    let console = srv.api().exchange_authorize(&secret);
    assert_eq!(console.scope.as_deref(), Some("ALL_PERMISSIONS openid"));
    let console_id_token = console.id_token.as_deref().expect("an ID token");
    verified_id_token(&srv, console_id_token, &issuer)
        .expect("an ID token at the console endpoint too");

    // A tampered ID token fails the relying party's check.
    let tampered = flip_char(id_token, 40);
    assert!(verified_id_token(&srv, &tampered, &issuer).is_err());
}

#[test]
fn the_audience_is_the_default_or_what_the_request_names() {
    let srv = TestServer::config()
        .env("TOKEND_AUDIENCE", "console-client")
        .start();
    let session = alice(&srv);
    let secret = openid_token(&srv, &session);
    let grant = format!("grant_type=refresh_token&refresh_token={secret}");
    let id_token = |extra: &str| -> String {
        let answer = tenant_exchange(&srv, &format!("{grant}{extra}")).assert_json("exchange");
        str_field(&answer, "id_token").to_owned()
    };
    assert!(verified_id_token(&srv, &id_token(""), "console-client").is_ok());
    assert!(
        verified_id_token(&srv, &id_token(""), "another-client").is_err(),
        "a relying party with another client id refuses it"
    );
    assert!(verified_id_token(&srv, &id_token("&audience=ci-bot"), "ci-bot").is_ok());
    let resource = "https://vmc.example/api";
    let with_resource = id_token(&format!("&resource={}", form_encode(resource)));
    assert!(verified_id_token(&srv, &with_resource, resource).is_ok());

    // A public client that names itself is the audience and the
    // authorized party; with an audience named as well, only the party.
    let for_client = verified_id_token(&srv, &id_token("&client_id=terraform"), "terraform")
        .expect("the client is the audience");
    assert_eq!(for_client["azp"], "terraform");
    let for_other = verified_id_token(
        &srv,
        &id_token("&client_id=terraform&audience=ci-bot"),
        "ci-bot",
    )
    .expect("the audience named");
    assert_eq!(for_other["azp"], "terraform");
    let plain = verified_id_token(&srv, &id_token(""), "console-client").expect("default");
    assert!(plain.get("azp").is_none(), "no client, no azp: {plain}");

    tenant_exchange(&srv, &format!("{grant}&resource=not%20a%20uri"))
        .assert_oauth_error("invalid_target", "a resource that is no absolute URI");
    tenant_exchange(&srv, &format!("{grant}&resource=https://a.example/%23frag"))
        .assert_oauth_error("invalid_target", "a resource with a fragment");
    tenant_exchange(
        &srv,
        &format!("{grant}&audience=a&resource=https://a.example/"),
    )
    .assert_oauth_error("invalid_request", "audience and resource");
}

#[test]
fn without_the_option_there_is_no_id_token() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let plain = srv.api().create_token(&session, "plain", None);
    let answer = tenant_exchange(
        &srv,
        &format!("grant_type=refresh_token&refresh_token={}", plain.secret),
    )
    .assert_json("exchange");
    assert!(answer.get("id_token").is_none(), "{answer}");
    assert!(!str_field(&answer, "scope").contains("openid"), "{answer}");

    // The CLI makes openid tokens too.
    let cli_token = srv.cli().run(
        &[
            "token",
            "create",
            "alice@acme",
            "--name",
            "cli-oidc",
            "--openid",
        ],
        None,
    );
    let secret = cli_token
        .ok("token create --openid")
        .stdout
        .trim()
        .to_owned();
    let answer = tenant_exchange(
        &srv,
        &format!("grant_type=refresh_token&refresh_token={secret}"),
    )
    .assert_json("exchange");
    assert!(answer["id_token"].is_string(), "{answer}");
}
