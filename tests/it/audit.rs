//! The audit trail over HTTP: every exchange, login and token change is an
//! event, committed with the action; token-derived actions carry the API
//! token's id (`currentContext.refreshTokenId`), session actions the
//! session's; refused exchanges and logins are events too; an org reads its
//! own events only; under concurrent load every acknowledged exchange has
//! its event. `tokend audit` prints the same events and follows new ones.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

#[test]
fn exchanges_and_session_actions_name_what_they_came_from() {
    let srv = TestServer::start();
    let api = srv.api();
    let login = api.admin_login();
    let token = api.create_token(&login.access_token, "audited", Some("30m"));
    api.exchange_provider(&token.secret);
    api.revoke_token(&login.access_token, &token.id);

    let all = api.audit(&login.access_token, "").events;
    assert_eq!(
        kinds(&all),
        [
            "token.revoke",
            "token.exchange",
            "token.create",
            "session.login",
            "system.initialize"
        ],
        "newest first"
    );
    let exchange = &all[1];
    assert_eq!(
        exchange["additionalProperties"]["currentContext.refreshTokenId"],
        token.id
    );
    assert_eq!(exchange["target"]["id"], token.id);
    assert_eq!(exchange["client_ip"], "127.0.0.1");
    assert_eq!(exchange["actor"]["name"], "administrator@System");
    for session_action in [&all[0], &all[2], &all[3]] {
        assert_eq!(
            session_action["additionalProperties"]["currentContext.sessionId"], login.id,
            "{session_action}"
        );
    }
    // No secret in the trail.
    let text = api.try_audit(&login.access_token, "").text();
    assert!(!text.contains(&token.secret));

    // Filters: by type, by token, a page at a time.
    assert_eq!(
        kinds(&api.audit(&login.access_token, "type=token.create").events),
        ["token.create"]
    );
    assert_eq!(
        api.audit(&login.access_token, &format!("token={}", token.id))
            .events
            .len(),
        3
    );
    let first = api.audit(&login.access_token, "limit=2");
    let cursor = first.next_cursor.expect("a next cursor");
    let second = api
        .audit(&login.access_token, &format!("limit=2&cursor={cursor}"))
        .events;
    assert_eq!(kinds(&second), ["token.create", "session.login"]);
    for bad in [
        "limit=0",
        "limit=501",
        "cursor=x",
        "since=yesterday",
        "colour=red",
    ] {
        api.try_audit(&login.access_token, bad)
            .assert_error(400, "invalid_request", bad);
    }
}

#[test]
fn refused_exchanges_and_logins_are_events_too() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "doomed", Some("30m"));
    api.revoke_token(&admin, &token.id);
    api.try_exchange_provider(&token.secret)
        .assert_oauth_error("invalid_grant", "revoked");
    for _ in 0..5 {
        api.try_provider_login(ADMIN, "wrong password")
            .assert_status(401, "wrong password");
    }
    api.try_provider_login(ADMIN, "wrong password")
        .assert_status(429, "locked");
    let found = eventually(Duration::from_secs(5), || {
        let all = api.audit(&admin, "limit=50").events;
        let seen = kinds(&all);
        (seen.contains(&"session.locked".to_string())
            && seen.iter().filter(|k| *k == "session.login_failed").count() == 5
            && seen.contains(&"token.exchange_failed".to_string()))
        .then_some(all)
    })
    .expect("the refusals were recorded");
    let failed = found
        .iter()
        .find(|e| e["type"] == "token.exchange_failed")
        .expect("a failed exchange");
    assert_eq!(failed["target"]["id"], token.id);
    assert_eq!(failed["outcome"], "failure");
    assert_eq!(failed["additionalProperties"]["reason"], INVALID_OR_REVOKED);
    let text = api.try_audit(&admin, "limit=50").text();
    assert!(!text.contains("wrong password"), "no password in the trail");
    assert!(!text.contains(&token.secret), "no secret in the trail");
}

