//! Second factors (TOTP secrets) and their recovery codes, and the
//! console logins waiting for one.

use tokio_postgres::Row;

use super::PgConn;
use crate::domain::records::{PendingLogin, SecondFactorRecord};
use crate::domain::storage::{SecondFactorReads, SecondFactorWrites, StoreError, StoreResult};

const SECOND_FACTOR_COLUMNS: &str =
    "SELECT user_id, secret, created_at, enrolled_at, last_step FROM second_factors";

fn second_factor_row(r: &Row) -> StoreResult<SecondFactorRecord> {
    Ok(SecondFactorRecord {
        user_id: r.try_get(0)?,
        secret: r.try_get(1)?,
        created_at: r.try_get(2)?,
        enrolled_at: r.try_get(3)?,
        last_step: r.try_get(4)?,
    })
}

impl SecondFactorReads for PgConn {
    fn second_factor(&self, user_id: &str) -> StoreResult<Option<SecondFactorRecord>> {
        let row = self.query_opt(
            &format!("{SECOND_FACTOR_COLUMNS} WHERE user_id = $1"),
            &[&user_id],
        )?;
        row.as_ref().map(second_factor_row).transpose()
    }

    fn all_second_factors(&self) -> StoreResult<Vec<SecondFactorRecord>> {
        let rows = self.query(SECOND_FACTOR_COLUMNS, &[])?;
        rows.iter().map(second_factor_row).collect()
    }

    fn recovery_codes_left(&self, user_id: &str) -> StoreResult<u64> {
        let left: i64 = self
            .query_one(
                "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                &[&user_id],
            )?
            .try_get(0)?;
        Ok(u64::try_from(left).unwrap_or(0))
    }

    fn pending_login(&self, handle_digest: &[u8; 32]) -> StoreResult<Option<PendingLogin>> {
        let row = self.query_opt(
            "SELECT handle_digest, user_id, name, org_name, source, expires_at
             FROM pending_logins WHERE handle_digest = $1",
            &[&&handle_digest[..]],
        )?;
        row.as_ref().map(pending_login_row).transpose()
    }

    fn pending_login_count(&self) -> StoreResult<u64> {
        let held: i64 = self
            .query_one("SELECT count(*) FROM pending_logins", &[])?
            .try_get(0)?;
        Ok(u64::try_from(held).unwrap_or(0))
    }
}

impl SecondFactorWrites for PgConn {
    fn begin_second_factor(&self, record: &SecondFactorRecord) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO second_factors (user_id, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3,
                 last_step = NULL
             WHERE second_factors.enrolled_at IS NULL",
            &[&record.user_id, &record.secret, &record.created_at],
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
            "UPDATE second_factors SET enrolled_at = $2, last_step = $3
             WHERE user_id = $1 AND enrolled_at IS NULL",
            &[&user_id, &at, &step],
        )?;
        if changed != 1 {
            return Ok(false);
        }
        self.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id])?;
        let digests: Vec<&[u8]> = recovery_digests.iter().map(|d| &d[..]).collect();
        self.execute(
            "INSERT INTO recovery_codes (user_id, digest) SELECT $1, unnest($2::BYTEA[])",
            &[&user_id, &digests],
        )?;
        Ok(true)
    }

    fn accept_second_factor_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE second_factors SET last_step = $2
             WHERE user_id = $1 AND enrolled_at IS NOT NULL
                 AND (last_step IS NULL OR last_step < $2)",
            &[&user_id, &step],
        )?;
        Ok(changed == 1)
    }

    fn use_recovery_code(&self, user_id: &str, digest: &[u8; 32], at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE recovery_codes SET used_at = $3
             WHERE user_id = $1 AND digest = $2 AND used_at IS NULL",
            &[&user_id, &&digest[..], &at],
        )?;
        Ok(changed == 1)
    }

    fn delete_second_factor(&self, user_id: &str) -> StoreResult<bool> {
        self.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id])?;
        let changed = self.execute("DELETE FROM second_factors WHERE user_id = $1", &[&user_id])?;
        Ok(changed == 1)
    }

    fn replace_second_factor_secret(&self, user_id: &str, secret: &[u8]) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE second_factors SET secret = $2 WHERE user_id = $1",
            &[&user_id, &secret],
        )?;
        Ok(changed == 1)
    }

    fn insert_pending_login(&self, login: &PendingLogin) -> StoreResult<()> {
        self.execute(
            "INSERT INTO pending_logins (handle_digest, user_id, name, org_name, source,
                 expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &&login.handle_digest[..],
                &login.user_id,
                &login.name,
                &login.org_name,
                &login.source,
                &login.expires_at,
            ],
        )?;
        Ok(())
    }

    fn use_pending_login(&self, handle_digest: &[u8; 32], now: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "DELETE FROM pending_logins WHERE handle_digest = $1 AND expires_at > $2",
            &[&&handle_digest[..], &now],
        )?;
        Ok(changed == 1)
    }

    fn forget_expired_pending_logins(&self, now: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM pending_logins WHERE expires_at <= $1", &[&now])
    }

    fn forget_oldest_pending_logins(&self, count: u64) -> StoreResult<u64> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.execute(
            "DELETE FROM pending_logins WHERE handle_digest IN
                 (SELECT handle_digest FROM pending_logins ORDER BY expires_at LIMIT $1)",
            &[&count],
        )
    }
}

fn pending_login_row(r: &Row) -> StoreResult<PendingLogin> {
    let digest: Vec<u8> = r.try_get(0)?;
    Ok(PendingLogin {
        handle_digest: digest.try_into().map_err(|_| {
            StoreError::Failed("a stored pending login's digest is not 32 bytes".into())
        })?,
        user_id: r.try_get(1)?,
        name: r.try_get(2)?,
        org_name: r.try_get(3)?,
        source: r.try_get(4)?,
        expires_at: r.try_get(5)?,
    })
}
