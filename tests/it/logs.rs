//! The log as an operator's pipeline reads it: with
//! `TOKEND_LOG_FORMAT=json` every line is one JSON object, each request's
//! line holds the request id its answer echoed in `X-Request-Id` (the
//! client's own when valid), and no secret, password or token sent during
//! the run is in any line; the text format keeps its lines; and a flood of
//! one error is logged once with a count, not once per request.

use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Every line of `log` as JSON, each asserted to be one object.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line:?}"));
            assert!(value.is_object(), "{line}");
            for field in ["time", "level", "message"] {
                assert!(value[field].is_string(), "{field} in {line}");
            }
            value
        })
        .collect()
}

fn requests<'a>(lines: &'a [Value], route: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["message"] == "request" && l["route"] == route)
        .collect()
}

#[test]
fn json_logs_are_one_object_a_line_with_the_echoed_request_id_and_no_secret() {
    let mut srv = TestServer::config()
        .env("TOKEND_LOG_FORMAT", "json")
        .start();

    // A valid id is taken; others are replaced by one of the server's.
    let chosen = srv.api().get(
        "/.well-known/jwks.json",
        &[("X-Request-Id", "deploy-42:check/1")],
    );
    assert_eq!(chosen.header("X-Request-Id"), Some("deploy-42:check/1"));
    let made = srv.api().get("/.well-known/jwks.json", &[]);
    let made_id = made.header("X-Request-Id").expect("an id").to_owned();
    assert_eq!(made_id.len(), 32, "{made_id}");
    let long = "x".repeat(65);
    for refused in ["two words", long.as_str(), ""] {
        let answer = srv
            .api()
            .get("/.well-known/jwks.json", &[("X-Request-Id", refused)]);
        let id = answer.header("X-Request-Id").expect("an id");
        assert_eq!(id.len(), 32, "{refused:?} replaced: {id}");
        assert_ne!(id, made_id);
    }

    // A run that sends every kind of secret, in bodies, headers, paths and
    // queries.
    let admin = srv.api().admin_login().access_token;
    let token = srv.api().create_token(&admin, "ci", Some("30m"));
    let access = srv.api().exchange_provider(&token.secret).access_token;
    let wrong_password = "Wr0ng-But-Secret-Passw0rd";
    srv.api()
        .try_provider_login(ADMIN, wrong_password)
        .assert_status(401, "a wrong password");
    srv.api()
        .delete(
            &format!("/api/tokens/{}", token.secret),
            &[("Authorization", &bearer(&admin))],
        )
        .assert_status(404, "a secret where the id belongs");
    srv.api()
        .get(&format!("/api/tokens?name={}", token.secret), &[])
        .assert_status(401, "a secret in a query");
    srv.api()
        .get(&format!("/no/such/{access}"), &[])
        .assert_status(404, "an access token in a path");
    let failed = srv
        .api()
        .try_exchange_provider(&format!("{}x", token.secret));
    failed.assert_status(400, "a mistyped secret");
    let failed_id = failed.header("X-Request-Id").expect("an id").to_owned();

    srv.stop();
    let log = srv.log();
    let lines = json_lines(&log);

    // The request lines: the ids the answers carried, and what the line says.
    let keys = requests(&lines, "/.well-known/jwks.json");
    assert_eq!(keys.len(), 5, "{keys:#?}");
    assert_eq!(keys[0]["request_id"], "deploy-42:check/1");
    assert_eq!(keys[0]["method"], "GET");
    assert_eq!(keys[0]["status"], 200);
    assert_eq!(keys[0]["client"], "127.0.0.1");
    assert_eq!(keys[0]["level"], "info");
    assert!(keys[0]["duration_us"].is_u64(), "{}", keys[0]);
    assert!(humantime::parse_rfc3339(keys[0]["time"].as_str().unwrap()).is_ok());
    assert_eq!(keys[1]["request_id"], made_id.as_str());
    let exchanges = requests(&lines, PROVIDER_TOKEN);
    assert_eq!(exchanges.len(), 2, "{exchanges:#?}");
    assert_eq!(exchanges[0]["status"], 200);
    assert_eq!(exchanges[1]["status"], 400);
    assert_eq!(exchanges[1]["request_id"], failed_id.as_str());
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["request_id"].as_str())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "one id per request: {ids:?}");
    assert_eq!(
        requests(&lines, "-").len(),
        1,
        "the unknown path under its pattern"
    );

    // The other lines are JSON too.
    let listening = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("tokend listening on"))
        })
        .expect("the listening line");
    assert_eq!(listening["level"], "info");
    assert!(lines.iter().any(|l| l["message"] == "tokend stopped"));

    // No secret anywhere.
    let signature = admin.rsplit('.').next().expect("a signature");
    let access_signature = access.rsplit('.').next().expect("a signature");
    for (what, secret) in [
        ("the API token", token.secret.as_str()),
        ("the admin password", ADMIN_PASSWORD),
        ("the wrong password", wrong_password),
        ("the session's access token", signature),
        ("the exchanged access token", access_signature),
    ] {
        assert!(!log.contains(secret), "{what} is in the log:\n{log}");
    }
    assert_no_secret(log.as_bytes(), &token.secret, "JSON log");
    assert!(!log.contains("/no/such"), "a client's path is in the log");
    assert!(!log.contains("name="), "a query is in the log");
}

