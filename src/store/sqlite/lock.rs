//! The lock file beside the database (`tokend.db.lock`): `tokend serve`
//! and the admin commands hold it shared while they have the database
//! open, and a restore holds it exclusively while it replaces the file, so
//! a restore never pulls the file from under a process that would go on
//! writing to the old one (or delete the new one's `-wal` when it closes).
//! An OS advisory lock (`flock`): the kernel drops it when the process
//! ends, however it ends. A file of its own, not the database, because a
//! restore replaces the database file and the lock must outlive that.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::backup::{failed, with_suffix};
use super::SqliteDatabase;
use crate::domain::storage::StoreResult;

/// A held lock on a database; released when dropped.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
    path: PathBuf,
    created: bool,
}

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// With the database open: any number at once.
    Shared,
    /// To replace the database file: no one else.
    Exclusive,
}

impl SqliteDatabase {
    /// The lock file of the database at `db`.
    pub fn lock_path(db: &Path) -> PathBuf {
        with_suffix(db, ".lock")
    }

    /// Takes the lock of the database at `db` without waiting (creating
    /// its file, mode 0600, if need be); None when another process holds
    /// it in a way that excludes `mode`.
    pub fn try_lock(db: &Path, mode: LockMode) -> StoreResult<Option<DatabaseLock>> {
        let path = Self::lock_path(db);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let (file, created) = match options.open(&path) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| failed("cannot open", &path, e))?;
                (file, false)
            }
            Err(e) => return Err(failed("cannot create", &path, e)),
        };
        let taken = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match taken {
            Ok(()) => Ok(Some(DatabaseLock {
                _file: file,
                path,
                created,
            })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(failed("cannot lock", &path, e)),
        }
    }
}

impl DatabaseLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases the lock and removes its file if this process made it:
    /// a first start that failed leaves nothing behind.
    pub fn remove_if_created(self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
