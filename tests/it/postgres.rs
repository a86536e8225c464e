//! Several tokend nodes on one PostgreSQL database, as an HA deployment
//! runs them behind a load balancer: whatever one node changes, every
//! other node honours at once (revocations, keys, the directory), the
//! nodes share one audit trail, and a node killed mid-load loses nothing
//! it acknowledged. What a request leaves for the next one is shared too:
//! a DPoP proof used on one node is refused on the other, a DPoP nonce one
//! node gave out is accepted by the other, and a console login whose
//! password went to one node completes its second factor on the other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::dpop::make_proof;
use crate::second_factor::code_at;
use crate::support::*;

/// The load balancer's address: the issuer every node names.
const ISSUER: &str = "http://tokend.example";

/// Two nodes on a new database behind one issuer, sharing one key file
/// (the first made it).
fn two_nodes() -> (TestServer, TestServer, TempDir) {
    two_nodes_with(&[])
}

/// The same, each node with the environment `env` as well.
fn two_nodes_with(env: &[(&str, &str)]) -> (TestServer, TestServer, TempDir) {
    let url = postgres_database();
    let shared = TempDir::new();
    let key_file = shared.path.join("tokend.key");
    let node = || {
        let mut config = TestServer::config()
            .postgres(&url)
            .key_file(&key_file)
            .env("TOKEND_ISSUER", ISSUER);
        for (name, value) in env {
            config = config.env(name, value);
        }
        config.start()
    };
    let first = node();
    let second = node();
    (first, second, shared)
}

#[test]
fn a_node_on_postgres_serves_the_whole_flow() {
    let srv = TestServer::config().postgres(&postgres_database()).start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let org = api.create_org(&admin, "Acme").id;
    srv.cli()
        .user_add("alice@Acme", &["Organization Administrator"]);
    let alice = api.user_login("alice@Acme").access_token;
    let token = api.create_token(&alice, "ci", Some("30m"));
    let access = api.exchange_tenant("Acme", &token.secret).access_token;
    let info = api.session_info(&access);
    assert_eq!(info.org.id, org);
    assert_eq!(info.api_token_id.as_deref(), Some(token.id.as_str()));
    let listed = srv.cli().token_rows(&[]);
    assert!(
        listed
            .iter()
            .any(|row| row.id == token.id && row.status == "active"),
        "{listed:?}"
    );
    // Names are one regardless of ASCII case, as in SQLite.
    api.try_create_org(&admin, "ACME")
        .assert_status(409, "an org name differing in case only");
}

#[test]
fn a_token_revoked_on_one_node_is_refused_on_the_other_within_a_second() {
    let (a, b, _shared) = two_nodes();
    let admin_a = a.api().admin_login().access_token;
    let token = a.api().create_token(&admin_a, "ci", Some("30m"));
    let access = b.api().exchange_provider(&token.secret).access_token;
    b.api()
        .try_session_info(&access)
        .assert_status(200, "before");

    let admin_b = b.api().admin_login().access_token;
    let revoked_at = Instant::now();
    a.api().revoke_token(&admin_a, &token.id);
    let refused = eventually(Duration::from_secs(1), || {
        let answer = b.api().try_exchange_provider(&token.secret);
        (answer.status == 400).then_some(answer)
    });
    assert!(
        refused.is_some(),
        "node b still exchanges a token node a revoked, after {:?}",
        revoked_at.elapsed()
    );
    b.api()
        .try_session_info(&access)
        .assert_bearer_401("an access token derived from the revoked token, on node b");
    // One trail: node b sees node a's revocation event.
    let events = b.api().audit(&admin_b, "type=token.revoke").events;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn keys_rotated_through_one_node_sign_and_verify_on_every_node() {
    let (a, b, _shared) = two_nodes();
    let before = a.api().admin_login().access_token;
    let out = a
        .cli()
        .run(&["key", "rotate", "--now"], None)
        .ok("key rotate --now");
    let kids: Vec<String> = out.stdout.lines().map(|l| l.trim().to_owned()).collect();
    assert_eq!(kids.len(), 2, "{out:#?}");
    for node in [&a, &b] {
        let served: Vec<String> = node.api().jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| str_field(k, "kid").to_owned())
            .collect();
        assert!(
            kids.iter().all(|kid| served.contains(kid)),
            "node {} publishes the new keys: {served:?}",
            node.addr()
        );
    }
    // Signed on one node, honoured on the other; the old key's tokens are
    // refused on both.
    let signed_by_b = b.api().admin_login().access_token;
    let (header, _) = jwt_parts(&signed_by_b);
    assert!(kids.iter().any(|k| header["kid"] == k.as_str()), "{header}");
    a.api()
        .try_session_info(&signed_by_b)
        .assert_status(200, "a token node b signed, on node a");
    for node in [&a, &b] {
        node.api()
            .try_session_info(&before)
            .assert_bearer_401("a token of the key retired at once");
    }
}

