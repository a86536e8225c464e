//! Webhooks, received by a real HTTPS server (`tests/webhooks/receiver.py`:
//! Python's http.server and ssl, with a certificate a private CA made by
//! openssl signed): a revoked token arrives signed, the signature checked
//! by the README's own Python snippet (Python's hmac, not tokend's code),
//! the body carrying no secret; the secret shown once and nowhere else;
//! `token.expiring` once per token within N days on a settable clock; a
//! failing endpoint retried with backoff under one delivery id, across a
//! restart, and given up after a day; who may add one, and for whose
//! events; plain HTTP refused.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokend::domain::Authority;
use tokend::http::webhook_client::WebhookClient;

use crate::reminders::test_certificates;
use crate::support::*;

const DAY: i64 = 86_400;

/// The HTTPS receiver, killed on drop; what it received is in `received()`.
struct Receiver {
    child: Child,
    port: u16,
    outfile: PathBuf,
    ca: PathBuf,
}

impl Receiver {
    /// Answers the POSTs with `statuses` in turn, then 200.
    fn start(dir: &Path, statuses: &[u16]) -> Receiver {
        let (ca, cert, key) = test_certificates(dir);
        let port = free_port();
        let outfile = dir.join(format!("hooks-{port}.jsonl"));
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhooks/receiver.py");
        let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&cert)
            .arg(&key)
            .arg(&outfile)
            .arg(statuses.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver says it is ready");
        assert_eq!(line.trim(), "ready", "the webhook receiver");
        Receiver {
            child,
            port,
            outfile,
            ca,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/hooks/tokend", self.port)
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.outfile)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON request a line"))
            .collect()
    }

