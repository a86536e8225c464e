//! Orgs, users, the accounts they make up, and login unlocks.

use crate::domain::records::{
    DirectoryFilter, Group, HeldRole, NewUser, Org, RightsBundle, RoleDefinition, Service,
    UserFilter, UserSummary,
};
use crate::domain::storage::{AccountReads, AccountWrites, RoleReads, RoleWrites, StoreError};

pub(super) fn org(id: &str, name: &str) -> Org {
    Org {
        id: id.into(),
        name: name.into(),
        is_provider: false,
        created_at: 0,
    }
}

pub(super) fn provider(id: &str, name: &str) -> Org {
    Org {
        is_provider: true,
        ..org(id, name)
    }
}

pub(super) fn user(id: &str, org_id: &str, name: &str) -> NewUser {
    NewUser {
        id: id.into(),
        org_id: org_id.into(),
        name: name.into(),
        email: None,
        display_name: None,
        password_hash: format!("hash of {id}"),
        created_at: 10,
        role_ids: Vec::new(),
    }
}

pub(super) fn service(id: &str, name: &str, permissions: &[&str]) -> Service {
    Service {
        id: id.into(),
        name: name.into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        created_at: 0,
        identifier: None,
    }
}

pub(super) fn role(
    id: &str,
    org_id: Option<&str>,
    name: &str,
    permissions: &[&str],
) -> RoleDefinition {
    RoleDefinition {
        id: id.into(),
        name: name.into(),
        org_id: org_id.map(String::from),
        service: None,
        provider_only: false,
        published_to_all: false,
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        created_at: 0,
    }
}

pub(super) fn group(id: &str, org_id: &str, name: &str) -> Group {
    Group {
        id: id.into(),
        org_id: org_id.into(),
        name: name.into(),
        created_at: 0,
    }
}

pub(super) fn bundle(id: &str, name: &str, permissions: &[&str]) -> RightsBundle {
    RightsBundle {
        id: id.into(),
        name: name.into(),
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
        created_at: 0,
    }
}

/// Everything, one page.
pub(super) fn all() -> DirectoryFilter {
    DirectoryFilter {
        limit: 100,
        ..DirectoryFilter::default()
    }
}

/// Names are unique regardless of ASCII case, as SQLite's NOCASE has them.
fn org_names_are_unique_regardless_of_case(tx: &(impl AccountReads + AccountWrites)) {
    tx.insert_org(&org("a", "Acme")).unwrap();
    let again = tx.insert_org(&org("b", "ACME"));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    let same_id = tx.insert_org(&org("a", "Other"));
    assert!(matches!(same_id, Err(StoreError::Duplicate)), "{same_id:?}");
    // Only ASCII letters fold: É and é are two names, as in SQLite.
    tx.insert_org(&org("c", "Émile")).unwrap();
    tx.insert_org(&org("d", "émile")).unwrap();
    assert_eq!(tx.org_by_name("acme").unwrap(), Some(org("a", "Acme")));
    // The ASCII letters of either still fold.
    assert_eq!(
        tx.org_by_name("ÉMILE").unwrap().map(|o| o.id),
        Some("c".into())
    );
    assert_eq!(
        tx.org_by_name("éMILE").unwrap().map(|o| o.id),
        Some("d".into())
    );
    assert_eq!(tx.org_by_name("Acm").unwrap(), None);
}

fn there_is_at_most_one_provider_org(tx: &(impl AccountReads + AccountWrites)) {
    assert_eq!(tx.provider_org().unwrap(), None);
    tx.insert_org(&org("t", "Tenant")).unwrap();
    assert_eq!(tx.provider_org().unwrap(), None);
    tx.insert_org(&provider("p", "System")).unwrap();
    assert_eq!(tx.provider_org().unwrap(), Some(provider("p", "System")));
    let second = tx.insert_org(&provider("q", "Other"));
    assert!(matches!(second, Err(StoreError::Duplicate)), "{second:?}");
    assert_eq!(tx.org_by_name("other").unwrap(), None);
}

