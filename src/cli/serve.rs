//! `tokend serve`: its settings, the first start, the retention pass, the
//! reminders, the webhook deliveries, the metrics listener and the log's
//! format.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::remind::MailArgs;
use super::{cannot_open, DEFAULT_LISTEN};
use crate::domain::storage::Database;
use crate::domain::{Ambient, Authority, DomainError, DpopNonce, FirstStart, Settings};
use crate::http::tls::{Tls, TlsFiles};
use crate::http::webhook_client::WebhookClient;
use crate::http::{self, ServeOptions};
use crate::key_file::KeyFile;
use crate::logging::{self, Format};
use crate::mail::SmtpMailer;
use crate::store::sqlite::LockMode;
use crate::store::{DatabaseLocation, PgDatabase, SqliteDatabase};

#[derive(Args)]
pub(super) struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TOKEND_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Worker threads, each with its own database connection [default: number of cores].
    #[arg(long, env = "TOKEND_WORKERS")]
    workers: Option<usize>,
    /// Lifetime of issued access tokens (e.g. 30m, 1h).
    #[arg(long, env = "TOKEND_ACCESS_TTL", default_value = "30m", value_parser = parse_access_ttl)]
    access_ttl: Duration,
    /// The `iss` of access tokens and base of published URLs [default:
    /// http://LISTEN, or https://LISTEN with TLS].
    #[arg(long, env = "TOKEND_ISSUER")]
    issuer: Option<String>,
    /// Serve TLS with this certificate chain (PEM, the server's certificate
    /// first); needs --tls-key. SIGHUP reads it again.
    #[arg(long, env = "TOKEND_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "TOKEND_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads for password logins [default: half the workers, at least 1].
    #[arg(long, env = "TOKEND_LOGIN_WORKERS")]
    login_workers: Option<usize>,
    /// Worker threads for requests that may change state [default: the workers, at least 2].
    #[arg(long, env = "TOKEND_WRITE_WORKERS")]
    write_workers: Option<usize>,
    /// Open connections at most [default: sized to the file-descriptor limit].
    #[arg(long, env = "TOKEND_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Time a client has to send a request's line and headers.
    #[arg(long, env = "TOKEND_HEADER_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    header_timeout: Duration,
    /// Time a client has to send a request's body.
    #[arg(long, env = "TOKEND_BODY_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    body_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    #[arg(long, env = "TOKEND_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_timeout)]
    idle_timeout: Duration,
    /// A reverse proxy whose X-Forwarded-For names the client (repeatable, or comma-separated).
    #[arg(
        long = "trusted-proxy",
        env = "TOKEND_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Time a write waits for another writer (e.g. the admin CLI) before it is answered 503.
    #[arg(long, env = "TOKEND_BUSY_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    busy_timeout: Duration,
    /// With PostgreSQL: time the server may take to accept a connection or
    /// answer a statement before the request is answered 503 and the
    /// connection made again; longer than the busy timeout.
    #[arg(long, env = "TOKEND_DB_TIMEOUT", default_value = "15s", value_parser = parse_timeout)]
    db_timeout: Duration,
    /// Time a client may take to read an answer before it is cut off.
    #[arg(long, env = "TOKEND_WRITE_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    write_timeout: Duration,
    /// How long audit events are kept (at least 1 day), or "never" to keep them for ever.
    #[arg(long, env = "TOKEND_AUDIT_RETENTION", default_value = "365days", value_parser = parse_retention)]
    audit_retention: Retention,
    /// A bound on the database's size (e.g. 2GiB, 500MB): past it the oldest
    /// successful exchanges leave the audit trail, never a refusal or a change.
    #[arg(long, env = "TOKEND_AUDIT_MAX_SIZE", value_parser = parse_size)]
    audit_max_size: Option<u64>,
    /// The `aud` of ID tokens when no client is known (the exchange names
    /// no client_id) [default: the API token's id].
    #[arg(long, env = "TOKEND_AUDIENCE", value_parser = parse_audience)]
    audience: Option<String>,
    /// Who access tokens are for, beside tokend itself, when the exchange
    /// names no resource (repeatable, or comma-separated).
    #[arg(long, env = "TOKEND_DEFAULT_AUDIENCE", value_delimiter = ',', value_parser = parse_audience)]
    default_audience: Vec<String>,
    /// How long verifiers may keep the JWKS (its Cache-Control max-age).
    #[arg(long, env = "TOKEND_JWKS_MAX_AGE", default_value = "5m", value_parser = parse_max_age)]
    jwks_max_age: Duration,
    /// How long a key is published before it signs, where tokend adds one
    /// itself (an upgraded database's first RSA key); longer than the
    /// JWKS max-age. `tokend key rotate` reads it too.
    #[arg(long, env = "TOKEND_KEY_PUBLISH_DELAY", default_value = "10m", value_parser = humantime::parse_duration)]
    key_publish_delay: Duration,
    /// Whether DPoP proofs must carry a nonce of tokend's (RFC 9449 §8, §9):
    /// off, or required (one refused round trip per client and window,
    /// against proofs made ahead of time).
    #[arg(long, env = "TOKEND_DPOP_NONCE", value_enum, default_value = "off")]
    dpop_nonce: DpopNonceArg,
    /// Serve Prometheus metrics (GET /metrics, plain HTTP) on this address
    /// of its own [default: none].
    #[arg(long, env = "TOKEND_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// The log's format: text, or json (one object per line).
    #[arg(long, env = "TOKEND_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Certificates (PEM) to trust for webhook endpoints beside the
    /// system's roots: a private CA.
    #[arg(long, env = "TOKEND_WEBHOOK_CA_FILE")]
    webhook_ca_file: Option<PathBuf>,
    /// The relay for e-mail reminders; without one, none are sent.
    #[command(flatten)]
    mail: MailArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DpopNonceArg {
    Off,
    Required,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// `--audit-retention`: an age, or never prune.
#[derive(Clone, Copy)]
struct Retention(Option<Duration>);

pub(super) fn serve(
    location: &DatabaseLocation,
    key_file: &KeyFile,
    args: ServeArgs,
) -> Result<(), String> {
    logging::set_format(match args.log_format {
        LogFormat::Text => Format::Text,
        LogFormat::Json => Format::Json,
    });
    if args.metrics_listen == Some(args.listen) {
        return Err("TOKEND_METRICS_LISTEN must differ from TOKEND_LISTEN: the API port never serves the metrics".into());
    }
    let db = match location {
        DatabaseLocation::File(path) => path,
        DatabaseLocation::Postgres { url, ca_pem } => {
            let (busy_timeout, db_timeout) = (args.busy_timeout, args.db_timeout);
            // A write waits for the cluster's write lock inside a
            // statement: the server must be given longer than that wait.
            if db_timeout <= busy_timeout {
                return Err(format!(
                    "TOKEND_DB_TIMEOUT ({}) must be longer than TOKEND_BUSY_TIMEOUT ({})",
                    humantime::format_duration(db_timeout),
                    humantime::format_duration(busy_timeout)
                ));
            }
            let open = move || {
                let database =
                    PgDatabase::open_answering_within(url, ca_pem.as_deref(), db_timeout)
                        .map_err(|e| cannot_open(location, e))?;
                let database: Arc<dyn Database> =
                    Arc::new(database.with_busy_timeout(busy_timeout));
                Ok((database, Box::new(|| {}) as Box<dyn FnOnce()>))
            };
            return serve_database(open, location, key_file, args);
        }
    };
    // Held for the service's lifetime: a restore refuses to replace the
    // file under it.
    let lock = match SqliteDatabase::try_lock(db, LockMode::Shared) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(format!(
                "a restore of {} is in progress (it holds {}); start tokend when it has finished",
                db.display(),
                SqliteDatabase::lock_path(db).display()
            ))
        }
        Err(e) => return Err(cannot_open(db, e)),
    };
    let key_file_existed = key_file.path().exists();
    let served = serve_file(db, key_file, args);
    // A first start that failed leaves nothing behind, the lock file and
    // a key file it made neither.
    if served.is_err() && !db.exists() {
        lock.remove_if_created();
        if !key_file_existed {
            let _ = std::fs::remove_file(key_file.path());
        }
    }
    served
}

