//! Owners' notices of leaked tokens: one per token, claimed by one run at
//! a time, earliest report first, and settled by sending or failing.

use super::Fixture;
use crate::domain::records::{DueLeakNotice, NewLeakNotice};
use crate::domain::storage::{LeakNoticeWrites, StoreError};

fn notice(token_id: &str, reported_at: i64) -> NewLeakNotice {
    NewLeakNotice {
        token_id: token_id.into(),
        email: format!("{token_id}@example.com"),
        reported_at,
        url: Some(format!("https://paste.example/{token_id}")),
        source: None,
    }
}

fn claim(tx: &impl LeakNoticeWrites, now: i64, limit: u32) -> Vec<DueLeakNotice> {
    tx.claim_due_leak_notices(now, now + 60, limit).unwrap()
}

fn ids(due: &[DueLeakNotice]) -> String {
    due.iter()
        .map(|d| d.token_id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn a_notice_is_claimed_once_with_what_its_mail_names(tx: &(impl Fixture + LeakNoticeWrites)) {
    tx.user("o1", "u1");
    for token in ["n-late", "n-b", "n-a"] {
        tx.token("u1", token, None);
    }
    tx.insert_leak_notice(&notice("n-late", 300)).unwrap();
    tx.insert_leak_notice(&notice("n-b", 100)).unwrap();
    tx.insert_leak_notice(&notice("n-a", 100)).unwrap();
    let again = tx.insert_leak_notice(&notice("n-a", 200));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");

    assert_eq!(ids(&claim(tx, 99, 10)), "", "none reported yet");
    let due = claim(tx, 200, 1);
    assert_eq!(ids(&due), "n-a", "earliest report first, then by id");
    assert_eq!(
        due[0],
        DueLeakNotice {
            token_id: "n-a".into(),
            token_name: "n-a".into(),
            org_id: "o1".into(),
            org_name: "o1".into(),
            email: "n-a@example.com".into(),
            reported_at: 100,
            url: Some("https://paste.example/n-a".into()),
            source: None,
            attempts: 0,
        }
    );
    assert_eq!(ids(&claim(tx, 200, 10)), "n-b", "n-a is claimed");
    assert_eq!(ids(&claim(tx, 259, 10)), "", "both claimed, n-late not due");
    // A run that died: its claims lapse and another run takes them.
    assert_eq!(ids(&claim(tx, 260, 10)), "n-a,n-b");
    assert_eq!(ids(&claim(tx, 300, 10)), "n-late");
}

fn a_claimed_notice_is_sent_or_retried_or_given_up(tx: &(impl Fixture + LeakNoticeWrites)) {
    tx.user("o1", "u1");
    for token in ["s1", "s2", "s3"] {
        tx.token("u1", token, None);
        tx.insert_leak_notice(&notice(token, 100)).unwrap();
    }
    assert_eq!(ids(&claim(tx, 1000, 10)), "s1,s2,s3");
    tx.record_leak_notice_sent("s1", 1001).unwrap();
    tx.record_leak_notice_failure("s2", 1001, Some(2000), "relay down")
        .unwrap();
    tx.record_leak_notice_failure("s3", 1001, None, "no such address")
        .unwrap();
    // Settled, so no longer claimed: only the retry comes back, when due.
    assert_eq!(ids(&claim(tx, 1999, 10)), "");
    let retried = claim(tx, 2000, 10);
    assert_eq!(ids(&retried), "s2");
    assert_eq!(retried[0].attempts, 1);
    tx.record_leak_notice_sent("s2", 2001).unwrap();
    assert_eq!(ids(&claim(tx, 100_000, 10)), "", "sent or given up");
}

contract!(
    a_notice_is_claimed_once_with_what_its_mail_names,
    a_claimed_notice_is_sent_or_retried_or_given_up,
);