fn orgs_list_the_provider_first_then_by_name_ignoring_case(
    tx: &(impl AccountReads + AccountWrites),
) {
    for (id, name) in [
        ("g", "gamma"),
        ("b", "beta"),
        ("al", "Alpha"),
        ("ab", "ABD"),
        ("u", "a_c"),
    ] {
        tx.insert_org(&org(id, name)).unwrap();
    }
    tx.insert_org(&provider("z", "zeta")).unwrap();
    let names = |filter: DirectoryFilter| {
        let page = tx.orgs(&filter).unwrap();
        let names: Vec<String> = page.orgs.into_iter().map(|o| o.name).collect();
        (names, page.total)
    };
    // Folded to lower case, `_` sorts before the letters (it would sort
    // after them folded to upper case).
    assert_eq!(
        names(all()),
        (
            vec!["zeta", "a_c", "ABD", "Alpha", "beta", "gamma"]
                .into_iter()
                .map(String::from)
                .collect(),
            6
        )
    );
    let page = DirectoryFilter {
        offset: 1,
        limit: 2,
        ..all()
    };
    assert_eq!(names(page), (vec!["a_c".into(), "ABD".into()], 6));
    let none = DirectoryFilter { limit: 0, ..all() };
    assert_eq!(names(none), (vec![], 6));
    let beyond = DirectoryFilter {
        offset: u64::MAX,
        ..all()
    };
    assert_eq!(names(beyond), (vec![], 6));
    let contains = |text: &str| DirectoryFilter {
        name_contains: Some(text.into()),
        ..all()
    };
    assert_eq!(names(contains("ph")), (vec!["Alpha".into()], 1));
    assert_eq!(names(contains("AL")), (vec!["Alpha".into()], 1));
    // LIKE's own characters are matched as themselves.
    assert_eq!(names(contains("_")), (vec!["a_c".into()], 1));
    assert_eq!(names(contains("%")), (vec![], 0));
    let one = DirectoryFilter {
        org_id: Some("b".into()),
        ..all()
    };
    assert_eq!(names(one), (vec!["beta".into()], 1));
    let full = tx.orgs(&all()).unwrap().orgs;
    assert_eq!(full[0], provider("z", "zeta"));
    assert_eq!(full[1], org("u", "a_c"));
}

/// The bundles marked for new orgs (the Default Rights Bundle every
/// database starts with) are published to an org on request, and only
/// then: which orgs get them is the domain's rule.
fn bundles_marked_for_new_orgs_are_published_on_request(
    tx: &(impl AccountReads + AccountWrites + RoleReads + RoleWrites),
) {
    let default = tx.rights_bundle("Default Rights Bundle").unwrap().unwrap();
    let tokend = tx.service("tokend").unwrap().unwrap();
    assert_eq!(tokend.permissions.len(), 15, "{:?}", tokend.permissions);
    let mut expected: Vec<String> = tokend
        .permissions
        .iter()
        .map(|p| format!("tokend:{p}"))
        .collect();
    expected.sort();
    assert_eq!(default.permissions, expected);
    tx.insert_rights_bundle(&bundle("own", "Own", &[])).unwrap();
    tx.insert_org(&provider("p", "System")).unwrap();
    tx.insert_org(&org("t", "Tenant")).unwrap();
    let none = DirectoryFilter {
        org_id: Some("t".into()),
        ..all()
    };
    assert_eq!(tx.rights_bundles(&none).unwrap().total, 0, "not by itself");
    assert_eq!(tx.publish_new_org_bundles("t").unwrap(), 1);
    assert_eq!(tx.publish_new_org_bundles("t").unwrap(), 0, "once");
    let bundles_of = |org_id: &str| -> Vec<String> {
        let filter = DirectoryFilter {
            org_id: Some(org_id.into()),
            ..all()
        };
        let page = tx.rights_bundles(&filter).unwrap();
        assert_eq!(page.total as usize, page.bundles.len());
        page.bundles.into_iter().map(|b| b.name).collect()
    };
    assert_eq!(bundles_of("t"), vec!["Default Rights Bundle".to_string()]);
    assert_eq!(bundles_of("p"), Vec::<String>::new());
    let summary = tx.rights_bundle_by_id(&default.id).unwrap().unwrap();
    assert!(summary.publish_to_new_orgs);
    assert_eq!(summary.orgs, vec!["Tenant".to_string()]);
    let own = tx.rights_bundle_by_id("own").unwrap().unwrap();
    assert!(!own.publish_to_new_orgs);
    assert!(own.orgs.is_empty());
}

