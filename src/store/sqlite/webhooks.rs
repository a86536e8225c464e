//! Webhooks and their delivery queue. A delivery is claimed for a run in
//! one statement, so that two runs never send the same one at once.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::{event_from_row, EVENT};
use crate::domain::records::{
    Event, ExpiringTokenDetail, NewWebhookDelivery, WebhookDelivery, WebhookRecord,
};
use crate::domain::storage::{StoreError, StoreResult, WebhookReads, WebhookWrites};

const WEBHOOK: &str = "SELECT w.id, w.org_id, o.name, w.url, w.events, w.expiring_days,
        w.secret, w.created_at, w.created_by, w.cursor
    FROM webhooks w LEFT JOIN orgs o ON o.id = w.org_id";

const DELIVERY: &str = "SELECT id, webhook_id, event_type, event_id, token_id, body,
        created_at, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error
    FROM webhook_deliveries";

fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<WebhookRecord> {
    let events: String = r.get(4)?;
    Ok(WebhookRecord {
        id: r.get(0)?,
        org_id: r.get(1)?,
        org_name: r.get(2)?,
        url: r.get(3)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        expiring_days: r.get(5)?,
        secret: r.get(6)?,
        created_at: r.get(7)?,
        created_by: r.get(8)?,
        cursor: r.get(9)?,
    })
}

fn delivery_from_row(r: &Row<'_>) -> rusqlite::Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: r.get(0)?,
        webhook_id: r.get(1)?,
        event_type: r.get(2)?,
        event_id: r.get(3)?,
        token_id: r.get(4)?,
        body: r.get(5)?,
        created_at: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt_at: r.get(8)?,
        delivered_at: r.get(9)?,
        failed_at: r.get(10)?,
        last_status: r.get(11)?,
        last_error: r.get(12)?,
    })
}

impl WebhookReads for Connection {
    fn webhooks(&self, org_id: Option<&str>) -> StoreResult<Vec<WebhookRecord>> {
        let rows = match org_id {
            Some(org_id) => self
                .prepare_cached(&format!(
                    "{WEBHOOK} WHERE w.org_id = ?1 ORDER BY w.created_at, w.id"
                ))?
                .query_map([org_id], webhook_from_row)?
                .collect::<Result<_, _>>()?,
            None => self
                .prepare_cached(&format!("{WEBHOOK} ORDER BY w.created_at, w.id"))?
                .query_map([], webhook_from_row)?
                .collect::<Result<_, _>>()?,
        };
        Ok(rows)
    }

    fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRecord>> {
        Ok(self
            .prepare_cached(&format!("{WEBHOOK} WHERE w.id = ?1"))?
            .query_row([id], webhook_from_row)
            .optional()?)
    }

    fn webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        Ok(self
            .prepare_cached(&format!(
                "{DELIVERY} WHERE webhook_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2"
            ))?
            .query_map(params![webhook_id, limit], delivery_from_row)?
            .collect::<Result<_, _>>()?)
    }

    fn webhook_delivery_due(&self, now: i64) -> StoreResult<bool> {
        Ok(self
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                     WHERE delivered_at IS NULL AND failed_at IS NULL
                       AND next_attempt_at <= ?1
                       AND (claimed_until IS NULL OR claimed_until <= ?1))",
            )?
            .query_row([now], |r| r.get(0))?)
    }

    fn newest_event_seq(&self) -> StoreResult<i64> {
        Ok(self
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?)
    }

    fn events_for_webhook(
        &self,
        after: i64,
        upto: i64,
        kinds: &[String],
        org_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Event)>> {
        // The kinds as one JSON array, so the statement is the same for
        // every webhook and stays cached.
        let kinds = serde_json::to_string(kinds)
            .map_err(|e| StoreError::Failed(format!("cannot encode event types: {e}")))?;
        // Each form of the statement without the filters it does not
        // use, so that it keeps to its index.
        let org = if org_id.is_some() {
            " AND org_id = ?5"
        } else {
            ""
        };
        let sql = format!(
            "{EVENT} WHERE seq > ?1 AND seq <= ?2
               AND type IN (SELECT value FROM json_each(?3)){org}
             ORDER BY seq LIMIT ?4"
        );
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = match org_id {
            Some(org_id) => stmt
                .query_map(params![after, upto, kinds, limit, org_id], event_from_row)?
                .collect::<Result<_, _>>()?,
            None => stmt
                .query_map(params![after, upto, kinds, limit], event_from_row)?
                .collect::<Result<_, _>>()?,
        };
        Ok(rows)
    }

    fn tokens_expiring_untold(
        &self,
        webhook_id: &str,
        org_id: Option<&str>,
        now: i64,
        until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiringTokenDetail>> {
        let org = if org_id.is_some() {
            " AND u.org_id = ?5"
        } else {
            ""
        };
        let sql = format!(
            "SELECT t.id, t.name, u.id, u.name, o.id, o.name, t.expires_at
             FROM api_tokens t
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             WHERE t.revoked_at IS NULL AND t.expires_at > ?2 AND t.expires_at <= ?3{org}
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                   WHERE d.webhook_id = ?1 AND d.token_id = t.id
                     AND d.event_type = 'token.expiring')
             ORDER BY t.expires_at, t.id LIMIT ?4"
        );
        let row = |r: &Row<'_>| {
            Ok(ExpiringTokenDetail {
                id: r.get(0)?,
                name: r.get(1)?,
                owner_id: r.get(2)?,
                owner_name: r.get(3)?,
                org_id: r.get(4)?,
                org_name: r.get(5)?,
                expires_at: r.get(6)?,
            })
        };
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = match org_id {
            Some(org_id) => stmt
                .query_map(params![webhook_id, now, until, limit, org_id], row)?
                .collect::<Result<_, _>>()?,
            None => stmt
                .query_map(params![webhook_id, now, until, limit], row)?
                .collect::<Result<_, _>>()?,
        };
        Ok(rows)
    }
}

