//! The audit trail's bounds (retention, size) and a clock that jumps:
//! nothing is pruned or revoked on a clock the trail doubts.

use super::*;

fn retention_prunes_only_events_past_their_age_and_says_so(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    f.clock.advance(300 * day);
    f.admin_login(HOME).unwrap();
    let year = Duration::from_secs(365 * day as u64);
    let mut pass = Authority::open(
        f.database.clone(),
        Settings {
            audit_retention: Some(year),
            ..settings()
        },
        ambient(&f.clock),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    let all = EventFilter {
        limit: 100,
        ..EventFilter::default()
    };
    let kinds = |authority: &Authority| -> Vec<String> {
        let events = authority.events_for_operator(None, all.clone()).unwrap();
        events.into_iter().map(|(_, e)| e.kind).collect()
    };
    assert_eq!(
        pass.apply_audit_retention().unwrap(),
        0,
        "nothing is a year old yet"
    );
    assert_eq!(
        kinds(&pass),
        ["session.login", "session.login", "system.initialize"]
    );

    f.clock.advance(100 * day);
    assert_eq!(
        pass.apply_audit_retention().unwrap(),
        2,
        "the first start and the first login"
    );
    assert_eq!(
        kinds(&pass),
        ["audit.prune", "session.login"],
        "newest first"
    );
    let prune = &pass.events_for_operator(None, all.clone()).unwrap()[0].1;
    assert_eq!(prune.properties["deleted"], 2);
    assert_eq!(prune.properties["operator"], "tokend");

    // Without a retention age nothing is ever pruned.
    f.clock.advance(1000 * day);
    assert_eq!(f.other_process().apply_audit_retention().unwrap(), 0);
}

fn with_retention(f: &Fixture) -> Authority {
    Authority::open(
        f.database.clone(),
        Settings {
            audit_retention: Some(Duration::from_secs(365 * 24 * 3600)),
            ..settings()
        },
        ambient(&f.clock),
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap()
}

fn event_count(authority: &Authority) -> usize {
    let all = EventFilter {
        limit: 1000,
        ..EventFilter::default()
    };
    authority.events_for_operator(None, all).unwrap().len()
}

fn a_clock_jumped_ahead_prunes_revokes_and_forgets_nothing_until_confirmed(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    let mut pass = with_retention(&f);
    let before = event_count(&pass);

    // 400 days ahead in an instant: the whole trail would be past its year.
    f.clock.jump(400 * day);
    for (what, outcome) in [
        ("retention", pass.apply_audit_retention()),
        ("idle revocation", pass.revoke_idle_tokens()),
        ("forgetting revocations", pass.forget_expired_revocations()),
    ] {
        match outcome {
            Err(DomainError::Unavailable(why)) => {
                assert!(why.contains("clock confirm"), "{what}: {why}")
            }
            other => panic!("{what} acted on a jumped clock: {other:?}"),
        }
    }
    assert_eq!(event_count(&pass), before, "nothing was pruned");

    // The admin sets the clock right and confirms it: the passes act again,
    // and there is nothing a year old.
    f.clock.jump(-400 * day);
    f.other_process().confirm_clock(Actor::Operator).unwrap();
    assert_eq!(pass.apply_audit_retention().unwrap(), 0);
    assert_eq!(pass.revoke_idle_tokens().unwrap(), 0);
    assert!(pass.forget_expired_revocations().is_ok());
}

fn a_start_far_past_the_trail_or_behind_it_is_doubted(backend: Backend) {
    let mut f = Fixture::new(backend);
    let day = 24 * 3600;
    f.admin_login(HOME).unwrap();
    // Started with the clock 400 days past the newest event.
    f.clock.jump(400 * day);
    let mut late = with_retention(&f);
    assert!(matches!(
        late.apply_audit_retention(),
        Err(DomainError::Unavailable(_))
    ));
    // A month of silence is believed: a service may be off that long.
    f.clock.jump(-400 * day);
    f.clock.advance(29 * day);
    assert!(with_retention(&f).apply_audit_retention().is_ok());
    // Started with the clock behind the trail.
    f.clock.jump(-30 * day);
    let mut early = with_retention(&f);
    assert!(matches!(
        early.revoke_idle_tokens(),
        Err(DomainError::Unavailable(_))
    ));
    // Confirmed: believed from then on, by handles already running too.
    early.confirm_clock(Actor::Operator).unwrap();
    assert!(early.revoke_idle_tokens().is_ok());
    assert!(with_retention(&f).apply_audit_retention().is_ok());
}

fn the_size_bound_deletes_the_oldest_exchanges_and_never_a_refusal_or_a_change(backend: Backend) {
    let mut f = Fixture::new(backend);
    let created = f.admin_token("busy", "30d");
    let exchange = |f: &mut Fixture, secret: &str| {
        f.authority
            .exchange_api_token(
                secret,
                ExchangeAudience::Provider,
                &ExchangeRequest::default(),
                HOME,
            )
            .and_then(Committing::wait)
    };
    for _ in 0..1500 {
        exchange(&mut f, created.secret.reveal()).unwrap();
    }
    assert!(exchange(&mut f, "tkd_not_a_token").is_err());
    f.authority.drain_writes().unwrap();
    f.clock.advance(120);
    let kinds = |authority: &Authority| -> Vec<String> {
        let all = EventFilter {
            limit: 5000,
            ..EventFilter::default()
        };
        let events = authority.events_for_operator(None, all).unwrap();
        events.into_iter().map(|(_, e)| e.kind).collect()
    };
    let count = |kinds: &[String], kind: &str| kinds.iter().filter(|k| *k == kind).count();
    let before = kinds(&f.authority);
    assert_eq!(count(&before, "token.exchange"), 1500);
    assert_eq!(count(&before, "token.exchange_failed"), 1);
    let used = f.authority.database_bytes_used().unwrap();

    let bounded = |max: u64| {
        Authority::open(
            f.database.clone(),
            Settings {
                audit_max_bytes: Some(max),
                ..settings()
            },
            ambient(&f.clock),
            crate::domain::tokens::sealing::test_store(),
        )
        .unwrap()
    };
    assert_eq!(bounded(used + 1).apply_audit_size_bound().unwrap(), 0);
    let mut pass = bounded(used - 100 * 1024);
    let deleted = pass.apply_audit_size_bound().unwrap();
    assert!(deleted > 0 && deleted < 1500, "{deleted}");
    assert!(pass.database_bytes_used().unwrap() <= used - 100 * 1024);
    let after = kinds(&pass);
    assert_eq!(count(&after, "token.exchange"), 1500 - deleted as usize);
    for kept in [
        "token.exchange_failed",
        "token.create",
        "session.login",
        "system.initialize",
    ] {
        assert_eq!(count(&after, kept), count(&before, kept), "{kept} kept");
    }
    let prune = &pass
        .events_for_operator(
            None,
            EventFilter {
                kind: Some("audit.prune".into()),
                limit: 1,
                ..EventFilter::default()
            },
        )
        .unwrap()[0]
        .1;
    assert_eq!(prune.properties["reason"], "size");
    assert_eq!(prune.properties["deleted"], deleted);

    // A bound that only deleting changes could meet is not met, and says so.
    let mut tight = bounded(1024);
    assert!(matches!(
        tight.apply_audit_size_bound(),
        Err(DomainError::Unavailable(_))
    ));
    let last = kinds(&tight);
    assert_eq!(count(&last, "token.exchange"), 0);
    assert_eq!(
        count(&last, "token.exchange_failed"),
        count(&before, "token.exchange_failed")
    );
}

on_every_backend!(
    retention_prunes_only_events_past_their_age_and_says_so,
    a_clock_jumped_ahead_prunes_revokes_and_forgets_nothing_until_confirmed,
    a_start_far_past_the_trail_or_behind_it_is_doubted,
    the_size_bound_deletes_the_oldest_exchanges_and_never_a_refusal_or_a_change,
);
