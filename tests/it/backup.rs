//! `tokend backup`, `tokend check` and `tokend restore` against the real
//! binary: a backup taken while the service exchanges tokens is a
//! consistent copy; a restore brings back no revoked token (replayed from
//! the audit stream, or every live token revoked), or brings them back
//! only when told to; it refuses while a server runs and is safe beside a
//! stale `-wal`; backups are private, never overwrite, and rotate; `check`
//! finds a corrupt file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const ORG: &str = "acme";
const ALICE: &str = "alice@acme";
const BOB: &str = "bob@acme";

/// A server with tokens made before a backup, the backup, the changes
/// made after it, and the audit stream that records them.
struct Scenario {
    srv: TestServer,
    backup: PathBuf,
    /// Alice's tokens made before the backup and left alone after it.
    kept: Vec<CreatedToken>,
    /// Alice's tokens made before the backup, revoked after it: through
    /// the API, the admin CLI and RFC 7009.
    revoked_after: Vec<CreatedToken>,
    /// Bob's tokens; Bob is disabled after the backup.
    of_disabled: Vec<CreatedToken>,
    /// A token made after the backup: (id, secret).
    made_after: (String, String),
    /// An access token exchanged before the backup, revoked (by its jti)
    /// after it.
    access_revoked: String,
    /// Alice's password session, opened before the backup and logged out
    /// after it.
    session_ended: String,
}

impl Scenario {
    /// Users and tokens, then `backup()` taken while `during` runs.
    fn build(during: impl FnOnce(&TestServer, &dyn Fn() -> CliOutput)) -> Scenario {
        let srv = TestServer::start();
        let cli = srv.cli();
        cli.org_add(ORG);
        cli.user_add(ALICE, &[ROLE_TOKEN_USER]);
        cli.user_add(BOB, &[ROLE_TOKEN_USER]);
        let api = srv.api();
        let alice = api.user_login(ALICE);
        let bob = api.user_login(BOB);
        let mut alice_tokens: Vec<CreatedToken> = (0..6)
            .map(|n| api.create_token(&alice.access_token, &format!("alice-{n}"), None))
            .collect();
        let of_disabled: Vec<CreatedToken> = (0..2)
            .map(|n| api.create_token(&bob.access_token, &format!("bob-{n}"), None))
            .collect();
        let access_revoked = api.exchange_authorize(&alice_tokens[0].secret).access_token;
        api.try_session_info(&access_revoked)
            .assert_status(200, "the access token works before the backup");
        let backup = srv.dir().join("before.db");
        let path = backup.to_string_lossy().into_owned();
        let take = || srv.cli().run(&["backup", &path], None);
        during(&srv, &take);
        assert!(backup.is_file(), "the backup was written");

        // After the backup point.
        let revoked_after: Vec<CreatedToken> = alice_tokens.drain(1..4).collect();
        api.revoke_token(&alice.access_token, &revoked_after[0].id);
        cli.token_revoke(&revoked_after[1].id);
        api.try_revoke_presented(&revoked_after[2].secret)
            .assert_status(200, "RFC 7009 revocation of an API token");
        api.try_revoke_presented(&access_revoked)
            .assert_status(200, "RFC 7009 revocation of an access token");
        api.try_session_info(&access_revoked)
            .assert_status(401, "the access token is revoked");
        cli.run(&["user", "disable", BOB], None).ok("user disable");
        let made = cli.token_create(ALICE, "after-the-backup", None);
        let made_after = (made.id, made.secret);
        api.logout(&alice.access_token);
        Scenario {
            srv,
            backup,
            kept: alice_tokens,
            revoked_after,
            of_disabled,
            made_after,
            access_revoked,
            session_ended: alice.access_token,
        }
    }

