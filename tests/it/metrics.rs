//! The Prometheus metrics on their own address (`--metrics-listen`),
//! scraped from the real binary after known traffic and read by the
//! Prometheus client library for Python (tests/metrics/parse_metrics.py),
//! in both formats it serves: the Prometheus text format and, when asked
//! for, OpenMetrics. The counts are those of the requests the test made;
//! the API port never serves `/metrics`, and the metrics port serves
//! nothing else.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const METRICS: &str = "/metrics";
/// The latency buckets tokend keeps, in seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];

/// A server with its metrics on a port of their own; and that address.
fn with_metrics() -> (TestServer, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let srv = TestServer::config()
        .arg("--metrics-listen")
        .arg(&addr)
        .start();
    (srv, addr)
}

fn get(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let request = build_request(addr, method, path, headers, None);
    send_raw(addr, &request, Duration::from_secs(5)).expect("the metrics address answers")
}

/// The families the Python library reads from `text`.
struct Exposition(Vec<Value>);

impl Exposition {
    fn parse(text: &str, format: &str) -> Exposition {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metrics/parse_metrics.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(format)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (.ci/run installs prometheus_client)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write the exposition");
        let out = child.wait_with_output().expect("the parser ends");
        assert!(
            out.status.success(),
            "prometheus_client refused the {format} exposition: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        let families: Value = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
        Exposition(families.as_array().expect("a list of families").clone())
    }

    fn family(&self, name: &str) -> &Value {
        self.0
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no family {name} in {:#?}", self.names()))
    }

    fn names(&self) -> Vec<&str> {
        self.0.iter().filter_map(|f| f["name"].as_str()).collect()
    }

    /// The samples named `sample` whose labels include `labels`.
    fn samples(&self, sample: &str, labels: &[(&str, &str)]) -> Vec<&Value> {
        self.0
            .iter()
            .flat_map(|f| f["samples"].as_array().expect("samples"))
            .filter(|s| s["name"] == sample)
            .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .collect()
    }

    /// The value of the one sample named `sample` with `labels`.
    fn value(&self, sample: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.samples(sample, labels);
        assert_eq!(found.len(), 1, "one {sample} {labels:?}: {found:#?}");
        found[0]["value"].as_f64().expect("a number")
    }

    /// The value, or 0 when no such sample was counted.
    fn count(&self, sample: &str, labels: &[(&str, &str)]) -> f64 {
        match self.samples(sample, labels).as_slice() {
            [] => 0.0,
            _ => self.value(sample, labels),
        }
    }
}

fn requests(metrics: &Exposition, route: &str, method: &str, status: &str) -> f64 {
    metrics.count(
        "tokend_http_requests_total",
        &[("route", route), ("method", method), ("status", status)],
    )
}

/// The buckets of the latency histogram of `route`: (le, cumulative count),
/// checked to be the buckets tokend keeps, cumulative, and ending in the
/// histogram's count.
fn latency(metrics: &Exposition, route: &str) -> Vec<(f64, f64)> {
    let name = "tokend_http_request_duration_seconds";
    let family = metrics.family(name);
    assert_eq!(family["type"], "histogram", "{family}");
    let buckets: Vec<(f64, f64)> = metrics
        .samples(&format!("{name}_bucket"), &[("route", route)])
        .iter()
        .map(|s| {
            let le = s["labels"]["le"].as_str().expect("le");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("a number")
            };
            (le, s["value"].as_f64().expect("count"))
        })
        .collect();
    let bounds: Vec<f64> = buckets.iter().map(|(le, _)| *le).collect();
    assert_eq!(bounds, LATENCY_BUCKETS, "{route}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {buckets:?}"
    );
    let count = metrics.value(&format!("{name}_count"), &[("route", route)]);
    assert_eq!(buckets.last().map(|b| b.1), Some(count), "{route}");
    buckets
}

#[test]
fn metrics_count_the_traffic_by_route_and_read_as_prometheus_does() {
    let (srv, metrics_addr) = with_metrics();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.service_add("vmc", &["vmc:sddc.read"]);
    let client = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client")
        .stdout;
    let mut client = client.lines().map(str::trim);
    let (client_id, client_secret) = (client.next().expect("id"), client.next().expect("secret"));

    // Logins: 2 at the provider's endpoint, 1 tenant login, and 5 failures
    // that lock mallory@acme out from this address.
    let admin = srv.api().admin_login().access_token;
    srv.api().admin_login();
    let alice = srv.api().user_login("alice@acme").access_token;
    for _ in 0..5 {
        srv.api()
            .try_login("mallory@acme", "not the password")
            .assert_status(401, "a failed login");
    }

    // Tokens: System 2 live, 1 expired, 1 revoked; acme 1 live.
    let mut secrets = Vec::new();
    for name in ["one", "two", "old", "gone"] {
        secrets.push(srv.api().create_token(&admin, name, Some("30m")));
    }
    srv.api().revoke_token(&admin, &secrets[3].id);
    let db = rusqlite::Connection::open(srv.db()).expect("open the database");
    db.execute(
        "UPDATE api_tokens SET expires_at = unixepoch() - 60 WHERE id = ?1",
        [&secrets[2].id],
    )
    .expect("expire a token");
    drop(db);
    srv.api().create_token(&alice, "ci", Some("30m"));

    // Exchanges: 3 at the refresh grant and 2 at the console's endpoint
    // that succeed, 1 that is refused; 2 introspections.
    let mut access = String::new();
    for _ in 0..3 {
        access = srv.api().exchange_provider(&secrets[0].secret).access_token;
    }
    for _ in 0..2 {
        srv.api().exchange_authorize(&secrets[1].secret);
    }
    srv.api()
        .try_exchange_provider(&secrets[3].secret)
        .assert_oauth_error("invalid_grant", "a revoked token");
    for _ in 0..2 {
        srv.api()
            .try_introspect(client_id, client_secret, &access)
            .assert_status(200, "introspect");
    }
    // Unknown paths, one of them holding a secret.
    srv.api()
        .get("/no/such/path", &[])
        .assert_status(404, "unknown");
    srv.api()
        .get(&format!("/no/such/{}", secrets[0].secret), &[])
        .assert_status(404, "a secret in an unknown path");
    // The API port does not serve the metrics.
    let on_api = srv.api().get(METRICS, &[]);
    on_api.assert_error(404, "not_found", "/metrics on the API port");

    // A request is counted before its answer is sent: no wait needed.
    let plain = get(&metrics_addr, "GET", METRICS, &[]);
    plain.assert_status(200, "the Prometheus text format");
    assert_eq!(
        plain.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = plain.text();
    let metrics = Exposition::parse(&text, "prometheus");

    assert_eq!(metrics.family("tokend_http_requests")["type"], "counter");
    assert_eq!(
        requests(&metrics, PROVIDER_TOKEN, "POST", "200"),
        3.0,
        "{text}"
    );
    assert_eq!(requests(&metrics, PROVIDER_TOKEN, "POST", "400"), 1.0);
    assert_eq!(requests(&metrics, AUTHORIZE, "POST", "200"), 2.0);
    assert_eq!(requests(&metrics, "/oauth/introspect", "POST", "200"), 2.0);
    assert_eq!(requests(&metrics, PROVIDER_SESSIONS, "POST", "200"), 2.0);
    assert_eq!(requests(&metrics, SESSIONS, "POST", "200"), 1.0);
    assert_eq!(requests(&metrics, SESSIONS, "POST", "401"), 5.0);
    assert_eq!(requests(&metrics, "/api/tokens", "POST", "201"), 5.0);
    assert_eq!(requests(&metrics, "/api/tokens/{id}", "DELETE", "204"), 1.0);
    // Both unknown paths, and /metrics, under one pattern: no path a client
    // chose is a label.
    assert_eq!(requests(&metrics, "-", "GET", "404"), 3.0);
    assert!(
        !text.contains(&secrets[0].secret),
        "a secret in the metrics"
    );
    assert!(!text.contains("/no/such"), "a client's path in the metrics");
    assert_eq!(requests(&metrics, PROVIDER_TOKEN, "GET", "200"), 0.0);

    // Latency: every POST at the timed routes, in the buckets tokend keeps.
    for (route, posts) in [
        (PROVIDER_TOKEN, 4.0),
        (AUTHORIZE, 2.0),
        ("/oauth/introspect", 2.0),
        (PROVIDER_SESSIONS, 2.0),
        (SESSIONS, 6.0),
        ("/oauth/tenant/{org}/token", 0.0),
    ] {
        let buckets = latency(&metrics, route);
        assert_eq!(buckets.last().map(|b| b.1), Some(posts), "{route}");
    }
    // argon2 takes milliseconds: no login is in the first bucket.
    assert_eq!(latency(&metrics, PROVIDER_SESSIONS)[0].1, 0.0);
    assert!(
        metrics
            .samples(
                "tokend_http_request_duration_seconds_count",
                &[("route", "/api/tokens")]
            )
            .is_empty(),
        "only the exchanges, logins and introspection are timed"
    );

    // API tokens by org and state, as made above.
    for (org, state, n) in [
        ("System", "live", 2.0),
        ("System", "expired", 1.0),
        ("System", "revoked", 1.0),
        ("acme", "live", 1.0),
        ("acme", "expired", 0.0),
        ("acme", "revoked", 0.0),
    ] {
        assert_eq!(
            metrics.value("tokend_api_tokens", &[("org", org), ("state", state)]),
            n,
            "{org} {state}"
        );
    }
    assert_eq!(metrics.value("tokend_login_locks", &[]), 1.0);
    assert_eq!(metrics.value("tokend_login_locks_imposed_total", &[]), 1.0);

    // The writer: everything above was committed, nothing waits.
    assert_eq!(metrics.value("tokend_writer_up", &[]), 1.0);
    // The refusals' events may still be on their way: once the writer has
    // caught up, nothing waits.
    let drained = eventually(Duration::from_secs(5), || {
        let text = get(&metrics_addr, "GET", METRICS, &[]).text();
        let depth = Exposition::parse(&text, "prometheus").value("tokend_writer_queue_depth", &[]);
        (depth == 0.0).then_some(())
    });
    assert!(drained.is_some(), "the writer's queue never drained");
    let batches = metrics.value("tokend_writer_batch_size_count", &[]);
    let writes = metrics.value("tokend_writer_batch_size_sum", &[]);
    assert!(batches >= 1.0 && writes >= batches, "{batches} {writes}");
    assert_eq!(
        metrics.value("tokend_writer_commit_duration_seconds_count", &[]),
        batches,
        "one commit time per batch"
    );
    assert_eq!(metrics.value("tokend_reminders_sent_total", &[]), 0.0);
    assert_eq!(
        metrics.value(
            "tokend_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // OpenMetrics when asked for, as Prometheus asks; the strict parser
    // reads it, with the same numbers.
    let open = get(
        &metrics_addr,
        "GET",
        METRICS,
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
        )],
    );
    open.assert_status(200, "OpenMetrics");
    assert_eq!(
        open.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.text().ends_with("# EOF\n"));
    let open = Exposition::parse(&open.text(), "openmetrics");
    assert_eq!(open.family("tokend_http_requests")["type"], "counter");
    assert_eq!(
        open.family("tokend_http_request_duration_seconds")["unit"],
        "seconds"
    );
    assert_eq!(requests(&open, PROVIDER_TOKEN, "POST", "200"), 3.0);
    assert_eq!(
        open.value("tokend_api_tokens", &[("org", "System"), ("state", "live")]),
        2.0
    );
}

#[test]
fn the_metrics_address_serves_only_get_metrics() {
    let (srv, metrics_addr) = with_metrics();
    for path in [
        "/",
        "/health",
        "/metrics/",
        "/metrics/x",
        "/api/tokens",
        "/METRICS",
    ] {
        let answer = get(&metrics_addr, "GET", path, &[]);
        answer.assert_status(404, path);
        assert!(!answer.text().contains("tokend_"), "{path}: {answer:?}");
    }
    for method in ["POST", "PUT", "DELETE"] {
        let answer = get(&metrics_addr, method, METRICS, &[]);
        answer.assert_status(405, method);
        assert_eq!(answer.header("Allow"), Some("GET, HEAD"));
    }
    let head = get(&metrics_addr, "HEAD", METRICS, &[]);
    head.assert_status(200, "HEAD");
    assert!(head.body.is_empty(), "{head:?}");
    // A query changes nothing.
    let query = get(&metrics_addr, "GET", "/metrics?name=x", &[]);
    query.assert_status(200, "a query");
    assert!(query.text().contains("tokend_http_requests_total"));
    // The API answers on its own port meanwhile, without /metrics.
    srv.api()
        .get(METRICS, &[])
        .assert_error(404, "not_found", "the API port");
    srv.api()
        .get("/.well-known/jwks.json", &[])
        .assert_status(200, "the API port");
}

#[test]
fn without_a_metrics_address_nothing_listens_and_one_like_the_api_is_refused() {
    let srv = TestServer::start();
    assert!(!srv.log().contains("metrics on"), "{}", srv.log());
    srv.api()
        .get(METRICS, &[])
        .assert_error(404, "not_found", "no metrics on the API port");

    let dir = TempDir::new();
    let db = dir.path.join("tokend.db");
    let addr = format!("127.0.0.1:{}", free_port());
    let out = run_tokend(
        &[
            "--db",
            &db.to_string_lossy(),
            "serve",
            "--listen",
            &addr,
            "--metrics-listen",
            &addr,
        ],
        None,
        &[("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        &dir.path,
    );
    out.code_is(1, "the metrics on the API's address");
    assert!(out.stderr.contains("must differ"), "{out:#?}");
}