#[test]
fn refusals_met_by_a_busy_database_are_recorded_once_it_is_free() {
    let srv = TestServer::config()
        .arg("--busy-timeout")
        .arg("200ms")
        .start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "doomed", Some("30m"));
    api.revoke_token(&admin, &token.id);

    // Another process holds the write lock past several busy timeouts
    // while the refusals are answered.
    let holder = rusqlite::Connection::open(srv.db()).expect("open database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    for _ in 0..3 {
        api.try_exchange_provider(&token.secret)
            .assert_oauth_error("invalid_grant", "revoked, while busy");
    }
    thread::sleep(Duration::from_millis(1500));
    holder.execute_batch("ROLLBACK").expect("release the lock");

    let recorded = eventually(Duration::from_secs(10), || {
        let failed = api.audit(&admin, "type=token.exchange_failed").events;
        (failed.len() == 3).then_some(failed)
    });
    assert!(
        recorded.is_some(),
        "every refusal answered while busy is recorded"
    );
}

#[test]
fn failed_logins_belong_to_the_org_named_and_actor_and_time_filters_narrow_the_trail() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let alice = api.user_login("alice@acme");
    api.try_login("alice@acme", "wrong password")
        .assert_status(401, "wrong password");
    api.try_login("nobody@other", "wrong password")
        .assert_status(401, "unknown user");
    let carol = api.user_login("carol@acme").access_token;

    // acme's admin sees the failed login of its user, not the other org's.
    let failed = eventually(Duration::from_secs(5), || {
        let failed = api.audit(&carol, "type=session.login_failed").events;
        (!failed.is_empty()).then_some(failed)
    })
    .expect("the failed login is in acme's trail");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["actor"]["name"], "alice@acme");
    assert_eq!(failed[0]["actor"]["id"], alice.user.id.as_str());

    // actor: exactly alice's events, her login and her failed login.
    let hers = api
        .audit(&carol, &format!("actor={}", alice.user.id))
        .events;
    assert_eq!(kinds(&hers), ["session.login_failed", "session.login"]);

    // since is inclusive, until exclusive: alice's failed login splits her
    // events in two.
    let at = str_field(&failed[0], "time").to_owned();
    let from = api
        .audit(&carol, &format!("actor={}&since={at}", alice.user.id))
        .events;
    assert_eq!(kinds(&from), ["session.login_failed"], "{from:?}");
    let before = api
        .audit(&carol, &format!("actor={}&until={at}", alice.user.id))
        .events;
    assert_eq!(kinds(&before), ["session.login"], "{before:?}");
    // The CLI takes the same filters.
    let cli_from = cli
        .run(
            &[
                "audit",
                "--format",
                "json-lines",
                "--actor",
                &alice.user.id,
                "--since",
                &at,
            ],
            None,
        )
        .ok("audit --actor --since");
    assert_eq!(
        kinds(&json_lines(&cli_from.stdout)),
        ["session.login_failed"]
    );
    let cli_before = cli
        .run(
            &[
                "audit",
                "--format",
                "json-lines",
                "--actor",
                &alice.user.id,
                "--until",
                &at,
            ],
            None,
        )
        .ok("audit --actor --until");
    assert_eq!(kinds(&json_lines(&cli_before.stdout)), ["session.login"]);
    cli.run(&["audit", "--since", "yesterday"], None)
        .code_is(2, "audit --since with no time");

    // Token-derived access reads the trail when its grant holds Audit:
    // View (an org admin's token), and not otherwise (a Token User's).
    let admins = api.create_token(&carol, "siem", Some("30m"));
    let derived = api.exchange_tenant("acme", &admins.secret).access_token;
    assert!(!api.audit(&derived, "").events.is_empty());
    let users = api.create_token(&alice.access_token, "mine", Some("30m"));
    let derived = api.exchange_tenant("acme", &users.secret).access_token;
    api.try_audit(&derived, "").assert_error(
        403,
        "forbidden",
        "token-derived access without Audit: View",
    );
}