impl WebhookWrites for Connection {
    fn insert_webhook(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        let events = serde_json::to_string(&webhook.events)
            .map_err(|e| StoreError::Failed(format!("cannot encode event types: {e}")))?;
        self.prepare_cached(
            "INSERT INTO webhooks (id, org_id, url, events, expiring_days, secret, created_at,
                 created_by, cursor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            webhook.id,
            webhook.org_id,
            webhook.url,
            events,
            webhook.expiring_days,
            webhook.secret,
            webhook.created_at,
            webhook.created_by,
            webhook.cursor
        ])?;
        Ok(())
    }

    fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .prepare_cached("DELETE FROM webhooks WHERE id = ?1")?
            .execute([id])?
            > 0)
    }

    fn set_webhook_cursor(&self, id: &str, cursor: i64) -> StoreResult<()> {
        self.prepare_cached("UPDATE webhooks SET cursor = ?2 WHERE id = ?1")?
            .execute(params![id, cursor])?;
        Ok(())
    }

    fn insert_webhook_delivery(
        &self,
        delivery: &NewWebhookDelivery,
        next_attempt_at: i64,
    ) -> StoreResult<bool> {
        Ok(self
            .prepare_cached(
                "INSERT OR IGNORE INTO webhook_deliveries (id, webhook_id, event_type, event_id,
                     token_id, body, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                delivery.id,
                delivery.webhook_id,
                delivery.event_type,
                delivery.event_id,
                delivery.token_id,
                delivery.body,
                delivery.created_at,
                next_attempt_at
            ])?
            > 0)
    }

    fn claim_due_webhook_deliveries(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let claimed: Vec<String> = self
            .prepare_cached(
                "UPDATE webhook_deliveries SET claimed_until = ?2
                 WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE delivered_at IS NULL AND failed_at IS NULL
                       AND next_attempt_at <= ?1
                       AND (claimed_until IS NULL OR claimed_until <= ?1)
                     ORDER BY next_attempt_at, rowid LIMIT ?3)
                 RETURNING id",
            )?
            .query_map(params![now, claimed_until, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.prepare_cached(&format!("{DELIVERY} WHERE id = ?1"))?;
        let mut due = Vec::with_capacity(claimed.len());
        for id in claimed {
            due.push(stmt.query_row([id], delivery_from_row)?);
        }
        due.sort_by_key(|d| (d.next_attempt_at, d.created_at));
        Ok(due)
    }

    fn record_webhook_delivered(&self, id: &str, at: i64, status: i64) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?2,
                 claimed_until = NULL, last_status = ?3, last_error = NULL
             WHERE id = ?1",
        )?
        .execute(params![id, at, status])?;
        Ok(())
    }

    fn record_webhook_failure(
        &self,
        id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        status: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_until = NULL,
                 last_status = ?4, last_error = ?5,
                 next_attempt_at = coalesce(?3, next_attempt_at),
                 failed_at = CASE WHEN ?3 IS NULL THEN ?2 END
             WHERE id = ?1",
        )?
        .execute(params![id, at, next_attempt_at, status, error])?;
        Ok(())
    }

    fn replace_webhook_secret(&self, id: &str, secret: &[u8]) -> StoreResult<bool> {
        Ok(self
            .prepare_cached("UPDATE webhooks SET secret = ?2 WHERE id = ?1")?
            .execute(params![id, secret])?
            > 0)
    }
}
