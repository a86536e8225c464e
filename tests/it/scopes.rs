//! Token scopes: a token grants its scope intersected with what its user
//! holds at the moment of each exchange, never more. Access tokens are
//! checked the way a resource server would: verified against the JWKS with
//! an independent JWT library, then `roles` and `perms` read.

use serde_json::{json, Value};

use crate::jwt::verify;
use crate::support::*;

/// acme, the service vmc, a service role `operator` (both vmc permissions)
/// and an org role `auditors`; alice holds Token User, operator and auditors.
fn acme(srv: &TestServer) -> String {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.service_add("vmc", &["vmc:sddc.read", "vmc:sddc.write"]);
    cli.bundle_publish_new("vmc-rights", &["vmc:sddc.read", "vmc:sddc.write"], "acme");
    cli.role_add(
        "operator",
        Some("acme"),
        Some("vmc"),
        &["vmc:sddc.read", "vmc:sddc.write"],
    );
    cli.role_add("auditors", Some("acme"), None, &["tokend:user.view"]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER, "operator", "auditors"]);
    srv.api().user_login("alice@acme").access_token
}

fn claims(srv: &TestServer, access_token: &str) -> Value {
    verify(srv, access_token, &format!("http://{}", srv.addr())).1
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn a_scope_narrower_than_the_user_grants_only_itself() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let created = srv.api().create_token_with(
        &alice,
        &NewToken::named("reader").service_role_narrowed("vmc", "operator", &["vmc:sddc.read"]),
    );
    let secret = created.secret;
    assert_eq!(
        created.scope,
        json!({"all_roles": false, "org_roles": [], "service_roles": [
            {"service": "vmc", "role": "operator", "permissions": ["vmc:sddc.read"]}
        ]})
    );

    let answer = srv.api().exchange_tenant("acme", &secret);
    assert_eq!(answer.scope.as_deref(), Some("vmc:sddc.read"));
    let c = claims(&srv, &answer.access_token);
    assert_eq!(strings(&c["roles"]), ["vmc/operator"]);
    assert_eq!(strings(&c["perms"]), ["vmc:sddc.read"]);

    // The console's endpoint names the grant too, not ALL_PERMISSIONS.
    let console = srv.api().exchange_authorize(&secret);
    assert_eq!(console.scope.as_deref(), Some("vmc:sddc.read"));

    // What tokend itself lets this access do follows the grant.
    let info = srv.api().session_info(&answer.access_token);
    assert_eq!(info.permissions, ["vmc:sddc.read"], "{info:?}");
    assert!(info.rights.is_empty(), "{info:?}");
}

#[test]
fn a_scope_wider_than_the_user_is_refused_naming_what_is_missing() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let x = || NewToken::named("x");
    for (token, missing) in [
        (x().org_roles(&[ROLE_ORG_ADMIN]), ROLE_ORG_ADMIN),
        (x().service_role("vmc", "admin"), "vmc/admin"),
        (
            x().service_role_narrowed("vmc", "operator", &["vmc:sddc.delete"]),
            "vmc:sddc.delete",
        ),
    ] {
        let r = srv.api().try_create_token_with(&alice, &token);
        let error = r.assert_error(400, "invalid_request", &format!("{token:?}"));
        assert!(
            str_field(&error, "message").contains(missing),
            "{missing} named: {error}"
        );
    }
    for token in [
        x().all_roles(true).org_roles(&["auditors"]),
        x().all_roles(false),
        x().org_roles(&[]),
    ] {
        srv.api()
            .try_create_token_with(&alice, &token)
            .assert_error(400, "invalid_request", &format!("{token:?}"));
    }
    // A service role without its role is no request the typed form makes.
    let body = json!({"name": "x", "service_roles": [{"service": "vmc"}]});
    srv.api()
        .try_create_token(&alice, &body.to_string())
        .assert_error(400, "invalid_request", &body.to_string());
    assert!(
        srv.api().list_tokens(&alice).is_empty(),
        "nothing was created"
    );
}

