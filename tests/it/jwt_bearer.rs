//! Cloud Director's client registration and JWT-bearer grant: a user with a
//! password session registers a client and trades the session's access
//! token for a new API token, once per client; deleting the client revokes
//! that token. Token-derived assertions and other orgs' endpoints refuse.

use serde_json::{json, Value};

use crate::support::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn register(srv: &TestServer, path: &str, jwt: &str) -> Response {
    srv.api().send_json(
        "POST",
        path,
        jwt,
        Some(&json!({"client_name": "terraform"})),
    )
}

fn client_id(answer: &Response) -> String {
    answer.assert_status(200, "register");
    str_field(&answer.json(), "client_id").to_owned()
}

fn jwt_bearer(srv: &TestServer, org: &str, client: &str, assertion: &str) -> Response {
    srv.api().post_form(
        &tenant_token_path(org),
        &format!(
            "grant_type={}&client_id={client}&assertion={assertion}",
            form_encode(JWT_BEARER)
        ),
    )
}

fn setup(srv: &TestServer) -> String {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.api().user_login("alice@acme").access_token
}

#[test]
fn a_registered_client_takes_one_api_token_by_jwt_bearer() {
    let srv = TestServer::start();
    let session = setup(&srv);
    let registered = register(&srv, "/oauth/tenant/acme/register", &session);
    let body: Value = registered.json();
    assert_eq!(body["client_name"], "terraform");
    assert_eq!(body["grant_types"], json!([JWT_BEARER]));
    let client = client_id(&registered);

    let answer = jwt_bearer(&srv, "acme", &client, &session);
    answer.assert_status(200, "the JWT-bearer grant");
    answer.assert_no_store("the JWT-bearer grant");
    let answer = answer.json();
    let api_token = str_field(&answer, "refresh_token").to_owned();
    assert!(is_token_format(&api_token), "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    srv.api()
        .try_session_info(str_field(&answer, "access_token"))
        .assert_status(200, "its access token works");
    // The new API token is an API token like any: it refreshes.
    srv.api().exchange_tenant("acme", &api_token);
    let listed = srv.api().list_tokens(&session);
    assert!(listed.iter().any(|t| t.name == "terraform"), "listed");

    jwt_bearer(&srv, "acme", &client, &session)
        .assert_oauth_error("invalid_grant", "a second grant for the same client");

    // Deleting the client revokes its token.
    srv.api()
        .send_json(
            "DELETE",
            &format!("/oauth/tenant/acme/register/{client}"),
            &session,
            None,
        )
        .assert_status(204, "delete the client");
    srv.api()
        .try_exchange_tenant("acme", &api_token)
        .assert_oauth_error("invalid_grant", "the client's token after its deletion");
}

#[test]
fn assertions_and_registrations_out_of_bounds_are_refused() {
    let srv = TestServer::start();
    let session = setup(&srv);
    let client = client_id(&register(&srv, "/oauth/tenant/acme/register", &session));

    // Token-derived access cannot register or mint tokens.
    let token = srv.api().create_token(&session, "ci", Some("30m"));
    let derived = srv
        .api()
        .exchange_tenant("acme", &token.secret)
        .access_token;
    register(&srv, "/oauth/tenant/acme/register", &derived)
        .assert_status(403, "registration with token-derived access");
    jwt_bearer(&srv, "acme", &client, &derived)
        .assert_oauth_error("invalid_grant", "a token-derived assertion");

    // Another org's endpoint, and the provider's.
    register(&srv, "/oauth/tenant/other/register", &session)
        .assert_status(403, "cross-org registration");
    register(&srv, "/oauth/provider/register", &session)
        .assert_status(403, "a tenant user at the provider endpoint");
    jwt_bearer(&srv, "other", &client, &session)
        .assert_oauth_error("invalid_grant", "the grant at another org's endpoint");

    // A garbage assertion, an unknown client.
    jwt_bearer(&srv, "acme", &client, "not-a-jwt")
        .assert_oauth_error("invalid_grant", "a garbage assertion");
    jwt_bearer(
        &srv,
        "acme",
        "00000000-0000-4000-8000-000000000000",
        &session,
    )
    .assert_oauth_error("invalid_grant", "an unknown client");

    // The grant still works for the one who may.
    jwt_bearer(&srv, "acme", &client, &session).assert_status(200, "the owner's grant");

    // Every refusal is in the trail, with its reason, never the assertion.
    let admin = srv.api().admin_login().access_token;
    let refused = recorded_events(srv.api(), &admin, "token.jwt_bearer_failed", 4);
    let reasons: Vec<&str> = refused
        .iter()
        .map(|e| str_field(&e["additionalProperties"], "reason"))
        .collect();
    assert!(reasons.contains(&"an assertion derived from an API token cannot take API tokens"));
    assert!(reasons.contains(&"unknown client"));
    let text = serde_json::to_string(&refused).expect("JSON");
    assert!(
        !text.contains(&session) && !text.contains(&derived),
        "{text}"
    );
}
