//! The thread that does the backend's socket I/O: one tokio runtime of its
//! own, on which every connection's task runs. Statements are sent from the
//! callers' threads (`PgConn`) and their answers wake those threads.

use std::sync::mpsc;
use std::thread;

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conn::{block_on_within, error_chain};
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

    /// What makes connections to the database `config` names. With
    /// `sslmode=require` they are TLS, the server's certificate checked
    /// against the system's roots and `extra_ca_pem` and its name against
    /// the host's; otherwise plain (`prefer` too: a certificate that cannot
    /// be checked must not be accepted silently).
    pub(crate) fn connector(
        &self,
        mut config: Config,
        extra_ca_pem: Option<&[u8]>,
    ) -> StoreResult<Connector> {
        if config.get_ssl_mode() != SslMode::Require {
            config.ssl_mode(SslMode::Disable);
        }
        Ok(Connector {
            handle: self.handle.clone(),
            config,
            tls: tls_connector(extra_ca_pem)?,
            answer_timeout: None,
        })
    }
}

/// The TLS client of the connections: rustls on ring, as the server's.
fn tls_connector(extra_ca_pem: Option<&[u8]>) -> StoreResult<MakeRustlsConnect> {
    let failed = |e: &dyn std::fmt::Display| StoreError::Failed(format!("TOKEND_DB_CA_FILE: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: a private CA may be all
    // a lab trusts.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|e| failed(&e))?)
                .map_err(|e| failed(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(failed(&"no PEM certificate in it"));
        }
    }
    let provider = Arc::new(ring_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Failed(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// ring's default suites and key exchanges, as the server's TLS: rustls
/// marks ring's provider deprecated for its lack of a post-quantum key
/// exchange (see `http::tls`).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A connection's socket task, for those who drive it themselves.
pub(crate) type Connection = tokio_postgres::Connection<
    Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<Socket>>::Stream,
>;

/// Makes connections to one database, their tasks on the I/O thread.
#[derive(Clone)]
pub(crate) struct Connector {
    handle: Handle,
    config: Config,
    tls: MakeRustlsConnect,
    answer_timeout: Option<Duration>,
}

/// A connection: the client statements are sent through, and the task on
/// the I/O thread that drives its socket.
#[derive(Clone)]
pub(crate) struct Link {
    pub(crate) client: Arc<Client>,
    task: AbortHandle,
}

impl Link {
    /// Closes the socket at once, whatever the server does: a connection
    /// given up on must not linger, waiting for an answer nobody reads.
    pub(crate) fn abandon(&self) {
        self.task.abort();
    }
}

impl Connector {
    /// The same connector, its connections made and their statements
    /// answered within `limit` or given up on.
    pub(crate) fn answering_within(mut self, limit: Duration) -> Connector {
        self.answer_timeout = Some(limit);
        self
    }

    /// How long a connection or a statement may wait for the server; None
    /// waits as long as it takes (a migration, an admin command).
    pub(crate) fn answer_timeout(&self) -> Option<Duration> {
        self.answer_timeout
    }

    pub(crate) fn connect(&self) -> StoreResult<Link> {
        let connector = self.clone();
        let (opened, ready) = oneshot::channel();
        // One task opens the connection, then drives its socket: aborting
        // it closes the connection whatever state it is in.
        let task = self.handle.spawn(async move {
            match connector.open().await {
                Ok((client, connection)) => {
                    if opened.send(Ok(client)).is_ok() {
                        if let Err(e) = connection.await {
                            logging::warn(format!("tokend: a PostgreSQL connection ended: {e}"));
                        }
                    }
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            }
        });
        let task = task.abort_handle();
        let cannot = |why: String| format!("cannot connect to PostgreSQL: {why}");
        match block_on_within(ready, self.answer_timeout) {
            Some(Ok(Ok(client))) => Ok(Link {
                client: Arc::new(client),
                task,
            }),
            // Whatever keeps a connection from being made (the network, a
            // server starting or refusing, a wrong password) makes the
            // database unreachable; the log says which.
            Some(Ok(Err(e))) => Err(StoreError::Unreachable(cannot(error_chain(&e)))),
            Some(Err(_)) => Err(StoreError::Failed(cannot(
                "the connection task ended".into(),
            ))),
            None => {
                task.abort();
                Err(StoreError::Unreachable(cannot(format!(
                    "no answer within {}",
                    humantime::format_duration(self.answer_timeout.unwrap_or_default())
                ))))
            }
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// A new connection and its socket task, to be driven by the caller on
    /// the I/O thread.
    pub(crate) async fn open(&self) -> Result<(Client, Connection), tokio_postgres::Error> {
        self.config.connect(self.tls.clone()).await
    }

    /// The I/O thread's runtime, for tasks of the backend's own.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}
