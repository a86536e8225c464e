//! The writer thread: one connection that makes every change, committing
//! queued writes in groups. The same for every backend: what it needs of
//! a backend's connection is `WriteConnection`.
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
//! Every job that someone waits for has a deadline, its queueing plus the
//! busy timeout: a job whose deadline passed before its batch began is
//! answered `Busy` without running, and a batch waits for the write lock
//! no longer than its earliest deadline. So another process holding the
//! lock delays a write by the busy timeout at most, never by the sum of
//! the batches queued ahead of it.
//!
//! The queue is bounded: when it is full a worker waits (back-pressure);
//! nothing is dropped. Events that nobody waits for (refusals') are queued
//! as data, not as a closure, so a batch that cannot commit (a database
//! busy past the timeout, a full disk) keeps them and tries again with
//! backoff until they are written. The thread ends when every handle is
//! gone, after the queue has drained.
//!
//! A batch that lost to a concurrent transaction (`StoreError::Retry`: a
//! serialization failure or a deadlock, which only a backend shared by
//! several processes raises) is rolled back and run again from its first
//! job, a few times, before its waiters hear `Retry`.
//!
//! `WriterStats` tells monitoring the queue's depth, whether the thread
//! runs, and each batch's size and time.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::domain::records::Event;
use crate::domain::storage::{
    commit_channel, CommitSender, Durability, PendingCommit, StoreError, StoreResult, Transaction,
    WriteJob, WriterStats,
};
use crate::logging;

/// What the writer needs of a backend's connection: transactions with
/// savepoints, and its statements as a `Transaction`.
pub(crate) trait WriteConnection: Send + 'static {
    /// Begins a batch's transaction, to be committed with `durability`,
    /// waiting at most `lock_wait` for the database's write lock.
    fn begin(&mut self, durability: Durability, lock_wait: Duration) -> StoreResult<()>;
    fn savepoint(&mut self) -> StoreResult<()>;
    /// Ends the savepoint, undoing what was done since it first if `undo`.
    fn end_savepoint(&mut self, undo: bool) -> StoreResult<()>;
    /// Whether the engine rolled the whole transaction back on its own
    /// (SQLite does on a full disk or an I/O error).
    fn transaction_lost(&self) -> bool;
    fn commit(&mut self) -> StoreResult<()>;
    /// Rolls back what is open, if anything is.
    fn rollback(&mut self);
    fn transaction(&self) -> &dyn Transaction;
}

/// How often a batch that lost to a concurrent transaction is run again
/// before its waiters are answered `Retry`.
const RETRIES: u32 = 5;

/// Writes waiting for the writer before a worker has to wait to queue.
const QUEUE: usize = 4096;
/// Writes committed together at most.
const MAX_BATCH: usize = 256;
/// How long a batch that nobody waits for waits for company.
const LINGER: Duration = Duration::from_millis(2);
/// The first and the longest wait before queued events that could not be
/// committed are tried again.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_LONGEST: Duration = Duration::from_secs(5);
/// Tries left for unwritten events once every handle is gone (stopping).
const TRIES_WHEN_STOPPING: u32 = 5;

struct Request {
    work: Work,
    durability: Durability,
    /// None: nobody waits (queued events).
    done: Option<Done>,
    /// When the waiter is answered `Busy` rather than wait longer; None
    /// for queued events, which are tried until written.
    deadline: Option<Instant>,
}

enum Work {
    Job(WriteJob),
    /// Kept until a commit holds them: tried again when a batch fails.
    Events(Vec<Event>),
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
pub(crate) struct Writer {
    queue: SyncSender<Request>,
    /// How long a job may wait, in the queue and for the write lock.
    busy_timeout: Duration,
    lock_wait: Arc<LockWait>,
    stats: Arc<WriterStats>,
}

/// Marks the writer's thread ended when it ends, by return or panic.
struct Alive(Arc<WriterStats>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.set_alive(false);
    }
}

/// Since when the writer has been waiting for the write lock, if it is:
/// readiness reads it instead of queueing a probe behind a stuck batch.
#[derive(Default)]
pub(crate) struct LockWait {
    since: Mutex<Option<Instant>>,
}