    /// The audit trail, every event, as `tokend audit --follow --format
    /// json-lines` ships it.
    fn stream(&self) -> PathBuf {
        // A cursor file not written yet: the whole trail, from its start.
        let cursor = self.srv.dir().join("cursor");
        let out = self
            .srv
            .cli()
            .run(
                &[
                    "audit",
                    "--format",
                    "json-lines",
                    "--cursor-file",
                    &cursor.to_string_lossy(),
                ],
                None,
            )
            .ok("audit --format json-lines");
        let stream = self.srv.dir().join("audit.jsonl");
        std::fs::write(&stream, &out.stdout).expect("write the stream");
        stream
    }

    fn restore(&self, args: &[&str]) -> CliOutput {
        let backup = self.backup.to_string_lossy().into_owned();
        let mut full = vec!["restore", backup.as_str()];
        full.extend_from_slice(args);
        self.srv.cli().run(&full, None)
    }
}

/// `tokend check FILE`'s lines as `key: value`.
fn check(dir: &Path, file: &Path) -> (CliOutput, Vec<(String, String)>) {
    let out = run_tokend(&["check", &file.to_string_lossy()], None, &[], dir);
    let lines = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (out, lines)
}

fn line<'a>(lines: &'a [(String, String)], key: &str) -> &'a str {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key:?} line in {lines:?}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn assert_refused(api: &Client, secret: &str, what: &str) {
    api.try_exchange_authorize(secret)
        .assert_oauth_error("invalid_grant", what);
}

fn assert_works(api: &Client, secret: &str, what: &str) {
    api.try_exchange_authorize(secret).assert_status(200, what);
}

/// The ids `tokend token list` shows, with their status.
fn listed(srv: &TestServer) -> Vec<(String, String)> {
    srv.cli()
        .token_rows(&[])
        .into_iter()
        .map(|row| (row.id, row.status))
        .collect()
}

/// A token made during the load, and when its creation was answered.
struct Made {
    id: String,
    answered: Instant,
}

