//! API tokens, their requests, revoked access tokens, DPoP proofs seen,
//! introspection and OAuth clients, and token policies.

use super::Fixture;
use crate::domain::records::{
    ApiTokenFilter, ApiTokenListing, ApiTokenRecord, IntrospectionClient, OAuthClient,
    ServiceRoleScope, TokenCounts, TokenPolicy, TokenScope, TokenSort, TokenState,
};
use crate::domain::storage::{StoreError, TokenReads, TokenWrites};

/// A token whose digest is its id, padded.
fn token(
    id: &str,
    user_id: &str,
    name: &str,
    created_at: i64,
    expires_at: Option<i64>,
) -> ApiTokenRecord {
    let mut digest = [0; 32];
    digest[..id.len()].copy_from_slice(id.as_bytes());
    ApiTokenRecord {
        id: id.into(),
        digest,
        user_id: user_id.into(),
        name: name.into(),
        created_at,
        expires_at,
        revoked_at: None,
        scope: TokenScope::AllRoles,
        openid: false,
        rotated_at: None,
        client_id: None,
        bound_cidrs: Vec::new(),
    }
}

fn digest_of(id: &str) -> [u8; 32] {
    token(id, "", "", 0, None).digest
}

fn limited_scope() -> TokenScope {
    TokenScope::Roles {
        org_roles: vec!["admin".into(), "viewer".into()],
        service_roles: vec![ServiceRoleScope {
            service: "billing".into(),
            role: "clerk".into(),
            permissions: Some(vec!["billing:read".into()]),
        }],
    }
}

fn listing(tx: &impl TokenReads, id: &str) -> ApiTokenListing {
    tx.api_token(id).unwrap().unwrap()
}

fn a_token_is_found_by_digest_and_by_id_as_it_was_stored(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    let mut full = token("t1", "alice", "Deploy", 10, Some(500));
    full.scope = limited_scope();
    full.openid = true;
    full.client_id = Some("client-1".into());
    full.bound_cidrs = vec!["10.0.0.0/8".into(), "2001:db8::/32".into()];
    tx.insert_api_token(&full).unwrap();
    let plain = token("t2", "alice", "plain", 20, None);
    tx.insert_api_token(&plain).unwrap();

    let found = tx.api_token_by_digest(&digest_of("t1")).unwrap().unwrap();
    assert_eq!(format!("{found:?}"), format!("{full:?}"));
    let found = tx.api_token_by_digest(&digest_of("t2")).unwrap().unwrap();
    assert_eq!(format!("{found:?}"), format!("{plain:?}"));
    assert!(tx.api_token_by_digest(&digest_of("t3")).unwrap().is_none());

    let expected = ApiTokenListing {
        id: "t1".into(),
        name: "Deploy".into(),
        owner_id: "alice".into(),
        owner_name: "alice".into(),
        org_id: "acme".into(),
        org_name: "acme".into(),
        created_at: 10,
        expires_at: Some(500),
        last_used_at: None,
        last_used_ip: None,
        revoked_at: None,
        scope: limited_scope(),
        openid: true,
        bound_cidrs: full.bound_cidrs.clone(),
    };
    assert_eq!(format!("{:?}", listing(tx, "t1")), format!("{expected:?}"));
    assert!(tx.api_token("t3").unwrap().is_none());

    let same_id = tx.insert_api_token(&token("t1", "alice", "again", 30, None));
    assert!(matches!(same_id, Err(StoreError::Duplicate)), "{same_id:?}");
    let mut same_digest = token("t3", "alice", "again", 30, None);
    same_digest.digest = digest_of("t2");
    let same_digest = tx.insert_api_token(&same_digest);
    assert!(
        matches!(same_digest, Err(StoreError::Duplicate)),
        "{same_digest:?}"
    );
}

