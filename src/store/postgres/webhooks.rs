//! Webhooks and their delivery queue. A delivery is claimed for a run in
//! one statement, so that two runs never send the same one at once.

use tokio_postgres::Row;

use super::audit::{event_from_row, EVENT};
use super::PgConn;
use crate::domain::records::{
    Event, ExpiringTokenDetail, NewWebhookDelivery, WebhookDelivery, WebhookRecord,
};
use crate::domain::storage::{StoreError, StoreResult, WebhookReads, WebhookWrites};

const WEBHOOK: &str = "SELECT w.id, w.org_id, o.name, w.url, w.events, w.expiring_days,
        w.secret, w.created_at, w.created_by, w.cursor
    FROM webhooks w LEFT JOIN orgs o ON o.id = w.org_id";

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_type, event_id, token_id, body,
        created_at, attempts, next_attempt_at, delivered_at, failed_at, last_status, last_error";

fn webhook_from_row(r: &Row) -> StoreResult<WebhookRecord> {
    let events: &str = r.try_get(4)?;
    Ok(WebhookRecord {
        id: r.try_get(0)?,
        org_id: r.try_get(1)?,
        org_name: r.try_get(2)?,
        url: r.try_get(3)?,
        events: serde_json::from_str(events).unwrap_or_default(),
        expiring_days: r.try_get(5)?,
        secret: r.try_get(6)?,
        created_at: r.try_get(7)?,
        created_by: r.try_get(8)?,
        cursor: r.try_get(9)?,
    })
}

fn delivery_from_row(r: &Row) -> StoreResult<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: r.try_get(0)?,
        webhook_id: r.try_get(1)?,
        event_type: r.try_get(2)?,
        event_id: r.try_get(3)?,
        token_id: r.try_get(4)?,
        body: r.try_get(5)?,
        created_at: r.try_get(6)?,
        attempts: r.try_get(7)?,
        next_attempt_at: r.try_get(8)?,
        delivered_at: r.try_get(9)?,
        failed_at: r.try_get(10)?,
        last_status: r.try_get(11)?,
        last_error: r.try_get(12)?,
    })
}

fn expiring_from_row(r: &Row) -> StoreResult<ExpiringTokenDetail> {
    Ok(ExpiringTokenDetail {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        owner_id: r.try_get(2)?,
        owner_name: r.try_get(3)?,
        org_id: r.try_get(4)?,
        org_name: r.try_get(5)?,
        expires_at: r.try_get(6)?,
    })
}

impl WebhookReads for PgConn {
    fn webhooks(&self, org_id: Option<&str>) -> StoreResult<Vec<WebhookRecord>> {
        let rows = match org_id {
            Some(org_id) => self.query(
                &format!("{WEBHOOK} WHERE w.org_id = $1 ORDER BY w.created_at, w.id COLLATE \"C\""),
                &[&org_id],
            )?,
            None => self.query(
                &format!("{WEBHOOK} ORDER BY w.created_at, w.id COLLATE \"C\""),
                &[],
            )?,
        };
        rows.iter().map(webhook_from_row).collect()
    }

    fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRecord>> {
        self.query_opt(&format!("{WEBHOOK} WHERE w.id = $1"), &[&id])?
            .map(|r| webhook_from_row(&r))
            .transpose()
    }

    fn webhook_deliveries(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // seq is the order of insertion, as SQLite's rowid.
        self.query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1
                 ORDER BY created_at DESC, seq DESC LIMIT $2"
            ),
            &[&webhook_id, &i64::from(limit)],
        )?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    fn webhook_delivery_due(&self, now: i64) -> StoreResult<bool> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                     WHERE delivered_at IS NULL AND failed_at IS NULL
                       AND next_attempt_at <= $1
                       AND (claimed_until IS NULL OR claimed_until <= $1))",
                &[&now],
            )?
            .try_get(0)?)
    }

    fn newest_event_seq(&self) -> StoreResult<i64> {
        Ok(self
            .query_one("SELECT coalesce(max(seq), 0) FROM events", &[])?
            .try_get(0)?)
    }

    fn events_for_webhook(
        &self,
        after: i64,
        upto: i64,
        kinds: &[String],
        org_id: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Event)>> {
        // The kinds as one array, so the statement is the same for every
        // webhook and stays prepared; each form of it without the filters
        // it does not use, so that it keeps to its index.
        let org = if org_id.is_some() {
            " AND org_id = $5"
        } else {
            ""
        };
        let sql = format!(
            "{EVENT} WHERE seq > $1 AND seq <= $2 AND type = ANY($3){org}
             ORDER BY seq LIMIT $4"
        );
        let limit = i64::from(limit);
        let rows = match org_id {
            Some(org_id) => self.query(&sql, &[&after, &upto, &kinds, &limit, &org_id])?,
            None => self.query(&sql, &[&after, &upto, &kinds, &limit])?,
        };
        rows.iter().map(event_from_row).collect()
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
            " AND u.org_id = $5"
        } else {
            ""
        };
        let sql = format!(
            "SELECT t.id, t.name, u.id, u.name, o.id, o.name, t.expires_at
             FROM api_tokens t
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             WHERE t.revoked_at IS NULL AND t.expires_at > $2 AND t.expires_at <= $3{org}
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                   WHERE d.webhook_id = $1 AND d.token_id = t.id
                     AND d.event_type = 'token.expiring')
             ORDER BY t.expires_at, t.id COLLATE \"C\" LIMIT $4"
        );
        let limit = i64::from(limit);
        let rows = match org_id {
            Some(org_id) => self.query(&sql, &[&webhook_id, &now, &until, &limit, &org_id])?,
            None => self.query(&sql, &[&webhook_id, &now, &until, &limit])?,
        };
        rows.iter().map(expiring_from_row).collect()
    }
}

