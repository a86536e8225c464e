//! A write's commit as its waiter sees it (`PendingCommit`, completed by
//! the backend's `CommitSender`), and what a writer reports of itself
//! (`WriterStats`): the plumbing between the domain and a backend's writer,
//! of no executor's types.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{StoreError, StoreResult};

/// A write the backend has taken but not yet committed. Whatever it
/// acknowledges must wait for it first: awaited (a worker's runtime serves
/// other requests meanwhile, and their writes join the same commit) or,
/// off any runtime, waited for. A one-shot channel of its own, so that no
/// executor's type crosses the storage boundary.
#[must_use = "nothing may be acknowledged before its write is committed"]
pub struct PendingCommit(Arc<CommitSlot>);

/// The backend's half: where the commit's result goes, once.
pub struct CommitSender(Arc<CommitSlot>);

#[derive(Default)]
struct CommitSlot {
    state: Mutex<CommitState>,
    ready: Condvar,
}

#[derive(Default)]
struct CommitState {
    result: Option<StoreResult<()>>,
    /// The sender is gone, with or without a result.
    closed: bool,
    waker: Option<Waker>,
}

/// A pending commit and the sender that completes it.
pub fn commit_channel() -> (CommitSender, PendingCommit) {
    let slot = Arc::new(CommitSlot::default());
    (CommitSender(Arc::clone(&slot)), PendingCommit(slot))
}

fn stopped() -> StoreError {
    StoreError::Failed("the writer stopped".into())
}

impl CommitSlot {
    fn lock(&self) -> MutexGuard<'_, CommitState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the end (a result, or none when the sender just went) and
    /// wakes whoever waits.
    fn close(&self, result: Option<StoreResult<()>>) {
        let waker = {
            let mut state = self.lock();
            if result.is_some() {
                state.result = result;
            }
            state.closed = true;
            state.waker.take()
        };
        self.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl CommitSender {
    pub fn send(self, result: StoreResult<()>) {
        self.0.close(Some(result));
    }
}

impl Drop for CommitSender {
    /// A sender dropped unsent (the writer died) ends the wait with an error.
    fn drop(&mut self) {
        self.0.close(None);
    }
}

impl Future for PendingCommit {
    type Output = StoreResult<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<StoreResult<()>> {
        let mut state = self.0.lock();
        if let Some(result) = state.result.take() {
            return Poll::Ready(result);
        }
        if state.closed {
            return Poll::Ready(Err(stopped()));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl PendingCommit {
    pub async fn committed(self) -> StoreResult<()> {
        self.await
    }

    /// Blocks until the commit; for threads that are not a runtime's.
    pub fn wait(self) -> StoreResult<()> {
        self.wait_until(None)
    }

    /// Blocks until the commit or until `limit` has passed (`Busy` then;
    /// the job may still commit later).
    pub fn wait_at_most(self, limit: Duration) -> StoreResult<()> {
        self.wait_until(Some(Instant::now() + limit))
    }

    fn wait_until(self, deadline: Option<Instant>) -> StoreResult<()> {
        let mut state = self.0.lock();
        loop {
            if let Some(result) = state.result.take() {
                return result;
            }
            if state.closed {
                return Err(stopped());
            }
            state = match deadline {
                None => self.0.ready.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Busy);
                    }
                    self.0
                        .ready
                        .wait_timeout(state, left)
                        .map(|(state, _)| state)
                        .unwrap_or_else(|e| e.into_inner().0)
                }
            };
        }
    }
}

/// What a writer reports about itself, as plain numbers for monitoring:
/// the writes queued for it, whether its thread runs, and each batch it
/// commits (to whoever watches).
#[derive(Default)]
pub struct WriterStats {
    queued: AtomicI64,
    alive: AtomicBool,
    batches: OnceLock<BatchObserver>,
}

/// Told of each batch the writer ran: how many writes it held, and how long
/// its transaction took from its start to its commit (the sync included).
pub type BatchObserver = Box<dyn Fn(usize, Duration) + Send + Sync>;

impl WriterStats {
    /// Writes queued and not yet taken by the writer.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed).max(0) as u64
    }

    /// Whether the writer's thread runs.
    pub fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// Has `observer` told of every batch from now on; false when another
    /// observer was set first.
    pub fn observe_batches(&self, observer: BatchObserver) -> bool {
        self.batches.set(observer).is_ok()
    }

    /// For the backend: `n` writes were queued (negative: taken).
    pub fn add_queued(&self, n: i64) {
        self.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// For the backend: the writer's thread started or ended.
    pub fn set_alive(&self, alive: bool) {
        self.alive.store(alive, Ordering::Relaxed);
    }

    /// For the backend: a batch of `size` writes ran in `took`.
    pub fn batch(&self, size: usize, took: Duration) {
        if let Some(observer) = self.batches.get() {
            observer(size, took);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_waited_for_or_awaited_and_a_vanished_writer_is_an_error() {
        let (sender, pending) = commit_channel();
        sender.send(Ok(()));
        assert!(pending.wait().is_ok());

        let (sender, pending) = commit_channel();
        drop(sender);
        assert!(pending.wait().is_err(), "a sender gone unsent");

        let (sender, pending) = commit_channel();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            sender.send(Err(StoreError::Busy));
        });
        // Polled as an executor would, until the writer's answer arrives.
        let mut pending = std::pin::pin!(pending);
        let mut cx = Context::from_waker(Waker::noop());
        let result = loop {
            match pending.as_mut().poll(&mut cx) {
                Poll::Ready(result) => break result,
                Poll::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        };
        assert!(matches!(result, Err(StoreError::Busy)), "the result sent");
        writer.join().unwrap();
    }
}
