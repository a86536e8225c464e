//! The admin CLI on the same database while the server runs: `--help` on
//! every subcommand, `org add` (duplicates and invalid names refused),
//! `user add` (password from the first line of stdin, minimum length,
//! roles, default role), `token create` (only the secret on stdout),
//! `token list` (table with names and owners, never secrets, filters),
//! `token revoke` (unknown id → exit 1), `--db` vs `TOKEND_DB`, and usage
//! errors (exit 2).

use crate::common::*;

fn org_names(srv: &TestServer) -> Vec<String> {
    let admin = srv.admin_login();
    let r = srv.get_bearer("/api/org", &admin);
    r.assert_status(200, "orgs");
    let mut v: Vec<String> = r.json()["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| s(o, "name").to_owned())
        .collect();
    v.sort();
    v
}

fn uuids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|w| w.len() == 36 && is_uuid(w))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    let dir = TempDir::new();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["org", "--help"],
        vec!["org", "add", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "list", "--help"],
        vec!["token", "revoke", "--help"],
    ] {
        let out = run_tokend(&args, None, &[], &dir.path);
        out.code_is(0, &format!("{args:?}"));
        assert!(
            out.stdout.contains("Usage"),
            "{args:?}: help text on stdout: {out:#?}"
        );
    }
    let out = run_tokend(&["token", "create", "--help"], None, &[], &dir.path);
    for word in ["--name", "--ttl"] {
        assert!(
            out.stdout.contains(word),
            "token create --help mentions {word}: {}",
            out.stdout
        );
    }
    let out = run_tokend(&["serve", "--help"], None, &[], &dir.path);
    for word in ["--listen", "--db", "--workers", "--access-ttl", "--issuer"] {
        assert!(
            out.stdout.contains(word),
            "serve --help mentions {word}: {}",
            out.stdout
        );
    }
    // --help creates no database.
    assert!(
        !dir.path.join("tokend.db").exists(),
        "--help must not create ./tokend.db"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new();
    let db = dir.path.join("x.db");
    let db = db.to_str().unwrap();
    for args in [
        vec!["--db", db, "frobnicate"],
        vec!["--db", db, "org"],
        vec!["--db", db, "token", "create", "alice@acme"],
        vec!["--db", db, "token", "list", "--bogus"],
        vec!["--db", db, "token", "revoke"],
    ] {
        let out = run_tokend(&args, None, &[], &dir.path);
        out.code_is(2, &format!("{args:?}"));
        assert!(!out.stderr.is_empty(), "{args:?}: message on stderr");
    }
}

#[test]
fn org_add_refuses_duplicates_and_invalid_names() {
    let srv = TestServer::start();
    srv.org_add("acme");
    srv.org_add("a.b_c-1");
    srv.org_add(&"x".repeat(64));

    let dup = srv.cli(&["org", "add", "acme"], None);
    dup.code_is(1, "duplicate org");
    assert!(!dup.stderr.trim().is_empty(), "message on stderr: {dup:#?}");
    srv.cli(&["org", "add", "System"], None)
        .code_is(1, "System exists already");

    for bad in [
        "",
        "has space",
        "slash/y",
        "ümlaut",
        "semi;colon",
        &"y".repeat(65),
    ] {
        let out = srv.cli(&["org", "add", bad], None);
        assert!(
            matches!(out.code, Some(1) | Some(2)),
            "org add {bad:?} must fail with 1 (or 2 from the parser): {out:#?}"
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "org add {bad:?}: message on stderr"
        );
    }
    let mut expected = vec![
        "System".to_owned(),
        "a.b_c-1".to_owned(),
        "acme".to_owned(),
        "x".repeat(64),
    ];
    expected.sort();
    assert_eq!(org_names(&srv), expected);
}