#[test]
fn an_org_reads_its_own_events_only() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("dora@other", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let carol = api.user_login("carol@acme").access_token;
    let dora = api.user_login("dora@other").access_token;
    api.create_token(&dora, "others", Some("30m"));
    let seen = api.audit(&carol, "").events;
    assert!(
        seen.iter().all(|e| e["actor"]["name"] != "dora@other"),
        "another org's events leaked: {seen:?}"
    );
    api.try_audit(&carol, "org=other")
        .assert_error(404, "not_found", "asking for another org");
    let alice = api.user_login("alice@acme").access_token;
    api.try_audit(&alice, "")
        .assert_error(403, "forbidden", "a Token User reads the audit trail");
    // The provider sees both.
    let admin = api.admin_login().access_token;
    let everything = api.audit(&admin, "type=token.create").events;
    assert_eq!(everything.len(), 1);
}

#[test]
fn every_acknowledged_exchange_under_load_has_its_event() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "busy", Some("30m"));
    let ok = std::sync::atomic::AtomicUsize::new(0);
    thread::scope(|scope| {
        for _ in 0..32 {
            scope.spawn(|| {
                for _ in 0..10 {
                    if api.try_exchange_provider(&token.secret).status == 200 {
                        ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let ok = ok.into_inner();
    assert!(ok > 0);
    let counted = api
        .every_event(&admin, &format!("type=token.exchange&token={}", token.id))
        .len();
    assert_eq!(counted, ok, "exchange events against 200 answers");
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON event"))
        .collect()
}

#[test]
fn the_cli_prints_the_trail_and_follows_it() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let token = cli.token_create("alice@acme", "ci", Some("30m"));
    let api = srv.api();
    api.user_login("alice@acme");

    let out = cli
        .run(&["audit", "--format", "json-lines", "-n", "10"], None)
        .ok("audit --format json-lines");
    assert!(
        !out.stdout.contains(&token.secret),
        "no secret in the trail"
    );
    let all = json_lines(&out.stdout);
    assert_eq!(
        kinds(&all),
        [
            "system.initialize",
            "org.create",
            "user.create",
            "token.create",
            "session.login"
        ],
        "oldest first"
    );
    assert_eq!(all[3]["target"]["id"], token.id.as_str());
    let operator = str_field(&all[3]["additionalProperties"], "operator");
    assert!(
        operator.starts_with("cli:"),
        "the CLI names its user: {operator}"
    );

    let newest = cli
        .run(&["audit", "--format", "json-lines", "-n", "1"], None)
        .ok("audit -n 1");
    assert_eq!(kinds(&json_lines(&newest.stdout)), ["session.login"]);
    let typed = cli
        .run(
            &["audit", "--format", "json-lines", "--type", "token.create"],
            None,
        )
        .ok("audit --type");
    assert_eq!(kinds(&json_lines(&typed.stdout)), ["token.create"]);
    let table = cli.run(&["audit"], None).ok("audit as a table");
    assert!(table.stdout.starts_with("TIME"), "{}", table.stdout);
    assert!(table.stdout.contains("alice@acme"), "{}", table.stdout);

    cli.run(&["audit", "-n", "0"], None)
        .code_is(2, "audit -n 0");
    cli.run(&["audit", "--format", "xml"], None)
        .code_is(2, "audit --format xml");
    cli.run(&["audit", "--org", "nosuch"], None)
        .code_is(1, "audit of an unknown org");

    // --follow prints what is written after it started.
    let db = srv.db().to_string_lossy().into_owned();
    let mut follower = Command::new(bin())
        .args([
            "--db",
            &db,
            "audit",
            "--follow",
            "--format",
            "json-lines",
            "-n",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start audit --follow");
    let stdout = follower.stdout.take().expect("piped stdout");
    let (lines, seen) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let first = seen
        .recv_timeout(Duration::from_secs(10))
        .expect("the newest event");
    assert!(first.contains("session.login"), "{first}");
    api.exchange_authorize(&token.secret);
    let next = seen
        .recv_timeout(Duration::from_secs(10))
        .expect("the exchange, followed");
    let _ = follower.kill();
    let _ = follower.wait();
    let event: Value = serde_json::from_str(&next).expect("a JSON event");
    assert_eq!(event["type"], "token.exchange");
    assert_eq!(event["target"]["id"], token.id.as_str());

    // --after resumes where a shipper stopped: exactly what came later.
    let after = |id: &str| cli.run(&["audit", "--format", "json-lines", "--after", id], None);
    let resumed = json_lines(&after(str_field(&all[3], "id")).ok("audit --after").stdout);
    assert_eq!(
        kinds(&resumed),
        ["session.login", "token.exchange"],
        "oldest first"
    );
    assert_eq!(resumed[1]["id"], event["id"]);
    let at_the_end = after(str_field(&event, "id")).ok("audit --after the newest");
    assert_eq!(at_the_end.stdout, "", "nothing after the newest");
    after("00000000-0000-4000-8000-000000000000").code_is(1, "--after an unknown event");

    // A cursor file: the whole trail the first time, then only what is new.
    let ship = || {
        let out = cli
            .run(
                &["audit", "--format", "json-lines", "--cursor-file", "cursor"],
                None,
            )
            .ok("audit --cursor-file");
        kinds(&json_lines(&out.stdout))
    };
    assert_eq!(ship().len(), 6, "everything, the first time");
    assert_eq!(
        std::fs::read_to_string(srv.dir().join("cursor"))
            .unwrap()
            .trim(),
        str_field(&event, "id"),
        "the last event shipped"
    );
    assert!(ship().is_empty(), "nothing new");
    api.exchange_authorize(&token.secret);
    assert_eq!(ship(), ["token.exchange"], "only what is new");
    cli.run(
        &["audit", "--after", str_field(&event, "id"), "-n", "5"],
        None,
    )
    .code_is(2, "--after with -n");
}

#[test]
fn prune_deletes_events_before_a_time_and_records_that_it_did() {
    let srv = TestServer::start();
    let api = srv.api();
    api.admin_login();
    api.admin_login();
    let cli = srv.cli();
    let trail = || {
        let out = cli
            .run(&["audit", "--format", "json-lines", "-n", "100"], None)
            .ok("audit");
        json_lines(&out.stdout)
    };
    cli.run(&["audit", "prune", "--before", "2000-01-01"], None)
        .ok("prune before 2000");
    assert_eq!(
        kinds(&trail()),
        ["system.initialize", "session.login", "session.login"]
    );
    cli.run(&["audit", "prune", "--before", "90days"], None)
        .ok("prune older than 90 days");
    assert_eq!(trail().len(), 3, "nothing is 90 days old");

    cli.run(&["audit", "prune", "--before", "soon"], None)
        .code_is(1, "prune --before soon");
    cli.run(&["audit", "prune"], None)
        .code_is(2, "prune without --before");
    assert_eq!(trail().len(), 3, "a refused prune deletes nothing");

    // The newest event's position: a page of one names it as the cursor.
    let admin = api.admin_login();
    let newest_position = || {
        api.audit(&admin.access_token, "limit=1")
            .next_cursor
            .expect("a cursor")
    };
    let before = newest_position();
    cli.run(
        &["audit", "prune", "--before", "2999-01-01T00:00:00Z"],
        None,
    )
    .ok("prune everything");
    let left = trail();
    assert_eq!(kinds(&left), ["audit.prune"]);
    assert_eq!(left[0]["additionalProperties"]["deleted"], 4);
    assert!(
        newest_position() > before,
        "positions are never reused, even once the trail was emptied"
    );

    // The service refuses a retention under a day.
    let short = run_tokend(
        &["--db", "other.db", "serve", "--audit-retention", "1h"],
        None,
        &[],
        srv.dir(),
    );
    short.code_is(2, "serve --audit-retention 1h");
}

/// Every `token.exchange` event's `accessTokenId` for `token`.
fn exchange_event_ids(srv: &TestServer, jwt: &str, token: &str) -> HashSet<String> {
    srv.api()
        .every_event(jwt, &format!("type=token.exchange&token={token}"))
        .iter()
        .map(|event| str_field(&event["additionalProperties"], "accessTokenId").to_owned())
        .collect()
}

#[test]
fn an_exchange_answered_before_sigkill_has_its_event_after_restart() {
    let mut srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let token = srv.api().create_token(&admin, "killed", Some("30m"));
    // The kill cuts requests off mid-way: those are errors, not panics.
    let exchange = build_request(
        srv.api().addr(),
        "POST",
        PROVIDER_TOKEN,
        &[("Content-Type", FORM)],
        Some(
            format!(
                "grant_type=refresh_token&refresh_token={}",
                form_encode(&token.secret)
            )
            .as_bytes(),
        ),
    );
    let addr = srv.api().addr().to_owned();
    let answered = Mutex::new(Vec::new());
    let killed = AtomicBool::new(false);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !killed.load(Ordering::Relaxed) {
                    let Ok(r) = send_raw(&addr, &exchange, Duration::from_secs(10)) else {
                        continue;
                    };
                    if r.status != 200 {
                        continue;
                    }
                    let jwt = str_field(&r.json(), "access_token").to_owned();
                    let (_, claims) = jwt_parts(&jwt);
                    let jti = str_field(&claims, "jti").to_owned();
                    answered.lock().expect("no panics").push(jti);
                }
            });
        }
        let under_way = eventually(Duration::from_secs(30), || {
            (answered.lock().expect("no panics").len() >= 300).then_some(())
        });
        srv.stop_with("KILL", Duration::from_secs(10));
        killed.store(true, Ordering::Relaxed);
        assert!(under_way.is_some(), "the load never got going");
    });
    let answered = answered.into_inner().expect("no panics");
    srv.restart();
    let admin = srv.api().admin_login().access_token;
    let recorded = exchange_event_ids(&srv, &admin, &token.id);
    let missing: Vec<_> = answered
        .iter()
        .filter(|jti| !recorded.contains(*jti))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered exchanges have no event after SIGKILL: {missing:?}",
        missing.len(),
        answered.len()
    );
}

#[test]
fn every_refusal_answered_before_a_graceful_stop_has_its_event() {
    let mut srv = TestServer::start();
    let addr = srv.api().addr().to_owned();
    let refusal = build_request(
        &addr,
        "POST",
        PROVIDER_TOKEN,
        &[("Content-Type", FORM)],
        Some(b"grant_type=refresh_token&refresh_token=not-a-token"),
    );
    let refused = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    // Refusals are queued, not awaited: the stop comes while clients are
    // still being refused, so the last ones' events are in the queue.
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !stopped.load(Ordering::Relaxed) {
                    match send_raw(&addr, &refusal, Duration::from_secs(10)) {
                        Ok(r) if r.status == 400 => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            });
        }
        let under_way = eventually(Duration::from_secs(30), || {
            (refused.load(Ordering::Relaxed) >= 200).then_some(())
        });
        let st = srv.stop();
        stopped.store(true, Ordering::Relaxed);
        assert!(under_way.is_some(), "the refusals never got going");
        assert!(st.is_some_and(|s| s.success()), "SIGTERM: {st:?}");
    });
    srv.restart();
    let admin = srv.api().admin_login().access_token;
    let failed = refusals_in(&srv.api().every_event(&admin, "type=token.exchange_failed"));
    assert!(
        failed >= refused.into_inner(),
        "{failed} refusals recorded for more answered before the stop"
    );
}

