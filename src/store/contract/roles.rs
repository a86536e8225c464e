//! Services and their permissions, roles, groups and rights bundles.

use super::accounts::{all, bundle, group, org, role, service, user};
use crate::domain::records::{DirectoryFilter, RoleDefinition, Service};
use crate::domain::storage::{AccountWrites, RoleReads, RoleWrites, StoreError};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn contains(text: &str) -> DirectoryFilter {
    DirectoryFilter {
        name_contains: Some(text.into()),
        ..all()
    }
}

fn of_org(org_id: &str) -> DirectoryFilter {
    DirectoryFilter {
        org_id: Some(org_id.into()),
        ..all()
    }
}

fn a_service_is_found_by_name_id_and_identifier(tx: &(impl RoleReads + RoleWrites)) {
    tx.insert_service(&Service {
        identifier: Some("https://billing.example".into()),
        created_at: 7,
        ..service("s1", "Billing", &["write", "Read", "delete", "READ"])
    })
    .unwrap();
    // By name: the permissions sorted by name, ignoring case.
    let by_name = tx.service("BILLING").unwrap().unwrap();
    assert_eq!(by_name.id, "s1");
    assert_eq!(by_name.name, "Billing");
    assert_eq!(by_name.created_at, 7);
    assert_eq!(
        by_name.identifier.as_deref(),
        Some("https://billing.example")
    );
    assert_eq!(by_name.permissions, strings(&["delete", "Read", "write"]));
    // By id or identifier: the permissions sorted by their bytes.
    let by_id = tx.service_by_id("s1").unwrap().unwrap();
    assert_eq!(by_id.name, "Billing");
    assert_eq!(by_id.created_at, 7);
    assert_eq!(by_id.permissions, strings(&["Read", "delete", "write"]));
    let by_identifier = tx
        .service_by_identifier("https://billing.example")
        .unwrap()
        .unwrap();
    assert_eq!(by_identifier.id, "s1");
    assert_eq!(by_identifier.permissions, by_id.permissions);
    // An identifier is a URI, compared exactly.
    assert!(tx
        .service_by_identifier("https://BILLING.example")
        .unwrap()
        .is_none());
    assert!(tx.service("Bill").unwrap().is_none());
    assert!(tx.service_by_id("s2").unwrap().is_none());

    let same_name = tx.insert_service(&service("s2", "billing", &[]));
    assert!(
        matches!(same_name, Err(StoreError::Duplicate)),
        "{same_name:?}"
    );
    let same_identifier = tx.insert_service(&Service {
        identifier: Some("https://billing.example".into()),
        ..service("s3", "Other", &[])
    });
    assert!(
        matches!(same_identifier, Err(StoreError::Duplicate)),
        "{same_identifier:?}"
    );
    tx.insert_service(&service("s4", "Shop", &[])).unwrap();
    let taken = tx.set_service_identifier("s4", Some("https://billing.example"));
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");
    tx.set_service_identifier("s4", Some("https://shop.example"))
        .unwrap();
    assert_eq!(
        tx.service_by_identifier("https://shop.example")
            .unwrap()
            .map(|s| s.id),
        Some("s4".into())
    );
    tx.set_service_identifier("s1", None).unwrap();
    assert!(tx
        .service_by_identifier("https://billing.example")
        .unwrap()
        .is_none());
    assert_eq!(tx.service_by_id("s1").unwrap().unwrap().identifier, None);

    // A permission the service has in any case is not added again.
    tx.add_permission("s1", "WRITE").unwrap();
    tx.add_permission("s1", "audit").unwrap();
    tx.add_permission("s1", "audit").unwrap();
    assert_eq!(
        tx.service("billing").unwrap().unwrap().permissions,
        strings(&["audit", "delete", "Read", "write"])
    );
}