impl LockWait {
    fn set(&self, since: Option<Instant>) {
        *self.since.lock().unwrap_or_else(|e| e.into_inner()) = since;
    }

    fn waited(&self) -> Option<Duration> {
        let since = *self.since.lock().unwrap_or_else(|e| e.into_inner());
        since.map(|t| t.elapsed())
    }
}

impl Writer {
    /// Starts the thread on `conn`, which it owns from then on.
    pub(crate) fn start(conn: impl WriteConnection, busy_timeout: Duration) -> StoreResult<Writer> {
        let (queue, requests) = mpsc::sync_channel(QUEUE);
        let lock_wait = Arc::new(LockWait::default());
        let waits = Arc::clone(&lock_wait);
        let stats = Arc::new(WriterStats::default());
        stats.set_alive(true);
        let alive = Alive(Arc::clone(&stats));
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || run(conn, busy_timeout, &requests, &waits, &alive.0))
            .map_err(|e| {
                stats.set_alive(false);
                StoreError::Failed(format!("cannot start the writer thread: {e}"))
            })?;
        Ok(Writer {
            queue,
            busy_timeout,
            lock_wait,
            stats,
        })
    }

    pub(crate) fn stats(&self) -> Arc<WriterStats> {
        Arc::clone(&self.stats)
    }

    /// How long the writer has been waiting for another process's write
    /// lock, if it is.
    pub(crate) fn waiting_for_lock(&self) -> Option<Duration> {
        self.lock_wait.waited()
    }

    /// Queues `job` and waits until the commit that holds it. The busy
    /// timeout counts from `since` (when the request arrived), else now.
    pub(crate) fn write(
        &self,
        job: WriteJob,
        durability: Durability,
        since: Option<Instant>,
    ) -> StoreResult<()> {
        let (done, answer) = mpsc::sync_channel(1);
        let deadline = self.deadline(since);
        self.send(
            Work::Job(job),
            durability,
            Some(Done::Blocking(done)),
            deadline,
        )?;
        answer.recv().map_err(|_| stopped())?
    }

    fn deadline(&self, since: Option<Instant>) -> Option<Instant> {
        Some(since.unwrap_or_else(Instant::now) + self.busy_timeout)
    }

    /// Queues `job` and returns what to await for the commit that holds it.
    /// Waits only while the queue is full.
    pub(crate) fn submit(
        &self,
        job: WriteJob,
        durability: Durability,
        since: Option<Instant>,
    ) -> StoreResult<PendingCommit> {
        let (done, answer) = commit_channel();
        let deadline = self.deadline(since);
        self.send(
            Work::Job(job),
            durability,
            Some(Done::Awaited(done)),
            deadline,
        )?;
        Ok(answer)
    }

    /// Queues `events` for a durable commit without waiting for it; they
    /// are tried again until a commit holds them.
    pub(crate) fn queue_events(&self, events: Vec<Event>) -> StoreResult<()> {
        self.send(Work::Events(events), Durability::Durable, None, None)
    }

    fn send(
        &self,
        work: Work,
        durability: Durability,
        done: Option<Done>,
        deadline: Option<Instant>,
    ) -> StoreResult<()> {
        self.stats.add_queued(1);
        self.queue
            .send(Request {
                work,
                durability,
                done,
                deadline,
            })
            .map_err(|_| {
                self.stats.add_queued(-1);
                stopped()
            })
    }
}

