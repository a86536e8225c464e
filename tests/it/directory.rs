//! Roles and groups over HTTP, within the caller's reach: an org admin sees
//! and manages its org's (and sees the global roles), never another org's;
//! token-derived access views but changes nothing. What is granted counts at
//! the next exchange.

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

/// Whether `user`, logging in now, holds `permission`.
fn holds(srv: &TestServer, user: &str, permission: &str) -> bool {
    let jwt = srv.api().user_login(user).access_token;
    let permissions = srv.api().session_info(&jwt).permissions;
    permissions.iter().any(|p| p == permission)
}

/// `readers`, a role of acme for the service vmc holding vmc:sddc.read.
fn readers() -> NewRole {
    NewRole::local("readers", "acme")
        .service("vmc")
        .permissions(&["vmc:sddc.read"])
}

#[test]
fn an_org_admin_sees_its_roles_and_the_global_ones_only() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    let created = api.create_role(&carol, &readers());
    assert!(!created.global);
    let seen = api.list_roles(&carol, "").sorted_names();
    assert!(seen.contains(&"readers".to_string()), "{seen:?}");
    assert!(seen.contains(&ROLE_ORG_ADMIN.to_string()), "{seen:?}");
    assert!(
        !seen.contains(&"other-local".to_string()),
        "another org's role leaked: {seen:?}"
    );
    let filtered = api.list_roles(&carol, "name=READ&pageSize=5");
    assert_eq!(filtered.sorted_names(), ["readers"]);

    api.try_create_role(&carol, &NewRole::local("x", "other"))
        .assert_error(404, "not_found", "a role in another org");
    api.try_create_role(
        &carol,
        &NewRole::global("x").permissions(&["tokend:user.view"]),
    )
    .assert_error(403, "forbidden", "a global role by an org admin");
    let alice = api.user_login("alice@acme").access_token;
    api.try_list_roles(&alice, "")
        .assert_error(403, "forbidden", "a Token User lists roles");
}

#[test]
fn roles_granted_over_http_count_at_the_next_login() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    api.create_role(&carol, &readers());
    let alice = api.user_id(&carol, "alice@acme");
    api.grant_user_role(&carol, &alice, "readers");
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));
    api.revoke_user_role(&carol, &alice, "readers");
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    api.try_revoke_user_role(&carol, &alice, "readers")
        .assert_error(404, "not_found", "a role not held");

    let admin = api.admin_login().access_token;
    let bob = api.user_id(&admin, "bob@other");
    api.try_grant_user_role(&carol, &bob, ROLE_ORG_ADMIN)
        .assert_error(404, "not_found", "granting to another org's user");
    api.try_grant_user_role(&carol, &alice, ROLE_SYSADMIN)
        .assert_error(
            400,
            "invalid_request",
            "a provider-only role in a tenant org",
        );
    api.try_grant_user_role(&carol, &alice, "other-local")
        .assert_error(400, "invalid_request", "another org's local role");
}

#[test]
fn groups_over_http_grant_their_roles_to_their_members() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    api.create_role(&carol, &readers());
    let group = api.create_group(&carol, "ops", "acme").id;
    let alice = api.user_id(&carol, "alice@acme");

    let with_member = api.add_group_member(&carol, &group, &alice);
    assert_eq!(with_member.members, [alice.as_str()]);
    let with_role = api.grant_group_role(&carol, &group, "readers");
    assert_eq!(with_role.roles, ["readers"]);
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));

    api.remove_group_member(&carol, &group, &alice);
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    api.try_remove_group_member(&carol, &group, &alice)
        .assert_error(404, "not_found", "removing a non-member");

    assert_eq!(api.list_groups(&carol, "").sorted_names(), ["ops"]);

    // Another org's admin cannot see or touch it; another org's user cannot join.
    let admin = api.admin_login().access_token;
    let bob = api.user_id(&admin, "bob@other");
    api.try_add_group_member(&admin, &group, &bob).assert_error(
        404,
        "not_found",
        "a user of another org",
    );
    srv.cli().user_add("dora@other", &[ROLE_ORG_ADMIN]);
    let dora = api.user_login("dora@other").access_token;
    api.try_group(&dora, &group)
        .assert_error(404, "not_found", "another org's group");
    assert_eq!(api.list_groups(&dora, "").total, 0);
}

