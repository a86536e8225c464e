//! E-mail reminders before tokens expire: claimed for a run in one
//! statement, so that two runs never take the same one.

use super::PgConn;
use crate::domain::records::{DueReminder, ExpiringToken, NewReminder, OwnerMailLimit};
use crate::domain::storage::{ReminderReads, ReminderWrites, StoreResult};

impl ReminderWrites for PgConn {
    fn insert_reminder(&self, reminder: &NewReminder) -> StoreResult<()> {
        self.execute(
            "INSERT INTO token_reminders (token_id, email, before_s, due_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $4)",
            &[
                &reminder.token_id,
                &reminder.email,
                &reminder.before_s,
                &reminder.due_at,
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
        // The candidates are locked as they are read, and those another
        // run holds skipped, so that two runs never claim the same one.
        // Reminders due at the same instant go as they were made (where
        // SQLite's order is its plan's); the claimed ones come back in that
        // order too, as SQLite's update returns its rows by rowid.
        let rows = self.query(
            "WITH candidates AS (
                 SELECT r.token_id, r.seq, r.due_at, t.user_id FROM token_reminders r
                 JOIN api_tokens t ON t.id = r.token_id
                 WHERE r.sent_at IS NULL AND r.failed_at IS NULL
                   AND r.due_at <= $1 AND r.next_attempt_at <= $1
                   AND (r.claimed_until IS NULL OR r.claimed_until <= $1)
                   AND t.revoked_at IS NULL AND t.expires_at > $1
                   AND t.replaced_by IS NULL
                 FOR UPDATE OF r SKIP LOCKED),
             recent AS (
                 SELECT t.user_id, count(*) AS mails FROM api_tokens t
                 JOIN token_reminders r ON r.token_id = t.id
                 WHERE t.user_id IN (SELECT user_id FROM candidates)
                   AND (r.sent_at > $4
                        OR (r.sent_at IS NULL AND r.failed_at IS NULL
                            AND r.claimed_until > $1))
                 GROUP BY t.user_id),
             chosen AS (
                 SELECT token_id FROM (
                     SELECT c.token_id, c.seq, c.due_at,
                         row_number() OVER (PARTITION BY c.user_id ORDER BY c.due_at, c.seq)
                         + coalesce(recent.mails, 0) AS nth
                     FROM candidates c LEFT JOIN recent ON recent.user_id = c.user_id) ranked
                 WHERE nth <= $5
                 ORDER BY due_at, seq LIMIT $3),
             claimed AS (
                 UPDATE token_reminders r SET claimed_until = $2
                 FROM chosen WHERE r.token_id = chosen.token_id
                 RETURNING r.token_id, r.seq, r.email, r.attempts)
             SELECT t.id, t.name, u.id, u.name, o.id, o.name, c.email, t.expires_at, c.attempts
             FROM claimed c
             JOIN api_tokens t ON t.id = c.token_id
             JOIN users u ON u.id = t.user_id
             JOIN orgs o ON o.id = u.org_id
             ORDER BY c.seq",
            &[
                &now,
                &claimed_until,
                &i64::from(limit),
                &per_owner.since,
                &i64::from(per_owner.mails),
            ],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DueReminder {
                    token_id: r.try_get(0)?,
                    token_name: r.try_get(1)?,
                    owner_id: r.try_get(2)?,
                    owner_name: r.try_get(3)?,
                    org_id: r.try_get(4)?,
                    org_name: r.try_get(5)?,
                    email: r.try_get(6)?,
                    expires_at: r.try_get(7)?,
                    attempts: r.try_get(8)?,
                })
            })
            .collect()
    }

    fn record_reminder_sent(&self, token_id: &str, at: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE token_reminders SET sent_at = $2, claimed_until = NULL WHERE token_id = $1",
            &[&token_id, &at],
        )?;
        Ok(())
    }

    fn record_reminder_failure(
        &self,
        token_id: &str,
        at: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE token_reminders SET attempts = attempts + 1, claimed_until = NULL,
                 last_error = $4, next_attempt_at = coalesce($3, next_attempt_at),
                 failed_at = CASE WHEN $3::BIGINT IS NULL THEN $2::BIGINT END
             WHERE token_id = $1",
            &[&token_id, &at, &next_attempt_at, &error],
        )?;
        Ok(())
    }
}

impl ReminderReads for PgConn {
    fn reminder_of(&self, token_id: &str) -> StoreResult<Option<(String, i64)>> {
        self.query_opt(
            "SELECT email, before_s FROM token_reminders WHERE token_id = $1",
            &[&token_id],
        )?
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .transpose()
    }

    fn tokens_expiring(
        &self,
        org_id: &str,
        now: i64,
        until: i64,
    ) -> StoreResult<Vec<ExpiringToken>> {
        self.query(
            "SELECT t.id, t.name, u.name, t.expires_at FROM api_tokens t
             JOIN users u ON u.id = t.user_id
             WHERE u.org_id = $1 AND t.revoked_at IS NULL
               AND t.expires_at > $2 AND t.expires_at <= $3
             ORDER BY t.expires_at, t.id COLLATE \"C\"",
            &[&org_id, &now, &until],
        )?
        .iter()
        .map(|r| {
            Ok(ExpiringToken {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                owner_name: r.try_get(2)?,
                expires_at: r.try_get(3)?,
            })
        })
        .collect()
    }
}
