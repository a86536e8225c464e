//! Rotation without an outage, on the in-process service's clock: the old
//! secret works until the grace ends and is refused from that very second
//! (none: at once); self-rotation with the API token itself; the policy's
//! grace maximum; who may rotate; a replaced token is not rotated again;
//! and `api_token_expires_at` in both exchange dialects' answers.

use serde_json::{json, Value};

use crate::support::*;

const EXPIRED: &str = "the API token has expired";
const REVOKED: &str = "the API token is invalid or has been revoked";

fn rotate(api: &Client, jwt: &str, id: &str, body: &str) -> Response {
    api.post(
        &format!("/api/tokens/{id}/rotate"),
        &[
            ("Authorization", &bearer(jwt)),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

fn rotate_self(api: &Client, secret: &str, body: &str) -> Response {
    api.post(
        "/api/tokens/self/rotate",
        &[
            ("Authorization", &bearer(secret)),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

fn rotated(r: &Response, what: &str) -> Value {
    r.assert_status(201, what);
    r.assert_no_store(what);
    r.json()
}

#[test]
fn with_a_grace_the_old_secret_works_until_its_last_second_and_not_one_more() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let old = api.create_token(&admin, "deploy-bot", Some("30d"));

    let answer = rotated(
        &rotate(api, &admin, &old.id, r#"{"grace": "1h"}"#),
        "rotate",
    );
    let rotated_at = service.now();
    let new_secret = str_field(&answer, "token").to_string();
    assert_ne!(new_secret, old.secret);
    assert_eq!(answer["name"], "deploy-bot");
    assert_eq!(answer["replaces"], json!(old.id));
    assert_eq!(answer["scope"], old.scope, "the same scope");
    assert_eq!(
        parse_rfc3339(str_field(&answer, "old_token_refused_from")),
        rotated_at + 3600
    );
    // The same lifetime, counted from the rotation.
    assert_eq!(
        parse_rfc3339(str_field(&answer, "expires_at")),
        rotated_at + 30 * 86_400
    );

    // During the grace both work, and the old one says when it ends.
    let during = api
        .try_exchange_provider(&old.secret)
        .assert_json("old secret in its grace");
    assert_eq!(
        parse_rfc3339(str_field(&during, "api_token_expires_at")),
        rotated_at + 3600,
        "the grace's end"
    );
    assert!(during["expires_in"].as_i64().expect("expires_in") <= 3600);
    api.exchange_authorize(&new_secret);

    service.advance(3599);
    api.exchange_provider(&old.secret);
    api.exchange_authorize(&old.secret);
    service.advance(1);
    for (what, r) in [
        ("provider", api.try_exchange_provider(&old.secret)),
        ("authorize", api.try_exchange_authorize(&old.secret)),
    ] {
        assert_eq!(
            r.assert_oauth_error("invalid_grant", what),
            EXPIRED,
            "{what}"
        );
    }
    api.exchange_provider(&new_secret);

    // One rotation event, naming what it replaced and the grace; never a secret.
    let admin = api.admin_login().access_token;
    let events = api.recorded_events(&admin, "token.rotate", 1);
    let event = &events[0];
    assert_eq!(event["outcome"], "success");
    let text = event.to_string();
    assert!(text.contains(&old.id) && text.contains("3600"), "{event}");
    assert!(!text.contains(&old.secret) && !text.contains(&new_secret));

    // A replaced token is not rotated again, even within its grace.
    let again = api.create_token(&admin, "again", Some("30d"));
    rotated(
        &rotate(api, &admin, &again.id, r#"{"grace":"10m"}"#),
        "first",
    );
    rotate(api, &admin, &again.id, "{}").assert_error(409, "conflict", "second");
    rotate_self(api, &again.secret, "").assert_error(409, "conflict", "self, second");
}

#[test]
fn without_a_grace_the_old_secret_is_refused_at_once() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let old = api.create_token(&admin, "nightly", None);
    let access = api.exchange_provider(&old.secret).access_token;

    // No body at all, an empty object, and an explicit 0 mean the same.
    let answer = rotated(&rotate(api, &admin, &old.id, ""), "no body");
    assert_eq!(
        parse_rfc3339(str_field(&answer, "old_token_refused_from")),
        service.now()
    );
    let r = api.try_exchange_provider(&old.secret);
    assert_eq!(r.assert_oauth_error("invalid_grant", "old"), REVOKED);
    api.get_bearer("/api/tokens", &access)
        .assert_bearer_401("access derived from the old token");
    api.exchange_provider(str_field(&answer, "token"));

    let second = api.create_token(&admin, "second", None);
    rotated(
        &rotate(api, &admin, &second.id, r#"{"grace":"0"}"#),
        "grace 0",
    );
    let r = api.try_exchange_authorize(&second.secret);
    assert_eq!(r.assert_oauth_error("invalid_grant", "old"), REVOKED);
    // A revoked token is not rotated: as revocation, it is unknown.
    rotate(api, &admin, &second.id, "{}").assert_error(404, "not_found", "revoked");
}

#[test]
fn the_console_regenerate_is_the_same_rotation() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let old = api.create_token(&admin, "from-console", Some("30d"));

    let login = api.post(
        "/console/login",
        &[("Content-Type", FORM)],
        format!(
            "org=System&user=administrator&password={}&next=",
            form_encode(ADMIN_PASSWORD)
        )
        .as_bytes(),
    );
    login.assert_status(303, "console login");
    let cookie = login.header("Set-Cookie").expect("a cookie").to_owned();
    let cookie = cookie.split(';').next().expect("name=value").to_owned();
    let page = api.get("/console/tokens", &[("Cookie", &cookie)]);
    let body = String::from_utf8_lossy(&page.body).into_owned();
    let start = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = body[start..start + body[start..].find('"').expect("end")].to_owned();
    let regenerate = || {
        api.post(
            &format!("/console/tokens/{}/regenerate", old.id),
            &[
                ("Content-Type", FORM),
                ("Cookie", &cookie),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            format!("csrf={csrf}").as_bytes(),
        )
    };
    let shown = regenerate();
    shown.assert_status(200, "regenerate");
    let shown = String::from_utf8_lossy(&shown.body).into_owned();
    let start = shown.find("id=\"secret\"").expect("the secret field");
    let start = start + shown[start..].find("value=\"").expect("its value") + 7;
    let fresh = &shown[start..start + 65];
    // As the API's rotation without grace: the old secret refused at once.
    let r = api.try_exchange_provider(&old.secret);
    assert_eq!(r.assert_oauth_error("invalid_grant", "old"), REVOKED);
    api.exchange_provider(fresh);
    let events = api.recorded_events(&admin, "token.rotate", 1);
    assert!(events[0].to_string().contains(&old.id), "{}", events[0]);
    // A reload makes no second token and shows no secret.
    let again = regenerate();
    again.assert_status(200, "reload");
    assert!(!String::from_utf8_lossy(&again.body).contains("id=\"secret\""));
    api.recorded_events(&admin, "token.rotate", 1);
    let listed = api.list_tokens(&admin);
    assert_eq!(listed.len(), 1, "the new token only: {listed:?}");
    assert_ne!(listed[0].id, old.id);
}

#[test]
fn a_token_rotates_itself_with_its_own_secret() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let old = api.create_token(&admin, "self-rotating", Some("90d"));

    let answer = rotated(&rotate_self(api, &old.secret, r#"{"grace":"30m"}"#), "self");
    let new_secret = str_field(&answer, "token").to_string();
    assert_eq!(answer["replaces"], json!(old.id));
    service.advance(30 * 60 - 1);
    api.exchange_provider(&old.secret);
    service.advance(1);
    let r = api.try_exchange_provider(&old.secret);
    assert_eq!(r.assert_oauth_error("invalid_grant", "old"), EXPIRED);

    // The new one rotates itself in turn, through csp-auth-token too.
    let r = api.post(
        "/api/tokens/self/rotate",
        &[("csp-auth-token", &new_secret)],
        b"",
    );
    rotated(&r, "csp-auth-token");

    // Not an access token, not a dead token, not garbage: 401 alike.
    let admin = api.admin_login().access_token;
    let live = api.create_token(&admin, "live", None);
    let access = api.exchange_provider(&live.secret).access_token;
    for (what, credential) in [
        ("an access token", access.as_str()),
        ("a replaced token", new_secret.as_str()),
        ("garbage", "tkd-not-a-token"),
    ] {
        rotate_self(api, credential, "").assert_bearer_401(what);
    }
    api.post("/api/tokens/self/rotate", &[], b"")
        .assert_bearer_401("no credential");
}

#[test]
fn a_grace_beyond_the_policy_maximum_is_refused_and_changes_nothing() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "bounded", Some("30d"));

    let policy = api
        .get_bearer("/api/token-policy", &admin)
        .assert_json("policy");
    assert_eq!(policy["effective"]["max_rotation_grace"], "24h", "built in");

    for (what, body) in [
        ("beyond 24h", r#"{"grace":"25h"}"#),
        ("not a span", r#"{"grace":"soon"}"#),
        ("unknown field", r#"{"grace":"1h","keep":true}"#),
        ("not an object", r#"["1h"]"#),
    ] {
        rotate(api, &admin, &token.id, body).assert_error(400, "invalid_request", what);
        rotate_self(api, &token.secret, body).assert_error(400, "invalid_request", what);
    }
    rotated(
        &rotate(api, &admin, &token.id, r#"{"grace":"24h"}"#),
        "at the maximum",
    );

    // A policy of 0 allows no grace at all.
    let r = api.request(
        "PUT",
        "/api/token-policy",
        &[
            ("Authorization", &bearer(&admin)),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"max_rotation_grace":"0"}"#),
    );
    r.assert_status(200, "set policy");
    assert_eq!(r.json()["effective"]["max_rotation_grace"], "0");
    let other = api.create_token(&admin, "strict", Some("30d"));
    rotate(api, &admin, &other.id, r#"{"grace":"1s"}"#).assert_error(
        400,
        "invalid_request",
        "beyond a policy of 0",
    );
    api.exchange_provider(&other.secret);
    rotated(&rotate(api, &admin, &other.id, "{}"), "no grace is fine");
}

#[test]
fn only_the_owner_rotates_and_never_with_token_derived_access() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    api.create_org(&admin, "acme");
    api.create_user(
        &admin,
        &NewUser::new("alice", "acme").roles(&[ROLE_TOKEN_USER]),
    );
    api.create_user(
        &admin,
        &NewUser::new("bob", "acme").roles(&[ROLE_TOKEN_USER]),
    );
    let alice = api.login("alice@acme", USER_PASSWORD).access_token;
    let bob = api.login("bob@acme", USER_PASSWORD).access_token;
    let token = api.create_token(&alice, "alice-ci", Some("30d"));

    rotate(api, &bob, &token.id, "{}").assert_error(404, "not_found", "another user");
    rotate(api, &admin, &token.id, "{}").assert_error(
        403,
        "forbidden",
        "an admin who may revoke it: the new secret would be shown to the admin",
    );
    let derived = api.exchange_authorize(&token.secret).access_token;
    rotate(api, &derived, &token.id, "{}").assert_error(403, "forbidden", "token-derived");
    // Nothing of that changed the token.
    api.exchange_authorize(&token.secret);
    rotated(&rotate(api, &alice, &token.id, "{}"), "the owner");
}

#[test]
fn every_exchange_answer_names_the_api_token_expiry() {
    let service = InProcess::start();
    let api = service.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "expiring", Some("7d"));
    let expires_at = parse_rfc3339(token.expires_at.as_deref().expect("an expiry"));
    for (what, r) in [
        ("authorize", api.try_exchange_authorize(&token.secret)),
        ("provider", api.try_exchange_provider(&token.secret)),
    ] {
        let answer = r.assert_json(what);
        let at = str_field(&answer, "api_token_expires_at");
        assert!(at.ends_with('Z'), "RFC 3339 in UTC: {at}");
        assert_eq!(parse_rfc3339(at), expires_at, "{what}");
    }
    api.create_org(&admin, "acme");
    api.create_user(
        &admin,
        &NewUser::new("carol", "acme").roles(&[ROLE_TOKEN_USER]),
    );
    let carol = api.login("carol@acme", USER_PASSWORD).access_token;
    let tenant = api.create_token(&carol, "tenant", Some("2d"));
    let answer = api
        .try_exchange_tenant("acme", &tenant.secret)
        .assert_json("tenant");
    assert_eq!(
        parse_rfc3339(str_field(&answer, "api_token_expires_at")),
        parse_rfc3339(tenant.expires_at.as_deref().expect("an expiry"))
    );

    // A token that never expires: the member is left out, not null.
    let forever = api.create_token(&admin, "forever", Some("never"));
    for (what, r) in [
        ("authorize", api.try_exchange_authorize(&forever.secret)),
        ("provider", api.try_exchange_provider(&forever.secret)),
    ] {
        let answer = r.assert_json(what);
        assert!(
            answer.get("api_token_expires_at").is_none(),
            "{what}: {answer}"
        );
    }
}

#[test]
fn the_admin_cli_rotates_through_the_same_operation() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let old = api.create_token(&admin, "cli-rotated", Some("30d"));

    srv.cli()
        .run(&["token", "rotate", &old.id, "--grace", "25h"], None)
        .code_is(1, "beyond the policy's maximum");
    api.exchange_provider(&old.secret);
    let out = srv
        .cli()
        .run(&["token", "rotate", &old.id, "--grace", "1h"], None)
        .ok("rotate");
    let fresh = out.stdout.trim();
    assert_eq!(fresh.len(), 65, "the new secret on stdout: {out:?}");
    assert!(!out.stderr.contains(fresh), "the secret on stdout only");
    // Within the grace both work; the event names the operator.
    api.exchange_provider(&old.secret);
    api.exchange_provider(fresh);
    let events = api.recorded_events(&admin, "token.rotate", 1);
    assert!(events[0].to_string().contains("cli:"), "{}", events[0]);
    srv.cli()
        .run(&["token", "rotate", &old.id], None)
        .code_is(1, "rotated already");
}
