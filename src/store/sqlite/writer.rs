//! The writer thread: one connection that makes every change, committing
//! queued writes in groups.
//!
//! Workers hand their write jobs to the queue and wait for the answer. The
//! writer takes whatever has queued up (up to `MAX_BATCH`), runs each job
//! under its own savepoint inside one transaction, and commits once: one
//! sync for the whole group, so concurrent requests share syncs instead of
//! queuing on them. A job that fails is rolled back to its savepoint alone.
//! Each job's answer is sent only after the commit that holds it, so a
//! response that waits for its write is never ahead of the disk. A worker
//! may wait for that answer blocking (`write`) or hand it to its runtime to
//! await (`submit`) and go on serving other requests meanwhile: the more
//! requests are in flight, the larger the batches and the fewer the syncs.
//!
//! The queue is bounded: when it is full a worker waits (back-pressure);
//! nothing is dropped. The thread ends when every handle is gone, after the
//! queue has drained.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use crate::domain::storage::{
    commit_channel, CommitSender, Durability, PendingCommit, StoreError, StoreResult, WriteJob,
};

/// Writes waiting for the writer before a worker has to wait to queue.
const QUEUE: usize = 4096;
/// Writes committed together at most.
const MAX_BATCH: usize = 256;
/// How long a batch that nobody waits for waits for company.
const LINGER: Duration = Duration::from_millis(2);

struct Request {
    job: WriteJob,
    durability: Durability,
    /// None: nobody waits; a failure is logged.
    done: Option<Done>,
}

/// Where a job's result goes once its batch has committed (or failed).
enum Done {
    /// A thread blocked in `write`.
    Blocking(SyncSender<StoreResult<()>>),
    /// A task awaiting a `PendingCommit`.
    Awaited(CommitSender),
}

impl Done {
    fn send(self, result: StoreResult<()>) {
        match self {
            // The waiter may have gone (a client hung up): nothing to tell.
            Done::Blocking(done) => {
                let _ = done.send(result);
            }
            Done::Awaited(done) => done.send(result),
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Failed("the writer thread has stopped".into())
}

/// A handle on the writer thread; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    queue: SyncSender<Request>,
}

impl Writer {
    /// Starts the thread on `conn`, which it owns from then on.
    pub(super) fn start(conn: Connection, busy_timeout: Duration) -> StoreResult<Writer> {
        let (queue, requests) = mpsc::sync_channel(QUEUE);
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || run(conn, busy_timeout, &requests))
            .map_err(|e| StoreError::Failed(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { queue })
    }

    /// Queues `job` and waits until the commit that holds it.
    pub(super) fn write(&self, job: WriteJob, durability: Durability) -> StoreResult<()> {
        let (done, answer) = mpsc::sync_channel(1);
        self.send(job, durability, Some(Done::Blocking(done)))?;
        answer.recv().map_err(|_| stopped())?
    }

    /// Queues `job` and returns what to await for the commit that holds it.
    /// Waits only while the queue is full.
    pub(super) fn submit(
        &self,
        job: WriteJob,
        durability: Durability,
    ) -> StoreResult<PendingCommit> {
        let (done, answer) = commit_channel();
        self.send(job, durability, Some(Done::Awaited(done)))?;
        Ok(answer)
    }

    /// Queues `job` for a durable commit without waiting for it.
    pub(super) fn queue(&self, job: WriteJob) -> StoreResult<()> {
        self.send(job, Durability::Durable, None)
    }

    fn send(&self, job: WriteJob, durability: Durability, done: Option<Done>) -> StoreResult<()> {
        self.queue
            .send(Request {
                job,
                durability,
                done,
            })
            .map_err(|_| stopped())
    }
}

fn run(mut conn: Connection, busy_timeout: Duration, requests: &Receiver<Request>) {
    let mut level = Level::default();
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        gather(requests, &mut batch);
        // Nobody waits for a batch of queued writes alone (refusals' events):
        // let more join it, so that a stream of refusals costs few syncs.
        if batch.iter().all(|r| r.done.is_none()) && batch.len() < MAX_BATCH {
            thread::sleep(LINGER);
            gather(requests, &mut batch);
        }
        commit(&mut conn, &mut level, busy_timeout, batch);
    }
}

