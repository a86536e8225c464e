//! Login sessions.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::records::SessionRecord;
use crate::domain::storage::{SessionReads, SessionWrites, StoreResult};

impl SessionReads for Connection {
    fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let mut stmt = self.prepare_cached(
            "SELECT id, user_id, created_at, expires_at, ended_at, enrol_only FROM sessions
             WHERE id = ?1",
        )?;
        Ok(stmt
            .query_row([id], |r| {
                Ok(SessionRecord {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    enrol_only: r.get(5)?,
                })
            })
            .optional()?)
    }
}

impl SessionWrites for Connection {
    fn insert_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let mut stmt = self.prepare_cached(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, enrol_only)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        stmt.execute(params![
            session.id,
            session.user_id,
            session.created_at,
            session.expires_at,
            session.enrol_only
        ])?;
        Ok(())
    }

    fn end_session(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
            params![id, at],
        )?;
        Ok(changed == 1)
    }

    fn end_user_sessions(&self, user_id: &str, keep: Option<&str>, at: i64) -> StoreResult<u64> {
        let changed = self.execute(
            "UPDATE sessions SET ended_at = ?3
             WHERE user_id = ?1 AND ended_at IS NULL AND id IS NOT ?2",
            params![user_id, keep, at],
        )?;
        Ok(changed as u64)
    }

    fn lift_enrol_only(&self, id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE sessions SET enrol_only = 0 WHERE id = ?1 AND enrol_only = 1",
            [id],
        )?;
        Ok(changed == 1)
    }
}