#[test]
fn a_backup_under_load_restores_with_the_audit_stream_and_refuses_every_token_revoked_after_it() {
    let failures = Arc::new(AtomicUsize::new(0));
    let exchanges = Arc::new(AtomicUsize::new(0));
    let made = Arc::new(Mutex::new(Vec::<Made>::new()));
    let mut window = (Instant::now(), Instant::now());
    let mut copied = String::new();
    let mut exchanges_during = (0, 0);
    let mut scenario = Scenario::build(|srv, take| {
        // More than one copy step (2 MiB each): a service with 8,000
        // permissions.
        let permissions: Vec<String> = (0..8000)
            .map(|n| format!("padding:p{n:05}-{}", "x".repeat(100)))
            .collect();
        let mut args = vec!["service", "add", "padding"];
        for p in &permissions {
            args.extend(["--permission", p]);
        }
        srv.cli().run(&args, None).ok("service add padding");
        let stop = Arc::new(AtomicBool::new(false));
        let api = srv.api().clone();
        let session = api.user_login(ALICE).access_token;
        let alice_secret = api.create_token(&session, "load", None).secret;
        let mut load = Vec::new();
        for _ in 0..3 {
            let (api, stop, failures, exchanges, secret) = (
                api.clone(),
                stop.clone(),
                failures.clone(),
                exchanges.clone(),
                alice_secret.clone(),
            );
            load.push(thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match api.try_exchange_authorize(&secret).status {
                        200 => exchanges.fetch_add(1, Ordering::SeqCst),
                        _ => failures.fetch_add(1, Ordering::SeqCst),
                    };
                }
            }));
        }
        {
            let (api, stop, made, session) =
                (api.clone(), stop.clone(), made.clone(), session.clone());
            load.push(thread::spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let token = api.create_token(&session, &format!("during-{n}"), None);
                    made.lock().unwrap().push(Made {
                        id: token.id,
                        answered: Instant::now(),
                    });
                }
            }));
        }
        eventually(Duration::from_secs(30), || {
            (exchanges.load(Ordering::SeqCst) >= 50 && made.lock().unwrap().len() >= 5)
                .then_some(())
        })
        .expect("the load is under way");
        // The live database is checked while the load writes to it.
        let (out, lines) = check(srv.dir(), srv.db());
        out.code_is(0, "check of the live database under load");
        assert_eq!(line(&lines, "integrity"), "ok");
        exchanges_during.0 = exchanges.load(Ordering::SeqCst);
        window.0 = Instant::now();
        let out = take().ok("backup under load");
        window.1 = Instant::now();
        exchanges_during.1 = exchanges.load(Ordering::SeqCst);
        copied = out.stderr.clone();
        assert_eq!(
            out.stdout.trim(),
            srv.dir().join("before.db").to_string_lossy()
        );
        // A little more load after the backup: tokens that must not be in it.
        let after = made.lock().unwrap().len();
        eventually(Duration::from_secs(30), || {
            (made.lock().unwrap().len() >= after + 3).then_some(())
        })
        .expect("tokens made after the backup");
        stop.store(true, Ordering::Relaxed);
        for t in load {
            t.join().expect("load thread");
        }
    });
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "every exchange under load succeeded"
    );
    assert!(
        exchanges_during.1 > exchanges_during.0,
        "exchanges were answered while the backup ran: {exchanges_during:?}"
    );
    // "copied 648 pages (2.5 MiB) in 2 steps; backup point: ..."
    let number_before = |word: &str| -> u64 {
        copied
            .split(word)
            .next()
            .and_then(|head| head.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{word:?} in {copied:?}"))
    };
    let (pages, steps) = (number_before(" pages"), number_before(" step"));
    assert!(steps >= 2, "the copy went in steps: {copied}");
    // 512 pages (2 MiB) a step: a copy that started over whenever the
    // service wrote would take many more.
    assert_eq!(
        steps,
        pages.div_ceil(512),
        "the copy never started over: {copied}"
    );
    assert_eq!(mode(&scenario.backup), 0o600, "the backup is private");

    let stream = scenario.stream();
    scenario.srv.stop();
    let out = scenario
        .restore(&["--audit-stream", &stream.to_string_lossy()])
        .ok("restore with the audit stream");
    let summary = out.stdout.clone();
    for expected in [
        "  API tokens revoked: 3\n",
        "  access tokens revoked: 1\n",
        "  users disabled: 1\n",
        "  sessions ended: 1\n",
    ] {
        assert!(summary.contains(expected), "{expected:?} in {summary}");
    }
    assert!(
        summary.contains(&format!("after-the-backup ({})", scenario.made_after.0)),
        "the token made after the backup is named as gone: {summary}"
    );

    let (out, lines) = check(scenario.srv.dir(), scenario.srv.db());
    out.code_is(0, "check of the restored database");
    assert_eq!(line(&lines, "integrity"), "ok");
    assert_eq!(line(&lines, "foreign keys"), "ok");
    assert_eq!(line(&lines, "status"), "healthy");
    assert!(
        !with_suffix(scenario.srv.db(), "-wal").exists(),
        "the restored file is one file"
    );

    // Every token answered before the backup began is there; none
    // answered after it ended is.
    let tokens = listed(&scenario.srv);
    let made = made.lock().unwrap();
    let (mut before, mut after) = (0, 0);
    for token in made.iter() {
        let present = tokens.iter().any(|(id, _)| id == &token.id);
        if token.answered < window.0 {
            assert!(
                present,
                "token {} answered before the backup is restored",
                token.id
            );
            before += 1;
        } else if token.answered > window.1 {
            assert!(!present, "token {} made after the backup is not", token.id);
            after += 1;
        }
    }
    assert!(before >= 5 && after >= 3, "before {before}, after {after}");

    scenario.srv.restart();
    let api = scenario.srv.api();
    for token in &scenario.kept {
        assert_works(api, &token.secret, "a token left alone after the backup");
    }
    for token in &scenario.revoked_after {
        assert_refused(api, &token.secret, "a token revoked after the backup");
    }
    for token in &scenario.of_disabled {
        assert_refused(
            api,
            &token.secret,
            "a token of a user disabled after the backup",
        );
    }
    assert_refused(api, &scenario.made_after.1, "a token made after the backup");
    api.try_session_info(&scenario.access_revoked)
        .assert_status(401, "an access token revoked after the backup");
    api.try_session_info(&scenario.session_ended)
        .assert_status(401, "a session logged out after the backup");

    // The restore and each replay are in the trail.
    let trail = scenario
        .srv
        .cli()
        .run(&["audit", "--format", "json-lines", "-n", "50"], None)
        .ok("audit");
    let events: Vec<Value> = trail
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let restore = events
        .iter()
        .find(|e| e["type"] == "backup.restore")
        .expect("a backup.restore event");
    assert_eq!(restore["additionalProperties"]["mode"], "audit-stream");
    assert_eq!(
        restore["additionalProperties"]["restored"]["api_tokens_revoked"],
        3
    );
    let replays = events
        .iter()
        .filter(|e| e["type"] == "token.revoke" && e["additionalProperties"]["replays"].is_string())
        .count();
    assert_eq!(
        replays, 3,
        "each replayed revocation names the event it replays"
    );
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn simple_scenario() -> Scenario {
    Scenario::build(|_, take| {
        take().ok("backup");
    })
}

#[test]
fn a_restore_without_the_stream_refuses_without_a_choice_and_revoke_live_tokens_leaves_none_working(
) {
    let mut scenario = simple_scenario();
    scenario.srv.stop();
    let before = std::fs::read(scenario.srv.db()).expect("read the database");

    let out = scenario.restore(&[]);
    out.code_is(1, "restore without a choice");
    for option in [
        "--audit-stream",
        "--revoke-live-tokens",
        "--accept-resurrection",
    ] {
        assert!(out.stderr.contains(option), "{option} explained: {out:#?}");
    }
    assert!(out.stderr.contains("would work again"), "{out:#?}");
    assert_eq!(
        std::fs::read(scenario.srv.db()).expect("read the database"),
        before,
        "a refused restore changes nothing"
    );
    scenario
        .restore(&["--revoke-live-tokens", "--accept-resurrection"])
        .code_is(2, "two choices at once");

    let out = scenario
        .restore(&["--revoke-live-tokens"])
        .ok("restore --revoke-live-tokens");
    assert!(
        out.stdout
            .contains("revoked every API token live at the backup point: 8 "),
        "{out:#?}"
    );
    assert!(out.stdout.contains("ended every session: 2\n"), "{out:#?}");
    let (out, lines) = check(scenario.srv.dir(), scenario.srv.db());
    out.code_is(0, "check after --revoke-live-tokens");
    assert_eq!(line(&lines, "API tokens"), "0 live, 0 expired, 8 revoked");
    assert_eq!(line(&lines, "sessions"), "0 live");

    scenario.srv.restart();
    let api = scenario.srv.api();
    for token in scenario
        .kept
        .iter()
        .chain(&scenario.revoked_after)
        .chain(&scenario.of_disabled)
    {
        assert_refused(api, &token.secret, "every token live at the backup point");
    }
    assert_refused(api, &scenario.made_after.1, "a token made after the backup");
    api.try_session_info(&scenario.access_revoked)
        .assert_status(401, "an access token from a revoked token");
    api.try_session_info(&scenario.session_ended)
        .assert_status(401, "a session live at the backup point");
    // The service works: new tokens do.
    let fresh = scenario.srv.cli().token_create(ALICE, "reissued", None);
    assert_works(api, &fresh.secret, "a token made after the restore");
}

#[test]
fn accept_resurrection_restores_as_is_and_a_restore_refuses_while_a_server_runs() {
    let mut scenario = simple_scenario();
    let out = scenario.restore(&["--accept-resurrection"]);
    out.code_is(1, "restore while the server runs");
    assert!(out.stderr.contains("is in use"), "{out:#?}");
    assert!(out.stderr.contains("systemctl stop tokend"), "{out:#?}");
    assert!(out.stderr.contains("tokend.db.lock"), "{out:#?}");
    let api = scenario.srv.api();
    assert_works(
        api,
        &scenario.made_after.1,
        "the running server kept its database",
    );
    for token in &scenario.revoked_after {
        assert_refused(api, &token.secret, "revoked, before any restore");
    }

    scenario.srv.stop();
    // Where the test may give the database another owner (as root), the
    // restored file keeps that owner, so the service can still open it.
    let owned = std::os::unix::fs::chown(scenario.srv.db(), Some(65534), Some(65534)).is_ok();
    let out = scenario
        .restore(&["--accept-resurrection"])
        .ok("restore --accept-resurrection after the server stopped");
    assert!(out.stdout.contains("work again"), "{out:#?}");
    if owned {
        use std::os::unix::fs::MetadataExt;
        let restored = std::fs::metadata(scenario.srv.db()).expect("metadata");
        assert_eq!((restored.uid(), restored.gid()), (65534, 65534));
    }
    scenario.srv.restart();
    let api = scenario.srv.api();
    for token in scenario
        .kept
        .iter()
        .chain(&scenario.revoked_after)
        .chain(&scenario.of_disabled)
    {
        assert_works(api, &token.secret, "as the backup has it, revoked ones too");
    }
    assert_refused(api, &scenario.made_after.1, "a token made after the backup");
    let trail = scenario
        .srv
        .cli()
        .run(
            &[
                "audit",
                "--format",
                "json-lines",
                "--type",
                "backup.restore",
            ],
            None,
        )
        .ok("audit");
    let event: Value = serde_json::from_str(trail.stdout.trim()).expect("one event");
    assert_eq!(event["additionalProperties"]["mode"], "accept-resurrection");
}

#[test]
fn a_restore_beside_a_stale_wal_of_another_database_is_the_backups() {
    let srv = TestServer::start();
    srv.cli().org_add(ORG);
    srv.cli().user_add(ALICE, &[ROLE_TOKEN_USER]);
    let kept: Vec<(String, String)> = (0..2)
        .map(|n| {
            let token = srv.cli().token_create(ALICE, &format!("kept-{n}"), None);
            (token.id, token.secret)
        })
        .collect();
    let backup = srv.dir().join("b.db");
    srv.cli()
        .run(&["backup", &backup.to_string_lossy()], None)
        .ok("backup");

    // Another database, killed with committed pages still in its WAL.
    let mut other = TestServer::start();
    other.cli().org_add("zeta");
    other.cli().user_add("zed@zeta", &[ROLE_TOKEN_USER]);
    for n in 0..3 {
        other
            .cli()
            .token_create("zed@zeta", &format!("other-{n}"), None);
    }
    other.stop_with("KILL", Duration::from_secs(10));
    let stale_wal = with_suffix(other.db(), "-wal");
    let wal_len = std::fs::metadata(&stale_wal)
        .expect("the killed server's WAL")
        .len();
    assert!(wal_len > 4096, "the stale WAL holds pages: {wal_len} bytes");

    let mut srv = srv;
    srv.stop();
    let target = srv.db().to_path_buf();
    for suffix in ["-wal", "-shm"] {
        std::fs::copy(
            with_suffix(other.db(), suffix),
            with_suffix(&target, suffix),
        )
        .expect("leave a stale companion beside the database");
    }
    // What SQLite makes of a file beside another database's WAL: not the
    // backup (the hazard a restore must remove).
    let beside = srv.dir().join("plain.db");
    std::fs::copy(&backup, &beside).expect("copy");
    for suffix in ["-wal", "-shm"] {
        std::fs::copy(
            with_suffix(other.db(), suffix),
            with_suffix(&beside, suffix),
        )
        .expect("stale companion");
    }
    let (_, plain) = check(srv.dir(), &beside);
    let (_, of_backup) = check(srv.dir(), &backup);
    assert_ne!(
        plain.iter().find(|(k, _)| k == "API tokens"),
        of_backup.iter().find(|(k, _)| k == "API tokens"),
        "a plain copy beside the stale WAL reads as something else: {plain:?}"
    );

    srv.cli()
        .run(
            &[
                "restore",
                &backup.to_string_lossy(),
                "--accept-resurrection",
            ],
            None,
        )
        .ok("restore beside a stale WAL");
    assert!(
        !with_suffix(&target, "-wal").exists(),
        "the stale -wal is gone"
    );
    assert!(
        !with_suffix(&target, "-shm").exists(),
        "the stale -shm is gone"
    );
    assert_eq!(mode(&target), 0o600, "the restored database is private");
    let (out, lines) = check(srv.dir(), &target);
    out.code_is(0, "check after a restore beside a stale WAL");
    assert_eq!(line(&lines, "integrity"), "ok");
    assert_eq!(line(&lines, "orgs"), "2");
    assert_eq!(line(&lines, "users"), "2 (0 disabled)");
    assert_eq!(line(&lines, "API tokens"), "2 live, 0 expired, 0 revoked");
    srv.restart();
    let mut ids: Vec<String> = listed(&srv).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    let mut expected: Vec<String> = kept.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(ids, expected, "exactly the backup's tokens");
    for (_, secret) in &kept {
        assert_works(srv.api(), secret, "a token of the backup");
    }
}

#[test]
fn a_backup_is_private_never_overwrites_and_dir_keep_keeps_the_newest() {
    let srv = TestServer::start();
    let dir = srv.dir().join("backups");
    std::fs::create_dir(&dir).expect("mkdir");

    let file = dir.join("one.db");
    let out = srv
        .cli()
        .run(&["backup", &file.to_string_lossy()], None)
        .ok("backup to a file");
    assert_eq!(out.stdout.trim(), file.to_string_lossy());
    assert_eq!(mode(&file), 0o600, "a backup holds secrets");

    let precious = dir.join("precious.db");
    std::fs::write(&precious, b"not a backup").expect("write");
    let out = srv
        .cli()
        .run(&["backup", &precious.to_string_lossy()], None);
    out.code_is(1, "backup over an existing file");
    assert!(out.stderr.contains("exists already"), "{out:#?}");
    assert_eq!(std::fs::read(&precious).expect("read"), b"not a backup");
    let out = srv.cli().run(&["backup", &file.to_string_lossy()], None);
    out.code_is(1, "backup over an earlier backup");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&dir),
        ["one.db", "precious.db"],
        "nothing left behind"
    );

    srv.cli()
        .run(&["backup", "--keep", "2"], None)
        .code_is(2, "--keep without --dir");
    srv.cli()
        .run(
            &["backup", "--dir", &dir.to_string_lossy(), "--keep", "0"],
            None,
        )
        .code_is(2, "--keep 0");

    for old in [
        "tokend-20200101T000000Z.db",
        "tokend-20200102T000000Z.db",
        "tokend-20200103T000000Z.db",
    ] {
        std::fs::write(dir.join(old), b"old").expect("an old backup");
    }
    let keep = |what: &str| {
        let out = srv
            .cli()
            .run(
                &["backup", "--dir", &dir.to_string_lossy(), "--keep", "2"],
                None,
            )
            .ok(what);
        PathBuf::from(out.stdout.trim())
    };
    let first = keep("backup --dir --keep 2");
    let first_name = first.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        first_name.starts_with("tokend-") && first_name.ends_with("Z.db") && first_name.len() == 26,
        "named by the time: {first_name}"
    );
    assert_eq!(first.parent(), Some(dir.as_path()));
    assert_eq!(mode(&first), 0o600);
    assert_eq!(
        names(&dir),
        [
            "one.db",
            "precious.db",
            "tokend-20200103T000000Z.db",
            first_name.as_str()
        ],
        "the two newest of its own kind kept, other files untouched"
    );
    thread::sleep(Duration::from_millis(1100));
    let second = keep("a second backup --dir --keep 2");
    let second_name = second.file_name().unwrap().to_string_lossy().into_owned();
    assert_ne!(first_name, second_name);
    assert_eq!(
        names(&dir),
        [
            "one.db",
            "precious.db",
            first_name.as_str(),
            second_name.as_str()
        ]
    );
    let (out, lines) = check(srv.dir(), &second);
    out.code_is(0, "check of a timer's backup");
    assert!(
        line(&lines, "backup point").contains("backup taken"),
        "{lines:?}"
    );
}

