//! Users: kept accounts giving way to other processes' changes, the
//! rules of user management, and the operator's password reset.

use super::*;

fn a_kept_account_gives_way_to_any_change_made_by_another_process(backend: Backend) {
    let mut f = Fixture::new(backend);
    f.authority.add_org(Actor::Operator, "acme").unwrap();
    f.authority
        .add_user(
            Actor::Operator,
            NewAccount {
                org_name: "acme",
                user_name: "alice",
                password: PASSWORD,
                role_names: &[rights::TOKEN_USER.to_string()],
                email: None,
                display_name: None,
            },
        )
        .unwrap();
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", "alice", PASSWORD, None, HOME)
        .unwrap();
    let manages = |f: &Fixture| -> Option<bool> {
        let caller = f.authority.authenticate(&session.access_token, HOME).ok()?;
        Some(caller.rights.contains(Right::UserManage))
    };
    assert_eq!(manages(&f), Some(false));
    assert_eq!(manages(&f), Some(false), "now from the kept account");

    // The admin CLI, a process with its own cache, changes alice.
    let mut cli = f.other_process();
    let admin = rights::ORGANIZATION_ADMINISTRATOR;
    let alice = cli.user_by_name("acme", "alice").unwrap();
    cli.set_user_role(Actor::Operator, &alice, admin, true)
        .unwrap();
    assert_eq!(manages(&f), Some(true), "a grant counts at once");
    cli.set_user_role(Actor::Operator, &alice, admin, false)
        .unwrap();
    assert_eq!(manages(&f), Some(false), "so does taking it back");
    cli.add_group(Actor::Operator, "acme", "admins").unwrap();
    let group = cli.group_by_name("acme", "admins").unwrap();
    cli.set_group_role(Actor::Operator, &group, admin, true)
        .unwrap();
    assert_eq!(manages(&f), Some(false), "alice is not in the group yet");
    let group = cli.group_by_name("acme", "admins").unwrap();
    cli.set_group_member(Actor::Operator, &group, &alice, true)
        .unwrap();
    assert_eq!(manages(&f), Some(true), "through the group");
    cli.set_user_enabled(Actor::Operator, &alice, false)
        .unwrap();
    assert_eq!(manages(&f), None, "a disabled user is refused at once");
}

/// A user of acme with `roles`, logged in there.
fn acme_caller(f: &mut Fixture, name: &str, roles: &[&str]) -> Caller {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    f.authority
        .add_user(
            Actor::Operator,
            NewAccount {
                org_name: "acme",
                user_name: name,
                password: PASSWORD,
                role_names: &roles,
                email: None,
                display_name: None,
            },
        )
        .unwrap();
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", name, PASSWORD, None, HOME)
        .unwrap();
    f.authority
        .authenticate(&session.access_token, HOME)
        .unwrap()
}

fn user_details_are_changed_by_the_rules_of_user_management(backend: Backend) {
    let mut f = Fixture::new(backend);
    f.authority.add_org(Actor::Operator, "acme").unwrap();
    let carol = acme_caller(&mut f, "carol", &["Organization Administrator"]);
    let alice = acme_caller(&mut f, "alice", &["Token User"]);
    let alice_user = f.authority.user_by_name("acme", "alice").unwrap();
    let details = UserDetails {
        email: Some(Some("alice@acme.example")),
        display_name: Some(Some("Alice Example")),
    };

    // "User: Manage" within the ceiling: an org admin over its user.
    let changed = f
        .authority
        .set_user_details(Actor::Caller(&carol), &alice_user, details)
        .unwrap();
    assert_eq!(changed.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(changed.display_name.as_deref(), Some("Alice Example"));
    let session = f
        .authority
        .login(LoginEndpoint::Tenant, "acme", "alice", PASSWORD, None, HOME)
        .unwrap();
    let again = f
        .authority
        .authenticate(&session.access_token, HOME)
        .unwrap();
    let claims = f.authority.identity(&again).unwrap();
    assert_eq!(claims.email.as_deref(), Some("alice@acme.example"));
    assert_eq!(claims.name.as_deref(), Some("Alice Example"));

    // Without "User: Manage"; over a System Administrator; a bad address.
    let carol_user = f.authority.user_by_name("acme", "carol").unwrap();
    let refused = f
        .authority
        .set_user_details(Actor::Caller(&alice), &carol_user, details);
    assert!(
        matches!(refused, Err(DomainError::Forbidden(_))),
        "{refused:?}"
    );
    let admin_user = f
        .authority
        .user_by_name(PROVIDER_ORG, ADMINISTRATOR)
        .unwrap();
    let refused = f
        .authority
        .set_user_details(Actor::Caller(&carol), &admin_user, details);
    assert!(
        matches!(refused, Err(DomainError::Forbidden(_))),
        "{refused:?}"
    );
    let bad = UserDetails {
        email: Some(Some("no address")),
        display_name: None,
    };
    let refused = f
        .authority
        .set_user_details(Actor::Operator, &admin_user, bad);
    assert!(
        matches!(refused, Err(DomainError::Invalid(_))),
        "{refused:?}"
    );

    // The operator sets the administrator's; `Some(None)` removes one.
    let admin = f
        .authority
        .set_user_details(Actor::Operator, &admin_user, details)
        .unwrap();
    assert_eq!(admin.display_name.as_deref(), Some("Alice Example"));
    let cleared = f
        .authority
        .set_user_details(
            Actor::Operator,
            &admin,
            UserDetails {
                email: Some(None),
                display_name: None,
            },
        )
        .unwrap();
    assert_eq!(cleared.email, None);
    assert_eq!(cleared.display_name.as_deref(), Some("Alice Example"));

    let events = f
        .authority
        .events_for_operator(
            None,
            EventFilter {
                kind: Some("user.update".into()),
                limit: 10,
                ..EventFilter::default()
            },
        )
        .unwrap();
    assert_eq!(events.len(), 3, "one event per change made: {events:?}");
}

fn the_operator_resets_a_password_and_every_session_ends(backend: Backend) {
    let mut f = Fixture::new(backend);
    let before = f.admin_login(HOME).unwrap();
    let admin = f
        .authority
        .authenticate(&before.access_token, HOME)
        .unwrap();
    f.authority
        .set_password(
            Actor::Operator,
            PasswordTarget::User(&admin.account.user_id),
            "a brand new password",
        )
        .unwrap();
    assert!(f.admin_login(HOME).is_err(), "the old password");
    f.authority
        .login(
            LoginEndpoint::Provider,
            PROVIDER_ORG,
            ADMINISTRATOR,
            "a brand new password",
            None,
            HOME,
        )
        .unwrap();
    assert!(
        f.authority
            .authenticate(&before.access_token, HOME)
            .is_err(),
        "the session opened before the reset"
    );
    // The operator has no password of its own.
    let own = f.authority.set_password(
        Actor::Operator,
        PasswordTarget::Me { current: PASSWORD },
        "a brand new password",
    );
    assert!(matches!(own, Err(DomainError::Invalid(_))));
}

on_every_backend!(
    a_kept_account_gives_way_to_any_change_made_by_another_process,
    user_details_are_changed_by_the_rules_of_user_management,
    the_operator_resets_a_password_and_every_session_ends,
);
