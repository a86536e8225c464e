//! Native token API: `POST /api/tokens` (201 shape, secret format,
//! uniqueness, TTL variants and their validation, name validation, unknown
//! fields, who may create: Organization Member and token-derived access get
//! 403), `GET /api/tokens` (own tokens only, never the secret or a digest,
//! `last_used_at` stamped by an exchange; with `?all=true` every token in the
//! caller's reach for holders of "Manage all users' API tokens"), and `DELETE /api/tokens/{id}`
//! (owner, Organization Administrator of the same org, System Administrator
//! may revoke; everyone else gets 404; token-derived access gets 403), and
//! revocation taking effect at once for derived access tokens, also when the
//! CLI revokes while the server runs.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

const DAY: i64 = 86400;

fn lifetime(v: &Value) -> Option<i64> {
    let created = parse_rfc3339(s(v, "created_at"));
    v["expires_at"].as_str().map(|e| parse_rfc3339(e) - created)
}

fn names(list: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = list.iter().map(|t| s(t, "name").to_owned()).collect();
    n.sort();
    n
}

#[test]
fn create_returns_the_secret_once_with_metadata() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);

    let r = srv.create_token_raw(&jwt, r#"{"name":"deploy bot","ttl":"30m"}"#);
    r.assert_status(201, "create");
    let v = r.assert_json("create");
    assert!(is_uuid(s(&v, "id")), "{v}");
    assert_eq!(s(&v, "name"), "deploy bot");
    let token = s(&v, "token");
    assert!(
        is_token_format(token),
        "65 chars [A-Za-z0-9] with tkd prefix: {token:?}"
    );
    let created = parse_rfc3339(s(&v, "created_at"));
    assert_near(created, now_secs(), 120, "created_at is now");
    assert!(
        s(&v, "created_at").ends_with('Z') || s(&v, "created_at").ends_with("+00:00"),
        "UTC: {v}"
    );
    assert!(
        s(&v, "expires_at").ends_with('Z') || s(&v, "expires_at").ends_with("+00:00"),
        "UTC: {v}"
    );
    assert_near(lifetime(&v).unwrap(), 1800, 2, "30m lifetime");

    // The secret is never shown again.
    let list = srv.get_bearer("/api/tokens", &jwt);
    list.assert_status(200, "list");
    assert!(
        !list.text().contains(token),
        "list must not show the secret"
    );
}

#[test]
fn secrets_are_unique_and_well_formed() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let mut seen = std::collections::HashSet::new();
    for i in 0..8 {
        let (id, secret) = srv.create_token(&jwt, &format!("t{i}"), Some("30m"));
        assert!(is_token_format(&secret), "{secret:?}");
        assert!(seen.insert(secret), "duplicate secret");
        assert!(seen.insert(id), "duplicate id");
    }
}

