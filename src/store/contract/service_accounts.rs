//! Service accounts, their device authorizations, and the revocation and
//! rotation of API tokens that goes with them.

use super::Fixture;
use crate::domain::records::{
    DeviceAuthorization, DeviceDecision, DirectoryFilter, NewServiceAccount, NewUser,
    ServiceAccount, ServiceAccountStatus,
};
use crate::domain::storage::{ServiceAccountReads, ServiceAccountWrites, StoreError};

fn new_account(org_id: &str, id: &str, name: &str, role_ids: &[&str]) -> NewServiceAccount {
    NewServiceAccount {
        user: NewUser {
            id: id.into(),
            org_id: org_id.into(),
            name: name.into(),
            email: None,
            display_name: None,
            password_hash: String::new(),
            created_at: 1000,
            role_ids: role_ids.iter().map(|r| r.to_string()).collect(),
        },
        software_id: format!("{name}-software"),
        software_version: None,
        client_uri: None,
    }
}

fn authorization(id: &str, account: &str, user_code: &str) -> DeviceAuthorization {
    let mut digest = [0u8; 32];
    digest[..id.len()].copy_from_slice(id.as_bytes());
    DeviceAuthorization {
        id: id.into(),
        service_account_id: account.into(),
        device_code_digest: digest,
        user_code: user_code.into(),
        created_at: 100,
        expires_at: 700,
        interval_s: 5,
        last_polled_at: None,
        decision: None,
        used_at: None,
    }
}

fn status_of(tx: &impl ServiceAccountReads, id: &str) -> ServiceAccountStatus {
    tx.service_account(id).unwrap().unwrap().status
}

fn a_service_account_reads_back_with_its_org_and_roles(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.role("r1", "beta");
    tx.role("r2", "Gamma");
    tx.role("r3", "alpha");
    let mut new = new_account("org1", "sa1", "deployer", &["r1", "r2", "r3"]);
    new.software_version = Some("1.2".into());
    new.client_uri = Some("https://ci.example".into());
    tx.insert_service_account(&new).unwrap();
    assert_eq!(
        tx.service_account("sa1").unwrap(),
        Some(ServiceAccount {
            id: "sa1".into(),
            org_id: "org1".into(),
            org_name: "org1".into(),
            name: "deployer".into(),
            software_id: "deployer-software".into(),
            software_version: Some("1.2".into()),
            client_uri: Some("https://ci.example".into()),
            status: ServiceAccountStatus::Created,
            // Sorted bytewise.
            roles: vec!["Gamma".into(), "alpha".into(), "beta".into()],
            created_at: 1000,
        })
    );
    tx.insert_service_account(&new_account("org1", "sa2", "bare", &[]))
        .unwrap();
    let bare = tx.service_account("sa2").unwrap().unwrap();
    assert_eq!(bare.roles, Vec::<String>::new());
    assert_eq!(bare.software_version, None);
    assert_eq!(tx.service_account("someone").unwrap(), None);
    assert_eq!(tx.service_account("nobody").unwrap(), None);

    // Its user's name is taken in the org, whatever its case; its id too.
    let taken = tx.insert_service_account(&new_account("org1", "sa3", "DEPLOYER", &[]));
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");
    let taken = tx.insert_service_account(&new_account("org1", "sa1", "other", &[]));
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");
    let missing = tx.insert_service_account(&new_account("org1", "sa4", "x", &["r1", "nope"]));
    assert!(
        matches!(&missing, Err(StoreError::Missing(what)) if what == "role nope"),
        "{missing:?}"
    );
}

