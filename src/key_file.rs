//! The key file: where the key-encryption key that seals the private
//! signing keys is kept, outside the database (`TOKEND_KEY_FILE`, by
//! default `<database file>.key` beside it). One line,
//! `tokend-kek-v1:` and the 32 key bytes in base64url. Made with mode
//! 0600 and never over an existing file; a key file that group or others
//! may read or write is refused, as ssh refuses such a private key.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use zeroize::Zeroizing;

use crate::domain::{DomainError, Kek, KekStore, KEK_LEN};

const PREFIX: &str = "tokend-kek-v1:";
/// What the default key file's name adds to the database's.
const DEFAULT_SUFFIX: &str = ".key";

/// A key file at a path.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    pub fn new(path: impl Into<PathBuf>) -> KeyFile {
        KeyFile { path: path.into() }
    }

    /// The key file of the database `db` when none is named:
    /// `tokend.db.key` beside `tokend.db`.
    pub fn default_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(DEFAULT_SUFFIX);
        db.with_file_name(name)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn invalid(&self, why: impl std::fmt::Display) -> DomainError {
        DomainError::Invalid(format!("key file {}: {why}", self.path.display()))
    }
}

impl KekStore for KeyFile {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> Result<Option<Kek>, DomainError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.invalid(format!("cannot be read: {e}"))),
        };
        let meta = file
            .metadata()
            .map_err(|e| self.invalid(format!("cannot be read: {e}")))?;
        if !meta.is_file() {
            return Err(self.invalid("is not a file"));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(self.invalid(format!(
                "group or others may access it (mode {mode:04o}); its key opens the signing \
                 keys, so it must be the owner's alone: chmod 600 {}",
                self.path.display()
            )));
        }
        let mut text = Zeroizing::new(String::new());
        Read::by_ref(&mut file)
            .take(1024)
            .read_to_string(&mut text)
            .map_err(|e| self.invalid(format!("cannot be read: {e}")))?;
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| self.invalid(format!("is not a tokend key file (no {PREFIX})")))?;
        let bytes = Zeroizing::new(
            B64.decode(encoded)
                .map_err(|_| self.invalid("its key is not base64url"))?,
        );
        if bytes.len() != KEK_LEN {
            return Err(self.invalid(format!("its key is not {KEK_LEN} bytes")));
        }
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        key.copy_from_slice(&bytes);
        Ok(Some(Kek::from_bytes(key)))
    }

    fn create(&self, kek: &Kek) -> Result<(), DomainError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => DomainError::Conflict(format!(
                    "key file {} exists already; a key file is never replaced",
                    self.path.display()
                )),
                _ => self.invalid(format!("cannot be made: {e}")),
            })?;
        let line = Zeroizing::new(format!("{PREFIX}{}\n", B64.encode(kek.bytes())));
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_directory(&self.path));
        if let Err(e) = written {
            // Half a key is worse than none: the next try makes it anew.
            let _ = std::fs::remove_file(&self.path);
            return Err(self.invalid(format!("cannot be written: {e}")));
        }
        Ok(())
    }
}

/// Makes a new file's name durable: its directory is synced too.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tokend-key-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("tokend.db.key")
    }

    #[test]
    fn a_key_file_is_made_0600_read_back_and_never_replaced() {
        let path = temp("made");
        let file = KeyFile::new(&path);
        assert!(file.load().unwrap().is_none());
        let kek = Kek::generate(&OsRandom).unwrap();
        file.create(&kek).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(file.load().unwrap().unwrap().id(), kek.id());
        let other = Kek::generate(&OsRandom).unwrap();
        assert!(matches!(file.create(&other), Err(DomainError::Conflict(_))));
        assert_eq!(file.load().unwrap().unwrap().id(), kek.id());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_key_file_others_may_read_is_refused() {
        let path = temp("open");
        let file = KeyFile::new(&path);
        file.create(&Kek::generate(&OsRandom).unwrap()).unwrap();
        for mode in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let refused = file.load().unwrap_err().to_string();
            assert!(refused.contains("chmod 600"), "{refused}");
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_default_key_file_is_beside_the_database() {
        assert_eq!(
            KeyFile::default_for(Path::new("/var/lib/tokend/tokend.db")),
            Path::new("/var/lib/tokend/tokend.db.key")
        );
        assert_eq!(
            KeyFile::default_for(Path::new("tokend.db")),
            Path::new("tokend.db.key")
        );
    }
}