fn a_token_is_revoked_once_and_is_then_inactive(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    let mut limited = token("t1", "alice", "a", 10, None);
    limited.scope = limited_scope();
    tx.insert_api_token(&limited).unwrap();
    tx.insert_api_token(&token("t2", "alice", "b", 10, None))
        .unwrap();
    assert_eq!(
        tx.active_api_token("t1").unwrap(),
        Some(("alice".into(), limited_scope()))
    );
    assert_eq!(
        tx.active_api_token("t2").unwrap(),
        Some(("alice".into(), TokenScope::AllRoles))
    );
    assert!(tx.revoke_api_token("t1", 40).unwrap());
    assert!(!tx.revoke_api_token("t1", 50).unwrap(), "revoked already");
    assert!(!tx.revoke_api_token("t9", 50).unwrap(), "unknown");
    assert_eq!(tx.active_api_token("t1").unwrap(), None);
    assert_eq!(tx.active_api_token("t9").unwrap(), None);
    assert_eq!(listing(tx, "t1").revoked_at, Some(40));
    assert_eq!(
        tx.api_token_by_digest(&digest_of("t1"))
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(40)
    );
    assert!(tx.active_api_token("t2").unwrap().is_some());
}

fn a_live_token_is_replaced_once(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    for (id, expires_at) in [
        ("never", None),
        ("soon", Some(80)),
        ("late", Some(500)),
        ("expired", Some(40)),
        ("ends-now", Some(50)),
        ("revoked", None),
    ] {
        tx.insert_api_token(&token(id, "alice", id, 10, expires_at))
            .unwrap();
    }
    tx.revoke_api_token("revoked", 20).unwrap();
    let state = |id: &str| {
        let t = listing(tx, id);
        (t.expires_at, t.revoked_at)
    };

    assert!(tx.replace_api_token("never", "next", 100, 50).unwrap());
    assert_eq!(
        state("never"),
        (Some(100), None),
        "works until the grace ends"
    );
    assert!(
        !tx.replace_api_token("never", "other", 200, 60).unwrap(),
        "replaced already"
    );
    assert_eq!(state("never"), (Some(100), None));

    assert!(tx.replace_api_token("soon", "next", 100, 50).unwrap());
    assert_eq!(state("soon"), (Some(80), None), "an earlier expiry is kept");

    assert!(tx.replace_api_token("late", "next", 50, 50).unwrap());
    assert_eq!(
        state("late"),
        (Some(500), Some(50)),
        "no grace: revoked now"
    );

    assert!(!tx.replace_api_token("expired", "next", 100, 50).unwrap());
    assert!(!tx.replace_api_token("ends-now", "next", 100, 50).unwrap());
    assert!(!tx.replace_api_token("revoked", "next", 100, 50).unwrap());
    assert!(!tx.replace_api_token("unknown", "next", 100, 50).unwrap());
    assert_eq!(state("expired"), (Some(40), None));
}

fn a_use_is_stamped_and_binds_the_first_client(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.insert_api_token(&token("t1", "alice", "a", 10, None))
        .unwrap();
    tx.insert_api_token(&token("t2", "alice", "b", 10, None))
        .unwrap();
    let client = |id: &str| {
        tx.api_token_by_digest(&digest_of(id))
            .unwrap()
            .unwrap()
            .client_id
    };
    let used = |id: &str| {
        let t = listing(tx, id);
        (t.last_used_at, t.last_used_ip)
    };
    assert_eq!(used("t1"), (None, None));
    tx.record_api_token_use("t1", 60, "192.0.2.1", Some("c1"))
        .unwrap();
    assert_eq!(used("t1"), (Some(60), Some("192.0.2.1".into())));
    assert_eq!(client("t1"), Some("c1".into()));
    tx.record_api_token_use("t1", 70, "192.0.2.2", Some("c2"))
        .unwrap();
    assert_eq!(used("t1"), (Some(70), Some("192.0.2.2".into())));
    assert_eq!(client("t1"), Some("c1".into()), "bound to the first");
    tx.record_api_token_use("t1", 80, "192.0.2.3", None)
        .unwrap();
    assert_eq!(client("t1"), Some("c1".into()));
    tx.record_api_token_use("t2", 90, "192.0.2.4", None)
        .unwrap();
    assert_eq!(used("t2"), (Some(90), Some("192.0.2.4".into())));
    assert_eq!(client("t2"), None);
}

