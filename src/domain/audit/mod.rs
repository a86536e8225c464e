//! The audit trail: what happened, by whom, to what, from where. An event
//! is written in the same transaction as the action it records, so that no
//! acknowledged action is without its event. Events done with access
//! derived from an API token carry `currentContext.refreshTokenId` (seed
//! 003); those of a password session its `currentContext.sessionId`.

pub(in crate::domain) mod refusals;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::domain::records::{Account, Event, EventFilter};
use crate::domain::storage::{ClusterNotice, StoreResult, Transaction};
use crate::domain::{AccessOrigin, Authority, Caller, DomainError};
use refusals::Summary;

/// Events deleted per transaction by a prune.
const PRUNE_BATCH: u32 = 5_000;
/// Exchanges the size bound deletes at a time (some 650 KB), checking the
/// size in between.
const SIZE_BATCH: u32 = 1_000;
/// The event of a successful exchange: what the size bound deletes.
const EXCHANGE_EVENT: &str = "token.exchange";

/// Every event type the trail writes: `Event::new` refuses any other in
/// debug builds (the tests), and `tests/tidy.rs` holds
/// `docs/openapi.yaml`'s `Event.type` enum to this list, so the two cannot
/// drift apart.
pub const EVENT_TYPES: &[&str] = &[
    "system.initialize",
    "system.upgrade",
    "session.login",
    "session.login_failed",
    "session.locked",
    "session.logout",
    "token.create",
    "token.exchange",
    "token.exchange_failed",
    "token.revoke",
    "org.create",
    "user.create",
    "user.disable",
    "user.enable",
    "user.password_change",
    "user.unlock",
    "role.create",
    "role.update",
    "role.delete",
    "role.publish",
    "role.withdraw",
    "role.grant",
    "role.revoke",
    "group.create",
    "group.member_add",
    "group.member_remove",
    "group.role_grant",
    "group.role_revoke",
    "service.create",
    "service.update",
    "bundle.create",
    "bundle.update",
    "bundle.publish",
    "bundle.withdraw",
    "key.rotate",
    "access.denied",
    "access_token.revoke",
    "service.client_create",
    "service.client_revoke",
    "oauth_client.register",
    "oauth_client.delete",
    "service_account.create",
    "service_account.role_change",
    "service_account.revoke",
    "service_account.delete",
    "service_account.device_request",
    "service_account.device_grant",
    "service_account.device_deny",
    "service_account.activate",
    "service_account.token_reuse",
    "audit.prune",
    "policy.update",
    "user.update",
    "token.rotate",
    "token.leaked",
    "token.leak_notice_sent",
    "token.leak_notice_failed",
    "token.jwt_bearer_failed",
    "token.reminder_sent",
    "token.reminder_failed",
    "token.expiry_digest",
    "introspection.client_failed",
    "session.end",
    "clock.confirm",
    "backup.create",
    "backup.restore",
    "key.seal",
    "key.reseal",
    "user.2fa.begin",
    "user.2fa.enrol",
    "user.2fa.disable",
    "user.2fa.reset",
    "session.second_factor_required",
    "session.second_factor_failed",
    "webhook.create",
    "webhook.delete",
    "webhook.delivery_failed",
];

impl Authority {
    /// A new event of `kind`, stamped now, to be filled in and written with
    /// the action it records.
    pub(in crate::domain) fn event(
        &self,
        kind: &str,
        outcome: &'static str,
    ) -> Result<Event, DomainError> {
        let at_ms = self.shared.ambient.clock.now_millis();
        Ok(Event::new(
            self.shared.ambient.new_ordered_id(at_ms)?,
            at_ms,
            kind,
            outcome,
        ))
    }

    /// An event done by whoever holds the database file (the admin CLI),
    /// named by `Settings::operator` (`cli:<OS user>`), or by the service
    /// itself (`tokend`): that name is the actor, and no user is.
    pub(in crate::domain) fn operator_event(&self, kind: &str) -> Result<Event, DomainError> {
        let mut event = self.event(kind, "success")?;
        let operator = self
            .settings()
            .operator
            .clone()
            .unwrap_or_else(|| "tokend".into());
        event.properties["operator"] = json!(operator);
        if let Some(replayed) = &self.replaying {
            event.properties["replays"] = json!(replayed);
        }
        event.actor_name = Some(operator);
        Ok(event)
    }

