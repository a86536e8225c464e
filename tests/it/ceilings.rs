//! The privilege ceiling, attacked from inside an org: a right to manage
//! users is not a right to become anyone. Nobody grants, revokes or
//! defines more than they hold, acts on a user who holds more, or touches
//! a System Administrator without being one; a password change or a
//! disable ends the user's sessions for good. Each rule with the case it
//! still allows beside it.

use serde_json::{json, Value};

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

fn send(srv: &TestServer, method: &str, path: &str, jwt: &str, body: Option<Value>) -> Response {
    srv.api().send_json(method, path, jwt, body.as_ref())
}

fn provider_login(srv: &TestServer, user: &str) -> String {
    srv.api().provider_login(user, USER_PASSWORD).access_token
}

/// The id of `name@org`, as the System Administrator reads it.
fn id_of(srv: &TestServer, name: &str, org: &str) -> String {
    let admin = srv.api().admin_login().access_token;
    let listing = send(
        srv,
        "GET",
        &format!("/api/users?name={name}&org={org}"),
        &admin,
        None,
    )
    .assert_json("users");
    listing["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["username"] == name))
        .map(|u| str_field(u, "id").to_owned())
        .unwrap_or_else(|| panic!("no user {name}@{org}: {listing}"))
}

fn grant(srv: &TestServer, jwt: &str, user_id: &str, role: &str) -> Response {
    send(
        srv,
        "POST",
        &format!("/api/users/{user_id}/roles"),
        jwt,
        Some(json!({ "role": role })),
    )
}

/// The permissions `jwt`'s session holds now.
fn permissions(srv: &TestServer, jwt: &str) -> Vec<String> {
    srv.api().session_info(jwt).permissions
}

#[test]
fn a_provider_org_admin_cannot_make_itself_or_anyone_system_administrator() {
    let srv = TestServer::start();
    setup(&srv);
    let padmin = provider_login(&srv, "padmin@System");
    let padmin_id = id_of(&srv, "padmin", "System");
    let pat_id = id_of(&srv, "pat", "System");

    grant(&srv, &padmin, &padmin_id, ROLE_SYSADMIN).assert_error(
        403,
        "forbidden",
        "an org admin grants itself System Administrator",
    );
    grant(&srv, &padmin, &pat_id, ROLE_SYSADMIN).assert_error(
        403,
        "forbidden",
        "an org admin grants another System Administrator",
    );
    send(
        &srv,
        "POST",
        "/api/users",
        &padmin,
        Some(
            json!({"username": "mole", "org": "System", "password": USER_PASSWORD,
                    "roles": [ROLE_SYSADMIN]}),
        ),
    )
    .assert_error(403, "forbidden", "a new user made System Administrator");
    srv.api()
        .try_provider_login("mole@System", USER_PASSWORD)
        .assert_status(401, "the refused user was not made");
    let relogged = provider_login(&srv, "padmin@System");
    assert!(
        !permissions(&srv, &relogged).contains(&"tokend:global-role.manage".to_string()),
        "nothing was granted"
    );

    // What it holds, it may hand out; a System Administrator may hand out
    // anything.
    grant(&srv, &padmin, &pat_id, ROLE_TOKEN_USER).assert_status(204, "a role it holds");
    let admin = srv.api().admin_login().access_token;
    grant(&srv, &admin, &pat_id, ROLE_SYSADMIN).assert_status(204, "by a System Administrator");
    let pat = provider_login(&srv, "pat@System");
    assert!(permissions(&srv, &pat).contains(&"tokend:global-role.manage".to_string()));
    // Taking it back is the System Administrator's alone, too.
    send(
        &srv,
        "DELETE",
        &format!(
            "/api/users/{pat_id}/roles/{}",
            ROLE_SYSADMIN.replace(' ', "%20")
        ),
        &padmin,
        None,
    )
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
    let hd = srv.api().user_login("hd@acme").access_token;
    let carol = srv.api().user_login("carol@acme").access_token;
    let hd_id = id_of(&srv, "hd", "acme");
    let alice_id = id_of(&srv, "alice", "acme");
    let carol_id = id_of(&srv, "carol", "acme");

    grant(&srv, &hd, &hd_id, ROLE_ORG_ADMIN).assert_error(
        403,
        "forbidden",
        "helpdesk grants itself Organization Administrator",
    );
    grant(&srv, &hd, &alice_id, ROLE_ORG_ADMIN).assert_error(
        403,
        "forbidden",
        "helpdesk grants another Organization Administrator",
    );
    send(
        &srv,
        "DELETE",
        &format!("/api/users/{carol_id}/roles/Organization%20Administrator"),
        &hd,
        None,
    )
    .assert_error(403, "forbidden", "helpdesk revokes a role it does not hold");
    assert!(
        permissions(&srv, &srv.api().user_login("carol@acme").access_token)
            .contains(&"tokend:audit.view".to_string()),
        "carol keeps her role"
    );
    grant(&srv, &hd, &alice_id, ROLE_MEMBER).assert_status(204, "a role within its own");

    // A group holding Organization Administrator: joining it is being
    // granted it.
    let admins = send(
        &srv,
        "POST",
        "/api/groups",
        &carol,
        Some(json!({"name": "admins", "org": "acme"})),
    )
    .assert_status(201, "group")
    .assert_json("group");
    let admins = str_field(&admins, "id").to_owned();
    send(
        &srv,
        "POST",
        &format!("/api/groups/{admins}/roles"),
        &carol,
        Some(json!({"role": ROLE_ORG_ADMIN})),
    )
    .assert_status(200, "carol gives the group her role");
    send(
        &srv,
        "POST",
        &format!("/api/groups/{admins}/members"),
        &hd,
        Some(json!({"user": hd_id})),
    )
    .assert_error(403, "forbidden", "helpdesk joins a group above it");
    send(
        &srv,
        "POST",
        &format!("/api/groups/{admins}/roles"),
        &hd,
        Some(json!({"role": "helpdesk"})),
    )
    .assert_status(200, "helpdesk gives a group a role it holds");
    let helpers = send(
        &srv,
        "POST",
        "/api/groups",
        &hd,
        Some(json!({"name": "helpers", "org": "acme"})),
    )
    .assert_status(201, "a group of its own")
    .assert_json("a group of its own");
    let helpers = str_field(&helpers, "id").to_owned();
    send(
        &srv,
        "POST",
        &format!("/api/groups/{helpers}/roles"),
        &hd,
        Some(json!({"role": ROLE_ORG_ADMIN})),
    )
    .assert_error(403, "forbidden", "helpdesk grants a group a role above it");
    send(
        &srv,
        "POST",
        &format!("/api/groups/{helpers}/roles"),
        &hd,
        Some(json!({"role": ROLE_TOKEN_USER})),
    )
    .assert_status(200, "a role it holds, to a group");
    send(
        &srv,
        "POST",
        &format!("/api/groups/{helpers}/members"),
        &hd,
        Some(json!({"user": alice_id})),
    )
    .assert_status(200, "a member of a group within its rights");
    let hd_now = srv.api().user_login("hd@acme").access_token;
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
    let smith = srv.api().user_login("smith@acme").access_token;
    send(
        &srv,
        "POST",
        "/api/roles",
        &smith,
        Some(json!({"name": "escalate", "org": "acme", "permissions": ["tokend:user.manage"]})),
    )
    .assert_error(403, "forbidden", "a role above its author");
    send(
        &srv,
        "POST",
        "/api/roles",
        &smith,
        Some(json!({"name": "viewers", "org": "acme", "permissions": ["tokend:role.view"]})),
    )
    .assert_status(201, "a role within its author's rights");

    // Its own role, widened: refused; narrowed to what it holds: allowed.
    let roles = send(&srv, "GET", "/api/roles?name=rolesmith", &smith, None).assert_json("roles");
    let rolesmith = str_field(&roles["roles"][0], "id").to_owned();
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{rolesmith}/permissions"),
        &smith,
        Some(
            json!({"permissions": ["tokend:role.manage", "tokend:org.view", "tokend:audit.view"]}),
        ),
    )
    .assert_error(403, "forbidden", "widening a role beyond its author");
    let smith_now = srv.api().user_login("smith@acme").access_token;
    assert!(!permissions(&srv, &smith_now).contains(&"tokend:audit.view".to_string()));
    let carol = srv.api().user_login("carol@acme").access_token;
    let helpdesk = send(&srv, "GET", "/api/roles?name=helpdesk", &carol, None).assert_json("roles");
    let helpdesk = str_field(&helpdesk["roles"][0], "id").to_owned();
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{helpdesk}/permissions"),
        &smith,
        Some(json!({"permissions": ["tokend:org.view"]})),
    )
    .assert_error(403, "forbidden", "taking away permissions its author lacks");
    send(
        &srv,
        "PUT",
        &format!("/api/roles/{helpdesk}/permissions"),
        &carol,
        Some(json!({"permissions": HELPDESK})),
    )
    .assert_status(200, "an org admin changes a role within its rights");
}

