//! Prometheus metrics: what is counted, and its exposition.
//!
//! The process has one set (`metrics()`), counted whether or not anyone
//! scrapes it: requests by route pattern, method and status (never a path a
//! client chose); latency histograms of the exchanges, the logins and
//! introspection; the writer's batches; reminder sends. Hot paths touch
//! atomics only: each thread keeps its own handles on the request counters,
//! so the family's lock is taken once per thread and label set, and the
//! histograms are lock-free (`histogram`). What is cheaper to read than to
//! count (the writer's queue depth, API tokens by state per org, login
//! locks) is read when scraped, the token counts at most every
//! `TOKEN_COUNTS_MAX_AGE`. The domain and store know nothing of this: they
//! hand out plain numbers, and `install` hooks the writer's batches here.
//!
//! `listener` serves the exposition on an address of its own.

mod histogram;
mod listener;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::domain::{Authority, LoginLocks, ReminderRun, TokenCounts};
use crate::logging;
use histogram::Histogram;
pub use listener::{serve, MetricsServer};

/// The POST routes whose latency is kept: the exchanges, the logins and
/// introspection.
const TIMED_ROUTES: &[&str] = &[
    "/csp/gateway/am/api/auth/api-tokens/authorize",
    "/oauth/provider/token",
    "/oauth/tenant/{org}/token",
    "/cloudapi/1.0.0/sessions",
    "/cloudapi/1.0.0/sessions/provider",
    "/console/login",
    "/oauth/introspect",
];

/// Seconds: from half a millisecond (an exchange) past argon2's tens of
/// milliseconds (a login) to a busy database's seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Writes per batch: up to the writer's 256.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Seconds a batch's transaction takes, its sync included.
const COMMIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// How long counted API tokens are reused by later scrapes.
const TOKEN_COUNTS_MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    /// One per entry of `TIMED_ROUTES`, in its order.
    latency: Vec<Histogram>,
    writer_batch_size: Histogram,
    writer_batch_seconds: Histogram,
    reminders: MailCounters,
    leak_notices: MailCounters,
    scraped: Arc<Scraped>,
}

/// What the runs of one kind of mail did: sent, failed tries, given up.
struct MailCounters {
    sent: Counter,
    failed: Counter,
    given_up: Counter,
}

impl MailCounters {
    /// Registers `<name>_sent`, `<name>_failed` and `<name>_given_up`,
    /// described as `what`.
    fn register(registry: &mut Registry, name: &str, what: &str) -> MailCounters {
        let counters = MailCounters {
            sent: Counter::default(),
            failed: Counter::default(),
            given_up: Counter::default(),
        };
        registry.register(
            format!("{name}_sent"),
            format!("{what} sent"),
            counters.sent.clone(),
        );
        registry.register(
            format!("{name}_failed"),
            format!("{what} the relay did not take (each failed try)"),
            counters.failed.clone(),
        );
        registry.register(
            format!("{name}_given_up"),
            format!("{what} given up after their last failed try"),
            counters.given_up.clone(),
        );
        counters
    }

    fn count(&self, run: &ReminderRun) {
        self.sent.inc_by(run.sent as u64);
        self.failed.inc_by((run.deferred + run.given_up) as u64);
        self.given_up.inc_by(run.given_up as u64);
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tokend");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route pattern (- for unknown paths), method and status",
            requests.clone(),
        );
        let latency_family = Family::<RouteLabel, Histogram, _>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        let latency = TIMED_ROUTES
            .iter()
            .map(|route| latency_family.get_or_create_owned(&RouteLabel { route }))
            .collect();
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its answer, its commit included: POST to the \
             exchange endpoints, the logins and introspection",
            Unit::Seconds,
            latency_family,
        );
        let writer_batch_size = Histogram::new(BATCH_BUCKETS);
        registry.register(
            "writer_batch_size",
            "Writes committed together in one transaction",
            writer_batch_size.clone(),
        );
        let writer_batch_seconds = Histogram::new(COMMIT_BUCKETS);
        registry.register_with_unit(
            "writer_commit_duration",
            "Time of one batch's transaction, from BEGIN IMMEDIATE to its COMMIT \
             (the sync to disk) returning",
            Unit::Seconds,
            writer_batch_seconds.clone(),
        );
        let reminders = MailCounters::register(&mut registry, "reminders", "Expiry reminders");
        let leak_notices = MailCounters::register(
            &mut registry,
            "leak_notices",
            "Leaked tokens' notices to their owners",
        );
        let scraped = Arc::new(Scraped::default());
        registry.register_collector(Box::new(Arc::clone(&scraped)));
        Metrics {
            registry,
            requests,
            latency,
            writer_batch_size,
            writer_batch_seconds,
            reminders,
            leak_notices,
            scraped,
        }
    }

    /// The exposition: OpenMetrics when asked for, else Prometheus text
    /// 0.0.4. Reads what is read at scrape time first.
    fn expose(&self, authority: &Authority, openmetrics: bool) -> String {
        self.scraped.refresh(authority);
        let mut text = String::with_capacity(16 * 1024);
        let encoded = if openmetrics {
            prometheus_client::encoding::text::encode(&mut text, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        };
        if encoded.is_err() {
            logging::error("tokend: metrics: the exposition could not be encoded");
        }
        text
    }
}

thread_local! {
    /// This thread's handles on the request counters.
    static REQUEST_COUNTERS: RefCell<HashMap<RequestLabels, Counter>> =
        RefCell::new(HashMap::new());
}

