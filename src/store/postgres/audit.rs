//! The audit trail's events.

use tokio_postgres::Row;

use super::listing::Conditions;
use super::PgConn;
use crate::domain::records::{Event, EventFilter};
use crate::domain::storage::{AuditReads, AuditWrites, StoreError, StoreResult};

pub(super) const EVENT: &str =
    "SELECT seq, id, at_ms, type, org_id, actor_id, actor_name, target_type,
        target_id, target_name, outcome, client_ip, properties FROM events";

impl AuditReads for PgConn {
    /// The bytes the audit trail's rows hold, plus the other tables' size
    /// on disk. PostgreSQL keeps the space deleted rows leave in its files
    /// (for new rows, or until a VACUUM FULL), so the database's size on
    /// disk hardly falls when events are deleted; the rows' own size does,
    /// at once, which is what the size bound needs to see. It reads the
    /// whole trail, as SQLite's `dbstat` does: once a minute, at most.
    fn database_bytes_used(&self) -> StoreResult<u64> {
        let row = self.query_one(
            "SELECT (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM events e)::BIGINT
                  + (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = current_schema() AND c.relkind = 'r'
                        AND c.relname <> 'events')::BIGINT",
            &[],
        )?;
        let bytes: i64 = row.try_get(0)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    fn newest_event_at(&self, kind: Option<&str>) -> StoreResult<Option<i64>> {
        let newest = match kind {
            None => self
                .query_one("SELECT max(at_ms) FROM events", &[])?
                .try_get(0)?,
            Some(kind) => self
                .query_opt(
                    "SELECT at_ms FROM events WHERE type = $1 ORDER BY seq DESC LIMIT 1",
                    &[&kind],
                )?
                .map(|r| r.try_get(0))
                .transpose()?,
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
            // Compared as JSON, so that only a string matches, as with
            // SQLite's json_extract. PostgreSQL refuses to read a JSON text
            // holding the escape \u0000 (a NUL a client sent), where SQLite
            // reads it; such a character, never part of a token id, is read
            // as another.
            conditions.push(
                "(target_id = ? OR (replace(properties, '\\u0000', '\\ufffd')::jsonb
                     -> 'currentContext.refreshTokenId') = to_jsonb(?::TEXT))",
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
        let sql = format!(
            "{EVENT}{} ORDER BY seq {order} LIMIT ${}",
            conditions.sql(),
            conditions.next_placeholder()
        );
        let mut args = conditions.args;
        args.push(&limit);
        self.query(&sql, &args)?
            .iter()
            .map(event_from_row)
            .collect()
    }

    fn event_seq(&self, id: &str) -> StoreResult<Option<i64>> {
        Ok(self
            .query_opt("SELECT seq FROM events WHERE id = $1", &[&id])?
            .map(|r| r.try_get(0))
            .transpose()?)
    }
}

impl AuditWrites for PgConn {
    fn insert_event(&self, event: &Event) -> StoreResult<()> {
        let properties = serde_json::to_string(&event.properties)
            .map_err(|e| StoreError::Failed(format!("cannot encode an event: {e}")))?;
        self.execute(
            "INSERT INTO events (id, at_ms, type, org_id, actor_id, actor_name, target_type,
                 target_id, target_name, outcome, client_ip, properties)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &event.id,
                &event.at_ms,
                &event.kind,
                &event.org_id,
                &event.actor_id,
                &event.actor_name,
                &event.target_type,
                &event.target_id,
                &event.target_name,
                &event.outcome,
                &event.client_ip,
                &properties,
            ],
        )?;
        Ok(())
    }

    fn delete_oldest_successes(&self, kind: &str, batch: u32) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM events WHERE seq IN
               (SELECT seq FROM events WHERE type = $1 AND outcome = 'success'
                ORDER BY seq LIMIT $2)",
            &[&kind, &i64::from(batch)],
        )
    }

    fn delete_events_before(&self, at_ms: i64, batch: u32) -> StoreResult<u64> {
        // Events of the same millisecond go oldest first, as SQLite walks
        // its index on at_ms.
        self.execute(
            "DELETE FROM events WHERE seq IN
               (SELECT seq FROM events WHERE at_ms < $1 ORDER BY at_ms, seq LIMIT $2)",
            &[&at_ms, &i64::from(batch)],
        )
    }
}

pub(super) fn event_from_row(r: &Row) -> StoreResult<(i64, Event)> {
    let outcome = match r.try_get::<_, &str>(10)? {
        "success" => "success",
        "denied" => "denied",
        _ => "failure",
    };
    let properties: &str = r.try_get(12)?;
    Ok((
        r.try_get(0)?,
        Event {
            id: r.try_get(1)?,
            at_ms: r.try_get(2)?,
            kind: r.try_get(3)?,
            org_id: r.try_get(4)?,
            actor_id: r.try_get(5)?,
            actor_name: r.try_get(6)?,
            target_type: r.try_get(7)?,
            target_id: r.try_get(8)?,
            target_name: r.try_get(9)?,
            outcome,
            client_ip: r.try_get(11)?,
            properties: serde_json::from_str(properties).unwrap_or_default(),
        },
    ))
}