fn serve_file(db: &Path, key_file: &KeyFile, args: ServeArgs) -> Result<(), String> {
    let busy_timeout = args.busy_timeout;
    let open = move || {
        let database = SqliteDatabase::create_or_open(db)
            .map_err(|e| cannot_open(db, e))?
            .with_busy_timeout(busy_timeout);
        let database = Arc::new(database);
        let created = Arc::clone(&database);
        let remove_if_created: Box<dyn FnOnce()> = Box::new(move || created.remove_if_created());
        Ok((database as Arc<dyn Database>, remove_if_created))
    };
    serve_database(
        open,
        &DatabaseLocation::File(db.to_path_buf()),
        key_file,
        args,
    )
}

/// The database to serve, opened (created on a first start), and what
/// undoes a first start that failed (run once every connection is closed).
type Opened = (Arc<dyn Database>, Box<dyn FnOnce()>);

fn serve_database(
    open: impl FnOnce() -> Result<Opened, String>,
    db: &DatabaseLocation,
    key_file: &KeyFile,
    args: ServeArgs,
) -> Result<(), String> {
    let key_file_existed = key_file.path().exists();
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    // Read before the database is touched: a certificate that cannot be
    // used stops a first start before it creates anything.
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(Tls::load(TlsFiles { cert, key })?)),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let issuer = args
        .issuer
        .unwrap_or_else(|| format!("{scheme}://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    if tls.is_some() && !issuer.starts_with("https://") {
        return Err(format!(
            "TOKEND_ISSUER {issuer} is not an https URL, but tokend serves TLS: \
             clients would be sent where it does not answer"
        ));
    }
    let settings = Settings {
        issuer,
        access_token_lifetime: args.access_ttl,
        operator: None,
        audit_retention: args.audit_retention.0,
        audit_max_bytes: args.audit_max_size,
        audience: args.audience,
        default_audience: args.default_audience,
        jwks_max_age: args.jwks_max_age,
        key_publish_delay: args.key_publish_delay,
        dpop_nonce: match args.dpop_nonce {
            DpopNonceArg::Off => DpopNonce::Off,
            DpopNonceArg::Required => DpopNonce::Required,
        },
    };
    if settings.key_publish_delay <= settings.jwks_max_age {
        return Err(format!(
            "TOKEND_KEY_PUBLISH_DELAY ({}) must be longer than TOKEND_JWKS_MAX_AGE ({})",
            humantime::format_duration(settings.key_publish_delay),
            humantime::format_duration(settings.jwks_max_age)
        ));
    }
    let (database, remove_if_created) = open()?;
    let password = std::env::var("TOKEND_ADMIN_PASSWORD").ok();
    let started = Authority::start(
        database,
        settings,
        Ambient::system(),
        password.as_deref(),
        Arc::new(key_file.clone()),
    );
    let (mut authority, first_start) = match started {
        Ok(started) => started,
        Err(e) => {
            // A first start that failed leaves nothing half-made behind.
            remove_if_created();
            return Err(match (e, &password) {
                // The password rule, on the administrator's first password.
                (DomainError::Invalid(why), Some(_)) => {
                    format!("TOKEND_ADMIN_PASSWORD: {why}; {} was not initialised", db)
                }
                (e, _) => cannot_open(db, e),
            });
        }
    };
    if !key_file_existed && key_file.path().exists() {
        logging::info(format!(
            "tokend: made the key file {} (mode 0600): its key seals the signing keys; back \
             it up apart from the database, without it the database's keys cannot be used",
            key_file.path().display()
        ));
    }
    if let Some(FirstStart { generated_password }) = first_start {
        logging::info(format!("tokend: created database {}", db));
        if let Some(password) = generated_password {
            // Shown once; only its argon2 hash is stored.
            logging::info(format!("administrator@System password: {password}"));
        }
    }
    // A database that cannot take writes would answer every login and
    // exchange with 503: refuse to start instead.
    if let Some((check, why)) = authority.readiness().first_failure() {
        return Err(format!(
            "cannot serve database {}: {check} check failed: {why}",
            db
        ));
    }
    let housekeeper = authority.connect().map_err(|e| cannot_open(db, e))?;
    start_housekeeping(housekeeper)?;
    if let Some(mailer) = args.mail.mailer()? {
        let reminders = authority.connect().map_err(|e| cannot_open(db, e))?;
        start_reminders(reminders, mailer)?;
        let notices = authority.connect().map_err(|e| cannot_open(db, e))?;
        start_leak_notices(notices, args.mail.mailer()?)?;
    }
    let webhook_ca = match &args.webhook_ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| format!("TOKEND_WEBHOOK_CA_FILE {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let webhook_client = WebhookClient::new(webhook_ca.as_deref())?;
    let deliverer = authority.connect().map_err(|e| cannot_open(db, e))?;
    start_webhooks(deliverer, webhook_client)?;
    let _metrics = match args.metrics_listen {
        Some(addr) => {
            let reader = authority.connect().map_err(|e| cannot_open(db, e))?;
            let server = http::metrics::serve(addr, reader)
                .map_err(|e| format!("cannot serve metrics on {addr}: {e}"))?;
            logging::info(format!(
                "tokend: metrics on http://{}/metrics",
                server.local_addr()
            ));
            Some(server)
        }
        None => None,
    };
    let mut options = ServeOptions::new(args.listen, workers);
    if let Some(n) = args.login_workers {
        options.login_workers = n.max(1);
    }
    if let Some(n) = args.write_workers {
        options.write_workers = n.max(1);
    }
    options.max_connections = args.max_connections.map(|n| n as usize);
    options.header_timeout = args.header_timeout;
    options.body_timeout = args.body_timeout;
    options.idle_timeout = args.idle_timeout;
    options.write_timeout = args.write_timeout;
    options.trusted_proxies = args.trusted_proxies;
    options.tls = tls;
    http::serve(authority, options).map_err(|e| e.to_string())
}

/// How often the housekeeping pass writes out the refusals it counted.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);
/// How often it applies the audit retention.
const RETENTION_EVERY: u32 = 60;

/// The housekeeping pass, on a thread of its own: the summaries of counted
/// refusals, the audit size bound, the revocation of tokens idle past
/// their org's policy, and forgetting spent DPoP proofs and expired
/// pending logins every minute; the audit retention and forgetting revoked access tokens that
/// have expired anyway, at start and then hourly.
fn start_housekeeping(mut authority: Authority) -> Result<(), String> {
    let pass = move || {
        // The same failure (a clock in doubt, a busy database) is said once,
        // not every minute.
        let mut said = String::new();
        let mut say = |what: &str, e: &DomainError| {
            let line = format!("tokend: {what}, will retry: {e}");
            if line != said {
                logging::warn(&line);
                said = line;
            }
        };
        for round in 0u32.. {
            if round % RETENTION_EVERY == 0 {
                match authority.apply_audit_retention() {
                    Ok(0) => {}
                    Ok(n) => logging::info(format!("tokend: audit retention deleted {n} events")),
                    Err(e) => say("audit retention did not run", &e),
                }

                if let Err(e) = authority.forget_expired_revocations() {
                    say("expired revocations were not forgotten", &e);
                }
            }
            std::thread::sleep(SUMMARY_INTERVAL);
            if let Err(e) = authority.write_refusal_summaries(false) {
                say("could not record refusal summaries", &e);
            }
            // Every minute: a busy trail grows by gigabytes an hour.
            match authority.apply_audit_size_bound() {
                Ok(0) => {}
                Ok(n) => logging::info(format!(
                    "tokend: the audit size bound deleted the {n} oldest successful exchanges"
                )),
                Err(e) => say("the audit size bound was not met", &e),
            }
            match authority.revoke_idle_tokens() {
                Ok(0) => {}
                Ok(n) => logging::info(format!(
                    "tokend: revoked {n} API tokens idle past their policy"
                )),
                Err(e) => say("idle tokens were not revoked", &e),
            }
            // Every minute: every DPoP request adds a proof.
            if let Err(e) = authority.forget_spent_proofs_and_logins() {
                say(
                    "spent DPoP proofs and pending logins were not forgotten",
                    &e,
                );
            }
        }
    };
    std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(pass)
        .map(drop)
        .map_err(|e| format!("cannot start the housekeeping pass: {e}"))
}

/// How often `serve` sends the reminders that are due.
const REMINDER_INTERVAL: Duration = Duration::from_secs(60);

/// The reminders, on a thread of their own: a slow relay holds up nothing
/// else.
fn start_reminders(mut authority: Authority, mailer: SmtpMailer) -> Result<(), String> {
    let run = move || loop {
        match authority.send_due_reminders(&mailer) {
            Ok(run) if run.sent + run.deferred + run.given_up > 0 => {
                http::metrics::reminders(&run);
                logging::info(format!(
                    "tokend: reminders: {} sent, {} to be tried again, {} given up",
                    run.sent, run.deferred, run.given_up
                ));
            }
            Ok(_) => {}
            Err(e) => logging::warn(format!("tokend: the reminder run failed, will retry: {e}")),
        }
        std::thread::sleep(REMINDER_INTERVAL);
    };
    std::thread::Builder::new()
        .name("reminders".into())
        .spawn(run)
        .map(drop)
        .map_err(|e| format!("cannot start the reminders: {e}"))
}

/// The owners of leaked tokens mailed as soon as a report on this node
/// revoked them, and every minute what is due from any node or was left
/// by a restart, on a thread of their own: a report never waits for the
/// relay.
fn start_leak_notices(mut authority: Authority, mailer: Option<SmtpMailer>) -> Result<(), String> {
    let Some(mailer) = mailer else {
        return Ok(());
    };
    let run = move || loop {
        match authority.send_due_leak_notices(&mailer) {
            Ok(run) if run.sent + run.deferred + run.given_up > 0 => {
                http::metrics::leak_notices(&run);
                logging::info(format!(
                    "tokend: leak notices: {} sent, {} to be tried again, {} given up",
                    run.sent, run.deferred, run.given_up
                ));
            }
            Ok(_) => {}
            Err(e) => logging::warn(format!(
                "tokend: the leak notice run failed, will retry: {e}"
            )),
        }
        authority.wait_for_leak_notices(REMINDER_INTERVAL);
    };
    std::thread::Builder::new()
        .name("leak-notices".into())
        .spawn(run)
        .map(drop)
        .map_err(|e| format!("cannot start the leaked-token notices: {e}"))
}

/// How often `serve` looks for webhook deliveries to queue and send.
const WEBHOOK_INTERVAL: Duration = Duration::from_secs(2);
/// Every how many passes it looks for expiring tokens (once a minute).
const WEBHOOK_EXPIRING_EVERY: u32 = 30;

/// Webhook deliveries, on a thread of their own: a slow or dead endpoint
/// (each attempt has its timeout) holds up no request.
fn start_webhooks(mut authority: Authority, client: WebhookClient) -> Result<(), String> {
    let run = move || {
        let mut said = String::new();
        for round in 0u32.. {
            let with_expiring = round % WEBHOOK_EXPIRING_EVERY == 0;
            match authority.run_webhooks_with(&client, with_expiring) {
                Ok(run) => {
                    said.clear();
                    if run.delivered + run.deferred + run.given_up > 0 {
                        logging::info(format!(
                            "tokend: webhooks: {} delivered, {} to be tried again, {} given up",
                            run.delivered, run.deferred, run.given_up
                        ));
                    }
                }
                Err(e) => {
                    let line = format!("tokend: the webhook run failed, will retry: {e}");
                    if line != said {
                        logging::warn(&line);
                        said = line;
                    }
                }
            }
            std::thread::sleep(WEBHOOK_INTERVAL);
        }
    };
    std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(run)
        .map(drop)
        .map_err(|e| format!("cannot start the webhook deliveries: {e}"))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(3600) {
        return Err("a timeout must be between 100ms and 1 hour".into());
    }
    Ok(timeout)
}

/// A size: bytes, or a number with KB, MB, GB (powers of 1000) or KiB,
/// MiB, GiB (powers of 1024); at least 1 MiB.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 2GiB, 500MB)"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000 * 1000,
        "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?}: the unit is one of B, KB, MB, GB, KiB, MiB, GiB"
            ))
        }
    };
    let size = number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if size < 1 << 20 {
        return Err("the size bound is at least 1 MiB".into());
    }
    Ok(size)
}

fn parse_max_age(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if age > Duration::from_secs(24 * 3600) {
        return Err("the JWKS max-age is at most 1 day".into());
    }
    Ok(age)
}

fn parse_audience(text: &str) -> Result<String, String> {
    crate::domain::check_audience(text).map_err(|e| e.to_string())?;
    Ok(text.to_string())
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    if text == "never" {
        return Ok(Retention(None));
    }
    let age = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if age < Duration::from_secs(24 * 3600) {
        return Err("audit retention must be at least 1 day, or \"never\"".into());
    }
    Ok(Retention(Some(age)))
}

pub(super) fn parse_access_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(24 * 3600) {
        return Err("access token lifetime must be between 1 minute and 24 hours".into());
    }
    Ok(ttl)
}