#[test]
fn nodes_starting_together_on_an_empty_database_make_one_authority() {
    let url = postgres_database();
    let shared = TempDir::new();
    let key_file = shared.path.join("tokend.key");
    // The key file is made first, as an operator hands every node a copy.
    run_tokend(&["--db", &url, "migrate"], None, &[], &shared.path).ok("migrate");
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (url, key_file) = (url.clone(), key_file.clone());
            thread::spawn(move || {
                TestServer::config()
                    .postgres(&url)
                    .key_file(&key_file)
                    .start()
            })
        })
        .collect();
    let nodes: Vec<TestServer> = starts.into_iter().map(|s| s.join().unwrap()).collect();
    let admin = nodes[0].api().admin_login().access_token;
    let initialised = nodes[0]
        .api()
        .audit(&admin, "type=system.initialize")
        .events;
    assert_eq!(initialised.len(), 1, "{initialised:?}");
    let kids = |node: &TestServer| -> Vec<String> {
        let mut kids: Vec<String> = node.api().jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| str_field(k, "kid").to_owned())
            .collect();
        kids.sort();
        kids
    };
    for node in &nodes[1..] {
        node.api().admin_login();
        assert_eq!(kids(node), kids(&nodes[0]), "one set of keys");
    }
}

#[test]
fn a_node_killed_mid_load_loses_no_acknowledged_exchange() {
    let (a, b, _shared) = two_nodes();
    let admin = b.api().admin_login().access_token;
    let token = b.api().create_token(&admin, "load", Some("1h"));
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = a.addr().to_owned();
    let loaders: Vec<_> = (0..4)
        .map(|_| {
            let (acknowledged, stop, secret) = (
                Arc::clone(&acknowledged),
                Arc::clone(&stop),
                token.secret.clone(),
            );
            let client = Client::new(&addr);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let answer = client.try_exchange_provider(&secret);
                    if answer.status != 200 {
                        // Refused or cut off by the kill: not acknowledged.
                        continue;
                    }
                    let access = answer.json()["access_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(jti) = jti_of(&access) {
                        acknowledged.lock().unwrap().push(jti);
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    send_signal(a.pid(), "KILL");
    thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        let _ = loader.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {} exchanges",
        acknowledged.len()
    );
    // Every exchange node a answered 200 has its event in the trail, read
    // on the surviving node.
    let recorded: Vec<String> = b
        .api()
        .every_event(&admin, "type=token.exchange")
        .iter()
        .filter_map(|e| {
            e["additionalProperties"]["accessTokenId"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|jti| !recorded.contains(jti))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged exchanges have no event: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
}

fn jti_of(jwt: &str) -> Option<String> {
    let (_, claims) = jwt_parts(jwt);
    claims["jti"].as_str().map(str::to_owned)
}

#[test]
fn a_password_spray_split_over_two_nodes_is_locked_as_on_one() {
    let (a, b, _shared) = two_nodes();
    // Three wrong passwords on node a, two on node b, from one address:
    // five in a row, the count that locks a name for an address.
    for (node, attempt) in [(&a, 0), (&a, 1), (&a, 2), (&b, 3), (&b, 4)] {
        crate::defences::admin_login_from(node, "127.0.0.2", "wrong password")
            .assert_status(401, &format!("failure {attempt}"));
        // The notice crosses to the other node in well under the time a
        // password check takes; a pause stands for the attacker's.
        thread::sleep(Duration::from_millis(50));
    }
    for node in [&a, &b] {
        crate::defences::admin_login_from(node, "127.0.0.2", ADMIN_PASSWORD).assert_error(
            429,
            "too_many_requests",
            "the name is locked for the spraying address on every node",
        );
    }
    crate::defences::admin_login_from(&b, "127.0.0.3", ADMIN_PASSWORD)
        .assert_status(200, "another address still logs in");
}

/// nginx in front of `nodes`, configured by docs/examples/nginx-two-nodes.conf
/// with the nodes' addresses put in; its own address, and the process.
fn nginx_in_front(nodes: [&TestServer; 2], dir: &std::path::Path) -> (String, std::process::Child) {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("nginx is installed (.ci/run installs Debian's)");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/nginx-two-nodes.conf"
    ))
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let site = example
        .replace("10.0.0.11:8080", nodes[0].addr())
        .replace("10.0.0.12:8080", nodes[1].addr())
        .replace("listen 8080;", &format!("listen {addr};"));
    assert_ne!(site, example, "the example names the nodes and the port");
    std::fs::write(dir.join("tokend.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         include {d}/tokend.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = std::process::Command::new(nginx)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    let up = eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(&addr).ok()
    });
    assert!(
        up.is_some(),
        "nginx did not come up: {:?}",
        std::fs::read_to_string(dir.join("error.log"))
    );
    Client::new(&addr)
        .get("/health", &[])
        .assert_status(200, "a node's health through nginx");
    (addr, child)
}

#[test]
fn behind_nginx_two_nodes_answer_as_one_and_either_may_die() {
    let url = postgres_database();
    let shared = TempDir::new();
    let key_file = shared.path.join("tokend.key");
    let node = || {
        TestServer::config()
            .postgres(&url)
            .key_file(&key_file)
            .env("TOKEND_ISSUER", ISSUER)
            .env("TOKEND_TRUSTED_PROXIES", "127.0.0.1")
            .start()
    };
    let (a, b) = (node(), node());
    let (lb, mut nginx) = nginx_in_front([&a, &b], &shared.path);
    let api = Client::new(&lb);
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("1h"));
    let (marks_a, marks_b) = (a.log_len(), b.log_len());
    for _ in 0..10 {
        api.exchange_provider(&token.secret);
    }
    for (node, mark) in [(&a, marks_a), (&b, marks_b)] {
        assert!(
            node.log_since(mark)
                .contains("POST /oauth/provider/token 200"),
            "node {} took its share: {}",
            node.addr(),
            node.log_since(mark)
        );
    }

    send_signal(a.pid(), "KILL");
    // Requests nginx can retry find node a gone and take it out.
    for _ in 0..4 {
        api.get("/health", &[]);
    }
    for attempt in 0..10 {
        api.try_exchange_provider(&token.secret)
            .assert_status(200, &format!("exchange {attempt} with node a dead"));
    }
    api.revoke_token(&admin, &token.id);
    api.try_exchange_provider(&token.secret)
        .assert_oauth_error("invalid_grant", "revoked through the balancer");
    let exchanges = api.every_event(&admin, "type=token.exchange");
    assert_eq!(exchanges.len(), 20, "one trail for both nodes");
    let _ = nginx.kill();
    let _ = nginx.wait();
}

#[test]
fn a_user_disabled_through_one_node_is_refused_there_at_once_and_on_the_other_within_a_second() {
    let (a, b, _shared) = two_nodes();
    let admin = a.api().admin_login().access_token;
    a.api().create_org(&admin, "Acme");
    a.cli().user_add("alice@Acme", &["Token User"]);
    let alice = b.api().user_login("alice@Acme").access_token;
    let token = b.api().create_token(&alice, "ci", Some("30m"));
    // Both nodes hold alice's account as read.
    for node in [&a, &b] {
        node.api().exchange_tenant("Acme", &token.secret);
    }
    let alice_id = a.api().user_id(&admin, "alice@Acme");
    a.api().disable_user(&admin, &alice_id);
    a.api()
        .try_exchange_tenant("Acme", &token.secret)
        .assert_oauth_error("invalid_grant", "on the node that disabled her, at once");
    let refused = eventually(Duration::from_secs(1), || {
        (b.api().try_exchange_tenant("Acme", &token.secret).status == 400).then_some(())
    });
    assert!(
        refused.is_some(),
        "node b still exchanges a disabled user's token"
    );
}

/// `psql -c sql` on the database `url` names (or another on its server).
fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_node_that_cannot_reach_its_database_is_not_ready_until_it_can() {
    let url = postgres_database();
    let node = TestServer::config().postgres(&url).start();
    node.api()
        .get("/health/ready", &[])
        .assert_status(200, "ready");
    let (server, name) = url.rsplit_once('/').unwrap();
    let admin = format!("{server}/postgres");
    psql(
        &admin,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
    );
    psql(
        &admin,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    );
    let down = eventually(Duration::from_secs(10), || {
        let answer = node.api().get("/health/ready", &[]);
        (answer.status == 503).then_some(answer)
    });
    let down = down.expect("/health/ready answers 503 while the database refuses connections");
    assert_eq!(down.header("Retry-After"), Some("1"));
    // A request needing the database is told to come back, not that the
    // service failed.
    let refused = node.api().try_provider_login(ADMIN, ADMIN_PASSWORD);
    refused.assert_status(503, "a login while the database refuses connections");
    assert!(
        refused.header("Retry-After").is_some(),
        "{}",
        refused.describe()
    );
    node.api()
        .get("/health/live", &[])
        .assert_status(200, "alive all the same");
    psql(
        &admin,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    );
    let up = eventually(Duration::from_secs(10), || {
        (node.api().get("/health/ready", &[]).status == 200).then_some(())
    });
    assert!(
        up.is_some(),
        "ready again once the database takes connections"
    );
    node.api().admin_login();
}

/// A TCP relay to the tests' PostgreSQL server that can stop passing
/// bytes while it keeps its connections open (a server frozen, or a link
/// cut without a word, as a node sees it: the kernel still acknowledges,
/// no answer comes), or go down (a server gone: its connections closed,
/// new ones refused).
struct Relay {
    port: u16,
    frozen: Arc<AtomicBool>,
    down: Arc<AtomicBool>,
    /// Both ends of every connection relayed, to close them on `go_down`.
    open: Arc<Mutex<Vec<std::net::TcpStream>>>,
    relayed: Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    fn to(target: String) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            frozen: Arc::default(),
            down: Arc::default(),
            open: Arc::default(),
            relayed: Arc::default(),
        };
        let (frozen, down, open, relayed) = (
            Arc::clone(&relay.frozen),
            Arc::clone(&relay.down),
            Arc::clone(&relay.open),
            Arc::clone(&relay.relayed),
        );
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if down.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                relayed.fetch_add(1, Ordering::SeqCst);
                let mut open = open.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let frozen = Arc::clone(&frozen);
                    thread::spawn(move || pump(from, to, &frozen));
                }
            }
        });
        relay
    }

    /// `url` with the relay in the server's place.
    fn url_for(&self, url: &str) -> String {
        let (scheme_and_user, rest) = url.rsplit_once('@').unwrap();
        let (_, path) = rest.split_once('/').unwrap();
        format!("{scheme_and_user}@127.0.0.1:{}/{path}", self.port)
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }

    /// Closes every connection and refuses new ones from now on.
    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// How many connections it has relayed.
    fn relayed(&self) -> usize {
        self.relayed.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to`, holding what it read while the relay is frozen.
fn pump(mut from: std::net::TcpStream, mut to: std::net::TcpStream, frozen: &AtomicBool) {
    use std::io::{Read, Write};
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(20));
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// The `host:port` of a PostgreSQL URL.
fn server_of(url: &str) -> String {
    let (_, rest) = url.rsplit_once('@').unwrap();
    rest.split_once('/').unwrap().0.to_string()
}

#[test]
fn a_database_that_stops_answering_costs_a_request_the_db_timeout_and_no_more() {
    let url = postgres_database();
    // A write's wait for the write lock is inside a statement: a timeout
    // shorter than it would cut every contended write.
    let dir = TempDir::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let start = |db: &str, db_timeout: &str, busy_timeout: &str| {
        run_tokend(
            &["--db", db, "--key-file", "k", "serve", "--listen", &listen],
            None,
            &[
                ("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD),
                ("TOKEND_DB_TIMEOUT", db_timeout),
                ("TOKEND_BUSY_TIMEOUT", busy_timeout),
            ],
            &dir.path,
        )
    };
    let too_short = start(&url, "2s", "5s");
    too_short.code_is(1, "a database timeout within the busy timeout");
    assert!(
        too_short
            .stderr
            .contains("TOKEND_DB_TIMEOUT (2s) must be longer than TOKEND_BUSY_TIMEOUT (5s)"),
        "{too_short:#?}"
    );
    let relay = Relay::to(server_of(&url));
    // Nor does a start wait for ever on a server that says nothing.
    relay.freeze(true);
    let unanswered = start(&relay.url_for(&url), "3s", "2s");
    unanswered.code_is(1, "a start on a server that never answers");
    assert!(
        unanswered.stderr.contains("no answer within 3s"),
        "{unanswered:#?}"
    );
    relay.freeze(false);
    let node = TestServer::config()
        .postgres(&relay.url_for(&url))
        .env("TOKEND_DB_TIMEOUT", "3s")
        .env("TOKEND_BUSY_TIMEOUT", "2s")
        .start();
    let api = node.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("1h"));
    api.exchange_provider(&token.secret);

    relay.freeze(true);
    let asked = Instant::now();
    let refused = api.try_exchange_provider(&token.secret);
    let waited = asked.elapsed();
    refused.assert_status(503, "an exchange while the database says nothing");
    assert_eq!(refused.json()["error"], "temporarily_unavailable");
    assert!(
        refused.header("Retry-After").is_some(),
        "{}",
        refused.describe()
    );
    // The answer timeout and the write's lock wait, not the client's 15 s.
    assert!(
        waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    assert!(
        node.wait_for_log(
            "PostgreSQL did not answer within 3s",
            Duration::from_secs(5)
        ),
        "the log says why: {}",
        node.log()
    );
    let down = api.get("/health/ready", &[]);
    down.assert_status(503, "not ready while the database says nothing");
    api.get("/.well-known/openid-configuration", &[])
        .assert_status(200, "what needs no database is served all the same");

    relay.freeze(false);
    let back = eventually(Duration::from_secs(20), || {
        let answer = api.try_exchange_provider(&token.secret);
        (answer.status == 200).then_some(answer)
    });
    assert!(back.is_some(), "exchanges again once the database answers");
    api.get("/health/ready", &[])
        .assert_status(200, "ready again");
}

/// A URL may list several servers, as libpq's does: with
/// `target_session_attrs=read-write` a node connects to the first that
/// takes writes, and when that one goes (a failover), to the next.
#[test]
fn a_node_follows_a_failover_to_the_next_server_its_url_lists() {
    let url = postgres_database();
    let (first, second) = (Relay::to(server_of(&url)), Relay::to(server_of(&url)));
    let (scheme_and_user, rest) = url.rsplit_once('@').unwrap();
    let (_, name) = rest.split_once('/').unwrap();
    let listed = format!(
        "{scheme_and_user}@127.0.0.1:{},127.0.0.1:{}/{name}?target_session_attrs=read-write",
        first.port, second.port
    );
    let node = TestServer::config().postgres(&listed).start();
    let api = node.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("1h"));
    api.exchange_provider(&token.secret);
    assert_eq!(
        second.relayed(),
        0,
        "the first server listed is used while it serves"
    );

    first.go_down();
    let served = eventually(Duration::from_secs(20), || {
        let answer = api.try_exchange_provider(&token.secret);
        // Until a worker connects again its request is told to retry.
        assert!([200, 503].contains(&answer.status), "{}", answer.describe());
        (answer.status == 200).then_some(())
    });
    assert!(served.is_some(), "exchanges through the second server");
    assert!(
        second.relayed() > 0,
        "the node connected to the second server"
    );
    let tokens = api.get_bearer("/api/tokens", &admin);
    tokens.assert_status(200, "the session made through the first server holds");
    api.get("/health/ready", &[])
        .assert_status(200, "ready on the second server");
}

#[test]
fn migrate_makes_the_schema_and_the_admin_commands_need_an_authority() {
    let url = postgres_database();
    let dir = TempDir::new();
    let key = dir.path.join("tokend.key");
    let key = key.to_str().unwrap();
    let org_list = ["--db", &url, "--key-file", key, "org", "list"];
    let refused = run_tokend(&org_list, None, &[], &dir.path);
    refused.code_is(1, "an admin command on an empty database");
    assert!(
        refused.stderr.contains("no tokend database"),
        "{refused:#?}"
    );

    let migrated = run_tokend(&["--db", &url, "migrate"], None, &[], &dir.path).ok("migrate");
    assert!(
        migrated
            .stdout
            .contains("schema migrated from version 0 to "),
        "{migrated:#?}"
    );
    let again = run_tokend(&["--db", &url, "migrate"], None, &[], &dir.path).ok("migrate");
    assert!(again.stdout.contains("up to date"), "{again:#?}");
    let uninitialised = run_tokend(&org_list, None, &[], &dir.path);
    uninitialised.code_is(1, "a schema without an authority");
    assert!(
        uninitialised.stderr.contains("initialises it"),
        "{uninitialised:#?}"
    );

    let without_key = run_tokend(&["--db", &url, "org", "list"], None, &[], &dir.path);
    without_key.code_is(1, "no key file named with PostgreSQL");
    assert!(
        without_key.stderr.contains("TOKEND_KEY_FILE"),
        "{without_key:#?}"
    );
    let backup = run_tokend(
        &["--db", &url, "--key-file", key, "backup", "x.db"],
        None,
        &[],
        &dir.path,
    );
    backup.code_is(1, "tokend backup of a PostgreSQL database");
    assert!(backup.stderr.contains("pg_dump"), "{backup:#?}");
}

#[test]
fn a_databases_password_is_never_shown() {
    let url = postgres_database();
    // The test server trusts loopback: the password is carried, not checked.
    let with_password = url.replacen("://tokend@", "://tokend:Secr3t-Db-Pw@", 1);
    let node = TestServer::config().postgres(&with_password).start();
    node.api().admin_login();
    assert!(node.log().contains("tokend:***@"), "{}", node.log());
    let dir = TempDir::new();
    let unreachable = "postgres://tokend:Secr3t-Db-Pw@127.0.0.1:1/tokend";
    let out = run_tokend(
        &["--db", unreachable, "--key-file", "k", "org", "list"],
        None,
        &[],
        &dir.path,
    );
    out.code_is(1, "an unreachable database");
    assert!(
        out.stderr
            .contains("postgres://tokend:***@127.0.0.1:1/tokend"),
        "{out:#?}"
    );
    for text in [node.log(), out.stdout, out.stderr] {
        assert!(
            !text.contains("Secr3t-Db-Pw"),
            "the password was shown: {text}"
        );
    }
}

/// The CA the tests' PostgreSQL server's certificate is from.
fn postgres_ca() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/server");
    let out = std::process::Command::new(script)
        .arg("ca")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn with_sslmode_require_a_node_speaks_tls_to_a_server_it_trusts_and_to_no_other() {
    let url = postgres_database();
    let (server, name) = url.rsplit_once('/').unwrap();
    // By name the certificate names, 127.0.0.1, and by its CA only.
    let tls_url = format!("{url}?sslmode=require");
    let dir = TempDir::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let distrusted = run_tokend(
        &[
            "--db",
            &tls_url,
            "--key-file",
            "k",
            "serve",
            "--listen",
            &listen,
        ],
        None,
        &[("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        &dir.path,
    );
    distrusted.code_is(1, "a server whose certificate is not trusted");
    assert!(distrusted.stderr.contains("certificate"), "{distrusted:#?}");
    let node = TestServer::config()
        .postgres(&tls_url)
        .env("TOKEND_DB_CA_FILE", &postgres_ca())
        .start();
    node.api().admin_login();
    let out = std::process::Command::new("psql")
        .args([
            &format!("{server}/postgres"),
            "-tA",
            "-c",
            &format!(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s \
                 JOIN pg_stat_activity a ON a.pid = s.pid \
                 WHERE a.datname = '{name}' AND a.application_name = 'tokend'"
            ),
        ])
        .output()
        .unwrap();
    let counts = String::from_utf8(out.stdout).unwrap();
    let (encrypted, all) = counts.trim().split_once('|').unwrap();
    assert!(all.parse::<u32>().unwrap() > 3, "{counts}");
    assert_eq!(encrypted, all, "every connection of the node is TLS");
}

/// The provider's refresh grant on `node`, with `DPoP: proof`.
fn dpop_exchange(node: &TestServer, secret: &str, proof: &str) -> Response {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    );
    node.api().post(
        PROVIDER_TOKEN,
        &[("Content-Type", FORM), ("DPoP", proof)],
        body.as_bytes(),
    )
}

/// `GET /api/tokens` on `node` with a DPoP-bound `token` and `proof`.
fn dpop_call(node: &TestServer, token: &str, proof: &str) -> Response {
    let authorization = format!("DPoP {token}");
    node.api().get(
        "/api/tokens",
        &[("Authorization", authorization.as_str()), ("DPoP", proof)],
    )
}

/// A proof by `key` for `htm` at `path` of the load balancer's address,
/// with `extra` members of the script's spec.
fn proof_for(key: &Value, htm: &str, path: &str, extra: Value) -> String {
    let mut spec = json!({ "key": key, "htm": htm, "htu": format!("{ISSUER}{path}") });
    if let Value::Object(extra) = extra {
        for (name, value) in extra {
            spec[name] = value;
        }
    }
    make_proof(spec).proof
}

fn error_of(r: &Response) -> String {
    if r.status == 401 {
        r.header("WWW-Authenticate").unwrap_or_default().to_owned()
    } else {
        r.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

#[test]
fn a_dpop_proof_is_used_once_across_nodes_and_either_node_takes_the_others_nonce() {
    let (a, b, _shared) = two_nodes_with(&[("TOKEND_DPOP_NONCE", "required")]);
    let admin = a.api().admin_login().access_token;
    let secret = a.api().create_token(&admin, "ci", Some("30m")).secret;
    let key = make_proof(json!({ "htm": "POST", "htu": ISSUER })).key;

    // Node a asks for a nonce, and node b takes it.
    let asked = dpop_exchange(
        &a,
        &secret,
        &proof_for(&key, "POST", PROVIDER_TOKEN, json!({})),
    );
    asked.assert_status(400, "a proof without a nonce");
    assert_eq!(error_of(&asked), "use_dpop_nonce");
    let nonce = asked
        .header("DPoP-Nonce")
        .expect("node a's nonce")
        .to_owned();
    let proof = proof_for(&key, "POST", PROVIDER_TOKEN, json!({ "nonce": nonce }));
    let bound = dpop_exchange(&b, &secret, &proof);
    bound.assert_status(200, "node a's nonce on node b");
    assert_eq!(bound.json()["token_type"], "DPoP");
    let token = str_field(&bound.json(), "access_token").to_owned();
    let nonce = bound
        .header("DPoP-Nonce")
        .expect("node b's nonce")
        .to_owned();

    // The same proof again, on node a: replayed.
    let again = dpop_exchange(&a, &secret, &proof);
    again.assert_status(400, "node b's exchange proof on node a");
    assert_eq!(
        error_of(&again),
        "invalid_dpop_proof",
        "{}",
        again.describe()
    );

    // A call's proof, used on node a and replayed on node b.
    let call = proof_for(
        &key,
        "GET",
        "/api/tokens",
        json!({ "token": token, "nonce": nonce }),
    );
    dpop_call(&a, &token, &call).assert_status(200, "node b's nonce and token on node a");
    let replayed = dpop_call(&b, &token, &call);
    replayed.assert_status(401, "node a's call proof on node b");
    assert!(
        error_of(&replayed).contains(r#"error="invalid_dpop_proof""#),
        "{}",
        replayed.describe()
    );
}

#[test]
fn a_login_whose_password_went_to_one_node_completes_its_second_factor_on_the_other() {
    let (a, b, _shared) = two_nodes();
    let admin = a.api().admin_login().access_token;
    let begun = a.api().post(
        "/api/users/me/2fa",
        &[("Authorization", bearer(&admin).as_str())],
        b"",
    );
    begun.assert_status(201, "begin enrolment");
    let uri = str_field(&begun.json(), "otpauth_uri").to_owned();
    // Codes of the step now and the next: the server takes a step of
    // skew, and each code only after the last one it took.
    let now = now_secs();
    let confirmed = a.api().post(
        "/api/users/me/2fa/confirm",
        &[
            ("Authorization", bearer(&admin).as_str()),
            ("Content-Type", "application/json"),
        ],
        json!({ "code": code_at(&uri, now) }).to_string().as_bytes(),
    );
    confirmed.assert_status(200, "confirm enrolment");
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.json()["recovery_codes"].clone()).expect("codes");

    // The console: the password on node a, the code on node b.
    let form = format!(
        "org=System&user=administrator&password={}&next=",
        form_encode(ADMIN_PASSWORD)
    );
    let password = a
        .api()
        .post("/console/login", &[("Content-Type", FORM)], form.as_bytes());
    password.assert_status(200, "the password, on node a");
    let page = password.text();
    let handle = page
        .split(r#"name="login" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the pending login's handle: {page}"))
        .to_owned();
    let code_form = |code: &str| {
        format!(
            "login={}&code={}&next=",
            form_encode(&handle),
            form_encode(code)
        )
    };
    let second = b.api().post(
        "/console/login/code",
        &[("Content-Type", FORM)],
        code_form(&code_at(&uri, now + 30)).as_bytes(),
    );
    second.assert_status(303, "the code, on node b");
    assert!(
        second
            .header("Set-Cookie")
            .is_some_and(|c| c.contains("HttpOnly")),
        "{}",
        second.describe()
    );
    // Used once: the same login again, on node a, with a code it would
    // take, is over.
    let again = a.api().post(
        "/console/login/code",
        &[("Content-Type", FORM)],
        code_form(&recovery[0]).as_bytes(),
    );
    again.assert_status(401, "the login completed on node b, again on node a");
    assert!(again.text().contains("expired"), "{}", again.describe());

    // The API's login carries its code: asked for by node a, given to node b.
    let authorization = basic(ADMIN, ADMIN_PASSWORD);
    let asked = a.api().post(
        PROVIDER_SESSIONS,
        &[("Authorization", authorization.as_str())],
        b"",
    );
    asked.assert_status(401, "no code, on node a");
    assert_eq!(asked.json()["error"], "second_factor_required");
    b.api()
        .post(
            PROVIDER_SESSIONS,
            &[
                ("Authorization", authorization.as_str()),
                ("X-Tokend-OTP", recovery[0].as_str()),
            ],
            b"",
        )
        .assert_status(200, "a recovery code, on node b");
}

#[test]
fn leak_reports_spread_over_two_nodes_meet_one_rate_limit() {
    let (a, b, _shared) = two_nodes();
    let report = |node: &TestServer| {
        let body = r#"{"candidates":[]}"#;
        let request = build_request(
            node.addr(),
            "POST",
            "/api/tokens/leaked",
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        );
        send_from(node.addr(), "127.0.0.9", &request)
    };
    // The burst is ten reports an address: five on each node spend it.
    for n in 0..10 {
        let node = if n % 2 == 0 { &a } else { &b };
        report(node).assert_status(200, &format!("report {n}, within the burst"));
        thread::sleep(Duration::from_millis(50));
    }
    for node in [&a, &b] {
        report(node).assert_error(429, "too_many_requests", "past the burst, on either node");
    }
}
