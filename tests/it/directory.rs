//! Roles and groups over HTTP, within the caller's reach: an org admin sees
//! and manages its org's (and sees the global roles), never another org's;
//! token-derived access views but changes nothing. What is granted counts at
//! the next exchange.

use serde_json::{json, Value};

use crate::support::*;

/// acme (carol: Organization Administrator, and `vmc-admin` holding
/// vmc:sddc.read, which she may hand on; alice: Token User), other (bob),
/// the service vmc in a bundle published to acme, and an `other` local
/// role. Returns carol's session.
fn setup(srv: &TestServer) -> String {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.service_add("vmc", &["vmc:sddc.read"]);
    cli.bundle_publish_new("vmc-rights", &["vmc:sddc.read"], "acme");
    cli.role_add("vmc-admin", Some("acme"), Some("vmc"), &["vmc:sddc.read"]);
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN, "vmc-admin"]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("bob@other", &[ROLE_TOKEN_USER]);
    cli.role_add("other-local", Some("other"), None, &["tokend:user.view"]);
    srv.api().user_login("carol@acme").access_token
}

fn send(srv: &TestServer, method: &str, path: &str, jwt: &str, body: Option<Value>) -> Response {
    srv.api().send_json(method, path, jwt, body.as_ref())
}

fn names(listing: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = listing[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {listing}"))
        .iter()
        .map(|e| str_field(e, "name").to_owned())
        .collect();
    names.sort();
    names
}

fn id_of(srv: &TestServer, jwt: &str, user: &str) -> String {
    let listing =
        send(srv, "GET", &format!("/api/users?name={user}"), jwt, None).assert_json("user");
    str_field(&listing["users"][0], "id").to_owned()
}

/// Whether `user`, logging in now, holds `permission`.
fn holds(srv: &TestServer, user: &str, permission: &str) -> bool {
    let jwt = srv.api().user_login(user).access_token;
    let permissions = srv.api().session_info(&jwt).permissions;
    permissions.iter().any(|p| p == permission)
}

#[test]
fn an_org_admin_sees_its_roles_and_the_global_ones_only() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let created = send(
        &srv,
        "POST",
        "/api/roles",
        &carol,
        Some(
            json!({"name": "readers", "org": "acme", "service": "vmc", "permissions": ["vmc:sddc.read"]}),
        ),
    );
    created.assert_status(201, "a local role");
    assert_eq!(created.json()["global"], false);
    let listing = send(&srv, "GET", "/api/roles", &carol, None).assert_json("roles");
    let seen = names(&listing, "roles");
    assert!(seen.contains(&"readers".to_string()), "{seen:?}");
    assert!(seen.contains(&ROLE_ORG_ADMIN.to_string()), "{seen:?}");
    assert!(
        !seen.contains(&"other-local".to_string()),
        "another org's role leaked: {seen:?}"
    );
    let filtered =
        send(&srv, "GET", "/api/roles?name=READ&pageSize=5", &carol, None).assert_json("by name");
    assert_eq!(names(&filtered, "roles"), ["readers"]);

    send(
        &srv,
        "POST",
        "/api/roles",
        &carol,
        Some(json!({"name": "x", "org": "other"})),
    )
    .assert_error(404, "not_found", "a role in another org");
    send(
        &srv,
        "POST",
        "/api/roles",
        &carol,
        Some(json!({"name": "x", "permissions": ["tokend:user.view"]})),
    )
    .assert_error(403, "forbidden", "a global role by an org admin");
    let alice = srv.api().user_login("alice@acme").access_token;
    send(&srv, "GET", "/api/roles", &alice, None).assert_error(
        403,
        "forbidden",
        "a Token User lists roles",
    );
}

