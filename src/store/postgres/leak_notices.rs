//! Owners' notices of leaked tokens: claimed for a run in one statement,
//! so that two runs never take the same one.

use super::PgConn;
use crate::domain::records::{DueLeakNotice, NewLeakNotice};
use crate::domain::storage::{LeakNoticeWrites, StoreResult};

impl LeakNoticeWrites for PgConn {
    fn insert_leak_notice(&self, notice: &NewLeakNotice) -> StoreResult<()> {
        self.execute(
            "INSERT INTO leak_notices (token_id, email, reported_at, url, source, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $3)",
            &[
                &notice.token_id,
                &notice.email,
                &notice.reported_at,
                &notice.url,
                &notice.source,
            ],
        )?;
        Ok(())
    }

    fn claim_due_leak_notices(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueLeakNotice>> {
        // The candidates are locked as they are read, and those another
        // run holds skipped, so that two runs never claim the same one.
        let rows = self.query(
            "WITH chosen AS (
                 SELECT token_id FROM leak_notices
                 WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
                   AND (claimed_until IS NULL OR claimed_until <= $1)
                 ORDER BY reported_at, token_id COLLATE \"C\" LIMIT $3
                 FOR UPDATE SKIP LOCKED),
             claimed AS (
                 UPDATE leak_notices n SET claimed_until = $2
                 FROM chosen WHERE n.token_id = chosen.token_id
                 RETURNING n.token_id, n.email, n.reported_at, n.url, n.source, n.attempts)
             SELECT t.id, t.name, o.id, o.name, c.email, c.reported_at, c.url, c.source,
                 c.attempts
             FROM claimed c
             JOIN api_tokens t ON t.id = c.token_id
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             ORDER BY c.reported_at, c.token_id COLLATE \"C\"",
            &[&now, &claimed_until, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DueLeakNotice {
                    token_id: r.try_get(0)?,
                    token_name: r.try_get(1)?,
                    org_id: r.try_get(2)?,
                    org_name: r.try_get(3)?,
                    email: r.try_get(4)?,
                    reported_at: r.try_get(5)?,
                    url: r.try_get(6)?,
                    source: r.try_get(7)?,
                    attempts: r.try_get(8)?,
                })
            })
            .collect()
    }

    fn record_leak_notice_sent(&self, token_id: &str, at: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE leak_notices SET sent_at = $2, claimed_until = NULL WHERE token_id = $1",
            &[&token_id, &at],
        )?;
        Ok(())
    }

    fn record_leak_notice_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE leak_notices SET attempts = attempts + 1, claimed_until = NULL,
                 last_error = $4, next_attempt_at = coalesce($3, next_attempt_at),
                 failed_at = CASE WHEN $3::BIGINT IS NULL THEN $2::BIGINT END
             WHERE token_id = $1",
            &[&token_id, &at, &next_attempt_at, &error],
        )?;
        Ok(())
    }
}