    /// An event of `kind` done by `actor`, that succeeded.
    pub(in crate::domain) fn event_by(
        &self,
        actor: Actor<'_>,
        kind: &str,
    ) -> Result<Event, DomainError> {
        match actor {
            Actor::Caller(caller) => Ok(self.event(kind, "success")?.by(caller)),
            Actor::Operator => self.operator_event(kind),
        }
    }

    /// Writes `change` and its event in one commit.
    pub(in crate::domain) fn write_recorded<T: Send + 'static>(
        &mut self,
        event: Event,
        mut change: impl FnMut(&dyn Transaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.store.write(move |tx| {
            let value = change(tx)?;
            tx.insert_event(&event)?;
            Ok(value)
        })
    }

    /// Writes `change`, and its event when it changed something (true).
    pub(in crate::domain) fn write_if_changed(
        &mut self,
        event: Event,
        mut change: impl FnMut(&dyn Transaction) -> StoreResult<bool> + Send + 'static,
    ) -> StoreResult<bool> {
        self.store.write(move |tx| {
            let changed = change(tx)?;
            if changed {
                tx.insert_event(&event)?;
            }
            Ok(changed)
        })
    }

    /// Records an event that nothing else is written with (a refusal):
    /// queued, not waited for, so that a flood of refusals neither waits
    /// for syncs nor holds up the writer for others. Never dropped: a full
    /// queue makes the caller wait. Past a rate per source, counted instead
    /// and written as one summary (`refusals`).
    pub(in crate::domain) fn record_refusal(&self, event: Event) {
        let (record, ended) = self.shared.refusals.admit(&event, self.now());
        let mut events = Vec::with_capacity(2);
        if let Some(summary) = ended {
            events.extend(self.summary_event(summary).ok());
        }
        if record {
            self.tell_others(ClusterNotice::RefusalRecorded {
                event_kind: event.kind.clone(),
                client_ip: event.client_ip.clone(),
                target_id: event.target_id.clone(),
                at: self.now(),
            });
            events.push(event);
        }
        if events.is_empty() {
            return;
        }
        let kind = events[0].kind.clone();
        if let Err(e) = self.store.queue_events(events) {
            crate::logging::warn(format!("tokend: could not record a {kind} event: {e}"));
        }
    }

    /// Writes the summaries of refusals counted in windows that have ended
    /// (every window, with `all`); how many.
    pub fn write_refusal_summaries(&mut self, all: bool) -> Result<usize, DomainError> {
        let summaries = self.shared.refusals.take_summaries(self.now(), all);
        if summaries.is_empty() {
            return Ok(0);
        }
        let events = summaries
            .iter()
            .map(|summary| self.summary_event(summary.clone()))
            .collect::<Result<Vec<_>, _>>();
        let written = events.and_then(|events| {
            Ok(self
                .store
                .write(move |tx| events.iter().try_for_each(|event| tx.insert_event(event)))?)
        });
        match written {
            Ok(()) => Ok(summaries.len()),
            Err(e) => {
                // Counted refusals are not dropped: the next pass tries again.
                self.shared.refusals.put_back(summaries);
                Err(e)
            }
        }
    }

    /// One event standing for `summary.count` refusals like `summary.last`.
    fn summary_event(&self, summary: Summary) -> Result<Event, DomainError> {
        let Summary {
            last,
            count,
            first_ms,
        } = summary;
        let mut event = self.event(&last.kind, last.outcome)?;
        let last_ms = last.at_ms;
        event = Event {
            id: event.id,
            at_ms: event.at_ms,
            ..last
        };
        event.properties["summary"] = json!({
            "count": count,
            "first": format_time_millis(first_ms),
            "last": format_time_millis(last_ms),
        });
        Ok(event)
    }