#[test]
fn text_logs_keep_their_line_and_answers_carry_a_request_id() {
    let mut srv = TestServer::start();
    let answer = srv
        .api()
        .get("/.well-known/jwks.json", &[("X-Request-Id", "text-mode-1")]);
    assert_eq!(answer.header("X-Request-Id"), Some("text-mode-1"));
    let made = srv.api().get("/nowhere", &[]);
    assert_eq!(made.header("X-Request-Id").map(str::len), Some(32));
    srv.stop();
    let log = srv.log();
    let line = log
        .lines()
        .find(|l| l.starts_with("GET /.well-known/jwks.json "))
        .expect("the request line");
    let (head, took) = line.rsplit_once(' ').expect("a duration");
    assert_eq!(head, "GET /.well-known/jwks.json 200");
    assert!(
        took.strip_suffix("us")
            .is_some_and(|n| n.parse::<u64>().is_ok()),
        "{line}"
    );
    assert!(log.lines().any(|l| l.starts_with("GET - 404 ")), "{log}");
    assert!(!log.contains("text-mode-1"), "text lines are as they were");
    assert!(log.lines().all(|l| !l.starts_with('{')), "{log}");
}

#[test]
fn a_flood_of_one_error_is_logged_once_with_a_count() {
    let mut srv = TestServer::config()
        .env("TOKEND_LOG_FORMAT", "json")
        .arg("--busy-timeout")
        .arg("100ms")
        .start();
    let admin = srv.api().admin_login().access_token;
    let secret = srv.api().create_token(&admin, "flood", Some("30m")).secret;

    // Another process holds the write lock: every exchange answers 503.
    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let refused: usize = thread::scope(|scope| {
        let flood: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    (0..8)
                        .filter(|_| srv.api().try_exchange_provider(&secret).status == 503)
                        .count()
                })
            })
            .collect();
        flood.into_iter().map(|t| t.join().expect("flood")).sum()
    });
    assert_eq!(refused, 32, "every exchange met the lock");
    // The count is reported once its 10 s interval is over.
    let reported = srv.wait_for_log("\"repeated\":", Duration::from_secs(15));
    holder.execute_batch("ROLLBACK").expect("release the lock");
    assert!(reported, "{}", srv.log());
    srv.api()
        .try_exchange_provider(&secret)
        .assert_status(200, "served again");
    srv.stop();

    let lines = json_lines(&srv.log());
    let unavailable: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("unavailable:"))
        })
        .collect();
    assert_eq!(unavailable.len(), 2, "{unavailable:#?}");
    assert_eq!(unavailable[0]["level"], "warn");
    assert!(unavailable[0].get("repeated").is_none());
    assert_eq!(unavailable[1]["message"], unavailable[0]["message"]);
    // The other 31 refusals, and any write of the service's own (its
    // housekeeping) that met the same lock meanwhile.
    let repeated = unavailable[1]["repeated"].as_u64().unwrap_or_default();
    assert!(
        (31..=34).contains(&repeated),
        "the other 31 refusals counted: {unavailable:#?}"
    );
    assert_eq!(unavailable[1]["interval_s"], 10);
    // The request lines are the access log: one per request still.
    let refusals = requests(&lines, PROVIDER_TOKEN)
        .into_iter()
        .filter(|l| l["status"] == 503)
        .count();
    assert_eq!(refusals, 32);
}