/// How many refusals `events` stand for: one each, or a summary's count.
fn refusals_in(events: &[Value]) -> usize {
    events
        .iter()
        .map(|e| {
            e["additionalProperties"]["summary"]["count"]
                .as_u64()
                .map_or(1, |n| n as usize)
        })
        .sum()
}

#[test]
fn a_flood_of_refusals_is_counted_not_written_row_by_row() {
    let mut srv = TestServer::start();
    let api = srv.api();
    for _ in 0..100 {
        api.try_exchange_provider("not-a-token")
            .assert_status(400, "a bad token");
    }
    let admin = api.admin_login().access_token;
    let kind = "type=token.exchange_failed";
    let recorded = eventually(Duration::from_secs(5), || {
        let events = api.every_event(&admin, kind);
        (events.len() >= 20).then_some(events)
    })
    .expect("the first refusals, one by one");
    assert_eq!(recorded.len(), 20, "then counted, not written");

    // The rest is written as one summary when its minute is over, or at
    // the latest at a graceful stop.
    let st = srv.stop();
    assert!(st.is_some_and(|s| s.success()), "SIGTERM: {st:?}");
    srv.restart();
    let admin = srv.api().admin_login().access_token;
    let events = srv.api().every_event(&admin, kind);
    assert_eq!(events.len(), 21);
    let summary = &events[0]["additionalProperties"]["summary"];
    assert_eq!(summary["count"], 80, "{}", events[0]);
    assert_eq!(events[0]["client_ip"], "127.0.0.1");
    assert_eq!(refusals_in(&events), 100, "every refusal accounted for");
}