    /// Refuses `caller` (403), recording the refusal as `access.denied`.
    pub(in crate::domain) fn deny(&self, caller: &Caller, reason: String) -> DomainError {
        if let Ok(event) = self.event("access.denied", "denied") {
            self.record_refusal(event.by(caller).with("reason", json!(reason)));
        }
        DomainError::Forbidden(reason)
    }

    /// Deletes the events before `before_ms`, a batch per transaction so
    /// that other writes go on in between, and records that it did.
    pub fn prune_events(&mut self, before_ms: i64) -> Result<u64, DomainError> {
        let mut deleted = 0;
        loop {
            let batch = self
                .store
                .write(move |tx| tx.delete_events_before(before_ms, PRUNE_BATCH))?;
            deleted += batch;
            if batch < u64::from(PRUNE_BATCH) {
                break;
            }
        }
        if deleted > 0 {
            let before = format_time_millis(before_ms);
            let event = self
                .operator_event("audit.prune")?
                .with("before", json!(before))
                .with("deleted", json!(deleted));
            self.store.write(move |tx| tx.insert_event(&event))?;
        }
        Ok(deleted)
    }

    /// The bytes the database holds (less its free pages).
    pub fn database_bytes_used(&self) -> Result<u64, DomainError> {
        Ok(self.db().database_bytes_used()?)
    }

    /// The size bound: while the database holds more than
    /// `Settings::audit_max_bytes`, deletes the oldest successful exchanges
    /// (the bulk of a busy trail), never a refusal or a change, and records
    /// that it did; how many. Stops, saying why, when no exchange is left
    /// to delete.
    pub fn apply_audit_size_bound(&mut self) -> Result<u64, DomainError> {
        let Some(max) = self.settings().audit_max_bytes else {
            return Ok(0);
        };
        let used = self.db().database_bytes_used()?;
        if used <= max {
            return Ok(0);
        }
        // Down to nine tenths, so that the bound is not met again at once.
        let target = max / 10 * 9;
        let mut deleted = 0;
        let mut now_used = used;
        while now_used > target {
            let batch = self
                .store
                .write(move |tx| tx.delete_oldest_successes(EXCHANGE_EVENT, SIZE_BATCH))?;
            deleted += batch;
            now_used = self.db().database_bytes_used()?;
            if batch < u64::from(SIZE_BATCH) {
                break;
            }
        }
        if deleted > 0 {
            let event = self
                .operator_event("audit.prune")?
                .with("reason", json!("size"))
                .with("type", json!(EXCHANGE_EVENT))
                .with("deleted", json!(deleted))
                .with("bytes_before", json!(used))
                .with("bytes_after", json!(now_used));
            self.store.write(move |tx| tx.insert_event(&event))?;
        }
        if now_used > max {
            return Err(DomainError::Unavailable(format!(
                "the database holds {now_used} bytes, over TOKEND_AUDIT_MAX_SIZE ({max}), \
                 and no successful exchange is left to delete: refusals and changes are \
                 kept; shorten TOKEND_AUDIT_RETENTION or raise the bound"
            )));
        }
        Ok(deleted)
    }

    /// The retention pass: prunes what is older than `Settings::audit_retention`,
    /// unless the wall clock is in doubt (a clock far ahead would prune the
    /// whole trail).
    pub fn apply_audit_retention(&mut self) -> Result<u64, DomainError> {
        match self.settings().audit_retention {
            Some(age) => {
                self.clock_trusted()?;
                self.prune_events_older_than(age)
            }
            None => Ok(0),
        }
    }

    pub fn prune_events_older_than(&mut self, age: Duration) -> Result<u64, DomainError> {
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let before_ms = self
            .shared
            .ambient
            .clock
            .now_millis()
            .saturating_sub(age_ms);
        self.prune_events(before_ms)
    }

    /// A time an admin gives (see `TimeOrAge`), in Unix milliseconds, an
    /// age counted back from now by this authority's clock.
    pub fn time_or_age(&self, text: &str) -> Result<i64, DomainError> {
        let time = TimeOrAge::parse(text).ok_or_else(|| {
            DomainError::Invalid(format!(
                "{text:?} is neither a date, an RFC 3339 time nor an age such as 1h or 90days"
            ))
        })?;
        Ok(self.resolve_time(time))
    }

