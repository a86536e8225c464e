//! Opening a PostgreSQL database: its schema and migrations, the handles
//! the workers read through, and the one writer per process.
//!
//! Several processes (nodes) share the database. Every write transaction
//! of every node first takes one cluster-wide lock (`WRITE_LOCK`), so the
//! nodes' batches commit one after another as a single SQLite writer's
//! do: rules that read then write (a device code used once, a refresh
//! token rotated once) hold across nodes without serializable isolation,
//! and `events.seq` grows in commit order, which the webhook cursors rely
//! on. Group commit keeps the lock's cost per batch, not per write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::Config;

use super::conn::PgConn;
use super::generations::Generations;
use super::notices::Notices;
use super::runtime::{Connector, IoRuntime};
use crate::domain::records::Event;
use crate::domain::storage::{
    ClusterNotice, Database, Durability, NoticeHandler, PendingCommit, Reads, Storage, StoreError,
    StoreResult, Transaction, WriteJob, WriterStats,
};
use crate::store::writer::{WriteConnection, Writer};

const SCHEMA: &str = include_str!("../../../schema.postgres.sql");

/// The advisory lock every write transaction holds: the nodes write one at
/// a time. ("tokend" in ASCII.)
const WRITE_LOCK: i64 = 0x746f_6b65_6e64;
/// The advisory lock a migration holds, so that nodes starting together
/// migrate once.
const MIGRATION_LOCK: i64 = WRITE_LOCK + 1;

/// libpq's idle time before the first keepalive probe: what a URL that
/// sets none gets.
const LIBPQ_KEEPALIVES_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// How long a write waits for the cluster's write lock before it is
/// answered 503, unless `with_busy_timeout` says otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A tokend database on a PostgreSQL server.
pub struct PgDatabase {
    connector: Connector,
    notices: Notices,
    generations: Arc<Generations>,
    busy_timeout: Duration,
    writer: Mutex<Option<Writer>>,
    /// Last, so that the connections' tasks stop after everything else.
    _io: IoRuntime,
}

impl PgDatabase {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// TLS with `?sslmode=require`, trusting `extra_ca_pem` too),
    /// creates the schema in an empty database, and checks that the schema
    /// is the one this binary knows: an older one needs `tokend migrate`.
    pub fn open(url: &str, extra_ca_pem: Option<&[u8]>) -> StoreResult<PgDatabase> {
        PgDatabase::connect_to(url, extra_ca_pem)?.open_schema()
    }

    /// `open`, every connection then made (this one's too) waiting at most
    /// `limit` for the server to connect or to answer a statement before
    /// it gives up: the request is answered 503 and the next one connects
    /// afresh. A server that never answers fails the start after `limit`.
    pub fn open_answering_within(
        url: &str,
        extra_ca_pem: Option<&[u8]>,
        limit: Duration,
    ) -> StoreResult<PgDatabase> {
        let mut database = PgDatabase::connect_to(url, extra_ca_pem)?;
        database.connector = database.connector.answering_within(limit);
        database.open_schema()
    }

    /// Creates the schema in an empty database; refuses an older one.
    fn open_schema(self) -> StoreResult<PgDatabase> {
        let conn = PgConn::connect(&self.connector)?;
        let (_, now) = migrate(&conn, Upgrade::OnlyEmpty)?;
        if now < known_version() {
            return Err(older(now));
        }
        Ok(self)
    }

    /// Opens a database that must hold a tokend schema already, of this
    /// binary's version: an empty one is refused before anything is
    /// written to it (`NotTokend`).
    pub fn open_existing(url: &str, extra_ca_pem: Option<&[u8]>) -> StoreResult<PgDatabase> {
        let database = PgDatabase::connect_to(url, extra_ca_pem)?;
        let conn = PgConn::connect(&database.connector)?;
        let (found, _) = migrate(&conn, Upgrade::Nothing)?;
        if found == 0 {
            return Err(StoreError::NotTokend);
        }
        if found < known_version() {
            return Err(older(found));
        }
        Ok(database)
    }

    /// Migrates the database at `url` to the schema this binary knows; the
    /// version it had and the version it has.
    pub fn migrate(url: &str, extra_ca_pem: Option<&[u8]>) -> StoreResult<(i64, i64)> {
        let database = PgDatabase::connect_to(url, extra_ca_pem)?;
        let conn = PgConn::connect(&database.connector)?;
        migrate(&conn, Upgrade::All)
    }