fn user_names_are_unique_in_their_org_regardless_of_case(tx: &(impl AccountReads + AccountWrites)) {
    tx.insert_org(&org("oa", "A-org")).unwrap();
    tx.insert_org(&org("ob", "b-org")).unwrap();
    tx.insert_user(&user("u1", "ob", "Bob")).unwrap();
    let again = tx.insert_user(&user("u2", "ob", "BOB"));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    let same_id = tx.insert_user(&user("u1", "oa", "Other"));
    assert!(matches!(same_id, Err(StoreError::Duplicate)), "{same_id:?}");
    tx.insert_user(&user("u3", "oa", "bob")).unwrap();
    let no_org = tx.insert_user(&user("u4", "nowhere", "x"));
    assert!(matches!(no_org, Err(StoreError::Failed(_))), "{no_org:?}");
    assert_eq!(tx.user("u2").unwrap(), None);
    assert_eq!(tx.user("u4").unwrap(), None);
}

fn users_are_listed_by_org_then_name_ignoring_case(tx: &(impl AccountReads + AccountWrites)) {
    tx.insert_org(&org("ob", "b-org")).unwrap();
    tx.insert_org(&org("oa", "A-org")).unwrap();
    for (id, org_id, name) in [
        ("u1", "ob", "carol"),
        ("u2", "ob", "Bob"),
        ("u3", "oa", "zed"),
        ("u4", "oa", "Yan"),
        ("u5", "oa", "bob"),
    ] {
        tx.insert_user(&NewUser {
            email: Some(format!("{name}@example.com")),
            display_name: Some(name.to_uppercase()),
            created_at: 100,
            ..user(id, org_id, name)
        })
        .unwrap();
    }
    let ids = |filter: UserFilter| {
        let page = tx.users(&filter).unwrap();
        let ids: Vec<String> = page.users.into_iter().map(|u| u.id).collect();
        (ids, page.total)
    };
    let every = UserFilter {
        limit: 100,
        ..UserFilter::default()
    };
    let strings = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(every.clone()),
        (strings(&["u5", "u4", "u3", "u2", "u1"]), 5)
    );
    let in_b = UserFilter {
        org_id: Some("ob".into()),
        ..every.clone()
    };
    assert_eq!(ids(in_b), (strings(&["u2", "u1"]), 2));
    let named = UserFilter {
        name_contains: Some("b".into()),
        ..every.clone()
    };
    assert_eq!(ids(named), (strings(&["u5", "u2"]), 2));
    let page = UserFilter {
        offset: 3,
        limit: 10,
        ..every.clone()
    };
    assert_eq!(ids(page), (strings(&["u2", "u1"]), 5));
    let first = tx.users(&every).unwrap().users.remove(0);
    let expected = UserSummary {
        id: "u5".into(),
        name: "bob".into(),
        org_id: "oa".into(),
        org_name: "A-org".into(),
        email: Some("bob@example.com".into()),
        display_name: Some("BOB".into()),
        disabled: false,
        created_at: 100,
        second_factor: false,
    };
    assert_eq!(first, expected);
    assert_eq!(tx.user("u5").unwrap(), Some(expected));
    assert_eq!(tx.user("nobody").unwrap(), None);
}

