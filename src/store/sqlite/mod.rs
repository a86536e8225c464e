//! The SQLite backend: opening and migrating the file, the connection
//! settings, the one write path, and the mapping of SQLite's errors onto
//! `StoreError`. The statements themselves live beside it, one file per
//! aggregate (accounts, tokens, sessions, keys). Nothing here decides:
//! rights, expiry and visibility are the domain's business.

mod accounts;
mod audit;
mod backup;
mod inspect;
mod keys;
mod leak_notices;
mod lock;
mod reminders;
mod restore;
mod roles;
mod second_factors;
mod service_accounts;
mod sessions;
mod tokens;
mod webhooks;
mod write_connection;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::ToSql;
use rusqlite::{Connection, ErrorCode, OpenFlags, Row, TransactionBehavior};

use crate::domain::records::Event;
use crate::domain::storage::{
    Database, Durability, PendingCommit, Reads, Storage, StoreError, StoreResult, WriteJob,
    WriterStats,
};
use crate::store::writer::Writer;
pub(crate) use write_connection::SqliteWriteConnection;

pub use backup::{BackupCopied, BackupInProgress};
pub use lock::{DatabaseLock, LockMode};
pub use restore::StagedRestore;

const SCHEMA: &str = include_str!("../../../schema.sql");
/// How long a write waits for another writer's lock before it is answered
/// 503, unless `with_busy_timeout` says otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let rusqlite::Error::SqliteFailure(failure, _) = &e else {
            return StoreError::Failed(e.to_string());
        };
        match failure.code {
            ErrorCode::ConstraintViolation
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                StoreError::Duplicate
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy,
            ErrorCode::DiskFull => StoreError::Full,
            ErrorCode::ReadOnly => StoreError::ReadOnly,
            _ => StoreError::Failed(e.to_string()),
        }
    }
}

/// A tokend database: a file, or a private in-memory database for tests.
pub struct SqliteDatabase {
    path: PathBuf,
    created: bool,
    busy_timeout: Duration,
    /// The one writer, started with the first handle.
    writer: Mutex<Option<Writer>>,
    /// For an in-memory database: a connection that keeps it alive while
    /// the handles come and go.
    _keeper: Option<Mutex<Connection>>,
}

impl SqliteDatabase {
    /// Opens the file, creating it (owner-only) when it does not exist, and
    /// migrates it to the schema this binary knows.
    pub fn create_or_open(path: &Path) -> StoreResult<SqliteDatabase> {
        let created = create_private_file(path)?;
        let database = SqliteDatabase {
            path: path.to_path_buf(),
            created,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            writer: Mutex::default(),
            _keeper: None,
        };
        let opened = open_connection(path).and_then(|mut conn| migrate(&mut conn));
        if let Err(e) = opened {
            database.remove_if_created();
            return Err(e);
        }
        Ok(database)
    }

    /// Opens a file that must exist already and hold a tokend database (of
    /// any schema version), and migrates it. A file without one (empty, or
    /// another program's) is refused before anything is written to it.
    pub fn open_existing(path: &Path) -> StoreResult<SqliteDatabase> {
        SqliteDatabase::check_existing(path)?;
        migrate(&mut open_connection(path)?)?;
        Ok(SqliteDatabase {
            path: path.to_path_buf(),
            created: false,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            writer: Mutex::default(),
            _keeper: None,
        })
    }

    /// Whether `path` holds a tokend database, found without writing
    /// anything: `Missing` for no file, `NotTokend` for an empty file or
    /// another program's.
    pub fn check_existing(path: &Path) -> StoreResult<()> {
        if !path.is_file() {
            return Err(StoreError::Missing(format!("database {}", path.display())));
        }
        if schema_version(path)? == 0 {
            return Err(StoreError::NotTokend);
        }
        Ok(())
    }

    /// The file's schema version, read without writing anything: 0 for an
    /// empty file or one no tokend migrated.
    pub fn schema_version_of(path: &Path) -> StoreResult<i64> {
        schema_version(path)
    }