    fn connect_to(url: &str, extra_ca_pem: Option<&[u8]>) -> StoreResult<PgDatabase> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Failed(format!("not a PostgreSQL URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("tokend");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A server gone without a word (a failover, a cut link) is noticed
        // within a minute, not libpq's two hours: data unacknowledged for
        // 30 s ends a connection, and so do unanswered keepalive probes
        // on an idle one (the notices' listener).
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(30));
        }
        if config.get_keepalives_idle() == LIBPQ_KEEPALIVES_IDLE {
            config.keepalives_idle(Duration::from_secs(30));
        }
        let io = IoRuntime::start()?;
        let connector = io.connector(config, extra_ca_pem)?;
        let generations = Arc::new(Generations::default());
        Ok(PgDatabase {
            notices: Notices::new(connector.clone(), Arc::clone(&generations)),
            generations,
            connector,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            writer: Mutex::default(),
            _io: io,
        })
    }

    /// How long writes wait for the cluster's write lock.
    pub fn with_busy_timeout(mut self, busy_timeout: Duration) -> PgDatabase {
        self.busy_timeout = busy_timeout;
        self
    }

    /// The database's name and server, for messages (never the password).
    pub fn describe(&self) -> String {
        let config = self.connector.config();
        let host = config
            .get_hosts()
            .first()
            .map(|host| match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_default();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "PostgreSQL database {} on {host}:{port}",
            config.get_dbname().unwrap_or("(default)")
        )
    }

    fn writer(&self) -> StoreResult<Writer> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = writer.as_ref() {
            return Ok(writer.clone());
        }
        let conn = PgWriteConnection {
            conn: PgConn::connect(&self.connector)?,
            generations: Arc::clone(&self.generations),
        };
        let started = Writer::start(conn, self.busy_timeout)?;
        *writer = Some(started.clone());
        Ok(started)
    }
}

impl Database for PgDatabase {
    fn connect(&self) -> StoreResult<Box<dyn Storage>> {
        // The notices keep the generations fresh: listening from the first
        // handle on, not only once something is told.
        self.notices.listen();
        Ok(Box::new(PgStore {
            conn: PgConn::connect(&self.connector)?.with_generations(Arc::clone(&self.generations)),
            writer: self.writer()?,
            request_received: None,
        }))
    }

    fn tell_others(&self, notice: &ClusterNotice) {
        self.notices.tell(notice);
    }

    fn hear_others(&self, handler: NoticeHandler) {
        self.notices.hear(handler);
    }
}

/// One handle: reads on its own connection, writes to the process's writer.
struct PgStore {
    conn: PgConn,
    writer: Writer,
    request_received: Option<Instant>,
}

impl Storage for PgStore {
    fn reads(&self) -> &dyn Reads {
        &self.conn
    }

    fn run_write(&self, job: WriteJob, durability: Durability) -> StoreResult<()> {
        self.writer.write(job, durability, self.request_received)
    }

    fn submit_write(&self, job: WriteJob, durability: Durability) -> StoreResult<PendingCommit> {
        self.writer.submit(job, durability, self.request_received)
    }

    fn queue_events(&self, events: Vec<Event>) -> StoreResult<()> {
        self.writer.queue_events(events)
    }

    fn writes_waiting_for_lock(&self) -> Option<Duration> {
        self.writer.waiting_for_lock()
    }

    fn request_received(&mut self, received: Option<Instant>) {
        self.request_received = received;
    }

    /// Nothing: each statement reads what was committed before it
    /// (READ COMMITTED). A snapshot taken at a request's first read would
    /// be older than a generation another handle read meanwhile
    /// (`Generations`), and an account read in it would be kept under the
    /// newer generation, stale until the next change. SQLite's snapshots
    /// read the generation inside themselves; and on a server a snapshot
    /// costs two round trips where on SQLite it saves work.
    fn begin_snapshot(&self) -> StoreResult<()> {
        Ok(())
    }

    fn end_snapshot(&self) {}

    fn writer_stats(&self) -> Arc<WriterStats> {
        self.writer.stats()
    }
}

/// The writer's connection.
struct PgWriteConnection {
    conn: PgConn,
    /// Marked moved by the commits that move them, before any waiter hears
    /// of the commit.
    generations: Arc<Generations>,
}