#[test]
fn all_roles_is_exactly_what_the_user_holds() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let secret = srv
        .api()
        .create_token_with(&alice, &NewToken::named("all"))
        .secret;
    let held = srv.api().session_info(&alice).permissions;
    // Access derived from an API token keeps tokend's view rights only.
    let derivable: Vec<String> = held
        .iter()
        .filter(|p| !(p.starts_with("tokend:") && p.contains("manage")))
        .cloned()
        .collect();
    assert!(held.contains(&"tokend:token.manage-own".to_string()));

    let answer = srv.api().exchange_tenant("acme", &secret);
    let c = claims(&srv, &answer.access_token);
    assert_eq!(strings(&c["perms"]), derivable);
    assert_eq!(
        strings(&c["roles"]),
        [ROLE_TOKEN_USER, "auditors", "vmc/operator"]
            .map(String::from)
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    let console = srv.api().exchange_authorize(&secret);
    assert_eq!(console.scope.as_deref(), Some("ALL_PERMISSIONS"));
    let listed = srv.api().list_tokens(&alice);
    assert_eq!(listed[0].scope, json!({"all_roles": true}));
}

#[test]
fn a_role_taken_away_after_creation_is_absent_from_the_next_exchange() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let scoped = srv
        .api()
        .create_token_with(
            &alice,
            &NewToken::named("ops")
                .service_role("vmc", "operator")
                .org_roles(&["auditors"]),
        )
        .secret;
    let all = srv
        .api()
        .create_token_with(&alice, &NewToken::named("all"))
        .secret;
    let before = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert_eq!(strings(&before["roles"]), ["auditors", "vmc/operator"]);

    srv.cli().role_set("revoke", "alice@acme", "operator");
    let after = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert_eq!(strings(&after["roles"]), ["auditors"]);
    assert_eq!(strings(&after["perms"]), ["tokend:user.view"]);
    let everything = claims(&srv, &srv.api().exchange_tenant("acme", &all).access_token);
    assert!(
        !strings(&everything["perms"])
            .iter()
            .any(|p| p.starts_with("vmc:")),
        "all roles never exceeds the user: {everything}"
    );

    // Granted again, it is back: the scope never changed.
    srv.cli().role_set("grant", "alice@acme", "operator");
    let again = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert_eq!(strings(&again["roles"]), ["auditors", "vmc/operator"]);
}

#[test]
fn the_cli_creates_scoped_tokens_too() {
    let srv = TestServer::start();
    acme(&srv);
    let out = srv
        .cli()
        .run(
            &[
                "token",
                "create",
                "alice@acme",
                "--name",
                "cli-reader",
                "--service-role",
                "vmc/operator",
                "--permission",
                "vmc:sddc.read",
            ],
            None,
        )
        .ok("token create with a scope");
    let secret = out
        .stdout
        .lines()
        .next()
        .expect("the secret")
        .trim()
        .to_owned();
    let c = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &secret).access_token,
    );
    assert_eq!(strings(&c["perms"]), ["vmc:sddc.read"]);
    for (what, args) in [
        ("a role the user lacks", vec!["--role", ROLE_ORG_ADMIN]),
        (
            "a permission outside the role",
            vec![
                "--service-role",
                "vmc/operator",
                "--permission",
                "vmc:sddc.delete",
            ],
        ),
        (
            "a permission without its service role",
            vec!["--permission", "vmc:sddc.read"],
        ),
        (
            "a service role not written SERVICE/ROLE",
            vec!["--service-role", "operator"],
        ),
    ] {
        let mut full = vec!["token", "create", "alice@acme", "--name", "x"];
        full.extend(args);
        srv.cli().run(&full, None).code_is(1, what);
    }
}