#[test]
fn every_change_over_the_api_is_recorded_in_the_org_it_concerns() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login();
    let jwt = admin.access_token.as_str();
    let new_password = "An0ther-Passw0rd-for-bob";

    api.create_org(jwt, "acme");
    let bob = api
        .create_user(jwt, &NewUser::new("bob", "acme").roles(&[ROLE_TOKEN_USER]))
        .id;
    api.disable_user(jwt, &bob);
    api.enable_user(jwt, &bob);
    api.set_password(jwt, &bob, None, new_password);
    api.grant_user_role(jwt, &bob, ROLE_MEMBER);
    api.revoke_user_role(jwt, &bob, ROLE_MEMBER);
    let service = api.create_service(jwt, "vmc", &["vmc:read"]).id;
    api.extend_service(jwt, &service, &["vmc:write"]);
    let bundle = api.create_bundle(jwt, "vmc-rights", &["vmc:read"]).id;
    api.set_bundle_permissions(jwt, &bundle, &["vmc:read", "vmc:write"]);
    api.publish_bundle(jwt, &bundle, "acme");
    let readers = api
        .create_role(
            jwt,
            &NewRole::local("readers", "acme")
                .service("vmc")
                .permissions(&["vmc:read"]),
        )
        .id;
    api.set_role_permissions(jwt, &readers, &["vmc:read", "vmc:write"]);
    let auditors = api
        .create_role(
            jwt,
            &NewRole::global("auditors").permissions(&["tokend:audit.view"]),
        )
        .id;
    api.publish_role(jwt, &auditors, "acme");
    api.withdraw_role(jwt, &auditors, "acme");
    let ops = api.create_group(jwt, "ops", "acme").id;
    api.add_group_member(jwt, &ops, &bob);
    api.grant_group_role(jwt, &ops, "readers");
    api.revoke_group_role(jwt, &ops, "readers");
    api.remove_group_member(jwt, &ops, &bob);
    api.delete_role(jwt, &readers);
    api.withdraw_bundle(jwt, &bundle, "acme");
    // A change that changes nothing records nothing.
    api.grant_user_role(jwt, &bob, ROLE_TOKEN_USER);

    let trail = api.every_event(jwt, "");
    let mut recorded = kinds(&trail);
    recorded.retain(|k| !k.starts_with("system.") && !k.starts_with("session."));
    recorded.reverse();
    assert_eq!(
        recorded,
        [
            "org.create",
            "user.create",
            "user.disable",
            "user.enable",
            "user.password_change",
            "role.grant",
            "role.revoke",
            "service.create",
            "service.update",
            "bundle.create",
            "bundle.update",
            "bundle.publish",
            "role.create",
            "role.update",
            "role.create",
            "role.publish",
            "role.withdraw",
            "group.create",
            "group.member_add",
            "group.role_grant",
            "group.role_revoke",
            "group.member_remove",
            "role.delete",
            "bundle.withdraw",
        ],
        "one event per change, in order"
    );
    for event in trail.iter().filter(|e| e["type"] != "system.initialize") {
        assert_eq!(event["actor"]["name"], ADMIN, "{event}");
        assert_eq!(event["client_ip"], "127.0.0.1", "{event}");
        assert_eq!(
            event["additionalProperties"]["currentContext.sessionId"], admin.id,
            "{event}"
        );
        assert_eq!(event["outcome"], "success", "{event}");
    }
    let text = serde_json::to_string(&trail).unwrap();
    for secret in [USER_PASSWORD, new_password] {
        assert!(!text.contains(secret), "no password in the trail");
    }

    // What concerns acme is in acme's trail; what is global is not.
    let mut in_acme = kinds(&api.every_event(jwt, "org=acme"));
    in_acme.reverse();
    assert_eq!(
        in_acme,
        [
            "org.create",
            "user.create",
            "user.disable",
            "user.enable",
            "user.password_change",
            "role.grant",
            "role.revoke",
            "bundle.publish",
            "role.create",
            "role.update",
            "role.publish",
            "role.withdraw",
            "group.create",
            "group.member_add",
            "group.role_grant",
            "group.role_revoke",
            "group.member_remove",
            "role.delete",
            "bundle.withdraw",
        ]
    );
    let created = trail.iter().find(|e| e["type"] == "user.create").unwrap();
    assert_eq!(created["target"]["id"], bob.as_str());
    assert_eq!(created["target"]["name"], "bob@acme");
}

