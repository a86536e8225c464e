//! The admin CLI's complete verbs, against the binary while the server
//! runs: `list` and `show` of every object with `--output json` printing
//! what the API answers for the same object; `role delete`; USER@ORG
//! wherever a user is named (`token list --user`, `group join`); `user
//! set` (an e-mail address and a name for the administrator, seen in
//! `/userinfo` and ID tokens) and `user password` (a forgotten
//! administrator password reset, its sessions ended); passwords typed on
//! a terminal (a pseudo-terminal from util-linux's `script`) without
//! echo; an empty file refused and left empty; ages for `audit --since`
//! and `--until`; expiries on a whole minute; and events naming the real
//! uid's user whatever `$USER` says.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

/// `tokend --db <db> ARGS` run successfully; its stdout as JSON.
fn cli_json(srv: &TestServer, args: &[&str]) -> Value {
    let out = srv.cli().run(args, None).ok(&format!("{args:?}"));
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {}", out.stdout))
}

/// `GET path` with the administrator's access token; the JSON answer.
fn api_json(srv: &TestServer, jwt: &str, path: &str) -> Value {
    let r = srv.api().get_bearer(path, jwt);
    r.assert_status(200, path);
    r.assert_json(path)
}

/// A listing's entries, in id order.
fn by_id(entries: &Value) -> Vec<Value> {
    let mut entries = entries
        .as_array()
        .unwrap_or_else(|| panic!("an array: {entries}"))
        .clone();
    entries.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    entries
}

/// The one entry of `entries` named `name`.
fn named<'a>(entries: &'a Value, key: &str, name: &str) -> &'a Value {
    entries
        .as_array()
        .and_then(|all| all.iter().find(|e| e[key] == name))
        .unwrap_or_else(|| panic!("{name} in {entries}"))
}

/// What `id -un` says: the name of the real uid running the tests.
fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The trail as `tokend audit --format json-lines` prints it.
fn cli_events(srv: &TestServer, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "--format", "json-lines"];
    all.extend_from_slice(args);
    let out = srv.cli().run(&all, None).ok("audit");
    out.stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// acme with alice (an e-mail address, a name, Token User) and bob; a
/// service, an org role of it and a global role; ops@acme holding the
/// role with alice in it; a rights bundle published to acme; an API token
/// of alice's; a service account of acme.
fn directory(srv: &TestServer) {
    let cli = srv.cli();
    cli.org_add("acme");
    cli.run(
        &[
            "user",
            "add",
            "alice@acme",
            "--role",
            ROLE_TOKEN_USER,
            "--email",
            "alice@acme.example",
            "--name",
            "Alice Example",
        ],
        Some(&format!("{USER_PASSWORD}\n")),
    )
    .ok("user add alice");
    cli.user_add("bob@acme", &[]);
    cli.service_add("vmc", &["vmc:sddc.read", "vmc:sddc.write"]);
    cli.run(
        &[
            "service",
            "set-identifier",
            "vmc",
            "https://vmc.example/api",
        ],
        None,
    )
    .ok("service set-identifier");
    cli.run(&["service", "add-client", "vmc"], None)
        .ok("service add-client");
    cli.role_add("sddc-reader", Some("acme"), Some("vmc"), &["vmc:sddc.read"]);
    cli.role_add("auditors", None, None, &["tokend:audit.view"]);
    cli.run(&["group", "add", "ops@acme"], None).ok("group add");
    cli.run(&["group", "join", "ops@acme", "alice@acme"], None)
        .ok("group join");
    cli.run(&["group", "grant", "ops@acme", "sddc-reader"], None)
        .ok("group grant");
    cli.bundle_publish_new("vmc-rights", &["vmc:sddc.read"], "acme");
    cli.token_create("alice@acme", "alice-ci", Some("30m"));
    let admin = srv.api().admin_login().access_token;
    srv.api().register(
        Endpoint::Tenant("acme"),
        &admin,
        &Registration::service_account("ci-runner", "ci").role(ROLE_TOKEN_USER),
    );
}

