//! RFC 7662 introspection at `POST /oauth/introspect`, as a resource server
//! calls it: authenticated with its service's client credentials; active
//! tokens described, anything else `{"active": false}` and nothing more.

use serde_json::{json, Value};

use crate::support::*;

const INTROSPECT: &str = "/oauth/introspect";

/// acme with alice (Token User); the service vmc with a client made by the
/// CLI. Returns (client id, secret, alice's session).
fn setup(srv: &TestServer) -> (String, String, String) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.service_add("vmc", &["vmc:sddc.read"]);
    let out = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client");
    let mut lines = out.stdout.lines();
    let id = lines.next().expect("client id").trim().to_owned();
    let secret = lines.next().expect("client secret").trim().to_owned();
    (id, secret, srv.api().user_login("alice@acme").access_token)
}

/// What introspection says of `token`: a 200 answer, never to be stored.
fn active(srv: &TestServer, id: &str, secret: &str, token: &str) -> Value {
    let answer = srv.api().try_introspect(id, secret, token);
    answer.assert_status(200, "introspect");
    answer.assert_no_store("introspect");
    answer.json()
}

#[test]
fn active_tokens_are_described_and_the_rest_is_inactive() {
    let srv = TestServer::start();
    let (id, secret, session) = setup(&srv);
    let token = srv.api().create_token(&session, "ci", Some("30m"));
    let access = srv
        .api()
        .exchange_tenant("acme", &token.secret)
        .access_token;

    let described = active(&srv, &id, &secret, &access);
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["username"], "alice");
    assert_eq!(described["org_name"], "acme");
    assert_eq!(
        described["origin"],
        token.id.as_str(),
        "the API token it came from"
    );
    assert!(
        described.get("client_id").is_none(),
        "no client named: {described}"
    );
    let (_, claims) = jwt_parts(&access);
    assert_eq!(described["sub"], claims["sub"]);
    assert_eq!(described["exp"], claims["exp"]);
    assert_eq!(described["jti"], claims["jti"]);
    assert_eq!(described["aud"], claims["aud"]);
    let perms: Vec<&str> = claims["perms"]
        .as_array()
        .expect("perms")
        .iter()
        .map(|p| p.as_str().expect("a string"))
        .collect();
    assert_eq!(
        described["scope"],
        perms.join(" "),
        "scope is the JWT's perms"
    );

    // An API token is a credential for tokend's token endpoints, never a
    // bearer token a resource server should take: always inactive.
    assert_eq!(
        active(&srv, &id, &secret, &token.secret),
        json!({"active": false}),
        "a live API token"
    );

    // Revoked, unknown, tampered: inactive, and nothing else.
    srv.api()
        .try_revoke_presented(&access)
        .assert_status(200, "revoke");
    for inactive in [
        access.clone(),
        "not-a-token".to_owned(),
        flip_char(&token.secret, 64),
        flip_char(&session, 30),
    ] {
        assert_eq!(
            active(&srv, &id, &secret, &inactive),
            json!({"active": false})
        );
    }
    srv.api().revoke_token(&session, &token.id);
    assert_eq!(
        active(&srv, &id, &secret, &token.secret),
        json!({"active": false}),
        "a revoked API token"
    );
}