/// Adds what has queued up, up to `MAX_BATCH`.
fn gather(requests: &Receiver<Request>, batch: &mut Vec<Request>) {
    while batch.len() < MAX_BATCH {
        match requests.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
}

/// The connection's `synchronous` level and busy timeout, changed only when
/// a batch needs the other.
#[derive(Default, PartialEq, Eq, Clone, Copy)]
struct Level {
    relaxed: bool,
}

/// How long a batch of relaxed writes (the readiness probe) waits for a busy
/// database before it is given up: it must not hold up the answers it rides
/// along with.
const RELAXED_BUSY_TIMEOUT: Duration = Duration::from_millis(20);

fn commit(conn: &mut Connection, level: &mut Level, busy_timeout: Duration, batch: Vec<Request>) {
    let wanted = Level {
        relaxed: batch.iter().all(|r| r.durability == Durability::Relaxed),
    };
    let (jobs, answers): (Vec<WriteJob>, Vec<_>) =
        batch.into_iter().map(|r| (r.job, r.done)).unzip();
    let results = match run_batch(conn, level, wanted, busy_timeout, jobs) {
        Ok(results) => results,
        // Nothing of the batch was committed: every job hears why.
        Err(e) => answers.iter().map(|_| Err(e.clone())).collect(),
    };
    for (done, result) in answers.into_iter().zip(results) {
        match (done, result) {
            (Some(done), result) => done.send(result),
            (None, Err(e)) => eprintln!("tokend: a queued write was lost: {e}"),
            (None, Ok(())) => {}
        }
    }
}

/// Runs the jobs in one transaction and commits it; each job's own result,
/// or the error that kept the whole batch from committing.
fn run_batch(
    conn: &mut Connection,
    level: &mut Level,
    wanted: Level,
    busy_timeout: Duration,
    jobs: Vec<WriteJob>,
) -> StoreResult<Vec<StoreResult<()>>> {
    if *level != wanted {
        // FULL: a commit is on disk before the answers that wait for it; in
        // WAL mode NORMAL could lose it to a power cut. Relaxed batches
        // are synced by the next durable commit.
        let synchronous = if wanted.relaxed { "NORMAL" } else { "FULL" };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.busy_timeout(if wanted.relaxed {
            RELAXED_BUSY_TIMEOUT
        } else {
            busy_timeout
        })?;
        *level = wanted;
    }
    // IMMEDIATE takes the write lock up front: a busy database is met before
    // any job runs.
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let result = run_job(conn, job);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back itself (disk full,
            // I/O error): nothing of the batch stands.
            return Err(result
                .err()
                .unwrap_or_else(|| StoreError::Failed("the batch was rolled back".into())));
        }
        results.push(result);
    }
    let committed = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]));
    if let Err(e) = committed {
        if !conn.is_autocommit() {
            let _ = conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
        return Err(e.into());
    }
    Ok(results)
}