fn a_users_request_makes_one_token(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    tx.insert_api_token(&token("t1", "alice", "a", 10, None))
        .unwrap();
    tx.insert_api_token(&token("t2", "bob", "b", 10, None))
        .unwrap();
    tx.insert_token_request("alice", "r1", "t1").unwrap();
    let again = tx.insert_token_request("alice", "r1", "t2");
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    tx.insert_token_request("bob", "r1", "t2").unwrap();
    tx.insert_token_request("alice", "r2", "t2").unwrap();
}

fn an_access_token_is_revoked_once_and_forgotten_after_its_expiry(
    tx: &(impl TokenReads + TokenWrites),
) {
    assert!(!tx.access_token_revoked("j1").unwrap());
    assert!(tx.revoke_access_token("j1", 100).unwrap());
    assert!(
        !tx.revoke_access_token("j1", 100).unwrap(),
        "revoked already"
    );
    assert!(tx.revoke_access_token("j2", 200).unwrap());
    assert!(tx.access_token_revoked("j1").unwrap());
    assert!(!tx.access_token_revoked("j3").unwrap());
    assert_eq!(tx.forget_expired_revocations(100).unwrap(), 0);
    assert!(tx.access_token_revoked("j1").unwrap());
    assert_eq!(tx.forget_expired_revocations(101).unwrap(), 1);
    assert!(!tx.access_token_revoked("j1").unwrap());
    assert!(tx.access_token_revoked("j2").unwrap());
    assert_eq!(tx.forget_expired_revocations(300).unwrap(), 1);
    assert_eq!(tx.forget_expired_revocations(300).unwrap(), 0);
}

fn a_dpop_proof_is_recorded_once_and_forgotten_after_its_expiry(tx: &impl TokenWrites) {
    let (first, second) = ([1; 32], [2; 32]);
    assert!(tx.record_dpop_proof(&first, 100).unwrap());
    assert!(!tx.record_dpop_proof(&first, 100).unwrap(), "a second use");
    assert!(
        !tx.record_dpop_proof(&first, 500).unwrap(),
        "a second use, whatever expiry it claims"
    );
    assert!(tx.record_dpop_proof(&second, 200).unwrap());
    assert_eq!(tx.forget_expired_dpop_proofs(100).unwrap(), 0);
    assert!(!tx.record_dpop_proof(&first, 100).unwrap(), "still kept");
    assert_eq!(tx.forget_expired_dpop_proofs(101).unwrap(), 1);
    assert!(
        !tx.record_dpop_proof(&second, 200).unwrap(),
        "the later one kept"
    );
    assert!(
        tx.record_dpop_proof(&first, 100).unwrap(),
        "forgotten, so new again"
    );
    assert_eq!(tx.forget_expired_dpop_proofs(300).unwrap(), 2);
    assert_eq!(tx.forget_expired_dpop_proofs(300).unwrap(), 0);
}

fn introspection_client(id: &str, service_id: &str, created_at: i64) -> IntrospectionClient {
    IntrospectionClient {
        id: id.into(),
        service_id: service_id.into(),
        service_name: service_id.into(),
        secret_digest: [id.as_bytes()[0]; 32],
        created_at,
        revoked_at: None,
    }
}

fn introspection_clients_are_listed_oldest_first_until_revoked(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.service("billing");
    tx.service("mail");
    // Made in the same second, the first made is the older.
    for client in [
        introspection_client("c-b", "billing", 10),
        introspection_client("c-a", "billing", 10),
        introspection_client("c-c", "billing", 5),
        introspection_client("c-m", "mail", 1),
    ] {
        tx.insert_introspection_client(&client).unwrap();
    }
    let ids = |service: &str| -> Vec<String> {
        tx.introspection_clients(service)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(ids("billing"), ["c-c", "c-b", "c-a"]);
    assert_eq!(ids("mail"), ["c-m"]);
    assert!(ids("nothing").is_empty());
    let found = tx.introspection_client("c-a").unwrap().unwrap();
    assert_eq!(
        format!("{found:?}"),
        format!("{:?}", introspection_client("c-a", "billing", 10))
    );
    assert!(tx.introspection_client("c-z").unwrap().is_none());

    assert!(tx.revoke_introspection_client("c-b", 20).unwrap());
    assert!(!tx.revoke_introspection_client("c-b", 30).unwrap());
    assert!(!tx.revoke_introspection_client("c-z", 30).unwrap());
    assert_eq!(ids("billing"), ["c-c", "c-a"]);
    let revoked = tx.introspection_client("c-b").unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(20), "still found by id");

    let again = tx.insert_introspection_client(&introspection_client("c-a", "mail", 40));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
}

