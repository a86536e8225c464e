//! Access-token signing keys and the generation counter that tells running
//! servers the set changed; and the readiness probe's row.

use rusqlite::{params, Connection};
use zeroize::Zeroizing;

use crate::domain::records::SigningKeyRecord;
use crate::domain::storage::{HealthWrites, KeyReads, KeyWrites, StoreError, StoreResult};

fn key_rows(conn: &Connection, sql: &str) -> StoreResult<Vec<SigningKeyRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(SigningKeyRecord {
            kid: r.get(0)?,
            algorithm: r.get(1)?,
            private_key: Zeroizing::new(r.get(2)?),
            created_at: r.get(3)?,
            activates_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl KeyReads for Connection {
    fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        key_rows(
            self,
            "SELECT kid, algorithm, private_key, created_at, activates_at FROM signing_keys
             WHERE retired_at IS NULL ORDER BY created_at DESC, rowid DESC",
        )
    }

    fn all_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        key_rows(
            self,
            "SELECT kid, algorithm, private_key, created_at, activates_at FROM signing_keys
             ORDER BY created_at DESC, rowid DESC",
        )
    }

    fn signing_key_generation(&self) -> StoreResult<i64> {
        let mut stmt = self.prepare_cached("SELECT generation FROM signing_key_generation")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }
}

impl KeyWrites for Connection {
    fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                key.kid,
                key.algorithm,
                &key.private_key[..],
                key.created_at,
                key.activates_at
            ],
        )?;
        Ok(())
    }

    fn retire_signing_keys_except(&self, kids: &[String], at: i64) -> StoreResult<()> {
        let kept = serde_json::to_string(kids).map_err(|e| StoreError::Failed(e.to_string()))?;
        self.execute(
            "UPDATE signing_keys SET retired_at = ?2
             WHERE retired_at IS NULL AND kid NOT IN (SELECT value FROM json_each(?1))",
            params![kept, at],
        )?;
        Ok(())
    }

    fn replace_signing_key_private(&self, kid: &str, private_key: &[u8]) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE signing_keys SET private_key = ?2 WHERE kid = ?1",
            params![kid, private_key],
        )?;
        Ok(changed > 0)
    }
}

impl HealthWrites for Connection {
    fn record_health_probe(&self, at: i64) -> StoreResult<()> {
        // The row must change: SQLite writes nothing for an UPDATE that
        // leaves a row as it was, and a second probe within the same second
        // would then pass on a database that cannot be written. Probed
        // more than once a second, the stamp runs a little ahead.
        let mut stmt = self.prepare_cached(
            "UPDATE health_probe
             SET checked_at = CASE WHEN checked_at >= ?1 THEN checked_at + 1 ELSE ?1 END",
        )?;
        stmt.execute([at])?;
        Ok(())
    }
}