/// One job under its own savepoint: a failing (or panicking) job is undone
/// alone, and the others of its batch still commit.
fn run_job(conn: &Connection, job: WriteJob) -> StoreResult<()> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let result = catch_unwind(AssertUnwindSafe(|| job(conn)))
        .unwrap_or_else(|_| Err(StoreError::Failed("a write job panicked".into())));
    if conn.is_autocommit() {
        return result;
    }
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(job: WriteJob, durability: Durability) -> (Request, Receiver<StoreResult<()>>) {
        let (done, answer) = mpsc::sync_channel(1);
        (
            Request {
                job,
                durability,
                done: Some(Done::Blocking(done)),
            },
            answer,
        )
    }

    fn memory() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn
    }

    fn unlocks(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM login_unlocks", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failing_job_is_undone_alone_and_the_batch_commits() {
        let mut conn = memory();
        let (good, good_answer) = request(
            Box::new(|tx| tx.record_login_unlock("a@b", 1)),
            Durability::Durable,
        );
        let (bad, bad_answer) = request(
            Box::new(|tx| {
                tx.record_login_unlock("c@d", 1)?;
                Err(StoreError::Failed("refused".into()))
            }),
            Durability::Durable,
        );
        let (panicky, panicky_answer) = request(Box::new(|_| panic!("a bug")), Durability::Durable);
        commit(
            &mut conn,
            &mut Level::default(),
            Duration::from_secs(1),
            vec![good, bad, panicky],
        );
        assert!(good_answer.recv().unwrap().is_ok());
        assert!(bad_answer.recv().unwrap().is_err());
        assert!(panicky_answer.recv().unwrap().is_err());
        assert_eq!(unlocks(&conn), 1, "only the good job's row is there");
    }

    #[test]
    fn durable_batches_sync_and_relaxed_ones_do_not() {
        let mut conn = memory();
        let mut level = Level::default();
        let synchronous = |conn: &Connection| -> i64 {
            conn.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        let (relaxed, answer) = request(Box::new(|_| Ok(())), Durability::Relaxed);
        commit(&mut conn, &mut level, Duration::from_secs(1), vec![relaxed]);
        answer.recv().unwrap().unwrap();
        assert_eq!(synchronous(&conn), 1, "NORMAL for relaxed writes alone");
        let (relaxed, a) = request(Box::new(|_| Ok(())), Durability::Relaxed);
        let (durable, b) = request(Box::new(|_| Ok(())), Durability::Durable);
        commit(
            &mut conn,
            &mut level,
            Duration::from_secs(1),
            vec![relaxed, durable],
        );
        a.recv().unwrap().unwrap();
        b.recv().unwrap().unwrap();
        assert_eq!(synchronous(&conn), 2, "FULL when any write is acknowledged");
    }

    /// A fresh database file in a directory of its own.
    fn on_disk(
        name: &str,
    ) -> (
        std::path::PathBuf,
        std::path::PathBuf,
        super::super::SqliteDatabase,
    ) {
        let dir = std::env::temp_dir().join(format!("tokend-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let database = super::super::SqliteDatabase::create_or_open(&path).unwrap();
        (dir, path, database)
    }

    #[test]
    fn submitted_writes_are_answered_once_committed() {
        let (dir, path, database) = on_disk("submit");
        let writer = database.writer().unwrap();
        // One thread submits many without waiting, as a worker's runtime
        // does, then collects the answers.
        let pending: Vec<PendingCommit> = (0..200)
            .map(|i| {
                let name = format!("user{i}@org");
                writer
                    .submit(
                        Box::new(move |tx| tx.record_login_unlock(&name, 1)),
                        Durability::Durable,
                    )
                    .unwrap()
            })
            .collect();
        let failing = writer
            .submit(
                Box::new(|_| Err(StoreError::Failed("refused".into()))),
                Durability::Durable,
            )
            .unwrap();
        for commit in pending {
            commit.wait().unwrap();
        }
        assert!(failing.wait().is_err(), "a failed job is reported");
        let conn = Connection::open(&path).unwrap();
        assert_eq!(unlocks(&conn), 200);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_writers_share_batches_and_all_land() {
        let (dir, path, database) = on_disk("writer");
        let writer = database.writer().unwrap();
        let handles: Vec<_> = (0..16)
            .map(|n| {
                let writer = writer.clone();
                thread::spawn(move || {
                    for i in 0..20 {
                        let name = format!("user{n}-{i}@org");
                        writer
                            .write(
                                Box::new(move |tx| tx.record_login_unlock(&name, 1)),
                                Durability::Durable,
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        assert_eq!(unlocks(&conn), 320);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