fn roles_are_replaced_and_must_exist(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.role("r1", "one");
    tx.role("r2", "two");
    tx.insert_service_account(&new_account("org1", "sa1", "svc", &["r1"]))
        .unwrap();
    let roles = || tx.service_account("sa1").unwrap().unwrap().roles;
    assert_eq!(roles(), ["one"]);
    tx.set_user_roles("sa1", &["r2".into(), "r1".into()])
        .unwrap();
    assert_eq!(roles(), ["one", "two"]);
    tx.set_user_roles("sa1", &["r2".into()]).unwrap();
    assert_eq!(roles(), ["two"]);
    let missing = tx.set_user_roles("sa1", &["r1".into(), "r9".into()]);
    assert!(
        matches!(&missing, Err(StoreError::Missing(what)) if what == "role r9"),
        "{missing:?}"
    );
    tx.set_user_roles("sa1", &[]).unwrap();
    assert_eq!(roles(), Vec::<String>::new());
    // Any user's, not only a service account's.
    tx.set_user_roles("someone", &["r1".into()]).unwrap();
}

fn an_active_account_without_a_live_token_reads_as_created(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.insert_service_account(&new_account("org1", "sa1", "svc", &[]))
        .unwrap();
    tx.set_service_account_status("sa1", ServiceAccountStatus::Requested)
        .unwrap();
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Requested);
    tx.set_service_account_status("sa1", ServiceAccountStatus::Granted)
        .unwrap();
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Granted);
    tx.set_service_account_status("sa1", ServiceAccountStatus::Active)
        .unwrap();
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Created);
    tx.token("sa1", "t1", Some(5000));
    tx.token("sa1", "t2", None);
    tx.token("someone", "t3", None);
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Active);

    assert!(tx.rotate_api_token("t1", 10).unwrap());
    assert!(!tx.rotate_api_token("t1", 11).unwrap());
    assert!(!tx.rotate_api_token("t9", 11).unwrap());
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Active);
    // Only live tokens, and only the user's.
    assert_eq!(tx.revoke_user_api_tokens("sa1", 20).unwrap(), 1);
    assert_eq!(tx.revoke_user_api_tokens("sa1", 21).unwrap(), 0);
    assert_eq!(status_of(tx, "sa1"), ServiceAccountStatus::Created);
    // A revoked token is not rotated.
    assert!(!tx.rotate_api_token("t2", 30).unwrap());
    assert_eq!(tx.revoke_user_api_tokens("someone", 40).unwrap(), 1);
    // A status set on no account changes nothing.
    tx.set_service_account_status("nobody", ServiceAccountStatus::Active)
        .unwrap();
}

fn a_deleted_account_is_gone_once(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.insert_service_account(&new_account("org1", "sa1", "svc", &[]))
        .unwrap();
    tx.insert_service_account(&new_account("org1", "sa2", "kept", &[]))
        .unwrap();
    tx.set_service_account_status("sa1", ServiceAccountStatus::Granted)
        .unwrap();
    assert!(tx.delete_service_account("sa1", 50).unwrap());
    assert!(!tx.delete_service_account("sa1", 60).unwrap());
    assert!(!tx.delete_service_account("nobody", 60).unwrap());
    assert!(!tx.delete_service_account("someone", 60).unwrap());
    assert_eq!(tx.service_account("sa1").unwrap(), None);
    let listed = tx
        .service_accounts(&DirectoryFilter {
            limit: 10,
            ..DirectoryFilter::default()
        })
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.accounts[0].id, "sa2");
    // Its name is still its user's: not taken again.
    let taken = tx.insert_service_account(&new_account("org1", "sa3", "svc", &[]));
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");
}