#[test]
fn ttl_variants() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);

    let create = |body: &str| -> Value {
        let r = srv.create_token_raw(&jwt, body);
        r.assert_status(201, body);
        r.json()
    };
    assert_near(
        lifetime(&create(r#"{"name":"a","ttl":"30m"}"#)).unwrap(),
        30 * 60,
        2,
        "30m",
    );
    assert_near(
        lifetime(&create(r#"{"name":"b","ttl":"1m"}"#)).unwrap(),
        60,
        2,
        "1m (the minimum)",
    );
    assert_near(
        lifetime(&create(r#"{"name":"c","ttl":"90d"}"#)).unwrap(),
        90 * DAY,
        2,
        "90d",
    );
    let six = lifetime(&create(r#"{"name":"d","ttl":"6months"}"#)).unwrap();
    assert!(
        (180 * DAY..=185 * DAY).contains(&six),
        "6months lifetime {six} s"
    );
    let never = create(r#"{"name":"e","ttl":"never"}"#);
    assert!(
        never["expires_at"].is_null(),
        "never → expires_at null: {never}"
    );
    assert!(
        never.get("expires_at").is_some(),
        "expires_at key present: {never}"
    );
    let default = lifetime(&create(r#"{"name":"f"}"#)).unwrap();
    assert_near(default, six, 5, "default ttl is 6 months");

    let list = srv.list_tokens(&jwt);
    assert_eq!(list.len(), 6, "{list:?}");
    let e = list.iter().find(|t| t["name"] == "e").unwrap();
    assert!(
        e["expires_at"].is_null(),
        "never-expiring token lists expires_at null: {e}"
    );
}

#[test]
fn invalid_ttls_are_400_saying_why() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);

    for ttl in ["30s", "59s", "0s"] {
        let body = serde_json::json!({"name": "short", "ttl": ttl}).to_string();
        let v = srv.create_token_raw(&jwt, &body).assert_error(
            400,
            "invalid_request",
            &format!("ttl {ttl}"),
        );
        let msg = s(&v, "message").to_ascii_lowercase();
        assert!(
            msg.contains("minute"),
            "ttl {ttl}: message should name the 1 minute minimum: {v}"
        );
    }
    for body in [
        r#"{"name":"x","ttl":"banana"}"#,
        r#"{"name":"x","ttl":""}"#,
        r#"{"name":"x","ttl":"6years"}"#,
        r#"{"name":"x","ttl":"2000d"}"#,
        r#"{"name":"x","ttl":1800}"#,
    ] {
        srv.create_token_raw(&jwt, body)
            .assert_error(400, "invalid_request", body);
    }
    assert!(
        srv.list_tokens(&jwt).is_empty(),
        "rejected requests created nothing"
    );
}

#[test]
fn name_validation() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);

    let long_ok = "n".repeat(128);
    let too_long = "n".repeat(129);
    let bad: Vec<(String, &str)> = vec![
        (r#"{"name":""}"#.to_owned(), "empty name"),
        (
            serde_json::json!({ "name": too_long }).to_string(),
            "129 chars",
        ),
        (r#"{"name":"a\nb"}"#.to_owned(), "newline"),
        (r#"{"name":"a\u0000b"}"#.to_owned(), "NUL"),
        (r#"{"name":"a\u007fb"}"#.to_owned(), "DEL"),
        (r#"{"name":"a\tb"}"#.to_owned(), "tab"),
        (r#"{"ttl":"30m"}"#.to_owned(), "missing name"),
        (r#"{"name":42}"#.to_owned(), "name not a string"),
    ];
    for (body, what) in &bad {
        srv.create_token_raw(&jwt, body)
            .assert_error(400, "invalid_request", what);
    }
    let (_, _) = srv.create_token(&jwt, &long_ok, Some("30m"));
    let (_, _) = srv.create_token(&jwt, "Tökén 🚀 prod", Some("30m"));
    let list = srv.list_tokens(&jwt);
    let mut expected = vec![long_ok, "Tökén 🚀 prod".to_owned()];
    expected.sort();
    assert_eq!(names(&list), expected, "only valid names were created");
}

#[test]
fn unknown_fields_and_malformed_json_are_400() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    for body in [
        r#"{"name":"x","scope":"all"}"#,
        r#"{"name":"x","ttl":"30m","owner":"admin"}"#,
        r#"{"name":"x""#,
        r#"{"name":"x"} trailing"#,
        "[]",
        r#""x""#,
        "",
        "null",
    ] {
        srv.create_token_raw(&jwt, body).assert_error(
            400,
            "invalid_request",
            &format!("body {body:?}"),
        );
    }
    assert!(
        srv.list_tokens(&jwt).is_empty(),
        "rejected requests created nothing"
    );
}

#[test]
fn organization_member_cannot_create_tokens() {
    let srv = TestServer::start();
    srv.org_add("acme");
    // `user add` without --role gives Organization Member.
    srv.user_add("mia@acme", USER_PASSWORD, &[]);
    let r = srv.login_response("mia@acme", USER_PASSWORD, false);
    r.assert_status(200, "member login");
    assert_eq!(
        r.json()["roles"],
        serde_json::json!([ROLE_MEMBER]),
        "default role"
    );
    let jwt = r.header("X-VMWARE-VCLOUD-ACCESS-TOKEN").unwrap().to_owned();

    srv.create_token_raw(&jwt, r#"{"name":"nope","ttl":"30m"}"#)
        .assert_error(403, "forbidden", "member creating a token");
    let listing = srv.cli_token_list(&["--org", "acme"]);
    assert!(!listing.contains("nope"), "nothing was created: {listing}");
}

#[test]
fn token_derived_access_cannot_create_tokens() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_ORG_ADMIN], true);
    let jwt = srv.user_login(&alice);
    let (_, secret) = srv.create_token(&jwt, "ci", Some("30m"));
    let access = srv.access_token(&secret);

    srv.create_token_raw(&access, r#"{"name":"escalate","ttl":"30m"}"#)
        .assert_error(
            403,
            "forbidden",
            "create with token-derived access (Bearer)",
        );
    let r = srv.post(
        "/api/tokens",
        &[
            ("csp-auth-token", &access),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"escalate2"}"#,
    );
    r.assert_error(403, "forbidden", "create with token-derived access (csp)");
    assert_eq!(
        names(&srv.list_tokens(&jwt)),
        vec!["ci".to_owned()],
        "nothing created"
    );
}

#[test]
fn create_and_list_require_authentication() {
    let srv = TestServer::start();
    srv.post(
        "/api/tokens",
        &[("Content-Type", "application/json")],
        br#"{"name":"x"}"#,
    )
    .assert_bearer_401("create without token");
    srv.get("/api/tokens", &[])
        .assert_bearer_401("list without token");
    srv.delete("/api/tokens/00000000-0000-4000-8000-000000000000", &[])
        .assert_bearer_401("revoke without token");
}

#[test]
fn list_shows_metadata_never_secrets_and_last_use() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let (id1, sec1) = srv.create_token(&jwt, "one", Some("90d"));
    let (id2, sec2) = srv.create_token(&jwt, "two", Some("never"));

    let r = srv.get_bearer("/api/tokens", &jwt);
    r.assert_status(200, "list");
    let v = r.assert_json("list");
    for sec in [&sec1, &sec2] {
        assert_no_secret(&r.body, sec, "GET /api/tokens body");
        let hex = blake3::hash(sec.as_bytes()).to_hex().to_string();
        assert!(!r.text().contains(&hex), "list shows a blake3 digest");
    }
    let list = v["tokens"].as_array().expect("tokens array");
    assert_eq!(list.len(), 2, "{v}");
    for t in list {
        for key in ["id", "name", "created_at", "expires_at", "last_used_at"] {
            assert!(t.get(key).is_some(), "listed token lacks {key}: {t}");
        }
        for key in t.as_object().unwrap().keys() {
            let k = key.to_ascii_lowercase();
            assert!(
                !(k == "token"
                    || k.contains("digest")
                    || k.contains("hash")
                    || k.contains("secret")),
                "listed token has a forbidden field {key}: {t}"
            );
        }
        assert!(t["last_used_at"].is_null(), "unused token: {t}");
    }
    let ids: Vec<&str> = list.iter().map(|t| s(t, "id")).collect();
    assert!(
        ids.contains(&id1.as_str()) && ids.contains(&id2.as_str()),
        "{v}"
    );

    // An exchange stamps last_used_at of that token only.
    srv.exchange_tenant("acme", &sec1)
        .assert_status(200, "exchange");
    let stamped = eventually(Duration::from_secs(3), || {
        let list = srv.list_tokens(&jwt);
        let t = list.iter().find(|t| t["id"] == id1.as_str())?.clone();
        t["last_used_at"].is_string().then_some((t, list))
    });
    let (t1, list) = stamped.expect("last_used_at set after an exchange");
    assert_near(
        parse_rfc3339(s(&t1, "last_used_at")),
        now_secs(),
        120,
        "last_used_at is now",
    );
    let t2 = list.iter().find(|t| t["id"] == id2.as_str()).unwrap();
    assert!(t2["last_used_at"].is_null(), "other token untouched: {t2}");

    // Token-derived access may list (view right); still no secrets.
    let access = srv.access_token(&sec2);
    let r = srv.get_csp("/api/tokens", &access);
    r.assert_status(200, "list with token-derived access");
    assert_no_secret(&r.body, &sec1, "list via derived access");
    assert_no_secret(&r.body, &sec2, "list via derived access");
}

#[test]
fn list_shows_only_the_callers_own_tokens() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let bob = srv.tenant_user("acme", "bob", &[ROLE_ORG_ADMIN], false);
    let ja = srv.user_login(&alice);
    let jb = srv.user_login(&bob);
    srv.create_token(&ja, "alice-1", Some("30m"));
    srv.create_token(&jb, "bob-1", Some("30m"));
    assert_eq!(names(&srv.list_tokens(&ja)), vec!["alice-1"]);
    assert_eq!(
        names(&srv.list_tokens(&jb)),
        vec!["bob-1"],
        "org admin lists own tokens only"
    );
    assert!(
        srv.list_tokens(&srv.admin_login()).is_empty(),
        "system admin has no tokens of its own"
    );
}

#[test]
fn owner_revokes_own_token() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let jwt = srv.user_login(&alice);
    let (id, secret) = srv.create_token(&jwt, "mine", Some("30m"));
    let (_, keep) = srv.create_token(&jwt, "keep", Some("30m"));

    let r = srv.revoke(&jwt, &id);
    r.assert_status(204, "owner revokes");
    assert!(r.body.is_empty(), "{}", r.describe());
    assert_eq!(
        names(&srv.list_tokens(&jwt)),
        vec!["keep"],
        "revoked token no longer listed"
    );
    let d = srv
        .exchange_authorize(&secret)
        .assert_oauth_error("invalid_grant", "exchange revoked token");
    assert_eq!(d, INVALID_OR_REVOKED);
    srv.exchange_tenant("acme", &secret)
        .assert_oauth_error("invalid_grant", "revoked token at tenant endpoint");
    srv.revoke(&jwt, &id)
        .assert_error(404, "not_found", "revoking twice");
    srv.exchange_authorize(&keep)
        .assert_status(200, "the other token still works");
}

#[test]
fn token_user_cannot_revoke_a_colleagues_token() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let bob = srv.tenant_user("acme", "bob", &[ROLE_TOKEN_USER], false);
    let ja = srv.user_login(&alice);
    let jb = srv.user_login(&bob);
    let (id, secret) = srv.create_token(&ja, "alice-token", Some("30m"));

    srv.revoke(&jb, &id)
        .assert_error(404, "not_found", "Token User revoking a colleague's token");
    srv.exchange_authorize(&secret)
        .assert_status(200, "token still valid");
    assert_eq!(names(&srv.list_tokens(&ja)), vec!["alice-token"]);
}

#[test]
fn organization_administrator_revokes_in_own_org_only() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let carol = srv.tenant_user("acme", "carol", &[ROLE_ORG_ADMIN], false);
    let dave = srv.tenant_user("beta", "dave", &[ROLE_ORG_ADMIN], true);
    let ja = srv.user_login(&alice);
    let (id1, sec1) = srv.create_token(&ja, "first", Some("30m"));
    let (id2, sec2) = srv.create_token(&ja, "second", Some("30m"));

    let jd = srv.user_login(&dave);
    srv.revoke(&jd, &id1)
        .assert_error(404, "not_found", "org admin of another org");
    srv.exchange_tenant("acme", &sec1)
        .assert_status(200, "still valid");

    let jc = srv.user_login(&carol);
    srv.revoke(&jc, &id1)
        .assert_status(204, "org admin of the same org");
    srv.exchange_tenant("acme", &sec1)
        .assert_oauth_error("invalid_grant", "revoked by org admin");
    assert_eq!(names(&srv.list_tokens(&ja)), vec!["second"]);
    srv.exchange_tenant("acme", &sec2)
        .assert_status(200, "other token untouched");

    // Not even the org admin of a tenant reaches System tokens.
    let admin = srv.admin_login();
    let (sys_id, sys_sec) = srv.create_token(&admin, "system", Some("30m"));
    srv.revoke(&jc, &sys_id).assert_error(
        404,
        "not_found",
        "tenant org admin revoking a System token",
    );
    srv.exchange_provider(&sys_sec)
        .assert_status(200, "System token still valid");
    let _ = id2;
}

#[test]
fn system_administrator_revokes_any_token() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let ja = srv.user_login(&alice);
    let (id, secret) = srv.create_token(&ja, "t", Some("30m"));
    let admin = srv.admin_login();
    srv.revoke(&admin, &id)
        .assert_status(204, "system admin revokes");
    srv.exchange_authorize(&secret)
        .assert_oauth_error("invalid_grant", "revoked by system admin");
    assert!(srv.list_tokens(&ja).is_empty());
}

#[test]
fn token_derived_access_cannot_revoke() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_ORG_ADMIN], true);
    let ja = srv.user_login(&alice);
    let (ida, seca) = srv.create_token(&ja, "a", Some("30m"));
    let (idb, secb) = srv.create_token(&ja, "b", Some("30m"));
    let access = srv.access_token(&seca);

    srv.revoke(&access, &ida).assert_error(
        403,
        "forbidden",
        "derived access revoking its own token",
    );
    srv.revoke(&access, &idb).assert_error(
        403,
        "forbidden",
        "derived access revoking another token",
    );
    let h = format!("/api/tokens/{idb}");
    srv.delete(&h, &[("csp-auth-token", &access)]).assert_error(
        403,
        "forbidden",
        "derived access (csp) revoking",
    );
    srv.exchange_authorize(&seca)
        .assert_status(200, "a still valid");
    srv.exchange_authorize(&secb)
        .assert_status(200, "b still valid");
    assert_eq!(names(&srv.list_tokens(&ja)), vec!["a", "b"]);
}

#[test]
fn revoking_unknown_or_malformed_ids_is_404() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let ja = srv.user_login(&alice);
    let (_, secret) = srv.create_token(&ja, "t", Some("30m"));
    for id in [
        "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10",
        "not-a-uuid",
        "12345",
        secret.as_str(),
    ] {
        srv.revoke(&ja, id)
            .assert_error(404, "not_found", &format!("revoke {id:?}"));
    }
    let admin = srv.admin_login();
    srv.revoke(&admin, "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10")
        .assert_error(404, "not_found", "system admin, unknown id");
    srv.exchange_authorize(&secret)
        .assert_status(200, "nothing revoked");
}

#[test]
fn revocation_invalidates_derived_access_tokens_at_once() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let ja = srv.user_login(&alice);
    let (id, secret) = srv.create_token(&ja, "doomed", Some("30m"));
    let (_, other) = srv.create_token(&ja, "other", Some("30m"));
    let a1 = srv.access_token(&secret);
    let r = srv.exchange_tenant("acme", &secret);
    r.assert_status(200, "tenant exchange");
    let a2 = s(&r.json(), "access_token").to_owned();
    let a3 = srv.access_token(&other);
    for a in [&a1, &a2, &a3] {
        srv.session_info(a).assert_status(200, "before revocation");
    }

    srv.revoke(&ja, &id).assert_status(204, "revoke");
    for a in [&a1, &a2] {
        srv.session_info(a)
            .assert_bearer_401("derived access after revocation (Bearer)");
        srv.get_csp("/api/session", a)
            .assert_bearer_401("derived access after revocation (csp)");
        srv.get_bearer("/api/org", a)
            .assert_bearer_401("derived access after revocation at /api/org");
    }
    srv.session_info(&a3)
        .assert_status(200, "access from another token unaffected");
    srv.session_info(&ja)
        .assert_status(200, "login session unaffected");
}

