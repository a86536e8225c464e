//! The privilege ceiling, attacked from inside an org: a right to manage
//! users is not a right to become anyone. Nobody grants, revokes or
//! defines more than they hold, acts on a user who holds more, or touches
//! a System Administrator without being one; a password change or a
//! disable ends the user's sessions for good. Each rule with the case it
//! still allows beside it.

use crate::support::*;

/// The helpdesk role: manages users and groups, makes its own tokens.
const HELPDESK: [&str; 4] = [
    "tokend:user.manage",
    "tokend:group.manage",
    "tokend:token.manage-own",
    "tokend:org.view",
];

/// acme with carol (Organization Administrator), hd (helpdesk), alice
/// (Token User); the System org with padmin (Organization Administrator,
/// not System Administrator) and pat (Organization Member).
fn setup(srv: &TestServer) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.role_add("helpdesk", Some("acme"), None, &HELPDESK);
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("hd@acme", &["helpdesk"]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("padmin@System", &[ROLE_ORG_ADMIN]);
    cli.user_add("pat@System", &[ROLE_MEMBER]);
}

fn provider_login(srv: &TestServer, user: &str) -> String {
    srv.api().provider_login(user, USER_PASSWORD).access_token
}

/// The id of `user@org`, as the System Administrator reads it.
fn id_of(srv: &TestServer, user: &str) -> String {
    let admin = srv.api().admin_login().access_token;
    srv.api().user_id(&admin, user)
}

/// The permissions `jwt`'s session holds now.
fn permissions(srv: &TestServer, jwt: &str) -> Vec<String> {
    srv.api().session_info(jwt).permissions
}

#[test]
fn a_provider_org_admin_cannot_make_itself_or_anyone_system_administrator() {
    let srv = TestServer::start();
    setup(&srv);
    let api = srv.api();
    let padmin = provider_login(&srv, "padmin@System");
    let padmin_id = id_of(&srv, "padmin@System");
    let pat_id = id_of(&srv, "pat@System");

    api.try_grant_user_role(&padmin, &padmin_id, ROLE_SYSADMIN)
        .assert_error(
            403,
            "forbidden",
            "an org admin grants itself System Administrator",
        );
    api.try_grant_user_role(&padmin, &pat_id, ROLE_SYSADMIN)
        .assert_error(
            403,
            "forbidden",
            "an org admin grants another System Administrator",
        );
    api.try_create_user(
        &padmin,
        &NewUser::new("mole", "System").roles(&[ROLE_SYSADMIN]),
    )
    .assert_error(403, "forbidden", "a new user made System Administrator");
    api.try_provider_login("mole@System", USER_PASSWORD)
        .assert_status(401, "the refused user was not made");
    let relogged = provider_login(&srv, "padmin@System");
    assert!(
        !permissions(&srv, &relogged).contains(&"tokend:global-role.manage".to_string()),
        "nothing was granted"
    );

    // What it holds, it may hand out; a System Administrator may hand out
    // anything.
    api.grant_user_role(&padmin, &pat_id, ROLE_TOKEN_USER);
    let admin = api.admin_login().access_token;
    api.grant_user_role(&admin, &pat_id, ROLE_SYSADMIN);
    let pat = provider_login(&srv, "pat@System");
    assert!(permissions(&srv, &pat).contains(&"tokend:global-role.manage".to_string()));
    // Taking it back is the System Administrator's alone, too.
    api.try_revoke_user_role(&padmin, &pat_id, ROLE_SYSADMIN)
        .assert_error(
            403,
            "forbidden",
            "an org admin revokes System Administrator",
        );
}

