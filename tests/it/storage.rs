//! What ends up on disk and in logs: after creating tokens (API and CLI),
//! exchanging them, logging in and revoking, the raw bytes of the database
//! file and its `-wal`/`-shm` files hold no token secret (not even a
//! 12-character piece of one) and no password, both while the server runs
//! and after shutdown; the server's output holds no secret, password or
//! access token; and data, signing key and issued access tokens survive a
//! restart.

use std::path::Path;

use crate::support::*;

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
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let jwt = api.user_login("alice@acme").access_token;
    let admin = api.admin_login().access_token;
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        let t = api.create_token(
            &jwt,
            &format!("api-{i}"),
            Some(if i % 2 == 0 { "30m" } else { "never" }),
        );
        ids.push(t.id);
        secrets.push(t.secret);
    }
    let sys_sec = api.create_token(&admin, "sys", Some("90d")).secret;
    secrets.push(sys_sec.clone());
    for i in 0..2 {
        let t = srv
            .cli()
            .token_create("alice@acme", &format!("cli-{i}"), Some("30m"));
        secrets.push(t.secret);
    }
    for sec in &secrets[..4] {
        api.try_exchange_authorize(sec)
            .assert_status(200, "authorize");
        api.try_exchange_tenant("acme", sec)
            .assert_status(200, "tenant");
    }
    api.try_exchange_provider(&sys_sec)
        .assert_status(200, "provider");
    // secrets[5] is "cli-0"; "cli-1" stays unused.
    api.try_exchange_tenant("acme", &secrets[5])
        .assert_status(200, "cli token");
    api.revoke_token(&jwt, &ids[0]);
    api.try_exchange_authorize(&secrets[0])
        .assert_status(400, "revoked");
    // The last-use stamps reached the database.
    let stamped = eventually(std::time::Duration::from_secs(3), || {
        api.list_tokens(&jwt)
            .iter()
            .all(|t| t.name == "cli-1" || t.last_used_at.is_some())
            .then_some(())
    });
    assert!(stamped.is_some(), "last use stamped");

    // Refusals are events too: neither a mistyped token nor a wrong
    // password reaches the disk with them.
    api.try_exchange_authorize(&flip_char(&secrets[1], 64))
        .assert_status(400, "bad checksum");
    api.try_login("alice@acme", "Wr0ng-but-secret-pw")
        .assert_status(401, "bad login");

    let passwords = [ADMIN_PASSWORD, USER_PASSWORD, "Wr0ng-but-secret-pw"];
    assert_files_clean(srv.db(), &secrets, &passwords, "while running");

    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}");
    assert_files_clean(srv.db(), &secrets, &passwords, "after shutdown");
}

#[test]
fn server_output_never_holds_secrets() {
    let mut srv = TestServer::start();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let jwt = api.user_login("alice@acme").access_token;
    let token = api.create_token(&jwt, "logged?", Some("30m"));
    let sec = &token.secret;
    let access = api.exchange_authorize(sec).access_token;
    api.try_session_info(&access)
        .assert_status(200, "use access token");
    api.try_exchange_provider(sec)
        .assert_status(400, "wrong endpoint");
    api.try_exchange_authorize(&flip_char(sec, 64))
        .assert_status(400, "bad checksum");
    api.try_login("alice@acme", "Wr0ng-but-secret-pw")
        .assert_status(401, "bad login");
    api.revoke_token(&jwt, &token.id);
    api.try_exchange_authorize(sec)
        .assert_status(400, "revoked");
    api.try_session_info(&access)
        .assert_status(401, "revoked access");
    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "clean exit: {st:?}");

    let log = srv.log();
    assert_no_secret(log.as_bytes(), sec, "server log");
    assert_no_secret(
        log.as_bytes(),
        &flip_char(sec, 64),
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
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let jwt = srv.api().user_login("alice@acme").access_token;
    let token = srv.api().create_token(&jwt, "durable", Some("never"));
    let access = srv.api().exchange_authorize(&token.secret).access_token;
    let jwks_before = srv.api().jwks();

    srv.restart();

    let api = srv.api();
    assert_eq!(api.jwks(), jwks_before, "same signing key");
    api.try_session_info(&access)
        .assert_status(200, "access token issued before the restart");
    api.try_exchange_tenant("acme", &token.secret)
        .assert_status(200, "API token still exchanges");
    let jwt = api.user_login("alice@acme").access_token;
    let list = api.list_tokens(&jwt);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, token.id);
    api.admin_login();

    api.try_revoke_token(&jwt, &token.id)
        .assert_status(204, "revoke after restart");
    srv.restart();
    let api = srv.api();
    api.try_exchange_authorize(&token.secret)
        .assert_oauth_error("invalid_grant", "revocation survives a restart");
    api.try_session_info(&access)
        .assert_bearer_401("revoked stays revoked");
}
