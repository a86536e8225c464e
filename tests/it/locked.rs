//! Another process holding the database's write lock (a backup, an admin
//! command, an `sqlite3` shell left open) holds up writes only: they answer
//! 503 once their busy timeout has passed, counted from their arrival,
//! while reads, JWKS, discovery, introspection and readiness answer at once.

use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The fastest of three tries of `call`, and the slowest.
fn timed(call: impl Fn() -> Response) -> (Duration, Duration, Response) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let started = Instant::now();
        let response = call();
        times.push(started.elapsed());
        last = Some(response);
    }
    times.sort();
    (times[0], times[2], last.expect("a response"))
}

#[test]
fn a_held_write_lock_stalls_writes_and_nothing_else() {
    let srv = TestServer::config().arg("--busy-timeout").arg("2s").start();
    let cli = srv.cli();
    cli.service_add("vmc", &["vmc:sddc.read"]);
    let out = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client");
    let mut lines = out.stdout.lines();
    let client_id = lines.next().expect("client id").trim().to_owned();
    let client_secret = lines.next().expect("client secret").trim().to_owned();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("30m"));
    let access = api.exchange_provider(&token.secret).access_token;

    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let locked_at = Instant::now();
    thread::scope(|scope| {
        // Writes in flight, more than there are threads for them.
        let writes: Vec<_> = (0..8)
            .map(|n| {
                let (api, admin, secret, id) = (api, &admin, &token.secret, &token.id);
                scope.spawn(move || {
                    let started = Instant::now();
                    let response = match n % 4 {
                        0 => api.try_create_token(
                            admin,
                            &format!(r#"{{"name": "t{n}", "ttl": "30m"}}"#),
                        ),
                        1 => api.try_exchange_provider(secret),
                        2 => api.try_revoke_token(admin, id),
                        _ => api.try_revoke_presented(secret),
                    };
                    (n, started.elapsed(), response)
                })
            })
            .collect();
        // Let them queue up and the writer wait for the lock.
        thread::sleep(Duration::from_millis(300));

        let bearer = bearer(&access);
        for (what, call) in [
            (
                "JWKS",
                Box::new(|| api.get("/.well-known/jwks.json", &[]))
                    as Box<dyn Fn() -> Response + Sync>,
            ),
            (
                "discovery",
                Box::new(|| api.get("/.well-known/openid-configuration", &[])),
            ),
            (
                "a protected GET",
                Box::new(|| api.get("/api/tokens", &[("Authorization", &bearer)])),
            ),
            (
                "introspection",
                Box::new(|| api.try_introspect(&client_id, &client_secret, &access)),
            ),
        ] {
            let (fastest, slowest, response) = timed(call);
            response.assert_status(200, what);
            assert!(
                fastest < Duration::from_millis(100) && slowest < Duration::from_millis(500),
                "{what} took {fastest:?} to {slowest:?} behind the lock"
            );
        }
        // The admin CLI reads beside it too: opening takes no write lock.
        let started = Instant::now();
        let listed = srv.cli().run(&["token", "list"], None);
        let took = started.elapsed();
        listed.code_is(0, "token list behind the lock");
        assert!(listed.stdout.contains("ci"), "{listed:#?}");
        assert!(
            took < Duration::from_millis(1500),
            "token list took {took:?}"
        );

        let (fastest, _, health) = timed(|| api.get("/health", &[]));
        health.assert_status(503, "not ready while writes cannot commit");
        assert!(
            health.text().contains("write lock"),
            "{}",
            health.describe()
        );
        assert!(
            fastest < Duration::from_millis(100),
            "/health took {fastest:?}"
        );

        for write in writes {
            let (n, took, response) = write.join().expect("writer thread");
            response.assert_status(503, &format!("write {n} behind the lock"));
            assert_eq!(response.header("Retry-After"), Some("1"));
            assert!(
                took < BUSY_TIMEOUT + Duration::from_millis(800),
                "write {n} answered after {took:?}, the busy timeout being {BUSY_TIMEOUT:?}"
            );
        }
    });
    assert!(locked_at.elapsed() >= BUSY_TIMEOUT);
    holder.execute_batch("ROLLBACK").expect("release the lock");

    // Nothing of what was answered 503 happened, and writes work again.
    let listed = api.list_tokens(&admin);
    assert_eq!(listed.len(), 1, "no token made behind the lock: {listed:?}");
    api.get("/health", &[]).assert_status(200, "ready again");
    api.create_token(&admin, "after", Some("30m"));
    api.exchange_provider(&token.secret);
}
