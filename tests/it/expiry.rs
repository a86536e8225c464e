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

/// `jwt` checked with `jsonwebtoken` against the JWKS the service serves
/// now, as a resource server does; its expiry is checked by the caller.
fn verifies_against_the_jwks(api: &Client, jwt: &str) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let kid = jsonwebtoken::decode_header(jwt)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwks = api.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or("its key is not in the JWKS")?
        .clone();
    let key = DecodingKey::from_ec_components(str_field(&jwk, "x"), str_field(&jwk, "y"))
        .map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["sub"]);
    jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn a_rotated_key_is_published_before_it_signs_and_the_replaced_one_verifies_until_its_tokens_expire(
) {
    let service = InProcess::start();
    let api = service.api();
    let kids = |api: &Client| -> usize { api.jwks()["keys"].as_array().expect("keys").len() };
    let before = api.admin_login().access_token;
    let new_kid = service.rotate_signing_keys(600);
    // Published at once (an ES256 and an RS256 key beside the first two),
    // signing only after the delay.
    assert_eq!(kids(api), 4);
    assert!(api.jwks()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k["kid"] == new_kid.as_str()));
    let during = api.admin_login().access_token;
    assert_eq!(jwt_parts(&during).0["kid"], jwt_parts(&before).0["kid"]);
    service.advance(600);
    let after = api.admin_login().access_token;
    assert_eq!(
        jwt_parts(&after).0["kid"],
        new_kid.as_str(),
        "the new key signs"
    );

    // The old key still verifies what it signed, here and for a library.
    assert!(verifies_against_the_jwks(api, &before).is_ok());
    api.try_session_info(&before)
        .assert_status(200, "a token of the replaced key");
    assert_eq!(kids(api), 4);

    // Once every token it signed has expired (and a minute's grace), the
    // replaced key is gone: the JWKS drops it and its tokens are refused.
    service.advance(ACCESS_TTL + 61);
    assert_eq!(kids(api), 2);
    assert!(verifies_against_the_jwks(api, &before).is_err());
    api.try_session_info(&before)
        .assert_bearer_401("a token of a dropped key");
    let fresh = api.admin_login().access_token;
    assert!(verifies_against_the_jwks(api, &fresh).is_ok());
}