    /// The requests of event `kind`.
    fn of(&self, kind: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r["headers"]["x-tokend-event"] == kind)
            .collect()
    }

    fn client(&self) -> WebhookClient {
        let ca = std::fs::read(&self.ca).expect("CA");
        WebhookClient::new(Some(&ca)).expect("client")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bearer(jwt: &str) -> String {
    format!("Bearer {jwt}")
}

fn try_add(api: &Client, jwt: &str, body: Value) -> Response {
    let auth = bearer(jwt);
    api.post(
        "/api/webhooks",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

fn add(api: &Client, jwt: &str, body: Value) -> Value {
    let r = try_add(api, jwt, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn get(api: &Client, jwt: &str, path: &str) -> Response {
    let auth = bearer(jwt);
    api.get(path, &[("authorization", auth.as_str())])
}

fn deliveries(api: &Client, jwt: &str, id: &str) -> Vec<Value> {
    let r = get(api, jwt, &format!("/api/webhooks/{id}/deliveries"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone()
}

fn run(authority: &mut Authority, client: &WebhookClient) -> (usize, usize, usize) {
    let run = authority.run_webhooks(client).expect("webhook run");
    (run.delivered, run.deferred, run.given_up)
}

/// The README's verification snippet, run by Python on what the receiver
/// got: whether it accepts the request as signed with `secret`.
fn readme_verifies(secret: &str, request: &Value) -> bool {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Webhooks\n")
        .nth(1)
        .expect("a Webhooks section");
    let snippet = section
        .split("```python\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("a python block in the Webhooks section");
    let headers = request["headers"].as_object().expect("headers");
    let named = json!({
        "X-Tokend-Timestamp": headers["x-tokend-timestamp"],
        "X-Tokend-Signature-256": headers["x-tokend-signature-256"],
    });
    let program = format!(
        "{snippet}\nimport json, sys\nargs = json.load(sys.stdin)\n\
         print(verify(args['secret'], args['headers'], args['body'].encode()))\n"
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let input = json!({ "secret": secret, "headers": named, "body": request["body"] });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3 ends");
    assert!(out.status.success(), "{out:?}");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "True" => true,
        "False" => false,
        other => panic!("the snippet printed {other:?}"),
    }
}

fn body_of(request: &Value) -> Value {
    serde_json::from_str(request["body"].as_str().expect("body")).expect("a JSON body")
}

#[test]
fn a_revoked_token_reaches_the_endpoint_signed_and_the_secret_is_shown_once() {
    let dir = TempDir::new();
    let receiver = Receiver::start(&dir.path, &[]);
    let ca = receiver.ca.to_string_lossy().to_string();
    let srv = TestServer::start_with(TestServer::config().env("TOKEND_WEBHOOK_CA_FILE", &ca));
    let api = srv.api();
    let admin = api.admin_login().access_token;

    let created = add(
        api,
        &admin,
        json!({ "url": receiver.url(), "events": ["token.revoke", "token.leaked"] }),
    );
    let secret = created["secret"].as_str().expect("the secret").to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["events"], json!(["token.leaked", "token.revoke"]));
    assert_eq!(created["org"], Value::Null, "every org's");

    // The ping arrives first, signed.
    let ping = eventually(Duration::from_secs(20), || {
        receiver.of("ping").into_iter().next()
    })
    .expect("a ping");
    assert!(readme_verifies(&secret, &ping), "{ping}");
    assert_eq!(ping["path"], "/hooks/tokend");

    let token = api.create_token(&admin, "deploy-bot", Some("30d"));
    api.revoke_token(&admin, &token.id);
    let revoked = eventually(Duration::from_secs(20), || {
        receiver.of("token.revoke").into_iter().next()
    })
    .expect("the revocation arrives");
    let headers = &revoked["headers"];
    assert_eq!(headers["content-type"], "application/json");
    let delivery = headers["x-tokend-delivery"].as_str().expect("delivery id");
    assert!(readme_verifies(&secret, &revoked), "a valid signature");
    // The snippet is no rubber stamp: another secret, or a changed body, fails.
    assert!(!readme_verifies("whsec_another", &revoked));
    let mut tampered = revoked.clone();
    tampered["body"] = json!(revoked["body"]
        .as_str()
        .unwrap()
        .replace("deploy-bot", "other"));
    assert!(!readme_verifies(&secret, &tampered));

    let body = body_of(&revoked);
    assert_eq!(body["type"], "token.revoke");
    assert_eq!(body["delivery_id"], delivery);
    assert_eq!(body["token"]["id"], json!(token.id));
    assert_eq!(body["token"]["name"], "deploy-bot");
    assert_eq!(body["token"]["owner"]["name"], "administrator");
    assert_eq!(body["token"]["expires_at"], json!(token.expires_at));
    assert_eq!(body["org"]["name"], "System");
    let raw = revoked["body"].as_str().unwrap();
    assert!(!raw.contains(&token.secret), "never the token's secret");
    assert!(!raw.contains(&secret), "never the webhook's secret");
    assert!(!raw.contains("digest"), "never a digest");
    let audit_events = api.recorded_events(&admin, "token.revoke", 1);
    assert_eq!(
        body["event_id"], audit_events[0]["id"],
        "the audit event's id"
    );

    // A leak report: the revoked token's delivery says where it was found.
    let leaked = api.create_token(&admin, "leaky-bot", Some("30d"));
    let report = json!({ "candidates": [
        { "token": leaked.secret, "url": "https://paste.example/abc", "source": "scanner" }
    ] });
    api.post(
        "/api/tokens/leaked",
        &[("Content-Type", "application/json")],
        report.to_string().as_bytes(),
    )
    .assert_status(200, "leak report");
    let leak = eventually(Duration::from_secs(20), || {
        receiver.of("token.leaked").into_iter().next()
    })
    .expect("the leak arrives");
    assert!(readme_verifies(&secret, &leak), "a valid signature");
    let body = body_of(&leak);
    assert_eq!(body["token"]["name"], "leaky-bot");
    assert_eq!(body["reported"]["url"], "https://paste.example/abc");
    assert_eq!(body["reported"]["source"], "scanner");
    assert_eq!(body["reported"]["from"], "127.0.0.1");
    assert!(!leak["body"].as_str().unwrap().contains(&leaked.secret));

    // The secret was shown once: no listing, read, delivery record, log
    // line or audit event holds it.
    let listed = get(api, &admin, "/api/webhooks");
    assert_eq!(listed.status, 200);
    let shown = get(api, &admin, &format!("/api/webhooks/{id}"));
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["url"], json!(receiver.url()));
    let states = deliveries(api, &admin, &id);
    assert!(
        states
            .iter()
            .any(|d| d["id"] == delivery && d["status"] == "delivered" && d["attempts"] == 1),
        "{states:?}"
    );
    let trail = api.every_event(&admin, "");
    let cli_list = srv
        .cli()
        .run(&["webhook", "list", "-o", "json"], None)
        .ok("list");
    let cli_deliveries = srv
        .cli()
        .run(&["webhook", "deliveries", &id], None)
        .ok("deliveries");
    for (what, text) in [
        ("the listing", listed.text()),
        ("the webhook", shown.text()),
        ("the deliveries", json!(states).to_string()),
        ("the audit trail", json!(trail).to_string()),
        ("the CLI's listing", cli_list.stdout.clone()),
        ("the CLI's deliveries", cli_deliveries.stdout.clone()),
        ("the log", srv.log()),
    ] {
        assert!(!text.contains(&secret), "the secret in {what}");
    }
    assert!(cli_list.stdout.contains(&id), "{}", cli_list.stdout);
    assert!(cli_deliveries.stdout.contains("delivered"));
    let created_event = api.recorded_events(&admin, "webhook.create", 1);
    assert_eq!(created_event[0]["target"]["id"], json!(id));

    // Removed: no more deliveries, and it is gone.
    let auth = bearer(&admin);
    let r = api.delete(
        &format!("/api/webhooks/{id}"),
        &[("authorization", auth.as_str())],
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(get(api, &admin, &format!("/api/webhooks/{id}")).status, 404);
    api.recorded_events(&admin, "webhook.delete", 1);
}

#[test]
fn the_cli_adds_a_webhook_showing_its_secret_once_and_removes_it() {
    let srv = TestServer::start();
    let cli = srv.cli();
    let added = cli
        .run(
            &[
                "webhook",
                "add",
                "https://hooks.example.org/tokend",
                "--event",
                "token.revoke,token.expiring",
                "--expiring-days",
                "7",
            ],
            None,
        )
        .ok("webhook add");
    let secret = added.stdout.trim().to_string();
    assert!(secret.starts_with("whsec_"), "{}", added.stdout);
    let listed = cli.run(&["webhook", "list", "-o", "json"], None).ok("list");
    let webhooks: Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(
        webhooks[0]["events"],
        json!(["token.expiring", "token.revoke"])
    );
    assert_eq!(webhooks[0]["expiring_days"], 7);
    assert!(!listed.stdout.contains(&secret));
    let table = cli.run(&["webhook", "list"], None).ok("list");
    assert!(!table.stdout.contains(&secret));
    let id = webhooks[0]["id"].as_str().unwrap().to_string();
    let shown = cli
        .run(&["webhook", "show", &id, "-o", "json"], None)
        .ok("show");
    let shown: Value = serde_json::from_str(&shown.stdout).expect("JSON");
    assert_eq!(shown, webhooks[0]);
    // Plain HTTP is refused here as over the API.
    cli.run(
        &[
            "webhook",
            "add",
            "http://hooks.example.org/",
            "--event",
            "token.revoke",
        ],
        None,
    )
    .code_is(1, "http refused");
    cli.run(&["webhook", "remove", &id], None).ok("remove");
    let listed = cli.run(&["webhook", "list", "-o", "json"], None).ok("list");
    assert_eq!(listed.stdout.trim(), "[]");
    assert!(!srv.log().contains(&secret));
}

#[test]
fn token_expiring_is_delivered_once_per_token_within_its_days() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let receiver = Receiver::start(&dir.path, &[]);
    let client = receiver.client();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let created = add(
        api,
        &admin,
        json!({ "url": receiver.url(), "events": ["token.expiring"], "expiring_days": 7 }),
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    let soon = api.create_token(&admin, "nightly", Some("30d"));
    let later = api.create_token(&admin, "quarterly", Some("90d"));
    let revoked = api.create_token(&admin, "revoked", Some("30d"));
    api.revoke_token(&admin, &revoked.id);

    let mut authority = service.authority();
    assert_eq!(run(&mut authority, &client), (1, 0, 0), "the ping alone");
    service.advance(23 * DAY - 60);
    assert_eq!(run(&mut authority, &client), (0, 0, 0), "a minute early");
    service.advance(120);
    assert_eq!(run(&mut authority, &client), (1, 0, 0), "within 7 days");
    assert_eq!(run(&mut authority, &client), (0, 0, 0), "once");
    service.advance(DAY);
    assert_eq!(run(&mut authority, &client), (0, 0, 0), "still once");

    let expiring = receiver.of("token.expiring");
    assert_eq!(expiring.len(), 1, "{expiring:?}");
    let body = body_of(&expiring[0]);
    assert_eq!(body["token"]["id"], json!(soon.id));
    assert_eq!(body["token"]["expires_at"], json!(soon.expires_at));
    assert_eq!(body["within_days"], 7);
    assert!(readme_verifies_at(&secret, &expiring[0]));
    assert!(!expiring[0]["body"].as_str().unwrap().contains(&soon.secret));
    // The revoked token, and the one further out, were never announced.
    assert!(!receiver.received().iter().any(|r| {
        let raw = r["body"].as_str().unwrap_or_default();
        raw.contains(&revoked.id) || raw.contains(&later.id)
    }));
    // A revocation is not what this webhook asked for.
    let admin = api.admin_login().access_token;
    api.revoke_token(&admin, &soon.id);
    assert_eq!(run(&mut authority, &client), (0, 0, 0));
}

#[test]
fn a_failing_endpoint_is_retried_with_backoff_under_one_delivery_id_across_a_restart() {
    let service = InProcess::start();
    let dir = TempDir::new();
    // The ping gets 200; the revocation 503, 503, then 200.
    let receiver = Receiver::start(&dir.path, &[200, 503, 503]);
    let client = receiver.client();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let created = add(
        api,
        &admin,
        json!({ "url": receiver.url(), "events": ["token.revoke"] }),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    let mut authority = service.authority();
    assert_eq!(run(&mut authority, &client), (1, 0, 0), "the ping");

    let token = api.create_token(&admin, "ci", Some("30d"));
    api.revoke_token(&admin, &token.id);
    assert_eq!(run(&mut authority, &client), (0, 1, 0), "503: deferred");
    let pending = deliveries(api, &admin, &id)
        .into_iter()
        .find(|d| d["event"] == "token.revoke")
        .expect("the delivery");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["attempts"], 1);
    assert_eq!(pending["last_status"], 503);
    assert_eq!(run(&mut authority, &client), (0, 0, 0), "not due yet");
    service.advance(29);
    assert_eq!(run(&mut authority, &client), (0, 0, 0), "30 s first");

    // The process holding the queue goes away; another picks it up.
    drop(authority);
    service.advance(1);
    let mut restarted = service.authority();
    assert_eq!(run(&mut restarted, &client), (0, 1, 0), "503 again");
    service.advance(59);
    assert_eq!(run(&mut restarted, &client), (0, 0, 0), "then 60 s");
    service.advance(1);
    assert_eq!(run(&mut restarted, &client), (1, 0, 0), "200: delivered");
    service.advance(3600);
    assert_eq!(run(&mut restarted, &client), (0, 0, 0), "delivered once");

    let attempts = receiver.of("token.revoke");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [503, 503, 200]);
    let ids: Vec<&Value> = attempts
        .iter()
        .map(|a| &a["headers"]["x-tokend-delivery"])
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one delivery id: {ids:?}");
    let bodies: Vec<&Value> = attempts.iter().map(|a| &a["body"]).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]), "the same bytes");
    let stamps: Vec<i64> = attempts
        .iter()
        .map(|a| {
            a["headers"]["x-tokend-timestamp"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(stamps[1] - stamps[0], 30);
    assert_eq!(stamps[2] - stamps[1], 60);
    assert!(attempts.iter().all(|a| readme_verifies_at(&secret, a)));
    let admin = api.admin_login().access_token;
    let delivered = deliveries(api, &admin, &id)
        .into_iter()
        .find(|d| d["event"] == "token.revoke")
        .unwrap();
    assert_eq!(delivered["status"], "delivered");
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(delivered["id"], *ids[0]);
}

/// The snippet checks the timestamp against the real clock; a test that
/// moved the service's clock checks the signature with Python's hmac
/// directly, as the snippet does.
fn readme_verifies_at(secret: &str, request: &Value) -> bool {
    let program = "import hashlib, hmac, json, sys\n\
        a = json.load(sys.stdin)\n\
        mac = hmac.new(a['secret'].encode(), a['ts'].encode() + b'.' + a['body'].encode(), hashlib.sha256)\n\
        print(hmac.compare_digest('sha256=' + mac.hexdigest(), a['sig']))\n";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let input = json!({
        "secret": secret,
        "ts": request["headers"]["x-tokend-timestamp"],
        "sig": request["headers"]["x-tokend-signature-256"],
        "body": request["body"],
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("python3 ends");
    String::from_utf8_lossy(&out.stdout).trim() == "True"
}

#[test]
fn a_delivery_failing_for_a_day_is_given_up_and_audited() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let receiver = Receiver::start(&dir.path, &[503; 64]);
    let client = receiver.client();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let created = add(
        api,
        &admin,
        json!({ "url": receiver.url(), "events": ["token.revoke"] }),
    );
    let id = created["id"].as_str().unwrap().to_string();
    let mut authority = service.authority();
    assert_eq!(run(&mut authority, &client), (0, 1, 0), "the ping fails");
    let mut given_up = 0;
    for _ in 0..40 {
        service.advance(3600);
        given_up += run(&mut authority, &client).2;
    }
    assert_eq!(given_up, 1);
    let admin = api.admin_login().access_token;
    let ping = deliveries(api, &admin, &id).remove(0);
    assert_eq!(ping["status"], "failed");
    assert_eq!(ping["last_status"], 503);
    // 30 s doubling to an hour, within a day: 7 waits up to 32 min, then hourly.
    let attempts = ping["attempts"].as_i64().unwrap();
    assert!((20..=32).contains(&attempts), "{attempts}");
    let event = api
        .recorded_events(&admin, "webhook.delivery_failed", 1)
        .remove(0);
    assert_eq!(event["target"]["id"], json!(id));
    assert_eq!(
        event["target"]["name"], "localhost",
        "the host, not the URL"
    );
}

#[test]
fn only_admins_add_webhooks_and_an_org_admin_hears_of_its_own_org_only() {
    let dir = TempDir::new();
    let receiver = Receiver::start(&dir.path, &[]);
    let ca = receiver.ca.to_string_lossy().to_string();
    let srv = TestServer::start_with(TestServer::config().env("TOKEND_WEBHOOK_CA_FILE", &ca));
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("globex");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("gus@globex", &[ROLE_ORG_ADMIN]);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let carol = api.user_login("carol@acme").access_token;
    let alice = api.user_login("alice@acme").access_token;
    let gus = api.user_login("gus@globex").access_token;
    let hook = |events: &[&str]| json!({ "url": receiver.url(), "events": events });

    // A token user may not; nor may access derived from an admin's API token.
    assert_eq!(try_add(api, &alice, hook(&["token.revoke"])).status, 403);
    assert_eq!(get(api, &alice, "/api/webhooks").status, 403);
    let admin_token = api.create_token(&admin, "automation", Some("1d"));
    let derived = api.exchange_provider(&admin_token.secret).access_token;
    assert_eq!(try_add(api, &derived, hook(&["token.revoke"])).status, 403);
    // An org admin may not name another org.
    let mut other = hook(&["token.revoke"]);
    other["org"] = json!("globex");
    assert_eq!(try_add(api, &carol, other).status, 404);

    // Carol's webhook is acme's; the System Administrator's every org's.
    let carols = add(api, &carol, hook(&["token.revoke"]));
    assert_eq!(carols["org"]["name"], "acme");
    let carols_id = carols["id"].as_str().unwrap().to_string();
    let everyones = add(api, &admin, hook(&["token.revoke"]));
    let everyones_id = everyones["id"].as_str().unwrap().to_string();
    // Gus sees neither, and cannot read or remove Carol's.
    let listed = get(api, &gus, "/api/webhooks").json();
    assert_eq!(listed["webhooks"], json!([]));
    assert_eq!(
        get(api, &gus, &format!("/api/webhooks/{carols_id}")).status,
        404
    );
    let auth = bearer(&gus);
    let r = api.delete(
        &format!("/api/webhooks/{carols_id}"),
        &[("authorization", auth.as_str())],
    );
    assert_eq!(r.status, 404);
    // Carol sees hers, not the provider's.
    let listed = get(api, &carol, "/api/webhooks").json();
    let ids: Vec<&Value> = listed["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["id"])
        .collect();
    assert_eq!(ids, [&json!(carols_id)]);
    assert_eq!(
        get(api, &carol, &format!("/api/webhooks/{everyones_id}")).status,
        404
    );

    let in_acme = api.create_token(&alice, "acme-ci", Some("30d"));
    let in_globex = api.create_token(&gus, "globex-ci", Some("30d"));
    api.revoke_token(&gus, &in_globex.id);
    api.revoke_token(&alice, &in_acme.id);
    let by_hook = |hook_id: &str| -> Vec<Value> {
        receiver
            .of("token.revoke")
            .into_iter()
            .filter(|r| r["headers"]["x-tokend-webhook"] == hook_id)
            .map(|r| body_of(&r))
            .collect()
    };
    eventually(Duration::from_secs(20), || {
        (by_hook(&everyones_id).len() == 2 && !by_hook(&carols_id).is_empty()).then_some(())
    })
    .expect("both revocations to the System Administrator's, acme's to Carol's");
    std::thread::sleep(Duration::from_secs(3));
    let carols_got = by_hook(&carols_id);
    assert_eq!(carols_got.len(), 1, "{carols_got:?}");
    assert_eq!(carols_got[0]["token"]["id"], json!(in_acme.id));
    assert_eq!(carols_got[0]["org"]["name"], "acme");
}

#[test]
fn a_webhook_must_be_https_and_well_formed() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    for (body, why) in [
        (
            json!({ "url": "http://127.0.0.1:9/", "events": ["token.revoke"] }),
            "http, even loopback",
        ),
        (
            json!({ "url": "http://hooks.example.org/", "events": ["token.revoke"] }),
            "http",
        ),
        (
            json!({ "url": "https://u:p@hooks.example.org/", "events": ["token.revoke"] }),
            "credentials",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": [] }),
            "no event",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": ["token.create"] }),
            "unknown event",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": ["token.expiring"] }),
            "no days",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": ["token.expiring"], "expiring_days": 0 }),
            "0 days",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": ["token.revoke"], "expiring_days": 3 }),
            "days without expiring",
        ),
        (
            json!({ "url": "https://hooks.example.org/", "events": ["token.revoke"], "secret": "mine" }),
            "unknown field",
        ),
        (json!({ "events": ["token.revoke"] }), "no url"),
    ] {
        let r = try_add(api, &admin, body);
        assert_eq!(r.status, 400, "{why}: {}", r.text());
        assert!(r.json()["message"].is_string(), "{why}");
    }
    assert_eq!(
        get(api, &admin, "/api/webhooks").json()["webhooks"],
        json!([])
    );
    assert_eq!(get(api, &admin, "/api/webhooks/not-an-id").status, 404);
    assert_eq!(
        get(
            api,
            &admin,
            "/api/webhooks/00000000-0000-4000-8000-000000000000/deliveries"
        )
        .status,
        404
    );
}

#[test]
fn a_reseal_keeps_webhook_secrets_usable() {
    let service = InProcess::start();
    let dir = TempDir::new();
    let receiver = Receiver::start(&dir.path, &[]);
    let client = receiver.client();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let created = add(
        api,
        &admin,
        json!({ "url": receiver.url(), "events": ["token.revoke"] }),
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    let new_key = dir.path.join("new.key");
    let report = service
        .authority()
        .reseal_signing_keys(&tokend::key_file::KeyFile::new(&new_key))
        .expect("reseal");
    assert_eq!(report.webhook_secrets, 1);
    // A handle on the new key file signs with the same secret.
    let mut resealed = service.authority_with_key_file(&new_key);
    assert_eq!(run(&mut resealed, &client), (1, 0, 0));
    let ping = receiver.of("ping").remove(0);
    assert!(readme_verifies(&secret, &ping));
}