fn services_are_listed_by_name_ignoring_case(tx: &(impl RoleReads + RoleWrites)) {
    tx.insert_service(&service("s1", "beta", &["x"])).unwrap();
    tx.insert_service(&service("s2", "Alpha", &[])).unwrap();
    tx.insert_service(&service("s3", "a_c", &[])).unwrap();
    let names = |filter: DirectoryFilter| {
        let page = tx.services(&filter).unwrap();
        let names: Vec<String> = page.services.into_iter().map(|s| s.name).collect();
        (names, page.total)
    };
    // tokend's own service is in every database.
    assert_eq!(
        names(all()),
        (strings(&["a_c", "Alpha", "beta", "tokend"]), 4)
    );
    let page = DirectoryFilter {
        offset: 1,
        limit: 2,
        ..all()
    };
    assert_eq!(names(page), (strings(&["Alpha", "beta"]), 4));
    assert_eq!(names(contains("_")), (strings(&["a_c"]), 1));
    assert_eq!(names(contains("ALP")), (strings(&["Alpha"]), 1));
    // The org is ignored.
    assert_eq!(names(of_org("nowhere")).1, 4);
    let beta = tx.services(&contains("beta")).unwrap().services.remove(0);
    assert_eq!(beta.id, "s1");
    assert_eq!(beta.permissions, strings(&["x"]));
}