fn a_user_is_made_with_existing_roles_only(
    tx: &(impl AccountReads + AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_role(&role("r1", None, "Reader", &[])).unwrap();
    tx.insert_role(&role("r2", Some("t"), "Local", &[]))
        .unwrap();
    tx.insert_user(&NewUser {
        role_ids: vec!["r2".into(), "r1".into()],
        ..user("u1", "t", "alice")
    })
    .unwrap();
    let mut grants = tx.role_grants_of("u1").unwrap();
    grants.sort();
    assert_eq!(grants, vec![("r1".into(), None), ("r2".into(), None)]);
    let missing = tx.insert_user(&NewUser {
        role_ids: vec!["r1".into(), "nope".into()],
        ..user("u2", "t", "bob")
    });
    match missing {
        Err(StoreError::Missing(what)) => assert_eq!(what, "role nope"),
        other => panic!("{other:?}"),
    }
}

fn a_users_details_password_and_disabling_are_kept(tx: &(impl AccountReads + AccountWrites)) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_user(&user("u", "t", "alice")).unwrap();
    tx.set_user_details("u", Some("a@example.com"), Some("Alice"))
        .unwrap();
    let summary = tx.user("u").unwrap().unwrap();
    assert_eq!(summary.email.as_deref(), Some("a@example.com"));
    assert_eq!(summary.display_name.as_deref(), Some("Alice"));
    let account = tx.account("u").unwrap().unwrap();
    assert_eq!(account.email.as_deref(), Some("a@example.com"));
    assert_eq!(account.display_name.as_deref(), Some("Alice"));
    tx.set_user_details("u", None, None).unwrap();
    let summary = tx.user("u").unwrap().unwrap();
    assert_eq!((summary.email, summary.display_name), (None, None));

    assert!(tx.set_user_disabled("u", Some(5)).unwrap());
    assert!(tx.user("u").unwrap().unwrap().disabled);
    assert!(tx.account("u").unwrap().unwrap().disabled);
    assert!(tx.set_user_disabled("u", None).unwrap());
    assert!(!tx.user("u").unwrap().unwrap().disabled);
    assert!(!tx.account("u").unwrap().unwrap().disabled);
    assert!(!tx.set_user_disabled("nobody", Some(5)).unwrap());

    let (_, hash) = tx.login_account("Acme", "alice").unwrap().unwrap();
    assert_eq!(hash, "hash of u");
    tx.set_password_hash("u", "new hash").unwrap();
    let (_, hash) = tx.login_account("Acme", "alice").unwrap().unwrap();
    assert_eq!(hash, "new hash");
}

fn a_login_finds_org_and_user_regardless_of_case(tx: &(impl AccountReads + AccountWrites)) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_org(&org("o", "Other")).unwrap();
    tx.insert_user(&user("u", "t", "Alice")).unwrap();
    tx.insert_user(&user("v", "o", "bob")).unwrap();
    let (account, hash) = tx.login_account("aCME", "ALICE").unwrap().unwrap();
    assert_eq!(account.user_id, "u");
    assert_eq!(account.user_name, "Alice");
    assert_eq!(account.org, org("t", "Acme"));
    assert_eq!(hash, "hash of u");
    assert!(tx.login_account("Acme", "bob").unwrap().is_none());
    assert!(tx.login_account("Other", "alice").unwrap().is_none());
    assert!(tx.login_account("Acm", "alice").unwrap().is_none());
    assert!(tx.login_account("Acme", "Alic").unwrap().is_none());
}