fn run(
    mut conn: impl WriteConnection,
    busy_timeout: Duration,
    requests: &Receiver<Request>,
    lock_wait: &LockWait,
    stats: &WriterStats,
) {
    // Queued events a failed batch left, tried first in the next one.
    let mut unwritten: Vec<Request> = Vec::new();
    let mut retry_in = RETRY_FIRST;
    let mut tries_when_stopping = TRIES_WHEN_STOPPING;
    loop {
        let mut batch = std::mem::take(&mut unwritten);
        let carried = batch.len();
        if batch.is_empty() {
            match requests.recv() {
                Ok(first) => batch.push(first),
                Err(_) => return,
            }
        } else {
            match requests.recv_timeout(retry_in) {
                Ok(next) => batch.push(next),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if tries_when_stopping == 0 {
                        let lost: usize = batch.iter().map(Request::event_count).sum();
                        logging::error(format!(
                            "tokend: stopping with {lost} audit events unwritten"
                        ));
                        return;
                    }
                    tries_when_stopping -= 1;
                    thread::sleep(retry_in);
                }
            }
        }
        gather(requests, &mut batch);
        // Nobody waits for a batch of queued writes alone (refusals' events):
        // let more join it, so that a stream of refusals costs few syncs.
        if batch.iter().all(|r| r.done.is_none()) && batch.len() < MAX_BATCH {
            thread::sleep(LINGER);
            gather(requests, &mut batch);
        }
        stats.add_queued(-((batch.len() - carried) as i64));
        let (size, started) = (batch.len(), Instant::now());
        unwritten = commit(&mut conn, busy_timeout, batch, lock_wait);
        stats.batch(size, started.elapsed());
        retry_in = if unwritten.is_empty() {
            RETRY_FIRST
        } else {
            (retry_in * 2).min(RETRY_LONGEST)
        };
    }
}

