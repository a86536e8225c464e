//! Login sessions.

use super::Fixture;
use crate::domain::records::SessionRecord;
use crate::domain::storage::{SessionReads, SessionWrites, StoreError};

fn session(id: &str, user_id: &str, enrol_only: bool) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_id: user_id.into(),
        created_at: 10,
        expires_at: 1000,
        ended_at: None,
        enrol_only,
    }
}

fn a_session_is_stored_as_given_and_once(tx: &(impl SessionReads + SessionWrites + Fixture)) {
    tx.user("acme", "alice");
    assert!(tx.session("s1").unwrap().is_none());
    tx.insert_session(&session("s1", "alice", true)).unwrap();
    let found = tx.session("s1").unwrap().unwrap();
    assert_eq!(
        (
            found.id.as_str(),
            found.user_id.as_str(),
            found.created_at,
            found.expires_at,
            found.ended_at,
            found.enrol_only
        ),
        ("s1", "alice", 10, 1000, None, true)
    );
    let again = tx.insert_session(&session("s1", "alice", false));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
}

fn a_session_ends_once(tx: &(impl SessionReads + SessionWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.insert_session(&session("s1", "alice", false)).unwrap();
    assert!(tx.end_session("s1", 50).unwrap());
    assert!(!tx.end_session("s1", 60).unwrap(), "ended already");
    assert_eq!(tx.session("s1").unwrap().unwrap().ended_at, Some(50));
    assert!(!tx.end_session("nobody", 60).unwrap());
}

fn ending_a_users_sessions_keeps_one_and_counts_the_live_ones_ended(
    tx: &(impl SessionReads + SessionWrites + Fixture),
) {
    tx.user("acme", "alice");
    tx.user("acme", "bob");
    for id in ["a1", "a2", "a3", "a4"] {
        tx.insert_session(&session(id, "alice", false)).unwrap();
    }
    tx.insert_session(&session("b1", "bob", false)).unwrap();
    tx.end_session("a4", 5).unwrap();
    assert_eq!(tx.end_user_sessions("alice", Some("a1"), 70).unwrap(), 2);
    let ended = |id: &str| tx.session(id).unwrap().unwrap().ended_at;
    assert_eq!(
        [
            ended("a1"),
            ended("a2"),
            ended("a3"),
            ended("a4"),
            ended("b1")
        ],
        [None, Some(70), Some(70), Some(5), None]
    );
    assert_eq!(tx.end_user_sessions("alice", None, 80).unwrap(), 1);
    assert_eq!(ended("a1"), Some(80));
    assert_eq!(tx.end_user_sessions("alice", None, 90).unwrap(), 0);
    assert_eq!(ended("b1"), None, "another user's session lives on");
}

fn an_enrol_only_session_is_lifted_once(tx: &(impl SessionReads + SessionWrites + Fixture)) {
    tx.user("acme", "alice");
    tx.insert_session(&session("s1", "alice", true)).unwrap();
    tx.insert_session(&session("s2", "alice", false)).unwrap();
    assert!(tx.lift_enrol_only("s1").unwrap());
    assert!(!tx.session("s1").unwrap().unwrap().enrol_only);
    assert!(!tx.lift_enrol_only("s1").unwrap(), "lifted already");
    assert!(!tx.lift_enrol_only("s2").unwrap(), "never enrol-only");
    assert!(!tx.lift_enrol_only("nobody").unwrap());
}

super::contract!(
    a_session_is_stored_as_given_and_once,
    a_session_ends_once,
    ending_a_users_sessions_keeps_one_and_counts_the_live_ones_ended,
    an_enrol_only_session_is_lifted_once,
);