/// An account holds every role granted to the user or to a group it is in,
/// once each, by name; whether each may be held in the user's org; and,
/// in a tenant org, the cap its bundles set.
fn an_account_holds_its_roles_and_its_orgs_cap(
    tx: &(impl AccountReads + AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&provider("p", "System")).unwrap();
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_org(&org("o", "Other")).unwrap();
    // As the domain does for every new tenant.
    tx.publish_new_org_bundles("t").unwrap();
    tx.publish_new_org_bundles("o").unwrap();
    tx.insert_service(&service("s", "svc", &["write", "Read", "delete"]))
        .unwrap();
    tx.insert_role(&RoleDefinition {
        published_to_all: true,
        ..role(
            "r-alpha",
            None,
            "alpha",
            &["svc:write", "svc:delete", "svc:read"],
        )
    })
    .unwrap();
    tx.insert_role(&role("r-mid", Some("t"), "Mid", &["svc:write"]))
        .unwrap();
    tx.insert_role(&role("r-pub", None, "Pub", &[])).unwrap();
    assert!(tx.set_role_published("r-pub", "t", true).unwrap());
    tx.insert_role(&RoleDefinition {
        service: Some("SVC".into()),
        ..role("r-svc", None, "Svc Role", &[])
    })
    .unwrap();
    tx.insert_role(&role("r-zeta", None, "Zeta", &["svc:read"]))
        .unwrap();
    assert!(tx.set_role_published("r-zeta", "o", true).unwrap());
    tx.insert_user(&NewUser {
        email: Some("a@example.com".into()),
        role_ids: vec!["r-zeta".into(), "r-mid".into(), "r-alpha".into()],
        ..user("u", "t", "alice")
    })
    .unwrap();
    tx.insert_group(&group("g", "t", "Admins")).unwrap();
    assert!(tx.set_group_member("g", "u", true).unwrap());
    for role_id in ["r-alpha", "r-pub", "r-svc"] {
        assert!(tx.set_group_role("g", role_id, true).unwrap());
    }
    tx.insert_rights_bundle(&bundle("b1", "Extra", &["svc:read"]))
        .unwrap();
    tx.insert_rights_bundle(&bundle("b2", "More", &["svc:READ"]))
        .unwrap();
    assert!(tx.set_bundle_published("b1", "t", true).unwrap());
    assert!(tx.set_bundle_published("b2", "t", true).unwrap());

    let account = tx.account("u").unwrap().unwrap();
    assert_eq!(account.user_id, "u");
    assert_eq!(account.user_name, "alice");
    assert_eq!(account.email.as_deref(), Some("a@example.com"));
    assert_eq!(account.display_name, None);
    assert!(!account.disabled);
    assert!(!account.service_account);
    assert_eq!(account.org, org("t", "Acme"));
    let held =
        |name: &str, published_here: bool, service: Option<&str>, permissions: &[&str]| HeldRole {
            name: name.into(),
            published_here,
            service: service.map(String::from),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        };
    // Permissions in the order of their bytes, as written by the service.
    assert_eq!(
        account.roles,
        vec![
            held(
                "alpha",
                true,
                None,
                &["svc:Read", "svc:delete", "svc:write"]
            ),
            held("Mid", true, None, &["svc:write"]),
            held("Pub", true, None, &[]),
            held("Svc Role", false, Some("svc"), &[]),
            held("Zeta", false, None, &["svc:Read"]),
        ]
    );
    let mut cap = account.permission_cap.unwrap();
    cap.sort();
    let mut expected: Vec<String> = tx
        .service("tokend")
        .unwrap()
        .unwrap()
        .permissions
        .iter()
        .map(|p| format!("tokend:{p}"))
        .collect();
    expected.push("svc:Read".into());
    expected.sort();
    assert_eq!(cap, expected);

    tx.insert_user(&NewUser {
        role_ids: vec!["r-zeta".into()],
        ..user("admin", "p", "admin")
    })
    .unwrap();
    let admin = tx.account("admin").unwrap().unwrap();
    assert_eq!(admin.org, provider("p", "System"));
    assert_eq!(admin.permission_cap, None);
    assert_eq!(admin.roles, vec![held("Zeta", false, None, &["svc:Read"])]);

    tx.insert_user(&user("v", "o", "bob")).unwrap();
    let bare = tx.account("v").unwrap().unwrap();
    assert!(bare.roles.is_empty());
    let mut cap = bare.permission_cap.unwrap();
    cap.sort();
    expected.retain(|p| p != "svc:Read");
    assert_eq!(cap, expected);
    assert!(tx.account("nobody").unwrap().is_none());
}

