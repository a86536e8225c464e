//! Second factors and their recovery codes, and the console logins
//! waiting for one.

use super::Fixture;
use crate::domain::records::{PendingLogin, SecondFactorRecord};
use crate::domain::storage::{SecondFactorReads, SecondFactorWrites, StoreError};

fn pending(user_id: &str, secret: &[u8], created_at: i64) -> SecondFactorRecord {
    SecondFactorRecord {
        user_id: user_id.into(),
        secret: secret.to_vec(),
        created_at,
        enrolled_at: None,
        last_step: None,
    }
}

type Fields = (String, Vec<u8>, i64, Option<i64>, Option<i64>);

fn fields(record: &SecondFactorRecord) -> Fields {
    (
        record.user_id.clone(),
        record.secret.clone(),
        record.created_at,
        record.enrolled_at,
        record.last_step,
    )
}

fn found(tx: &impl SecondFactorReads, user_id: &str) -> Option<Fields> {
    tx.second_factor(user_id).unwrap().as_ref().map(fields)
}

fn a_pending_secret_is_replaced_until_it_is_enrolled(
    tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture),
) {
    tx.user("acme", "alice");
    assert_eq!(found(tx, "alice"), None);
    assert!(tx
        .begin_second_factor(&pending("alice", b"one", 1))
        .unwrap());
    assert!(tx
        .begin_second_factor(&pending("alice", b"two", 2))
        .unwrap());
    assert_eq!(
        found(tx, "alice"),
        Some(("alice".into(), b"two".to_vec(), 2, None, None))
    );
    assert!(
        !tx.accept_second_factor_step("alice", 5).unwrap(),
        "pending"
    );
    assert!(tx.enrol_second_factor("alice", 3, 7, &[[1; 32]]).unwrap());
    assert_eq!(
        found(tx, "alice"),
        Some(("alice".into(), b"two".to_vec(), 2, Some(3), Some(7)))
    );
    assert!(!tx.enrol_second_factor("alice", 4, 8, &[[2; 32]]).unwrap());
    assert!(!tx
        .begin_second_factor(&pending("alice", b"three", 4))
        .unwrap());
    assert_eq!(
        found(tx, "alice"),
        Some(("alice".into(), b"two".to_vec(), 2, Some(3), Some(7))),
        "an enrolled factor is kept"
    );
    assert_eq!(
        tx.recovery_codes_left("alice").unwrap(),
        1,
        "codes kept too"
    );
    assert!(
        !tx.enrol_second_factor("bob", 4, 8, &[]).unwrap(),
        "none pending"
    );
}

fn only_a_later_step_is_accepted(tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.begin_second_factor(&pending("alice", b"s", 1)).unwrap();
    tx.enrol_second_factor("alice", 2, 10, &[]).unwrap();
    assert!(
        !tx.accept_second_factor_step("alice", 10).unwrap(),
        "replayed"
    );
    assert!(!tx.accept_second_factor_step("alice", 9).unwrap(), "older");
    assert!(tx.accept_second_factor_step("alice", 11).unwrap());
    assert_eq!(
        tx.second_factor("alice").unwrap().unwrap().last_step,
        Some(11)
    );
    assert!(!tx.accept_second_factor_step("nobody", 12).unwrap());
}

fn a_recovery_code_works_once(tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    assert_eq!(tx.recovery_codes_left("alice").unwrap(), 0);
    tx.begin_second_factor(&pending("alice", b"s", 1)).unwrap();
    tx.enrol_second_factor("alice", 2, 10, &[[1; 32], [2; 32], [3; 32]])
        .unwrap();
    tx.begin_second_factor(&pending("bob", b"s", 1)).unwrap();
    tx.enrol_second_factor("bob", 2, 10, &[[1; 32]]).unwrap();
    assert_eq!(tx.recovery_codes_left("alice").unwrap(), 3);
    assert!(tx.use_recovery_code("alice", &[2; 32], 5).unwrap());
    assert!(!tx.use_recovery_code("alice", &[2; 32], 6).unwrap(), "used");
    assert!(
        !tx.use_recovery_code("alice", &[9; 32], 6).unwrap(),
        "unknown"
    );
    assert_eq!(tx.recovery_codes_left("alice").unwrap(), 2);
    assert_eq!(
        tx.recovery_codes_left("bob").unwrap(),
        1,
        "bob's are his own"
    );
    assert!(tx.use_recovery_code("bob", &[1; 32], 7).unwrap());
    assert!(tx.use_recovery_code("alice", &[1; 32], 7).unwrap());
}