impl WriteConnection for PgWriteConnection {
    fn begin(&mut self, durability: Durability, lock_wait: Duration) -> StoreResult<()> {
        // A relaxed batch (the readiness probe) may be lost with a crash of
        // the server but is never torn; every other commit is flushed (and
        // replicated, if the server waits for a synchronous standby)
        // before its answers go out.
        let synchronous = match durability {
            Durability::Durable => "on",
            Durability::Relaxed => "off",
        };
        let wait_ms = lock_wait.as_millis().clamp(1, i32::MAX as u128);
        // A connection lost since the last batch is made again here, and
        // only here.
        self.conn.set_in_transaction(false);
        let begun = self.conn.batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = {wait_ms}; \
             SET LOCAL synchronous_commit = {synchronous}; \
             SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        ));
        self.conn.set_in_transaction(true);
        if begun.is_err() {
            self.rollback();
        }
        begun
    }

    fn savepoint(&mut self) -> StoreResult<()> {
        self.conn.batch_execute("SAVEPOINT job")
    }

    fn end_savepoint(&mut self, undo: bool) -> StoreResult<()> {
        if undo {
            self.conn
                .batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
        } else {
            self.conn.batch_execute("RELEASE SAVEPOINT job")
        }
    }

    fn transaction_lost(&self) -> bool {
        self.conn.is_closed()
    }

    fn commit(&mut self) -> StoreResult<()> {
        let committed = self.conn.commit_moving();
        self.conn.set_in_transaction(false);
        for which in committed? {
            self.generations.moved(which);
        }
        Ok(())
    }

    fn rollback(&mut self) {
        // Harmless outside a transaction (a warning on the server), and a
        // connection that is gone took its transaction with it.
        let _ = self.conn.batch_execute("ROLLBACK");
        self.conn.set_in_transaction(false);
    }

    fn transaction(&self) -> &dyn Transaction {
        &self.conn
    }
}

fn older(found: i64) -> StoreError {
    StoreError::Failed(format!(
        "the database's schema is version {found}, older than this tokend's ({}); \
         run `tokend migrate` first",
        known_version()
    ))
}

/// What `migrate` may do to a database older than this binary.
#[derive(PartialEq, Eq)]
enum Upgrade {
    /// Nothing: only read the version.
    Nothing,
    /// Create the schema in an empty database; leave an older one as it is.
    OnlyEmpty,
    All,
}

/// The schema version this binary knows.
pub(super) fn known_version() -> i64 {
    let (baseline, later) = sections();
    baseline.0 + later.len() as i64
}

/// The baseline (its version and statements) and the later migrations,
/// in order.
pub(super) fn sections() -> ((i64, &'static str), Vec<&'static str>) {
    let (_, rest) = SCHEMA.split_once("\n-- baseline ").unwrap_or(("", ""));
    let (version, rest) = rest.split_once('\n').unwrap_or(("0", ""));
    let mut parts = rest.split("\n-- migration ");
    let baseline = parts.next().unwrap_or("");
    let later = parts
        .map(|section| section.split_once('\n').map_or("", |(_, body)| body))
        .collect();
    ((version.trim().parse().unwrap_or(0), baseline), later)
}

/// Brings the schema up to date as far as `upgrade` allows, under the
/// migration lock; the version found before and the version after.
fn migrate(conn: &PgConn, upgrade: Upgrade) -> StoreResult<(i64, i64)> {
    conn.query("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let migrated = migrate_locked(conn, upgrade);
    let _ = conn.query("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    migrated
}

fn migrate_locked(conn: &PgConn, upgrade: Upgrade) -> StoreResult<(i64, i64)> {
    let known = known_version();
    let found = schema_version(conn)?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    let leave = match upgrade {
        Upgrade::Nothing => true,
        Upgrade::OnlyEmpty => found > 0,
        Upgrade::All => false,
    };
    if found == known || leave {
        return Ok((found, found));
    }
    let ((baseline_version, baseline), later) = sections();
    conn.batch_execute("BEGIN")?;
    let applied = (|| {
        if found == 0 {
            if !database_is_empty(conn)? {
                return Err(StoreError::NotTokend);
            }
            conn.batch_execute(baseline)?;
            conn.execute(
                "INSERT INTO schema_version (id, version) VALUES (1, $1)",
                &[&baseline_version],
            )?;
        }
        let from = found.max(baseline_version);
        for (i, sql) in later.iter().enumerate() {
            let version = baseline_version + 1 + i as i64;
            if version > from {
                conn.batch_execute(sql)?;
                conn.execute("UPDATE schema_version SET version = $1", &[&version])?;
            }
        }
        Ok(())
    })();
    match applied {
        Ok(()) => conn.batch_execute("COMMIT")?,
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK");
            return Err(e);
        }
    }
    Ok((found, known))
}

/// The schema version, 0 when the database holds no tokend schema.
fn schema_version(conn: &PgConn) -> StoreResult<i64> {
    let exists = conn
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .try_get::<_, bool>(0)?;
    if !exists {
        return Ok(0);
    }
    let row = conn.query_opt("SELECT version FROM schema_version", &[])?;
    match row {
        Some(row) => Ok(row.try_get(0)?),
        None => Err(StoreError::NotTokend),
    }
}

/// Whether the schema tokend would use holds no tables: a database of
/// another program's is never written to.
fn database_is_empty(conn: &PgConn) -> StoreResult<bool> {
    let tables: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )?
        .try_get(0)?;
    Ok(tables == 0)
}