impl WebhookWrites for PgConn {
    fn insert_webhook(&self, webhook: &WebhookRecord) -> StoreResult<()> {
        let events = serde_json::to_string(&webhook.events)
            .map_err(|e| StoreError::Failed(format!("cannot encode event types: {e}")))?;
        self.execute(
            "INSERT INTO webhooks (id, org_id, url, events, expiring_days, secret, created_at,
                 created_by, cursor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &webhook.id,
                &webhook.org_id,
                &webhook.url,
                &events,
                &webhook.expiring_days,
                &webhook.secret,
                &webhook.created_at,
                &webhook.created_by,
                &webhook.cursor,
            ],
        )?;
        Ok(())
    }

    fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM webhooks WHERE id = $1", &[&id])? > 0)
    }

    fn set_webhook_cursor(&self, id: &str, cursor: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE webhooks SET cursor = $2 WHERE id = $1",
            &[&id, &cursor],
        )?;
        Ok(())
    }

    fn insert_webhook_delivery(
        &self,
        delivery: &NewWebhookDelivery,
        next_attempt_at: i64,
    ) -> StoreResult<bool> {
        Ok(self.execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_type, event_id,
                 token_id, body, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT DO NOTHING",
            &[
                &delivery.id,
                &delivery.webhook_id,
                &delivery.event_type,
                &delivery.event_id,
                &delivery.token_id,
                &delivery.body,
                &delivery.created_at,
                &next_attempt_at,
            ],
        )? > 0)
    }

    fn claim_due_webhook_deliveries(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        // The due deliveries are locked as they are read, and those another
        // run holds skipped, so that two runs never claim the same one. They
        // come back as SQLite's claim returns them: by when they are due and
        // when they were made, then as they were made (its update returns
        // its rows by rowid, and the sort after it is stable).
        self.query(
            &format!(
                "WITH claimed AS (
                     UPDATE webhook_deliveries SET claimed_until = $2
                     WHERE id IN (
                         SELECT id FROM webhook_deliveries
                         WHERE delivered_at IS NULL AND failed_at IS NULL
                           AND next_attempt_at <= $1
                           AND (claimed_until IS NULL OR claimed_until <= $1)
                         ORDER BY next_attempt_at, seq LIMIT $3
                         FOR UPDATE SKIP LOCKED)
                     RETURNING seq, {DELIVERY_COLUMNS})
                 SELECT {DELIVERY_COLUMNS} FROM claimed
                 ORDER BY next_attempt_at, created_at, seq"
            ),
            &[&now, &claimed_until, &i64::from(limit)],
        )?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    fn record_webhook_delivered(&self, id: &str, at: i64, status: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $2,
                 claimed_until = NULL, last_status = $3, last_error = NULL
             WHERE id = $1",
            &[&id, &at, &status],
        )?;
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
        self.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, claimed_until = NULL,
                 last_status = $4, last_error = $5,
                 next_attempt_at = coalesce($3, next_attempt_at),
                 failed_at = CASE WHEN $3::BIGINT IS NULL THEN $2::BIGINT END
             WHERE id = $1",
            &[&id, &at, &next_attempt_at, &status, &error],
        )?;
        Ok(())
    }

    fn replace_webhook_secret(&self, id: &str, secret: &[u8]) -> StoreResult<bool> {
        Ok(self.execute(
            "UPDATE webhooks SET secret = $2 WHERE id = $1",
            &[&id, &secret],
        )? > 0)
    }
}
