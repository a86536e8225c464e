//! The first start: done once, in one write, and required before any
//! admin command.

use super::*;

fn first_start_happens_once(backend: Backend) {
    let f = Fixture::new(backend);
    let (_, again) = Authority::start(
        f.database.clone(),
        settings(),
        ambient(&f.clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    assert!(again.is_none(), "a second start initialises nothing");
}

fn admin_commands_refuse_an_uninitialised_database(backend: Backend) {
    let database = backend.database();
    let clock = Arc::new(ManualClock::at(START));
    let opened = Authority::open(
        database.clone(),
        settings(),
        ambient(&clock),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(matches!(opened, Err(DomainError::Invalid(_))));
    // ...and wrote nothing: a later first start still happens.
    let (_, first) = Authority::start(
        database,
        settings(),
        ambient(&clock),
        None,
        crate::domain::tokens::sealing::test_store(),
    )
    .unwrap();
    assert!(first.is_some_and(|f| f.generated_password.is_some()));
}

fn a_failed_first_start_writes_nothing(backend: Backend) {
    let database = backend.database();
    let clock = Arc::new(ManualClock::at(START));
    let short = Authority::start(
        database.clone(),
        settings(),
        ambient(&clock),
        Some("short"),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(matches!(short, Err(DomainError::Invalid(_))));
    let opened = Authority::open(
        database,
        settings(),
        ambient(&clock),
        crate::domain::tokens::sealing::test_store(),
    );
    assert!(opened.is_err(), "no provider org was written");
}

on_every_backend!(
    first_start_happens_once,
    admin_commands_refuse_an_uninitialised_database,
    a_failed_first_start_writes_nothing,
);
