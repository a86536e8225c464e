//! Backups as the domain sees them: the `backup.create` event that names a
//! copy's backup point (written into the copy and into the live trail),
//! the point a restore reads back from a backup file, whether a database
//! file is healthy (`tokend check`), and the names of the timer's backups
//! and which of them to delete. The copying itself is the store's.

mod replay;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use crate::domain::audit::{format_time_millis, parse_event_time};
use crate::domain::records::{BackupPoint, Event, Inspection};
use crate::domain::{format_time, Authority, DomainError};
pub use replay::{AuditStream, RestoreChoice, RestoreReport};

/// The event a backup records, in its copy and in the live trail.
const BACKUP_CREATE: &str = "backup.create";
/// What names a backup `--dir` makes: `tokend-20261206T231500Z.db`.
const NAME_PREFIX: &str = "tokend-";
const NAME_SUFFIX: &str = ".db";

impl Authority {
    /// The `backup.create` event of a copy called `file` whose newest
    /// event is `point` (None: the trail was empty), taken now.
    pub fn backup_event(
        &self,
        file: &str,
        point: Option<&BackupPoint>,
    ) -> Result<Event, DomainError> {
        Ok(self
            .operator_event(BACKUP_CREATE)?
            .with("file", json!(file))
            .with("point", point_json(point)))
    }

    /// Records a backup's event in the database it copied.
    pub fn record_backup(&mut self, event: Event) -> Result<(), DomainError> {
        self.write_recorded(event, |_| Ok(()))?;
        Ok(())
    }
}

fn point_json(point: Option<&BackupPoint>) -> Value {
    match point {
        Some(point) => json!({
            "event_id": point.event_id,
            "event_time": format_time_millis(point.event_at_ms),
        }),
        None => Value::Null,
    }
}

/// Where a backup stands in the trail, as a restore reads it from the
/// backup file: the point its `backup.create` event names when that is
/// the newest event (`tokend backup` writes it into the copy last), else
/// the newest event itself (a copy made some other way).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestorePoint {
    /// The newest event of the live trail the backup holds; None when the
    /// trail was empty.
    pub event_id: Option<String>,
    pub event_at_ms: Option<i64>,
    /// When `tokend backup` took it, and its file name.
    pub taken_at_ms: Option<i64>,
    pub file: Option<String>,
}

impl RestorePoint {
    pub fn of(inspection: &Inspection) -> RestorePoint {
        match &inspection.newest_event {
            None => RestorePoint::default(),
            Some(event) if event.kind == BACKUP_CREATE => {
                let point = &event.properties["point"];
                RestorePoint {
                    event_id: point["event_id"].as_str().map(str::to_string),
                    event_at_ms: point["event_time"].as_str().and_then(parse_event_time),
                    taken_at_ms: Some(event.at_ms),
                    file: event.properties["file"].as_str().map(str::to_string),
                }
            }
            Some(event) => RestorePoint {
                event_id: Some(event.id.clone()),
                event_at_ms: Some(event.at_ms),
                taken_at_ms: None,
                file: None,
            },
        }
    }

    /// The point in words: `event ID at TIME (backup taken TIME)`.
    pub fn describe(&self) -> String {
        let event = match (&self.event_id, self.event_at_ms) {
            (Some(id), Some(at)) => format!("event {id} at {}", format_time_millis(at)),
            (Some(id), None) => format!("event {id}"),
            _ => "an empty audit trail".to_string(),
        };
        match self.taken_at_ms {
            Some(at) => format!("{event} (backup taken {})", format_time_millis(at)),
            None => event,
        }
    }

    /// The point as events record it.
    pub(in crate::domain) fn to_json(&self) -> Value {
        json!({
            "event_id": self.event_id,
            "event_time": self.event_at_ms.map(format_time_millis),
            "taken_at": self.taken_at_ms.map(format_time_millis),
            "file": self.file,
        })
    }
}

/// What makes a database file unfit to serve, in words; none when it is
/// healthy: SQLite's integrity and foreign key checks, a schema this
/// binary does not know, a database no first start initialised, anything
/// that could not be read.
pub fn health_problems(inspection: &Inspection) -> Vec<String> {
    let mut problems = Vec::new();
    if inspection.integrity != ["ok"] {
        problems.push(format!(
            "integrity check: {}",
            inspection.integrity.join("; ")
        ));
    }
    if let Some(n @ 1..) = inspection.foreign_key_violations {
        problems.push(format!(
            "foreign key check: {n} rows refer to rows that do not exist"
        ));
    }
    let known = inspection.known_schema_version;
    match inspection.schema_version {
        Some(version) if version > known => problems.push(format!(
            "schema version {version} is newer than this tokend knows ({known})"
        )),
        Some(0) => problems.push("schema version 0: not a tokend database".into()),
        _ => {}
    }
    if inspection.counts.as_ref().is_some_and(|c| !c.has_provider) {
        problems.push("no System org: no first start initialised this database".into());
    }
    problems.extend(inspection.errors.iter().cloned());
    problems
}

/// The name `tokend backup --dir` gives a backup taken at `at_secs`:
/// `tokend-20261206T231500Z.db` (UTC), which sorts by time.
pub fn backup_file_name(at_secs: i64) -> String {
    let stamp: String = format_time(at_secs)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    format!("{NAME_PREFIX}{stamp}{NAME_SUFFIX}")
}

/// Whether `name` is one `backup_file_name` gives.
pub fn is_backup_file_name(name: &str) -> bool {
    let Some(stamp) = name
        .strip_prefix(NAME_PREFIX)
        .and_then(|rest| rest.strip_suffix(NAME_SUFFIX))
    else {
        return false;
    };
    let bytes = stamp.as_bytes();
    bytes.len() == 16
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
}

/// Of the file names in a backup directory, the backups `--dir` made
/// beyond the newest `keep`, oldest first: those to delete. Other files
/// are never among them.
pub fn backups_beyond(names: &[String], keep: usize) -> Vec<String> {
    let mut backups: Vec<&String> = names
        .iter()
        .filter(|name| is_backup_file_name(name))
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    backups[..excess]
        .iter()
        .map(|name| name.to_string())
        .collect()
}