fn oauth_client(id: &str, user_id: &str) -> OAuthClient {
    OAuthClient {
        id: id.into(),
        name: format!("{id} app"),
        user_id: user_id.into(),
        created_at: 10,
        token_id: None,
        deleted_at: None,
    }
}

fn an_oauth_client_takes_one_token_until_it_is_deleted(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.insert_api_token(&token("t1", "alice", "a", 10, None))
        .unwrap();
    tx.insert_api_token(&token("t2", "alice", "b", 10, None))
        .unwrap();
    tx.insert_oauth_client(&oauth_client("o1", "alice"))
        .unwrap();
    tx.insert_oauth_client(&oauth_client("o2", "alice"))
        .unwrap();
    let found = tx.oauth_client("o1").unwrap().unwrap();
    assert_eq!(
        format!("{found:?}"),
        format!("{:?}", oauth_client("o1", "alice"))
    );
    assert!(tx.oauth_client("o9").unwrap().is_none());

    assert!(tx.bind_oauth_client_token("o1", "t1").unwrap());
    assert!(!tx.bind_oauth_client_token("o1", "t2").unwrap(), "has one");
    assert_eq!(
        tx.oauth_client("o1").unwrap().unwrap().token_id,
        Some("t1".into())
    );
    assert!(!tx.bind_oauth_client_token("o9", "t2").unwrap(), "unknown");

    assert!(tx.delete_oauth_client("o2", 30).unwrap());
    assert!(
        !tx.delete_oauth_client("o2", 40).unwrap(),
        "deleted already"
    );
    assert!(!tx.delete_oauth_client("o9", 40).unwrap(), "unknown");
    assert!(!tx.bind_oauth_client_token("o2", "t2").unwrap(), "deleted");
    let deleted = tx.oauth_client("o2").unwrap().unwrap();
    assert_eq!((deleted.deleted_at, deleted.token_id), (Some(30), None));

    let again = tx.insert_oauth_client(&oauth_client("o1", "alice"));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
}

fn a_registered_client_keeps_its_id_token_algorithm(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("acme", "robot");
    tx.registration("robot");
    tx.insert_oauth_client(&oauth_client("o1", "alice"))
        .unwrap();
    assert_eq!(tx.client_id_token_alg("o1").unwrap(), None);
    assert_eq!(tx.client_id_token_alg("robot").unwrap(), None);
    tx.set_client_id_token_alg("o1", "ES256").unwrap();
    tx.set_client_id_token_alg("robot", "RS256").unwrap();
    tx.set_client_id_token_alg("nobody", "RS256").unwrap();
    assert_eq!(tx.client_id_token_alg("o1").unwrap(), Some("ES256".into()));
    assert_eq!(
        tx.client_id_token_alg("robot").unwrap(),
        Some("RS256".into())
    );
    assert_eq!(tx.client_id_token_alg("alice").unwrap(), None);
    assert_eq!(tx.client_id_token_alg("nobody").unwrap(), None);
    tx.delete_oauth_client("o1", 20).unwrap();
    assert_eq!(tx.client_id_token_alg("o1").unwrap(), None, "deleted");
}

