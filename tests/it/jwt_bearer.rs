//! Cloud Director's client registration and JWT-bearer grant: a user with a
//! password session registers a client and trades the session's access
//! token for a new API token, once per client; deleting the client revokes
//! that token. Token-derived assertions and other orgs' endpoints refuse.

use crate::support::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ACME: Endpoint = Endpoint::Tenant("acme");

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
    let api = srv.api();
    let registered = api.register(ACME, &session, &Registration::oauth_client("terraform"));
    assert_eq!(registered.client_name, "terraform");
    assert_eq!(registered.grant_types, [JWT_BEARER]);
    let client = registered.client_id;

    let answer = api.try_jwt_bearer("acme", &client, &session);
    answer.assert_status(200, "the JWT-bearer grant");
    answer.assert_no_store("the JWT-bearer grant");
    let answer = answer.json();
    let api_token = str_field(&answer, "refresh_token").to_owned();
    assert!(is_token_format(&api_token), "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    api.try_session_info(str_field(&answer, "access_token"))
        .assert_status(200, "its access token works");
    // The new API token is an API token like any: it refreshes.
    api.exchange_tenant("acme", &api_token);
    let listed = api.list_tokens(&session);
    assert!(listed.iter().any(|t| t.name == "terraform"), "listed");

    api.try_jwt_bearer("acme", &client, &session)
        .assert_oauth_error("invalid_grant", "a second grant for the same client");

    // Deleting the client revokes its token.
    api.delete_registered(ACME, &session, &client);
    api.try_exchange_tenant("acme", &api_token)
        .assert_oauth_error("invalid_grant", "the client's token after its deletion");
}

#[test]
fn assertions_and_registrations_out_of_bounds_are_refused() {
    let srv = TestServer::start();
    let session = setup(&srv);
    let api = srv.api();
    let terraform = Registration::oauth_client("terraform");
    let client = api.register(ACME, &session, &terraform).client_id;

    // Token-derived access cannot register or mint tokens.
    let token = api.create_token(&session, "ci", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;
    api.try_register(ACME, &derived, &terraform)
        .assert_status(403, "registration with token-derived access");
    api.try_jwt_bearer("acme", &client, &derived)
        .assert_oauth_error("invalid_grant", "a token-derived assertion");

    // Another org's endpoint, and the provider's.
    api.try_register(Endpoint::Tenant("other"), &session, &terraform)
        .assert_status(403, "cross-org registration");
    api.try_register(Endpoint::Provider, &session, &terraform)
        .assert_status(403, "a tenant user at the provider endpoint");
    api.try_jwt_bearer("other", &client, &session)
        .assert_oauth_error("invalid_grant", "the grant at another org's endpoint");

    // A garbage assertion, an unknown client.
    api.try_jwt_bearer("acme", &client, "not-a-jwt")
        .assert_oauth_error("invalid_grant", "a garbage assertion");
    api.try_jwt_bearer("acme", "00000000-0000-4000-8000-000000000000", &session)
        .assert_oauth_error("invalid_grant", "an unknown client");

    // The grant still works for the one who may.
    api.try_jwt_bearer("acme", &client, &session)
        .assert_status(200, "the owner's grant");

    // Every refusal is in the trail, with its reason, never the assertion.
    let admin = api.admin_login().access_token;
    let refused = api.recorded_events(&admin, "token.jwt_bearer_failed", 4);
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
