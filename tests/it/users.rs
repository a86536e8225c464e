//! User management over HTTP: listing with paging and a name filter,
//! adding, disabling, enabling, and passwords, each checked against the
//! caller's rights and reach. An org admin acts in its own org only
//! (foreign ids are unknown, 404); token-derived access may view but
//! changes nothing (403 naming why); a password session holds its rights.

use serde_json::{json, Value};

use crate::support::*;

/// acme with carol (Organization Administrator) and alice (Token User);
/// other with bob. Returns carol's session.
fn orgs(srv: &TestServer) -> String {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("bob@other", &[ROLE_TOKEN_USER]);
    srv.api().user_login("carol@acme").access_token
}

fn names(listing: &Value) -> Vec<String> {
    listing["users"]
        .as_array()
        .unwrap_or_else(|| panic!("no users: {listing}"))
        .iter()
        .map(|u| {
            format!(
                "{}@{}",
                str_field(u, "username"),
                str_field(&u["org"], "name")
            )
        })
        .collect()
}

fn user_id(srv: &TestServer, jwt: &str, name: &str) -> String {
    let listing = srv
        .api()
        .get_bearer(&format!("/api/users?name={name}"), jwt)
        .assert_json("user by name");
    str_field(&listing["users"][0], "id").to_owned()
}

fn post_json(srv: &TestServer, path: &str, jwt: &str, body: &Value) -> Response {
    srv.api().send_json("POST", path, jwt, Some(body))
}

fn put_json(srv: &TestServer, path: &str, jwt: &str, body: &Value) -> Response {
    srv.api().send_json("PUT", path, jwt, Some(body))
}

#[test]
fn an_org_admin_lists_its_own_org_a_page_at_a_time() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let all = api.get_bearer("/api/users", &carol).assert_json("list");
    assert_eq!(names(&all), ["alice@acme", "carol@acme"]);
    assert_eq!(all["total"], 2);
    let second = api
        .get_bearer("/api/users?page=2&pageSize=1", &carol)
        .assert_json("page 2");
    assert_eq!(names(&second), ["carol@acme"]);
    assert_eq!(
        (
            second["page"].clone(),
            second["pageSize"].clone(),
            second["total"].clone()
        ),
        (json!(2), json!(1), json!(2))
    );
    let filtered = api
        .get_bearer("/api/users?name=ALI", &carol)
        .assert_json("by name");
    assert_eq!(names(&filtered), ["alice@acme"]);
    api.get_bearer("/api/users?org=other", &carol).assert_error(
        404,
        "not_found",
        "another org's users",
    );
    for bad in [
        "/api/users?pageSize=101",
        "/api/users?page=0",
        "/api/users?page=x",
        "/api/users?sort=name",
        "/api/users?name=a&name=b",
    ] {
        api.get_bearer(bad, &carol)
            .assert_error(400, "invalid_request", bad);
    }

    // The provider sees every org, or one.
    let admin = api.admin_login().access_token;
    let everyone = api.get_bearer("/api/users", &admin).assert_json("provider");
    assert_eq!(everyone["total"], 4);
    let other = api
        .get_bearer("/api/users?org=other", &admin)
        .assert_json("provider, other");
    assert_eq!(names(&other), ["bob@other"]);
}

#[test]
fn foreign_ids_are_unknown_to_an_org_admin() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let admin = srv.api().admin_login().access_token;
    let bob = user_id(&srv, &admin, "bob");
    let api = srv.api();
    api.get_bearer(&format!("/api/users/{bob}"), &carol)
        .assert_error(404, "not_found", "another org's user");
    post_json(
        &srv,
        &format!("/api/users/{bob}/disable"),
        &carol,
        &json!({}),
    )
    .assert_error(404, "not_found", "disabling another org's user");
    put_json(
        &srv,
        &format!("/api/users/{bob}/password"),
        &carol,
        &json!({"new_password": "Sh0uld-not-work"}),
    )
    .assert_error(404, "not_found", "another org's user's password");
    post_json(
        &srv,
        "/api/users",
        &carol,
        &json!({"username": "mallory", "org": "other", "password": USER_PASSWORD}),
    )
    .assert_error(404, "not_found", "adding a user to another org");
    api.get_bearer("/api/users/not-a-uuid", &carol)
        .assert_error(404, "not_found", "a malformed id");
    // bob is untouched.
    api.user_login("bob@other");
}