#[test]
fn a_refused_request_is_an_access_denied_event() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let alice = api.user_login("alice@acme");
    let token = api.create_token(&alice.access_token, "ci", Some("30m"));
    let derived = api.exchange_tenant("acme", &token.secret).access_token;

    // Allowed: no denial.
    api.list_tokens(&alice.access_token);
    // A right alice lacks, with her session; a session-only action with
    // token-derived access.
    api.try_create_user(&alice.access_token, &NewUser::new("eve", "acme"))
        .assert_status(403, "alice adds a user");
    api.try_create_token_with(&derived, &NewToken::named("more"))
        .assert_status(403, "token-derived access makes a token");

    let admin = api.admin_login();
    let denied = eventually(Duration::from_secs(5), || {
        let denied = api.every_event(&admin.access_token, "type=access.denied");
        (denied.len() == 2).then_some(denied)
    })
    .expect("both refusals recorded, and nothing else");
    let (by_token, by_session) = (&denied[0], &denied[1]);
    for event in &denied {
        assert_eq!(event["outcome"], "denied", "{event}");
        assert_eq!(event["actor"]["name"], "alice@acme", "{event}");
        assert!(
            event["additionalProperties"]["reason"].is_string(),
            "{event}"
        );
    }
    assert_eq!(
        by_session["additionalProperties"]["currentContext.sessionId"], alice.id,
        "{by_session}"
    );
    assert_eq!(
        by_token["additionalProperties"]["currentContext.refreshTokenId"], token.id,
        "{by_token}"
    );
}

