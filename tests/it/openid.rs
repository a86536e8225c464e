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

fn userinfo(srv: &TestServer, jwt: &str) -> Value {
    srv.api()
        .get_bearer("/userinfo", jwt)
        .assert_json("userinfo")
}

#[test]
fn userinfo_names_the_user_and_the_roles_of_the_grant() {
    let srv = TestServer::start();
    let session = alice(&srv);
    let mut info = userinfo(&srv, &session);
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
    let created = srv.api().try_create_token(
        &session,
        &json!({"name": "narrow", "org_roles": ["auditors"]}).to_string(),
    );
    created.assert_status(201, "a narrowed token");
    let secret = str_field(&created.json(), "token").to_owned();
    let derived = srv.api().exchange_tenant("acme", &secret).access_token;
    assert_eq!(userinfo(&srv, &derived)["roles"], json!(["auditors"]));

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
        .get_bearer("/userinfo", &flip_char(&session, 30))
        .assert_bearer_401("a tampered access token");
    srv.api()
        .request(
            "DELETE",
            CURRENT_SESSION,
            &[("Authorization", &bearer(&session))],
            None,
        )
        .assert_status(204, "logout");
    srv.api()
        .get_bearer("/userinfo", &session)
        .assert_bearer_401("after logout");
}

#[test]
fn the_discovery_document_names_userinfo() {
    let srv = TestServer::start();
    let metadata = srv
        .api()
        .get("/.well-known/openid-configuration", &[])
        .assert_json("discovery");
    let issuer = str_field(&metadata, "issuer");
    assert_eq!(
        str_field(&metadata, "userinfo_endpoint"),
        format!("{issuer}/userinfo")
    );
}