#[test]
fn a_helpdesk_user_grants_revokes_and_groups_only_within_what_it_holds() {
    let srv = TestServer::start();
    setup(&srv);
    let api = srv.api();
    let hd = api.user_login("hd@acme").access_token;
    let carol = api.user_login("carol@acme").access_token;
    let hd_id = id_of(&srv, "hd@acme");
    let alice_id = id_of(&srv, "alice@acme");
    let carol_id = id_of(&srv, "carol@acme");

    api.try_grant_user_role(&hd, &hd_id, ROLE_ORG_ADMIN)
        .assert_error(
            403,
            "forbidden",
            "helpdesk grants itself Organization Administrator",
        );
    api.try_grant_user_role(&hd, &alice_id, ROLE_ORG_ADMIN)
        .assert_error(
            403,
            "forbidden",
            "helpdesk grants another Organization Administrator",
        );
    api.try_revoke_user_role(&hd, &carol_id, ROLE_ORG_ADMIN)
        .assert_error(403, "forbidden", "helpdesk revokes a role it does not hold");
    assert!(
        permissions(&srv, &api.user_login("carol@acme").access_token)
            .contains(&"tokend:audit.view".to_string()),
        "carol keeps her role"
    );
    api.grant_user_role(&hd, &alice_id, ROLE_MEMBER);

    // A group holding Organization Administrator: joining it is being
    // granted it.
    let admins = api.create_group(&carol, "admins", "acme").id;
    api.grant_group_role(&carol, &admins, ROLE_ORG_ADMIN);
    api.try_add_group_member(&hd, &admins, &hd_id).assert_error(
        403,
        "forbidden",
        "helpdesk joins a group above it",
    );
    api.grant_group_role(&hd, &admins, "helpdesk");
    let helpers = api.create_group(&hd, "helpers", "acme").id;
    api.try_grant_group_role(&hd, &helpers, ROLE_ORG_ADMIN)
        .assert_error(403, "forbidden", "helpdesk grants a group a role above it");
    api.grant_group_role(&hd, &helpers, ROLE_TOKEN_USER);
    api.add_group_member(&hd, &helpers, &alice_id);
    let hd_now = api.user_login("hd@acme").access_token;
    assert!(
        !permissions(&srv, &hd_now).contains(&"tokend:audit.view".to_string()),
        "helpdesk gained nothing"
    );
}

#[test]
fn a_role_is_defined_or_changed_only_with_permissions_its_author_holds() {
    let srv = TestServer::start();
    setup(&srv);
    let cli = srv.cli();
    cli.role_add(
        "rolesmith",
        Some("acme"),
        None,
        &["tokend:role.manage", "tokend:org.view"],
    );
    cli.user_add("smith@acme", &["rolesmith"]);
    let api = srv.api();
    let smith = api.user_login("smith@acme").access_token;
    api.try_create_role(
        &smith,
        &NewRole::local("escalate", "acme").permissions(&["tokend:user.manage"]),
    )
    .assert_error(403, "forbidden", "a role above its author");
    api.create_role(
        &smith,
        &NewRole::local("viewers", "acme").permissions(&["tokend:role.view"]),
    );

    // Its own role, widened: refused; narrowed to what it holds: allowed.
    let rolesmith = api.role_id(&smith, "rolesmith");
    api.try_set_role_permissions(
        &smith,
        &rolesmith,
        &["tokend:role.manage", "tokend:org.view", "tokend:audit.view"],
    )
    .assert_error(403, "forbidden", "widening a role beyond its author");
    let smith_now = api.user_login("smith@acme").access_token;
    assert!(!permissions(&srv, &smith_now).contains(&"tokend:audit.view".to_string()));
    let carol = api.user_login("carol@acme").access_token;
    let helpdesk = api.role_id(&carol, "helpdesk");
    api.try_set_role_permissions(&smith, &helpdesk, &["tokend:org.view"])
        .assert_error(403, "forbidden", "taking away permissions its author lacks");
    api.set_role_permissions(&carol, &helpdesk, &HELPDESK);
}

