//! The login lock: per address, lifted by time or by an unlock from
//! another process.

use super::*;

fn a_lock_holds_for_one_address_and_passes_with_time(backend: Backend) {
    let mut f = Fixture::new(backend);
    for _ in 0..5 {
        assert!(matches!(
            f.wrong_password(ELSEWHERE),
            DomainError::InvalidCredentials
        ));
    }
    assert!(matches!(
        f.wrong_password(ELSEWHERE),
        DomainError::LoginLocked(60)
    ));
    assert!(f.admin_login(HOME).is_ok(), "another address still logs in");
    f.clock.advance(60);
    assert!(matches!(
        f.wrong_password(ELSEWHERE),
        DomainError::InvalidCredentials
    ));
}

fn an_unlock_from_another_process_lifts_the_lock(backend: Backend) {
    let mut f = Fixture::new(backend);
    for _ in 0..5 {
        f.wrong_password(ELSEWHERE);
    }
    assert!(matches!(
        f.admin_login(ELSEWHERE),
        Err(DomainError::LoginLocked(_))
    ));
    let mut cli = f.other_process();
    cli.unlock_login(PROVIDER_ORG, ADMINISTRATOR).unwrap();
    assert!(
        f.admin_login(ELSEWHERE).is_ok(),
        "the server saw the unlock"
    );

    // An unlock is not a pass for later locks.
    f.clock.advance(1);
    for _ in 0..5 {
        f.wrong_password(ELSEWHERE);
    }
    assert!(matches!(
        f.admin_login(ELSEWHERE),
        Err(DomainError::LoginLocked(_))
    ));
    assert!(matches!(
        cli.unlock_login(PROVIDER_ORG, "nobody"),
        Err(DomainError::NotFound(_))
    ));
}

on_every_backend!(
    a_lock_holds_for_one_address_and_passes_with_time,
    an_unlock_from_another_process_lifts_the_lock,
);