#[test]
fn user_add_reads_the_password_from_stdin() {
    let srv = TestServer::start();
    srv.org_add("acme");

    // Only the first line is the password.
    srv.cli(
        &["user", "add", "alice@acme", "--role", ROLE_TOKEN_USER],
        Some("first-line-pw\nsecond line\n"),
    )
    .ok("user add alice");
    srv.login("alice@acme", "first-line-pw", false);
    srv.login_response("alice@acme", "first-line-pw\nsecond line", false)
        .assert_status(401, "the second line is not part of the password");

    // Too short: refused, and no user is created.
    let out = srv.cli(&["user", "add", "bob@acme"], Some("short7!\n"));
    out.code_is(1, "7-character password");
    assert!(!out.stderr.trim().is_empty(), "{out:#?}");
    srv.login_response("bob@acme", "short7!", false)
        .assert_status(401, "bob was not created");
    srv.cli(&["user", "add", "bob@acme"], Some(""))
        .code_is(1, "empty stdin");
    srv.user_add("bob@acme", "exactly8", &[]);
    srv.login("bob@acme", "exactly8", false);

    srv.cli(&["user", "add", "alice@acme"], Some("another-password\n"))
        .code_is(1, "duplicate user");
    srv.login("alice@acme", "first-line-pw", false);
    srv.cli(&["user", "add", "carl@nowhere"], Some("password-123\n"))
        .code_is(1, "unknown org");
    let out = srv.cli(
        &["user", "add", "carl@acme", "--role", "Emperor"],
        Some("password-123\n"),
    );
    assert!(
        matches!(out.code, Some(1) | Some(2)),
        "unknown role refused: {out:#?}"
    );
    srv.login_response("carl@acme", "password-123", false)
        .assert_status(401, "carl was not created");
    let out = srv.cli(&["user", "add", "no-at-sign"], Some("password-123\n"));
    assert!(
        matches!(out.code, Some(1) | Some(2)),
        "USER@ORG required: {out:#?}"
    );

    // Several roles; the password never appears in the CLI output.
    let out = srv
        .cli(
            &[
                "user",
                "add",
                "dora@acme",
                "--role",
                ROLE_TOKEN_USER,
                "--role",
                ROLE_ORG_ADMIN,
            ],
            Some("dora-password-1\n"),
        )
        .ok("user add with two roles");
    assert!(!out.stdout.contains("dora-password-1") && !out.stderr.contains("dora-password-1"));
    let r = srv.login_response("dora@acme", "dora-password-1", false);
    r.assert_status(200, "dora login");
    let mut roles: Vec<String> = r.json()["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    roles.sort();
    assert_eq!(roles, vec![ROLE_ORG_ADMIN, ROLE_TOKEN_USER]);

    // Default role.
    let r = srv.login_response("bob@acme", "exactly8", false);
    assert_eq!(
        r.json()["roles"],
        serde_json::json!([ROLE_MEMBER]),
        "{}",
        r.describe()
    );
}

#[test]
fn token_create_prints_only_the_secret_on_stdout() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let out = srv
        .cli(
            &[
                "token", "create", &alice, "--name", "from-cli", "--ttl", "90d",
            ],
            None,
        )
        .ok("token create");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the secret alone: {out:#?}");
    let secret = lines[0].trim();
    assert_eq!(
        lines[0], secret,
        "no decoration around the secret: {out:#?}"
    );
    assert!(is_token_format(secret), "{secret:?}");
    assert_no_secret(out.stderr.as_bytes(), secret, "token create stderr");
    let ids = uuids_in(&out.stderr);
    assert_eq!(ids.len(), 1, "the token id goes to stderr: {out:#?}");

    // The CLI-made token is a normal token of alice.
    let r = srv.exchange_tenant("acme", secret);
    r.assert_status(200, "exchange CLI token");
    let jwt = srv.user_login(&alice);
    let list = srv.list_tokens(&jwt);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], ids[0].as_str());
    assert_eq!(list[0]["name"], "from-cli");
    let created = parse_rfc3339(s(&list[0], "created_at"));
    assert_near(
        parse_rfc3339(s(&list[0], "expires_at")) - created,
        90 * 86400,
        2,
        "--ttl 90d",
    );

    let (_, _) = srv.cli_token_create(&alice, "forever", Some("never"));
    let (_, _) = srv.cli_token_create(&alice, "default-ttl", None);
    let list = srv.list_tokens(&jwt);
    let forever = list.iter().find(|t| t["name"] == "forever").unwrap();
    assert!(forever["expires_at"].is_null(), "{forever}");
    let d = list.iter().find(|t| t["name"] == "default-ttl").unwrap();
    let life = parse_rfc3339(s(d, "expires_at")) - parse_rfc3339(s(d, "created_at"));
    assert!(
        (180 * 86400..=185 * 86400).contains(&life),
        "default 6 months: {d}"
    );

    for (args, what) in [
        (
            vec!["token", "create", &alice, "--name", "x", "--ttl", "30s"],
            "ttl below a minute",
        ),
        (
            vec!["token", "create", &alice, "--name", "x", "--ttl", "banana"],
            "bad ttl",
        ),
        (
            vec!["token", "create", "ghost@acme", "--name", "x"],
            "unknown user",
        ),
        (
            vec!["token", "create", "alice@nowhere", "--name", "x"],
            "unknown org",
        ),
        (vec!["token", "create", &alice, "--name", ""], "empty name"),
    ] {
        let out = srv.cli(&args, None);
        out.code_is(1, what);
        assert!(
            out.stdout.trim().is_empty(),
            "{what}: nothing on stdout: {out:#?}"
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "{what}: message on stderr: {out:#?}"
        );
    }
    assert_eq!(
        srv.list_tokens(&jwt).len(),
        3,
        "failed creates made nothing"
    );
}