#[test]
fn passwords_and_the_enabled_flag_of_users_above_the_caller_are_out_of_reach() {
    let srv = TestServer::start();
    setup(&srv);
    let api = srv.api();
    let hd = api.user_login("hd@acme").access_token;
    let padmin = provider_login(&srv, "padmin@System");
    let carol = api.user_login("carol@acme").access_token;
    let (alice_id, carol_id) = (id_of(&srv, "alice@acme"), id_of(&srv, "carol@acme"));
    let admin_id = id_of(&srv, "administrator@System");
    let reset = |jwt: &str, id: &str| api.try_set_password(jwt, id, None, "Ta-ken-0ver-now-1");

    reset(&padmin, &admin_id).assert_error(
        403,
        "forbidden",
        "an org admin resets the System Administrator's password",
    );
    api.try_disable_user(&padmin, &admin_id).assert_error(
        403,
        "forbidden",
        "an org admin disables the System Administrator",
    );
    api.admin_login();
    reset(&hd, &carol_id).assert_error(403, "forbidden", "helpdesk resets an org admin");
    api.try_disable_user(&hd, &carol_id).assert_error(
        403,
        "forbidden",
        "helpdesk disables an org admin",
    );
    api.user_login("carol@acme");
    let own = reset(&hd, &id_of(&srv, "hd@acme"));
    own.assert_error(
        400,
        "invalid_request",
        "one's own password needs the current one",
    );

    // Within the ceiling: helpdesk resets alice, an org admin resets helpdesk.
    reset(&hd, &alice_id).assert_status(204, "helpdesk resets a token user");
    api.login("alice@acme", "Ta-ken-0ver-now-1");
    api.disable_user(&hd, &alice_id);
    reset(&carol, &id_of(&srv, "hd@acme")).assert_status(204, "an org admin resets helpdesk");

    // Each reset names who did it and to whom.
    let admin = api.admin_login().access_token;
    let changes = api.recorded_events(&admin, "user.password_change", 2);
    let pairs: Vec<(String, String)> = changes
        .iter()
        .map(|e| {
            (
                str_field(&e["actor"], "name").to_owned(),
                str_field(&e["target"], "name").to_owned(),
            )
        })
        .collect();
    assert!(
        pairs.contains(&("hd@acme".into(), "alice@acme".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("carol@acme".into(), "hd@acme".into())),
        "{pairs:?}"
    );
    let denied = api.recorded_events(&admin, "access.denied", 4);
    assert!(
        denied.iter().all(|e| e["outcome"] == "denied"),
        "{denied:?}"
    );
}

#[test]
fn a_password_change_ends_other_sessions_and_a_disable_ends_all_for_good() {
    let srv = TestServer::start();
    setup(&srv);
    let api = srv.api();
    let first = api.user_login("alice@acme").access_token;
    let second = api.user_login("alice@acme").access_token;
    api.set_password(&first, "me", Some(USER_PASSWORD), "N3w-passw0rd-alice");
    api.session_info(&first);
    api.try_session_info(&second)
        .assert_status(401, "another session, after a password change");

    // An admin's reset ends them all, the one that was kept too.
    let carol = api.user_login("carol@acme").access_token;
    let alice_id = id_of(&srv, "alice@acme");
    api.set_password(&carol, &alice_id, None, USER_PASSWORD);
    api.try_session_info(&first)
        .assert_status(401, "the changer's own session, after an admin's reset");
    api.session_info(&carol);

    // A disable ends every session; enabling again brings none back.
    let third = api.user_login("alice@acme").access_token;
    let token = api.create_token(&third, "ci", None);
    api.disable_user(&carol, &alice_id);
    api.try_session_info(&third)
        .assert_status(401, "while disabled");
    api.enable_user(&carol, &alice_id);
    api.try_session_info(&third)
        .assert_status(401, "a session from before the disable");
    let fresh = api.user_login("alice@acme").access_token;
    api.session_info(&fresh);
    api.exchange_tenant("acme", &token.secret);
}