#[test]
fn roles_granted_over_http_count_at_the_next_login() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    send(&srv, "POST", "/api/roles", &carol,
        Some(json!({"name": "readers", "org": "acme", "service": "vmc", "permissions": ["vmc:sddc.read"]})))
        .assert_status(201, "role");
    let alice = id_of(&srv, &carol, "alice");
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": "readers"})),
    )
    .assert_status(204, "grant");
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));
    send(
        &srv,
        "DELETE",
        &format!("/api/users/{alice}/roles/readers"),
        &carol,
        None,
    )
    .assert_status(204, "revoke");
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    send(
        &srv,
        "DELETE",
        &format!("/api/users/{alice}/roles/readers"),
        &carol,
        None,
    )
    .assert_error(404, "not_found", "a role not held");

    let admin = srv.api().admin_login().access_token;
    let bob = id_of(&srv, &admin, "bob");
    send(
        &srv,
        "POST",
        &format!("/api/users/{bob}/roles"),
        &carol,
        Some(json!({"role": ROLE_ORG_ADMIN})),
    )
    .assert_error(404, "not_found", "granting to another org's user");
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": ROLE_SYSADMIN})),
    )
    .assert_error(
        400,
        "invalid_request",
        "a provider-only role in a tenant org",
    );
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": "other-local"})),
    )
    .assert_error(400, "invalid_request", "another org's local role");
}

#[test]
fn groups_over_http_grant_their_roles_to_their_members() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    send(&srv, "POST", "/api/roles", &carol,
        Some(json!({"name": "readers", "org": "acme", "service": "vmc", "permissions": ["vmc:sddc.read"]})))
        .assert_status(201, "role");
    let created = send(
        &srv,
        "POST",
        "/api/groups",
        &carol,
        Some(json!({"name": "ops", "org": "acme"})),
    );
    created.assert_status(201, "group");
    let group = str_field(&created.json(), "id").to_owned();
    let alice = id_of(&srv, &carol, "alice");

    let with_member = send(
        &srv,
        "POST",
        &format!("/api/groups/{group}/members"),
        &carol,
        Some(json!({"user": alice})),
    )
    .assert_json("member");
    assert_eq!(with_member["members"], json!([alice]));
    let with_role = send(
        &srv,
        "POST",
        &format!("/api/groups/{group}/roles"),
        &carol,
        Some(json!({"role": "readers"})),
    )
    .assert_json("group role");
    assert_eq!(with_role["roles"], json!(["readers"]));
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));

    send(
        &srv,
        "DELETE",
        &format!("/api/groups/{group}/members/{alice}"),
        &carol,
        None,
    )
    .assert_status(200, "remove member");
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    send(
        &srv,
        "DELETE",
        &format!("/api/groups/{group}/members/{alice}"),
        &carol,
        None,
    )
    .assert_error(404, "not_found", "removing a non-member");

    let listing = send(&srv, "GET", "/api/groups", &carol, None).assert_json("groups");
    assert_eq!(names(&listing, "groups"), ["ops"]);

    // Another org's admin cannot see or touch it; another org's user cannot join.
    let admin = srv.api().admin_login().access_token;
    let bob = id_of(&srv, &admin, "bob");
    send(
        &srv,
        "POST",
        &format!("/api/groups/{group}/members"),
        &admin,
        Some(json!({"user": bob})),
    )
    .assert_error(404, "not_found", "a user of another org");
    srv.cli().user_add("dora@other", &[ROLE_ORG_ADMIN]);
    let dora = srv.api().user_login("dora@other").access_token;
    send(&srv, "GET", &format!("/api/groups/{group}"), &dora, None).assert_error(
        404,
        "not_found",
        "another org's group",
    );
    assert_eq!(
        send(&srv, "GET", "/api/groups", &dora, None).assert_json("dora")["total"],
        0
    );
}

#[test]
fn token_derived_access_views_roles_and_groups_but_changes_nothing() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let token = srv.api().create_token(&carol, "view", Some("30m"));
    let derived = srv
        .api()
        .exchange_tenant("acme", &token.secret)
        .access_token;
    send(&srv, "GET", "/api/roles", &derived, None).assert_status(200, "view roles");
    send(&srv, "GET", "/api/groups", &derived, None).assert_status(200, "view groups");
    let alice = id_of(&srv, &carol, "alice");
    for (what, r) in [
        (
            "define a role",
            send(
                &srv,
                "POST",
                "/api/roles",
                &derived,
                Some(json!({"name": "x", "org": "acme"})),
            ),
        ),
        (
            "grant a role",
            send(
                &srv,
                "POST",
                &format!("/api/users/{alice}/roles"),
                &derived,
                Some(json!({"role": ROLE_ORG_ADMIN})),
            ),
        ),
        (
            "add a group",
            send(
                &srv,
                "POST",
                "/api/groups",
                &derived,
                Some(json!({"name": "g", "org": "acme"})),
            ),
        ),
    ] {
        let error = r.assert_error(403, "forbidden", what);
        assert!(
            str_field(&error, "message").contains("API token"),
            "{what}: {error}"
        );
    }
    assert!(!holds(&srv, "alice@acme", "tokend:user.manage"));
}