impl Request {
    fn event_count(&self) -> usize {
        match &self.work {
            Work::Events(events) => events.len(),
            Work::Job(_) => 0,
        }
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

/// Commits `batch`, answers whoever waits, and returns the queued events
/// that could not be committed, to be tried again.
fn commit(
    conn: &mut impl WriteConnection,
    busy_timeout: Duration,
    batch: Vec<Request>,
    lock_wait: &LockWait,
) -> Vec<Request> {
    let now = Instant::now();
    let (late, batch): (Vec<Request>, Vec<Request>) = batch
        .into_iter()
        .partition(|r| r.deadline.is_some_and(|d| d <= now));
    // Waited their time already (behind a held lock): answered, not run.
    for request in late {
        if let Some(done) = request.done {
            done.send(Err(StoreError::Busy));
        }
    }
    if batch.is_empty() {
        return Vec::new();
    }
    let durability = if batch.iter().all(|r| r.durability == Durability::Relaxed) {
        Durability::Relaxed
    } else {
        Durability::Durable
    };
    // The write lock is waited for until the earliest waiter's deadline.
    let lock_wait_limit = batch
        .iter()
        .filter_map(|r| r.deadline)
        .min()
        .map_or(busy_timeout, |d| d.saturating_duration_since(now))
        .max(Duration::from_millis(1));
    let mut events = Vec::new();
    let mut works = Vec::with_capacity(batch.len());
    let mut answers = Vec::with_capacity(batch.len());
    for request in batch {
        match request.work {
            Work::Events(queued) => events.push(queued),
            Work::Job(job) => {
                works.push(job);
                answers.push(request.done);
            }
        }
    }
    lock_wait.set(Some(now));
    let mut outcome = run_batch(
        conn,
        durability,
        lock_wait_limit,
        &mut works,
        &events,
        lock_wait,
    );
    for _ in 0..RETRIES {
        if !matches!(outcome, Err(StoreError::Retry)) {
            break;
        }
        outcome = run_batch(
            conn,
            durability,
            lock_wait_limit,
            &mut works,
            &events,
            lock_wait,
        );
    }
    lock_wait.set(None);
    match outcome {
        Ok(results) => {
            for (done, result) in answers.into_iter().zip(results) {
                match (done, result) {
                    (Some(done), result) => done.send(result),
                    (None, Err(e)) => logging::warn(format!("tokend: a queued write failed: {e}")),
                    (None, Ok(())) => {}
                }
            }
            Vec::new()
        }
        // Nothing of the batch was committed: every waiting job hears why,
        // and the queued events wait for the next try.
        Err(e) => {
            for done in answers.into_iter().flatten() {
                done.send(Err(e.clone()));
            }
            if !events.is_empty() {
                logging::warn(format!(
                    "tokend: audit events not yet written, trying again: {e}"
                ));
            }
            events
                .into_iter()
                .map(|events| Request {
                    work: Work::Events(events),
                    durability: Durability::Durable,
                    done: None,
                    deadline: None,
                })
                .collect()
        }
    }
}

/// Runs the jobs and writes the queued events in one transaction and
/// commits it; each job's own result, or the error that kept the whole
/// batch from committing (`Retry` when it is worth running again).
fn run_batch(
    conn: &mut impl WriteConnection,
    durability: Durability,
    lock_wait_limit: Duration,
    jobs: &mut [WriteJob],
    events: &[Vec<Event>],
    lock_wait: &LockWait,
) -> StoreResult<Vec<StoreResult<()>>> {
    conn.begin(durability, lock_wait_limit)?;
    lock_wait.set(None);
    let mut results = Vec::with_capacity(jobs.len());
    let rolled_back = |result: StoreResult<()>| {
        result
            .err()
            .unwrap_or_else(|| StoreError::Failed("the batch was rolled back".into()))
    };
    if let ([job], []) = (&mut *jobs, events) {
        // A batch of one needs no savepoint: the job's failure is the
        // transaction's, and two round trips to a database server fewer.
        return match catch_unwind(AssertUnwindSafe(|| job(conn.transaction())))
            .unwrap_or_else(|_| Err(StoreError::Failed("a write job panicked".into())))
        {
            Ok(()) => match conn.commit() {
                Ok(()) => Ok(vec![Ok(())]),
                Err(e) => {
                    conn.rollback();
                    Err(e)
                }
            },
            Err(StoreError::Retry) => {
                conn.rollback();
                Err(StoreError::Retry)
            }
            Err(e) if conn.transaction_lost() => Err(e),
            Err(e) => {
                conn.rollback();
                Ok(vec![Err(e)])
            }
        };
    }
    for job in jobs.iter_mut() {
        let result = in_savepoint(conn, |tx| job(tx));
        if conn.transaction_lost() {
            // Nothing of the batch stands.
            return Err(rolled_back(result));
        }
        if let Err(StoreError::Retry) = result {
            // The transaction as a whole lost: no job of it may commit.
            conn.rollback();
            return Err(StoreError::Retry);
        }
        results.push(result);
    }
    for queued in events {
        let result = in_savepoint(conn, |tx| {
            queued.iter().try_for_each(|e| tx.insert_event(e))
        });
        if conn.transaction_lost() {
            return Err(rolled_back(result));
        }
        match result {
            Err(StoreError::Retry) => {
                conn.rollback();
                return Err(StoreError::Retry);
            }
            // Not the database's state but the events themselves: trying
            // again would fail again.
            Err(e) => logging::error(format!("tokend: audit events refused by the database: {e}")),
            Ok(()) => {}
        }
    }
    if let Err(e) = conn.commit() {
        conn.rollback();
        return Err(e);
    }
    Ok(results)
}

/// One job under its own savepoint: a failing (or panicking) job is undone
/// alone, and the others of its batch still commit.
fn in_savepoint(
    conn: &mut impl WriteConnection,
    job: impl FnOnce(&dyn Transaction) -> StoreResult<()>,
) -> StoreResult<()> {
    conn.savepoint()?;
    let result = catch_unwind(AssertUnwindSafe(|| job(conn.transaction())))
        .unwrap_or_else(|_| Err(StoreError::Failed("a write job panicked".into())));
    if conn.transaction_lost() {
        return result;
    }
    conn.end_savepoint(result.is_err())?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::{SqliteDatabase, SqliteWriteConnection};
    use rusqlite::Connection;

    fn request(job: WriteJob, durability: Durability) -> (Request, Receiver<StoreResult<()>>) {
        let (done, answer) = mpsc::sync_channel(1);
        (
            Request {
                work: Work::Job(job),
                durability,
                done: Some(Done::Blocking(done)),
                deadline: Some(Instant::now() + Duration::from_secs(60)),
            },
            answer,
        )
    }

    fn memory() -> SqliteWriteConnection {
        SqliteWriteConnection::new(crate::store::sqlite::test_conn())
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
            Duration::from_secs(1),
            vec![good, bad, panicky],
            &LockWait::default(),
        );
        assert!(good_answer.recv().unwrap().is_ok());
        assert!(bad_answer.recv().unwrap().is_err());
        assert!(panicky_answer.recv().unwrap().is_err());
        assert_eq!(
            unlocks(conn.connection()),
            1,
            "only the good job's row is there"
        );
    }

    #[test]
    fn a_batch_that_lost_a_race_runs_again_whole_and_commits_once() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let mut conn = memory();
        let runs = Arc::new(AtomicU32::new(0));
        let first_runs = Arc::clone(&runs);
        let (first, first_answer) = request(
            Box::new(move |tx| {
                first_runs.fetch_add(1, Ordering::Relaxed);
                tx.record_login_unlock("a@b", 1)
            }),
            Durability::Durable,
        );
        let losses = Arc::new(AtomicU32::new(0));
        let lost = Arc::clone(&losses);
        let (racer, racer_answer) = request(
            Box::new(move |tx| {
                tx.record_login_unlock("c@d", 1)?;
                // Loses once, as a serialization failure would.
                if lost.fetch_add(1, Ordering::Relaxed) == 0 {
                    return Err(StoreError::Retry);
                }
                Ok(())
            }),
            Durability::Durable,
        );
        commit(
            &mut conn,
            Duration::from_secs(1),
            vec![first, racer],
            &LockWait::default(),
        );
        assert!(first_answer.recv().unwrap().is_ok());
        assert!(racer_answer.recv().unwrap().is_ok());
        assert_eq!(runs.load(Ordering::Relaxed), 2, "the whole batch ran again");
        assert_eq!(unlocks(conn.connection()), 2, "each row once");

        let (hopeless, answer) = request(Box::new(|_| Err(StoreError::Retry)), Durability::Durable);
        commit(
            &mut conn,
            Duration::from_secs(1),
            vec![hopeless],
            &LockWait::default(),
        );
        assert!(
            matches!(answer.recv().unwrap(), Err(StoreError::Retry)),
            "a batch that keeps losing is given up"
        );
    }