#[test]
fn token_derived_access_views_roles_and_groups_but_changes_nothing() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    let token = api.create_token(&carol, "view", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;
    api.list_roles(&derived, "");
    api.list_groups(&derived, "");
    let alice = api.user_id(&carol, "alice@acme");
    for (what, r) in [
        (
            "define a role",
            api.try_create_role(&derived, &NewRole::local("x", "acme")),
        ),
        (
            "grant a role",
            api.try_grant_user_role(&derived, &alice, ROLE_ORG_ADMIN),
        ),
        ("add a group", api.try_create_group(&derived, "g", "acme")),
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
    let api = srv.api();
    let admin = api.admin_login().access_token;

    api.create_org(&admin, "third");
    let service = api.create_service(&admin, "nsx", &["nsx:fw.read", "nsx:fw.write"]);
    assert_eq!(service.permissions, ["nsx:fw.read", "nsx:fw.write"]);
    let bundle = api.create_bundle(&admin, "nsx-read", &["nsx:fw.read"]).id;
    let published = api.publish_bundle(&admin, &bundle, "acme");
    assert_eq!(published.orgs, ["acme"]);

    // acme now sees the bundle; other does not.
    assert_eq!(
        api.list_bundles(&carol, "").sorted_names(),
        ["Default Rights Bundle", "nsx-read", "vmc-rights"]
    );
    srv.cli().user_add("dora@other", &[ROLE_ORG_ADMIN]);
    let dora = api.user_login("dora@other").access_token;
    assert_eq!(
        api.list_bundles(&dora, "").sorted_names(),
        ["Default Rights Bundle"]
    );
    assert_eq!(api.list_services(&carol, "name=ns").sorted_names(), ["nsx"]);

    api.withdraw_bundle(&admin, &bundle, "acme");
    api.try_withdraw_bundle(&admin, &bundle, "acme")
        .assert_error(404, "not_found", "withdrawing twice");

    // An org admin may do none of it.
    for (what, r) in [
        ("an org", api.try_create_org(&carol, "x")),
        ("a service", api.try_create_service(&carol, "x", &[])),
        ("a bundle", api.try_create_bundle(&carol, "x", &[])),
        (
            "publishing",
            api.try_publish_bundle(&carol, &bundle, "acme"),
        ),
    ] {
        r.assert_error(403, "forbidden", what);
    }
    // Nor may the provider's token-derived access.
    let token = api.create_token(&admin, "view", Some("30m"));
    let derived = api.exchange_provider(&token.secret).access_token;
    let error = api.try_create_org(&derived, "y").assert_error(
        403,
        "forbidden",
        "an org by token-derived access",
    );
    assert!(
        str_field(&error, "message").contains("API token"),
        "{error}"
    );
}

#[test]
fn a_global_role_counts_in_the_orgs_it_is_published_to() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let created = api.create_role(
        &admin,
        &NewRole::global("auditors").permissions(&["tokend:audit.view"]),
    );
    assert!(!created.published_to_all);
    let role = created.id;
    let alice = api.user_id(&carol, "alice@acme");

    let seen = api.list_roles(&carol, "").sorted_names();
    assert!(
        !seen.contains(&"auditors".to_string()),
        "unpublished: {seen:?}"
    );
    api.try_grant_user_role(&carol, &alice, "auditors")
        .assert_error(
            400,
            "invalid_request",
            "granting an unpublished global role",
        );

    api.publish_role(&admin, &role, "acme");
    let seen = api.list_roles(&carol, "").sorted_names();
    assert!(
        seen.contains(&"auditors".to_string()),
        "published: {seen:?}"
    );
    api.grant_user_role(&carol, &alice, "auditors");
    assert!(holds(&srv, "alice@acme", "tokend:audit.view"));

    // Withdrawn, it stops counting at once, though still granted.
    api.withdraw_role(&admin, &role, "acme");
    assert!(!holds(&srv, "alice@acme", "tokend:audit.view"));
    api.try_withdraw_role(&admin, &role, "acme").assert_error(
        404,
        "not_found",
        "withdrawing twice",
    );
    api.try_publish_role(&carol, &role, "acme").assert_error(
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
    let api = srv.api();
    let role = api.create_role(&carol, &readers()).id;
    let alice = api.user_id(&carol, "alice@acme");
    api.grant_user_role(&carol, &alice, "readers");
    assert!(holds(&srv, "alice@acme", "vmc:sddc.read"));

    let emptied = api.set_role_permissions(&carol, &role, &[]);
    assert!(emptied.permissions.is_empty());
    assert!(!holds(&srv, "alice@acme", "vmc:sddc.read"));
    api.try_set_role_permissions(&carol, &role, &["tokend:user.view"])
        .assert_error(
            400,
            "invalid_request",
            "a service role holding another service's permission",
        );

    api.try_delete_role(&carol, &role)
        .assert_error(409, "conflict", "deleting a role still held");
    api.revoke_user_role(&carol, &alice, "readers");
    api.delete_role(&carol, &role);
    api.try_delete_role(&carol, &role)
        .assert_error(404, "not_found", "deleting it again");

    // Built-in roles stay as they are.
    let admin = api.admin_login().access_token;
    let token_user = api.role_id(&admin, ROLE_TOKEN_USER);
    api.try_set_role_permissions(&admin, &token_user, &[])
        .assert_error(400, "invalid_request", "editing a built-in role");
    api.try_delete_role(&carol, &token_user).assert_error(
        403,
        "forbidden",
        "an org admin deleting a global role",
    );
}

#[test]
fn orgs_page_and_foreign_roles_are_unknown() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let orgs = api.list_orgs(&admin, "pageSize=2");
    assert_eq!(orgs.total, 3);
    assert_eq!(orgs.sorted_names(), ["System", "acme"]);
    assert_eq!(api.list_orgs(&carol, "").sorted_names(), ["acme"]);

    // other's local role is unknown to acme's admin.
    let foreign = api.role_id(&admin, "other-local");
    api.try_delete_role(&carol, &foreign)
        .assert_error(404, "not_found", "another org's role");
    api.try_set_role_permissions(&carol, &foreign, &[])
        .assert_error(404, "not_found", "editing another org's role");
}