fn a_token_policy_is_stored_and_replaced(tx: &(impl TokenReads + TokenWrites)) {
    assert_eq!(tx.token_policy("acme").unwrap(), None);
    let strict = TokenPolicy {
        default_ttl: Some("30d".into()),
        max_ttl: Some("90d".into()),
        allow_never: Some(false),
        max_idle: Some("none".into()),
        second_factor: Some("admins".into()),
        max_rotation_grace: Some("0".into()),
        require_bound_cidrs: Some(true),
    };
    tx.set_token_policy("acme", &strict).unwrap();
    assert_eq!(tx.token_policy("acme").unwrap(), Some(strict.clone()));
    let loose = TokenPolicy {
        allow_never: Some(true),
        second_factor: Some("everyone".into()),
        ..TokenPolicy::default()
    };
    tx.set_token_policy("acme", &loose).unwrap();
    assert_eq!(tx.token_policy("acme").unwrap(), Some(loose));
    tx.set_token_policy("default", &TokenPolicy::default())
        .unwrap();
    assert_eq!(
        tx.token_policy("default").unwrap(),
        Some(TokenPolicy::default())
    );
    assert_eq!(tx.token_policy("globex").unwrap(), None);
}

/// The ids listed, and the total.
fn ids(tx: &impl TokenReads, filter: ApiTokenFilter) -> (Vec<String>, u64) {
    let page = tx.api_tokens(&filter).unwrap();
    (page.tokens.into_iter().map(|t| t.id).collect(), page.total)
}

fn all(ids: &[&str]) -> (Vec<String>, u64) {
    (
        ids.iter().map(|id| id.to_string()).collect(),
        ids.len() as u64,
    )
}

fn tokens_are_listed_filtered_sorted_and_paged(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.user("acme", "Bob");
    tx.user("globex", "carol");
    // In this order: ties in a sort fall to the earlier made.
    for (id, user, name, created_at, expires_at) in [
        ("t5", "alice", "Deploy", 10, Some(100)),
        ("t1", "alice", "backup_job", 10, None),
        ("t4", "Bob", "deploy-2", 20, Some(50)),
        ("t3", "Bob", "100%", 5, Some(100)),
        ("t2", "carol", "Deploy", 30, None),
    ] {
        tx.insert_api_token(&token(id, user, name, created_at, expires_at))
            .unwrap();
    }
    tx.revoke_api_token("t3", 40).unwrap();
    tx.record_api_token_use("t5", 60, "192.0.2.1", None)
        .unwrap();
    tx.record_api_token_use("t2", 60, "192.0.2.1", None)
        .unwrap();
    tx.record_api_token_use("t4", 70, "192.0.2.1", None)
        .unwrap();
    let every = |sort: TokenSort| ApiTokenFilter {
        include_revoked: true,
        sort,
        ..ApiTokenFilter::default()
    };

    assert_eq!(
        ids(tx, ApiTokenFilter::default()),
        all(&["t5", "t1", "t4", "t2"]),
        "oldest first, the revoked left out"
    );
    assert_eq!(
        ids(tx, every(TokenSort::Created)),
        all(&["t3", "t5", "t1", "t4", "t2"])
    );
    assert_eq!(
        ids(tx, every(TokenSort::Expires)),
        all(&["t4", "t5", "t3", "t1", "t2"])
    );
    assert_eq!(
        ids(tx, every(TokenSort::LastUsed)),
        all(&["t4", "t5", "t2", "t1", "t3"])
    );
    assert_eq!(
        ids(tx, every(TokenSort::Name)),
        all(&["t3", "t1", "t5", "t2", "t4"]),
        "names in either case"
    );
    assert_eq!(
        ids(tx, every(TokenSort::Owner)),
        all(&["t1", "t5", "t3", "t4", "t2"]),
        "owners and names in either case"
    );

    let filter = |f: fn(&mut ApiTokenFilter)| {
        let mut filter = every(TokenSort::Created);
        f(&mut filter);
        ids(tx, filter)
    };
    assert_eq!(
        filter(|f| f.owner_id = Some("alice".into())),
        all(&["t5", "t1"])
    );
    assert_eq!(
        filter(|f| f.org_id = Some("acme".into())),
        all(&["t3", "t5", "t1", "t4"])
    );
    assert_eq!(
        filter(|f| f.user_name = Some("bob".into())),
        all(&["t3", "t4"])
    );
    assert_eq!(
        filter(|f| f.name_contains = Some("deploy".into())),
        all(&["t5", "t4", "t2"])
    );
    assert_eq!(
        filter(|f| f.name_contains = Some("_".into())),
        all(&["t1"]),
        "LIKE's characters are plain"
    );
    assert_eq!(filter(|f| f.name_contains = Some("%".into())), all(&["t3"]));
    assert_eq!(
        filter(|f| f.name_equals = Some("Deploy".into())),
        all(&["t5", "t2"])
    );
    assert_eq!(
        filter(|f| f.name_equals = Some("deploy".into())),
        all(&[]),
        "exactly"
    );
    assert_eq!(
        filter(|f| {
            f.org_id = Some("acme".into());
            f.name_contains = Some("DEPLOY".into());
        }),
        all(&["t5", "t4"])
    );
    assert_eq!(
        filter(|f| f.state_at = Some((TokenState::Live, 50))),
        all(&["t5", "t1", "t2"])
    );
    assert_eq!(
        filter(|f| f.state_at = Some((TokenState::Inactive, 50))),
        all(&["t3", "t4"])
    );
    assert_eq!(
        filter(|f| {
            f.include_revoked = false;
            f.state_at = Some((TokenState::Inactive, 49));
        }),
        all(&["t3"]),
        "the revoked are inactive whatever include_revoked says"
    );

    let page = |offset, limit| {
        let mut filter = every(TokenSort::Created);
        filter.page = Some((offset, limit));
        ids(tx, filter)
    };
    assert_eq!(page(1, 2), (vec!["t5".into(), "t1".into()], 5));
    assert_eq!(page(4, 2), (vec!["t2".into()], 5));
    assert_eq!(page(10, 2), (vec![], 5));
}

