//! Owners' notices of leaked tokens: claimed for a run in one statement,
//! so that two runs never take the same one.

use rusqlite::{params, Connection};

use crate::domain::records::{DueLeakNotice, NewLeakNotice};
use crate::domain::storage::{LeakNoticeWrites, StoreResult};

impl LeakNoticeWrites for Connection {
    fn insert_leak_notice(&self, notice: &NewLeakNotice) -> StoreResult<()> {
        self.prepare_cached(
            "INSERT INTO leak_notices (token_id, email, reported_at, url, source, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?3)",
        )?
        .execute(params![
            notice.token_id,
            notice.email,
            notice.reported_at,
            notice.url,
            notice.source
        ])?;
        Ok(())
    }

    fn claim_due_leak_notices(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueLeakNotice>> {
        let claimed: Vec<String> = self
            .prepare_cached(
                "UPDATE leak_notices SET claimed_until = ?2
                 WHERE token_id IN (
                     SELECT token_id FROM leak_notices
                     WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1
                       AND (claimed_until IS NULL OR claimed_until <= ?1)
                     ORDER BY reported_at, token_id LIMIT ?3)
                 RETURNING token_id",
            )?
            .query_map(params![now, claimed_until, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.prepare_cached(
            "SELECT t.id, t.name, o.id, o.name, n.email, n.reported_at, n.url, n.source,
                 n.attempts
             FROM leak_notices n
             JOIN api_tokens t ON t.id = n.token_id
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             WHERE n.token_id = ?1",
        )?;
        let mut due = Vec::with_capacity(claimed.len());
        for token_id in claimed {
            due.push(stmt.query_row([&token_id], |r| {
                Ok(DueLeakNotice {
                    token_id: r.get(0)?,
                    token_name: r.get(1)?,
                    org_id: r.get(2)?,
                    org_name: r.get(3)?,
                    email: r.get(4)?,
                    reported_at: r.get(5)?,
                    url: r.get(6)?,
                    source: r.get(7)?,
                    attempts: r.get(8)?,
                })
            })?);
        }
        // SQLite returns an update's rows in no promised order.
        due.sort_by(|a, b| (a.reported_at, &a.token_id).cmp(&(b.reported_at, &b.token_id)));
        Ok(due)
    }

    fn record_leak_notice_sent(&self, token_id: &str, at: i64) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE leak_notices SET sent_at = ?2, claimed_until = NULL WHERE token_id = ?1",
        )?
        .execute(params![token_id, at])?;
        Ok(())
    }

    fn record_leak_notice_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE leak_notices SET attempts = attempts + 1, claimed_until = NULL,
                 last_error = ?4, next_attempt_at = coalesce(?3, next_attempt_at),
                 failed_at = CASE WHEN ?3 IS NULL THEN ?2 END
             WHERE token_id = ?1",
        )?
        .execute(params![token_id, at, next_attempt_at, error])?;
        Ok(())
    }
}
