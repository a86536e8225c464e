//! E-mail reminders before tokens expire: claimed for a run in one
//! statement, so that two runs never take the same one.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::records::{DueReminder, ExpiringToken, NewReminder, OwnerMailLimit};
use crate::domain::storage::{ReminderReads, ReminderWrites, StoreResult};

impl ReminderWrites for Connection {
    fn insert_reminder(&self, reminder: &NewReminder) -> StoreResult<()> {
        self.execute(
            "INSERT INTO token_reminders (token_id, email, before_s, due_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![
                reminder.token_id,
                reminder.email,
                reminder.before_s,
                reminder.due_at
            ],
        )?;
        Ok(())
    }

    fn claim_due_reminders(
        &self,
        now: i64,
        claimed_until: i64,
        limit: u32,
        per_owner: OwnerMailLimit,
    ) -> StoreResult<Vec<DueReminder>> {
        // An owner's mails in the window (sent, or claimed by a run and
        // not yet settled) plus its place among this claim's candidates
        // stay within the limit; the rest wait for a later run. Each
        // owner's count is taken once, so an owner with many due
        // reminders costs a pass over its own tokens, not one per reminder.
        let claimed: Vec<String> = self
            .prepare_cached(
                "WITH candidates AS (
                     SELECT r.token_id, r.due_at, t.user_id FROM token_reminders r
                     JOIN api_tokens t ON t.id = r.token_id
                     WHERE r.sent_at IS NULL AND r.failed_at IS NULL
                       AND r.due_at <= ?1 AND r.next_attempt_at <= ?1
                       AND (r.claimed_until IS NULL OR r.claimed_until <= ?1)
                       AND t.revoked_at IS NULL AND t.expires_at > ?1
                       AND t.replaced_by IS NULL),
                 recent AS (
                     SELECT t.user_id, count(*) AS mails FROM api_tokens t
                     JOIN token_reminders r ON r.token_id = t.id
                     WHERE t.user_id IN (SELECT user_id FROM candidates)
                       AND (r.sent_at > ?4
                            OR (r.sent_at IS NULL AND r.failed_at IS NULL
                                AND r.claimed_until > ?1))
                     GROUP BY t.user_id)
                 UPDATE token_reminders SET claimed_until = ?2
                 WHERE token_id IN (
                     SELECT token_id FROM (
                         SELECT c.token_id, c.due_at,
                             row_number() OVER (PARTITION BY c.user_id ORDER BY c.due_at)
                             + coalesce(recent.mails, 0) AS nth
                         FROM candidates c LEFT JOIN recent ON recent.user_id = c.user_id)
                     WHERE nth <= ?5
                     ORDER BY due_at LIMIT ?3)
                 RETURNING token_id",
            )?
            .query_map(
                params![now, claimed_until, limit, per_owner.since, per_owner.mails],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
        let mut due = Vec::with_capacity(claimed.len());
        let mut stmt = self.prepare_cached(
            "SELECT t.id, t.name, u.id, u.name, o.id, o.name, r.email, t.expires_at, r.attempts
             FROM token_reminders r
             JOIN api_tokens t ON t.id = r.token_id
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             WHERE r.token_id = ?1",
        )?;
        for token_id in claimed {
            due.push(stmt.query_row([&token_id], |r| {
                Ok(DueReminder {
                    token_id: r.get(0)?,
                    token_name: r.get(1)?,
                    owner_id: r.get(2)?,
                    owner_name: r.get(3)?,
                    org_id: r.get(4)?,
                    org_name: r.get(5)?,
                    email: r.get(6)?,
                    expires_at: r.get(7)?,
                    attempts: r.get(8)?,
                })
            })?);
        }
        Ok(due)
    }

    fn record_reminder_sent(&self, token_id: &str, at: i64) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE token_reminders SET sent_at = ?2, claimed_until = NULL WHERE token_id = ?1",
        )?
        .execute(params![token_id, at])?;
        Ok(())
    }

    fn record_reminder_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        self.prepare_cached(
            "UPDATE token_reminders SET attempts = attempts + 1, claimed_until = NULL,
                 last_error = ?4, next_attempt_at = coalesce(?3, next_attempt_at),
                 failed_at = CASE WHEN ?3 IS NULL THEN ?2 END
             WHERE token_id = ?1",
        )?
        .execute(params![token_id, at, next_attempt_at, error])?;
        Ok(())
    }
}

impl ReminderReads for Connection {
    fn reminder_of(&self, token_id: &str) -> StoreResult<Option<(String, i64)>> {
        Ok(self
            .prepare_cached("SELECT email, before_s FROM token_reminders WHERE token_id = ?1")?
            .query_row([token_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn tokens_expiring(
        &self,
        org_id: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Vec<ExpiringToken>> {
        let rows = self
            .prepare_cached(
                "SELECT t.id, t.name, u.name, t.expires_at FROM api_tokens t
                 JOIN users u ON u.id = t.user_id
                 WHERE u.org_id = ?1 AND t.revoked_at IS NULL
                   AND t.expires_at > ?2 AND t.expires_at <= ?3
                 ORDER BY t.expires_at, t.id",
            )?
            .query_map(params![org_id, now, until], |r| {
                Ok(ExpiringToken {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner_name: r.get(2)?,
                    expires_at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }
}