#[test]
fn an_org_admin_adds_disables_and_enables_users_of_its_org() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let created = post_json(
        &srv,
        "/api/users",
        &carol,
        &json!({"username": "dave", "org": "acme", "password": USER_PASSWORD,
                "email": "dave@acme.example", "name": "Dave Ng"}),
    );
    created.assert_status(201, "add a user");
    let dave = created.json();
    assert_eq!(dave["email"], "dave@acme.example");
    assert_eq!(dave["enabled"], true);
    assert!(
        !created.text().contains(USER_PASSWORD),
        "no password in the answer"
    );
    api.user_login("dave@acme");

    let id = str_field(&dave, "id").to_owned();
    let disabled = post_json(
        &srv,
        &format!("/api/users/{id}/disable"),
        &carol,
        &json!({}),
    );
    assert_eq!(disabled.assert_json("disable")["enabled"], false);
    api.try_login("dave@acme", USER_PASSWORD)
        .assert_status(401, "a disabled user logs in");
    post_json(&srv, &format!("/api/users/{id}/enable"), &carol, &json!({}))
        .assert_status(200, "enable");
    api.user_login("dave@acme");

    let me = user_id(&srv, &carol, "carol");
    post_json(
        &srv,
        &format!("/api/users/{me}/disable"),
        &carol,
        &json!({}),
    )
    .assert_error(400, "invalid_request", "disabling oneself");
    post_json(
        &srv,
        "/api/users",
        &carol,
        &json!({"username": "dave", "org": "acme", "password": USER_PASSWORD}),
    )
    .assert_error(409, "conflict", "the same user twice");
    post_json(
        &srv,
        "/api/users",
        &carol,
        &json!({"username": "eve", "org": "acme", "password": "short"}),
    )
    .assert_error(400, "invalid_request", "a short password");
}

#[test]
fn token_derived_access_views_users_but_changes_nothing() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let token = api.create_token(&carol, "view", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;
    let listing = api
        .get_bearer("/api/users", &derived)
        .assert_json("derived view");
    assert_eq!(listing["total"], 2);
    let alice = user_id(&srv, &carol, "alice");

    for (what, r) in [
        (
            "add a user",
            post_json(
                &srv,
                "/api/users",
                &derived,
                &json!({"username": "x", "org": "acme", "password": USER_PASSWORD}),
            ),
        ),
        (
            "disable a user",
            post_json(
                &srv,
                &format!("/api/users/{alice}/disable"),
                &derived,
                &json!({}),
            ),
        ),
        (
            "set another user's password",
            put_json(
                &srv,
                &format!("/api/users/{alice}/password"),
                &derived,
                &json!({"new_password": "N3w-passw0rd-xyz"}),
            ),
        ),
        (
            "change one's own password",
            put_json(
                &srv,
                "/api/users/me/password",
                &derived,
                &json!({"current_password": USER_PASSWORD, "new_password": "N3w-passw0rd-xyz"}),
            ),
        ),
    ] {
        let error = r.assert_error(403, "forbidden", what);
        assert!(
            str_field(&error, "message").contains("API token"),
            "{what}: the answer says why: {error}"
        );
    }
    // Nothing changed: alice still logs in with her password, and the
    // same calls succeed from carol's password session.
    api.user_login("alice@acme");
    post_json(
        &srv,
        &format!("/api/users/{alice}/disable"),
        &carol,
        &json!({}),
    )
    .assert_status(200, "the session may");
}

#[test]
fn a_user_without_user_view_may_not_list_users() {
    let srv = TestServer::start();
    orgs(&srv);
    let alice = srv.api().user_login("alice@acme").access_token;
    let error = srv.api().get_bearer("/api/users", &alice).assert_error(
        403,
        "forbidden",
        "a Token User lists users",
    );
    assert!(
        str_field(&error, "message").contains("User: View"),
        "{error}"
    );
}

#[test]
fn passwords_are_changed_by_their_owner_or_an_admin() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let alice = api.user_login("alice@acme").access_token;
    let new = "N3w-passw0rd-alice";

    put_json(
        &srv,
        "/api/users/me/password",
        &alice,
        &json!({"current_password": "wrong password", "new_password": new}),
    )
    .assert_error(403, "forbidden", "a wrong current password");
    put_json(
        &srv,
        "/api/users/me/password",
        &alice,
        &json!({"new_password": new}),
    )
    .assert_error(400, "invalid_request", "no current password");
    put_json(
        &srv,
        "/api/users/me/password",
        &alice,
        &json!({"current_password": USER_PASSWORD, "new_password": new}),
    )
    .assert_status(204, "own password");
    api.try_login("alice@acme", USER_PASSWORD)
        .assert_status(401, "the old password");
    api.login("alice@acme", new);

    // An admin sets it without knowing it; alice may not set carol's.
    let alice_id = user_id(&srv, &carol, "alice");
    let carol_id = user_id(&srv, &carol, "carol");
    put_json(
        &srv,
        &format!("/api/users/{alice_id}/password"),
        &carol,
        &json!({"new_password": USER_PASSWORD}),
    )
    .assert_status(204, "an admin resets a password");
    api.user_login("alice@acme");
    let alice = api.user_login("alice@acme").access_token;
    put_json(
        &srv,
        &format!("/api/users/{carol_id}/password"),
        &alice,
        &json!({"new_password": "Ta-ken-0ver-now"}),
    )
    .assert_error(403, "forbidden", "a Token User sets another's password");
    api.user_login("carol@acme");
}
