//! The rights model over the CLI and HTTP: services and their permissions,
//! org and service roles (global or local to an org), granting and taking
//! roles, and disabling users. What a user holds is read afresh at every
//! request: a role taken away is gone from the next login.

use crate::support::*;

/// acme with a service `vmc` and alice, a Token User.
fn acme_with_vmc(srv: &TestServer) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.service_add("vmc", &["vmc:sddc.read", "vmc:sddc.write"]);
    cli.bundle_publish_new("vmc-rights", &["vmc:sddc.read", "vmc:sddc.write"], "acme");
}

#[test]
fn a_granted_service_role_shows_in_the_session_and_goes_when_revoked() {
    let srv = TestServer::start();
    acme_with_vmc(&srv);
    srv.cli()
        .role_add("sddc-reader", Some("acme"), Some("vmc"), &["vmc:sddc.read"]);
    srv.cli().role_set("grant", "alice@acme", "sddc-reader");

    let api = srv.api();
    let login = api.user_login("alice@acme");
    assert!(
        login.roles.contains(&"vmc/sddc-reader".to_string()),
        "{login:?}"
    );
    let info = api.session_info(&login.access_token);
    assert!(
        info.permissions.contains(&"vmc:sddc.read".to_string()),
        "{info:?}"
    );
    assert!(
        !info.permissions.contains(&"vmc:sddc.write".to_string()),
        "{info:?}"
    );
    assert!(info
        .permissions
        .contains(&"tokend:token.manage-own".to_string()));

    srv.cli().role_set("revoke", "alice@acme", "sddc-reader");
    let info = api.session_info(&login.access_token);
    assert!(
        !info.permissions.iter().any(|p| p.starts_with("vmc:")),
        "a revoked role is gone at the next request: {info:?}"
    );
    srv.cli()
        .run(&["role", "revoke", "alice@acme", "sddc-reader"], None)
        .code_is(1, "revoking a role not held");
}

#[test]
fn roles_are_checked_when_defined() {
    let srv = TestServer::start();
    acme_with_vmc(&srv);
    let cli = srv.cli();
    cli.org_add("other");
    cli.role_add(
        "ops",
        Some("acme"),
        None,
        &["vmc:sddc.write", "tokend:user.view"],
    );
    // The same name in another org is another role.
    cli.role_add("ops", Some("other"), None, &["vmc:sddc.read"]);
    for (what, args) in [
        (
            "the same name twice in one org",
            vec!["role", "add", "ops", "--org", "acme"],
        ),
        (
            "a local role named like a global one",
            vec!["role", "add", "Token User", "--org", "acme"],
        ),
        (
            "an unknown permission",
            vec![
                "role",
                "add",
                "x",
                "--org",
                "acme",
                "--permission",
                "vmc:sddc.delete",
            ],
        ),
        (
            "an unknown service",
            vec![
                "role",
                "add",
                "x",
                "--org",
                "acme",
                "--permission",
                "nsx:read",
            ],
        ),
        (
            "a service role holding another service's permission",
            vec![
                "role",
                "add",
                "x",
                "--org",
                "acme",
                "--service",
                "vmc",
                "--permission",
                "tokend:user.view",
            ],
        ),
        (
            "a permission not written service:permission",
            vec!["role", "add", "x", "--org", "acme", "--permission", "read"],
        ),
        (
            "an unknown org",
            vec!["role", "add", "x", "--org", "nowhere"],
        ),
        (
            "a name with a bidi override",
            vec!["role", "add", "x\u{202e}y", "--org", "acme"],
        ),
    ] {
        cli.run(&args, None).code_is(1, what);
    }
    cli.run(&["role", "add", "x"], None)
        .code_is(2, "neither --org nor --global");
    for (what, args) in [
        ("a service twice", vec!["service", "add", "vmc"]),
        (
            "a permission of another service",
            vec!["service", "add", "nsx", "--permission", "vmc:read"],
        ),
        (
            "a service name with a space",
            vec!["service", "add", "my service"],
        ),
    ] {
        cli.run(&args, None).code_is(1, what);
    }
    // A role of another org cannot be granted here.
    cli.run(&["role", "grant", "alice@acme", "nonexistent"], None)
        .code_is(1, "granting an unknown role");
    cli.run(&["role", "grant", "alice@acme", ROLE_SYSADMIN], None)
        .code_is(1, "granting a provider-only role in a tenant org");
}

#[test]
fn a_local_role_is_not_visible_to_other_orgs() {
    let srv = TestServer::start();
    acme_with_vmc(&srv);
    let cli = srv.cli();
    cli.org_add("other");
    cli.user_add("bob@other", &[]);
    cli.role_add("acme-only", Some("acme"), None, &["vmc:sddc.read"]);
    cli.run(&["role", "grant", "bob@other", "acme-only"], None)
        .code_is(1, "granting another org's role");
}

#[test]
fn a_disabled_user_can_do_nothing_until_enabled() {
    let srv = TestServer::start();
    acme_with_vmc(&srv);
    let api = srv.api();
    let session = api.user_login("alice@acme").access_token;
    let token = api.create_token(&session, "ci", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;

    srv.cli()
        .run(&["user", "disable", "alice@acme"], None)
        .ok("user disable");
    api.try_login("alice@acme", USER_PASSWORD)
        .assert_status(401, "login of a disabled user");
    api.try_session_info(&session)
        .assert_bearer_401("the session of a disabled user");
    api.try_session_info(&derived)
        .assert_bearer_401("access derived by a disabled user");
    for (what, r) in [
        ("tenant", api.try_exchange_tenant("acme", &token.secret)),
        ("authorize", api.try_exchange_authorize(&token.secret)),
    ] {
        let description = r.assert_oauth_error("invalid_grant", what);
        assert_eq!(description, "the API token's user is disabled");
    }

    srv.cli()
        .run(&["user", "enable", "alice@acme"], None)
        .ok("user enable");
    // A disable ended the session for good; the user logs in anew, and its
    // API tokens work again.
    api.try_session_info(&session)
        .assert_bearer_401("a session from before the disable");
    api.session_info(&api.user_login("alice@acme").access_token);
    api.exchange_tenant("acme", &token.secret);
    srv.cli()
        .run(&["user", "disable", "nobody@acme"], None)
        .code_is(1, "disabling an unknown user");
}

#[test]
fn users_take_an_e_mail_address_and_a_name() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.run(
        &[
            "user",
            "add",
            "carol@acme",
            "--email",
            "carol@acme.example",
            "--name",
            "Carol Ng",
        ],
        Some(&format!("{USER_PASSWORD}\n")),
    )
    .ok("user add with e-mail and name");
    cli.run(
        &["user", "add", "dan@acme", "--email", "not an address"],
        Some(&format!("{USER_PASSWORD}\n")),
    )
    .code_is(1, "a malformed e-mail address");
    srv.api().user_login("carol@acme");
}
