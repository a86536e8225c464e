//! Cloud Director's token listing at `/cloudapi/1.0.0/tokens`: the caller's
//! tokens (an org admin's: the org's), paged and filtered as Cloud
//! Director's automation asks, ids as URNs, revocable by URN.

use serde_json::Value;

use crate::support::*;

/// acme: alice (Token User, tokens ci-0..ci-2), carol (Organization
/// Administrator, one token); other: bob (one token). Returns the sessions
/// of alice and carol, and bob's token id.
fn setup(srv: &TestServer) -> (String, String, String) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("bob@other", &[ROLE_TOKEN_USER]);
    for n in 0..3 {
        cli.token_create("alice@acme", &format!("ci-{n}"), Some("30m"));
    }
    cli.token_create("carol@acme", "admin", None);
    let bob = cli.token_create("bob@other", "bob", None);
    let api = srv.api();
    (
        api.user_login("alice@acme").access_token,
        api.user_login("carol@acme").access_token,
        bob.id,
    )
}

fn names(page: &Value) -> Vec<String> {
    let mut names: Vec<String> = page["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|t| str_field(t, "name").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_user_lists_its_own_tokens_paged_and_filtered() {
    let srv = TestServer::start();
    let (alice, _, _) = setup(&srv);
    let all = srv.api().cloudapi_tokens(&alice, "");
    assert_eq!(names(&all), ["ci-0", "ci-1", "ci-2"]);
    assert_eq!(all["resultTotal"], 3);
    assert_eq!(all["pageCount"], 1);
    let first = &all["values"][0];
    assert!(
        str_field(first, "id").starts_with("urn:vcloud:token:"),
        "{first}"
    );
    assert!(str_field(&first["owner"], "id").starts_with("urn:vcloud:user:"));
    assert_eq!(first["owner"]["name"], "alice");
    assert_eq!(first["org"]["name"], "acme");
    assert_eq!(first["type"], "REFRESH");
    assert!(first["expiryDate"].is_string());

    let paged = srv.api().cloudapi_tokens(&alice, "page=2&pageSize=2");
    assert_eq!(paged["values"].as_array().unwrap().len(), 1);
    assert_eq!(
        (paged["pageCount"].as_u64(), paged["page"].as_u64()),
        (Some(2), Some(2))
    );

    assert_eq!(
        names(&srv.api().cloudapi_tokens(&alice, "filter=name==ci-1")),
        ["ci-1"]
    );
    assert_eq!(
        names(
            &srv.api()
                .cloudapi_tokens(&alice, "filter=type==REFRESH;name==ci-2")
        ),
        ["ci-2"]
    );
    let proxies = srv.api().cloudapi_tokens(&alice, "filter=type==PROXY");
    assert_eq!(
        (proxies["resultTotal"].as_u64(), names(&proxies).len()),
        (Some(0), 0)
    );

    for bad in [
        "filter=name=ci-1",
        "filter=secret==x",
        "pageSize=0",
        "bogus=1",
    ] {
        srv.api()
            .try_cloudapi_tokens(&alice, bad)
            .assert_status(400, bad);
    }
}

#[test]
fn an_org_admin_sees_its_org_and_token_derived_access_its_own() {
    let srv = TestServer::start();
    let (_, carol, _) = setup(&srv);
    assert_eq!(
        names(&srv.api().cloudapi_tokens(&carol, "")),
        ["admin", "ci-0", "ci-1", "ci-2"],
        "acme's tokens, not other's"
    );
    assert_eq!(
        names(
            &srv.api()
                .cloudapi_tokens(&carol, "filter=owner.name==alice")
        ),
        ["ci-0", "ci-1", "ci-2"]
    );
    let token = srv.api().create_token(&carol, "derived", Some("30m"));
    let derived = srv
        .api()
        .exchange_tenant("acme", &token.secret)
        .access_token;
    assert_eq!(
        names(&srv.api().cloudapi_tokens(&derived, "")),
        ["admin", "derived"],
        "token-derived access sees its own user's tokens only"
    );
}

#[test]
fn tokens_are_revoked_by_urn_within_reach_only() {
    let srv = TestServer::start();
    let (alice, _, bob_token) = setup(&srv);
    let all = srv.api().cloudapi_tokens(&alice, "filter=name==ci-0");
    let urn = str_field(&all["values"][0], "id").to_owned();
    srv.api().revoke_cloudapi_token(&alice, &urn);
    assert_eq!(
        names(&srv.api().cloudapi_tokens(&alice, "")),
        ["ci-1", "ci-2"]
    );
    srv.api()
        .try_revoke_cloudapi_token(&alice, &format!("urn:vcloud:token:{bob_token}"))
        .assert_status(404, "another org's token is unknown");
    srv.api()
        .get("/cloudapi/1.0.0/tokens", &[])
        .assert_bearer_401("no access token");
}
