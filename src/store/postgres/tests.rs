//! The PostgreSQL backend's own tests: its schema and migrations, its
//! connections and its writer. What it shares with SQLite is in the
//! backend contract (`store::contract`).

use super::*;
use crate::domain::storage::{Database, StoreError};

#[test]
fn names_fold_ascii_case_only_as_sqlite_nocase_does() {
    let conn = test_conn();
    let duplicate = conn.execute(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, 0), ($3, $4, 0)",
        &[&"a", &"Acme", &"b", &"ACME"],
    );
    assert!(
        matches!(duplicate, Err(StoreError::Duplicate)),
        "{duplicate:?}"
    );
    conn.execute(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, 0), ($3, $4, 0)",
        &[&"c", &"Émile", &"d", &"émile"],
    )
    .unwrap();
}

#[test]
fn a_new_database_gets_the_schema_once_and_a_foreign_one_is_refused() {
    let url = test_database_url();
    assert_eq!(
        PgDatabase::migrate(&url, None).unwrap(),
        (0, database::known_version())
    );
    assert_eq!(
        PgDatabase::migrate(&url, None).unwrap(),
        (database::known_version(), database::known_version()),
        "migrating again changes nothing"
    );
    PgDatabase::open(&url, None).unwrap();

    let foreign = test_database_url();
    let io = IoRuntime::start().unwrap();
    let conn = PgConn::connect(&io.connector(foreign.parse().unwrap(), None).unwrap()).unwrap();
    conn.batch_execute("CREATE TABLE invoices (id BIGINT)")
        .unwrap();
    assert!(matches!(
        PgDatabase::open(&foreign, None),
        Err(StoreError::NotTokend)
    ));
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let url = test_database_url();
    PgDatabase::migrate(&url, None).unwrap();
    let io = IoRuntime::start().unwrap();
    let conn = PgConn::connect(&io.connector(url.parse().unwrap(), None).unwrap()).unwrap();
    conn.batch_execute("UPDATE schema_version SET version = version + 1")
        .unwrap();
    assert!(matches!(
        PgDatabase::open(&url, None),
        Err(StoreError::TooNew { .. })
    ));
}

#[test]
fn nodes_starting_together_create_the_schema_once() {
    let url = test_database_url();
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgDatabase::open(&url, None).map(|_| ()))
        })
        .collect();
    for node in nodes {
        node.join().unwrap().unwrap();
    }
}

#[test]
fn writes_commit_through_the_writer_and_reads_see_them() {
    let url = test_database_url();
    let database = PgDatabase::open(&url, None).unwrap();
    let store = database.connect().unwrap();
    store
        .write(|tx| tx.record_login_unlock("alice@acme", 7))
        .unwrap();
    assert_eq!(
        store.reads().login_unlocked_at("alice@acme").unwrap(),
        Some(7)
    );
    let failed = store.write(|tx| {
        tx.record_login_unlock("bob@acme", 8)?;
        Err::<(), _>(StoreError::Failed("refused".into()))
    });
    assert!(failed.is_err());
    assert_eq!(store.reads().login_unlocked_at("bob@acme").unwrap(), None);
}

/// Ends every connection to `admin`'s database but its own, as an
/// admin's `pg_terminate_backend` or a server restart does.
fn end_the_other_connections(admin: &PgConn) {
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
}

#[test]
fn a_dropped_connection_is_made_again() {
    let url = test_database_url();
    let database = PgDatabase::open(&url, None).unwrap();
    let store = database.connect().unwrap();
    let reads = store.reads();
    reads.login_unlocked_at("x").unwrap();
    let io = IoRuntime::start().unwrap();
    let admin = PgConn::connect(&io.connector(url.parse().unwrap(), None).unwrap()).unwrap();
    end_the_other_connections(&admin);
    // The statement that finds the connection gone may fail; the next runs.
    let _ = reads.login_unlocked_at("x");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let _ = reads.login_unlocked_at("x");
    assert_eq!(reads.login_unlocked_at("x").unwrap(), None);
}

