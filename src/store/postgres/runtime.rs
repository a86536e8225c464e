//! The thread that does the backend's socket I/O: one tokio runtime of its
//! own, on which every connection's task runs. Statements are sent from the
//! callers' threads (`PgConn`) and their answers wake those threads.

use std::sync::mpsc;
use std::thread;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio_postgres::{Client, Config, NoTls};

use super::conn::block_on;
use crate::domain::storage::{StoreError, StoreResult};
use crate::logging;

/// The I/O thread; it ends when this value is dropped, and the
/// connections with it.
pub(crate) struct IoRuntime {
    handle: Handle,
    _stop: oneshot::Sender<()>,
}

impl IoRuntime {
    pub(crate) fn start() -> StoreResult<IoRuntime> {
        let (started, handle) = mpsc::sync_channel(1);
        let (stop, stopped) = oneshot::channel::<()>();
        thread::Builder::new()
            .name("postgres-io".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = started.send(Ok(runtime.handle().clone()));
                // Runs the connections' tasks until the database is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| StoreError::Failed(format!("cannot start the postgres-io thread: {e}")))?;
        let handle = handle
            .recv()
            .map_err(|_| StoreError::Failed("the postgres-io thread did not start".into()))?
            .map_err(|e| {
                StoreError::Failed(format!("cannot start the postgres-io runtime: {e}"))
            })?;
        Ok(IoRuntime {
            handle,
            _stop: stop,
        })
    }

    /// What makes connections to the database `config` names.
    pub(crate) fn connector(&self, config: Config) -> Connector {
        Connector {
            handle: self.handle.clone(),
            config,
        }
    }
}

/// Makes connections to one database, their tasks on the I/O thread.
#[derive(Clone)]
pub(crate) struct Connector {
    handle: Handle,
    config: Config,
}

impl Connector {
    pub(crate) fn connect(&self) -> StoreResult<Client> {
        let config = self.config.clone();
        let task = self.handle.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    logging::warn(format!("tokend: a PostgreSQL connection ended: {e}"));
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        match block_on(task) {
            Ok(client) => client.map_err(|e| match StoreError::from(e) {
                StoreError::Failed(why) => {
                    StoreError::Failed(format!("cannot connect to PostgreSQL: {why}"))
                }
                other => other,
            }),
            Err(e) => Err(StoreError::Failed(format!(
                "the connection task failed: {e}"
            ))),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The I/O thread's runtime, for tasks of the backend's own.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}
