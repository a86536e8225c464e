//! Reminders before tokens expire: one per token, claimed by one run at a
//! time, within each owner's mail limit, and settled by sending or failing.

use super::Fixture;
use crate::domain::records::{DueReminder, NewReminder, OwnerMailLimit};
use crate::domain::storage::{ReminderReads, ReminderWrites, ServiceAccountWrites, StoreError};

fn reminder(token_id: &str, due_at: i64) -> NewReminder {
    NewReminder {
        token_id: token_id.into(),
        email: format!("{token_id}@example.com"),
        before_s: 86_400,
        due_at,
    }
}

/// No owner limit to speak of.
const ANY: OwnerMailLimit = OwnerMailLimit {
    since: 0,
    mails: 1000,
};

fn claim(
    tx: &impl ReminderWrites,
    now: i64,
    limit: u32,
    per_owner: OwnerMailLimit,
) -> Vec<DueReminder> {
    tx.claim_due_reminders(now, now + 60, limit, per_owner)
        .unwrap()
}

fn ids(due: &[DueReminder]) -> String {
    due.iter()
        .map(|d| d.token_id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn a_token_has_one_reminder(tx: &(impl Fixture + ReminderReads + ReminderWrites)) {
    tx.user("o1", "u1");
    tx.token("u1", "t1", Some(100_000));
    tx.token("u1", "t2", Some(100_000));
    tx.insert_reminder(&reminder("t1", 13_600)).unwrap();
    assert_eq!(
        tx.reminder_of("t1").unwrap(),
        Some(("t1@example.com".to_string(), 86_400))
    );
    assert_eq!(tx.reminder_of("t2").unwrap(), None);
    let again = tx.insert_reminder(&reminder("t1", 20_000));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
}

fn an_orgs_live_tokens_expiring_soonest_first(
    tx: &(impl Fixture + ReminderReads + ServiceAccountWrites),
) {
    tx.user("o1", "u1");
    tx.user("o1", "u2");
    tx.user("o2", "v1");
    for (user, token, expires) in [
        ("u1", "ta", Some(300)),
        ("u1", "tc", Some(200)),
        ("u1", "tb", Some(200)),
        ("u1", "td", Some(100)),
        ("u1", "te", Some(500)),
        ("u1", "tf", Some(400)),
        ("u1", "tg", None),
        ("u1", "th", Some(250)),
        ("u2", "ti", Some(350)),
        ("v1", "tj", Some(300)),
    ] {
        tx.token(user, token, expires);
    }
    assert!(tx.rotate_api_token("th", 50).unwrap());
    // After now, by the end; live.
    let expiring = tx.tokens_expiring("o1", 100, 400).unwrap();
    let listed: Vec<(&str, &str, &str, i64)> = expiring
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.name.as_str(),
                t.owner_name.as_str(),
                t.expires_at,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("tb", "tb", "u1", 200),
            ("tc", "tc", "u1", 200),
            ("ta", "ta", "u1", 300),
            ("ti", "ti", "u2", 350),
            ("tf", "tf", "u1", 400),
        ]
    );
    assert_eq!(tx.tokens_expiring("o2", 100, 400).unwrap().len(), 1);
    assert!(tx.tokens_expiring("o3", 100, 400).unwrap().is_empty());
    assert!(tx.tokens_expiring("o1", 400, 400).unwrap().is_empty());
}

fn only_due_reminders_of_live_tokens_are_claimed_once(
    tx: &(impl Fixture + ReminderWrites + ServiceAccountWrites),
) {
    tx.user("o1", "u1");
    tx.user("o2", "v1");
    let now = 1000;
    for (user, token, expires, due) in [
        ("u1", "t-b", Some(5000), 800),
        ("u1", "t-c", Some(5000), 700),
        ("v1", "t-a", Some(6000), 900),
        ("u1", "t-late", Some(5000), 1001),
        ("u1", "t-expired", Some(1000), 500),
        ("u1", "t-revoked", Some(5000), 500),
        ("u1", "t-replaced", Some(5000), 500),
        ("u1", "t-never", None, 500),
    ] {
        tx.token(user, token, expires);
        tx.insert_reminder(&reminder(token, due)).unwrap();
    }
    tx.rotate_api_token("t-revoked", 10).unwrap();
    tx.exec("UPDATE api_tokens SET replaced_by = 't-b' WHERE id = 't-replaced'");

    // As they were made, as SQLite's claim returns them: neither by when
    // they are due nor by token id.
    let due = claim(tx, now, 10, ANY);
    assert_eq!(ids(&due), "t-b,t-c,t-a");
    let a = &due[2];
    assert_eq!(
        (
            a.token_name.as_str(),
            a.owner_id.as_str(),
            a.owner_name.as_str(),
            a.org_id.as_str(),
            a.org_name.as_str(),
        ),
        ("t-a", "v1", "v1", "o2", "o2")
    );
    assert_eq!(
        (a.email.as_str(), a.expires_at, a.attempts),
        ("t-a@example.com", 6000, 0)
    );
    // Claimed until now + 60: no other run takes them meanwhile.
    assert_eq!(ids(&claim(tx, now + 1, 10, ANY)), "t-late");
    assert_eq!(ids(&claim(tx, now + 59, 10, ANY)), "");
    assert_eq!(ids(&claim(tx, now + 60, 10, ANY)), "t-b,t-c,t-a");
    // The earliest due first when the run takes fewer.
    assert_eq!(ids(&claim(tx, now + 200, 1, ANY)), "t-c");
    assert_eq!(ids(&claim(tx, now + 200, 0, ANY)), "");
    assert_eq!(ids(&claim(tx, now + 200, 2, ANY)), "t-b,t-a");
    assert_eq!(ids(&claim(tx, now + 200, 5, ANY)), "t-late");
}