#[test]
fn the_provider_registers_services_bundles_and_orgs_over_http() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let admin = srv.api().admin_login().access_token;

    send(
        &srv,
        "POST",
        "/api/org",
        &admin,
        Some(json!({"name": "third"})),
    )
    .assert_status(201, "an org");
    let service = send(
        &srv,
        "POST",
        "/api/services",
        &admin,
        Some(json!({"name": "nsx", "permissions": ["nsx:fw.read", "nsx:fw.write"]})),
    );
    service.assert_status(201, "a service");
    assert_eq!(
        service.json()["permissions"],
        json!(["nsx:fw.read", "nsx:fw.write"])
    );
    let bundle = send(
        &srv,
        "POST",
        "/api/rights-bundles",
        &admin,
        Some(json!({"name": "nsx-read", "permissions": ["nsx:fw.read"]})),
    );
    bundle.assert_status(201, "a bundle");
    let bundle = str_field(&bundle.json(), "id").to_owned();
    let published = send(
        &srv,
        "POST",
        &format!("/api/rights-bundles/{bundle}/orgs"),
        &admin,
        Some(json!({"org": "acme"})),
    )
    .assert_json("publish");
    assert_eq!(published["orgs"], json!(["acme"]));

    // acme now sees the bundle; other does not.
    let seen = send(&srv, "GET", "/api/rights-bundles", &carol, None).assert_json("acme's bundles");
    assert_eq!(
        names(&seen, "rights_bundles"),
        ["Default Rights Bundle", "nsx-read", "vmc-rights"]
    );
    srv.cli().user_add("dora@other", &[ROLE_ORG_ADMIN]);
    let dora = srv.api().user_login("dora@other").access_token;
    let theirs =
        send(&srv, "GET", "/api/rights-bundles", &dora, None).assert_json("other's bundles");
    assert_eq!(names(&theirs, "rights_bundles"), ["Default Rights Bundle"]);
    let services = send(&srv, "GET", "/api/services?name=ns", &carol, None).assert_json("services");
    assert_eq!(names(&services, "services"), ["nsx"]);

    send(
        &srv,
        "DELETE",
        &format!("/api/rights-bundles/{bundle}/orgs/acme"),
        &admin,
        None,
    )
    .assert_status(200, "withdraw");
    send(
        &srv,
        "DELETE",
        &format!("/api/rights-bundles/{bundle}/orgs/acme"),
        &admin,
        None,
    )
    .assert_error(404, "not_found", "withdrawing twice");

    // An org admin may do none of it.
    for (what, r) in [
        (
            "an org",
            send(&srv, "POST", "/api/org", &carol, Some(json!({"name": "x"}))),
        ),
        (
            "a service",
            send(
                &srv,
                "POST",
                "/api/services",
                &carol,
                Some(json!({"name": "x"})),
            ),
        ),
        (
            "a bundle",
            send(
                &srv,
                "POST",
                "/api/rights-bundles",
                &carol,
                Some(json!({"name": "x"})),
            ),
        ),
        (
            "publishing",
            send(
                &srv,
                "POST",
                &format!("/api/rights-bundles/{bundle}/orgs"),
                &carol,
                Some(json!({"org": "acme"})),
            ),
        ),
    ] {
        r.assert_error(403, "forbidden", what);
    }
    // Nor may the provider's token-derived access.
    let token = srv.api().create_token(&admin, "view", Some("30m"));
    let derived = srv.api().exchange_provider(&token.secret).access_token;
    let error = send(
        &srv,
        "POST",
        "/api/org",
        &derived,
        Some(json!({"name": "y"})),
    )
    .assert_error(403, "forbidden", "an org by token-derived access");
    assert!(
        str_field(&error, "message").contains("API token"),
        "{error}"
    );
}

