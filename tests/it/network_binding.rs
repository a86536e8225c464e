//! API tokens bound to networks (`bound_cidrs`): an exchange from an
//! address outside them is refused `invalid_grant` with the answer an
//! unknown token gets, and audited; from inside it is accepted, at both
//! dialects' endpoints. The address is the one the transport computes for
//! the audit trail: `X-Forwarded-For` counts from a trusted proxy only. An
//! org's policy can require a binding; tokens made unbound before it are
//! reported, not broken. Invalid CIDRs are refused and make nothing;
//! listings, the CLI included, mark unbound tokens.

use serde_json::{json, Value};

use crate::support::*;

/// Where the bound client works from, and another loopback address.
const BOUND_HOST: &str = "127.0.0.2";
const OTHER_HOST: &str = "127.0.0.1";

/// Tenant `acme` with Token User alice; her session's access token.
fn alice(srv: &TestServer) -> String {
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.api().user_login("alice@acme").access_token
}

/// An exchange of `secret` at `path` (the tenant's token endpoint, or the
/// console's authorize endpoint) sent from the loopback address `source`,
/// with one `X-Forwarded-For` line per item of `forwarded`.
fn exchange_from(
    srv: &TestServer,
    source: &str,
    path: &str,
    secret: &str,
    forwarded: &[&str],
) -> Response {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        form_encode(secret)
    );
    let mut headers = vec![("Content-Type", FORM)];
    headers.extend(forwarded.iter().map(|line| ("X-Forwarded-For", *line)));
    let request = build_request(srv.addr(), "POST", path, &headers, Some(body.as_bytes()));
    send_from(srv.addr(), source, &request)
}

fn tenant(srv: &TestServer, source: &str, secret: &str, forwarded: &[&str]) -> Response {
    exchange_from(srv, source, &tenant_token_path("acme"), secret, forwarded)
}

/// The `token.exchange_failed` events naming token `id`, once there are
/// `count`.
fn failures_of(srv: &TestServer, admin: &str, id: &str, count: usize) -> Vec<Value> {
    eventually(std::time::Duration::from_secs(5), || {
        let events: Vec<Value> = srv
            .api()
            .every_event(admin, "type=token.exchange_failed")
            .into_iter()
            .filter(|e| e["target"]["id"] == id)
            .collect();
        (events.len() == count).then_some(events)
    })
    .unwrap_or_else(|| panic!("{count} refused exchanges of {id} in the trail"))
}

/// The whole body of a refused exchange.
fn refusal(r: &Response, what: &str) -> Value {
    r.assert_oauth_error("invalid_grant", what);
    r.json()
}