    /// `time` in Unix milliseconds, an age counted back from now.
    pub fn resolve_time(&self, time: TimeOrAge) -> i64 {
        match time {
            TimeOrAge::At(at_ms) => at_ms,
            TimeOrAge::Ago(age) => {
                let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                self.shared
                    .ambient
                    .clock
                    .now_millis()
                    .saturating_sub(age_ms)
                    .max(0)
            }
        }
    }

    /// The id of org `name`, if the caller may read its events.
    pub fn org_id_in_reach(&self, caller: &Caller, name: &str) -> Result<String, DomainError> {
        Ok(self.visible_org(caller, name)?.id)
    }

    /// Events for the admin CLI, which holds the database file and so reads
    /// every org's; `org` by name.
    pub fn events_for_operator(
        &self,
        org: Option<&str>,
        mut filter: EventFilter,
    ) -> Result<Vec<(i64, Event)>, DomainError> {
        if let Some(name) = org {
            filter.org_id = Some(self.org(name)?.id);
        }
        Ok(self.db().events(&filter)?)
    }

    /// Where the event `id` stands in the trail, to resume after it.
    pub fn event_position(&self, id: &str) -> Result<i64, DomainError> {
        let unknown = || DomainError::NotFound(format!("no event {id:?}; it may have been pruned"));
        let id = crate::domain::parse_id(id).ok_or_else(unknown)?;
        self.db().event_seq(&id)?.ok_or_else(unknown)
    }

    /// Events the caller may read, newest first, a page at a time: needs
    /// "Audit: View"; an org admin reads its own org's, the provider all.
    pub fn events(
        &self,
        caller: &Caller,
        mut filter: EventFilter,
    ) -> Result<EventPage, DomainError> {
        self.require(caller, crate::domain::Right::AuditView)?;
        let own_org_only = !self.sees_every_org(caller);
        if own_org_only {
            filter.org_id = Some(caller.account.org.id.clone());
        }
        let limit = filter.limit;
        let mut events = self.db().events(&filter)?;
        if own_org_only {
            self.hide_foreign_addresses(&caller.account.org.id, &mut events)?;
        }
        let next_cursor = (events.len() as u32 == limit)
            .then(|| events.last().map(|(seq, _)| *seq))
            .flatten();
        Ok(EventPage {
            events,
            next_cursor,
        })
    }
}

impl Authority {
    /// Blanks the client address of events in `org_id`'s trail done by
    /// users of another org (the provider's admins acting in a tenant):
    /// where they work from is not the tenant's to know.
    fn hide_foreign_addresses(
        &self,
        org_id: &str,
        events: &mut [(i64, Event)],
    ) -> Result<(), DomainError> {
        let mut own: HashMap<String, bool> = HashMap::new();
        for (_, event) in events.iter_mut() {
            let Some(actor) = event.actor_id.clone() else {
                continue;
            };
            if event.client_ip.is_none() {
                continue;
            }
            let is_own = match own.get(&actor) {
                Some(known) => *known,
                None => {
                    let known = self.db().user(&actor)?.is_some_and(|u| u.org_id == org_id);
                    own.insert(actor, known);
                    known
                }
            };
            if !is_own {
                event.client_ip = None;
            }
        }
        Ok(())
    }
}

/// Who does an action, as its audit event names them.
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    /// A request's caller.
    Caller(&'a Caller),
    /// Whoever holds the database file: the admin CLI, named by
    /// `Settings::operator`.
    Operator,
}

