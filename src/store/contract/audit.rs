//! The audit trail: events stored as given, listed by sequence under every
//! filter, and pruned oldest first.

use serde_json::json;

use crate::domain::records::{Event, EventFilter};
use crate::domain::storage::{AuditReads, AuditWrites};

pub(super) fn event(id: &str, at_ms: i64, kind: &str, outcome: &'static str) -> Event {
    Event {
        id: id.to_string(),
        at_ms,
        kind: kind.to_string(),
        org_id: None,
        actor_id: None,
        actor_name: None,
        target_type: None,
        target_id: None,
        target_name: None,
        outcome,
        client_ip: None,
        properties: json!({}),
    }
}

fn ids(events: &[(i64, Event)]) -> Vec<&str> {
    events.iter().map(|(_, e)| e.id.as_str()).collect()
}

fn filter(limit: u32) -> EventFilter {
    EventFilter {
        limit,
        ..EventFilter::default()
    }
}

fn an_event_reads_back_as_written_with_its_sequence(tx: &(impl AuditReads + AuditWrites)) {
    let full = Event {
        id: "e1".into(),
        at_ms: 1_700_000_000_123,
        kind: "token.create".into(),
        org_id: Some("o1".into()),
        actor_id: Some("u1".into()),
        actor_name: Some("alice".into()),
        target_type: Some("token".into()),
        target_id: Some("t1".into()),
        target_name: Some("ci".into()),
        outcome: "denied",
        client_ip: Some("192.0.2.7".into()),
        properties: json!({"scope": ["a", "b"], "n": 3, "nested": {"x": null}}),
    };
    tx.insert_event(&full).unwrap();
    tx.insert_event(&event("e2", 5, "session.login", "failure"))
        .unwrap();
    let events = tx.events(&filter(10)).unwrap();
    assert_eq!(ids(&events), ["e2", "e1"]);
    assert_eq!(events[1].1, full);
    assert_eq!(events[0].1, event("e2", 5, "session.login", "failure"));
    let (seq1, seq2) = (events[1].0, events[0].0);
    assert!(seq1 < seq2, "{seq1} < {seq2}");
    assert_eq!(tx.event_seq("e1").unwrap(), Some(seq1));
    assert_eq!(tx.event_seq("e2").unwrap(), Some(seq2));
    assert_eq!(tx.event_seq("e3").unwrap(), None);
    // An id is recorded once.
    assert!(matches!(
        tx.insert_event(&event("e1", 6, "session.login", "success")),
        Err(crate::domain::storage::StoreError::Duplicate)
    ));
}

fn events_are_filtered_and_paged_by_sequence(tx: &(impl AuditReads + AuditWrites)) {
    let mut rows = vec![
        event("a", 100, "token.create", "success"),
        event("b", 200, "token.exchange", "success"),
        event("c", 300, "token.exchange", "failure"),
        event("d", 400, "token.revoke", "success"),
        event("e", 500, "token.exchange", "success"),
        event("f", 600, "session.login", "success"),
    ];
    rows[0].org_id = Some("o1".into());
    rows[1].org_id = Some("o1".into());
    rows[3].org_id = Some("o2".into());
    rows[0].actor_id = Some("u1".into());
    rows[2].actor_id = Some("u1".into());
    rows[4].actor_id = Some("u2".into());
    // Done on the token, or with access it gave.
    rows[0].target_id = Some("tok".into());
    rows[1].properties = json!({"currentContext.refreshTokenId": "tok"});
    rows[2].properties = json!({"currentContext": {"refreshTokenId": "tok"}});
    rows[3].target_id = Some("tok2".into());
    // A NUL a client sent does not keep the event from being read.
    rows[4].properties = json!({"note": "a\u{0}b", "currentContext.refreshTokenId": "tok"});
    rows[5].properties = json!({"currentContext.refreshTokenId": 7});
    for row in &rows {
        tx.insert_event(row).unwrap();
    }
    let all = tx.events(&filter(100)).unwrap();
    assert_eq!(ids(&all), ["f", "e", "d", "c", "b", "a"]);
    assert_eq!(all[1].1, rows[4]);
    let seq = |id: &str| tx.event_seq(id).unwrap().unwrap();

    let by = |f: EventFilter| ids(&tx.events(&f).unwrap()).join(",");
    let base = filter(100);
    assert_eq!(
        by(EventFilter {
            org_id: Some("o1".into()),
            ..base.clone()
        }),
        "b,a"
    );
    assert_eq!(
        by(EventFilter {
            kind: Some("token.exchange".into()),
            ..base.clone()
        }),
        "e,c,b"
    );
    assert_eq!(
        by(EventFilter {
            actor_id: Some("u1".into()),
            ..base.clone()
        }),
        "c,a"
    );
    assert_eq!(
        by(EventFilter {
            token_id: Some("tok".into()),
            ..base.clone()
        }),
        "e,b,a"
    );
    assert_eq!(
        by(EventFilter {
            token_id: Some("7".into()),
            ..base.clone()
        }),
        ""
    );
    assert_eq!(
        by(EventFilter {
            since_ms: Some(300),
            until_ms: Some(500),
            ..base.clone()
        }),
        "d,c"
    );
    assert_eq!(
        by(EventFilter {
            kind: Some("token.exchange".into()),
            actor_id: Some("u1".into()),
            org_id: None,
            ..base.clone()
        }),
        "c"
    );
    assert_eq!(
        by(EventFilter {
            kind: Some("nothing".into()),
            ..base.clone()
        }),
        ""
    );

    // Pages newest first below a sequence number, or oldest first above one.
    assert_eq!(by(filter(2)), "f,e");
    assert_eq!(
        by(EventFilter {
            before: Some(seq("e")),
            ..filter(2)
        }),
        "d,c"
    );
    assert_eq!(
        by(EventFilter {
            after: Some(seq("b")),
            ..filter(2)
        }),
        "c,d"
    );
    assert_eq!(
        by(EventFilter {
            after: Some(seq("b")),
            before: Some(seq("e")),
            kind: Some("token.exchange".into()),
            ..filter(10)
        }),
        "c"
    );
    assert_eq!(
        by(EventFilter {
            after: Some(seq("f")),
            ..filter(10)
        }),
        ""
    );
    assert_eq!(by(filter(0)), "");
}

