//! The thread that does the backend's socket I/O: one tokio runtime of its
//! own, on which every connection's task runs. Statements are sent from the
//! callers' threads (`PgConn`) and their answers wake those threads.

use std::sync::mpsc;
use std::thread;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio_postgres::{Client, Config, NoTls};

use super::block_on;
use crate::domain::storage::{StoreError, StoreResult};
use crate::logging;

/// The I/O thread; it ends when this value is dropped.
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

    /// A new connection, its task running on the I/O thread.
    pub(crate) fn connect(&self, config: &Config) -> StoreResult<Client> {
        let config = config.clone();
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
            Ok(client) => Ok(client?),
            Err(e) => Err(StoreError::Failed(format!(
                "the connection task failed: {e}"
            ))),
        }
    }
}