#[test]
fn admin_commands_are_recorded_with_the_operator() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let token = cli.token_create("alice@acme", "ci", None);
    for args in [
        &["user", "disable", "alice@acme"][..],
        &["user", "enable", "alice@acme"],
        &["user", "unlock", "alice@acme"],
        &["role", "grant", "alice@acme", ROLE_MEMBER],
        &["token", "revoke", &token.id],
        &["key", "rotate"],
    ] {
        cli.run(args, None).ok(&args.join(" "));
    }
    let out = cli
        .run(&["audit", "--format", "json-lines", "-n", "100"], None)
        .ok("audit");
    let trail = json_lines(&out.stdout);
    let recorded: Vec<String> = kinds(&trail).into_iter().skip(4).collect();
    assert_eq!(
        recorded,
        [
            "user.disable",
            "user.enable",
            "user.unlock",
            "role.grant",
            "token.revoke",
            "key.rotate"
        ]
    );
    for event in &trail[1..] {
        let operator = str_field(&event["additionalProperties"], "operator");
        assert!(operator.starts_with("cli:"), "{event}");
        // The CLI's user is the actor, never a user of the database.
        assert_eq!(event["actor"]["name"], operator, "{event}");
        assert!(event["actor"]["id"].is_null(), "{event}");
    }
    let created = &trail[3];
    assert_eq!(created["type"], "token.create");
    assert!(
        created["additionalProperties"]["owner"].is_string(),
        "{created}"
    );
    assert!(
        created["org_id"].is_string(),
        "in the owner's org: {created}"
    );
    let revoked = &trail[8];
    assert_eq!(revoked["target"]["id"], token.id.as_str());
    assert!(
        revoked["org_id"].is_string(),
        "in the token's org: {revoked}"
    );
}