#[test]
fn only_a_live_client_may_introspect() {
    let srv = TestServer::start();
    let (id, secret, session) = setup(&srv);
    for (who, id, secret) in [
        ("wrong secret", id.as_str(), "not-the-secret"),
        (
            "unknown client",
            "00000000-0000-4000-8000-000000000000",
            secret.as_str(),
        ),
    ] {
        let answer = srv.api().try_introspect(id, secret, &session);
        answer.assert_status(401, who);
        assert_eq!(answer.json()["error"], "invalid_client", "{who}");
        assert!(answer
            .header("WWW-Authenticate")
            .is_some_and(|h| h.starts_with("Basic")));
    }
    srv.api()
        .post_form(INTROSPECT, &format!("token={session}"))
        .assert_status(401, "no credentials");
    // Credentials in the form body work too.
    let in_body = srv.api().post_form(
        INTROSPECT,
        &format!("token={session}&client_id={id}&client_secret={secret}"),
    );
    assert_eq!(in_body.assert_json("form credentials")["active"], true);

    srv.cli()
        .run(&["service", "revoke-client", &id], None)
        .ok("revoke-client");
    srv.api()
        .try_introspect(&id, &secret, &session)
        .assert_status(401, "a revoked client");

    // Each failed authentication is in the trail, naming the client,
    // never the secret.
    let admin = srv.api().admin_login().access_token;
    let failed = srv
        .api()
        .recorded_events(&admin, "introspection.client_failed", 3);
    assert!(failed.iter().any(|e| e["target"]["id"] == id.as_str()));
    let text = serde_json::to_string(&failed).expect("JSON");
    assert!(
        !text.contains(&secret) && !text.contains("not-the-secret"),
        "{text}"
    );
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before they are
/// joined; openid-client 6, for one, sends every `-` as `%2D`.
#[test]
fn basic_credentials_are_form_urldecoded() {
    let srv = TestServer::start();
    let (id, secret, session) = setup(&srv);
    let encode_all = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    assert!(encode_all(&id).contains("%2D"));
    let introspect = |user: &str, password: &str| {
        srv.api().post(
            INTROSPECT,
            &[
                ("Authorization", &basic(user, password)),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("token={session}").as_bytes(),
        )
    };
    let answer = introspect(&encode_all(&id), &encode_all(&secret));
    assert_eq!(answer.assert_json("encoded credentials")["active"], true);
    introspect(&encode_all(&id), &format!("{secret}%41"))
        .assert_status(401, "a secret that decodes to another");
    introspect(&id, "%ZZ").assert_status(401, "a secret that does not decode");
}

#[test]
fn the_provider_manages_clients_over_the_api() {
    let srv = TestServer::start();
    let (_, _, alice) = setup(&srv);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let service = api.service_id(&admin, "vmc");

    let created = api.create_introspection_client(&admin, &service);
    let (id, secret) = (created.client_id.as_str(), created.client_secret.as_str());
    assert_eq!(active(&srv, id, secret, &alice)["active"], true);
    let listed = api.introspection_clients(&admin, &service);
    assert_eq!(listed["clients"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(secret), "never the secret");

    api.try_create_introspection_client(&alice, &service)
        .assert_status(403, "a tenant user");
    api.delete_introspection_client(&admin, &service, id);
    api.try_introspect(id, secret, &alice)
        .assert_status(401, "revoked over the API");
}

/// Access derived from an org admin's API token holds view rights only;
/// its JWT, the exchange's answer and introspection say exactly that, and
/// never name a manage right it cannot use.
#[test]
fn a_token_derived_grant_shows_only_the_view_rights_it_holds() {
    let srv = TestServer::start();
    let (id, secret, _) = setup(&srv);
    srv.cli().user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    let api = srv.api();
    let carol = api.user_login("carol@acme").access_token;
    let session_rights = api.session_info(&carol).permissions;
    assert!(
        session_rights.contains(&"tokend:user.manage".to_string()),
        "the session holds manage rights: {session_rights:?}"
    );
    let token = api.create_token(&carol, "ci", Some("30m"));
    let is_manage = |p: &str| p.starts_with("tokend:") && p.contains("manage");
    let expected = [
        "tokend:audit.view",
        "tokend:global-role.view",
        "tokend:group.view",
        "tokend:org.view",
        "tokend:rights-bundle.view",
        "tokend:role.view",
        "tokend:user.view",
    ];

    let answer = api
        .try_exchange_tenant("acme", &token.secret)
        .assert_status(200, "exchange")
        .assert_json("exchange");
    let mut scope: Vec<&str> = str_field(&answer, "scope").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, expected, "the exchange's scope: {answer}");
    let access = str_field(&answer, "access_token");
    let (_, claims) = jwt_parts(access);
    let perms: Vec<&str> = claims["perms"]
        .as_array()
        .expect("perms")
        .iter()
        .map(|p| p.as_str().expect("a string"))
        .collect();
    assert_eq!(perms, expected, "the JWT's perms: {claims}");
    let described = active(&srv, &id, &secret, access);
    let mut scope: Vec<&str> = str_field(&described, "scope").split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, expected, "introspection of the access token");
    assert_eq!(
        active(&srv, &id, &secret, &token.secret),
        json!({"active": false}),
        "introspection of the API token"
    );
    let console = api
        .try_exchange_authorize(&token.secret)
        .assert_json("the console's exchange");
    assert_eq!(
        console["scope"], "ALL_PERMISSIONS",
        "all it may carry: {console}"
    );
    let (_, claims) = jwt_parts(str_field(&console, "access_token"));
    assert!(
        !claims["perms"]
            .as_array()
            .expect("perms")
            .iter()
            .any(|p| is_manage(p.as_str().unwrap_or_default())),
        "{claims}"
    );
}
