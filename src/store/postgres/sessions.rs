//! Login sessions.

use super::PgConn;
use crate::domain::records::SessionRecord;
use crate::domain::storage::{SessionReads, SessionWrites, StoreResult};

impl SessionReads for PgConn {
    fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let row = self.query_opt(
            "SELECT id, user_id, created_at, expires_at, ended_at, enrol_only FROM sessions
             WHERE id = $1",
            &[&id],
        )?;
        row.map(|r| {
            Ok(SessionRecord {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                created_at: r.try_get(2)?,
                expires_at: r.try_get(3)?,
                ended_at: r.try_get(4)?,
                enrol_only: r.try_get(5)?,
            })
        })
        .transpose()
    }
}

impl SessionWrites for PgConn {
    fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, enrol_only)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.id,
                &session.user_id,
                &session.created_at,
                &session.expires_at,
                &session.enrol_only,
            ],
        )?;
        Ok(())
    }

    fn end_session(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE sessions SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }

    fn end_user_sessions(&self, user_id: &str, keep: Option<&str>, at: i64) -> StoreResult<u64> {
        self.execute(
            "UPDATE sessions SET ended_at = $3
             WHERE user_id = $1 AND ended_at IS NULL AND id IS DISTINCT FROM $2",
            &[&user_id, &keep, &at],
        )
    }

    fn lift_enrol_only(&self, id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE sessions SET enrol_only = FALSE WHERE id = $1 AND enrol_only",
            &[&id],
        )?;
        Ok(changed == 1)
    }
}
