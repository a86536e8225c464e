//! Token lifetime policy: the provider-wide default and an org's own
//! (only stricter), enforced at creation with a message naming the limit;
//! a lowered maximum leaves existing tokens alone and lists them; tokens
//! idle past the policy are revoked by the housekeeping pass (in-process,
//! on a clock the test moves).

use crate::support::*;

const DAY: i64 = 86_400;

/// A token request for `name` with `ttl`, whatever the answer.
fn create(api: &Client, jwt: &str, name: &str, ttl: &str) -> Response {
    api.try_create_token_with(jwt, &NewToken::named(name).ttl(ttl))
}

#[test]
fn the_default_policy_shapes_new_tokens_and_refuses_what_it_forbids_naming_the_limit() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let alice = api.user_login("alice@acme").access_token;

    let set = api.set_token_policy(
        &admin,
        None,
        &TokenPolicy::default()
            .default_ttl("30days")
            .max_ttl("90days")
            .allow_never(false),
    );
    assert_eq!(set.effective.max_ttl.as_deref(), Some("90days"));

    let never = create(api, &alice, "forever", "never").assert_error(
        400,
        "invalid_request",
        "a never-expiring token",
    );
    assert!(
        never["message"].as_str().unwrap().contains("allow_never"),
        "{never}"
    );
    let long = create(api, &alice, "long", "1year").assert_error(
        400,
        "invalid_request",
        "past the maximum",
    );
    assert!(
        long["message"]
            .as_str()
            .unwrap()
            .contains("max_ttl is 90days"),
        "{long}"
    );
    let defaulted = api.create_token(&alice, "default", None);
    defaulted.assert_default_lifetime(30 * DAY, "the policy's default");
    create(api, &alice, "within", "60days").assert_status(201, "within the maximum");
    let out = cli.run(
        &[
            "token",
            "create",
            "alice@acme",
            "--name",
            "x",
            "--ttl",
            "never",
        ],
        None,
    );
    out.code_is(1, "the CLI holds to the policy too");
    assert!(out.stderr.contains("allow_never"), "{out:?}");

    // A policy that contradicts itself, or is no lifetime, changes nothing.
    let policy = TokenPolicy::default;
    for (body, what) in [
        (
            policy().default_ttl("1year").max_ttl("90days"),
            "default past max",
        ),
        (
            policy().default_ttl("never").allow_never(false),
            "default never, forbidden",
        ),
        (policy().max_ttl("banana"), "no span"),
        (policy().max_ttl("never"), "max never"),
        (policy().max_idle("5m"), "idle under an hour"),
    ] {
        api.try_set_token_policy(&admin, None, &body)
            .assert_error(400, "invalid_request", what);
    }
    let unchanged = api.token_policy(&alice, None);
    assert_eq!(unchanged.policy.default_ttl.as_deref(), Some("30days"));
    api.try_set_token_policy(&alice, None, &policy())
        .assert_status(403, "a Token User sets the default");
}