#[test]
fn cli_revocation_takes_effect_immediately_while_serving() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let ja = srv.user_login(&alice);
    let (id, secret) = srv.create_token(&ja, "cli-doomed", Some("30m"));
    let access = srv.access_token(&secret);
    srv.session_info(&access).assert_status(200, "before");

    srv.cli(&["token", "revoke", &id], None).ok("token revoke");
    srv.session_info(&access)
        .assert_bearer_401("derived access after CLI revocation");
    let d = srv
        .exchange_authorize(&secret)
        .assert_oauth_error("invalid_grant", "exchange after CLI revocation");
    assert_eq!(d, INVALID_OR_REVOKED);
    assert!(srv.list_tokens(&ja).is_empty(), "revoked token not listed");
    srv.revoke(&ja, &id)
        .assert_error(404, "not_found", "HTTP revoke after CLI revoke");
}

fn list_all(srv: &TestServer, jwt: &str) -> Vec<Value> {
    let r = srv.get_bearer("/api/tokens?all=true", jwt);
    r.assert_status(200, "list all");
    r.json()["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("no tokens array: {}", r.describe()))
        .clone()
}

#[test]
fn listing_all_tokens_shows_names_within_the_admins_reach_never_secrets() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let carol = srv.tenant_user("acme", "carol", &[ROLE_ORG_ADMIN], false);
    let bob = srv.tenant_user("other", "bob", &[ROLE_TOKEN_USER], true);
    let admin = srv.admin_login();
    let (alice_jwt, carol_jwt, bob_jwt) = (
        srv.user_login(&alice),
        srv.user_login(&carol),
        srv.user_login(&bob),
    );
    let (_, alice_secret) = srv.create_token(&alice_jwt, "alice-ci", Some("30m"));
    let (_, carol_secret) = srv.create_token(&carol_jwt, "carol-ops", Some("30m"));
    let (_, bob_secret) = srv.create_token(&bob_jwt, "bob-ci", Some("30m"));
    let (_, admin_secret) = srv.create_token(&admin, "sys", Some("30m"));

    // The org admin sees every token of acme, with its owner, and nothing else.
    let r = srv.get_bearer("/api/tokens?all=true", &carol_jwt);
    r.assert_status(200, "org admin lists all");
    for secret in [&alice_secret, &carol_secret, &bob_secret, &admin_secret] {
        assert_no_secret(&r.body, secret, "all-token listing");
    }
    let acme = list_all(&srv, &carol_jwt);
    assert_eq!(names(&acme), ["alice-ci", "carol-ops"]);
    let alices = acme
        .iter()
        .find(|t| t["name"] == "alice-ci")
        .expect("alice's token listed");
    assert_eq!(alices["owner"]["name"], "alice");
    assert_eq!(alices["owner"]["org"], "acme");

    // Token-derived access sees its own user's tokens only (seed 003), even
    // though its user may see the whole org.
    let derived = srv.access_token(&carol_secret);
    srv.get_bearer("/api/tokens?all=true", &derived)
        .assert_error(
            403,
            "forbidden",
            "token-derived access lists other users' tokens",
        );
    assert_eq!(names(&srv.list_tokens(&derived)), ["carol-ops"]);

    // The provider admin sees every org's tokens.
    assert_eq!(
        names(&list_all(&srv, &admin)),
        ["alice-ci", "bob-ci", "carol-ops", "sys"]
    );

    // Without "Manage all users' API tokens": 403, and the own listing is unchanged.
    srv.get_bearer("/api/tokens?all=true", &alice_jwt)
        .assert_error(403, "forbidden", "token user lists all");
    assert_eq!(names(&srv.list_tokens(&alice_jwt)), ["alice-ci"]);
    srv.get_bearer("/api/tokens?all=false", &carol_jwt)
        .assert_status(200, "all=false is the own listing");
    assert_eq!(names(&srv.list_tokens(&carol_jwt)), ["carol-ops"]);

    for bad in [
        "/api/tokens?all=maybe",
        "/api/tokens?owner=alice",
        "/api/tokens?all=true&all=true",
    ] {
        srv.get_bearer(bad, &carol_jwt)
            .assert_error(400, "invalid_request", bad);
    }
}
