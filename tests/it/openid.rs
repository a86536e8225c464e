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
/// the signature against the served JWKS (RS256 or ES256, as its header
/// says), `iss`, `aud` and `exp`.
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
    let key = match header.alg {
        Algorithm::RS256 => {
            DecodingKey::from_rsa_components(str_field(&jwk, "n"), str_field(&jwk, "e"))
        }
        Algorithm::ES256 => {
            DecodingKey::from_ec_components(str_field(&jwk, "x"), str_field(&jwk, "y"))
        }
        other => return Err(format!("unexpected alg {other:?}")),
    }
    .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[format!("http://{}", srv.addr())]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// An openid API token of the session's user: (its secret, its id).
fn openid_token(srv: &TestServer, session: &str) -> (String, String) {
    let created = srv
        .api()
        .create_token_with(session, &NewToken::named("oidc").openid());
    assert_eq!(created.openid, Some(true));
    (created.secret, created.id)
}

fn tenant_exchange(srv: &TestServer, body: &str) -> Response {
    srv.api().post_form(&tenant_token_path("acme"), body)
}

#[test]
fn an_openid_token_yields_an_rs256_id_token_at_both_endpoints() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let (secret, token_id) = openid_token(&srv, &session);

    let answer = srv.api().exchange_tenant("acme", &secret);
    let scope = answer.scope.as_deref().expect("a scope");
    assert!(scope.split(' ').any(|s| s == "openid"), "{answer:?}");
    let access = jwt_parts(&answer.access_token).1;
    let id_token = answer.id_token.as_deref().expect("an ID token");
    let (header, _) = jwt_parts(id_token);
    assert_eq!(header["alg"], "RS256", "OpenID Connect's default: {header}");
    assert_eq!(header["typ"], "JWT", "{header}");
    // No client named and no TOKEND_AUDIENCE: the API token is the party,
    // never an access token's audience.
    let claims = verified_id_token(&srv, id_token, &token_id)
        .expect("a valid ID token, for the API token by default");
    assert_ne!(
        claims["aud"], access["aud"],
        "an ID token's audience is not a resource"
    );
    assert_eq!(claims["sub"], access["sub"]);
    assert_eq!(
        claims["exp"], access["exp"],
        "expires with its access token"
    );
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
    let again = verified_id_token(&srv, console_id_token, &token_id)
        .expect("an ID token at the console endpoint too");
    // OpenID Connect Core §12.2: a refreshed ID token keeps auth_time.
    assert_eq!(again["auth_time"], claims["auth_time"]);
    assert!(again["auth_time"].as_i64() <= again["iat"].as_i64());

    // A tampered ID token fails the relying party's check, and no ID
    // token passes as an access token.
    let tampered = flip_char(id_token, 40);
    assert!(verified_id_token(&srv, &tampered, &token_id).is_err());
    srv.api()
        .try_session_info(id_token)
        .assert_bearer_401("an ID token presented as an access token");
    srv.api()
        .try_userinfo(id_token)
        .assert_bearer_401("an ID token at userinfo");
}

#[test]
fn an_id_token_is_for_the_client_the_api_token_is_bound_to() {
    let srv = TestServer::config()
        .env("TOKEND_AUDIENCE", "console-client")
        .start();
    let session = alice(&srv);
    let (secret, _) = openid_token(&srv, &session);
    let grant = format!("grant_type=refresh_token&refresh_token={secret}");
    let exchange = |extra: &str| -> Value {
        tenant_exchange(&srv, &format!("{grant}{extra}")).assert_json("exchange")
    };
    let id_token = |extra: &str| -> String { str_field(&exchange(extra), "id_token").to_owned() };

    // No client yet: TOKEND_AUDIENCE, no azp.
    let plain = verified_id_token(&srv, &id_token(""), "console-client").expect("default");
    assert!(plain.get("azp").is_none(), "no client, no azp: {plain}");
    assert!(
        verified_id_token(&srv, &id_token(""), "another-client").is_err(),
        "a relying party with another client id refuses it"
    );

    // A public client that names itself is the audience and the
    // authorized party, and the token is bound to it from then on.
    let first = exchange("&client_id=terraform");
    let for_client = verified_id_token(&srv, str_field(&first, "id_token"), "terraform")
        .expect("the client is the audience");
    assert_eq!(for_client["azp"], "terraform");
    assert_eq!(
        jwt_parts(str_field(&first, "access_token")).1["client_id"],
        "terraform",
        "RFC 9068's client_id"
    );
    let later = verified_id_token(&srv, &id_token(""), "terraform")
        .expect("bound: the same parties without client_id");
    assert_eq!(later["azp"], "terraform");
    assert_eq!(
        later["auth_time"], plain["auth_time"],
        "the original auth_time"
    );
    tenant_exchange(&srv, &format!("{grant}&client_id=other"))
        .assert_oauth_error("invalid_grant", "another client presents a bound token");
    verified_id_token(&srv, &id_token("&client_id=terraform"), "terraform")
        .expect("its own client still may");

    tenant_exchange(&srv, &format!("{grant}&client_id=a%20b"))
        .assert_oauth_error("invalid_target", "a client id with a space");
}

#[test]
fn a_registered_client_may_ask_for_es256_id_tokens() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let (secret, _) = openid_token(&srv, &session);
    let register = |body: Value| {
        srv.api().post(
            "/oauth/tenant/acme/register",
            &[
                ("Authorization", &bearer(&session)),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    };
    let registered =
        register(json!({"client_name": "es", "id_token_signed_response_alg": "ES256"}))
            .assert_json("register");
    assert_eq!(registered["id_token_signed_response_alg"], "ES256");
    let client_id = str_field(&registered, "client_id").to_owned();
    register(json!({"client_name": "hs", "id_token_signed_response_alg": "HS256"}))
        .assert_status(400, "an algorithm tokend does not sign with");

    let grant = format!("grant_type=refresh_token&refresh_token={secret}&client_id={client_id}");
    let answer = tenant_exchange(&srv, &grant).assert_json("exchange");
    let id_token = str_field(&answer, "id_token");
    assert_eq!(jwt_parts(id_token).0["alg"], "ES256");
    verified_id_token(&srv, id_token, &client_id).expect("valid for its client");
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