#[test]
fn lists_and_shows_print_in_json_what_the_api_answers() {
    let srv = TestServer::start();
    directory(&srv);
    let admin = srv.api().admin_login().access_token;
    let page = "?pageSize=100";

    // Orgs.
    let listed = cli_json(&srv, &["org", "list", "--output", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/org{page}"));
    assert_eq!(by_id(&listed), by_id(&api["orgs"]), "org list");
    assert_eq!(listed.as_array().unwrap().len(), 2, "System and acme");
    let acme = named(&api["orgs"], "name", "acme").clone();
    let id = str_field(&acme, "id");
    assert_eq!(
        cli_json(&srv, &["org", "show", "acme", "-o", "json"]),
        api_json(&srv, &admin, &format!("/api/org/{id}")),
        "org show"
    );

    // Users: service accounts are not users, in either listing.
    let listed = cli_json(&srv, &["user", "list", "--output", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/users{page}"));
    assert_eq!(by_id(&listed), by_id(&api["users"]), "user list");
    let mut names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["administrator", "alice", "bob"]);
    let only_acme = cli_json(&srv, &["user", "list", "--org", "acme", "-o", "json"]);
    assert_eq!(
        by_id(&only_acme),
        by_id(&api_json(&srv, &admin, "/api/users?org=acme")["users"]),
        "user list --org"
    );
    assert_eq!(only_acme.as_array().unwrap().len(), 2);
    let alice = cli_json(&srv, &["user", "show", "alice@acme", "--format", "json"]);
    let id = str_field(&alice, "id");
    assert_eq!(alice, api_json(&srv, &admin, &format!("/api/users/{id}")));
    assert_eq!(alice["email"], "alice@acme.example");
    assert_eq!(alice["name"], "Alice Example");

    // Roles, global and of an org.
    let listed = cli_json(&srv, &["role", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/roles{page}"));
    assert_eq!(by_id(&listed), by_id(&api["roles"]), "role list");
    let reader = cli_json(
        &srv,
        &["role", "show", "sddc-reader", "--org", "acme", "-o", "json"],
    );
    assert_eq!(&reader, named(&api["roles"], "name", "sddc-reader"));
    assert_eq!(reader["permissions"], json!(["vmc:sddc.read"]));
    assert_eq!(reader["service"], "vmc");
    let auditors = cli_json(&srv, &["role", "show", "auditors", "-o", "json"]);
    assert_eq!(&auditors, named(&api["roles"], "name", "auditors"));
    assert_eq!(auditors["global"], true);

    // Groups.
    let listed = cli_json(&srv, &["group", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/groups{page}"));
    assert_eq!(by_id(&listed), by_id(&api["groups"]), "group list");
    let ops = cli_json(&srv, &["group", "show", "ops@acme", "-o", "json"]);
    let id = str_field(&ops, "id");
    assert_eq!(ops, api_json(&srv, &admin, &format!("/api/groups/{id}")));
    assert_eq!(ops["members"], json!([alice["id"]]));
    assert_eq!(ops["roles"], json!(["sddc-reader"]));

    // Services, and a service's introspection clients.
    let listed = cli_json(&srv, &["service", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/services{page}"));
    assert_eq!(by_id(&listed), by_id(&api["services"]), "service list");
    let vmc = cli_json(&srv, &["service", "show", "vmc", "-o", "json"]);
    assert_eq!(&vmc, named(&api["services"], "name", "vmc"));
    assert_eq!(vmc["identifier"], "https://vmc.example/api");
    let id = str_field(&vmc, "id");
    let clients = cli_json(&srv, &["service", "clients", "vmc", "-o", "json"]);
    let api_clients = api_json(&srv, &admin, &format!("/api/services/{id}/clients"));
    assert_eq!(clients, api_clients["clients"], "service clients");
    assert_eq!(clients.as_array().unwrap().len(), 1);

    // Rights bundles.
    let listed = cli_json(&srv, &["bundle", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/rights-bundles{page}"));
    assert_eq!(by_id(&listed), by_id(&api["rights_bundles"]), "bundle list");
    let bundle = cli_json(&srv, &["bundle", "show", "vmc-rights", "-o", "json"]);
    assert_eq!(&bundle, named(&api["rights_bundles"], "name", "vmc-rights"));
    assert_eq!(bundle["orgs"], json!(["acme"]));

    // Service accounts.
    let listed = cli_json(&srv, &["service-account", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, &format!("/api/service-accounts{page}"));
    assert_eq!(by_id(&listed), by_id(&api["service_accounts"]));
    let id = str_field(named(&listed, "name", "ci-runner"), "id").to_owned();
    assert_eq!(
        cli_json(&srv, &["service-account", "show", &id, "-o", "json"]),
        api_json(&srv, &admin, &format!("/api/service-accounts/{id}"))
    );

    // API tokens: the entries of the API's listing of every token.
    let listed = cli_json(&srv, &["token", "list", "-o", "json"]);
    let api = api_json(&srv, &admin, "/api/tokens?all=true&pageSize=100");
    assert_eq!(by_id(&listed), by_id(&api["tokens"]), "token list");
    let token = named(&listed, "name", "alice-ci");
    assert_eq!(token["owner"]["name"], "alice");
    assert_eq!(token["revoked_at"], Value::Null);

    // The token policy.
    assert_eq!(
        cli_json(&srv, &["policy", "show", "-o", "json"]),
        api_json(&srv, &admin, "/api/token-policy")
    );

    // Signing keys: those the JWKS publishes, never a private part.
    let keys = cli_json(&srv, &["key", "list", "-o", "json"]);
    let mut kids: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    kids.sort_unstable();
    let jwks = srv.api().jwks();
    let mut published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    published.sort_unstable();
    assert_eq!(kids, published);
    let es256 = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["algorithm"] == "ES256")
        .unwrap();
    let shown = cli_json(
        &srv,
        &["key", "show", es256["kid"].as_str().unwrap(), "-o", "json"],
    );
    assert_eq!(&shown, es256);
    assert_eq!(shown["state"], "signs");
    assert!(
        !keys.to_string().contains("\"d\""),
        "no private part: {keys}"
    );

    // For people, a table with a header; unknown objects and formats fail.
    let table = srv
        .cli()
        .run(&["user", "list"], None)
        .ok("user list")
        .stdout;
    assert!(table.starts_with("ID  "), "{table}");
    assert!(table
        .lines()
        .any(|l| l.contains("alice@acme") && l.contains("Alice Example")));
    for (args, what) in [
        (vec!["user", "show", "ghost@acme"], "unknown user"),
        (vec!["org", "show", "nowhere"], "unknown org"),
        (
            vec!["role", "show", "sddc-reader"],
            "an org's role named as global",
        ),
        (
            vec!["group", "show", "ops@System"],
            "a group of another org",
        ),
        (vec!["key", "show", "no-such-kid"], "unknown key"),
    ] {
        let out = srv.cli().run(&args, None);
        out.code_is(1, what);
        assert!(out.stdout.is_empty(), "{what}: {out:#?}");
        assert!(out.stderr.contains("tokend: "), "{what}: {out:#?}");
    }
    srv.cli()
        .run(&["org", "list", "--output", "yaml"], None)
        .code_is(2, "an unknown format");
}

#[test]
fn role_delete_deletes_as_the_api_does() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[]);
    cli.service_add("vmc", &["vmc:sddc.read"]);
    cli.role_add("unused", Some("acme"), None, &["vmc:sddc.read"]);
    cli.role_add("held", Some("acme"), None, &["vmc:sddc.read"]);
    cli.role_set("grant", "alice@acme", "held");
    let admin = srv.api().admin_login().access_token;
    let names = |srv: &TestServer| {
        let roles = api_json(srv, &admin, "/api/roles?pageSize=100");
        let mut names: Vec<String> = roles["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    assert!(names(&srv).contains(&"unused".to_owned()));

    let out = cli
        .run(&["role", "delete", "unused", "--org", "acme"], None)
        .ok("role delete");
    assert!(out.stderr.contains("deleted role \"unused\""), "{out:#?}");
    assert!(
        !names(&srv).contains(&"unused".to_owned()),
        "gone from the API"
    );
    let events = cli_events(&srv, &["--type", "role.delete"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"]["name"], "unused");

    // As the API refuses: a role still held, a built-in role; and a role
    // that is not there.
    let held = cli.run(&["role", "delete", "held", "--org", "acme"], None);
    held.code_is(1, "a held role");
    assert!(held.stderr.contains("still held"), "{held:#?}");
    cli.run(&["role", "delete", ROLE_TOKEN_USER], None)
        .code_is(1, "a built-in role");
    cli.run(&["role", "delete", "unused", "--org", "acme"], None)
        .code_is(1, "deleted already");
    assert!(names(&srv).contains(&"held".to_owned()));
    assert!(names(&srv).contains(&ROLE_TOKEN_USER.to_owned()));
}

#[test]
fn users_are_named_user_at_org_everywhere() {
    let srv = TestServer::start();
    let (api, cli) = (srv.api(), srv.cli());
    cli.org_add("acme");
    cli.org_add("beta");
    for user in ["alice@acme", "bob@acme", "alice@beta"] {
        cli.user_add(user, &[ROLE_TOKEN_USER]);
    }
    cli.token_create("alice@acme", "alice-acme", Some("30m"));
    cli.token_create("bob@acme", "bob-acme", Some("30m"));
    cli.token_create("alice@beta", "alice-beta", Some("30m"));
    let names = |filters: &[&str]| {
        let mut names: Vec<String> = cli
            .token_rows(filters)
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&["--user", "alice@acme"]), ["alice-acme"]);
    assert_eq!(names(&["--user", "alice@beta"]), ["alice-beta"]);
    assert_eq!(names(&["--org", "acme", "--user", "alice"]), ["alice-acme"]);
    assert_eq!(names(&["--org", "acme"]), ["alice-acme", "bob-acme"]);
    for (filters, what) in [
        (
            vec!["--user", "ghost@acme"],
            "an unknown user is no empty table",
        ),
        (vec!["--user", "alice@nowhere"], "an unknown org"),
        (
            vec!["--user", "alice@acme", "--org", "beta"],
            "--user of another --org",
        ),
        (vec!["--user", "alice"], "a bare name without --org"),
    ] {
        let mut args = vec!["token", "list"];
        args.extend(filters);
        let out = cli.run(&args, None);
        out.code_is(1, what);
        assert!(out.stdout.is_empty(), "{what}: {out:#?}");
    }

    // Group membership: USER@ORG of the group's org, or the bare name.
    cli.run(&["group", "add", "ops@acme"], None).ok("group add");
    let joined = cli
        .run(&["group", "join", "ops@acme", "alice@acme"], None)
        .ok("group join USER@ORG");
    assert!(
        joined.stderr.contains("alice@acme joined ops@acme"),
        "{joined:#?}"
    );
    cli.run(&["group", "join", "ops@acme", "bob"], None)
        .ok("group join USER");
    let refused = cli.run(&["group", "join", "ops@acme", "alice@beta"], None);
    refused.code_is(1, "a user of another org");
    assert!(refused.stderr.contains("group's org"), "{refused:#?}");
    let admin = api.admin_login().access_token;
    let member_ids = || {
        let groups = api_json(&srv, &admin, "/api/groups");
        let mut ids: Vec<String> = named(&groups["groups"], "name", "ops")["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let users = api_json(&srv, &admin, "/api/users?org=acme");
    let id_of = |name: &str| str_field(named(&users["users"], "username", name), "id").to_owned();
    let mut expected = vec![id_of("alice"), id_of("bob")];
    expected.sort();
    assert_eq!(member_ids(), expected);
    cli.run(&["group", "leave", "ops@acme", "alice@acme"], None)
        .ok("group leave USER@ORG");
    assert_eq!(member_ids(), [id_of("bob")]);
}

#[test]
fn user_set_gives_the_administrator_an_email_and_a_name() {
    let srv = TestServer::start();
    let (api, cli) = (srv.api(), srv.cli());
    let session = api.admin_login().access_token;
    let before = api.userinfo(&session);
    assert!(
        before.get("email").is_none() && before.get("name").is_none(),
        "{before}"
    );

    let out = cli
        .run(
            &[
                "user",
                "set",
                "administrator@System",
                "--email",
                "admin@example.org",
                "--name",
                "Ada Admin",
            ],
            None,
        )
        .ok("user set");
    assert!(out.stdout.is_empty(), "{out:#?}");
    assert!(
        out.stderr.contains("e-mail set to \"admin@example.org\"")
            && out.stderr.contains("name set to \"Ada Admin\""),
        "{out:#?}"
    );
    // At once, for the session opened before.
    let info = api.userinfo(&session);
    assert_eq!(info["email"], "admin@example.org", "{info}");
    assert_eq!(info["name"], "Ada Admin", "{info}");
    // And in the ID token of an openid API token's exchange.
    let token = api.create_token_with(&session, &NewToken::named("oidc").openid());
    let exchanged = api.exchange_provider(&token.secret);
    let id_token = exchanged.id_token.expect("an ID token");
    let claims = jwt_parts(&id_token).1;
    assert_eq!(claims["email"], "admin@example.org", "{claims}");
    assert_eq!(claims["name"], "Ada Admin", "{claims}");
    assert_eq!(claims["preferred_username"], "administrator");

    // Audited, by the OS user, naming what changed but not the values.
    let events = cli_events(&srv, &["--type", "user.update"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["name"], format!("cli:{}", os_user()));
    assert_eq!(events[0]["target"]["name"], "administrator@System");
    assert_eq!(
        events[0]["additionalProperties"]["changed"],
        json!(["email", "name"])
    );
    assert!(!events[0].to_string().contains("admin@example.org"));

    // An empty value removes a field; the other stays.
    cli.run(
        &["user", "set", "administrator@System", "--email", ""],
        None,
    )
    .ok("user set --email ''");
    let info = api.userinfo(&session);
    assert!(info.get("email").is_none(), "{info}");
    assert_eq!(info["name"], "Ada Admin");

    // Refused: nothing to set, a bad address, an unknown user.
    cli.run(&["user", "set", "administrator@System"], None)
        .code_is(2, "nothing to set");
    let bad = cli.run(
        &[
            "user",
            "set",
            "administrator@System",
            "--email",
            "not an address",
        ],
        None,
    );
    bad.code_is(1, "a bad address");
    cli.run(&["user", "set", "ghost@System", "--name", "X"], None)
        .code_is(1, "an unknown user");
    assert!(api.userinfo(&session).get("email").is_none());
    assert_eq!(cli_events(&srv, &["--type", "user.update"]).len(), 2);
}

#[test]
fn user_password_resets_a_forgotten_administrator_password() {
    let srv = TestServer::start();
    let (api, cli) = (srv.api(), srv.cli());
    let old_session = api.admin_login().access_token;
    let new_password = "n3w-Admin-Passw0rd";

    // A too-short password says so, and changes nothing.
    let short = cli.run(
        &["user", "password", "administrator@System"],
        Some("short\n"),
    );
    short.code_is(1, "too short");
    assert!(short.stderr.contains("password is too short"), "{short:#?}");
    api.try_session_info(&old_session)
        .assert_status(200, "the session lives on after a refused reset");
    cli.run(
        &["user", "password", "ghost@System"],
        Some(&format!("{new_password}\n")),
    )
    .code_is(1, "an unknown user");

    let out = cli
        .run(
            &["user", "password", "administrator@System"],
            Some(&format!("{new_password}\nnot-this-line\n")),
        )
        .ok("user password");
    assert!(
        out.stderr
            .contains("set the password of administrator@System"),
        "{out:#?}"
    );
    assert!(!out.stdout.contains(new_password) && !out.stderr.contains(new_password));

    api.try_provider_login(ADMIN, ADMIN_PASSWORD)
        .assert_status(401, "the old password");
    api.provider_login(ADMIN, new_password);
    api.try_session_info(&old_session)
        .assert_status(401, "a session opened with the old password");

    let events = cli_events(&srv, &["--type", "user.password_change"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["name"], format!("cli:{}", os_user()));
    assert_eq!(events[0]["target"]["name"], "administrator@System");
    assert_eq!(events[0]["additionalProperties"]["own"], false);
}

/// `tokend ARGS` on a pseudo-terminal (util-linux's `script`), typing each
/// answer once the terminal shows its prompt and has its echo off: the
/// exit code and all the terminal showed.
fn on_terminal(db: &std::path::Path, args: &[&str], answers: &[(&str, &str)]) -> (i32, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let dir = TempDir::new();
    let tty_name = dir.path.join("tty");
    // The shell names the terminal before it becomes tokend, so the test
    // can ask that terminal whether its echo is off.
    let mut command = vec![
        format!("tty > {} && exec", quote(tty_name.to_str().unwrap())),
        quote(bin()),
        "--db".into(),
        quote(db.to_str().unwrap()),
    ];
    command.extend(args.iter().map(|a| quote(a)));
    let mut child = Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env_remove("TOKEND_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script (util-linux)");
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&shown);
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text =
        |shown: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    let mut stdin = child.stdin.take().unwrap();
    for (prompt, typed) in answers {
        // Typed only once the prompt is out, as a person types: with echo
        // still on, the terminal would show it.
        let seen = eventually(Duration::from_secs(20), || {
            text(&shown).contains(prompt).then_some(())
        });
        assert!(seen.is_some(), "prompt {prompt:?}: {}", text(&shown));
        // The prompt is written just before echo goes off: a person cannot
        // type into that instant, a test on a loaded machine could.
        let silent = eventually(Duration::from_secs(20), || {
            echo_is_off(&tty_name).then_some(())
        });
        assert!(silent.is_some(), "echo off for {prompt:?}");
        stdin.write_all(format!("{typed}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "tokend on a terminal: {}",
            text(&shown)
        );
        thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    (status.code().unwrap_or(-1), text(&shown))
}

/// Whether the terminal named in `tty_name` has its echo off
/// (coreutils' `stty`).
fn echo_is_off(tty_name: &std::path::Path) -> bool {
    let Ok(name) = std::fs::read_to_string(tty_name) else {
        return false;
    };
    let Ok(out) = Command::new("stty")
        .args(["-a", "-F", name.trim()])
        .output()
    else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|setting| setting == "-echo")
}

#[test]
fn passwords_are_typed_twice_without_echo_on_a_terminal() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    let first = "New password for carol@acme: ";
    let again = "The same password again: ";

    let (code, shown) = on_terminal(
        srv.db(),
        &["user", "add", "carol@acme", "--role", ROLE_TOKEN_USER],
        &[
            (first, "carol-Typed-secret-1"),
            (again, "carol-Typed-secret-1"),
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        !shown.contains("carol-Typed-secret-1"),
        "no echo: {shown:?}"
    );
    assert!(shown.contains("added user carol@acme"), "{shown:?}");
    api.login("carol@acme", "carol-Typed-secret-1");

    // Two different passwords: nothing is made.
    let (code, shown) = on_terminal(
        srv.db(),
        &["user", "add", "dave@acme"],
        &[
            ("New password for dave@acme: ", "dave-Typed-secret-1"),
            (again, "dave-Typed-secret-2"),
        ],
    );
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown:?}");
    assert!(!shown.contains("dave-Typed-secret"), "{shown:?}");
    api.try_login("dave@acme", "dave-Typed-secret-1")
        .assert_status(401, "dave was not made");

    // Too short: said at once, without asking again.
    let (code, shown) = on_terminal(
        srv.db(),
        &["user", "add", "dave@acme"],
        &[("New password for dave@acme: ", "short")],
    );
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("password is too short"), "{shown:?}");
    assert!(!shown.contains(again), "{shown:?}");

    // `user password` the same way: the new one works, the old does not.
    let (code, shown) = on_terminal(
        srv.db(),
        &["user", "password", "carol@acme"],
        &[
            (first, "carol-Typed-secret-2"),
            (again, "carol-Typed-secret-2"),
        ],
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        !shown.contains("carol-Typed-secret-2"),
        "no echo: {shown:?}"
    );
    api.login("carol@acme", "carol-Typed-secret-2");
    api.try_login("carol@acme", "carol-Typed-secret-1")
        .assert_status(401, "the old password");
}

#[test]
fn an_empty_file_is_refused_and_left_empty() {
    let dir = TempDir::new();
    let empty = dir.path.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let db = empty.to_str().unwrap().to_owned();
    for (args, stdin) in [
        (vec!["org", "list"], None),
        (vec!["org", "add", "acme"], None),
        (vec!["user", "add", "alice@acme"], Some("password-123\n")),
        (vec!["token", "list"], None),
    ] {
        let mut all = vec!["--db", db.as_str()];
        all.extend(&args);
        let out = run_tokend(&all, stdin, &[], &dir.path);
        out.code_is(1, &format!("{args:?} on an empty file"));
        assert!(
            out.stderr.contains("holds no tokend database"),
            "{args:?}: {out:#?}"
        );
        assert_eq!(
            std::fs::metadata(&empty).unwrap().len(),
            0,
            "{args:?}: still empty"
        );
    }
    let mut beside: Vec<String> = std::fs::read_dir(&dir.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["empty.db"], "no WAL, no lock file");

    // The help says who creates the file.
    let help = run_tokend(&["org", "list", "--help"], None, &[], &dir.path);
    assert!(
        help.stdout.contains("creates it on first start"),
        "{help:#?}"
    );
    assert!(!help.stdout.contains("created on first use"), "{help:#?}");
}

#[test]
fn audit_takes_ages_as_well_as_times() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("early");
    let kinds = |args: &[&str]| -> Vec<String> {
        cli_events(&srv, args)
            .iter()
            .map(|e| format!("{}:{}", e["type"].as_str().unwrap(), e["target"]["name"]))
            .collect()
    };
    let everything = kinds(&["--since", "1h"]);
    assert!(
        everything.contains(&"org.create:\"early\"".to_owned()),
        "{everything:?}"
    );
    assert!(
        everything
            .iter()
            .any(|k| k.starts_with("system.initialize")),
        "{everything:?}"
    );
    assert_eq!(
        kinds(&["--until", "1h"]),
        Vec::<String>::new(),
        "nothing is an hour old"
    );
    assert_eq!(kinds(&["--since", "2000-01-01"]), everything, "a date");

    thread::sleep(Duration::from_millis(2100));
    cli.org_add("late");
    let recent = kinds(&["--since", "2s"]);
    assert_eq!(recent, ["org.create:\"late\""], "--since 2s narrows");
    let before = kinds(&["--until", "1s", "--type", "org.create"]);
    assert_eq!(before, ["org.create:\"early\""], "--until 1s");

    let bad = cli.run(&["audit", "--since", "banana"], None);
    bad.code_is(2, "not a time");
    assert!(bad.stderr.contains("--since"), "{bad:#?}");
}

#[test]
fn default_expiries_land_on_a_whole_minute() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.token_create("alice@acme", "default", None);
    cli.token_create("alice@acme", "asked", Some("90d"));
    let listed = cli_json(&srv, &["token", "list", "-o", "json"]);
    let times = |name: &str| {
        let token = named(&listed, "name", name);
        (
            parse_rfc3339(str_field(token, "created_at")),
            parse_rfc3339(str_field(token, "expires_at")),
        )
    };
    // No --ttl: the default, on to the next whole minute.
    let (created, expires) = times("default");
    assert_eq!(expires % 60, 0, "a whole minute: {listed}");
    assert!(
        (created + SIX_MONTHS..created + SIX_MONTHS + 60).contains(&expires),
        "the first whole minute six months on: {listed}"
    );
    // A lifetime asked for is kept to the second.
    let (created, expires) = times("asked");
    assert_eq!(expires - created, 90 * 86400, "{listed}");

    // The API's tokens alike.
    let alice = srv.api().user_login("alice@acme").access_token;
    srv.api()
        .create_token(&alice, "by-api", None)
        .assert_default_lifetime(SIX_MONTHS, "an API token of the default lifetime");
    assert_eq!(
        srv.api()
            .create_token(&alice, "by-api-45m", Some("45m"))
            .lifetime(),
        Some(45 * 60)
    );
}

#[test]
fn events_name_the_real_uid_not_user() {
    let srv = TestServer::start();
    let db = srv.db().to_str().unwrap().to_owned();
    run_tokend(
        &["--db", &db, "org", "add", "acme"],
        None,
        &[("USER", "mallory"), ("LOGNAME", "mallory")],
        srv.dir(),
    )
    .ok("org add with USER=mallory");
    let events = cli_events(&srv, &["--type", "org.create"]);
    assert_eq!(events.len(), 1, "{events:?}");
    let actor = events[0]["actor"]["name"].as_str().unwrap();
    assert_eq!(actor, format!("cli:{}", os_user()));
    assert_ne!(actor, "cli:mallory");
}
