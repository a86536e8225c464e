//! The store's own tests: migrations from every earlier schema, the
//! database file's creation and locking, and the SQL behind the interface.

use super::*;

#[test]
fn schema_splits_into_migrations_numbered_from_one() {
    let m = migrations();
    assert!(m[0].trim_start().starts_with("CREATE TABLE orgs"));
    assert!(m[0].contains("CREATE TABLE api_tokens"));
    let numbers: Vec<String> = SCHEMA
        .split("\n-- migration ")
        .skip(1)
        .map(|s| s.lines().next().unwrap_or("").trim().to_string())
        .collect();
    let expected: Vec<String> = (1..=m.len()).map(|n| n.to_string()).collect();
    assert_eq!(numbers, expected);
}

#[test]
fn reopening_keeps_the_schema_version_and_a_new_file_is_private() {
    let dir = std::env::temp_dir().join(format!("tokend-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    let _ = std::fs::remove_file(&path);
    let version = |path: &Path| -> i64 {
        Connection::open(path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    SqliteDatabase::create_or_open(&path).unwrap();
    assert_eq!(version(&path), migrations().len() as i64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    SqliteDatabase::open_existing(&path).unwrap();
    assert_eq!(version(&path), migrations().len() as i64);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn snapshots_nest_and_the_read_transaction_ends_with_the_outermost() {
    let database = SqliteDatabase::in_memory().unwrap();
    let store = SqliteStore {
        conn: open_connection(&database.path).unwrap(),
        writer: database.writer().unwrap(),
        snapshots: std::sync::atomic::AtomicU32::new(0),
        request_received: None,
    };
    store.begin_snapshot().unwrap();
    store.begin_snapshot().unwrap();
    store.end_snapshot();
    assert!(
        !store.conn.is_autocommit(),
        "an inner end keeps the outer open"
    );
    store.end_snapshot();
    assert!(store.conn.is_autocommit(), "the outermost end ends it");
    store.end_snapshot();
    assert!(store.conn.is_autocommit(), "an end too many is harmless");
}

#[test]
fn a_held_write_lock_is_reported_busy() {
    let dir = std::env::temp_dir().join(format!("tokend-busy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    SqliteDatabase::create_or_open(&path).unwrap();
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let conn = open_connection(&path).unwrap();
    conn.busy_timeout(Duration::from_millis(50)).unwrap();
    let writer =
        Writer::start(SqliteWriteConnection::new(conn), Duration::from_millis(50)).unwrap();
    let result = writer.write(Box::new(|_| Ok(())), Durability::Durable, None);
    assert!(matches!(result, Err(StoreError::Busy)), "{result:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn behind_a_held_write_lock_no_write_waits_past_its_deadline() {
    use crate::domain::storage::AccountReads;
    let dir = std::env::temp_dir().join(format!("tokend-deadline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.db");
    SqliteDatabase::create_or_open(&path).unwrap();
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let timeout = Duration::from_millis(300);
    let writer = Writer::start(
        SqliteWriteConnection::new(open_connection(&path).unwrap()),
        timeout,
    )
    .unwrap();
    // Six writers queue up at once: the first batch waits out the lock,
    // and the rest must not wait for it and then for a lock of their own.
    let waits: Vec<(Duration, StoreResult<()>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let writer = writer.clone();
                scope.spawn(move || {
                    let started = std::time::Instant::now();
                    let name = format!("user{n}@acme");
                    let result = writer.write(
                        Box::new(move |tx| tx.record_login_unlock(&name, 1)),
                        Durability::Durable,
                        None,
                    );
                    (started.elapsed(), result)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (waited, result) in &waits {
        assert!(matches!(result, Err(StoreError::Busy)), "{result:?}");
        assert!(
            *waited < timeout * 2,
            "waited {waited:?}, the busy timeout being {timeout:?}"
        );
    }
    holder.execute_batch("ROLLBACK").unwrap();
    writer
        .write(Box::new(|_| Ok(())), Durability::Durable, None)
        .unwrap();
    let reader = open_connection(&path).unwrap();
    assert!(
        reader.login_unlocked_at("user0@acme").unwrap().is_none(),
        "a write answered busy never runs later"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_database_is_reported_full() {
    let mut conn = Connection::open_in_memory().unwrap();
    migrate(&mut conn).unwrap();
    let pages: i64 = conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    // What a full disk looks like to SQLite: no page can be added.
    conn.pragma_update(None, "max_page_count", pages).unwrap();
    let writer = Writer::start(SqliteWriteConnection::new(conn), DEFAULT_BUSY_TIMEOUT).unwrap();
    let result = writer.write(
        Box::new(|tx| {
            for n in 0..1000 {
                tx.record_login_unlock(&format!("user{n}@org{}", "x".repeat(200)), n)?;
            }
            Ok(())
        }),
        Durability::Durable,
        None,
    );
    assert!(matches!(result, Err(StoreError::Full)), "{result:?}");
}

/// A database as schema `version` left it, holding `rows`.
fn at_schema(version: usize, rows: &str) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for sql in &migrations()[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
    conn.execute_batch(rows).unwrap();
    conn
}

#[test]
fn a_database_of_schema_2_migrates_its_roles_without_loss() {
    use crate::domain::storage::AccountReads;
    let mut conn = at_schema(
        2,
        "INSERT INTO orgs VALUES ('o1', 'acme', 0, 1);
         INSERT INTO roles VALUES ('r1', 'Token User', 0);
         INSERT INTO roles VALUES ('r2', 'Auditors', 0);
         INSERT INTO role_rights VALUES ('r1', 'Manage user''s own API token');
         INSERT INTO role_rights VALUES ('r1', 'User: Change Own Password');
         INSERT INTO role_rights VALUES ('r2', 'User: View');
         INSERT INTO users VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO user_roles VALUES ('u1', 'r1');
         INSERT INTO user_roles VALUES ('u1', 'r2');
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t1', zeroblob(32), 'u1', 'ci', 1);",
    );
    migrate(&mut conn).unwrap();
    let account = conn.account("u1").unwrap().unwrap();
    assert_eq!(account.role_names(), ["Auditors", "Token User"]);
    assert_eq!(
        account.permissions(),
        ["tokend:token.manage-own", "tokend:user.view"]
    );
    assert!(!account.disabled);
    let tokens: i64 = conn
        .query_row(
            "SELECT count(*) FROM api_tokens WHERE scope IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tokens, 1, "the token keeps all its user's roles");
    let enforced: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert!(enforced, "foreign keys are on again after migrating");
}

#[test]
fn a_database_of_schema_13_keeps_its_sessions_and_finds_them_by_user() {
    use crate::domain::storage::{SessionReads, SessionWrites};
    let mut conn = at_schema(
        13,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO sessions VALUES ('s1', 'u1', 1, 9999, NULL);
         INSERT INTO sessions VALUES ('s2', 'u1', 1, 9999, NULL);
         INSERT INTO sessions VALUES ('s3', 'u1', 1, 9999, 5);",
    );
    migrate(&mut conn).unwrap();
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN UPDATE sessions SET ended_at = 7
             WHERE user_id = 'u1' AND ended_at IS NULL AND id IS NOT 's1'",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("sessions_live_by_user"), "{plan}");
    assert_eq!(conn.end_user_sessions("u1", Some("s1"), 7).unwrap(), 1);
    assert_eq!(conn.session("s1").unwrap().unwrap().ended_at, None);
    assert_eq!(conn.session("s2").unwrap().unwrap().ended_at, Some(7));
    assert_eq!(
        conn.session("s3").unwrap().unwrap().ended_at,
        Some(5),
        "ended before"
    );
}

#[test]
fn a_database_of_schema_14_gains_token_requests_and_keeps_its_tokens() {
    use crate::domain::storage::TokenWrites;
    let mut conn = at_schema(
        14,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t1', zeroblob(32), 'u1', 'ci', 1);",
    );
    migrate(&mut conn).unwrap();
    conn.insert_token_request("u1", "r1", "t1").unwrap();
    assert!(
        matches!(
            conn.insert_token_request("u1", "r1", "t1"),
            Err(StoreError::Duplicate)
        ),
        "a request makes one token"
    );
    let tokens: i64 = conn
        .query_row("SELECT count(*) FROM api_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tokens, 1);
}

#[test]
fn a_database_of_schema_15_keeps_its_keys_signing_and_its_tokens_unbound() {
    use crate::domain::storage::{KeyReads, RoleReads, TokenReads};
    let mut conn = at_schema(
        15,
        "INSERT INTO signing_keys (kid, algorithm, private_key, created_at)
             VALUES ('k1', 'ES256', zeroblob(32), 100);
         INSERT INTO services (id, name, created_at) VALUES ('s1', 'vmc', 1);
         INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t1', zeroblob(32), 'u1', 'ci', 1);",
    );
    migrate(&mut conn).unwrap();
    let keys = conn.signing_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].activates_at, 100, "it signed from its creation");
    assert_eq!(conn.service("vmc").unwrap().unwrap().identifier, None);
    let token = conn.api_token_by_digest(&[0; 32]).unwrap().unwrap();
    assert_eq!(token.client_id, None, "bound to no client");
    assert_eq!(conn.client_id_token_alg("t1").unwrap(), None);
}

#[test]
fn a_database_of_schema_16_gains_second_factors_and_keeps_its_sessions_and_policies() {
    use crate::domain::records::SecondFactorRecord;
    use crate::domain::storage::{
        AccountReads, SecondFactorReads, SecondFactorWrites, SessionReads, TokenReads,
    };
    let mut conn = at_schema(
        16,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s1', 'u1', 1, 9999);
         INSERT INTO token_policies (org_id, max_ttl) VALUES ('o1', '90days');",
    );
    migrate(&mut conn).unwrap();
    let session = conn.session("s1").unwrap().unwrap();
    assert!(
        !session.enrol_only,
        "a session from before may do everything"
    );
    let policy = conn.token_policy("o1").unwrap().unwrap();
    assert_eq!(policy.max_ttl.as_deref(), Some("90days"));
    assert_eq!(policy.second_factor, None, "inherits the default");
    assert!(!conn.user("u1").unwrap().unwrap().second_factor);
    assert!(conn.second_factor("u1").unwrap().is_none());

    let record = SecondFactorRecord {
        user_id: "u1".into(),
        secret: vec![7; 20],
        created_at: 5,
        enrolled_at: None,
        last_step: None,
    };
    assert!(conn.begin_second_factor(&record).unwrap());
    assert!(!conn.accept_second_factor_step("u1", 3).unwrap(), "pending");
    assert!(conn
        .enrol_second_factor("u1", 6, 3, &[[1; 32], [2; 32]])
        .unwrap());
    assert!(conn.user("u1").unwrap().unwrap().second_factor);
    assert!(!conn.begin_second_factor(&record).unwrap(), "enrolled");
    assert!(
        !conn.accept_second_factor_step("u1", 3).unwrap(),
        "replayed"
    );
    assert!(conn.accept_second_factor_step("u1", 4).unwrap());
    assert!(conn.use_recovery_code("u1", &[1; 32], 9).unwrap());
    assert!(!conn.use_recovery_code("u1", &[1; 32], 9).unwrap(), "used");
    assert_eq!(conn.recovery_codes_left("u1").unwrap(), 1);
    assert!(conn.delete_second_factor("u1").unwrap());
    assert_eq!(conn.recovery_codes_left("u1").unwrap(), 0);
}

#[test]
fn a_database_of_the_schema_before_webhooks_takes_webhooks_and_their_queue() {
    use crate::domain::records::{NewWebhookDelivery, WebhookRecord};
    use crate::domain::storage::{WebhookReads, WebhookWrites};
    let before = migrations()
        .iter()
        .position(|m| m.contains("CREATE TABLE webhooks"))
        .expect("the webhooks migration");
    let mut conn = at_schema(
        before,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);",
    );
    migrate(&mut conn).unwrap();
    let webhook = WebhookRecord {
        id: "w1".into(),
        org_id: Some("o1".into()),
        org_name: None,
        url: "https://hooks.example.org/".into(),
        events: vec!["token.expiring".into(), "token.revoke".into()],
        expiring_days: Some(7),
        secret: vec![1, 2, 3],
        created_at: 10,
        created_by: "cli:root".into(),
        cursor: 0,
    };
    conn.insert_webhook(&webhook).unwrap();
    let read = conn.webhooks(Some("o1")).unwrap().remove(0);
    assert_eq!(read.org_name.as_deref(), Some("acme"));
    assert_eq!(read.events, webhook.events);
    assert!(conn.webhooks(Some("o2")).unwrap().is_empty());
    let delivery = |id: &str, token: &str| NewWebhookDelivery {
        id: id.into(),
        webhook_id: "w1".into(),
        event_type: "token.expiring".into(),
        event_id: id.into(),
        token_id: Some(token.into()),
        body: "{}".into(),
        created_at: 10,
    };
    assert!(conn
        .insert_webhook_delivery(&delivery("d1", "t1"), 10)
        .unwrap());
    assert!(
        !conn
            .insert_webhook_delivery(&delivery("d2", "t1"), 10)
            .unwrap(),
        "token.expiring once per token"
    );
    assert!(!conn.webhook_delivery_due(9).unwrap());
    let claimed = conn.claim_due_webhook_deliveries(10, 300, 10).unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        conn.claim_due_webhook_deliveries(10, 300, 10)
            .unwrap()
            .is_empty(),
        "claimed"
    );
    conn.record_webhook_failure("d1", 11, Some(41), Some(503), "answered 503")
        .unwrap();
    assert!(!conn.webhook_delivery_due(40).unwrap());
    assert!(conn.webhook_delivery_due(41).unwrap());
    conn.record_webhook_delivered("d1", 41, 200).unwrap();
    let shown = conn.webhook_deliveries("w1", 10).unwrap().remove(0);
    assert_eq!((shown.attempts, shown.delivered_at), (2, Some(41)));
    assert!(conn.delete_webhook("w1").unwrap());
    assert!(
        conn.webhook_deliveries("w1", 10).unwrap().is_empty(),
        "cascade"
    );
}

#[test]
fn a_database_of_schema_17_keeps_its_tokens_and_policies_and_replaces_a_token_once() {
    use crate::domain::storage::{TokenReads, TokenWrites};
    let mut conn = at_schema(
        17,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at, expires_at)
             VALUES ('t1', zeroblob(32), 'u1', 'ci', 1, 5000);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t2', randomblob(32), 'u1', 'ci', 100);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t3', randomblob(32), 'u1', 'other', 100);
         INSERT INTO token_policies (org_id, max_ttl) VALUES ('o1', '90days');",
    );
    migrate(&mut conn).unwrap();
    let policy = conn.token_policy("o1").unwrap().unwrap();
    assert_eq!(policy.max_ttl.as_deref(), Some("90days"));
    assert_eq!(policy.max_rotation_grace, None, "inherits the default");
    // With a grace: the expiry comes forward, the token stays unrevoked.
    assert!(conn.replace_api_token("t1", "t2", 1100, 100).unwrap());
    let token = conn.api_token_by_digest(&[0; 32]).unwrap().unwrap();
    assert_eq!((token.expires_at, token.revoked_at), (Some(1100), None));
    assert!(
        !conn.replace_api_token("t1", "t3", 1100, 100).unwrap(),
        "replaced once"
    );
    // Without one: revoked at once, its expiry kept.
    assert!(conn.replace_api_token("t2", "t3", 200, 200).unwrap());
    let revoked: (Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT revoked_at, expires_at FROM api_tokens WHERE id = 't2'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(revoked, (Some(200), None));
}

#[test]
fn a_database_of_schema_17_keeps_its_tokens_unbound_and_gains_network_bindings() {
    use crate::domain::records::{ApiTokenFilter, ApiTokenRecord, TokenScope};
    use crate::domain::storage::{TokenReads, TokenWrites};
    // Schema 17 is the last before bindings, whatever number the
    // binding's own section is given.
    let mut conn = at_schema(
        17,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at)
             VALUES ('t1', zeroblob(32), 'u1', 'old', 1);
         INSERT INTO token_policies (org_id, max_ttl, second_factor)
             VALUES ('o1', '90days', 'admins');",
    );
    migrate(&mut conn).unwrap();
    let old = conn.api_token_by_digest(&[0; 32]).unwrap().unwrap();
    assert!(
        old.bound_cidrs.is_empty(),
        "a token from before: any network"
    );
    let policy = conn.token_policy("o1").unwrap().unwrap();
    assert_eq!(policy.second_factor.as_deref(), Some("admins"));
    assert_eq!(policy.require_bound_cidrs, None, "inherits the default");
    let mut required = policy.clone();
    required.require_bound_cidrs = Some(true);
    conn.set_token_policy("o1", &required).unwrap();
    assert_eq!(
        conn.token_policy("o1")
            .unwrap()
            .unwrap()
            .require_bound_cidrs,
        Some(true)
    );

    let bound = ApiTokenRecord {
        id: "t2".into(),
        digest: [2; 32],
        user_id: "u1".into(),
        name: "bound".into(),
        created_at: 2,
        expires_at: None,
        revoked_at: None,
        scope: TokenScope::AllRoles,
        openid: false,
        rotated_at: None,
        client_id: None,
        bound_cidrs: vec!["127.0.0.2/32".into(), "2001:db8::/32".into()],
    };
    conn.insert_api_token(&bound).unwrap();
    let read = conn.api_token_by_digest(&[2; 32]).unwrap().unwrap();
    assert_eq!(read.bound_cidrs, bound.bound_cidrs);
    let listed = conn.api_tokens(&ApiTokenFilter::default()).unwrap();
    let networks: Vec<(&str, &[String])> = listed
        .tokens
        .iter()
        .map(|t| (t.id.as_str(), t.bound_cidrs.as_slice()))
        .collect();
    assert_eq!(
        networks,
        [("t1", &[][..]), ("t2", &bound.bound_cidrs[..])],
        "listings carry the binding"
    );
    // Under a policy requiring a binding, the unbound token is beyond it.
    let beyond = conn.tokens_beyond("o1", i64::MAX, false, true, 3).unwrap();
    assert_eq!(
        beyond.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1"]
    );
    assert!(conn
        .tokens_beyond("o1", i64::MAX, false, false, 3)
        .unwrap()
        .is_empty());
}

#[test]
fn a_database_of_schema_20_keeps_its_sessions_and_shares_dpop_proofs_and_pending_logins() {
    use crate::domain::records::PendingLogin;
    use crate::domain::storage::{
        SecondFactorReads, SecondFactorWrites, SessionReads, TokenReads, TokenWrites,
    };
    let mut conn = at_schema(
        20,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 1);
         INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ('s1', 'u1', 1, 9999);
         INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ('j1', 9999);",
    );
    migrate(&mut conn).unwrap();
    assert!(conn.session("s1").unwrap().is_some());
    assert!(conn.access_token_revoked("j1").unwrap());

    assert!(conn.record_dpop_proof(&[9; 32], 100).unwrap());
    assert!(!conn.record_dpop_proof(&[9; 32], 100).unwrap(), "replayed");
    let login = PendingLogin {
        handle_digest: [4; 32],
        user_id: "u1".into(),
        name: "alice@acme".into(),
        org_name: "acme".into(),
        source: "127.0.0.1".into(),
        expires_at: 300,
    };
    conn.insert_pending_login(&login).unwrap();
    assert_eq!(conn.pending_login(&[4; 32]).unwrap(), Some(login));
    assert!(conn.use_pending_login(&[4; 32], 10).unwrap());
    assert!(!conn.use_pending_login(&[4; 32], 10).unwrap(), "used once");
}

#[test]
fn a_database_of_schema_21_keeps_its_leaked_tokens_and_takes_their_notices() {
    use crate::domain::records::NewLeakNotice;
    use crate::domain::storage::{LeakNoticeWrites, TokenReads};
    let mut conn = at_schema(
        21,
        "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ('o1', 'acme', 0, 1);
         INSERT INTO users (id, org_id, name, password_hash, email, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 'alice@example.org', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at, revoked_at)
             VALUES ('t1', zeroblob(32), 'u1', 'ci', 1, 5);",
    );
    migrate(&mut conn).unwrap();
    assert_eq!(
        conn.api_token("t1").unwrap().and_then(|t| t.revoked_at),
        Some(5)
    );
    conn.insert_leak_notice(&NewLeakNotice {
        token_id: "t1".into(),
        email: "alice@example.org".into(),
        reported_at: 5,
        url: None,
        source: Some("scanner".into()),
    })
    .unwrap();
    let due = conn.claim_due_leak_notices(10, 70, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].token_name.as_str(), due[0].org_name.as_str()),
        ("ci", "acme")
    );
}

#[test]
fn a_database_of_every_earlier_schema_migrates_to_the_latest() {
    for version in 1..migrations().len() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &migrations()[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        migrate(&mut conn).unwrap_or_else(|e| panic!("from schema {version}: {e}"));
        let reached: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(reached as usize, migrations().len(), "from {version}");
        let integrity: String = conn
            .pragma_query_value(None, "integrity_check", |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "from schema {version}");
    }
}

#[test]
fn a_missing_file_is_not_created_by_open_existing() {
    let path = std::env::temp_dir().join(format!("tokend-none-{}.db", std::process::id()));
    assert!(matches!(
        SqliteDatabase::open_existing(&path),
        Err(StoreError::Missing(_))
    ));
    assert!(!path.exists());
}

#[test]
fn open_existing_leaves_a_file_without_a_tokend_database_untouched() {
    let dir = std::env::temp_dir().join(format!("tokend-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        SqliteDatabase::open_existing(&empty),
        Err(StoreError::NotTokend)
    ));
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0, "still empty");
    assert!(!dir.join("empty.db-wal").exists(), "no WAL was made");

    // Another program's database is not migrated either.
    let other = dir.join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    assert!(matches!(
        SqliteDatabase::open_existing(&other),
        Err(StoreError::NotTokend)
    ));

    // A tokend database opens, also while another handle holds it
    // (its schema may be in the WAL alone).
    let live = dir.join("live.db");
    let first = SqliteDatabase::create_or_open(&live).unwrap();
    let _conn = first.connect().unwrap();
    assert!(SqliteDatabase::open_existing(&live).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
