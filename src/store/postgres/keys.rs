//! Access-token signing keys and the generation counter that tells running
//! servers the set changed; and the readiness probe's row.

use zeroize::Zeroizing;

use super::generations::Generation;
use super::PgConn;
use crate::domain::records::SigningKeyRecord;
use crate::domain::storage::{HealthWrites, KeyReads, KeyWrites, StoreResult};

fn key_rows(conn: &PgConn, sql: &str) -> StoreResult<Vec<SigningKeyRecord>> {
    conn.query(sql, &[])?
        .iter()
        .map(|r| {
            Ok(SigningKeyRecord {
                kid: r.try_get(0)?,
                algorithm: r.try_get(1)?,
                private_key: Zeroizing::new(r.try_get(2)?),
                created_at: r.try_get(3)?,
                activates_at: r.try_get(4)?,
            })
        })
        .collect()
}

// `seq` is the insertion order, SQLite's rowid: of two keys made in the
// same second, the later is the newer.
impl KeyReads for PgConn {
    fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        key_rows(
            self,
            "SELECT kid, algorithm, private_key, created_at, activates_at FROM signing_keys
             WHERE retired_at IS NULL ORDER BY created_at DESC, seq DESC",
        )
    }

    fn all_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        key_rows(
            self,
            "SELECT kid, algorithm, private_key, created_at, activates_at FROM signing_keys
             ORDER BY created_at DESC, seq DESC",
        )
    }

    fn signing_key_generation(&self) -> StoreResult<i64> {
        self.generation(Generation::SigningKeys)
    }
}

impl KeyWrites for PgConn {
    fn insert_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_keys (kid, algorithm, private_key, created_at, activates_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &key.kid,
                &key.algorithm,
                &&key.private_key[..],
                &key.created_at,
                &key.activates_at,
            ],
        )?;
        Ok(())
    }

    fn retire_signing_keys_except(&self, kids: &[String], at: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE signing_keys SET retired_at = $2
             WHERE retired_at IS NULL AND kid <> ALL($1)",
            &[&kids, &at],
        )?;
        Ok(())
    }

    fn replace_signing_key_private(&self, kid: &str, private_key: &[u8]) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE signing_keys SET private_key = $2 WHERE kid = $1",
            &[&kid, &private_key],
        )?;
        Ok(changed > 0)
    }
}

impl HealthWrites for PgConn {
    fn record_health_probe(&self, at: i64) -> StoreResult<()> {
        // The stamps as SQLite's: there the row must change (an UPDATE that
        // leaves a row as it was writes nothing), so a probe within the
        // second of the last runs the stamp a little ahead.
        self.execute(
            "INSERT INTO health_probe (id, checked_at) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET checked_at =
                 CASE WHEN health_probe.checked_at >= $1 THEN health_probe.checked_at + 1
                      ELSE $1 END",
            &[&at],
        )?;
        Ok(())
    }
}
