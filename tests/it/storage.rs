//! What ends up on disk and in logs: after creating tokens (API and CLI),
//! exchanging them, logging in and revoking, the raw bytes of the database
//! file and its `-wal`/`-shm` files hold no token secret (not even a
//! 12-character piece of one) and no password, both while the server runs
//! and after shutdown; the server's output holds no secret, password or
//! access token; and data, signing key and issued access tokens survive a
//! restart.

use std::path::Path;

use crate::common::*;

fn read_db_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = format!("{}{}", db.display(), suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, bytes));
        }
    }
    assert!(
        !out.is_empty() && !out[0].1.is_empty(),
        "database file exists at {}",
        db.display()
    );
    out
}

fn assert_files_clean(db: &Path, secrets: &[String], passwords: &[&str], when: &str) {
    let files = read_db_files(db);
    for (path, bytes) in &files {
        for sec in secrets {
            assert_no_secret(bytes, sec, &format!("{when}: {path}"));
        }
        for pw in passwords {
            assert!(
                !contains_bytes(bytes, pw.as_bytes()),
                "{when}: {path} contains the password {pw:?}"
            );
        }
    }
}

#[test]
fn database_files_never_hold_secrets_or_passwords() {
    let mut srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let admin = srv.admin_login();
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (id, sec) = srv.create_token(
            &jwt,
            &format!("api-{i}"),
            Some(if i % 2 == 0 { "30m" } else { "never" }),
        );
        ids.push(id);
        secrets.push(sec);
    }
    let (sys_id, sys_sec) = srv.create_token(&admin, "sys", Some("90d"));
    let _ = sys_id;
    secrets.push(sys_sec.clone());
    for i in 0..2 {
        let (sec, _) = srv.cli_token_create(&alice, &format!("cli-{i}"), Some("30m"));
        secrets.push(sec);
    }
    for sec in &secrets[..4] {
        srv.exchange_authorize(sec).assert_status(200, "authorize");
        srv.exchange_tenant("acme", sec)
            .assert_status(200, "tenant");
    }
    srv.exchange_provider(&sys_sec)
        .assert_status(200, "provider");
    // secrets[5] is "cli-0"; "cli-1" stays unused.
    srv.exchange_tenant("acme", &secrets[5])
        .assert_status(200, "cli token");
    srv.revoke(&jwt, &ids[0]).assert_status(204, "revoke");
    srv.exchange_authorize(&secrets[0])
        .assert_status(400, "revoked");
    // The last-use stamps reached the database.
    let stamped = eventually(std::time::Duration::from_secs(3), || {
        srv.list_tokens(&jwt)
            .iter()
            .all(|t| t["name"] == "cli-1" || t["last_used_at"].is_string())
            .then_some(())
    });
    assert!(stamped.is_some(), "last use stamped");

    let passwords = [ADMIN_PASSWORD, USER_PASSWORD];
    assert_files_clean(&srv.db, &secrets, &passwords, "while running");

    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}");
    assert_files_clean(&srv.db, &secrets, &passwords, "after shutdown");
}

#[test]
fn server_output_never_holds_secrets() {
    let mut srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let (id, sec) = srv.create_token(&jwt, "logged?", Some("30m"));
    let access = srv.access_token(&sec);
    srv.session_info(&access)
        .assert_status(200, "use access token");
    srv.exchange_provider(&sec)
        .assert_status(400, "wrong endpoint");
    srv.exchange_authorize(&flip_char(&sec, 64))
        .assert_status(400, "bad checksum");
    srv.login_response(&alice, "Wr0ng-but-secret-pw", false)
        .assert_status(401, "bad login");
    srv.revoke(&jwt, &id).assert_status(204, "revoke");
    srv.exchange_authorize(&sec).assert_status(400, "revoked");
    srv.session_info(&access)
        .assert_status(401, "revoked access");
    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}");

    let log = srv.log();
    assert_no_secret(log.as_bytes(), &sec, "server log");
    assert_no_secret(
        log.as_bytes(),
        &flip_char(&sec, 64),
        "server log (mistyped token)",
    );
    for pw in [ADMIN_PASSWORD, USER_PASSWORD, "Wr0ng-but-secret-pw"] {
        assert!(!log.contains(pw), "server log contains password {pw:?}");
    }
    for tok in [&access, &jwt] {
        let sig = tok.rsplit('.').next().unwrap();
        assert!(!log.contains(sig), "server log contains an access token");
    }
}

#[test]
fn data_and_signing_key_survive_a_restart() {
    let mut srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let (id, sec) = srv.create_token(&jwt, "durable", Some("never"));
    let access = srv.access_token(&sec);
    let jwks_before = srv.get("/.well-known/jwks.json", &[]).json();

    srv.restart();

    assert_eq!(
        srv.get("/.well-known/jwks.json", &[]).json(),
        jwks_before,
        "same signing key"
    );
    srv.session_info(&access)
        .assert_status(200, "access token issued before the restart");
    let r = srv.exchange_tenant("acme", &sec);
    r.assert_status(200, "API token still exchanges");
    let jwt = srv.user_login(&alice);
    let list = srv.list_tokens(&jwt);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());
    srv.login(ADMIN, ADMIN_PASSWORD, true);

    srv.revoke(&jwt, &id)
        .assert_status(204, "revoke after restart");
    srv.restart();
    srv.exchange_authorize(&sec)
        .assert_oauth_error("invalid_grant", "revocation survives a restart");
    srv.session_info(&access)
        .assert_bearer_401("revoked stays revoked");
}