fn accounts_are_listed_by_org_and_name_ignoring_case(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    // Names chosen so that ignoring case and not sort them differently.
    tx.user("beta", "b-user");
    tx.user("Gamma", "g-user");
    tx.user("alpha", "a-user");
    for (org, id, name) in [
        ("Gamma", "g1", "zed"),
        ("beta", "b1", "Zed"),
        ("beta", "b2", "adam"),
        ("beta", "b3", "svc_1"),
        ("beta", "b4", "svcx1"),
        ("alpha", "a1", "Mia"),
    ] {
        tx.insert_service_account(&new_account(org, id, name, &[]))
            .unwrap();
    }
    let list = |org_id: Option<&str>, name: Option<&str>, offset: u64, limit: u32| {
        let page = tx
            .service_accounts(&DirectoryFilter {
                org_id: org_id.map(String::from),
                name_contains: name.map(String::from),
                offset,
                limit,
            })
            .unwrap();
        let ids: Vec<String> = page.accounts.into_iter().map(|a| a.id).collect();
        (ids.join(","), page.total)
    };
    assert_eq!(list(None, None, 0, 10), ("a1,b2,b3,b4,b1,g1".into(), 6));
    assert_eq!(list(None, None, 2, 3), ("b3,b4,b1".into(), 6));
    assert_eq!(list(None, None, 6, 3), ("".into(), 6));
    assert_eq!(list(None, None, 0, 0), ("".into(), 6));
    assert_eq!(list(Some("beta"), None, 0, 10), ("b2,b3,b4,b1".into(), 4));
    assert_eq!(list(Some("beta"), None, 1, 1), ("b3".into(), 4));
    assert_eq!(list(Some("nope"), None, 0, 10), ("".into(), 0));
    assert_eq!(list(None, Some("ze"), 0, 10), ("b1,g1".into(), 2));
    assert_eq!(list(None, Some("ZE"), 0, 10), ("b1,g1".into(), 2));
    assert_eq!(list(Some("beta"), Some("ze"), 0, 10), ("b1".into(), 1));
    // LIKE's own characters are matched as themselves.
    assert_eq!(list(None, Some("c_1"), 0, 10), ("b3".into(), 1));
    assert_eq!(list(None, Some("%"), 0, 10), ("".into(), 0));
    // Plain users are no service accounts.
    assert_eq!(list(None, Some("user"), 0, 10), ("".into(), 0));
    let page = tx
        .service_accounts(&DirectoryFilter {
            org_id: Some("alpha".into()),
            limit: 10,
            ..DirectoryFilter::default()
        })
        .unwrap();
    assert_eq!(page.accounts[0].org_name, "alpha");
    assert_eq!(page.accounts[0].name, "Mia");
}

fn a_device_authorization_is_decided_once_and_used_once(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.insert_service_account(&new_account("org1", "sa1", "svc", &[]))
        .unwrap();
    tx.insert_service_account(&new_account("org1", "sa2", "other", &[]))
        .unwrap();
    let first = authorization("d1", "sa1", "AAAA-BBBB");
    tx.insert_device_authorization(&first).unwrap();
    let found = tx
        .device_authorization_by_device_code(&first.device_code_digest)
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "d1");
    assert_eq!(found.service_account_id, "sa1");
    assert_eq!(found.device_code_digest, first.device_code_digest);
    assert_eq!(found.user_code, "AAAA-BBBB");
    assert_eq!(
        (found.created_at, found.expires_at, found.interval_s),
        (100, 700, 5)
    );
    assert_eq!(
        (found.last_polled_at, found.decision, found.used_at),
        (None, None, None)
    );
    assert_eq!(
        tx.device_authorization_by_user_code("AAAA-BBBB")
            .unwrap()
            .unwrap()
            .id,
        "d1"
    );
    assert!(tx
        .device_authorization_by_user_code("aaaa-bbbb")
        .unwrap()
        .is_none());
    assert!(tx
        .device_authorization_by_device_code(&[7; 32])
        .unwrap()
        .is_none());
    assert_eq!(
        tx.pending_device_authorization("sa1").unwrap().unwrap().id,
        "d1"
    );
    assert!(tx.pending_device_authorization("sa2").unwrap().is_none());

    tx.record_device_poll("d1", 150, 10).unwrap();
    let polled = tx.device_authorization_by_user_code("AAAA-BBBB").unwrap();
    let polled = polled.unwrap();
    assert_eq!((polled.last_polled_at, polled.interval_s), (Some(150), 10));

    // A newer request replaces the waiting one.
    tx.insert_device_authorization(&authorization("d2", "sa1", "CCCC-DDDD"))
        .unwrap();
    assert!(tx
        .device_authorization_by_user_code("AAAA-BBBB")
        .unwrap()
        .is_none());
    assert_eq!(
        tx.pending_device_authorization("sa1").unwrap().unwrap().id,
        "d2"
    );
    // A user code or device code is one request's.
    let taken = tx.insert_device_authorization(&authorization("d3", "sa2", "CCCC-DDDD"));
    assert!(matches!(taken, Err(StoreError::Duplicate)), "{taken:?}");

    // Not used before it is granted.
    assert!(!tx.use_device_authorization("d2", 200).unwrap());
    assert!(tx
        .decide_device_authorization("d2", DeviceDecision::Granted, 210)
        .unwrap());
    assert!(!tx
        .decide_device_authorization("d2", DeviceDecision::Denied, 220)
        .unwrap());
    assert!(!tx
        .decide_device_authorization("d9", DeviceDecision::Denied, 220)
        .unwrap());
    assert!(tx.pending_device_authorization("sa1").unwrap().is_none());
    let granted = tx.device_authorization_by_user_code("CCCC-DDDD").unwrap();
    assert_eq!(granted.unwrap().decision, Some(DeviceDecision::Granted));
    assert!(tx.use_device_authorization("d2", 230).unwrap());
    assert!(!tx.use_device_authorization("d2", 240).unwrap());
    let used = tx.device_authorization_by_user_code("CCCC-DDDD").unwrap();
    assert_eq!(used.unwrap().used_at, Some(230));

    // A decided request is not replaced by a newer one.
    tx.insert_device_authorization(&authorization("d4", "sa1", "EEEE-FFFF"))
        .unwrap();
    assert!(tx
        .device_authorization_by_user_code("CCCC-DDDD")
        .unwrap()
        .is_some());
    assert!(tx
        .decide_device_authorization("d4", DeviceDecision::Denied, 250)
        .unwrap());
    assert!(!tx.use_device_authorization("d4", 260).unwrap());
    let denied = tx.device_authorization_by_user_code("EEEE-FFFF").unwrap();
    assert_eq!(denied.unwrap().decision, Some(DeviceDecision::Denied));
}