/// A tenant's admins read what the provider's admins did in their org, but
/// not where the provider's admins work from.
#[test]
fn a_tenant_sees_the_providers_actions_in_its_org_without_their_addresses() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let carol = api.user_login("carol@acme").access_token;
    // The provider adds a user to acme, and so does acme's admin.
    api.create_user(&admin, &NewUser::new("alice", "acme"));
    api.create_user(&carol, &NewUser::new("bob", "acme"));

    let by_name = |events: &[Value], actor: &str| -> Value {
        events
            .iter()
            .find(|e| e["actor"]["name"] == actor)
            .cloned()
            .unwrap_or_else(|| panic!("no user.create by {actor}: {events:?}"))
    };
    let tenant_view = api.audit(&carol, "type=user.create").events;
    let providers = by_name(&tenant_view, ADMIN);
    assert_eq!(providers["client_ip"], Value::Null, "{providers}");
    assert_eq!(
        providers["target"]["name"], "alice@acme",
        "the action itself shows"
    );
    assert_eq!(
        by_name(&tenant_view, "carol@acme")["client_ip"],
        "127.0.0.1"
    );
    let provider_view = api.audit(&admin, "type=user.create").events;
    assert_eq!(by_name(&provider_view, ADMIN)["client_ip"], "127.0.0.1");
}

/// `TOKEND_AUDIT_MAX_SIZE` takes a size with a unit, at least 1 MiB; a
/// service starts with one and its trail works as before.
#[test]
fn the_audit_size_bound_is_a_size_of_at_least_a_mebibyte() {
    let dir = TempDir::new();
    for bad in ["10KB", "lots", "5 parsecs", "99999999999999999999GiB"] {
        let out = run_tokend(
            &["serve", "--listen", "127.0.0.1:0", "--audit-max-size", bad],
            None,
            &[("TOKEND_DB", &dir.path.join("t.db").to_string_lossy())],
            &dir.path,
        );
        assert_eq!(out.code, Some(2), "{bad}: {out:#?}");
        assert!(out.stderr.contains("audit-max-size"), "{bad}: {out:#?}");
        assert!(
            !dir.path.join("t.db").exists(),
            "nothing was created for {bad}"
        );
    }
    let srv = TestServer::config()
        .env("TOKEND_AUDIT_MAX_SIZE", "2GiB")
        .start();
    let admin = srv.api().admin_login().access_token;
    assert_eq!(
        srv.api().recorded_events(&admin, "session.login", 1).len(),
        1
    );
}