#[test]
fn check_reports_a_corrupt_file_and_a_restore_refuses_it() {
    let srv = TestServer::start();
    srv.cli().org_add(ORG);
    srv.cli().user_add(ALICE, &[ROLE_TOKEN_USER]);
    for n in 0..20 {
        srv.cli().token_create(ALICE, &format!("t-{n}"), None);
    }
    let backup = srv.dir().join("b.db");
    srv.cli()
        .run(&["backup", &backup.to_string_lossy()], None)
        .ok("backup");
    let (out, lines) = check(srv.dir(), &backup);
    out.code_is(0, "check of a good backup");
    assert_eq!(line(&lines, "integrity"), "ok");
    assert_eq!(line(&lines, "orgs"), "2");
    assert_eq!(line(&lines, "users"), "2 (0 disabled)");
    assert_eq!(line(&lines, "API tokens"), "20 live, 0 expired, 0 revoked");
    assert_eq!(line(&lines, "signing keys"), "2 (0 retired)");
    assert_eq!(line(&lines, "status"), "healthy");
    assert!(line(&lines, "audit trail").starts_with("2"), "{lines:?}");

    // Bytes overwritten in the middle of the file.
    let mut bytes = std::fs::read(&backup).expect("read");
    let page = 4096;
    let middle = (bytes.len() / 2 / page) * page;
    for b in &mut bytes[middle + 16..middle + 2 * page] {
        *b = 0x5a;
    }
    let corrupt = srv.dir().join("corrupt.db");
    std::fs::write(&corrupt, &bytes).expect("write");
    let (out, lines) = check(srv.dir(), &corrupt);
    out.code_is(1, "check of a corrupt file");
    assert_eq!(line(&lines, "status"), "NOT healthy", "{out:#?}");
    assert!(out.stderr.contains("not healthy"), "{out:#?}");
    assert!(out.stderr.contains("integrity check"), "{out:#?}");

    let mut srv = srv;
    srv.stop();
    let before = std::fs::read(srv.db()).expect("read the database");
    let out = srv.cli().run(
        &[
            "restore",
            &corrupt.to_string_lossy(),
            "--accept-resurrection",
        ],
        None,
    );
    out.code_is(1, "restore from a corrupt backup");
    assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
    assert_eq!(std::fs::read(srv.db()).expect("read"), before);
}