fn cancelling_denies_every_request_not_redeemed(
    tx: &(impl Fixture + ServiceAccountReads + ServiceAccountWrites),
) {
    tx.user("org1", "someone");
    tx.insert_service_account(&new_account("org1", "sa1", "svc", &[]))
        .unwrap();
    tx.insert_service_account(&new_account("org1", "sa2", "other", &[]))
        .unwrap();
    // Redeemed, granted, denied, pending; and another account's.
    for (id, code) in [("d1", "U1"), ("d2", "U2"), ("d3", "U3"), ("d4", "U4")] {
        tx.insert_device_authorization(&authorization(id, "sa1", code))
            .unwrap();
        match id {
            "d1" | "d2" => {
                tx.decide_device_authorization(id, DeviceDecision::Granted, 10)
                    .unwrap();
            }
            "d3" => {
                tx.decide_device_authorization(id, DeviceDecision::Denied, 10)
                    .unwrap();
            }
            _ => {}
        }
    }
    assert!(tx.use_device_authorization("d1", 20).unwrap());
    tx.insert_device_authorization(&authorization("d5", "sa2", "U5"))
        .unwrap();

    assert_eq!(tx.cancel_device_authorizations("sa1", 30).unwrap(), 2);
    assert_eq!(tx.cancel_device_authorizations("sa1", 40).unwrap(), 0);
    let decision = |code: &str| {
        tx.device_authorization_by_user_code(code)
            .unwrap()
            .unwrap()
            .decision
    };
    assert_eq!(decision("U1"), Some(DeviceDecision::Granted));
    assert_eq!(decision("U2"), Some(DeviceDecision::Denied));
    assert_eq!(decision("U3"), Some(DeviceDecision::Denied));
    assert_eq!(decision("U4"), Some(DeviceDecision::Denied));
    assert_eq!(decision("U5"), None);
    assert!(!tx.use_device_authorization("d2", 50).unwrap());
}

contract!(
    a_service_account_reads_back_with_its_org_and_roles,
    roles_are_replaced_and_must_exist,
    an_active_account_without_a_live_token_reads_as_created,
    a_deleted_account_is_gone_once,
    accounts_are_listed_by_org_and_name_ignoring_case,
    a_device_authorization_is_decided_once_and_used_once,
    cancelling_denies_every_request_not_redeemed,
);