#[test]
fn token_list_shows_names_and_owners_never_secrets() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let bob = srv.tenant_user("acme", "bob", &[ROLE_TOKEN_USER], false);
    let carol = srv.tenant_user("beta", "carol", &[ROLE_TOKEN_USER], true);
    let (s1, _) = srv.cli_token_create(&alice, "alice-deploy", Some("30m"));
    let (s2, _) = srv.cli_token_create(&bob, "bob-backup", Some("never"));
    let (s3, _) = srv.cli_token_create(&carol, "carol-ci", None);
    srv.exchange_tenant("acme", &s1)
        .assert_status(200, "use alice's token");

    let all = srv.cli_token_list(&[]);
    let header = all.lines().next().unwrap_or("");
    for col in [
        "ID",
        "OWNER",
        "NAME",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "STATUS",
    ] {
        assert!(header.contains(col), "column {col} in header {header:?}");
    }
    for (name, owner) in [
        ("alice-deploy", "alice@acme"),
        ("bob-backup", "bob@acme"),
        ("carol-ci", "carol@beta"),
    ] {
        let row = all
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} listed: {all}"));
        assert!(row.contains(owner), "owner {owner} on the row: {row:?}");
        assert_eq!(uuids_in(row).len(), 1, "the row shows the id: {row:?}");
    }
    for sec in [&s1, &s2, &s3] {
        assert_no_secret(all.as_bytes(), sec, "token list");
    }

    let beta = srv.cli_token_list(&["--org", "beta"]);
    assert!(beta.contains("carol-ci"), "{beta}");
    assert!(
        !beta.contains("alice-deploy") && !beta.contains("bob-backup"),
        "--org filters: {beta}"
    );

    let only_bob = srv.cli_token_list(&["--org", "acme", "--user", "bob"]);
    assert!(only_bob.contains("bob-backup"), "{only_bob}");
    assert!(
        !only_bob.contains("alice-deploy") && !only_bob.contains("carol-ci"),
        "--user filters: {only_bob}"
    );
}

#[test]
fn token_revoke_via_cli() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let (secret, err) = srv.cli_token_create(&alice, "to-revoke", Some("30m"));
    let id = uuids_in(&err).pop().expect("id on stderr");
    let (keep, _) = srv.cli_token_create(&alice, "to-keep", Some("30m"));

    let out = srv.cli(&["token", "revoke", &id], None).ok("token revoke");
    assert_no_secret(
        format!("{}{}", out.stdout, out.stderr).as_bytes(),
        &secret,
        "revoke output",
    );
    srv.exchange_authorize(&secret)
        .assert_oauth_error("invalid_grant", "exchange after CLI revoke");
    srv.exchange_authorize(&keep)
        .assert_status(200, "other token unaffected");

    let listing = srv.cli_token_list(&[]);
    if let Some(row) = listing.lines().find(|l| l.contains("to-revoke")) {
        assert!(
            row.to_ascii_lowercase().contains("revoked"),
            "revoked token row shows its status: {row:?}"
        );
    }

    let unknown = srv.cli(
        &["token", "revoke", "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10"],
        None,
    );
    unknown.code_is(1, "unknown id");
    assert!(
        !unknown.stderr.trim().is_empty(),
        "message on stderr: {unknown:#?}"
    );
    let garbage = srv.cli(&["token", "revoke", "not-a-uuid"], None);
    assert!(matches!(garbage.code, Some(1) | Some(2)), "{garbage:#?}");
    srv.exchange_authorize(&keep)
        .assert_status(200, "still unaffected");
}

#[test]
fn cli_honours_tokend_db_env() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    srv.cli_token_create(&alice, "env-visible", Some("30m"));
    let db = srv.db.to_str().unwrap().to_owned();
    let out = run_tokend(&["token", "list"], None, &[("TOKEND_DB", &db)], srv.dir());
    assert!(out.success(), "{out:#?}");
    assert!(
        out.stdout.contains("env-visible"),
        "TOKEND_DB selects the database: {out:#?}"
    );
}

#[test]
fn admin_commands_refuse_a_database_that_does_not_exist() {
    let dir = TempDir::new();
    let missing = dir.path.join("typo.db");
    let db = missing.to_str().unwrap().to_owned();
    for args in [
        vec!["--db", &db, "token", "list"],
        vec!["--db", &db, "org", "add", "acme"],
    ] {
        let out = run_tokend(&args, None, &[], &dir.path);
        out.code_is(1, "admin command on a missing database");
        assert!(out.stderr.contains("does not exist"), "{out:#?}");
        assert!(!missing.exists(), "no database was created: {out:#?}");
    }
}
