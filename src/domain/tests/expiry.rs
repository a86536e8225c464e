//! Lifetimes on the clock the tests move: API tokens, access tokens and
//! sessions end at their second, without sleeping.

use super::*;

fn an_api_token_expires_at_its_lifetime_by_the_clock(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            new_token("ci", Some("30m")),
            None,
        )
        .unwrap();
    assert_eq!(created.expires_at, Some(START + 1800));
    let secret = created.secret.reveal().to_string();

    f.clock.advance(1799);
    let issued = f
        .authority
        .exchange_api_token(
            &secret,
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait)
        .unwrap();
    assert_eq!(issued.expires_in, 1, "capped by the API token's expiry");

    f.clock.advance(1);
    let expired = f
        .authority
        .exchange_api_token(
            &secret,
            ExchangeAudience::AnyOrg,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait);
    assert!(matches!(
        expired,
        Err(DomainError::InvalidGrant("the API token has expired"))
    ));
    let caller = f.authority.authenticate(&issued.access_token, HOME);
    assert!(matches!(caller, Err(DomainError::Unauthenticated(_))));
}

fn a_remembered_access_token_stops_working_the_moment_its_session_ends(backend: Backend) {
    let mut f = Fixture::new(backend);
    let session = f.admin_login(HOME).unwrap();
    // Checked twice: the second time from the verified-token cache.
    let caller = f
        .authority
        .authenticate(&session.access_token, HOME)
        .unwrap();
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());
    f.authority.logout(&caller).unwrap();
    assert!(matches!(
        f.authority.authenticate(&session.access_token, HOME),
        Err(DomainError::Unauthenticated(_))
    ));
}

fn sessions_end_at_their_lifetime(backend: Backend) {
    let mut f = Fixture::new(backend);
    let session = f.admin_login(HOME).unwrap();
    assert_eq!(session.expires_at, START + 1800);
    f.clock.advance(1799);
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());
    f.clock.advance(1);
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_err());
}

fn tokens_made_under_a_clock_set_ahead_stop_when_it_is_set_right(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.clock.jump(400 * day);
    let created = f.admin_token("ahead", "30d");
    let session = f.admin_login(HOME).unwrap();
    assert!(f
        .authority
        .authenticate(&session.access_token, HOME)
        .is_ok());

    f.clock.jump(-400 * day);
    assert!(
        matches!(
            f.authority.authenticate(&session.access_token, HOME),
            Err(DomainError::Unauthenticated(_))
        ),
        "an access token issued 400 days ahead would live 400 days"
    );
    let exchanged = f
        .authority
        .exchange_api_token(
            created.secret.reveal(),
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait);
    assert!(matches!(
        exchanged,
        Err(DomainError::InvalidGrant(
            "the API token was made at a time still to come"
        ))
    ));
}

on_every_backend!(
    an_api_token_expires_at_its_lifetime_by_the_clock,
    a_remembered_access_token_stops_working_the_moment_its_session_ends,
    sessions_end_at_their_lifetime,
    tokens_made_under_a_clock_set_ahead_stop_when_it_is_set_right,
);
