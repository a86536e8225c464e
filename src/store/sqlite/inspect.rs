//! A read-only look at a database file for `tokend check` and for a
//! restore's check of its backup: SQLite's integrity and foreign key
//! checks, the schema version, what the tables hold and how big the audit
//! trail is. Each query is a read transaction of its own, so a look at the
//! live database holds up nothing and sees no `busy`; a query that fails
//! (a corrupt page) is reported and the others still run.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::backup::open_read_only;
use super::{migrations, SqliteDatabase};
use crate::domain::records::{AuditSize, DatabaseCounts, EventFilter, Inspection};
use crate::domain::storage::{AuditReads, KeyReads, StoreError, StoreResult};

/// Lines of `integrity_check` kept at most.
const INTEGRITY_LINES: u32 = 20;

impl SqliteDatabase {
    /// Looks at the database file at `path` without changing it; `now`
    /// (Unix seconds) tells live tokens and sessions from expired ones.
    pub fn inspect(path: &Path, now: i64) -> StoreResult<Inspection> {
        if !path.is_file() {
            return Err(StoreError::Missing(format!("database {}", path.display())));
        }
        let conn = open_read_only(path)?;
        let mut found = Inspection {
            known_schema_version: migrations().len() as i64,
            ..Inspection::default()
        };
        let mut errors = Vec::new();
        let mut note = |what: &str, e: rusqlite::Error| errors.push(format!("{what}: {e}"));
        match conn.pragma_query_value(None, "user_version", |r| r.get(0)) {
            Ok(version) => found.schema_version = Some(version),
            Err(e) => note("schema version", e),
        }
        found.integrity = integrity(&conn);
        match conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(n) => found.foreign_key_violations = Some(n.max(0) as u64),
            Err(e) => note("foreign key check", e),
        }
        match counts(&conn, now) {
            Ok(counts) => found.counts = Some(counts),
            Err(e) => note("counts", e),
        }
        match audit_size(&conn) {
            Ok(size) => found.audit = Some(size),
            Err(e) => note("audit trail", e),
        }
        let newest = EventFilter {
            limit: 1,
            ..EventFilter::default()
        };
        match conn.events(&newest) {
            Ok(mut events) => found.newest_event = events.pop().map(|(_, event)| event),
            Err(e) => errors.push(format!("newest event: {e}")),
        }
        match conn.signing_keys() {
            Ok(keys) => found.signing_keys = keys,
            Err(e) => errors.push(format!("signing keys: {e}")),
        }
        found.errors = errors;
        Ok(found)
    }
}

/// `PRAGMA integrity_check`'s lines, or its error (a file that is not a
/// database at all, a page it cannot read).
fn integrity(conn: &Connection) -> Vec<String> {
    let lines = conn
        .prepare(&format!("PRAGMA integrity_check({INTEGRITY_LINES})"))
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        });
    match lines {
        Ok(lines) if lines.is_empty() => vec!["no answer".into()],
        Ok(lines) => lines,
        Err(e) => vec![e.to_string()],
    }
}

fn counts(conn: &Connection, now: i64) -> rusqlite::Result<DatabaseCounts> {
    let count_at = |sql: &str, at: &[i64]| -> rusqlite::Result<u64> {
        conn.query_row(sql, rusqlite::params_from_iter(at), |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    };
    let count = |sql: &str| count_at(sql, &[]);
    let live = |sql: &str| count_at(sql, &[now]);
    Ok(DatabaseCounts {
        orgs: count("SELECT count(*) FROM orgs")?,
        has_provider: count("SELECT count(*) FROM orgs WHERE is_provider = 1")? > 0,
        users: count("SELECT count(*) FROM users WHERE kind = 'user'")?,
        users_disabled: count(
            "SELECT count(*) FROM users WHERE kind = 'user' AND disabled_at IS NOT NULL",
        )?,
        service_accounts: count("SELECT count(*) FROM service_accounts WHERE deleted_at IS NULL")?,
        api_tokens_live: live(
            "SELECT count(*) FROM api_tokens
             WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
        )?,
        api_tokens_expired: live(
            "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL AND expires_at <= ?1",
        )?,
        api_tokens_revoked: count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL")?,
        sessions_live: live(
            "SELECT count(*) FROM sessions WHERE ended_at IS NULL AND expires_at > ?1",
        )?,
        signing_keys: count("SELECT count(*) FROM signing_keys WHERE retired_at IS NULL")?,
        signing_keys_retired: count(
            "SELECT count(*) FROM signing_keys WHERE retired_at IS NOT NULL",
        )?,
    })
}

fn audit_size(conn: &Connection) -> rusqlite::Result<AuditSize> {
    let (events, oldest_ms, newest_ms) = conn.query_row(
        "SELECT count(*), min(at_ms), max(at_ms) FROM events",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)),
    )?;
    // The pages of the trail's table and its indexes, where SQLite was
    // built with the dbstat table (the bundled one is); else the file.
    let exact: Option<i64> = conn
        .query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN
                 (SELECT name FROM sqlite_schema WHERE tbl_name = 'events')",
            [],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    let (bytes, bytes_exact) = match exact {
        Some(bytes) => (bytes, true),
        None => {
            let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
            let size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            (pages.saturating_mul(size), false)
        }
    };
    Ok(AuditSize {
        events: events.max(0) as u64,
        bytes: bytes.max(0) as u64,
        bytes_exact,
        oldest_ms,
        newest_ms,
    })
}
