//! API tokens: what a derived access token may do, names, idempotent
//! creation, listings, reminders and network binding.

use super::*;

fn token_derived_access_is_view_only_and_sees_only_its_own_tokens(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            new_token("ci", None),
            None,
        )
        .unwrap();
    let issued = f
        .authority
        .exchange_api_token(
            created.secret.reveal(),
            ExchangeAudience::Provider,
            &ExchangeRequest::default(),
            HOME,
        )
        .and_then(Committing::wait)
        .unwrap();
    let derived = f
        .authority
        .authenticate(&issued.access_token, HOME)
        .unwrap();
    assert_eq!(derived.api_token_id(), Some(created.id.as_str()));
    assert!(!derived.rights.contains(Right::TokenManageAll));
    let page = PageRequest::new(1, 25).unwrap();
    assert!(f
        .authority
        .all_visible_api_tokens(&admin, &InventoryQuery::default(), page)
        .is_ok());
    assert!(matches!(
        f.authority
            .all_visible_api_tokens(&derived, &InventoryQuery::default(), page),
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(
        f.authority
            .own_api_tokens(&derived, None, page)
            .unwrap()
            .total,
        1
    );
    assert!(matches!(
        f.authority.create_api_token(
            Actor::Caller(&derived),
            &derived.account.user_id,
            new_token("more", None),
            None
        ),
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        f.authority
            .revoke_api_token(Actor::Caller(&derived), &created.id),
        Err(DomainError::Forbidden(_))
    ));
}

fn names_with_bidi_overrides_are_refused(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let spoof = f.authority.create_api_token(
        Actor::Caller(&admin),
        &admin.account.user_id,
        new_token("invoice\u{202e}fdp.exe", None),
        None,
    );
    assert!(matches!(spoof, Err(DomainError::Invalid(_))));
    let user = f.authority.add_user(
        Actor::Operator,
        NewAccount {
            org_name: PROVIDER_ORG,
            user_name: "eve\u{200b}",
            password: PASSWORD,
            role_names: &[],
            email: None,
            display_name: None,
        },
    );
    assert!(matches!(user, Err(DomainError::Invalid(_))));
    assert!(f
        .authority
        .api_tokens(&TokenQuery::default())
        .unwrap()
        .is_empty());
}

fn the_same_request_sent_again_makes_no_second_token(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let form = |request_id| NewApiToken {
        request_id: Some(request_id),
        ..new_token("ci", None)
    };
    f.authority
        .create_api_token(by, &owner, form("r1"), None)
        .unwrap();
    let again = f.authority.create_api_token(by, &owner, form("r1"), None);
    assert!(matches!(again, Err(DomainError::Conflict(_))), "{again:?}");
    f.authority
        .create_api_token(by, &owner, form("r2"), None)
        .unwrap();
    let page = PageRequest::new(1, 10).unwrap();
    let listed = f.authority.own_api_tokens(&admin, None, page).unwrap();
    assert_eq!(listed.total, 2, "one token per request");
}

fn a_token_listing_by_state_splits_live_from_expired_and_revoked(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let make = |f: &mut Fixture, name: &'static str, ttl: &'static str| {
        f.authority
            .create_api_token(by, &owner, new_token(name, Some(ttl)), None)
            .unwrap()
            .id
    };
    make(&mut f, "short", "30m");
    make(&mut f, "long", "never");
    let gone = make(&mut f, "gone", "never");
    f.authority.revoke_api_token(by, &gone).unwrap();
    f.clock.advance(31 * 60);
    let admin = f.admin();
    let page = PageRequest::new(1, 10).unwrap();
    let names = |state| {
        let mut names: Vec<String> = f
            .authority
            .own_api_tokens_by_state(&admin, state, page)
            .unwrap()
            .tokens
            .into_iter()
            .map(|t| t.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(TokenState::Live), ["long"]);
    assert_eq!(names(TokenState::Inactive), ["gone", "short"]);
}

fn a_tokens_reminder_is_read_back_to_be_carried_over(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    let reminder = ReminderRequest {
        before: "7d",
        email: Some("ops@example.org"),
    };
    let with = f
        .authority
        .create_api_token(by, &owner, new_token("with", Some("30d")), Some(reminder))
        .unwrap();
    let without = f
        .authority
        .create_api_token(by, &owner, new_token("without", Some("30d")), None)
        .unwrap();
    assert_eq!(
        f.authority.reminder_of(by, &with.id).unwrap(),
        Some(("ops@example.org".to_string(), "604800s".to_string()))
    );
    assert_eq!(f.authority.reminder_of(by, &without.id).unwrap(), None);
}

fn the_inventory_sorts_by_expiry_and_splits_by_state(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let by = Actor::Caller(&admin);
    let owner = admin.account.user_id.clone();
    for (name, ttl) in [("late", "90d"), ("never", "never"), ("soon", "1d")] {
        f.authority
            .create_api_token(by, &owner, new_token(name, Some(ttl)), None)
            .unwrap();
    }
    let page = PageRequest::new(1, 10).unwrap();
    let query = InventoryQuery {
        state: Some(TokenState::Live),
        sort: TokenSort::Expires,
        ..InventoryQuery::default()
    };
    let names: Vec<String> = f
        .authority
        .all_visible_api_tokens(&admin, &query, page)
        .unwrap()
        .tokens
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["soon", "late", "never"],
        "soonest first, never last"
    );
    let inactive = InventoryQuery {
        state: Some(TokenState::Inactive),
        ..query
    };
    assert_eq!(
        f.authority
            .all_visible_api_tokens(&admin, &inactive, page)
            .unwrap()
            .total,
        0
    );
}

fn outside_its_networks_a_token_answers_as_an_unknown_one_even_once_expired(backend: Backend) {
    let mut f = Fixture::new(backend);
    let admin = f.admin();
    let home = HOME.to_string();
    let bound = [home.clone()];
    let created = f
        .authority
        .create_api_token(
            Actor::Caller(&admin),
            &admin.account.user_id,
            NewApiToken {
                bound_cidrs: &bound,
                ..new_token("ci", Some("30m"))
            },
            None,
        )
        .unwrap();
    let host_width = if HOME.is_ipv4() { 32 } else { 128 };
    assert_eq!(created.bound_cidrs, [format!("{home}/{host_width}")]);
    let secret = created.secret.reveal().to_string();
    let mut exchange = |client| {
        f.authority
            .exchange_api_token(
                &secret,
                ExchangeAudience::Provider,
                &ExchangeRequest::default(),
                client,
            )
            .and_then(Committing::wait)
            .map(|issued| issued.expires_in)
    };
    assert!(exchange(HOME).is_ok(), "from its network");
    assert!(matches!(
        exchange(ELSEWHERE),
        Err(DomainError::InvalidGrant(UNKNOWN))
    ));
    f.clock.advance(1800);
    assert!(
        matches!(
            exchange(HOME),
            Err(DomainError::InvalidGrant("the API token has expired"))
        ),
        "inside, the truth"
    );
    assert!(
        matches!(exchange(ELSEWHERE), Err(DomainError::InvalidGrant(UNKNOWN))),
        "outside, not even that it expired"
    );
}

const UNKNOWN: &str = "the API token is invalid or has been revoked";

on_every_backend!(
    token_derived_access_is_view_only_and_sees_only_its_own_tokens,
    names_with_bidi_overrides_are_refused,
    the_same_request_sent_again_makes_no_second_token,
    a_token_listing_by_state_splits_live_from_expired_and_revoked,
    a_tokens_reminder_is_read_back_to_be_carried_over,
    the_inventory_sorts_by_expiry_and_splits_by_state,
    outside_its_networks_a_token_answers_as_an_unknown_one_even_once_expired,
);
