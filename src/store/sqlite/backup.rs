//! A consistent copy of the database while the service writes to it:
//! SQLite's online backup API, reading from one read transaction, so the
//! copy is the database as it was at one instant however much is written
//! meanwhile (without it every write from another process would start the
//! copy over). In WAL mode a reader holds up no writer; the copy goes in
//! steps with pauses so that it shares the disk with the service.
//!
//! The copy is written to a private file (mode 0600) beside the target and
//! appears under its name only once complete, as a single file (rollback
//! journal, no `-wal` to carry along), and never over an existing file.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{SqliteDatabase, DEFAULT_BUSY_TIMEOUT};
use crate::domain::records::{BackupPoint, Event};
use crate::domain::storage::{AuditWrites, StoreError, StoreResult};

/// Pages copied per step (2 MiB at SQLite's default page size), and the
/// pause between steps.
const PAGES_PER_STEP: i32 = 512;
const PAUSE: Duration = Duration::from_millis(5);
/// Steps in a row that may find the copy locked before it gives up.
const BUSY_STEPS: u32 = 2_000;

/// A copy begun: its source is held at one instant (`point`) until
/// `finish` copies it and puts it in place. Dropped unfinished, it leaves
/// nothing behind.
pub struct BackupInProgress {
    source: Connection,
    copy: Option<Connection>,
    partial: PathBuf,
    target: PathBuf,
    point: Option<BackupPoint>,
    finished: bool,
}

/// What a finished copy took.
#[derive(Debug, Clone, Copy)]
pub struct BackupCopied {
    pub pages: u64,
    pub bytes: u64,
    pub steps: u32,
}

impl SqliteDatabase {
    /// Begins a copy of the database file `source` into `target`, which
    /// must not exist (`Duplicate` when it does): opens the source for
    /// reading and starts the read transaction the whole copy is made
    /// from.
    pub fn begin_backup(source: &Path, target: &Path) -> StoreResult<BackupInProgress> {
        if !source.is_file() {
            return Err(StoreError::Missing(format!(
                "database {}",
                source.display()
            )));
        }
        if target.symlink_metadata().is_ok() {
            return Err(StoreError::Duplicate);
        }
        let partial = with_suffix(target, &format!(".partial-{}", std::process::id()));
        create_private(&partial)?;
        let mut copy = BackupInProgress {
            source: open_read_only(source)?,
            copy: None,
            partial,
            target: target.to_path_buf(),
            point: None,
            finished: false,
        };
        // The snapshot starts with the first read, and the backup point is
        // read inside it.
        copy.source.execute_batch("BEGIN")?;
        copy.point = copy
            .source
            .query_row(
                "SELECT id, at_ms FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| {
                    Ok(BackupPoint {
                        event_id: r.get(0)?,
                        event_at_ms: r.get(1)?,
                    })
                },
            )
            .optional()?;
        copy.copy = Some(Connection::open(&copy.partial)?);
        Ok(copy)
    }
}

impl BackupInProgress {
    /// The newest event the copy holds; None for an empty trail.
    pub fn point(&self) -> Option<&BackupPoint> {
        self.point.as_ref()
    }

    /// Copies the database as it was when the copy began, adds `event`
    /// (the backup's own record) to the copy, and puts the copy in place.
    pub fn finish(mut self, event: &Event) -> StoreResult<BackupCopied> {
        let mut copy = self
            .copy
            .take()
            .ok_or_else(|| StoreError::Failed("the copy is not open".into()))?;
        let mut steps = 0;
        let progress = {
            let backup = Backup::new(&self.source, &mut copy)?;
            let mut busy = 0;
            loop {
                steps += 1;
                match backup.step(PAGES_PER_STEP)? {
                    StepResult::Done => break,
                    StepResult::More => busy = 0,
                    _ => {
                        busy += 1;
                        if busy > BUSY_STEPS {
                            return Err(StoreError::Busy);
                        }
                    }
                }
                std::thread::sleep(PAUSE);
            }
            backup.progress()
        };
        // The snapshot has served its purpose.
        self.source.execute_batch("COMMIT")?;
        // One file: the copy keeps no `-wal` beside it, and a read-only
        // look at it (`tokend check`) creates none.
        let mode: String = copy.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(StoreError::Failed(format!(
                "the copy stayed in journal mode {mode}"
            )));
        }
        copy.pragma_update(None, "synchronous", "FULL")?;
        copy.insert_event(event)?;
        copy.close().map_err(|(_, e)| StoreError::from(e))?;
        let bytes = std::fs::metadata(&self.partial)
            .map(|m| m.len())
            .map_err(|e| failed("cannot read the copy", &self.partial, e))?;
        publish(&self.partial, &self.target)?;
        self.finished = true;
        Ok(BackupCopied {
            pages: u64::try_from(progress.pagecount).unwrap_or(0),
            bytes,
            steps,
        })
    }
}

impl Drop for BackupInProgress {
    fn drop(&mut self) {
        drop(self.copy.take());
        if !self.finished {
            remove_with_companions(&self.partial);
        }
    }
}

/// Gives the finished `partial` the name `target`, unless a file has it:
/// a hard link cannot replace one. On a file system without hard links,
/// a rename after a last look.
fn publish(partial: &Path, target: &Path) -> StoreResult<()> {
    match std::fs::hard_link(partial, target) {
        Ok(()) => {
            std::fs::remove_file(partial).map_err(|e| failed("cannot remove", partial, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Duplicate)
        }
        Err(_) if target.symlink_metadata().is_err() => {
            std::fs::rename(partial, target).map_err(|e| failed("cannot rename", partial, e))?;
        }
        Err(_) => return Err(StoreError::Duplicate),
    }
    sync_directory_of(target)
}

/// Opens a database file for reading only, waiting out a writer's lock as
/// the service's connections do.
pub(super) fn open_read_only(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Creates `path` with mode 0600; an existing file is an error.
pub(super) fn create_private(path: &Path) -> StoreResult<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|e| failed("cannot create", path, e))
}

/// `path` with `suffix` appended to its file name.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes a database file and the journal files SQLite keeps beside it.
pub(super) fn remove_with_companions(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

/// Makes a rename or a new name in `path`'s directory durable.
pub(super) fn sync_directory_of(path: &Path) -> StoreResult<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed("cannot sync the directory", dir, e))?;
    Ok(())
}

pub(super) fn failed(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Failed(format!("{what} {}: {e}", path.display()))
}
