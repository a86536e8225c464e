//! Webhooks, their delivery queue, and what they are told of: events after
//! their cursor and tokens about to expire.

use super::audit::event;
use super::Fixture;
use crate::domain::records::{NewWebhookDelivery, WebhookDelivery, WebhookRecord};
use crate::domain::storage::{
    AuditReads, AuditWrites, ServiceAccountWrites, StoreError, WebhookReads, WebhookWrites,
};

fn webhook(id: &str, org_id: Option<&str>, created_at: i64) -> WebhookRecord {
    WebhookRecord {
        id: id.into(),
        org_id: org_id.map(String::from),
        org_name: None,
        url: format!("https://hooks.example/{id}"),
        events: vec!["token.create".into(), "token.expiring".into()],
        expiring_days: Some(7),
        secret: vec![0, 1, 2, 255],
        created_at,
        created_by: "admin".into(),
        cursor: 3,
    }
}

fn delivery(id: &str, webhook_id: &str, created_at: i64) -> NewWebhookDelivery {
    NewWebhookDelivery {
        id: id.into(),
        webhook_id: webhook_id.into(),
        event_type: "token.create".into(),
        event_id: format!("event-{id}"),
        token_id: None,
        body: format!("{{\"id\":\"{id}\"}}"),
        created_at,
    }
}

fn expiring(id: &str, webhook_id: &str, token_id: &str) -> NewWebhookDelivery {
    NewWebhookDelivery {
        event_type: "token.expiring".into(),
        token_id: Some(token_id.into()),
        ..delivery(id, webhook_id, 150)
    }
}

