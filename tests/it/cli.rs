//! The admin CLI on the same database while the server runs: `--help` on
//! every subcommand, `org add` (duplicates and invalid names refused),
//! `user add` (password from the first line of stdin, minimum length,
//! roles, default role), `token create` (only the secret on stdout),
//! `token list` (table with names and owners, never secrets, filters),
//! `token revoke` (the token leaves the listing and shows as revoked under
//! `--all`; unknown id → exit 1), `--db` vs `TOKEND_DB`, and usage errors
//! (exit 2).

use crate::support::*;

fn org_names(srv: &TestServer) -> Vec<String> {
    let admin = srv.api().admin_login().access_token;
    let mut v: Vec<String> = srv.api().orgs(&admin).into_iter().map(|o| o.name).collect();
    v.sort();
    v
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
    let cli = srv.cli();
    cli.org_add("acme");
    cli.org_add("a.b_c-1");
    cli.org_add(&"x".repeat(64));

    let dup = cli.run(&["org", "add", "acme"], None);
    dup.code_is(1, "duplicate org");
    assert!(!dup.stderr.trim().is_empty(), "message on stderr: {dup:#?}");
    cli.run(&["org", "add", "System"], None)
        .code_is(1, "System exists already");

    for bad in [
        "",
        "has space",
        "slash/y",
        "ümlaut",
        "semi;colon",
        &"y".repeat(65),
    ] {
        let out = cli.run(&["org", "add", bad], None);
        // The parser accepts any string; the name rules are tokend's.
        out.code_is(1, &format!("org add {bad:?}"));
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
    let (api, cli) = (srv.api(), srv.cli());
    cli.org_add("acme");

    // Only the first line is the password.
    cli.run(
        &["user", "add", "alice@acme", "--role", ROLE_TOKEN_USER],
        Some("first-line-pw\nsecond line\n"),
    )
    .ok("user add alice");
    api.login("alice@acme", "first-line-pw");
    api.try_login("alice@acme", "first-line-pw\nsecond line")
        .assert_status(401, "the second line is not part of the password");

    // Too short: refused, and no user is created.
    let out = cli.run(&["user", "add", "bob@acme"], Some("short7!\n"));
    out.code_is(1, "7-character password");
    assert!(!out.stderr.trim().is_empty(), "{out:#?}");
    api.try_login("bob@acme", "short7!")
        .assert_status(401, "bob was not created");
    cli.run(&["user", "add", "bob@acme"], Some(""))
        .code_is(1, "empty stdin");
    cli.user_add_with_password("bob@acme", "exactly8", &[]);
    api.login("bob@acme", "exactly8");

    cli.run(&["user", "add", "alice@acme"], Some("another-password\n"))
        .code_is(1, "duplicate user");
    api.login("alice@acme", "first-line-pw");
    cli.run(&["user", "add", "carl@nowhere"], Some("password-123\n"))
        .code_is(1, "unknown org");
    // Roles and the USER@ORG form are tokend's to check, not the parser's.
    cli.run(
        &["user", "add", "carl@acme", "--role", "Emperor"],
        Some("password-123\n"),
    )
    .code_is(1, "unknown role refused");
    api.try_login("carl@acme", "password-123")
        .assert_status(401, "carl was not created");
    cli.run(&["user", "add", "no-at-sign"], Some("password-123\n"))
        .code_is(1, "USER@ORG required");

    // Several roles; the password never appears in the CLI output.
    let out = cli
        .run(
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
    let mut roles = api.login("dora@acme", "dora-password-1").roles;
    roles.sort();
    assert_eq!(roles, [ROLE_ORG_ADMIN, ROLE_TOKEN_USER]);

    // Default role.
    assert_eq!(api.login("bob@acme", "exactly8").roles, [ROLE_MEMBER]);
}

#[test]
fn token_create_prints_only_the_secret_on_stdout() {
    let srv = TestServer::start();
    let (api, cli) = (srv.api(), srv.cli());
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let out = cli
        .run(
            &[
                "token",
                "create",
                "alice@acme",
                "--name",
                "from-cli",
                "--ttl",
                "90d",
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
    api.try_exchange_tenant("acme", secret)
        .assert_status(200, "exchange CLI token");
    let jwt = api.user_login("alice@acme").access_token;
    let list = api.list_tokens(&jwt);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].id, ids[0]);
    assert_eq!(list[0].name, "from-cli");
    assert_eq!(list[0].lifetime(), Some(90 * 86400), "--ttl 90d");

    cli.token_create("alice@acme", "forever", Some("never"));
    cli.token_create("alice@acme", "default-ttl", None);
    let list = api.list_tokens(&jwt);
    let forever = list.iter().find(|t| t.name == "forever").unwrap();
    assert_eq!(forever.expires_at, None, "{forever:?}");
    let d = list.iter().find(|t| t.name == "default-ttl").unwrap();
    d.assert_default_lifetime(SIX_MONTHS, "default 6 months");

    for (args, what) in [
        (
            vec![
                "token",
                "create",
                "alice@acme",
                "--name",
                "x",
                "--ttl",
                "30s",
            ],
            "ttl below a minute",
        ),
        (
            vec![
                "token",
                "create",
                "alice@acme",
                "--name",
                "x",
                "--ttl",
                "banana",
            ],
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
        (
            vec!["token", "create", "alice@acme", "--name", ""],
            "empty name",
        ),
    ] {
        let out = cli.run(&args, None);
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
        api.list_tokens(&jwt).len(),
        3,
        "failed creates made nothing"
    );
}

#[test]
fn token_list_shows_names_and_owners_never_secrets() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.user_add("bob@acme", &[ROLE_TOKEN_USER]);
    cli.org_add("beta");
    cli.user_add("carol@beta", &[ROLE_TOKEN_USER]);
    let t1 = cli.token_create("alice@acme", "alice-deploy", Some("30m"));
    let t2 = cli.token_create("bob@acme", "bob-backup", Some("never"));
    let t3 = cli.token_create("carol@beta", "carol-ci", None);
    srv.api()
        .try_exchange_tenant("acme", &t1.secret)
        .assert_status(200, "use alice's token");

    let all = cli.token_list(&[]);
    let header = all.lines().next().unwrap_or("");
    for col in [
        "ID",
        "OWNER",
        "NAME",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "LAST CLIENT",
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
        // Only the token used shows where from.
        assert_eq!(
            row.contains("127.0.0.1"),
            name == "alice-deploy",
            "last client on the row: {row:?}"
        );
    }
    for t in [&t1, &t2, &t3] {
        assert_no_secret(all.as_bytes(), &t.secret, "token list");
    }

    let beta = cli.token_list(&["--org", "beta"]);
    assert!(beta.contains("carol-ci"), "{beta}");
    assert!(
        !beta.contains("alice-deploy") && !beta.contains("bob-backup"),
        "--org filters: {beta}"
    );

    let only_bob = cli.token_list(&["--org", "acme", "--user", "bob"]);
    assert!(only_bob.contains("bob-backup"), "{only_bob}");
    assert!(
        !only_bob.contains("alice-deploy") && !only_bob.contains("carol-ci"),
        "--user filters: {only_bob}"
    );
}

#[test]
fn token_revoke_via_cli() {
    let srv = TestServer::start();
    let (api, cli) = (srv.api(), srv.cli());
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let doomed = cli.token_create("alice@acme", "to-revoke", Some("30m"));
    let keep = cli.token_create("alice@acme", "to-keep", Some("30m"));

    let out = cli
        .run(&["token", "revoke", &doomed.id], None)
        .ok("token revoke");
    assert_no_secret(
        format!("{}{}", out.stdout, out.stderr).as_bytes(),
        &doomed.secret,
        "revoke output",
    );
    api.try_exchange_authorize(&doomed.secret)
        .assert_oauth_error("invalid_grant", "exchange after CLI revoke");
    api.try_exchange_authorize(&keep.secret)
        .assert_status(200, "other token unaffected");

    // The default listing hides revoked tokens; --all shows them as such.
    let listed: Vec<(String, String)> = cli
        .token_rows(&[])
        .into_iter()
        .map(|r| (r.name, r.status))
        .collect();
    assert_eq!(
        listed,
        [("to-keep".to_owned(), "active".to_owned())],
        "token list without --all"
    );
    let rows = cli.token_rows(&["--all"]);
    let revoked = rows
        .iter()
        .find(|r| r.name == "to-revoke")
        .unwrap_or_else(|| panic!("token list --all shows the revoked token: {rows:?}"));
    assert_eq!(revoked.id, doomed.id, "{revoked:?}");
    assert_eq!(revoked.owner, "alice@acme", "{revoked:?}");
    assert_eq!(revoked.status, "revoked", "{revoked:?}");
    let kept = rows
        .iter()
        .find(|r| r.name == "to-keep")
        .unwrap_or_else(|| panic!("token list --all shows the kept token: {rows:?}"));
    assert_eq!(kept.status, "active", "{kept:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");

    let unknown = cli.run(
        &["token", "revoke", "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10"],
        None,
    );
    unknown.code_is(1, "unknown id");
    assert!(
        !unknown.stderr.trim().is_empty(),
        "message on stderr: {unknown:#?}"
    );
    // Any string parses as an id; tokend finds no token by it.
    cli.run(&["token", "revoke", "not-a-uuid"], None)
        .code_is(1, "malformed id");
    api.try_exchange_authorize(&keep.secret)
        .assert_status(200, "still unaffected");
}

#[test]
fn cli_honours_tokend_db_env() {
    let srv = TestServer::start();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli()
        .token_create("alice@acme", "env-visible", Some("30m"));
    let db = srv.db().to_str().unwrap().to_owned();
    let out = run_tokend(&["token", "list"], None, &[("TOKEND_DB", &db)], srv.dir())
        .ok("token list with TOKEND_DB");
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