fn roles_are_named_in_their_scope_and_hold_permissions_as_spelled(
    tx: &(impl AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_org(&org("o", "Other")).unwrap();
    tx.insert_service(&service("s", "svc", &["read", "Write"]))
        .unwrap();
    tx.insert_role(&RoleDefinition {
        provider_only: true,
        published_to_all: true,
        created_at: 42,
        ..role("g", None, "Reader", &["svc:READ"])
    })
    .unwrap();
    tx.insert_role(&role("l", Some("t"), "reader", &[]))
        .unwrap();

    let global = tx.role(None, "READER").unwrap().unwrap();
    assert_eq!(global.id, "g");
    assert_eq!(global.name, "Reader");
    assert_eq!(global.org_id, None);
    assert_eq!(global.service, None);
    assert!(global.provider_only);
    assert!(global.published_to_all);
    assert_eq!(global.created_at, 42);
    assert_eq!(global.permissions, strings(&["svc:read"]));
    let local = tx.role(Some("t"), "Reader").unwrap().unwrap();
    assert_eq!(local.id, "l");
    assert_eq!(local.org_id.as_deref(), Some("t"));
    assert!(!local.provider_only && !local.published_to_all);
    assert!(local.permissions.is_empty());
    assert!(tx.role(Some("o"), "reader").unwrap().is_none());
    assert!(tx.role(None, "Read").unwrap().is_none());

    let global_again = tx.insert_role(&role("g2", None, "READER", &[]));
    assert!(
        matches!(global_again, Err(StoreError::Duplicate)),
        "{global_again:?}"
    );
    let local_again = tx.insert_role(&role("l2", Some("t"), "READER", &[]));
    assert!(
        matches!(local_again, Err(StoreError::Duplicate)),
        "{local_again:?}"
    );
    tx.insert_role(&role("l3", Some("o"), "READER", &[]))
        .unwrap();

    // A service role names its service in any case.
    tx.insert_role(&RoleDefinition {
        service: Some("SVC".into()),
        ..role("sr", None, "Operator", &["svc:write"])
    })
    .unwrap();
    let operator = tx.role_by_id("sr").unwrap().unwrap();
    assert_eq!(operator.service.as_deref(), Some("svc"));
    assert_eq!(operator.permissions, strings(&["svc:Write"]));
    let no_service = tx.insert_role(&RoleDefinition {
        service: Some("nope".into()),
        ..role("x", None, "Nope", &[])
    });
    match no_service {
        Err(StoreError::Missing(what)) => assert_eq!(what, "service \"nope\""),
        other => panic!("{other:?}"),
    }
    assert!(tx.role_by_id("x").unwrap().is_none());
    assert!(tx.role(None, "Nope").unwrap().is_none());

    for unknown in ["svc:nope", "other:read", "read", ""] {
        let added = tx.add_role_permission("g", unknown);
        assert!(matches!(added, Err(StoreError::Missing(_))), "{added:?}");
    }
    tx.add_role_permission("g", "SVC:write").unwrap();
    tx.add_role_permission("g", "svc:WRITE").unwrap();
    tx.add_role_permission("g", "svc:read").unwrap();
    assert_eq!(
        tx.role_by_id("g").unwrap().unwrap().permissions,
        strings(&["svc:Write", "svc:read"])
    );
    tx.set_role_permissions("g", &strings(&["svc:write"]))
        .unwrap();
    assert_eq!(
        tx.role_by_id("g").unwrap().unwrap().permissions,
        strings(&["svc:Write"])
    );
    let replaced = tx.set_role_permissions("g", &strings(&["svc:read", "svc:gone"]));
    assert!(
        matches!(replaced, Err(StoreError::Missing(_))),
        "{replaced:?}"
    );
    tx.set_role_permissions("g", &[]).unwrap();
    assert!(tx.role_by_id("g").unwrap().unwrap().permissions.is_empty());
    assert!(tx.role_by_id("nope").unwrap().is_none());
}

fn roles_are_listed_global_first_then_by_name_then_id(
    tx: &(impl AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_org(&org("o", "Other")).unwrap();
    tx.insert_role(&RoleDefinition {
        published_to_all: true,
        ..role("beta", None, "beta", &[])
    })
    .unwrap();
    tx.insert_role(&role("alpha", None, "Alpha", &[])).unwrap();
    tx.insert_role(&role("gamma", None, "gamma", &[])).unwrap();
    tx.insert_role(&role("aard", Some("t"), "Aardvark", &[]))
        .unwrap();
    // The same name in two orgs: the id decides, not the spelling.
    tx.insert_role(&role("r9", Some("t"), "ZULU", &[])).unwrap();
    tx.insert_role(&role("r1", Some("o"), "zulu", &[])).unwrap();
    assert!(tx.set_role_published("alpha", "t", true).unwrap());
    assert!(!tx.set_role_published("alpha", "t", true).unwrap());

    let ids = |filter: DirectoryFilter| {
        let page = tx.roles(&filter).unwrap();
        let ids: Vec<String> = page.roles.into_iter().map(|r| r.id).collect();
        (ids, page.total)
    };
    assert_eq!(
        ids(all()),
        (strings(&["alpha", "beta", "gamma", "aard", "r1", "r9"]), 6)
    );
    assert_eq!(
        ids(of_org("t")),
        (strings(&["alpha", "beta", "aard", "r9"]), 4)
    );
    assert_eq!(ids(of_org("o")), (strings(&["beta", "r1"]), 2));
    let page = DirectoryFilter {
        offset: 1,
        limit: 2,
        ..of_org("t")
    };
    assert_eq!(ids(page), (strings(&["beta", "aard"]), 4));
    let named = DirectoryFilter {
        name_contains: Some("a".into()),
        ..of_org("t")
    };
    assert_eq!(ids(named), (strings(&["alpha", "beta", "aard"]), 3));
    assert_eq!(ids(contains("ZU")), (strings(&["r1", "r9"]), 2));

    // Published to an org by name; published_to_all does not count.
    assert!(tx.role_published_to("alpha", "t").unwrap());
    assert!(!tx.role_published_to("alpha", "o").unwrap());
    assert!(!tx.role_published_to("beta", "t").unwrap());
    assert!(!tx.set_role_published("alpha", "o", false).unwrap());
    assert!(tx.set_role_published("alpha", "t", false).unwrap());
    assert!(!tx.role_published_to("alpha", "t").unwrap());
    assert_eq!(ids(of_org("t")), (strings(&["beta", "aard", "r9"]), 3));
}

fn grants_are_counted_and_only_an_unused_role_is_deleted(
    tx: &(impl AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_user(&user("u", "t", "alice")).unwrap();
    tx.insert_service(&service("s", "svc", &["read"])).unwrap();
    tx.insert_role(&role("r", None, "Reader", &["svc:read"]))
        .unwrap();
    tx.insert_group(&group("g", "t", "Admins")).unwrap();

    assert!(tx.grant_role("u", "r").unwrap());
    assert!(!tx.grant_role("u", "r").unwrap());
    assert!(!tx.delete_unused_role("r").unwrap());
    assert!(tx.revoke_role("u", "r").unwrap());
    assert!(!tx.revoke_role("u", "r").unwrap());

    assert!(tx.set_group_role("g", "r", true).unwrap());
    assert!(!tx.set_group_role("g", "r", true).unwrap());
    assert!(!tx.delete_unused_role("r").unwrap());
    assert!(tx.set_group_role("g", "r", false).unwrap());
    assert!(!tx.set_group_role("g", "r", false).unwrap());

    assert!(tx.set_role_published("r", "t", true).unwrap());
    assert!(tx.delete_unused_role("r").unwrap());
    assert!(tx.role_by_id("r").unwrap().is_none());
    assert!(!tx.delete_unused_role("r").unwrap());
    assert!(!tx.role_published_to("r", "t").unwrap());
    assert!(!tx.delete_unused_role("nope").unwrap());
}

fn groups_are_named_in_their_org_and_listed_by_org_then_name(
    tx: &(impl AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("ob", "b-org")).unwrap();
    tx.insert_org(&org("oa", "A-org")).unwrap();
    tx.insert_group(&group("g1", "ob", "beta")).unwrap();
    tx.insert_group(&group("g2", "ob", "Alpha")).unwrap();
    tx.insert_group(&group("g3", "oa", "zed")).unwrap();
    let again = tx.insert_group(&group("g5", "ob", "BETA"));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    tx.insert_group(&group("g4", "oa", "beta")).unwrap();

    let found = tx.group("ob", "ALPHA").unwrap().unwrap();
    assert_eq!(
        (found.id, found.org_id, found.name, found.created_at),
        ("g2".into(), "ob".into(), "Alpha".into(), 0)
    );
    assert!(tx.group("oa", "alpha").unwrap().is_none());
    assert!(tx.group("ob", "Alph").unwrap().is_none());

    tx.insert_user(&user("u2", "ob", "bob")).unwrap();
    tx.insert_user(&user("u1", "ob", "alice")).unwrap();
    assert!(tx.set_group_member("g1", "u2", true).unwrap());
    assert!(tx.set_group_member("g1", "u1", true).unwrap());
    assert!(!tx.set_group_member("g1", "u1", true).unwrap());
    tx.insert_role(&role("rb", Some("ob"), "b", &[])).unwrap();
    tx.insert_role(&role("ra", Some("ob"), "A", &[])).unwrap();
    assert!(tx.set_group_role("g1", "rb", true).unwrap());
    assert!(tx.set_group_role("g1", "ra", true).unwrap());
    let summary = tx.group_by_id("g1").unwrap().unwrap();
    assert_eq!(summary.name, "beta");
    assert_eq!(summary.org_id, "ob");
    assert_eq!(summary.org_name, "b-org");
    assert_eq!(summary.members, strings(&["u1", "u2"]));
    assert_eq!(summary.roles, strings(&["A", "b"]));
    let empty = tx.group_by_id("g3").unwrap().unwrap();
    assert!(empty.members.is_empty() && empty.roles.is_empty());
    assert!(tx.group_by_id("nope").unwrap().is_none());
    assert!(tx.set_group_member("g1", "u2", false).unwrap());
    assert!(!tx.set_group_member("g1", "u2", false).unwrap());
    assert_eq!(
        tx.group_by_id("g1").unwrap().unwrap().members,
        strings(&["u1"])
    );

    let ids = |filter: DirectoryFilter| {
        let page = tx.groups(&filter).unwrap();
        let ids: Vec<String> = page.groups.into_iter().map(|g| g.id).collect();
        (ids, page.total)
    };
    assert_eq!(ids(all()), (strings(&["g4", "g3", "g2", "g1"]), 4));
    assert_eq!(ids(of_org("ob")), (strings(&["g2", "g1"]), 2));
    assert_eq!(ids(contains("ZE")), (strings(&["g3"]), 1));
    let page = DirectoryFilter {
        offset: 2,
        limit: 1,
        ..all()
    };
    assert_eq!(ids(page), (strings(&["g2"]), 4));
}

fn rights_bundles_hold_permissions_and_are_published_to_orgs(
    tx: &(impl AccountWrites + RoleReads + RoleWrites),
) {
    tx.insert_org(&org("t", "Acme")).unwrap();
    tx.insert_org(&org("o", "Beta")).unwrap();
    // As the domain does for every new tenant.
    tx.publish_new_org_bundles("t").unwrap();
    tx.publish_new_org_bundles("o").unwrap();
    tx.insert_service(&service("s", "svc", &["read", "Write"]))
        .unwrap();
    tx.insert_rights_bundle(&bundle("b", "Extra", &["SVC:write", "svc:READ"]))
        .unwrap();
    let again = tx.insert_rights_bundle(&bundle("b2", "EXTRA", &[]));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");

    let extra = tx.rights_bundle("extra").unwrap().unwrap();
    assert_eq!(extra.id, "b");
    assert_eq!(extra.name, "Extra");
    assert_eq!(extra.permissions, strings(&["svc:Write", "svc:read"]));
    assert!(tx.rights_bundle("Ext").unwrap().is_none());

    for unknown in ["svc:nope", "nope:read", "read"] {
        let added = tx.add_bundle_permission("b", unknown);
        assert!(matches!(added, Err(StoreError::Missing(_))), "{added:?}");
    }
    let made = tx.insert_rights_bundle(&bundle("b3", "Broken", &["svc:nope"]));
    assert!(matches!(made, Err(StoreError::Missing(_))), "{made:?}");
    tx.add_bundle_permission("b", "svc:read").unwrap();
    tx.set_bundle_permissions("b", &strings(&["svc:READ"]))
        .unwrap();
    assert_eq!(
        tx.rights_bundle("Extra").unwrap().unwrap().permissions,
        strings(&["svc:read"])
    );

    assert!(tx.set_bundle_published("b", "t", true).unwrap());
    assert!(!tx.set_bundle_published("b", "t", true).unwrap());
    assert!(tx.set_bundle_published("b", "o", true).unwrap());
    let summary = tx.rights_bundle_by_id("b").unwrap().unwrap();
    assert_eq!(summary.name, "Extra");
    assert!(!summary.publish_to_new_orgs);
    assert_eq!(summary.permissions, strings(&["svc:read"]));
    assert_eq!(summary.orgs, strings(&["Acme", "Beta"]));
    assert!(tx.rights_bundle_by_id("nope").unwrap().is_none());

    let names = |filter: DirectoryFilter| {
        let page = tx.rights_bundles(&filter).unwrap();
        let names: Vec<String> = page.bundles.into_iter().map(|b| b.name).collect();
        (names, page.total)
    };
    let everything = strings(&["Broken", "Default Rights Bundle", "Extra"]);
    assert_eq!(names(all()), (everything, 3));
    assert_eq!(
        names(of_org("t")),
        (strings(&["Default Rights Bundle", "Extra"]), 2)
    );
    assert_eq!(names(contains("XT")), (strings(&["Extra"]), 1));
    let page = DirectoryFilter {
        offset: 1,
        limit: 1,
        ..all()
    };
    assert_eq!(names(page), (strings(&["Default Rights Bundle"]), 3));

    assert!(tx.set_bundle_published("b", "t", false).unwrap());
    assert!(!tx.set_bundle_published("b", "t", false).unwrap());
    assert_eq!(names(of_org("t")), (strings(&["Default Rights Bundle"]), 1));
    tx.set_bundle_permissions("b", &[]).unwrap();
    let summary = tx.rights_bundle_by_id("b").unwrap().unwrap();
    assert!(summary.permissions.is_empty());
    assert_eq!(summary.orgs, strings(&["Beta"]));
}

contract!(
    a_service_is_found_by_name_id_and_identifier,
    services_are_listed_by_name_ignoring_case,
    roles_are_named_in_their_scope_and_hold_permissions_as_spelled,
    roles_are_listed_global_first_then_by_name_then_id,
    grants_are_counted_and_only_an_unused_role_is_deleted,
    groups_are_named_in_their_org_and_listed_by_org_then_name,
    rights_bundles_hold_permissions_and_are_published_to_orgs,
);