#[test]
fn the_service_and_admin_commands_share_the_lock_a_restore_takes_alone() {
    let mut srv = TestServer::start();
    let lock_path = with_suffix(srv.db(), ".lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .expect("the service made its lock file");
    assert_eq!(mode(&lock_path), 0o600);
    assert!(
        matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "the running service holds the lock"
    );
    lock.try_lock_shared().expect("shared with admin commands");
    srv.cli()
        .run(&["token", "list"], None)
        .ok("an admin command beside the service and another holder");
    lock.unlock().expect("unlock");
    srv.stop();

    // What a restore in progress looks like to the others.
    lock.try_lock()
        .expect("nothing holds the lock once the service stopped");
    let out = srv.cli().run(&["token", "list"], None);
    out.code_is(1, "an admin command during a restore");
    assert!(out.stderr.contains("a restore of"), "{out:#?}");
    let db = srv.db().to_string_lossy().into_owned();
    let out = run_tokend(
        &["--db", &db, "serve", "--listen", "127.0.0.1:0"],
        None,
        &[],
        srv.dir(),
    );
    out.code_is(1, "serve during a restore");
    assert!(out.stderr.contains("a restore of"), "{out:#?}");
    assert!(out.stderr.contains("in progress"), "{out:#?}");
    lock.unlock().expect("unlock");
    srv.restart();
    srv.cli()
        .run(&["token", "list"], None)
        .ok("after the restore");
}