#[test]
fn a_role_held_through_a_group_lasts_as_long_as_the_group_holds_it() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let cli = srv.cli();
    cli.role_add(
        "sddc-admins",
        Some("acme"),
        Some("vmc"),
        &["vmc:sddc.write"],
    );
    for args in [
        vec!["group", "add", "ops@acme"],
        vec!["group", "join", "ops@acme", "alice"],
        vec!["group", "grant", "ops@acme", "sddc-admins"],
    ] {
        cli.run(&args, None).ok(&args.join(" "));
    }
    let scoped = srv
        .api()
        .create_token_with(
            &alice,
            &NewToken::named("admin").service_role("vmc", "sddc-admins"),
        )
        .secret;
    let c = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert_eq!(strings(&c["roles"]), ["vmc/sddc-admins"]);

    // Taken from the group: gone from the next exchange.
    cli.run(&["group", "revoke", "ops@acme", "sddc-admins"], None)
        .ok("group revoke");
    let c = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert!(strings(&c["roles"]).is_empty(), "{c}");
    assert!(strings(&c["perms"]).is_empty(), "{c}");

    // Granted again, then alice leaves the group: gone again.
    cli.run(&["group", "grant", "ops@acme", "sddc-admins"], None)
        .ok("group grant");
    let c = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert_eq!(strings(&c["perms"]), ["vmc:sddc.write"]);
    cli.run(&["group", "leave", "ops@acme", "alice"], None)
        .ok("group leave");
    let c = claims(
        &srv,
        &srv.api().exchange_tenant("acme", &scoped).access_token,
    );
    assert!(strings(&c["perms"]).is_empty(), "{c}");

    // Groups stay in their org.
    cli.org_add("other");
    cli.user_add("bob@other", &[]);
    cli.run(&["group", "join", "ops@acme", "bob"], None)
        .code_is(1, "a user of another org");
    cli.run(&["group", "add", "ops@acme"], None)
        .code_is(1, "the same group twice");
    cli.run(&["group", "leave", "ops@acme", "alice"], None)
        .code_is(1, "leaving a group one is not in");
    cli.run(&["group", "grant", "ops@other", "sddc-admins"], None)
        .code_is(1, "a group that does not exist");
}

#[test]
fn a_rights_bundle_withdrawn_from_an_org_takes_its_permissions_from_the_next_exchange() {
    let srv = TestServer::start();
    let alice = acme(&srv);
    let all = srv
        .api()
        .create_token_with(&alice, &NewToken::named("all"))
        .secret;
    let before = claims(&srv, &srv.api().exchange_tenant("acme", &all).access_token);
    assert!(strings(&before["perms"]).contains(&"vmc:sddc.write".to_string()));

    let cli = srv.cli();
    cli.run(&["bundle", "withdraw", "vmc-rights", "acme"], None)
        .ok("bundle withdraw");
    let after = claims(&srv, &srv.api().exchange_tenant("acme", &all).access_token);
    assert!(
        !strings(&after["perms"])
            .iter()
            .any(|p| p.starts_with("vmc:")),
        "a withdrawn bundle's permissions are gone: {after}"
    );
    // The role is still held; only what it may grant here shrank.
    assert!(strings(&after["roles"]).contains(&"vmc/operator".to_string()));
    // A scope cannot ask for what the org may not use.
    srv.api()
        .try_create_token_with(
            &alice,
            &NewToken::named("x").service_role_narrowed("vmc", "operator", &["vmc:sddc.read"]),
        )
        .assert_error(
            400,
            "invalid_request",
            "a permission outside the org's bundles",
        );

    // A bundle holding only part of the service brings back only that part.
    cli.bundle_publish_new("vmc-read", &["vmc:sddc.read"], "acme");
    let partial = claims(&srv, &srv.api().exchange_tenant("acme", &all).access_token);
    assert!(strings(&partial["perms"]).contains(&"vmc:sddc.read".to_string()));
    assert!(!strings(&partial["perms"]).contains(&"vmc:sddc.write".to_string()));

    // tokend's own rights come with the Default Rights Bundle, published to
    // every org (a derived token carries their views); the provider org is
    // not capped at all.
    assert!(strings(&partial["perms"]).contains(&"tokend:org.view".to_string()));
    cli.run(&["bundle", "withdraw", "vmc-rights", "acme"], None)
        .code_is(1, "withdrawing a bundle not published");
    cli.run(&["bundle", "publish", "vmc-rights", "System"], None)
        .code_is(1, "the provider org is not capped");
    cli.run(
        &["bundle", "add", "bad", "--permission", "vmc:sddc.delete"],
        None,
    )
    .code_is(1, "a bundle with an unknown permission");
}