#[test]
fn an_exchange_from_outside_the_bound_networks_is_refused_as_an_unknown_token_and_audited() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let admin = srv.api().admin_login().access_token;
    let bound = srv
        .api()
        .create_token_with(&jwt, &NewToken::named("bound").bound_to(&[BOUND_HOST]));
    let created = srv.api().try_create_token_with(
        &jwt,
        &NewToken::named("bound-again").bound_to(&[BOUND_HOST]),
    );
    assert_eq!(
        created.json()["bound_cidrs"],
        json!(["127.0.0.2/32"]),
        "a bare address is that host alone: {}",
        created.describe()
    );
    assert_eq!(created.json()["network_bound"], true);

    // From elsewhere: refused at both dialects' endpoints, in the words an
    // unknown token gets, so the holder of a stolen token learns nothing.
    let revoked = srv.api().create_token(&jwt, "revoked", None);
    srv.api().revoke_token(&jwt, &revoked.id);
    let unknown = refusal(
        &tenant(&srv, OTHER_HOST, &revoked.secret, &[]),
        "revoked token",
    );
    let outside = refusal(&tenant(&srv, OTHER_HOST, &bound.secret, &[]), "outside");
    assert_eq!(outside, unknown, "the binding is not told");
    assert_eq!(outside["error_description"], INVALID_OR_REVOKED);
    let at_authorize = exchange_from(&srv, OTHER_HOST, AUTHORIZE, &bound.secret, &[]);
    at_authorize.assert_oauth_error("invalid_grant", "outside, at authorize");
    assert!(
        !at_authorize.text().contains("127.0.0.2"),
        "{}",
        at_authorize.describe()
    );
    let listed = |srv: &TestServer| -> Value {
        let page = srv.api().try_token_page(&jwt, "").assert_json("list");
        page["tokens"]
            .as_array()
            .and_then(|tokens| tokens.iter().find(|t| t["id"] == bound.id.as_str()))
            .cloned()
            .expect("listed")
    };
    assert_eq!(
        listed(&srv)["last_used_at"],
        Value::Null,
        "a refusal stamps nothing"
    );

    // Audited with its reason and the client's address.
    let failures = failures_of(&srv, &admin, &bound.id, 2);
    for event in &failures {
        assert_eq!(event["outcome"], "failure", "{event}");
        assert_eq!(event["client_ip"], OTHER_HOST, "{event}");
        let reason = event["additionalProperties"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(reason.starts_with("network"), "{event}");
    }

    // From inside: accepted at both.
    tenant(&srv, BOUND_HOST, &bound.secret, &[]).assert_status(200, "inside, tenant endpoint");
    exchange_from(&srv, BOUND_HOST, AUTHORIZE, &bound.secret, &[])
        .assert_status(200, "inside, authorize");
    let used = listed(&srv);
    assert_eq!(used["last_used_ip"], BOUND_HOST, "{used}");
    assert_eq!(used["bound_cidrs"], json!(["127.0.0.2/32"]), "{used}");
    // An unbound token any address may exchange.
    let open = srv.api().create_token(&jwt, "open", None);
    tenant(&srv, OTHER_HOST, &open.secret, &[]).assert_status(200, "unbound");
}

#[test]
fn an_ipv6_binding_matches_ipv6_clients_only() {
    if let Err(e) = std::net::TcpListener::bind("[::1]:0") {
        eprintln!("skipped: no IPv6 loopback on this machine ({e})");
        return;
    }
    let srv = TestServer::config().listen_host("[::1]").start();
    let jwt = alice(&srv);
    let make = |name: &str, cidrs: &[&str]| {
        srv.api()
            .create_token_with(&jwt, &NewToken::named(name).bound_to(cidrs))
            .secret
    };
    let loopback = make("loopback", &["::1"]);
    let documentation = make("documentation", &["2001:db8::/32"]);
    let v4_loopback = make("v4", &["127.0.0.0/8"]);
    let either = make("either", &["192.0.2.0/24", "::/64"]);
    let api = srv.api();
    api.try_exchange_tenant("acme", &loopback)
        .assert_status(200, "::1 in ::1/128");
    api.try_exchange_tenant("acme", &either)
        .assert_status(200, "::1 in ::/64");
    api.try_exchange_tenant("acme", &documentation)
        .assert_oauth_error("invalid_grant", "::1 outside 2001:db8::/32");
    api.try_exchange_tenant("acme", &v4_loopback)
        .assert_oauth_error(
            "invalid_grant",
            "an IPv6 client never matches an IPv4 network",
        );
}