    #[test]
    fn durable_batches_sync_and_relaxed_ones_do_not() {
        let mut conn = memory();
        let synchronous = |conn: &Connection| -> i64 {
            conn.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        let (relaxed, answer) = request(Box::new(|_| Ok(())), Durability::Relaxed);
        commit(
            &mut conn,
            Duration::from_secs(1),
            vec![relaxed],
            &LockWait::default(),
        );
        answer.recv().unwrap().unwrap();
        assert_eq!(
            synchronous(conn.connection()),
            1,
            "NORMAL for relaxed writes alone"
        );
        let (relaxed, a) = request(Box::new(|_| Ok(())), Durability::Relaxed);
        let (durable, b) = request(Box::new(|_| Ok(())), Durability::Durable);
        commit(
            &mut conn,
            Duration::from_secs(1),
            vec![relaxed, durable],
            &LockWait::default(),
        );
        a.recv().unwrap().unwrap();
        b.recv().unwrap().unwrap();
        assert_eq!(
            synchronous(conn.connection()),
            2,
            "FULL when any write is acknowledged"
        );
    }

    /// A fresh database file in a directory of its own.
    fn on_disk(name: &str) -> (std::path::PathBuf, std::path::PathBuf, SqliteDatabase) {
        let dir = std::env::temp_dir().join(format!("tokend-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let database = SqliteDatabase::create_or_open(&path)
            .unwrap()
            .with_busy_timeout(Duration::from_millis(100));
        (dir, path, database)
    }

    #[test]
    fn queued_events_wait_out_a_busy_database_and_are_written() {
        let (dir, path, database) = on_disk("busy");
        let writer = database.writer().unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let events = |n: i64| Event::new(format!("e{n}"), n, "session.login_failed", "failure");
        writer.queue_events(vec![events(1), events(2)]).unwrap();
        // Past several busy timeouts: the batch failed and waits to retry.
        thread::sleep(Duration::from_millis(400));
        let count = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM events WHERE type = 'session.login_failed'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(count(&holder), 0, "nothing could be written yet");
        holder.execute_batch("ROLLBACK").unwrap();
        // Once the database takes writes again, the events are written,
        // before (in the same batch as) whatever is written next.
        writer
            .write(Box::new(|_| Ok(())), Durability::Durable, None)
            .unwrap();
        assert_eq!(count(&Connection::open(&path).unwrap()), 2);
        drop(writer);
        std::fs::remove_dir_all(&dir).unwrap();
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
                        None,
                    )
                    .unwrap()
            })
            .collect();
        let failing = writer
            .submit(
                Box::new(|_| Err(StoreError::Failed("refused".into()))),
                Durability::Durable,
                None,
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
                                None,
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
