//! Putting a backup in place of the database: the backup is copied into a
//! private file beside the database (where the domain then replays what
//! the backup lacks), made one self-contained file, and renamed over the
//! database, after the old database's `-wal`, `-shm` and `-journal` are
//! gone. SQLite would read a `-wal` it finds beside the new file as the
//! newest state of it: pages of another database, written over the
//! backup's without a word.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;

use super::backup::{
    create_private, failed, open_read_only, remove_with_companions, sync_directory_of, with_suffix,
};
use super::SqliteDatabase;
use crate::domain::storage::{StoreError, StoreResult};

/// How long `install` waits for the connections that worked on the staged
/// copy (the writer thread's too) to close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A backup copied beside the database it is to replace; removed when
/// dropped unless installed.
#[derive(Debug)]
pub struct StagedRestore {
    path: PathBuf,
    target: PathBuf,
    installed: bool,
}

impl SqliteDatabase {
    /// Copies the database file `backup` into a new private file beside
    /// `target`, through SQLite (so a backup kept with its own `-wal`
    /// comes whole).
    pub fn stage_restore(backup: &Path, target: &Path) -> StoreResult<StagedRestore> {
        let staged = StagedRestore {
            path: with_suffix(target, &format!(".restore-{}", std::process::id())),
            target: target.to_path_buf(),
            installed: false,
        };
        create_private(&staged.path)?;
        let source = open_read_only(backup)?;
        let mut copy = Connection::open(&staged.path)?;
        {
            let backup = Backup::new(&source, &mut copy)?;
            let deadline = Instant::now() + CLOSE_WAIT;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ if Instant::now() > deadline => return Err(StoreError::Busy),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        copy.close().map_err(|(_, e)| StoreError::from(e))?;
        Ok(staged)
    }
}

impl StagedRestore {
    /// The staged file, to open and change before it is installed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the database with the staged file. Every connection to
    /// the staged file must be closed or closing. The old database's
    /// companions are removed first, then the file is renamed into place:
    /// a crash in between leaves the old file without its `-wal` (it was
    /// being replaced) and the staged one intact beside it.
    pub fn install(mut self) -> StoreResult<()> {
        self.make_one_file()?;
        self.take_owner_of_target()?;
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(|e| failed("cannot sync", &self.path, e))?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let stale = with_suffix(&self.target, suffix);
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(failed("cannot remove", &stale, e)),
            }
        }
        if let Err(e) = std::fs::rename(&self.path, &self.target) {
            // The old database has lost its companions: keep the copy, for
            // the admin to move into place.
            self.installed = true;
            return Err(StoreError::Failed(format!(
                "cannot rename {} to {}: {e}; the restored copy is left there",
                self.path.display(),
                self.target.display()
            )));
        }
        self.installed = true;
        sync_directory_of(&self.target)
    }

    /// Gives the staged file the owner of the database it replaces (of
    /// its directory, where there is none yet), so that a restore run as
    /// root leaves a file the service can open; refused (nothing changed)
    /// where this process may not.
    fn take_owner_of_target(&self) -> StoreResult<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let dir = match self.target.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            let Ok(old) = std::fs::metadata(&self.target).or_else(|_| std::fs::metadata(dir))
            else {
                return Ok(());
            };
            let copy =
                std::fs::metadata(&self.path).map_err(|e| failed("cannot read", &self.path, e))?;
            if (copy.uid(), copy.gid()) != (old.uid(), old.gid()) {
                std::os::unix::fs::chown(&self.path, Some(old.uid()), Some(old.gid())).map_err(
                    |e| {
                        StoreError::Failed(format!(
                            "cannot give the restored copy the owner of {} (uid {}, gid {}): \
                             {e}; run the restore as that user",
                            self.target.display(),
                            old.uid(),
                            old.gid()
                        ))
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Moves everything written to the staged file into it (its `-wal`
    /// checkpointed and gone), leaving it in rollback-journal mode: the
    /// rename moves one file, and the service switches it to WAL again.
    fn make_one_file(&self) -> StoreResult<()> {
        let deadline = Instant::now() + CLOSE_WAIT;
        loop {
            let conn = Connection::open(&self.path)?;
            let mode = conn
                .query_row("PRAGMA journal_mode = DELETE", [], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(StoreError::from);
            conn.close().map_err(|(_, e)| StoreError::from(e))?;
            let wal = with_suffix(&self.path, "-wal");
            match mode {
                Ok(mode) if mode.eq_ignore_ascii_case("delete") && !wal.exists() => {
                    let _ = std::fs::remove_file(with_suffix(&self.path, "-shm"));
                    return Ok(());
                }
                Ok(_) | Err(StoreError::Busy) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(mode) => {
                    return Err(StoreError::Failed(format!(
                        "the restored copy {} is still in use (journal mode {mode})",
                        self.path.display()
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for StagedRestore {
    fn drop(&mut self) {
        if !self.installed {
            remove_with_companions(&self.path);
        }
    }
}