fn a_users_groups_and_grants_are_listed_by_group_name(
    tx: &(impl AccountReads + AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_user(&user("u", "t", "alice")).unwrap();
    tx.insert_user(&user("v", "t", "bob")).unwrap();
    for (id, name) in [("g1", "beta"), ("g2", "Alpha"), ("g3", "gamma")] {
        tx.insert_group(&group(id, "t", name)).unwrap();
    }
    for id in ["r1", "r2", "r3", "r4"] {
        tx.insert_role(&role(id, Some("t"), id, &[])).unwrap();
    }
    assert!(tx.grant_role("u", "r1").unwrap());
    assert!(tx.set_group_member("g1", "u", true).unwrap());
    assert!(tx.set_group_member("g2", "u", true).unwrap());
    assert!(tx.set_group_member("g3", "v", true).unwrap());
    assert!(tx.set_group_role("g1", "r2", true).unwrap());
    assert!(tx.set_group_role("g1", "r1", true).unwrap());
    assert!(tx.set_group_role("g2", "r3", true).unwrap());
    assert!(tx.set_group_role("g3", "r4", true).unwrap());

    assert_eq!(
        tx.group_names_of("u").unwrap(),
        vec!["Alpha".to_string(), "beta".to_string()]
    );
    let mut grants = tx.role_grants_of("u").unwrap();
    // Direct grants first, then by group name; within a group, any order.
    grants[2..].sort();
    assert_eq!(
        grants,
        vec![
            ("r1".into(), None),
            ("r3".into(), Some("Alpha".into())),
            ("r1".into(), Some("beta".into())),
            ("r2".into(), Some("beta".into())),
        ]
    );
    assert!(tx.group_names_of("nobody").unwrap().is_empty());
    assert!(tx.role_grants_of("nobody").unwrap().is_empty());
}

fn a_login_unlock_is_kept_per_exact_name(tx: &(impl AccountReads + AccountWrites)) {
    assert_eq!(tx.login_unlocked_at("alice@acme").unwrap(), None);
    tx.record_login_unlock("alice@acme", 5).unwrap();
    assert_eq!(tx.login_unlocked_at("alice@acme").unwrap(), Some(5));
    tx.record_login_unlock("alice@acme", 9).unwrap();
    assert_eq!(tx.login_unlocked_at("alice@acme").unwrap(), Some(9));
    assert_eq!(tx.login_unlocked_at("Alice@acme").unwrap(), None);
    assert_eq!(tx.login_unlocked_at("bob@acme").unwrap(), None);
}

/// The generation moves with every change to what an account is made of,
/// and not with reads or other writes. (A write that changes nothing may
/// move it or not.)
fn the_directory_generation_moves_with_the_directory(
    tx: &(impl AccountReads + AccountWrites + RoleReads + RoleWrites),
) {
    let start = tx.directory_generation().unwrap();
    assert!(tx.orgs(&all()).unwrap().orgs.is_empty());
    tx.record_login_unlock("alice@acme", 5).unwrap();
    assert_eq!(tx.directory_generation().unwrap(), start);
    let mut last = start;
    let mut moved = |what: &str| {
        let now = tx.directory_generation().unwrap();
        assert!(now > last, "{what}: {now} after {last}");
        last = now;
    };
    tx.insert_org(&org("t", "Acme")).unwrap();
    moved("org");
    tx.insert_user(&user("u", "t", "alice")).unwrap();
    moved("user");
    tx.set_user_disabled("u", Some(1)).unwrap();
    moved("disabled");
    tx.insert_service(&service("s", "svc", &[])).unwrap();
    moved("service");
    tx.add_permission("s", "read").unwrap();
    moved("permission");
    tx.insert_role(&role("r", None, "Reader", &[])).unwrap();
    moved("role");
    tx.add_role_permission("r", "svc:read").unwrap();
    moved("role permission");
    tx.grant_role("u", "r").unwrap();
    moved("grant");
    tx.set_role_published("r", "t", true).unwrap();
    moved("publication");
    tx.insert_group(&group("g", "t", "Admins")).unwrap();
    moved("group");
    tx.set_group_member("g", "u", true).unwrap();
    moved("member");
    tx.set_group_role("g", "r", true).unwrap();
    moved("group role");
    tx.insert_rights_bundle(&bundle("b", "Extra", &[])).unwrap();
    moved("bundle");
    tx.add_bundle_permission("b", "svc:read").unwrap();
    moved("bundle permission");
    tx.set_bundle_published("b", "t", true).unwrap();
    moved("bundle publication");
    let before = tx.directory_generation().unwrap();
    tx.account("u").unwrap();
    tx.users(&UserFilter::default()).unwrap();
    assert_eq!(tx.directory_generation().unwrap(), before);
}

contract!(
    org_names_are_unique_regardless_of_case,
    there_is_at_most_one_provider_org,
    orgs_list_the_provider_first_then_by_name_ignoring_case,
    bundles_marked_for_new_orgs_are_published_on_request,
    user_names_are_unique_in_their_org_regardless_of_case,
    users_are_listed_by_org_then_name_ignoring_case,
    a_user_is_made_with_existing_roles_only,
    a_users_details_password_and_disabling_are_kept,
    a_login_finds_org_and_user_regardless_of_case,
    an_account_holds_its_roles_and_its_orgs_cap,
    a_users_groups_and_grants_are_listed_by_group_name,
    a_login_unlock_is_kept_per_exact_name,
    the_directory_generation_moves_with_the_directory,
);