#[test]
fn a_forwarded_address_satisfies_a_binding_only_from_a_trusted_proxy() {
    const PROXY: &str = "127.0.0.7";
    const STRANGER: &str = "127.0.0.8";
    const OFFICE: &str = "198.51.100.20";
    let srv = TestServer::config()
        .arg("--trusted-proxy")
        .arg(PROXY)
        .start();
    let jwt = alice(&srv);
    let admin = srv.api().admin_login().access_token;
    let token = srv.api().create_token_with(
        &jwt,
        &NewToken::named("office").bound_to(&["198.51.100.0/24"]),
    );
    tenant(&srv, PROXY, &token.secret, &[OFFICE]).assert_status(200, "office via the proxy");
    let exchanged = srv.api().recorded_events(&admin, "token.exchange", 1);
    assert_eq!(
        exchanged[0]["client_ip"], OFFICE,
        "the address bound is the one audited"
    );

    let refused = [
        ("elsewhere via the proxy", PROXY, vec!["203.0.113.5"]),
        ("the proxy itself", PROXY, vec![]),
        // The walk stops at the junk: the proxy's own view is all that
        // can be believed.
        (
            "office address before junk",
            PROXY,
            vec!["198.51.100.20, junk"],
        ),
        ("a header from an untrusted peer", STRANGER, vec![OFFICE]),
    ];
    for (what, peer, forwarded) in &refused {
        tenant(&srv, peer, &token.secret, forwarded).assert_oauth_error("invalid_grant", what);
    }
    let failures = failures_of(&srv, &admin, &token.id, refused.len());
    let mut addresses: Vec<&str> = failures
        .iter()
        .map(|e| e["client_ip"].as_str().unwrap_or("-"))
        .collect();
    addresses.sort_unstable();
    assert_eq!(
        addresses,
        ["127.0.0.7", "127.0.0.7", "127.0.0.8", "203.0.113.5"],
        "each refusal names the address the binding was checked against"
    );
}

#[test]
fn an_org_policy_can_require_a_binding_and_reports_the_tokens_made_without_one() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let admin = srv.api().admin_login().access_token;
    let acme = srv.api().list_orgs(&admin, "").id_of("acme");
    let before = srv.api().create_token(&jwt, "before the rule", None);
    let bound_before = srv.api().create_token_with(
        &jwt,
        &NewToken::named("bound before").bound_to(&["10.0.0.0/8"]),
    );

    let view = srv.api().set_token_policy(
        &admin,
        Some(&acme),
        &TokenPolicy::default().require_bound_cidrs(true),
    );
    assert_eq!(view.effective.require_bound_cidrs, Some(true));
    for (what, token) in [
        ("no binding", NewToken::named("loose")),
        ("an empty binding", NewToken::named("loose").bound_to(&[])),
        (
            "a binding to everything",
            NewToken::named("loose").bound_to(&["0.0.0.0/0", "::/0"]),
        ),
    ] {
        let r = srv.api().try_create_token_with(&jwt, &token);
        let body = r.assert_error(400, "invalid_request", what);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("require_bound_cidrs")),
            "{what}: {body}"
        );
    }
    let bound = srv
        .api()
        .create_token_with(&jwt, &NewToken::named("bound").bound_to(&["127.0.0.0/8"]));
    let names: Vec<String> = srv
        .api()
        .list_tokens(&jwt)
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 3, "the refusals made nothing: {names:?}");

    // No other way to an unbound token: the JWT-bearer grant, which takes
    // no networks, is refused too, and makes nothing.
    let client = srv
        .api()
        .register(
            Endpoint::Tenant("acme"),
            &jwt,
            &Registration::oauth_client("terraform"),
        )
        .client_id;
    let minted = srv.api().try_jwt_bearer("acme", &client, &jwt);
    let why = minted.assert_oauth_error("invalid_request", "the JWT-bearer grant");
    assert!(why.contains("require_bound_cidrs"), "{why}");

    // The CLI is held to the same rule.
    let cli = srv.cli();
    let refused = cli.run(
        &["token", "create", "alice@acme", "--name", "cli-loose"],
        None,
    );
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    assert!(
        refused.stderr.contains("require_bound_cidrs"),
        "{refused:#?}"
    );
    cli.run(
        &[
            "token",
            "create",
            "alice@acme",
            "--name",
            "cli-bound",
            "--bound-cidr",
            "192.0.2.0/24,2001:db8::/32",
        ],
        None,
    )
    .ok("token create --bound-cidr");

    // The token made unbound before keeps working, and is reported.
    srv.api()
        .try_exchange_tenant("acme", &before.secret)
        .assert_status(200, "an unbound token from before the rule");
    let exceeding = srv.api().exceeding_tokens(&admin, &acme);
    assert_eq!(exceeding.ids(), [before.id.as_str()], "{exceeding:?}");
    let report = cli
        .run(&["policy", "exceeding", "acme"], None)
        .ok("policy exceeding");
    let row = report
        .stdout
        .lines()
        .find(|line| line.contains(&before.id))
        .unwrap_or_else(|| panic!("the unbound token reported: {}", report.stdout));
    assert!(row.trim_end().ends_with("any"), "{row:?}");
    for id in [&bound.id, &bound_before.id] {
        assert!(!report.stdout.contains(id.as_str()), "{}", report.stdout);
    }

    // An org may not lift a binding the provider's default requires.
    srv.api().set_token_policy(
        &admin,
        None,
        &TokenPolicy::default().require_bound_cidrs(true),
    );
    srv.api()
        .try_set_token_policy(
            &admin,
            Some(&acme),
            &TokenPolicy::default().require_bound_cidrs(false),
        )
        .assert_error(400, "invalid_request", "looser than the default");
    let shown = cli
        .run(&["policy", "show", "--org", "acme"], None)
        .ok("policy show");
    assert!(
        shown
            .stdout
            .lines()
            .any(|l| l.starts_with("require_bound_cidrs") && l.ends_with("in force: true")),
        "{}",
        shown.stdout
    );
}

