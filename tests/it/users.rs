//! User management over HTTP: listing with paging and a name filter,
//! adding, disabling, enabling, and passwords, each checked against the
//! caller's rights and reach. An org admin acts in its own org only
//! (foreign ids are unknown, 404); token-derived access may view but
//! changes nothing (403 naming why); a password session holds its rights.

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

#[test]
fn an_org_admin_lists_its_own_org_a_page_at_a_time() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let all = api.list_users(&carol, "");
    assert_eq!(all.login_names(), ["alice@acme", "carol@acme"]);
    assert_eq!(all.total, 2);
    let second = api.list_users(&carol, "page=2&pageSize=1");
    assert_eq!(second.login_names(), ["carol@acme"]);
    assert_eq!((second.page, second.page_size, second.total), (2, 1, 2));
    let filtered = api.list_users(&carol, "name=ALI");
    assert_eq!(filtered.login_names(), ["alice@acme"]);
    api.try_list_users(&carol, "org=other")
        .assert_error(404, "not_found", "another org's users");
    for bad in [
        "pageSize=101",
        "page=0",
        "page=x",
        "sort=name",
        "name=a&name=b",
    ] {
        api.try_list_users(&carol, bad)
            .assert_error(400, "invalid_request", bad);
    }

    // The provider sees every org, or one.
    let admin = api.admin_login().access_token;
    assert_eq!(api.list_users(&admin, "").total, 4);
    let other = api.list_users(&admin, "org=other");
    assert_eq!(other.login_names(), ["bob@other"]);
}

#[test]
fn foreign_ids_are_unknown_to_an_org_admin() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let bob = api.user_id(&admin, "bob@other");
    api.try_user(&carol, &bob)
        .assert_error(404, "not_found", "another org's user");
    api.try_disable_user(&carol, &bob).assert_error(
        404,
        "not_found",
        "disabling another org's user",
    );
    api.try_set_password(&carol, &bob, None, "Sh0uld-not-work")
        .assert_error(404, "not_found", "another org's user's password");
    api.try_create_user(&carol, &NewUser::new("mallory", "other"))
        .assert_error(404, "not_found", "adding a user to another org");
    api.try_user(&carol, "not-a-uuid")
        .assert_error(404, "not_found", "a malformed id");
    // bob is untouched.
    api.user_login("bob@other");
}

#[test]
fn an_org_admin_adds_disables_and_enables_users_of_its_org() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let created = api.try_create_user(
        &carol,
        &NewUser::new("dave", "acme")
            .email("dave@acme.example")
            .full_name("Dave Ng"),
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
    assert!(!api.disable_user(&carol, &id).enabled);
    api.try_login("dave@acme", USER_PASSWORD)
        .assert_status(401, "a disabled user logs in");
    api.enable_user(&carol, &id);
    api.user_login("dave@acme");

    let me = api.user_id(&carol, "carol@acme");
    api.try_disable_user(&carol, &me)
        .assert_error(400, "invalid_request", "disabling oneself");
    api.try_create_user(&carol, &NewUser::new("dave", "acme"))
        .assert_error(409, "conflict", "the same user twice");
    api.try_create_user(&carol, &NewUser::new("eve", "acme").password("short"))
        .assert_error(400, "invalid_request", "a short password");
}

#[test]
fn token_derived_access_views_users_but_changes_nothing() {
    let srv = TestServer::start();
    let carol = orgs(&srv);
    let api = srv.api();
    let token = api.create_token(&carol, "view", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;
    assert_eq!(api.list_users(&derived, "").total, 2);
    let alice = api.user_id(&carol, "alice@acme");

    for (what, r) in [
        (
            "add a user",
            api.try_create_user(&derived, &NewUser::new("x", "acme")),
        ),
        ("disable a user", api.try_disable_user(&derived, &alice)),
        (
            "set another user's password",
            api.try_set_password(&derived, &alice, None, "N3w-passw0rd-xyz"),
        ),
        (
            "change one's own password",
            api.try_set_password(&derived, "me", Some(USER_PASSWORD), "N3w-passw0rd-xyz"),
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
    api.disable_user(&carol, &alice);
}

#[test]
fn a_user_without_user_view_may_not_list_users() {
    let srv = TestServer::start();
    orgs(&srv);
    let alice = srv.api().user_login("alice@acme").access_token;
    let error = srv.api().try_list_users(&alice, "").assert_error(
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

    api.try_set_password(&alice, "me", Some("wrong password"), new)
        .assert_error(403, "forbidden", "a wrong current password");
    api.try_set_password(&alice, "me", None, new).assert_error(
        400,
        "invalid_request",
        "no current password",
    );
    api.set_password(&alice, "me", Some(USER_PASSWORD), new);
    api.try_login("alice@acme", USER_PASSWORD)
        .assert_status(401, "the old password");
    api.login("alice@acme", new);

    // An admin sets it without knowing it; alice may not set carol's.
    let alice_id = api.user_id(&carol, "alice@acme");
    let carol_id = api.user_id(&carol, "carol@acme");
    api.set_password(&carol, &alice_id, None, USER_PASSWORD);
    api.user_login("alice@acme");
    let alice = api.user_login("alice@acme").access_token;
    api.try_set_password(&alice, &carol_id, None, "Ta-ken-0ver-now")
        .assert_error(403, "forbidden", "a Token User sets another's password");
    api.user_login("carol@acme");
}