fn tokens_beyond_a_policy_are_found_among_an_orgs_live_ones(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("globex", "carol");
    let bound = |mut t: ApiTokenRecord| {
        t.bound_cidrs = vec!["10.0.0.0/8".into()];
        t
    };
    // b4 made first: a tie in time falls to the id.
    for t in [
        bound(token("b4", "alice", "b4", 1, Some(200))),
        token("b1", "alice", "b1", 1, Some(200)),
        token("b2", "alice", "b2", 2, None),
        token("b3", "alice", "b3", 3, Some(50)),
        bound(token("b5", "alice", "b5", 5, None)),
        token("b6", "alice", "b6", 6, Some(300)),
        token("b7", "alice", "b7", 7, Some(20)),
        token("g1", "carol", "g1", 1, None),
    ] {
        tx.insert_api_token(&t).unwrap();
    }
    tx.revoke_api_token("b6", 8).unwrap();
    let beyond = |never, unbound| -> Vec<String> {
        tx.tokens_beyond("acme", 100, never, unbound, 30)
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(beyond(false, false), ["b1", "b4"]);
    assert_eq!(beyond(true, false), ["b1", "b4", "b2", "b5"]);
    assert_eq!(beyond(false, true), ["b1", "b4", "b2", "b3"]);
    assert_eq!(beyond(true, true), ["b1", "b4", "b2", "b3", "b5"]);
    let found = &tx.tokens_beyond("acme", 100, false, false, 30).unwrap()[1];
    assert_eq!(
        (
            found.owner_name.as_str(),
            found.org_name.as_str(),
            &found.bound_cidrs
        ),
        ("alice", "acme", &vec!["10.0.0.0/8".to_string()])
    );
    assert!(tx
        .tokens_beyond("initech", 100, true, true, 30)
        .unwrap()
        .is_empty());
}

fn idle_tokens_are_the_live_ones_unused_since_the_cutoff(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("globex", "carol");
    for (id, user, created_at) in [
        ("i1", "alice", 10),
        ("i2", "alice", 20),
        ("i3", "alice", 30),
        ("i4", "alice", 5),
        ("i5", "alice", 50),
        ("g1", "carol", 1),
    ] {
        tx.insert_api_token(&token(id, user, id, created_at, None))
            .unwrap();
    }
    tx.record_api_token_use("i1", 100, "192.0.2.1", None)
        .unwrap();
    tx.record_api_token_use("i3", 40, "192.0.2.1", None)
        .unwrap();
    tx.revoke_api_token("i4", 6).unwrap();
    let idle = |cutoff, limit| -> Vec<String> {
        tx.idle_tokens("acme", cutoff, limit)
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(idle(60, 10), ["i2", "i3", "i5"]);
    assert_eq!(idle(60, 2), ["i2", "i3"]);
    assert_eq!(idle(40, 10), ["i2"], "used at the cutoff is not idle");
    assert!(idle(20, 10).is_empty(), "made at the cutoff is not idle");
    assert_eq!(idle(101, 10), ["i1", "i2", "i3", "i5"]);
}

fn tokens_are_counted_by_state_for_every_org(tx: &(impl TokenReads + TokenWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    tx.user("Beta", "dan");
    tx.user("globex", "carol");
    for (id, user, expires_at) in [
        ("live-never", "alice", None),
        ("live-later", "bob", Some(200)),
        ("expired-now", "alice", Some(100)),
        ("revoked", "alice", None),
        ("revoked-expired", "bob", Some(50)),
        ("g-expired", "carol", Some(10)),
    ] {
        tx.insert_api_token(&token(id, user, id, 1, expires_at))
            .unwrap();
    }
    tx.revoke_api_token("revoked", 5).unwrap();
    tx.revoke_api_token("revoked-expired", 5).unwrap();
    let counts = |org: &str, live, expired, revoked| TokenCounts {
        org: org.into(),
        live,
        expired,
        revoked,
    };
    assert_eq!(
        tx.api_token_counts(100).unwrap(),
        [
            counts("acme", 2, 1, 2),
            counts("Beta", 0, 0, 0),
            counts("globex", 0, 1, 0),
        ],
        "orgs by name in either case"
    );
}

/// Names sort by their bytes once ASCII letters are folded, as SQLite's
/// NOCASE has it, whatever collation the server would use: the test
/// databases on PostgreSQL collate by English rules, under which `_`
/// comes before `-`, punctuation and case weigh less than letters, and
/// `é` sorts beside `e`.
fn names_sort_by_folded_bytes_whatever_the_servers_collation(
    tx: &(impl TokenReads + TokenWrites + Fixture),
) {
    tx.user("acme", "alice");
    for (id, name) in [
        ("t1", "ab"),
        ("t2", "a_b"),
        ("t3", "a-c"),
        ("t4", "éclair"),
        ("t5", "Ed"),
        ("t6", "[x]"),
        ("t7", "A b"),
    ] {
        tx.insert_api_token(&token(id, "alice", name, 10, None))
            .unwrap();
    }
    let sorted = ids(
        tx,
        ApiTokenFilter {
            sort: TokenSort::Name,
            ..ApiTokenFilter::default()
        },
    );
    // "[" (0x5b) < "a": then " " (0x20) < "-" (0x2d) < "_" (0x5f) < "b";
    // "d" < "é" (0xc3 0xa9).
    assert_eq!(sorted, all(&["t6", "t7", "t3", "t2", "t1", "t5", "t4"]));
}

super::contract!(
    a_token_is_found_by_digest_and_by_id_as_it_was_stored,
    a_token_is_revoked_once_and_is_then_inactive,
    a_live_token_is_replaced_once,
    a_use_is_stamped_and_binds_the_first_client,
    a_users_request_makes_one_token,
    an_access_token_is_revoked_once_and_forgotten_after_its_expiry,
    a_dpop_proof_is_recorded_once_and_forgotten_after_its_expiry,
    introspection_clients_are_listed_oldest_first_until_revoked,
    an_oauth_client_takes_one_token_until_it_is_deleted,
    a_registered_client_keeps_its_id_token_algorithm,
    a_token_policy_is_stored_and_replaced,
    tokens_are_listed_filtered_sorted_and_paged,
    names_sort_by_folded_bytes_whatever_the_servers_collation,
    tokens_beyond_a_policy_are_found_among_an_orgs_live_ones,
    idle_tokens_are_the_live_ones_unused_since_the_cutoff,
    tokens_are_counted_by_state_for_every_org,
);