#[test]
fn invalid_bound_cidrs_are_refused_and_make_nothing() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let many: Vec<String> = (0..33).map(|n| format!("\"10.0.{n}.0/24\"")).collect();
    for (what, cidrs) in [
        ("host bits set", r#"["10.0.0.1/8"]"#.to_owned()),
        ("not an address", r#"["intranet"]"#.to_owned()),
        ("prefix too long", r#"["10.0.0.0/33"]"#.to_owned()),
        ("IPv6 prefix too long", r#"["2001:db8::/129"]"#.to_owned()),
        ("a zone", r#"["fe80::1%eth0"]"#.to_owned()),
        ("empty entry", r#"[""]"#.to_owned()),
        ("more than 32", format!("[{}]", many.join(","))),
    ] {
        let body = format!(r#"{{"name":"bad","bound_cidrs":{cidrs}}}"#);
        let refused = srv.api().try_create_token(&jwt, &body);
        let answer = refused.assert_error(400, "invalid_request", what);
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("bound_cidrs")),
            "{what}: the message names the field: {answer}"
        );
    }
    let host_bits = srv
        .api()
        .try_create_token(&jwt, r#"{"name":"bad","bound_cidrs":["10.0.0.1/8"]}"#)
        .json();
    assert!(
        host_bits["message"]
            .as_str()
            .is_some_and(|m| m.contains("10.0.0.0/8")),
        "the message says what was meant: {host_bits}"
    );
    for (what, body) in [
        (
            "a string, not a list",
            r#"{"name":"bad","bound_cidrs":"10.0.0.0/8"}"#,
        ),
        (
            "a number in the list",
            r#"{"name":"bad","bound_cidrs":[10]}"#,
        ),
    ] {
        srv.api()
            .try_create_token(&jwt, body)
            .assert_status(400, what);
    }
    let refused = srv.cli().run(
        &[
            "token",
            "create",
            "alice@acme",
            "--name",
            "bad",
            "--bound-cidr",
            "192.0.2.1/24",
        ],
        None,
    );
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    assert!(refused.stderr.contains("192.0.2.0/24"), "{refused:#?}");
    assert!(
        srv.api().list_tokens(&jwt).is_empty(),
        "no refusal made a token"
    );

    // Accepted entries are kept in one canonical form, once each.
    let created = srv.api().try_create_token_with(
        &jwt,
        &NewToken::named("canonical").bound_to(&[
            "10.1.2.3",
            "::ffff:10.0.0.0/104",
            "2001:DB8:0::/32",
            "10.1.2.3/32",
        ]),
    );
    created.assert_status(201, "canonical");
    assert_eq!(
        created.json()["bound_cidrs"],
        json!(["10.1.2.3/32", "10.0.0.0/8", "2001:db8::/32"])
    );
}

#[test]
fn listings_mark_unbound_tokens() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let admin = srv.api().admin_login().access_token;
    srv.api().create_token(&jwt, "anywhere", None);
    srv.api().create_token_with(
        &jwt,
        &NewToken::named("office").bound_to(&["192.0.2.0/24", "2001:db8::/32"]),
    );
    for (whose, jwt, query) in [("own", &jwt, ""), ("everyone's", &admin, "all=true")] {
        let page = srv.api().try_token_page(jwt, query).assert_json(whose);
        let tokens = page["tokens"].as_array().expect("tokens");
        let by_name = |name: &str| {
            tokens
                .iter()
                .find(|t| t["name"] == name)
                .unwrap_or_else(|| panic!("{whose}: {name} listed: {page}"))
        };
        assert_eq!(by_name("anywhere")["bound_cidrs"], json!([]), "{whose}");
        assert_eq!(by_name("anywhere")["network_bound"], false, "{whose}");
        assert_eq!(
            by_name("office")["bound_cidrs"],
            json!(["192.0.2.0/24", "2001:db8::/32"]),
            "{whose}"
        );
        assert_eq!(by_name("office")["network_bound"], true, "{whose}");
    }
    let rows = srv.cli().token_rows(&[]);
    let networks = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| r.networks.clone())
            .unwrap_or_else(|| panic!("{name} in the CLI's list"))
    };
    assert_eq!(networks("anywhere"), "any");
    assert_eq!(networks("office"), "192.0.2.0/24,2001:db8::/32");
    let json_list = srv
        .cli()
        .run(&["token", "list", "--output", "json"], None)
        .ok("token list --output json");
    let listed: Value = serde_json::from_str(&json_list.stdout).expect("JSON");
    let office = listed
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == "office"))
        .expect("office in the JSON list");
    assert_eq!(office["network_bound"], true, "{office}");
}