#[test]
fn a_global_role_counts_in_the_orgs_it_is_published_to() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let admin = srv.api().admin_login().access_token;
    let created = send(
        &srv,
        "POST",
        "/api/roles",
        &admin,
        Some(json!({"name": "auditors", "permissions": ["tokend:audit.view"]})),
    );
    created.assert_status(201, "a global role");
    assert_eq!(created.json()["published_to_all"], false);
    let role = str_field(&created.json(), "id").to_owned();
    let alice = id_of(&srv, &carol, "alice");

    let seen = names(
        &send(&srv, "GET", "/api/roles", &carol, None).assert_json("roles"),
        "roles",
    );
    assert!(
        !seen.contains(&"auditors".to_string()),
        "unpublished: {seen:?}"
    );
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": "auditors"})),
    )
    .assert_error(
        400,
        "invalid_request",
        "granting an unpublished global role",
    );

    send(
        &srv,
        "POST",
        &format!("/api/roles/{role}/orgs"),
        &admin,
        Some(json!({"org": "acme"})),
    )
    .assert_status(200, "publish");
    let seen = names(
        &send(&srv, "GET", "/api/roles", &carol, None).assert_json("roles"),
        "roles",
    );
    assert!(
        seen.contains(&"auditors".to_string()),
        "published: {seen:?}"
    );
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": "auditors"})),
    )
    .assert_status(204, "grant");
    assert!(holds(&srv, "alice@acme", "tokend:audit.view"));

    // Withdrawn, it stops counting at once, though still granted.
    send(
        &srv,
        "DELETE",
        &format!("/api/roles/{role}/orgs/acme"),
        &admin,
        None,
    )
    .assert_status(200, "withdraw");
    assert!(!holds(&srv, "alice@acme", "tokend:audit.view"));
    send(
        &srv,
        "DELETE",
        &format!("/api/roles/{role}/orgs/acme"),
        &admin,
        None,
    )
    .assert_error(404, "not_found", "withdrawing twice");
    send(
        &srv,
        "POST",
        &format!("/api/roles/{role}/orgs"),
        &carol,
        Some(json!({"org": "acme"})),
    )
    .assert_error(
        403,
        "forbidden",
        "an org admin may not publish global roles",
    );
    srv.cli()
        .run(&["role", "publish", "auditors", "acme"], None)
        .ok("CLI publish");
    assert!(holds(&srv, "alice@acme", "tokend:audit.view"));
}

#[test]
fn roles_change_and_go_only_when_nobody_holds_them() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let created = send(
        &srv,
        "POST",
        "/api/roles",
        &carol,
        Some(
            json!({"name": "readers", "org": "acme", "service": "vmc", "permissions": ["vmc:sddc.read"]}),
        ),
    );
    let role = str_field(&created.json(), "id").to_owned();
    let alice = id_of(&srv, &carol, "alice");
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice}/roles"),
        &carol,
        Some(json!({"role": "readers"})),
    )
    .assert_status(204, "grant");
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));

    let emptied = send(
        &srv,
        "PUT",
        &format!("/api/roles/{role}/permissions"),
        &carol,
        Some(json!({"permissions": []})),
    )
    .assert_json("edit");
    assert_eq!(emptied["permissions"], json!([]));
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{role}/permissions"),
        &carol,
        Some(json!({"permissions": ["tokend:user.view"]})),
    )
    .assert_error(
        400,
        "invalid_request",
        "a service role holding another service's permission",
    );

    send(&srv, "DELETE", &format!("/api/roles/{role}"), &carol, None).assert_error(
        409,
        "conflict",
        "deleting a role still held",
    );
    send(
        &srv,
        "DELETE",
        &format!("/api/users/{alice}/roles/readers"),
        &carol,
        None,
    )
    .assert_status(204, "revoke");
    send(&srv, "DELETE", &format!("/api/roles/{role}"), &carol, None)
        .assert_status(204, "delete an unused role");
    send(&srv, "DELETE", &format!("/api/roles/{role}"), &carol, None).assert_error(
        404,
        "not_found",
        "deleting it again",
    );

    // Built-in roles stay as they are.
    let admin = srv.api().admin_login().access_token;
    let listing = send(
        &srv,
        "GET",
        &format!("/api/roles?name={}", "Token"),
        &admin,
        None,
    )
    .assert_json("roles");
    let token_user = str_field(&listing["roles"][0], "id").to_owned();
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{token_user}/permissions"),
        &admin,
        Some(json!({"permissions": []})),
    )
    .assert_error(400, "invalid_request", "editing a built-in role");
    send(
        &srv,
        "DELETE",
        &format!("/api/roles/{token_user}"),
        &carol,
        None,
    )
    .assert_error(403, "forbidden", "an org admin deleting a global role");
}