fn a_claimed_reminder_is_sent_or_retried_or_given_up(
    tx: &(impl Fixture + ReminderReads + ReminderWrites),
) {
    tx.user("o1", "u1");
    for token in ["s1", "s2", "s3"] {
        tx.token("u1", token, Some(50_000));
        tx.insert_reminder(&reminder(token, 100)).unwrap();
    }
    assert_eq!(ids(&claim(tx, 1000, 10, ANY)), "s1,s2,s3");
    tx.record_reminder_sent("s1", 1001).unwrap();
    tx.record_reminder_failure("s2", 1001, Some(2000), "mailbox full")
        .unwrap();
    tx.record_reminder_failure("s3", 1001, None, "no such address")
        .unwrap();
    // Settled, so no longer claimed: only the retry comes back, when due.
    assert_eq!(ids(&claim(tx, 1500, 10, ANY)), "");
    let retried = claim(tx, 2000, 10, ANY);
    assert_eq!(ids(&retried), "s2");
    assert_eq!(retried[0].attempts, 1);
    tx.record_reminder_failure("s2", 2001, Some(3000), "mailbox full")
        .unwrap();
    assert_eq!(claim(tx, 3000, 10, ANY)[0].attempts, 2);
    tx.record_reminder_sent("s2", 3001).unwrap();
    assert_eq!(ids(&claim(tx, 10_000, 10, ANY)), "");
    // Sent or not, a token's reminder is still what it asked for.
    assert_eq!(
        tx.reminder_of("s1").unwrap(),
        Some(("s1@example.com".into(), 86_400))
    );
    assert_eq!(
        tx.reminder_of("s3").unwrap(),
        Some(("s3@example.com".into(), 86_400))
    );
}

fn an_owner_is_sent_no_more_than_its_limit_in_the_window(tx: &(impl Fixture + ReminderWrites)) {
    tx.user("o1", "u1");
    tx.user("o1", "u2");
    for (user, token, due) in [
        ("u1", "k1", 100),
        ("u1", "k2", 300),
        ("u1", "k3", 200),
        ("u2", "m1", 250),
    ] {
        tx.token(user, token, Some(50_000));
        tx.insert_reminder(&reminder(token, due)).unwrap();
    }
    let limit = |since| OwnerMailLimit { since, mails: 2 };
    assert_eq!(ids(&claim(tx, 1000, 1, limit(500))), "k1");
    // k1, claimed by a live run, counts against u1's two.
    assert_eq!(ids(&claim(tx, 1000, 10, limit(500))), "k3,m1");
    tx.record_reminder_sent("k1", 1010).unwrap();
    tx.record_reminder_failure("k3", 1010, Some(1020), "busy")
        .unwrap();
    tx.record_reminder_sent("m1", 1010).unwrap();
    // k1 was sent in the window; k3's failed send is no mail.
    let due = claim(tx, 1100, 10, limit(500));
    assert_eq!(ids(&due), "k3");
    // Later, k1's mail is out of the window and k3's claim has lapsed.
    assert_eq!(ids(&claim(tx, 1200, 10, limit(1050))), "k2,k3");
    assert_eq!(
        ids(&claim(tx, 1300, 10, OwnerMailLimit { since: 0, mails: 0 })),
        ""
    );
}

contract!(
    a_token_has_one_reminder,
    an_orgs_live_tokens_expiring_soonest_first,
    only_due_reminders_of_live_tokens_are_claimed_once,
    a_claimed_reminder_is_sent_or_retried_or_given_up,
    an_owner_is_sent_no_more_than_its_limit_in_the_window,
);