fn ids(deliveries: &[WebhookDelivery]) -> String {
    deliveries
        .iter()
        .map(|d| d.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn webhook_ids(webhooks: &[WebhookRecord]) -> String {
    webhooks
        .iter()
        .map(|w| w.id.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn webhooks_are_listed_by_creation_within_their_org(
    tx: &(impl Fixture + WebhookReads + WebhookWrites),
) {
    tx.user("o1", "u1");
    tx.user("o2", "u2");
    tx.insert_webhook(&webhook("w-b", Some("o1"), 200)).unwrap();
    tx.insert_webhook(&webhook("w-a", Some("o1"), 200)).unwrap();
    tx.insert_webhook(&webhook("w-c", None, 100)).unwrap();
    tx.insert_webhook(&webhook("w-d", Some("o2"), 300)).unwrap();
    assert_eq!(webhook_ids(&tx.webhooks(None).unwrap()), "w-c,w-a,w-b,w-d");
    assert_eq!(webhook_ids(&tx.webhooks(Some("o1")).unwrap()), "w-a,w-b");
    assert_eq!(webhook_ids(&tx.webhooks(Some("o3")).unwrap()), "");
    let again = tx.insert_webhook(&webhook("w-a", None, 400));
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");

    let a = tx.webhook("w-a").unwrap().unwrap();
    assert_eq!(
        (a.org_id.as_deref(), a.org_name.as_deref(), a.url.as_str()),
        (Some("o1"), Some("o1"), "https://hooks.example/w-a")
    );
    assert_eq!(a.events, ["token.create", "token.expiring"]);
    assert_eq!(
        (a.expiring_days, a.secret.as_slice(), a.created_at),
        (Some(7), &[0u8, 1, 2, 255][..], 200)
    );
    assert_eq!((a.created_by.as_str(), a.cursor), ("admin", 3));
    let c = tx.webhook("w-c").unwrap().unwrap();
    assert_eq!((c.org_id, c.org_name), (None, None));
    let mut bare = webhook("w-e", None, 500);
    bare.expiring_days = None;
    bare.events = Vec::new();
    tx.insert_webhook(&bare).unwrap();
    let e = tx.webhook("w-e").unwrap().unwrap();
    assert_eq!((e.expiring_days, e.events.len()), (None, 0));
    assert!(tx.webhook("w-z").unwrap().is_none());

    tx.set_webhook_cursor("w-a", 42).unwrap();
    assert_eq!(tx.webhook("w-a").unwrap().unwrap().cursor, 42);
    assert!(tx.replace_webhook_secret("w-a", &[9, 9]).unwrap());
    assert_eq!(tx.webhook("w-a").unwrap().unwrap().secret, [9, 9]);
    assert!(!tx.replace_webhook_secret("w-z", &[9, 9]).unwrap());

    tx.insert_webhook_delivery(&delivery("d1", "w-a", 10), 10)
        .unwrap();
    assert!(tx.delete_webhook("w-a").unwrap());
    assert!(!tx.delete_webhook("w-a").unwrap());
    assert!(!tx.delete_webhook("w-z").unwrap());
    assert_eq!(webhook_ids(&tx.webhooks(Some("o1")).unwrap()), "w-b");
    // Its deliveries went with it.
    assert_eq!(ids(&tx.webhook_deliveries("w-a", 10).unwrap()), "");
    assert!(!tx.webhook_delivery_due(10).unwrap());
}

fn a_delivery_is_queued_once_and_listed_newest_first(tx: &(impl WebhookReads + WebhookWrites)) {
    tx.insert_webhook(&webhook("w1", None, 1)).unwrap();
    tx.insert_webhook(&webhook("w2", None, 2)).unwrap();
    assert!(tx
        .insert_webhook_delivery(&delivery("d-z", "w1", 100), 100)
        .unwrap());
    assert!(tx
        .insert_webhook_delivery(&delivery("d-a", "w1", 100), 100)
        .unwrap());
    assert!(tx
        .insert_webhook_delivery(&delivery("d-m", "w1", 50), 100)
        .unwrap());
    assert!(!tx
        .insert_webhook_delivery(&delivery("d-z", "w1", 999), 100)
        .unwrap());
    // A token.expiring once per token and webhook; other types freely.
    assert!(tx
        .insert_webhook_delivery(&expiring("x1", "w1", "t1"), 100)
        .unwrap());
    assert!(!tx
        .insert_webhook_delivery(&expiring("x2", "w1", "t1"), 100)
        .unwrap());
    assert!(tx
        .insert_webhook_delivery(
            &NewWebhookDelivery {
                token_id: Some("t1".into()),
                ..delivery("x3", "w1", 150)
            },
            100
        )
        .unwrap());
    assert!(tx
        .insert_webhook_delivery(&expiring("x4", "w2", "t1"), 100)
        .unwrap());
    assert!(tx
        .insert_webhook_delivery(&expiring("x5", "w1", "t2"), 100)
        .unwrap());

    // Newest first; made in the same millisecond, the last made first.
    let listed = tx.webhook_deliveries("w1", 10).unwrap();
    assert_eq!(ids(&listed), "x5,x3,x1,d-a,d-z,d-m");
    assert_eq!(ids(&tx.webhook_deliveries("w1", 2).unwrap()), "x5,x3");
    assert_eq!(ids(&tx.webhook_deliveries("w2", 10).unwrap()), "x4");
    assert_eq!(ids(&tx.webhook_deliveries("w3", 10).unwrap()), "");
    let x1 = &listed[2];
    assert_eq!(
        (
            x1.webhook_id.as_str(),
            x1.event_type.as_str(),
            x1.event_id.as_str(),
            x1.token_id.as_deref(),
            x1.body.as_str(),
        ),
        (
            "w1",
            "token.expiring",
            "event-x1",
            Some("t1"),
            "{\"id\":\"x1\"}"
        )
    );
    assert_eq!(
        (x1.created_at, x1.attempts, x1.next_attempt_at),
        (150, 0, 100)
    );
    assert_eq!(
        (
            x1.delivered_at,
            x1.failed_at,
            x1.last_status,
            &x1.last_error
        ),
        (None, None, None, &None)
    );
}

fn due_deliveries_are_claimed_once_and_settled(tx: &(impl WebhookReads + WebhookWrites)) {
    tx.insert_webhook(&webhook("w1", None, 1)).unwrap();
    for (id, created, next) in [
        ("p-z", 10, 100),
        ("p-a", 10, 100),
        ("p-m", 5, 100),
        ("q", 1, 50),
        ("r-b", 10, 100),
        ("later", 0, 200),
    ] {
        tx.insert_webhook_delivery(&delivery(id, "w1", created), next)
            .unwrap();
    }
    assert!(!tx.webhook_delivery_due(49).unwrap());
    assert!(tx.webhook_delivery_due(50).unwrap());
    // Taken by when due, then as queued; returned by when due, when made,
    // then as queued.
    let claim = |now, limit| {
        ids(&tx
            .claim_due_webhook_deliveries(now, now + 60, limit)
            .unwrap())
    };
    assert_eq!(claim(100, 3), "q,p-z,p-a");
    assert_eq!(claim(100, 10), "p-m,r-b");
    assert_eq!(claim(100, 10), "");
    assert!(!tx.webhook_delivery_due(159).unwrap());
    assert_eq!(claim(159, 10), "");
    assert!(tx.webhook_delivery_due(160).unwrap());

    tx.record_webhook_delivered("q", 120, 204).unwrap();
    tx.record_webhook_failure("p-a", 120, Some(300), Some(500), "server error")
        .unwrap();
    tx.record_webhook_failure("p-z", 120, None, None, "refused")
        .unwrap();
    let state = |id: &str| {
        tx.webhook_deliveries("w1", 10)
            .unwrap()
            .into_iter()
            .find(|d| d.id == id)
            .unwrap()
    };
    let q = state("q");
    assert_eq!(
        (
            q.attempts,
            q.delivered_at,
            q.failed_at,
            q.last_status,
            q.last_error
        ),
        (1, Some(120), None, Some(204), None)
    );
    let p_a = state("p-a");
    assert_eq!(
        (
            p_a.attempts,
            p_a.next_attempt_at,
            p_a.failed_at,
            p_a.last_status
        ),
        (1, 300, None, Some(500))
    );
    assert_eq!(p_a.last_error.as_deref(), Some("server error"));
    let p_z = state("p-z");
    assert_eq!(
        (
            p_z.attempts,
            p_z.next_attempt_at,
            p_z.failed_at,
            p_z.last_status
        ),
        (1, 100, Some(120), None)
    );
    assert_eq!(p_z.last_error.as_deref(), Some("refused"));

    // Settled ones are not taken again; lapsed claims and retries are.
    assert_eq!(claim(200, 10), "p-m,r-b,later");
    assert_eq!(claim(300, 10), "p-m,r-b,later,p-a");
    tx.record_webhook_delivered("p-a", 310, 200).unwrap();
    let p_a = state("p-a");
    assert_eq!(
        (
            p_a.attempts,
            p_a.delivered_at,
            p_a.last_status,
            p_a.last_error
        ),
        (2, Some(310), Some(200), None)
    );
    assert_eq!(claim(10_000, 10), "p-m,r-b,later");
}

fn a_webhook_is_told_of_events_after_its_cursor(
    tx: &(impl AuditReads + AuditWrites + WebhookReads),
) {
    assert_eq!(tx.newest_event_seq().unwrap(), 0);
    let mut rows = vec![
        event("e1", 10, "token.create", "success"),
        event("e2", 20, "token.revoke", "success"),
        event("e3", 30, "token.create", "failure"),
        event("e4", 40, "token.create", "success"),
        event("e5", 50, "session.login", "success"),
    ];
    rows[0].org_id = Some("o1".into());
    rows[1].org_id = Some("o2".into());
    rows[3].org_id = Some("o1".into());
    rows[4].org_id = Some("o1".into());
    for row in &rows {
        tx.insert_event(row).unwrap();
    }
    let seq = |id: &str| tx.event_seq(id).unwrap().unwrap();
    assert_eq!(tx.newest_event_seq().unwrap(), seq("e5"));
    let kinds = ["token.create".to_string(), "token.revoke".to_string()];
    let told = |after, upto, kinds: &[String], org: Option<&str>, limit| {
        tx.events_for_webhook(after, upto, kinds, org, limit)
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.id)
            .collect::<Vec<_>>()
            .join(",")
    };
    let all = seq("e5");
    assert_eq!(told(0, all, &kinds, None, 10), "e1,e2,e3,e4");
    assert_eq!(told(0, all, &kinds, Some("o1"), 10), "e1,e4");
    assert_eq!(told(0, all, &kinds, Some("o3"), 10), "");
    assert_eq!(told(seq("e1"), seq("e3"), &kinds, None, 10), "e2,e3");
    assert_eq!(told(0, all, &kinds, None, 2), "e1,e2");
    assert_eq!(told(0, all, &[], None, 10), "");
    assert_eq!(
        told(0, all, &["session.login".into()], Some("o1"), 10),
        "e5"
    );
    assert_eq!(told(all, all + 10, &kinds, None, 10), "");
    let first = tx
        .events_for_webhook(0, all, &kinds, None, 1)
        .unwrap()
        .remove(0);
    assert_eq!(first, (seq("e1"), rows[0].clone()));
}

fn a_webhook_is_told_once_of_each_expiring_token(
    tx: &(impl Fixture + WebhookReads + WebhookWrites + ServiceAccountWrites),
) {
    tx.user("o1", "u1");
    tx.user("o2", "v1");
    for (user, token, expires) in [
        ("u1", "t8", Some(200)),
        ("u1", "t1", Some(200)),
        ("u1", "t2", Some(150)),
        ("u1", "t3", Some(300)),
        ("u1", "t4", Some(100)),
        ("u1", "t5", Some(200)),
        ("u1", "t6", None),
        ("v1", "t7", Some(180)),
    ] {
        tx.token(user, token, expires);
    }
    tx.rotate_api_token("t5", 50).unwrap();
    tx.insert_webhook(&webhook("w1", None, 1)).unwrap();
    tx.insert_webhook(&webhook("w2", None, 1)).unwrap();
    tx.insert_webhook_delivery(&expiring("x1", "w1", "t2"), 100)
        .unwrap();
    tx.insert_webhook_delivery(
        &NewWebhookDelivery {
            token_id: Some("t1".into()),
            ..delivery("x2", "w1", 100)
        },
        100,
    )
    .unwrap();
    tx.insert_webhook_delivery(&expiring("x3", "w2", "t7"), 100)
        .unwrap();

    let untold = |webhook: &str, org: Option<&str>, limit| {
        tx.tokens_expiring_untold(webhook, org, 100, 250, limit)
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(untold("w1", None, 10), "t7,t1,t8");
    assert_eq!(untold("w1", Some("o1"), 10), "t1,t8");
    assert_eq!(untold("w1", Some("o3"), 10), "");
    assert_eq!(untold("w1", None, 2), "t7,t1");
    assert_eq!(untold("w2", None, 10), "t2,t1,t8");
    assert_eq!(untold("w3", None, 10), "t2,t7,t1,t8");
    let t7 = tx
        .tokens_expiring_untold("w1", None, 100, 250, 1)
        .unwrap()
        .remove(0);
    assert_eq!(
        (
            t7.name.as_str(),
            t7.owner_id.as_str(),
            t7.owner_name.as_str(),
            t7.org_id.as_str(),
            t7.org_name.as_str(),
            t7.expires_at,
        ),
        ("t7", "v1", "v1", "o2", "o2", 180)
    );
}

contract!(
    webhooks_are_listed_by_creation_within_their_org,
    a_delivery_is_queued_once_and_listed_newest_first,
    due_deliveries_are_claimed_once_and_settled,
    a_webhook_is_told_of_events_after_its_cursor,
    a_webhook_is_told_once_of_each_expiring_token,
);