    /// A private, migrated, empty database in memory, shared by every handle
    /// of this value and gone with it: for tests of the domain.
    pub fn in_memory() -> StoreResult<SqliteDatabase> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uri = format!(
            "file:tokend-memory-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        );
        let mut keeper = open_connection(Path::new(&uri))?;
        migrate(&mut keeper)?;
        Ok(SqliteDatabase {
            path: PathBuf::from(uri),
            created: false,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            writer: Mutex::default(),
            _keeper: Some(Mutex::new(keeper)),
        })
    }

    /// How long the connections it hands out wait for another writer.
    pub fn with_busy_timeout(mut self, busy_timeout: Duration) -> SqliteDatabase {
        self.busy_timeout = busy_timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (and its WAL companions) if this process created it:
    /// a first start that failed leaves nothing half-made behind. Every
    /// connection must be closed first.
    pub fn remove_if_created(&self) {
        if !self.created {
            return;
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(file));
        }
    }
}

impl SqliteDatabase {
    /// The writer thread, started on first use with the busy timeout then
    /// in force.
    pub(crate) fn writer(&self) -> StoreResult<Writer> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = writer.as_ref() {
            return Ok(writer.clone());
        }
        let conn = open_connection(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        let started = Writer::start(SqliteWriteConnection::new(conn), self.busy_timeout)?;
        *writer = Some(started.clone());
        Ok(started)
    }
}

impl Database for SqliteDatabase {
    fn connect(&self) -> StoreResult<Box<dyn Storage>> {
        let conn = open_connection(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(Box::new(SqliteStore {
            conn,
            writer: self.writer()?,
            snapshots: std::sync::atomic::AtomicU32::new(0),
            request_received: None,
        }))
    }
}

/// One handle: a worker's, or the admin CLI's. Reads go to its own
/// connection, writes to the writer thread.
pub struct SqliteStore {
    conn: Connection,
    writer: Writer,
    /// Snapshots begun and not yet ended: they nest, and the read
    /// transaction ends with the outermost.
    snapshots: std::sync::atomic::AtomicU32,
    /// When the request being answered arrived: its writes' deadline
    /// counts from there.
    request_received: Option<Instant>,
}

impl Storage for SqliteStore {
    fn reads(&self) -> &dyn Reads {
        &self.conn
    }

    fn run_write(&self, job: WriteJob, durability: Durability) -> StoreResult<()> {
        self.writer.write(job, durability, self.request_received)
    }

    fn submit_write(&self, job: WriteJob, durability: Durability) -> StoreResult<PendingCommit> {
        self.writer.submit(job, durability, self.request_received)
    }

    fn writes_waiting_for_lock(&self) -> Option<Duration> {
        self.writer.waiting_for_lock()
    }

    fn request_received(&mut self, received: Option<Instant>) {
        self.request_received = received;
    }

    fn queue_events(&self, events: Vec<Event>) -> StoreResult<()> {
        self.writer.queue_events(events)
    }

    fn begin_snapshot(&self) -> StoreResult<()> {
        use std::sync::atomic::Ordering;
        if self.conn.is_autocommit() {
            self.conn.prepare_cached("BEGIN")?.execute([])?;
        }
        self.snapshots.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn writer_stats(&self) -> Arc<WriterStats> {
        self.writer.stats()
    }

    fn end_snapshot(&self) {
        use std::sync::atomic::Ordering;
        let outer = self
            .snapshots
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .map_or(true, |before| before <= 1);
        if outer && !self.conn.is_autocommit() {
            // A read transaction: nothing to lose if this fails, and the
            // next statement would fail loudly if it were still open.
            let _ = self
                .conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]));
        }
    }
}

/// A `WHERE` clause built from the filters that are set, so that each
/// listing statement can use its indexes (no `(?1 IS NULL OR col = ?1)`).
#[derive(Default)]
struct Conditions<'a> {
    clauses: Vec<String>,
    args: Vec<&'a dyn ToSql>,
}

