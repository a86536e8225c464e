//! Paged listings: a `WHERE` built from the filters that are set, a total
//! and one page, as the SQLite backend's listing helper does, with
//! PostgreSQL's numbered placeholders.

use std::fmt::Write;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::PgConn;
use crate::domain::storage::StoreResult;

/// A `WHERE` clause built from the filters that are set, so that each
/// listing statement can use its indexes (no `($1 IS NULL OR col = $1)`).
/// A clause marks its arguments `?`, numbered `$n` as it is pushed.
#[derive(Default)]
pub(super) struct Conditions<'a> {
    clauses: Vec<String>,
    pub(super) args: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> Conditions<'a> {
    pub(super) fn push(&mut self, clause: &str, args: &[&'a (dyn ToSql + Sync)]) {
        let mut numbered = String::with_capacity(clause.len() + 2 * args.len());
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                let _ = write!(numbered, "${}", self.args.len() + i);
            }
            numbered.push_str(part);
        }
        debug_assert_eq!(clause.matches('?').count(), args.len(), "{clause}");
        self.clauses.push(numbered);
        self.args.extend_from_slice(args);
    }

    /// `column` contains `pattern` (from `like_pattern`), if one is given,
    /// ignoring ASCII case as SQLite's LIKE does.
    pub(super) fn name_like(&mut self, column: &str, pattern: &'a Option<String>) {
        if let Some(pattern) = pattern {
            self.push(
                &format!("tokend_fold({column}) LIKE tokend_fold(?) ESCAPE '\\'"),
                &[pattern],
            );
        }
    }

    /// The number of the placeholder after the conditions' own.
    pub(super) fn next_placeholder(&self) -> usize {
        self.args.len() + 1
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// A listing: `SELECT count(*) FROM {from}` and `{select}` under the same
/// conditions, the latter ordered and cut to one page (all rows when
/// `page` is None).
pub(super) fn listing<T>(
    conn: &PgConn,
    from: &str,
    select: &str,
    conditions: Conditions<'_>,
    order: &str,
    page: Option<(u64, u32)>,
    row: fn(&Row) -> StoreResult<T>,
) -> StoreResult<(Vec<T>, u64)> {
    let condition = conditions.sql();
    let next = conditions.next_placeholder();
    let mut args = conditions.args;
    let total: i64 = conn
        .query_one(&format!("SELECT count(*) FROM {from}{condition}"), &args)?
        .try_get(0)?;
    let mut sql = format!("{select}{condition} ORDER BY {order}");
    let bounds;
    if let Some((offset, limit)) = page {
        bounds = [i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX)];
        let _ = write!(sql, " LIMIT ${next} OFFSET ${}", next + 1);
        args.push(&bounds[0]);
        args.push(&bounds[1]);
    }
    let rows = conn
        .query(&sql, &args)?
        .iter()
        .map(row)
        .collect::<StoreResult<_>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// `%name%` for LIKE (with `ESCAPE '\\'`), LIKE's own characters escaped.
pub(super) fn like_pattern(name: &Option<String>) -> Option<String> {
    name.as_ref().map(|name| {
        let escaped = name
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}
