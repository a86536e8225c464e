//! Second factors (TOTP secrets) and their recovery codes, and the
//! console logins waiting for one.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::records::{PendingLogin, SecondFactorRecord};
use crate::domain::storage::{SecondFactorReads, SecondFactorWrites, StoreResult};

const SECOND_FACTOR_COLUMNS: &str =
    "SELECT user_id, secret, created_at, enrolled_at, last_step FROM second_factors";

fn second_factor_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SecondFactorRecord> {
    Ok(SecondFactorRecord {
        user_id: r.get(0)?,
        secret: r.get(1)?,
        created_at: r.get(2)?,
        enrolled_at: r.get(3)?,
        last_step: r.get(4)?,
    })
}

impl SecondFactorReads for Connection {
    fn second_factor(&self, user_id: &str) -> StoreResult<Option<SecondFactorRecord>> {
        let mut stmt =
            self.prepare_cached(&format!("{SECOND_FACTOR_COLUMNS} WHERE user_id = ?1"))?;
        Ok(stmt.query_row([user_id], second_factor_row).optional()?)
    }

    fn all_second_factors(&self) -> StoreResult<Vec<SecondFactorRecord>> {
        let mut stmt = self.prepare_cached(SECOND_FACTOR_COLUMNS)?;
        let rows = stmt.query_map([], second_factor_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn recovery_codes_left(&self, user_id: &str) -> StoreResult<u64> {
        let mut stmt = self.prepare_cached(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        )?;
        let left: i64 = stmt.query_row([user_id], |r| r.get(0))?;
        Ok(left as u64)
    }

    fn pending_login(&self, handle_digest: &[u8; 32]) -> StoreResult<Option<PendingLogin>> {
        let mut stmt = self.prepare_cached(
            "SELECT handle_digest, user_id, name, org_name, source, expires_at
             FROM pending_logins WHERE handle_digest = ?1",
        )?;
        Ok(stmt
            .query_row([&handle_digest[..]], |r| {
                Ok(PendingLogin {
                    handle_digest: r.get(0)?,
                    user_id: r.get(1)?,
                    name: r.get(2)?,
                    org_name: r.get(3)?,
                    source: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            })
            .optional()?)
    }

    fn pending_login_count(&self) -> StoreResult<u64> {
        let mut stmt = self.prepare_cached("SELECT count(*) FROM pending_logins")?;
        let held: i64 = stmt.query_row([], |r| r.get(0))?;
        Ok(held as u64)
    }
}

impl SecondFactorWrites for Connection {
    fn begin_second_factor(&self, record: &SecondFactorRecord) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO second_factors (user_id, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET secret = ?2, created_at = ?3,
                 last_step = NULL
             WHERE enrolled_at IS NULL",
            params![record.user_id, record.secret, record.created_at],
        )?;
        Ok(changed == 1)
    }

    fn enrol_second_factor(
        &self,
        user_id: &str,
        at: i64,
        step: i64,
        recovery_digests: &[[u8; 32]],
    ) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE second_factors SET enrolled_at = ?2, last_step = ?3
             WHERE user_id = ?1 AND enrolled_at IS NULL",
            params![user_id, at, step],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        self.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        let mut insert =
            self.prepare_cached("INSERT INTO recovery_codes (user_id, digest) VALUES (?1, ?2)")?;
        for digest in recovery_digests {
            insert.execute(params![user_id, &digest[..]])?;
        }
        Ok(true)
    }

    fn accept_second_factor_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE second_factors SET last_step = ?2
             WHERE user_id = ?1 AND enrolled_at IS NOT NULL
                 AND (last_step IS NULL OR last_step < ?2)",
            params![user_id, step],
        )?;
        Ok(changed == 1)
    }

    fn use_recovery_code(&self, user_id: &str, digest: &[u8; 32], at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE recovery_codes SET used_at = ?3
             WHERE user_id = ?1 AND digest = ?2 AND used_at IS NULL",
            params![user_id, &digest[..], at],
        )?;
        Ok(changed == 1)
    }

    fn delete_second_factor(&self, user_id: &str) -> StoreResult<bool> {
        self.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        let changed = self.execute("DELETE FROM second_factors WHERE user_id = ?1", [user_id])?;
        Ok(changed == 1)
    }

    fn replace_second_factor_secret(&self, user_id: &str, secret: &[u8]) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE second_factors SET secret = ?2 WHERE user_id = ?1",
            params![user_id, secret],
        )?;
        Ok(changed == 1)
    }

    fn insert_pending_login(&self, login: &PendingLogin) -> StoreResult<()> {
        self.prepare_cached(
            "INSERT INTO pending_logins (handle_digest, user_id, name, org_name, source,
                 expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            &login.handle_digest[..],
            login.user_id,
            login.name,
            login.org_name,
            login.source,
            login.expires_at,
        ])?;
        Ok(())
    }

    fn use_pending_login(&self, handle_digest: &[u8; 32], now: i64) -> StoreResult<bool> {
        let mut stmt = self.prepare_cached(
            "DELETE FROM pending_logins WHERE handle_digest = ?1 AND expires_at > ?2",
        )?;
        Ok(stmt.execute(params![&handle_digest[..], now])? == 1)
    }

    fn forget_expired_pending_logins(&self, now: i64) -> StoreResult<u64> {
        let mut stmt = self.prepare_cached("DELETE FROM pending_logins WHERE expires_at <= ?1")?;
        Ok(stmt.execute([now])? as u64)
    }

    fn forget_oldest_pending_logins(&self, count: u64) -> StoreResult<u64> {
        let mut stmt = self.prepare_cached(
            "DELETE FROM pending_logins WHERE handle_digest IN
                 (SELECT handle_digest FROM pending_logins ORDER BY expires_at LIMIT ?1)",
        )?;
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        Ok(stmt.execute([count])? as u64)
    }
}