#[test]
fn services_grow_and_bundles_change_their_permissions() {
    let srv = TestServer::start();
    let carol = setup(&srv);
    let api = srv.api();
    let admin = api.admin_login().access_token;
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

    let vmc = api.service_id(&admin, "vmc");
    let grown = api.extend_service(&admin, &vmc, &["vmc:sddc.admin"]);
    assert_eq!(
        grown.permissions,
        ["vmc:sddc.admin", "vmc:sddc.read", "vmc:sddc.write"]
    );
    api.try_extend_service(&carol, &vmc, &["vmc:x"])
        .assert_error(403, "forbidden", "an org admin extending a service");

    // The bundle published to acme grows to hold the new write permission.
    cli.role_add("writers", Some("acme"), Some("vmc"), &["vmc:sddc.write"]);
    cli.role_set("grant", "alice@acme", "writers");
    let alice = || {
        api.session_info(&api.user_login("alice@acme").access_token)
            .permissions
    };
    assert!(
        !alice().contains(&"vmc:sddc.write".to_string()),
        "not in acme's bundles yet"
    );
    let bundle = api.list_bundles(&admin, "name=vmc").items[0].id.clone();
    api.set_bundle_permissions(&admin, &bundle, &["vmc:sddc.read", "vmc:sddc.write"]);
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