fn deleting_a_factor_deletes_its_codes_and_enrolling_anew_replaces_them(
    tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.begin_second_factor(&pending("alice", b"s", 1)).unwrap();
    tx.enrol_second_factor("alice", 2, 10, &[[1; 32], [2; 32]])
        .unwrap();
    assert!(tx.delete_second_factor("alice").unwrap());
    assert_eq!(found(tx, "alice"), None);
    assert_eq!(tx.recovery_codes_left("alice").unwrap(), 0);
    assert!(!tx.delete_second_factor("alice").unwrap(), "none left");
    tx.begin_second_factor(&pending("alice", b"t", 3)).unwrap();
    tx.enrol_second_factor("alice", 4, 20, &[[2; 32], [5; 32], [6; 32]])
        .unwrap();
    assert_eq!(tx.recovery_codes_left("alice").unwrap(), 3);
    assert!(!tx.use_recovery_code("alice", &[1; 32], 5).unwrap(), "gone");
    assert!(tx.use_recovery_code("alice", &[2; 32], 5).unwrap(), "anew");
}

fn a_secret_is_resealed_in_place_and_every_factor_is_listed(
    tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    assert!(tx.all_second_factors().unwrap().is_empty());
    tx.begin_second_factor(&pending("alice", b"a", 1)).unwrap();
    tx.enrol_second_factor("alice", 2, 10, &[]).unwrap();
    tx.begin_second_factor(&pending("bob", b"b", 3)).unwrap();
    assert!(tx
        .replace_second_factor_secret("alice", b"sealed-a")
        .unwrap());
    assert!(tx.replace_second_factor_secret("bob", b"sealed-b").unwrap());
    assert!(!tx.replace_second_factor_secret("carol", b"x").unwrap());
    let mut all: Vec<Fields> = tx
        .all_second_factors()
        .unwrap()
        .iter()
        .map(fields)
        .collect();
    all.sort();
    assert_eq!(
        all,
        [
            ("alice".into(), b"sealed-a".to_vec(), 1, Some(2), Some(10)),
            ("bob".into(), b"sealed-b".to_vec(), 3, None, None),
        ]
    );
}

fn pending_login(digest: u8, user_id: &str, expires_at: i64) -> PendingLogin {
    PendingLogin {
        handle_digest: [digest; 32],
        user_id: user_id.into(),
        name: format!("{user_id}@acme"),
        org_name: "acme".into(),
        source: "2001:db8::7".into(),
        expires_at,
    }
}

fn a_pending_login_is_kept_as_written_and_used_once_while_live(
    tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture),
) {
    tx.user("acme", "alice");
    let login = pending_login(1, "alice", 300);
    assert_eq!(tx.pending_login(&[1; 32]).unwrap(), None);
    tx.insert_pending_login(&login).unwrap();
    assert_eq!(tx.pending_login(&[1; 32]).unwrap(), Some(login.clone()));
    let again = tx.insert_pending_login(&login);
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    assert_eq!(tx.pending_login_count().unwrap(), 1);

    assert!(!tx.use_pending_login(&[2; 32], 10).unwrap(), "unknown");
    assert!(!tx.use_pending_login(&[1; 32], 300).unwrap(), "expired");
    assert_eq!(
        tx.pending_login(&[1; 32]).unwrap(),
        Some(login),
        "an expired one is still there until forgotten"
    );
    assert!(tx.use_pending_login(&[1; 32], 299).unwrap());
    assert!(!tx.use_pending_login(&[1; 32], 299).unwrap(), "used once");
    assert_eq!(tx.pending_login(&[1; 32]).unwrap(), None);
    assert_eq!(tx.pending_login_count().unwrap(), 0);
}

fn expired_pending_logins_are_forgotten_and_the_soonest_to_expire_give_way(
    tx: &(impl SecondFactorReads + SecondFactorWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    for (digest, user, expires_at) in [(1, "alice", 100), (2, "bob", 400), (3, "alice", 200)] {
        tx.insert_pending_login(&pending_login(digest, user, expires_at))
            .unwrap();
    }
    assert_eq!(tx.forget_expired_pending_logins(99).unwrap(), 0);
    assert_eq!(tx.forget_expired_pending_logins(100).unwrap(), 1);
    assert_eq!(tx.pending_login(&[1; 32]).unwrap(), None);
    assert_eq!(tx.pending_login_count().unwrap(), 2);
    tx.insert_pending_login(&pending_login(4, "bob", 300))
        .unwrap();
    assert_eq!(tx.forget_oldest_pending_logins(2).unwrap(), 2);
    let left: Vec<bool> = [2, 3, 4]
        .iter()
        .map(|d| tx.pending_login(&[*d; 32]).unwrap().is_some())
        .collect();
    assert_eq!(left, [true, false, false], "the latest to expire stays");
    assert_eq!(tx.forget_oldest_pending_logins(5).unwrap(), 1);
    assert_eq!(tx.pending_login_count().unwrap(), 0);
}

super::contract!(
    a_pending_secret_is_replaced_until_it_is_enrolled,
    only_a_later_step_is_accepted,
    a_recovery_code_works_once,
    deleting_a_factor_deletes_its_codes_and_enrolling_anew_replaces_them,
    a_secret_is_resealed_in_place_and_every_factor_is_listed,
    a_pending_login_is_kept_as_written_and_used_once_while_live,
    expired_pending_logins_are_forgotten_and_the_soonest_to_expire_give_way,
);