fn the_newest_event_is_by_time_or_by_sequence_for_a_type(tx: &(impl AuditReads + AuditWrites)) {
    assert_eq!(tx.newest_event_at(None).unwrap(), None);
    assert_eq!(tx.newest_event_at(Some("token.create")).unwrap(), None);
    tx.insert_event(&event("a", 300, "token.create", "success"))
        .unwrap();
    tx.insert_event(&event("b", 200, "token.create", "success"))
        .unwrap();
    tx.insert_event(&event("c", 100, "token.revoke", "success"))
        .unwrap();
    // The latest instant of all; for a type, its last recorded event's.
    assert_eq!(tx.newest_event_at(None).unwrap(), Some(300));
    assert_eq!(tx.newest_event_at(Some("token.create")).unwrap(), Some(200));
    assert_eq!(tx.newest_event_at(Some("token.revoke")).unwrap(), Some(100));
    assert_eq!(tx.newest_event_at(Some("session.login")).unwrap(), None);
}

fn pruning_deletes_the_oldest_first_in_batches(tx: &(impl AuditReads + AuditWrites)) {
    let rows = [
        event("a", 500, "token.exchange", "success"),
        event("b", 100, "token.exchange", "failure"),
        event("c", 400, "token.exchange", "success"),
        event("d", 300, "token.create", "success"),
        event("e", 200, "token.exchange", "success"),
        event("f", 200, "token.exchange", "denied"),
        event("g", 600, "token.exchange", "success"),
    ];
    for row in &rows {
        tx.insert_event(row).unwrap();
    }
    let left = || {
        let mut ids: Vec<String> = tx
            .events(&filter(100))
            .unwrap()
            .into_iter()
            .map(|(_, e)| e.id)
            .collect();
        ids.sort();
        ids.join(",")
    };
    // Successes of the type, first recorded first, whatever their time.
    assert_eq!(tx.delete_oldest_successes("token.exchange", 2).unwrap(), 2);
    assert_eq!(left(), "b,d,e,f,g");
    assert_eq!(tx.delete_oldest_successes("token.exchange", 5).unwrap(), 2);
    assert_eq!(left(), "b,d,f");
    assert_eq!(tx.delete_oldest_successes("token.exchange", 5).unwrap(), 0);
    assert_eq!(tx.delete_oldest_successes("token.revoke", 5).unwrap(), 0);

    // Before an instant, the oldest first whatever their type or outcome.
    assert_eq!(tx.delete_events_before(300, 1).unwrap(), 1);
    assert_eq!(left(), "d,f");
    assert_eq!(tx.delete_events_before(300, 10).unwrap(), 1);
    assert_eq!(left(), "d");
    assert_eq!(tx.delete_events_before(300, 10).unwrap(), 0);
    assert_eq!(tx.delete_events_before(301, 0).unwrap(), 0);
    assert_eq!(tx.delete_events_before(301, 10).unwrap(), 1);
    assert_eq!(left(), "");
}

fn the_bytes_used_grow_with_what_is_stored(tx: &(impl AuditReads + AuditWrites)) {
    let before = tx.database_bytes_used().unwrap();
    assert!(before > 0);
    // Text that does not compress, as a busy trail's varied events.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut noise = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let count: i64 = 256;
    let size: usize = 4096;
    for i in 0..count {
        let mut e = event(&format!("e{i}"), i, "token.exchange", "success");
        e.properties = json!({ "noise": noise(size) });
        tx.insert_event(&e).unwrap();
    }
    let after = tx.database_bytes_used().unwrap();
    let stored = count as u64 * size as u64;
    assert!(
        after >= before + stored / 2,
        "{before} bytes, then {after} after {stored} more"
    );
}

contract!(
    an_event_reads_back_as_written_with_its_sequence,
    events_are_filtered_and_paged_by_sequence,
    the_newest_event_is_by_time_or_by_sequence_for_a_type,
    pruning_deletes_the_oldest_first_in_batches,
    the_bytes_used_grow_with_what_is_stored,
);