#[test]
fn passwords_and_the_enabled_flag_of_users_above_the_caller_are_out_of_reach() {
    let srv = TestServer::start();
    setup(&srv);
    let api = srv.api();
    let hd = api.user_login("hd@acme").access_token;
    let padmin = provider_login(&srv, "padmin@System");
    let carol = api.user_login("carol@acme").access_token;
    let (alice_id, carol_id) = (id_of(&srv, "alice", "acme"), id_of(&srv, "carol", "acme"));
    let admin_id = id_of(&srv, "administrator", "System");
    let reset = |jwt: &str, id: &str| {
        send(
            &srv,
            "PUT",
            &format!("/api/users/{id}/password"),
            jwt,
            Some(json!({"new_password": "Ta-ken-0ver-now-1"})),
        )
    };

    reset(&padmin, &admin_id).assert_error(
        403,
        "forbidden",
        "an org admin resets the System Administrator's password",
    );
    send(
        &srv,
        "POST",
        &format!("/api/users/{admin_id}/disable"),
        &padmin,
        None,
    )
    .assert_error(
        403,
        "forbidden",
        "an org admin disables the System Administrator",
    );
    api.admin_login();
    reset(&hd, &carol_id).assert_error(403, "forbidden", "helpdesk resets an org admin");
    send(
        &srv,
        "POST",
        &format!("/api/users/{carol_id}/disable"),
        &hd,
        None,
    )
    .assert_error(403, "forbidden", "helpdesk disables an org admin");
    api.user_login("carol@acme");
    let own = reset(&hd, &id_of(&srv, "hd", "acme"));
    own.assert_error(
        400,
        "invalid_request",
        "one's own password needs the current one",
    );

    // Within the ceiling: helpdesk resets alice, an org admin resets helpdesk.
    reset(&hd, &alice_id).assert_status(204, "helpdesk resets a token user");
    api.login("alice@acme", "Ta-ken-0ver-now-1");
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice_id}/disable"),
        &hd,
        None,
    )
    .assert_status(200, "helpdesk disables a token user");
    reset(&carol, &id_of(&srv, "hd", "acme")).assert_status(204, "an org admin resets helpdesk");

    // Each reset names who did it and to whom.
    let admin = api.admin_login().access_token;
    let changes = recorded_events(api, &admin, "user.password_change", 2);
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
    let denied = recorded_events(api, &admin, "access.denied", 4);
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
    send(
        &srv,
        "PUT",
        "/api/users/me/password",
        &first,
        Some(json!({"current_password": USER_PASSWORD, "new_password": "N3w-passw0rd-alice"})),
    )
    .assert_status(204, "own password");
    api.session_info(&first);
    api.try_session_info(&second)
        .assert_status(401, "another session, after a password change");

    // An admin's reset ends them all, the one that was kept too.
    let carol = api.user_login("carol@acme").access_token;
    let alice_id = id_of(&srv, "alice", "acme");
    send(
        &srv,
        "PUT",
        &format!("/api/users/{alice_id}/password"),
        &carol,
        Some(json!({"new_password": USER_PASSWORD})),
    )
    .assert_status(204, "an admin's reset");
    api.try_session_info(&first)
        .assert_status(401, "the changer's own session, after an admin's reset");
    api.session_info(&carol);

    // A disable ends every session; enabling again brings none back.
    let third = api.user_login("alice@acme").access_token;
    let token = api.create_token(&third, "ci", None);
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice_id}/disable"),
        &carol,
        None,
    )
    .assert_status(200, "disable");
    api.try_session_info(&third)
        .assert_status(401, "while disabled");
    send(
        &srv,
        "POST",
        &format!("/api/users/{alice_id}/enable"),
        &carol,
        None,
    )
    .assert_status(200, "enable");
    api.try_session_info(&third)
        .assert_status(401, "a session from before the disable");
    let fresh = api.user_login("alice@acme").access_token;
    api.session_info(&fresh);
    api.exchange_tenant("acme", &token.secret);
}