impl Event {
    /// An event with no actor yet.
    pub fn new(id: String, at_ms: i64, kind: &str, outcome: &'static str) -> Event {
        debug_assert!(
            EVENT_TYPES.contains(&kind),
            "event type {kind} is not in EVENT_TYPES"
        );
        Event {
            id,
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

    /// Done by `caller`: its user, org, address and the origin of its
    /// access.
    pub fn by(mut self, caller: &Caller) -> Event {
        self = self.by_account(&caller.account).from(caller.client);
        let (key, value) = match &caller.origin {
            AccessOrigin::ApiToken(id) => ("currentContext.refreshTokenId", id),
            AccessOrigin::Session(id) => ("currentContext.sessionId", id),
        };
        self.properties[key] = json!(value);
        self
    }

    pub fn by_account(mut self, account: &Account) -> Event {
        self.org_id = Some(account.org.id.clone());
        self.actor_id = Some(account.user_id.clone());
        self.actor_name = Some(format!("{}@{}", account.user_name, account.org.name));
        self
    }

    pub fn on(mut self, kind: &str, id: &str, name: &str) -> Event {
        self.target_type = Some(kind.to_string());
        self.target_id = Some(id.to_string());
        self.target_name = Some(name.to_string());
        self
    }

    /// Concerning `org_id`: whose admins read it. By default the actor's.
    pub fn in_org(mut self, org_id: &str) -> Event {
        self.org_id = Some(org_id.to_string());
        self
    }

    pub fn from(mut self, client: IpAddr) -> Event {
        self.client_ip = Some(client.to_string());
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> Event {
        self.properties[key] = value;
        self
    }

    /// When it happened, RFC 3339 UTC to the millisecond.
    pub fn time(&self) -> String {
        format_time_millis(self.at_ms)
    }

    /// The one JSON shape of an event, for `GET /api/audit` and
    /// `tokend audit --format json-lines` alike.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "time": self.time(),
            "type": self.kind,
            "org_id": self.org_id,
            "actor": { "id": self.actor_id, "name": self.actor_name },
            "target": { "type": self.target_type, "id": self.target_id, "name": self.target_name },
            "outcome": self.outcome,
            "client_ip": self.client_ip,
            "additionalProperties": self.properties,
        })
    }

    /// An event read back from `to_json`'s shape (a line of `tokend audit
    /// --format json-lines`); None when `value` is not one.
    pub fn from_json(value: &Value) -> Option<Event> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let outcome = match value.get("outcome")?.as_str()? {
            "success" => "success",
            "failure" => "failure",
            "denied" => "denied",
            _ => return None,
        };
        let actor = value.get("actor")?;
        let target = value.get("target")?;
        Some(Event {
            id: text(value.get("id")?)?,
            at_ms: parse_event_time(value.get("time")?.as_str()?)?,
            kind: text(value.get("type")?)?,
            org_id: text(value.get("org_id")?),
            actor_id: text(actor.get("id")?),
            actor_name: text(actor.get("name")?),
            target_type: text(target.get("type")?),
            target_id: text(target.get("id")?),
            target_name: text(target.get("name")?),
            outcome,
            client_ip: text(value.get("client_ip")?),
            properties: value
                .get("additionalProperties")
                .filter(|p| p.is_object())?
                .clone(),
        })
    }
}

/// An RFC 3339 time, as `since` and `until` take it, in milliseconds since
/// the epoch; None for anything else, or a time before 1970.
pub fn parse_event_time(text: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(text)
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
}

/// A time as an admin writes one: an RFC 3339 time, a date (its
/// midnight, UTC), or an age back from now (`90s`, `1h`, `7days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrAge {
    /// Unix milliseconds.
    At(i64),
    Ago(Duration),
}

impl TimeOrAge {
    pub fn parse(text: &str) -> Option<TimeOrAge> {
        let text = text.trim();
        // A bare date means its midnight, UTC.
        let time = match text.len() {
            10 => format!("{text}T00:00:00Z"),
            _ => text.to_string(),
        };
        if let Some(at) = parse_event_time(&time) {
            return Some(TimeOrAge::At(at));
        }
        humantime::parse_duration(text).ok().map(TimeOrAge::Ago)
    }
}

/// A page of events and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<(i64, Event)>,
    pub next_cursor: Option<i64>,
}

/// A Unix time in milliseconds as RFC 3339 UTC.
pub(in crate::domain) fn format_time_millis(at_ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(at_ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}