#[test]
fn orgs_page_and_foreign_roles_are_unknown() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let admin = srv.api().admin_login().access_token;
    let orgs = send(&srv, "GET", "/api/org?pageSize=2", &admin, None).assert_json("orgs");
    assert_eq!(orgs["total"], 3);
    assert_eq!(names(&orgs, "orgs"), ["System", "acme"]);
    let own = send(&srv, "GET", "/api/org", &carol, None).assert_json("carol's orgs");
    assert_eq!(names(&own, "orgs"), ["acme"]);

    // other's local role is unknown to acme's admin.
    let all = send(&srv, "GET", "/api/roles?name=other-local", &admin, None).assert_json("roles");
    let foreign = str_field(&all["roles"][0], "id").to_owned();
    send(
        &srv,
        "DELETE",
        &format!("/api/roles/{foreign}"),
        &carol,
        None,
    )
    .assert_error(404, "not_found", "another org's role");
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{foreign}/permissions"),
        &carol,
        Some(json!({"permissions": []})),
    )
    .assert_error(404, "not_found", "editing another org's role");
}

#[test]
fn services_grow_and_bundles_change_their_permissions() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let admin = srv.api().admin_login().access_token;
    let cli = srv.cli();
    cli.run(
        &["service", "extend", "vmc", "--permission", "vmc:sddc.write"],
        None,
    )
    .ok("service extend");
    cli.run(
        &["service", "extend", "tokend", "--permission", "tokend:x.y"],
        None,
    )
    .code_is(1, "tokend's own permissions do not change");

    let services =
        send(&srv, "GET", "/api/services?name=vmc", &admin, None).assert_json("services");
    let vmc = str_field(&services["services"][0], "id").to_owned();
    let grown = send(
        &srv,
        "POST",
        &format!("/api/services/{vmc}/permissions"),
        &admin,
        Some(json!({"permissions": ["vmc:sddc.admin"]})),
    )
    .assert_json("extend");
    assert_eq!(
        grown["permissions"],
        json!(["vmc:sddc.admin", "vmc:sddc.read", "vmc:sddc.write"])
    );
    send(
        &srv,
        "POST",
        &format!("/api/services/{vmc}/permissions"),
        &carol,
        Some(json!({"permissions": ["vmc:x"]})),
    )
    .assert_error(403, "forbidden", "an org admin extending a service");

    // The bundle published to acme grows to hold the new write permission.
    cli.role_add("writers", Some("acme"), Some("vmc"), &["vmc:sddc.write"]);
    cli.role_set("grant", "alice@acme", "writers");
    let alice = || {
        srv.api()
            .session_info(&srv.api().user_login("alice@acme").access_token)
            .permissions
    };
    assert!(
        !alice().contains(&"vmc:sddc.write".to_string()),
        "not in acme's bundles yet"
    );
    let bundles =
        send(&srv, "GET", "/api/rights-bundles?name=vmc", &admin, None).assert_json("bundles");
    let bundle = str_field(&bundles["rights_bundles"][0], "id").to_owned();
    send(
        &srv,
        "PUT",
        &format!("/api/rights-bundles/{bundle}/permissions"),
        &admin,
        Some(json!({"permissions": ["vmc:sddc.read", "vmc:sddc.write"]})),
    )
    .assert_status(200, "set bundle permissions");
    assert!(alice().contains(&"vmc:sddc.write".to_string()));
    cli.run(
        &[
            "bundle",
            "set",
            "vmc-rights",
            "--permission",
            "vmc:sddc.read",
        ],
        None,
    )
    .ok("bundle set");
    assert!(!alice().contains(&"vmc:sddc.write".to_string()));

    cli.run(
        &[
            "bundle",
            "set",
            "Default Rights Bundle",
            "--permission",
            "tokend:org.view",
        ],
        None,
    )
    .code_is(1, "the Default Rights Bundle keeps tokend's rights");
}