/// A rotation keeps the token's networks: the new secret is refused from
/// outside them as the old one was.
#[test]
fn a_rotated_token_keeps_its_networks() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let bound = srv
        .api()
        .create_token_with(&jwt, &NewToken::named("bound").bound_to(&[BOUND_HOST]));
    let r = srv.api().post(
        &format!("/api/tokens/{}/rotate", bound.id),
        &[
            ("Authorization", &bearer(&jwt)),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    r.assert_status(201, "rotate");
    let rotated = r.json();
    assert_eq!(rotated["bound_cidrs"], json!(["127.0.0.2/32"]), "{rotated}");
    let secret = rotated["token"].as_str().expect("the new secret");
    refusal(
        &tenant(&srv, OTHER_HOST, secret, &[]),
        "the new secret, outside",
    );
    tenant(&srv, BOUND_HOST, secret, &[]).assert_status(200, "the new secret, inside");
}

/// Self-rotation is held to the token's networks as the exchange is: from
/// elsewhere the token is refused as an unknown one and nothing changes.
#[test]
fn a_bound_token_rotates_itself_only_from_its_networks() {
    let srv = TestServer::start();
    let jwt = alice(&srv);
    let bound = srv
        .api()
        .create_token_with(&jwt, &NewToken::named("bound").bound_to(&[BOUND_HOST]));
    let rotate_from = |source: &str| {
        let auth = bearer(&bound.secret);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let request = build_request(
            srv.addr(),
            "POST",
            "/api/tokens/self/rotate",
            &headers,
            Some(b"{}"),
        );
        send_from(srv.addr(), source, &request)
    };
    let outside = rotate_from(OTHER_HOST);
    let unknown = {
        let auth = bearer("tkd-not-a-token");
        let request = build_request(
            srv.addr(),
            "POST",
            "/api/tokens/self/rotate",
            &[("Authorization", auth.as_str())],
            Some(b"{}"),
        );
        send_from(srv.addr(), OTHER_HOST, &request)
    };
    outside.assert_status(401, "self-rotation from outside");
    assert_eq!(outside.json(), unknown.json(), "the binding is not told");
    tenant(&srv, BOUND_HOST, &bound.secret, &[]).assert_status(200, "the old secret still works");
    rotate_from(BOUND_HOST).assert_status(201, "self-rotation from inside");
}
