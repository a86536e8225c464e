//! The typed client's calls on the audit trail, `GET /api/audit`: a page
//! with the filters as the API documents them (`type=token.create&limit=2`,
//! or empty), every event over all pages, and waiting for events that are
//! written a moment after their answer (refusals). Events stay JSON: tests
//! read many of their fields, and compare some of them whole.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::super::process::eventually;
use super::super::wire::Response;
use super::{with_query, Call, Client};

/// A page of the trail, newest first.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditPage {
    pub events: Vec<Value>,
    /// The `cursor` of the next (older) page; `None` on the last.
    pub next_cursor: Option<i64>,
}

/// The `type` of each event, in order.
pub fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap_or_else(|| panic!("an event without a type: {e}"))
                .to_owned()
        })
        .collect()
}

impl Client {
    /// `GET /api/audit?{query}`.
    pub fn try_audit(&self, jwt: &str, query: &str) -> Response {
        let path = with_query("/api/audit", query);
        self.send(Call::get("audit", path).bearer(jwt))
    }

    pub fn audit(&self, jwt: &str, query: &str) -> AuditPage {
        self.expect(self.try_audit(jwt, query), 200)
    }

    /// Every event `query` matches, over all pages.
    pub fn every_event(&self, jwt: &str, query: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.audit(jwt, &format!("{query}&limit=500{cursor}"));
            events.extend(page.events);
            match page.next_cursor {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return events,
            }
        }
    }

    /// The `count` events of type `kind` in the audit trail as `jwt` reads
    /// it, waiting up to 5 s for them (refusals are written a moment after
    /// their answer); panics when they do not all arrive.
    pub fn recorded_events(&self, jwt: &str, kind: &str, count: usize) -> Vec<Value> {
        eventually(Duration::from_secs(5), || {
            let events = self.audit(jwt, &format!("type={kind}&limit=500")).events;
            (events.len() == count).then_some(events)
        })
        .unwrap_or_else(|| panic!("{count} {kind} events in the trail"))
    }
}
