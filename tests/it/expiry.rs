//! Expiry, by a clock the test sets: an expired API token is refused at
//! every exchange endpoint with its own `invalid_grant` description; an
//! access token never outlives the API token it came from and is refused
//! once past its `exp`; a session whose end has passed no longer
//! authenticates.
//!
//! These run the service in the test's own process — the same `Server`,
//! real HTTP on a loopback port, a real SQLite file — with a `ManualClock`
//! in place of the system clock, so time moves by exactly what a test says
//! and nothing sleeps or edits the database.

use crate::support::*;

const ACCESS_TTL: i64 = IN_PROCESS_ACCESS_TTL;

#[test]
fn an_expired_api_token_is_refused_at_every_exchange_endpoint() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "soon-gone", Some("30m"));
    api.exchange_provider(&token.secret);

    service.advance(30 * 60 - 1);
    api.exchange_authorize(&token.secret);
    service.advance(1);

    for (what, r) in [
        ("authorize", api.try_exchange_authorize(&token.secret)),
        ("provider", api.try_exchange_provider(&token.secret)),
    ] {
        let description = r.assert_oauth_error("invalid_grant", what);
        assert_eq!(description, EXPIRED, "{what}");
    }
    // The expired token is still listed, with its past expiry.
    let admin = api.admin_login().access_token;
    let listed = api.list_tokens(&admin);
    let expired = listed
        .iter()
        .find(|t| t.id == token.id)
        .expect("the expired token is listed");
    let expires_at = parse_rfc3339(expired.expires_at.as_deref().expect("an expiry"));
    assert_eq!(expires_at, service.now());
}

#[test]
fn an_access_token_never_outlives_its_api_token_and_is_refused_after_exp() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "short", Some("30m"));

    let fresh = api.exchange_provider(&token.secret);
    assert_eq!(
        fresh.expires_in, ACCESS_TTL,
        "a full lifetime while it fits"
    );

    service.advance(29 * 60);
    let last = api.exchange_provider(&token.secret);
    assert_eq!(last.expires_in, 60, "capped by the API token's expiry");
    let (_, claims) = jwt_parts(&last.access_token);
    assert_eq!(claims["exp"].as_i64(), Some(service.now() + 60));

    service.advance(59);
    api.try_session_info(&last.access_token)
        .assert_status(200, "a second before its exp");
    service.advance(1);
    api.try_session_info(&last.access_token)
        .assert_bearer_401("access token at its exp");
    api.try_exchange_provider(&token.secret)
        .assert_oauth_error("invalid_grant", "API token at its expiry");
}

#[test]
fn a_session_past_its_end_no_longer_authenticates() {
    let service = InProcess::start();
    let api = service.api();
    let session = api.admin_login();
    assert_eq!(
        parse_rfc3339(&session.expires_at),
        service.now() + ACCESS_TTL
    );
    service.advance(ACCESS_TTL - 1);
    api.try_session_info(&session.access_token)
        .assert_status(200, "a second before the session ends");
    service.advance(1);
    api.try_session_info(&session.access_token)
        .assert_bearer_401("session at its end");
}

#[test]
fn a_never_expiring_token_outlasts_years() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "forever", Some("never"));
    service.advance(10 * 365 * 24 * 3600);
    let exchanged = api.exchange_authorize(&token.secret);
    assert_eq!(exchanged.expires_in, ACCESS_TTL);
}