impl<'a> Conditions<'a> {
    fn push(&mut self, clause: impl Into<String>, args: &[&'a dyn ToSql]) {
        self.clauses.push(clause.into());
        self.args.extend_from_slice(args);
    }

    /// `column` contains `pattern` (from `like_pattern`), if one is given.
    fn name_like(&mut self, column: &str, pattern: &'a Option<String>) {
        if let Some(pattern) = pattern {
            self.push(format!("lower({column}) LIKE ? ESCAPE '\\'"), &[pattern]);
        }
    }

    fn sql(&self) -> String {
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
fn listing<T>(
    conn: &Connection,
    from: &str,
    select: &str,
    conditions: Conditions<'_>,
    order: &str,
    page: Option<(u64, u32)>,
    row: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<(Vec<T>, u64)> {
    let condition = conditions.sql();
    let mut args = conditions.args;
    let total: u64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM {from}{condition}"))?
        .query_row(args.as_slice(), |r| r.get(0))?;
    let mut sql = format!("{select}{condition} ORDER BY {order}");
    let bounds;
    if let Some((offset, limit)) = page {
        bounds = [i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX)];
        sql.push_str(" LIMIT ? OFFSET ?");
        args.push(&bounds[0]);
        args.push(&bounds[1]);
    }
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(args.as_slice(), row)?
        .collect::<Result<_, _>>()?;
    Ok((rows, total))
}

/// `%name%` for LIKE (with `ESCAPE '\\'`), LIKE's own characters escaped.
fn like_pattern(name: &Option<String>) -> Option<String> {
    name.as_ref().map(|name| {
        let escaped = name
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// Creates the file with mode 0600 unless it exists; true when it created it.
/// The file holds password hashes and signing keys; SQLite gives the -wal
/// and -shm files the same mode.
fn create_private_file(path: &Path) -> StoreResult<bool> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StoreError::Failed(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    // WAL lets the server's readers run beside one writer and beside the
    // admin CLI working on the same file.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Durable until a write asks otherwise (`SqliteStore::run_write`).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A long reader keeps a checkpoint from resetting the WAL, which then
    // grows; once it can reset, the file is cut back to this size rather
    // than kept at its largest.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(conn)
}

/// The file's schema version, read without writing anything: 0 for an
/// empty file or one no tokend migrated.
fn schema_version(path: &Path) -> StoreResult<i64> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// What the WAL file is cut back to after a checkpoint reset it (64 MiB).
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // Up to date (every open but the first after an upgrade): a plain read,
    // so that opening never waits behind another process's write lock.
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current == migrations().len() as i64 {
        return Ok(());
    }
    // A migration may rebuild a table others refer to; foreign keys are
    // checked once, at the end, instead of on every step (and cannot be
    // switched inside a transaction).
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = run_migrations(conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrated
}

fn run_migrations(conn: &mut Connection) -> StoreResult<()> {
    let migrations = migrations();
    let known = migrations.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    if current == known {
        return Ok(());
    }
    for (version, sql) in migrations.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
    }
    let dangling: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if dangling > 0 {
        return Err(StoreError::Failed(format!(
            "migration left {dangling} dangling references; nothing was changed"
        )));
    }
    tx.commit()?;
    Ok(())
}

/// Splits `schema.sql` into its numbered migrations, in order; the text before
/// the first marker is commentary.
fn migrations() -> Vec<&'static str> {
    SCHEMA
        .split("\n-- migration ")
        .skip(1)
        .map(|section| section.split_once('\n').map_or("", |(_, body)| body))
        .collect()
}

/// A fresh, migrated database in memory, on one connection.
#[cfg(test)]
pub(crate) fn test_conn() -> Connection {
    let mut conn = Connection::open_in_memory().expect("an in-memory database");
    migrate(&mut conn).expect("the schema");
    conn
}

#[cfg(test)]
mod tests;
