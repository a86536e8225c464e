//! The audit trail's events.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Conditions;
use crate::domain::records::{Event, EventFilter};
use crate::domain::storage::{AuditReads, AuditWrites, StoreError, StoreResult};

pub(super) const EVENT: &str =
    "SELECT seq, id, at_ms, type, org_id, actor_id, actor_name, target_type,
        target_id, target_name, outcome, client_ip, properties FROM events";

impl AuditReads for Connection {
    fn database_bytes_used(&self) -> StoreResult<u64> {
        let pragma = |name: &str| -> StoreResult<i64> {
            Ok(self.pragma_query_value(None, name, |r| r.get(0))?)
        };
        let pages = pragma("page_count")? - pragma("freelist_count")?;
        Ok((pages.max(0) as u64).saturating_mul(pragma("page_size")?.max(0) as u64))
    }

    fn newest_event_at(&self, kind: Option<&str>) -> StoreResult<Option<i64>> {
        let newest = match kind {
            None => self
                .prepare_cached("SELECT max(at_ms) FROM events")?
                .query_row([], |r| r.get(0))?,
            Some(kind) => self
                .prepare_cached(
                    "SELECT at_ms FROM events WHERE type = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([kind], |r| r.get(0))
                .optional()?,
        };
        Ok(newest)
    }

    fn events(&self, filter: &EventFilter) -> StoreResult<Vec<(i64, Event)>> {
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            conditions.push("org_id = ?", &[org_id]);
        }
        if let Some(kind) = &filter.kind {
            conditions.push("type = ?", &[kind]);
        }
        if let Some(actor_id) = &filter.actor_id {
            conditions.push("actor_id = ?", &[actor_id]);
        }
        if let Some(token_id) = &filter.token_id {
            conditions.push(
                "(target_id = ? OR json_extract(properties, '$.\"currentContext.refreshTokenId\"') = ?)",
                &[token_id, token_id],
            );
        }
        if let Some(since) = &filter.since_ms {
            conditions.push("at_ms >= ?", &[since]);
        }
        if let Some(until) = &filter.until_ms {
            conditions.push("at_ms < ?", &[until]);
        }
        if let Some(before) = &filter.before {
            conditions.push("seq < ?", &[before]);
        }
        let order = match &filter.after {
            Some(after) => {
                conditions.push("seq > ?", &[after]);
                "ASC"
            }
            None => "DESC",
        };
        // No count(*): the trail grows without bound and a page needs none.
        let limit = i64::from(filter.limit);
        let sql = format!("{EVENT}{} ORDER BY seq {order} LIMIT ?", conditions.sql());
        let mut args = conditions.args;
        args.push(&limit);
        let events = self
            .prepare_cached(&sql)?
            .query_map(args.as_slice(), event_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(events)
    }

    fn event_seq(&self, id: &str) -> StoreResult<Option<i64>> {
        Ok(self
            .prepare_cached("SELECT seq FROM events WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }
}

impl AuditWrites for Connection {
    fn insert_event(&self, event: &Event) -> StoreResult<()> {
        let properties = serde_json::to_string(&event.properties)
            .map_err(|e| StoreError::Failed(format!("cannot encode an event: {e}")))?;
        self.prepare_cached(
            "INSERT INTO events (id, at_ms, type, org_id, actor_id, actor_name, target_type,
                 target_id, target_name, outcome, client_ip, properties)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            event.id,
            event.at_ms,
            event.kind,
            event.org_id,
            event.actor_id,
            event.actor_name,
            event.target_type,
            event.target_id,
            event.target_name,
            event.outcome,
            event.client_ip,
            properties
        ])?;
        Ok(())
    }

    fn delete_oldest_successes(&self, kind: &str, batch: u32) -> StoreResult<u64> {
        let deleted = self
            .prepare_cached(
                "DELETE FROM events WHERE seq IN
                   (SELECT seq FROM events WHERE type = ?1 AND outcome = 'success'
                    ORDER BY seq LIMIT ?2)",
            )?
            .execute(params![kind, batch])?;
        Ok(deleted as u64)
    }

    fn delete_events_before(&self, at_ms: i64, batch: u32) -> StoreResult<u64> {
        let deleted = self
            .prepare_cached(
                "DELETE FROM events WHERE seq IN
                   (SELECT seq FROM events WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
            )?
            .execute(params![at_ms, batch])?;
        Ok(deleted as u64)
    }
}

pub(super) fn event_from_row(r: &Row<'_>) -> rusqlite::Result<(i64, Event)> {
    let outcome = match r.get::<_, String>(10)?.as_str() {
        "success" => "success",
        "denied" => "denied",
        _ => "failure",
    };
    let properties: String = r.get(12)?;
    Ok((
        r.get(0)?,
        Event {
            id: r.get(1)?,
            at_ms: r.get(2)?,
            kind: r.get(3)?,
            org_id: r.get(4)?,
            actor_id: r.get(5)?,
            actor_name: r.get(6)?,
            target_type: r.get(7)?,
            target_id: r.get(8)?,
            target_name: r.get(9)?,
            outcome,
            client_ip: r.get(11)?,
            properties: serde_json::from_str(&properties).unwrap_or_default(),
        },
    ))
}