#[test]
fn an_org_admin_tightens_its_own_org_and_sees_the_tokens_made_before() {
    let srv = TestServer::start();
    let cli = srv.cli();
    let acme = cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("dora@other", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let carol = api.user_login("carol@acme").access_token;
    let dora = api.user_login("dora@other").access_token;
    let alice = api.user_login("alice@acme").access_token;
    let policy = TokenPolicy::default;
    api.set_token_policy(&admin, None, &policy().max_ttl("90days").allow_never(false));
    let before = api.create_token(&alice, "made-before", Some("60days"));
    let defaulted = api.create_token(&alice, "defaulted", None);
    defaulted.assert_default_lifetime(90 * DAY, "the built-in default gives way to the maximum");

    let org = Some(acme.as_str());
    let tightened =
        api.set_token_policy(&carol, org, &policy().default_ttl("1day").max_ttl("7days"));
    assert_eq!(tightened.effective.max_ttl.as_deref(), Some("7days"));
    assert_eq!(tightened.effective.allow_never, Some(false), "inherited");
    for (body, what) in [
        (
            policy().max_ttl("1year"),
            "a longer maximum than the default",
        ),
        (
            policy().allow_never(true),
            "never-expiring tokens the default forbids",
        ),
    ] {
        let refused =
            api.try_set_token_policy(&carol, org, &body)
                .assert_error(400, "invalid_request", what);
        assert!(
            refused["message"].as_str().unwrap().contains("stricter"),
            "{refused}"
        );
    }
    api.try_set_token_policy(&dora, org, &policy())
        .assert_status(404, "another org's admin");
    api.try_set_token_policy(&alice, org, &policy())
        .assert_status(403, "a Token User");
    api.try_set_token_policy(&carol, None, &policy())
        .assert_status(403, "an org admin sets the default");

    // The token made before still works; it is listed as beyond the policy.
    api.exchange_tenant("acme", &before.secret);
    let beyond = api.exceeding_tokens(&carol, &acme);
    let mut ids = beyond.ids();
    ids.sort_unstable();
    let mut expected = [before.id.as_str(), defaulted.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{beyond:?}");
    create(api, &alice, "too-long", "30days").assert_error(400, "invalid_request", "now");
    api.create_token(&alice, "short", None)
        .assert_default_lifetime(DAY, "the org's default");

    let shown = cli
        .run(&["policy", "show", "--org", "acme"], None)
        .ok("policy show");
    assert!(shown.stdout.contains("in force: 7days"), "{}", shown.stdout);
    let listed = cli
        .run(&["policy", "exceeding", "acme"], None)
        .ok("policy exceeding");
    assert!(listed.stdout.contains(&before.id), "{}", listed.stdout);
    cli.run(
        &["policy", "set", "--org", "acme", "--max-ttl", "3days"],
        None,
    )
    .ok("policy set");
    create(api, &alice, "four-days", "4days").assert_error(400, "invalid_request", "CLI's 3 days");
}

#[test]
fn tokens_idle_past_the_policy_are_revoked_by_housekeeping() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let used = api.create_token(&admin, "used", Some("90days"));
    let idle = api.create_token(&admin, "idle", Some("90days"));
    api.set_token_policy(&admin, None, &TokenPolicy::default().max_idle("2days"));

    service.advance(DAY);
    api.exchange_provider(&used.secret);
    assert_eq!(
        service.revoke_idle_tokens(),
        0,
        "nothing idle for 2 days yet"
    );
    service.advance(DAY + DAY / 2);
    assert_eq!(service.revoke_idle_tokens(), 1, "the unused one");
    api.try_exchange_provider(&idle.secret)
        .assert_oauth_error("invalid_grant", "an idle token");
    api.exchange_provider(&used.secret);

    let admin = api.admin_login().access_token;
    let revoked = api.recorded_events(&admin, "token.revoke", 1).remove(0);
    assert_eq!(revoked["target"]["id"], idle.id.as_str());
    assert_eq!(revoked["additionalProperties"]["reason"], "idle");
}

#[test]
fn a_default_tightened_after_an_org_policy_binds_that_org_at_once() {
    let srv = TestServer::start();
    let cli = srv.cli();
    let acme = cli.org_add("acme");
    cli.user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let carol = api.user_login("carol@acme").access_token;
    let alice = api.user_login("alice@acme").access_token;
    let org = Some(acme.as_str());
    let policy = TokenPolicy::default;

    // Written while the default was looser: stricter than it then.
    api.set_token_policy(
        &carol,
        org,
        &policy()
            .default_ttl("300days")
            .max_ttl("1year")
            .allow_never(true)
            .max_idle("90days"),
    );
    let long = api.create_token(&alice, "made-before", Some("300days"));
    // The provider tightens the default.
    api.set_token_policy(
        &admin,
        None,
        &policy()
            .max_ttl("7days")
            .allow_never(false)
            .max_idle("30days"),
    );

    let refused = create(api, &alice, "long", "300days").assert_error(
        400,
        "invalid_request",
        "a 300-day token under a 7-day default",
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("max_ttl is 7days"),
        "{refused}"
    );
    create(api, &alice, "forever", "never").assert_error(400, "invalid_request", "never");
    api.create_token(&alice, "defaulted", None)
        .assert_default_lifetime(
            7 * DAY,
            "acme's 300-day default gives way to the default's maximum",
        );
    api.create_token(&alice, "week", Some("7days"));

    let shown = api.token_policy(&carol, org);
    assert_eq!(
        shown.effective.max_ttl.as_deref(),
        Some("7days"),
        "{shown:?}"
    );
    assert_eq!(shown.effective.allow_never, Some(false), "{shown:?}");
    assert_eq!(
        shown.effective.max_idle.as_deref(),
        Some("30days"),
        "{shown:?}"
    );
    let beyond = api.exceeding_tokens(&carol, &acme);
    assert_eq!(
        beyond.ids(),
        [long.id.as_str()],
        "listed against the policy in force"
    );

    // A looser org policy is refused now, even from the provider.
    for jwt in [&carol, &admin] {
        api.try_set_token_policy(jwt, org, &policy().max_ttl("1year"))
            .assert_error(
                400,
                "invalid_request",
                "an org policy looser than the default",
            );
    }
}
