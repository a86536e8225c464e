//! Answering a parsed `Request` with an `Authority`: `handle` (routing and
//! the panic guard), and the pools of threads that answer what may block.
//!
//! Each pool thread has its own `Authority` (and so its own SQLite
//! connection). Logins get a pool of their own: argon2 is slow on purpose,
//! and a flood of logins must not hold up the workers that answer
//! exchanges. Requests that may change state get another: a write waits
//! for its commit, and behind another process's write lock that can take
//! the busy timeout, during which the workers must go on answering reads,
//! JWKS, introspection and health. The transport hands such a request to
//! its pool and awaits the answer; the queue in front of each pool is
//! bounded, so a flood is answered 503 at once instead of piling up.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use tokio::sync::oneshot;

use super::log::escape;
use super::request::Request;
use super::response::Response;
use super::routes;
use crate::domain::Authority;

/// A request waiting for a worker, and where its answer goes.
struct Job {
    request: Request,
    answer: oneshot::Sender<Response>,
}

/// The sending side of one pool; cheap to clone.
#[derive(Clone)]
pub struct Pool {
    queue: SyncSender<Job>,
}

/// The pools a worker hands requests to.
#[derive(Clone)]
pub struct Pools {
    pub login: Pool,
    pub writes: Pool,
}

/// Why a pool did not take a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its queue is full.
    Busy,
    /// It is shutting down.
    Closed,
}

impl Pool {
    /// Starts one thread per authority behind a queue of `queue` requests.
    pub fn start(
        name: &str,
        authorities: Vec<Authority>,
        queue: usize,
    ) -> std::io::Result<(Pool, Vec<JoinHandle<()>>)> {
        let (sender, receiver) = mpsc::sync_channel(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(authorities.len());
        for (n, authority) in authorities.into_iter().enumerate() {
            let receiver = Arc::clone(&receiver);
            let name = format!("{name}-{n}");
            let thread = thread::Builder::new().name(name.clone()).spawn(move || {
                let _alive = super::systemd::thread_alive(&name);
                work(&receiver, authority)
            })?;
            threads.push(thread);
        }
        Ok((Pool { queue: sender }, threads))
    }

    /// Queues `request` and waits for its answer without blocking the
    /// transport's thread.
    pub async fn answer(&self, request: Request) -> Result<Response, Refused> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .try_send(Job { request, answer })
            .map_err(|e| match e {
                TrySendError::Full(_) => Refused::Busy,
                TrySendError::Disconnected(_) => Refused::Closed,
            })?;
        answered.await.map_err(|_| Refused::Closed)
    }
}

fn work(queue: &Mutex<Receiver<Job>>, mut authority: Authority) {
    loop {
        // One worker waits on the queue at a time; the lock is released as
        // soon as it has a job.
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else {
            return; // every sender is gone: the service is stopping
        };
        let response = handle(&mut authority, &job.request);
        // The client may have gone away meanwhile; nothing to do then.
        let _ = job.answer.send(response);
    }
}

/// Answers `request`; a handler that panics is answered 500.
pub fn handle(authority: &mut Authority, request: &Request) -> Response {
    authority.request_received(Some(request.received));
    let response = catch_unwind(AssertUnwindSafe(|| routes::dispatch(authority, request)));
    authority.request_received(None);
    response.unwrap_or_else(|_| {
        crate::logging::error(format!(
            "tokend: internal error: handler panicked on {} {}",
            escape(&request.method),
            routes::pattern(&request.path)
        ));
        Response::json(
            500,
            &serde_json::json!({"error": "internal_error", "message": "internal error; see the server log"}),
        )
    })
}
