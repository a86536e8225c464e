//! Expiry: an expired API token is refused at every exchange endpoint with
//! its own `invalid_grant` description; an access token never outlives the
//! API token it came from and is refused once past its `exp`; a session whose
//! end time has passed no longer authenticates.
//!
//! The shortest lifetime the API accepts is one minute, so these tests move
//! the clock the only way that needs no waiting: they back-date the stored
//! expiry in the database file, as time passing would. The server is running
//! meanwhile; SQLite's locking makes this safe.

use std::thread;
use std::time::Duration;

use crate::support::*;

/// Sets the stored expiry of one API token or session, as the passing of time would.
fn set_expiry(srv: &TestServer, table: &str, id: &str, expires_at: i64) {
    let conn = rusqlite::Connection::open(srv.db()).expect("open database");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let changed = conn
        .execute(
            &format!("UPDATE {table} SET expires_at = ?1 WHERE id = ?2"),
            rusqlite::params![expires_at, id],
        )
        .expect("update expiry");
    assert_eq!(changed, 1, "{table} row {id} exists");
}

#[test]
fn an_expired_api_token_is_refused_at_every_exchange_endpoint() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let jwt = api.user_login("alice@acme").access_token;
    let token = api.create_token(&jwt, "soon-gone", Some("30m"));
    let (id, secret) = (&token.id, &token.secret);
    api.try_exchange_tenant("acme", secret)
        .assert_status(200, "still valid");

    set_expiry(&srv, "api_tokens", id, now_secs() - 1);

    for (what, r) in [
        ("authorize", api.try_exchange_authorize(secret)),
        ("tenant", api.try_exchange_tenant("acme", secret)),
    ] {
        let description = r.assert_oauth_error("invalid_grant", what);
        assert_eq!(description, EXPIRED, "{what}");
    }
    // The expired token is still listed (with its past expiry), not hidden.
    let listed = api.list_tokens(&jwt);
    assert!(listed.iter().any(|t| &t.id == id), "{listed:?}");
}

#[test]
fn an_access_token_never_outlives_its_api_token_and_is_refused_after_exp() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "short", Some("30m"));
    let (id, secret) = (&token.id, &token.secret);
    set_expiry(&srv, "api_tokens", id, now_secs() + 2);

    let r = api.try_exchange_provider(secret);
    r.assert_status(200, "exchange of a token about to expire");
    let expires_in = r.json()["expires_in"].as_i64().expect("expires_in");
    assert!(
        (0..=2).contains(&expires_in),
        "expires_in capped by the API token's expiry: {}",
        r.describe()
    );
    let access = r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let (_, claims) = jwt_parts(&access);
    assert!(claims["exp"].as_i64().expect("exp") <= now_secs() + 2);

    thread::sleep(Duration::from_millis(3200));
    api.get_bearer("/api/session", &access)
        .assert_bearer_401("access token past its exp");
    api.try_exchange_provider(secret)
        .assert_oauth_error("invalid_grant", "API token past its expiry");
}

#[test]
fn a_session_past_its_end_no_longer_authenticates() {
    let srv = TestServer::start();
    let api = srv.api();
    let session = api.admin_login();
    let jwt = &session.access_token;
    api.get_bearer("/api/session", jwt)
        .assert_status(200, "fresh session");

    set_expiry(&srv, "sessions", &session.id, now_secs() - 1);

    api.get_bearer("/api/session", jwt)
        .assert_bearer_401("session past its end, JWT not yet expired");
}