/// Counts an answered request; `elapsed` is None for answers the transport
/// gave before a handler saw the request.
pub fn request(method: &str, route: &'static str, status: u16, elapsed: Option<Duration>) {
    let metrics = metrics();
    let labels = RequestLabels {
        route,
        method: method_label(method),
        status,
    };
    REQUEST_COUNTERS.with(|counters| {
        counters
            .borrow_mut()
            .entry(labels)
            .or_insert_with(|| metrics.requests.get_or_create_owned(&labels))
            .inc();
    });
    if let (Some(elapsed), "POST") = (elapsed, labels.method) {
        if let Some(at) = TIMED_ROUTES.iter().position(|r| *r == route) {
            metrics.latency[at].observe(elapsed.as_secs_f64());
        }
    }
}

/// The method as a label: a client may send any token as a method, so
/// only the ones tokend serves are named.
fn method_label(method: &str) -> &'static str {
    const KNOWN: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    KNOWN
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("other")
}

/// Counts a reminder run of `serve`'s reminders thread.
pub fn reminders(run: &ReminderRun) {
    metrics().reminders.count(run);
}

/// When the TLS certificate in use expires (seconds since the epoch), as
/// read at the start and at each reload.
pub fn tls_certificate_expiry(not_after: Option<i64>) {
    metrics().scraped.reading().tls_not_after = not_after;
}

/// Counts a run of `serve`'s leak notices thread.
pub fn leak_notices(run: &ReminderRun) {
    metrics().leak_notices.count(run);
}

/// Hooks the writer's batches of `authority`'s database into the metrics.
pub fn install(authority: &Authority) {
    let metrics = metrics();
    let size = metrics.writer_batch_size.clone();
    let seconds = metrics.writer_batch_seconds.clone();
    authority
        .writer_stats()
        .observe_batches(Box::new(move |batch, took| {
            size.observe(batch as f64);
            seconds.observe(took.as_secs_f64());
        }));
}

/// What is read when scraped, and encoded from the last reading.
#[derive(Debug, Default)]
struct Scraped {
    reading: Mutex<Reading>,
}

#[derive(Debug, Default)]
struct Reading {
    queue_depth: u64,
    writer_alive: bool,
    locks: Option<LoginLocks>,
    tokens: Vec<TokenCounts>,
    tokens_read_at: Option<Instant>,
    /// When the TLS certificate in use expires; None without TLS.
    tls_not_after: Option<i64>,
}

impl Scraped {
    fn reading(&self) -> MutexGuard<'_, Reading> {
        self.reading.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refresh(&self, authority: &Authority) {
        let writer = authority.writer_stats();
        let mut reading = self.reading();
        reading.queue_depth = writer.queued();
        reading.writer_alive = writer.alive();
        reading.locks = Some(authority.login_locks());
        if reading
            .tokens_read_at
            .is_none_or(|at| at.elapsed() >= TOKEN_COUNTS_MAX_AGE)
        {
            match authority.api_token_counts() {
                Ok(tokens) => {
                    reading.tokens = tokens;
                    reading.tokens_read_at = Some(Instant::now());
                }
                // The last counts stay: better old numbers than a gap.
                Err(e) => logging::warn(format!("tokend: metrics: cannot count API tokens: {e}")),
            }
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    org: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = self.reading();
        let version = VersionLabel {
            version: env!("CARGO_PKG_VERSION"),
        };
        let info = ConstGauge::new(1u64);
        let mut described = encoder.encode_descriptor(
            "build_info",
            "The running tokend's version.",
            None,
            info.metric_type(),
        )?;
        info.encode(described.encode_family(&version)?)?;
        gauge(
            &mut encoder,
            "writer_queue_depth",
            "Writes queued for the writer thread and not yet taken.",
            reading.queue_depth,
        )?;
        gauge(
            &mut encoder,
            "writer_up",
            "Whether the writer thread runs (1) or has stopped (0).",
            reading.writer_alive as u64,
        )?;
        if let Some(not_after) = reading.tls_not_after {
            gauge(
                &mut encoder,
                "tls_certificate_expiry_timestamp_seconds",
                "When the TLS certificate in use expires, in seconds since the epoch.",
                u64::try_from(not_after).unwrap_or(0),
            )?;
        }
        if let Some(locks) = reading.locks {
            gauge(
                &mut encoder,
                "login_locks",
                "Login locks (a name from one address) in force.",
                locks.in_force,
            )?;
            let imposed = ConstCounter::new(locks.imposed);
            let described = encoder.encode_descriptor(
                "login_locks_imposed",
                "Login locks imposed since the start.",
                None,
                imposed.metric_type(),
            )?;
            imposed.encode(described)?;
        }
        let mut described = encoder.encode_descriptor(
            "api_tokens",
            "API tokens by org and state (live, expired, revoked), counted at most every 5 s.",
            None,
            ConstGauge::new(0u64).metric_type(),
        )?;
        for counts in &reading.tokens {
            for (state, n) in [
                ("live", counts.live),
                ("expired", counts.expired),
                ("revoked", counts.revoked),
            ] {
                let labels = TokenLabels {
                    org: counts.org.clone(),
                    state,
                };
                ConstGauge::new(n).encode(described.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    let described = encoder.encode_descriptor(name, help, None, metric.metric_type())?;
    metric.encode(described)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timed_route_is_routed_and_takes_post() {
        for route in TIMED_ROUTES {
            assert!(
                crate::http::endpoints()
                    .any(|(method, pattern, _)| pattern == *route && method == "POST"),
                "{route}"
            );
        }
    }

    #[test]
    fn a_method_no_route_serves_is_other() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("post"), "POST");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label(&"X".repeat(100)), "other");
    }
}