/// A writer whose connection drops mid-transaction must not run the rest
/// of its batch on a new connection, where each statement would commit
/// alone: the connection is made again only once the transaction ended.
#[test]
fn a_connection_lost_mid_transaction_is_not_made_again_until_it_ends() {
    let url = test_database_url();
    let io = IoRuntime::start().unwrap();
    let connector = io.connector(url.parse().unwrap(), None).unwrap();
    let (writer, admin) = (
        PgConn::connect(&connector).unwrap(),
        PgConn::connect(&connector).unwrap(),
    );
    admin.batch_execute("CREATE TABLE kept (n BIGINT)").unwrap();
    writer.batch_execute("BEGIN").unwrap();
    writer.set_in_transaction(true);
    writer.execute("INSERT INTO kept VALUES (1)", &[]).unwrap();
    end_the_other_connections(&admin);
    for _ in 0..3 {
        let refused = writer.execute("INSERT INTO kept VALUES (2)", &[]);
        assert!(
            matches!(refused, Err(StoreError::Unreachable(_))),
            "{refused:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    writer.set_in_transaction(false);
    let count = writer.query_one("SELECT count(*) FROM kept", &[]).unwrap();
    assert_eq!(
        count.get::<_, i64>(0),
        0,
        "nothing of the transaction stands"
    );
}

#[test]
fn text_with_a_nul_is_refused_as_the_clients_mistake_not_a_failure() {
    use crate::domain::storage::AccountReads;
    let conn = test_conn();
    let found = conn.org_by_name("Ac\0me");
    assert!(matches!(found, Err(StoreError::Unstorable(_))), "{found:?}");
    // The server's words reach the log for anything else.
    let broken = conn.query("SELECT * FROM no_such_table", &[]);
    let Err(StoreError::Failed(why)) = broken else {
        panic!("{broken:?}")
    };
    assert!(why.contains("no_such_table"), "{why}");
}

/// A database as schema `version` left it (the baseline and the
/// migrations up to it), holding `rows`: its URL and a connection to it.
fn at_schema(version: i64, rows: &str) -> (String, PgConn) {
    use std::sync::OnceLock;
    static IO: OnceLock<IoRuntime> = OnceLock::new();
    let url = test_database_url();
    let io = IO.get_or_init(|| IoRuntime::start().unwrap());
    let conn = PgConn::connect(&io.connector(url.parse().unwrap(), None).unwrap()).unwrap();
    let ((baseline_version, baseline), later) = database::sections();
    conn.batch_execute(baseline).unwrap();
    for sql in &later[..(version - baseline_version) as usize] {
        conn.batch_execute(sql).unwrap();
    }
    conn.execute(
        "INSERT INTO schema_version (id, version) VALUES (1, $1)",
        &[&version],
    )
    .unwrap();
    conn.batch_execute(rows).unwrap();
    (url, conn)
}

#[test]
fn a_database_of_every_earlier_schema_migrates_to_the_latest() {
    let ((baseline, _), _) = database::sections();
    let known = database::known_version();
    for version in baseline..known {
        let (url, _) = at_schema(version, "");
        assert_eq!(
            PgDatabase::migrate(&url, None).unwrap(),
            (version, known),
            "from schema {version}"
        );
        PgDatabase::open(&url, None).unwrap();
    }
}

#[test]
fn a_database_of_schema_21_keeps_its_leaked_tokens_and_takes_their_notices() {
    use crate::domain::records::NewLeakNotice;
    use crate::domain::storage::{LeakNoticeWrites, TokenReads};
    let (url, conn) = at_schema(
        21,
        "INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'acme', 1);
         INSERT INTO users (id, org_id, name, password_hash, email, created_at)
             VALUES ('u1', 'o1', 'alice', 'hash', 'alice@example.org', 1);
         INSERT INTO api_tokens (id, digest, user_id, name, created_at, revoked_at)
             VALUES ('t1', decode(repeat('00', 32), 'hex'), 'u1', 'ci', 1, 5);",
    );
    assert_eq!(PgDatabase::migrate(&url, None).unwrap().0, 21);
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
