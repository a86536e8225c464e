//! The nodes' notices to one another, over PostgreSQL's LISTEN/NOTIFY: one
//! connection per process listens on `tokend_cluster` (made again when it
//! drops), and notices are sent on it without waiting. A notice sent while
//! a node is down or reconnecting does not reach it: they carry only what
//! nodes keep in memory (`ClusterNotice`), never a rule that must hold.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client};

use super::generations::{Generation, Generations};
use super::runtime::Connector;
use crate::domain::storage::{ClusterNotice, NoticeHandler};
use crate::logging;

const CHANNEL: &str = "tokend_cluster";
/// How long a dropped listener waits before it connects again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// A notice as sent: who sent it, so that a node skips its own.
#[derive(Serialize, Deserialize)]
struct Envelope {
    node: u64,
    notice: ClusterNotice,
}

pub(super) struct Notices {
    /// This process among the nodes.
    node: u64,
    connector: Connector,
    state: Arc<State>,
    started: OnceLock<()>,
}

/// The channels the generations' triggers notify.
/// How long a notice waits for the server to take it.
const TELL_WITHIN: Duration = Duration::from_secs(15);

const GENERATION_CHANNEL_PREFIX: &str = "tokend_";

struct State {
    /// The listening connection, when it is up: notices are sent on it.
    client: Mutex<Option<Arc<Client>>>,
    handler: OnceLock<NoticeHandler>,
    generations: Arc<Generations>,
}

impl Notices {
    pub(super) fn new(connector: Connector, generations: Arc<Generations>) -> Notices {
        let mut node = [0u8; 8];
        // A node id that repeats only makes two nodes skip each other's
        // notices; a process without randomness is refused elsewhere.
        let _ = getrandom::getrandom(&mut node);
        Notices {
            node: u64::from_le_bytes(node),
            connector,
            state: Arc::new(State {
                client: Mutex::default(),
                handler: OnceLock::new(),
                generations,
            }),
            started: OnceLock::new(),
        }
    }

    pub(super) fn tell(&self, notice: &ClusterNotice) {
        self.listen();
        let client = self
            .state
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(client) = client else {
            return;
        };
        let envelope = Envelope {
            node: self.node,
            notice: notice.clone(),
        };
        let Ok(payload) = serde_json::to_string(&envelope) else {
            return;
        };
        self.connector.handle().spawn(async move {
            // A server that stops answering must not gather a task per
            // notice for as long as it is silent.
            let params: [&(dyn ToSql + Sync); 2] = [&CHANNEL, &payload];
            let sent = client.execute("SELECT pg_notify($1, $2)", &params);
            let lost = match tokio::time::timeout(TELL_WITHIN, sent).await {
                Ok(Ok(_)) => return,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!(
                    "no answer within {}",
                    humantime::format_duration(TELL_WITHIN)
                ),
            };
            logging::warn(format!(
                "tokend: a notice to the other nodes was lost: {lost}"
            ));
        });
    }

    pub(super) fn hear(&self, handler: NoticeHandler) {
        let _ = self.state.handler.set(handler);
        self.listen();
    }

    /// Starts listening, once.
    pub(super) fn listen(&self) {
        self.started.get_or_init(|| {
            let (connector, state, node) =
                (self.connector.clone(), Arc::clone(&self.state), self.node);
            self.connector
                .handle()
                .spawn(async move { listen(connector, state, node).await });
        });
    }
}

async fn listen(connector: Connector, state: Arc<State>, node: u64) {
    let mut said_down = false;
    loop {
        match connector.open().await {
            Ok((client, mut connection)) => {
                said_down = false;
                let client = Arc::new(client);
                let listening = Arc::clone(&client);
                // Runs once the connection is polled, below.
                tokio::spawn(async move {
                    let mut listen = format!("LISTEN {CHANNEL};");
                    for which in Generation::ALL {
                        listen.push_str(&format!(
                            " LISTEN {GENERATION_CHANNEL_PREFIX}{};",
                            which.name()
                        ));
                    }
                    let _ = listening.batch_execute(&listen).await;
                });
                *state.client.lock().unwrap_or_else(|e| e.into_inner()) = Some(client);
                // Whatever moved while nobody listened is unknown.
                state.generations.all_moved();
                while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(notification)) => {
                            let generation = notification
                                .channel()
                                .strip_prefix(GENERATION_CHANNEL_PREFIX)
                                .and_then(Generations::named);
                            match generation {
                                Some(which) => state.generations.moved(which),
                                None => hear(&state, node, notification.payload()),
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            logging::warn(format!(
                                "tokend: the connection that hears other nodes dropped: {e}"
                            ));
                            break;
                        }
                    }
                }
                *state.client.lock().unwrap_or_else(|e| e.into_inner()) = None;
                state.generations.all_moved();
            }
            Err(e) if !said_down => {
                said_down = true;
                logging::warn(format!(
                    "tokend: cannot listen for other nodes, trying again: {e}"
                ));
            }
            Err(_) => {}
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

fn hear(state: &State, node: u64, payload: &str) {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        return;
    };
    if envelope.node == node {
        return;
    }
    if let Some(handler) = state.handler.get() {
        handler(envelope.notice);
    }
}
