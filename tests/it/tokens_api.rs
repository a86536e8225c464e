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

use crate::support::*;

const DAY: i64 = 86400;

fn names(list: &[TokenListing]) -> Vec<String> {
    let mut n: Vec<String> = list.iter().map(|t| t.name.clone()).collect();
    n.sort();
    n
}

/// Org `acme` with `user@acme` holding `roles`; returns a login access token.
fn acme_user(srv: &TestServer, user: &str, roles: &[&str]) -> String {
    srv.cli().org_add("acme");
    srv.cli().user_add(user, roles);
    srv.api().user_login(user).access_token
}

#[test]
fn create_returns_the_secret_once_with_metadata() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);

    let r = api.try_create_token(&jwt, r#"{"name":"deploy bot","ttl":"30m"}"#);
    r.assert_status(201, "create");
    let v = r.assert_json("create");
    assert!(is_uuid(str_field(&v, "id")), "{v}");
    assert_eq!(str_field(&v, "name"), "deploy bot");
    let token = str_field(&v, "token");
    assert!(
        is_token_format(token),
        "65 chars [A-Za-z0-9] with tkd prefix: {token:?}"
    );
    let created = parse_rfc3339(str_field(&v, "created_at"));
    assert_near(created, now_secs(), 120, "created_at is now");
    assert!(str_field(&v, "created_at").ends_with('Z'), "UTC: {v}");
    assert!(str_field(&v, "expires_at").ends_with('Z'), "UTC: {v}");
    assert_eq!(
        parse_rfc3339(str_field(&v, "expires_at")) - created,
        1800,
        "30m lifetime"
    );

    // The secret is never shown again.
    let list = api.try_token_page(&jwt, "");
    list.assert_status(200, "list");
    assert!(
        !list.text().contains(token),
        "list must not show the secret"
    );
}

#[test]
fn secrets_are_unique_and_well_formed() {
    let srv = TestServer::start();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let mut seen = std::collections::HashSet::new();
    for i in 0..8 {
        let t = srv.api().create_token(&jwt, &format!("t{i}"), Some("30m"));
        assert!(is_token_format(&t.secret), "{:?}", t.secret);
        assert!(seen.insert(t.secret), "duplicate secret");
        assert!(seen.insert(t.id), "duplicate id");
    }
}

#[test]
fn ttl_variants() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);

    let create = |name: &str, ttl: Option<&str>| api.create_token(&jwt, name, ttl);
    assert_eq!(create("a", Some("30m")).lifetime(), Some(30 * 60), "30m");
    assert_eq!(
        create("b", Some("1m")).lifetime(),
        Some(60),
        "1m (the minimum)"
    );
    assert_eq!(create("c", Some("90d")).lifetime(), Some(90 * DAY), "90d");
    assert_eq!(
        create("d", Some("6months")).lifetime(),
        Some(SIX_MONTHS),
        "6months"
    );
    let r = api.try_create_token(&jwt, r#"{"name":"e","ttl":"never"}"#);
    r.assert_status(201, "never");
    let never = r.json();
    assert!(
        never["expires_at"].is_null(),
        "never → expires_at null: {never}"
    );
    assert!(
        never.get("expires_at").is_some(),
        "expires_at key present: {never}"
    );
    create("f", None).assert_default_lifetime(SIX_MONTHS, "default ttl is 6 months");

    let list = api.list_tokens(&jwt);
    assert_eq!(list.len(), 6, "{list:?}");
    let e = list.iter().find(|t| t.name == "e").unwrap();
    assert_eq!(
        e.expires_at, None,
        "never-expiring token lists expires_at null: {e:?}"
    );
}

#[test]
fn invalid_ttls_are_400_saying_why() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);

    for ttl in ["30s", "59s", "0s"] {
        let body = serde_json::json!({"name": "short", "ttl": ttl}).to_string();
        let v = api.try_create_token(&jwt, &body).assert_error(
            400,
            "invalid_request",
            &format!("ttl {ttl}"),
        );
        let msg = str_field(&v, "message").to_ascii_lowercase();
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
        api.try_create_token(&jwt, body)
            .assert_error(400, "invalid_request", body);
    }
    assert!(
        api.list_tokens(&jwt).is_empty(),
        "rejected requests created nothing"
    );
}

#[test]
fn name_validation() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
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
        api.try_create_token(&jwt, body)
            .assert_error(400, "invalid_request", what);
    }
    api.create_token(&jwt, &long_ok, Some("30m"));
    api.create_token(&jwt, "Tökén 🚀 prod", Some("30m"));
    let list = api.list_tokens(&jwt);
    let mut expected = vec![long_ok, "Tökén 🚀 prod".to_owned()];
    expected.sort();
    assert_eq!(names(&list), expected, "only valid names were created");
}

#[test]
fn unknown_fields_and_malformed_json_are_400() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
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
        api.try_create_token(&jwt, body).assert_error(
            400,
            "invalid_request",
            &format!("body {body:?}"),
        );
    }
    assert!(
        api.list_tokens(&jwt).is_empty(),
        "rejected requests created nothing"
    );
}

#[test]
fn organization_member_cannot_create_tokens() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    // `user add` without --role gives Organization Member.
    srv.cli().user_add("mia@acme", &[]);
    let mia = api.user_login("mia@acme");
    assert_eq!(mia.roles, [ROLE_MEMBER], "default role");

    api.try_create_token(&mia.access_token, r#"{"name":"nope","ttl":"30m"}"#)
        .assert_error(403, "forbidden", "member creating a token");
    let listing = srv.cli().token_list(&["--org", "acme"]);
    assert!(!listing.contains("nope"), "nothing was created: {listing}");
}

#[test]
fn token_derived_access_cannot_create_tokens() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_ORG_ADMIN]);
    let token = api.create_token(&jwt, "ci", Some("30m"));
    let access = api.exchange_authorize(&token.secret).access_token;

    api.try_create_token(&access, r#"{"name":"escalate","ttl":"30m"}"#)
        .assert_error(
            403,
            "forbidden",
            "create with token-derived access (Bearer)",
        );
    let r = api.post(
        "/api/tokens",
        &[
            ("csp-auth-token", &access),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"escalate2"}"#,
    );
    r.assert_error(403, "forbidden", "create with token-derived access (csp)");
    assert_eq!(names(&api.list_tokens(&jwt)), ["ci"], "nothing created");
}

#[test]
fn create_and_list_require_authentication() {
    let srv = TestServer::start();
    let api = srv.api();
    api.post(
        "/api/tokens",
        &[("Content-Type", "application/json")],
        br#"{"name":"x"}"#,
    )
    .assert_bearer_401("create without token");
    api.get("/api/tokens", &[])
        .assert_bearer_401("list without token");
    api.delete("/api/tokens/00000000-0000-4000-8000-000000000000", &[])
        .assert_bearer_401("revoke without token");
}

#[test]
fn list_shows_metadata_never_secrets_and_last_use() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let one = api.create_token(&jwt, "one", Some("90d"));
    let two = api.create_token(&jwt, "two", Some("never"));

    let r = api.try_token_page(&jwt, "");
    r.assert_status(200, "list");
    let v = r.assert_json("list");
    for sec in [&one.secret, &two.secret] {
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
    let ids: Vec<&str> = list.iter().map(|t| str_field(t, "id")).collect();
    assert!(
        ids.contains(&one.id.as_str()) && ids.contains(&two.id.as_str()),
        "{v}"
    );

    // An exchange stamps last_used_at of that token only.
    api.try_exchange_tenant("acme", &one.secret)
        .assert_status(200, "exchange");
    let stamped = eventually(Duration::from_secs(3), || {
        let list = api.list_tokens(&jwt);
        let t = list.iter().find(|t| t.id == one.id)?.clone();
        t.last_used_at.is_some().then_some((t, list))
    });
    let (t1, list) = stamped.expect("last_used_at set after an exchange");
    assert_near(
        parse_rfc3339(t1.last_used_at.as_deref().unwrap()),
        now_secs(),
        120,
        "last_used_at is now",
    );
    let t2 = list.iter().find(|t| t.id == two.id).unwrap();
    assert_eq!(t2.last_used_at, None, "other token untouched: {t2:?}");

    // Token-derived access may list (view right); still no secrets.
    let access = api.exchange_authorize(&two.secret).access_token;
    let r = api.get_csp("/api/tokens", &access);
    r.assert_status(200, "list with token-derived access");
    assert_no_secret(&r.body, &one.secret, "list via derived access");
    assert_no_secret(&r.body, &two.secret, "list via derived access");
}

#[test]
fn list_shows_only_the_callers_own_tokens() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("bob@acme", &[ROLE_ORG_ADMIN]);
    let ja = api.user_login("alice@acme").access_token;
    let jb = api.user_login("bob@acme").access_token;
    api.create_token(&ja, "alice-1", Some("30m"));
    api.create_token(&jb, "bob-1", Some("30m"));
    assert_eq!(names(&api.list_tokens(&ja)), ["alice-1"]);
    assert_eq!(
        names(&api.list_tokens(&jb)),
        ["bob-1"],
        "org admin lists own tokens only"
    );
    assert!(
        api.list_tokens(&api.admin_login().access_token).is_empty(),
        "system admin has no tokens of its own"
    );
}

#[test]
fn owner_revokes_own_token() {
    let srv = TestServer::start();
    let api = srv.api();
    let jwt = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let mine = api.create_token(&jwt, "mine", Some("30m"));
    let keep = api.create_token(&jwt, "keep", Some("30m"));

    let r = api.try_revoke_token(&jwt, &mine.id);
    r.assert_status(204, "owner revokes");
    assert!(r.body.is_empty(), "{}", r.describe());
    assert_eq!(
        names(&api.list_tokens(&jwt)),
        ["keep"],
        "revoked token no longer listed"
    );
    let d = api
        .try_exchange_authorize(&mine.secret)
        .assert_oauth_error("invalid_grant", "exchange revoked token");
    assert_eq!(d, INVALID_OR_REVOKED);
    api.try_exchange_tenant("acme", &mine.secret)
        .assert_oauth_error("invalid_grant", "revoked token at tenant endpoint");
    api.try_revoke_token(&jwt, &mine.id)
        .assert_error(404, "not_found", "revoking twice");
    api.try_exchange_authorize(&keep.secret)
        .assert_status(200, "the other token still works");
}

#[test]
fn token_user_cannot_revoke_a_colleagues_token() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("bob@acme", &[ROLE_TOKEN_USER]);
    let ja = api.user_login("alice@acme").access_token;
    let jb = api.user_login("bob@acme").access_token;
    let token = api.create_token(&ja, "alice-token", Some("30m"));

    api.try_revoke_token(&jb, &token.id).assert_error(
        404,
        "not_found",
        "Token User revoking a colleague's token",
    );
    api.try_exchange_authorize(&token.secret)
        .assert_status(200, "token still valid");
    assert_eq!(names(&api.list_tokens(&ja)), ["alice-token"]);
}

#[test]
fn organization_administrator_revokes_in_own_org_only() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    srv.cli().org_add("beta");
    srv.cli().user_add("dave@beta", &[ROLE_ORG_ADMIN]);
    let ja = api.user_login("alice@acme").access_token;
    let first = api.create_token(&ja, "first", Some("30m"));
    let second = api.create_token(&ja, "second", Some("30m"));

    let jd = api.user_login("dave@beta").access_token;
    api.try_revoke_token(&jd, &first.id)
        .assert_error(404, "not_found", "org admin of another org");
    api.try_exchange_tenant("acme", &first.secret)
        .assert_status(200, "still valid");

    let jc = api.user_login("carol@acme").access_token;
    api.try_revoke_token(&jc, &first.id)
        .assert_status(204, "org admin of the same org");
    api.try_exchange_tenant("acme", &first.secret)
        .assert_oauth_error("invalid_grant", "revoked by org admin");
    assert_eq!(names(&api.list_tokens(&ja)), ["second"]);
    api.try_exchange_tenant("acme", &second.secret)
        .assert_status(200, "other token untouched");

    // Not even the org admin of a tenant reaches System tokens.
    let admin = api.admin_login().access_token;
    let system = api.create_token(&admin, "system", Some("30m"));
    api.try_revoke_token(&jc, &system.id).assert_error(
        404,
        "not_found",
        "tenant org admin revoking a System token",
    );
    api.try_exchange_provider(&system.secret)
        .assert_status(200, "System token still valid");
}

#[test]
fn system_administrator_revokes_any_token() {
    let srv = TestServer::start();
    let api = srv.api();
    let ja = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let token = api.create_token(&ja, "t", Some("30m"));
    let admin = api.admin_login().access_token;
    api.try_revoke_token(&admin, &token.id)
        .assert_status(204, "system admin revokes");
    api.try_exchange_authorize(&token.secret)
        .assert_oauth_error("invalid_grant", "revoked by system admin");
    assert!(api.list_tokens(&ja).is_empty());
}

#[test]
fn token_derived_access_cannot_revoke() {
    let srv = TestServer::start();
    let api = srv.api();
    let ja = acme_user(&srv, "alice@acme", &[ROLE_ORG_ADMIN]);
    let a = api.create_token(&ja, "a", Some("30m"));
    let b = api.create_token(&ja, "b", Some("30m"));
    let access = api.exchange_authorize(&a.secret).access_token;

    api.try_revoke_token(&access, &a.id).assert_error(
        403,
        "forbidden",
        "derived access revoking its own token",
    );
    api.try_revoke_token(&access, &b.id).assert_error(
        403,
        "forbidden",
        "derived access revoking another token",
    );
    let path = format!("/api/tokens/{}", b.id);
    api.delete(&path, &[("csp-auth-token", &access)])
        .assert_error(403, "forbidden", "derived access (csp) revoking");
    api.try_exchange_authorize(&a.secret)
        .assert_status(200, "a still valid");
    api.try_exchange_authorize(&b.secret)
        .assert_status(200, "b still valid");
    assert_eq!(names(&api.list_tokens(&ja)), ["a", "b"]);
}

#[test]
fn revoking_unknown_or_malformed_ids_is_404() {
    let srv = TestServer::start();
    let api = srv.api();
    let ja = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let token = api.create_token(&ja, "t", Some("30m"));
    for id in [
        "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10",
        "not-a-uuid",
        "12345",
        token.secret.as_str(),
    ] {
        api.try_revoke_token(&ja, id)
            .assert_error(404, "not_found", &format!("revoke {id:?}"));
    }
    let admin = api.admin_login().access_token;
    api.try_revoke_token(&admin, "6f1c1d0e-3a55-4b8e-9a51-2b0a3f7c9d10")
        .assert_error(404, "not_found", "system admin, unknown id");
    api.try_exchange_authorize(&token.secret)
        .assert_status(200, "nothing revoked");
}

#[test]
fn revocation_invalidates_derived_access_tokens_at_once() {
    let srv = TestServer::start();
    let api = srv.api();
    let ja = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let doomed = api.create_token(&ja, "doomed", Some("30m"));
    let other = api.create_token(&ja, "other", Some("30m"));
    let a1 = api.exchange_authorize(&doomed.secret).access_token;
    let a2 = api.exchange_tenant("acme", &doomed.secret).access_token;
    let a3 = api.exchange_authorize(&other.secret).access_token;
    for a in [&a1, &a2, &a3] {
        api.try_session_info(a)
            .assert_status(200, "before revocation");
    }

    api.revoke_token(&ja, &doomed.id);
    for a in [&a1, &a2] {
        api.try_session_info(a)
            .assert_bearer_401("derived access after revocation (Bearer)");
        api.get_csp("/api/session", a)
            .assert_bearer_401("derived access after revocation (csp)");
        api.get_bearer("/api/org", a)
            .assert_bearer_401("derived access after revocation at /api/org");
    }
    api.try_session_info(&a3)
        .assert_status(200, "access from another token unaffected");
    api.try_session_info(&ja)
        .assert_status(200, "login session unaffected");
}

#[test]
fn cli_revocation_takes_effect_immediately_while_serving() {
    let srv = TestServer::start();
    let api = srv.api();
    let ja = acme_user(&srv, "alice@acme", &[ROLE_TOKEN_USER]);
    let token = api.create_token(&ja, "cli-doomed", Some("30m"));
    let access = api.exchange_authorize(&token.secret).access_token;
    api.try_session_info(&access).assert_status(200, "before");

    srv.cli().token_revoke(&token.id);
    api.try_session_info(&access)
        .assert_bearer_401("derived access after CLI revocation");
    let d = api
        .try_exchange_authorize(&token.secret)
        .assert_oauth_error("invalid_grant", "exchange after CLI revocation");
    assert_eq!(d, INVALID_OR_REVOKED);
    assert!(api.list_tokens(&ja).is_empty(), "revoked token not listed");
    api.try_revoke_token(&ja, &token.id).assert_error(
        404,
        "not_found",
        "HTTP revoke after CLI revoke",
    );
}

#[test]
fn listing_all_tokens_shows_names_within_the_admins_reach_never_secrets() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    srv.cli().org_add("other");
    srv.cli().user_add("bob@other", &[ROLE_TOKEN_USER]);
    let admin = api.admin_login().access_token;
    let alice_jwt = api.user_login("alice@acme").access_token;
    let carol_jwt = api.user_login("carol@acme").access_token;
    let bob_jwt = api.user_login("bob@other").access_token;
    let alice_token = api.create_token(&alice_jwt, "alice-ci", Some("30m"));
    let carol_token = api.create_token(&carol_jwt, "carol-ops", Some("30m"));
    let bob_token = api.create_token(&bob_jwt, "bob-ci", Some("30m"));
    let admin_token = api.create_token(&admin, "sys", Some("30m"));

    // The org admin sees every token of acme, with its owner, and nothing else.
    let r = api.try_token_page(&carol_jwt, "all=true");
    r.assert_status(200, "org admin lists all");
    for t in [&alice_token, &carol_token, &bob_token, &admin_token] {
        assert_no_secret(&r.body, &t.secret, "all-token listing");
    }
    let acme = api.list_all_tokens(&carol_jwt);
    assert_eq!(names(&acme), ["alice-ci", "carol-ops"]);
    let alices = acme
        .iter()
        .find(|t| t.name == "alice-ci")
        .expect("alice's token listed");
    assert_eq!(alices.owner_name, "alice");
    assert_eq!(alices.owner_org, "acme");

    // Token-derived access sees its own user's tokens only (seed 003), even
    // though its user may see the whole org.
    let derived = api.exchange_authorize(&carol_token.secret).access_token;
    api.try_token_page(&derived, "all=true").assert_error(
        403,
        "forbidden",
        "token-derived access lists other users' tokens",
    );
    assert_eq!(names(&api.list_tokens(&derived)), ["carol-ops"]);

    // The provider admin sees every org's tokens.
    assert_eq!(
        names(&api.list_all_tokens(&admin)),
        ["alice-ci", "bob-ci", "carol-ops", "sys"]
    );

    // Without "Manage all users' API tokens": 403, and the own listing is unchanged.
    api.try_token_page(&alice_jwt, "all=true").assert_error(
        403,
        "forbidden",
        "token user lists all",
    );
    assert_eq!(names(&api.list_tokens(&alice_jwt)), ["alice-ci"]);
    // all=false is the own listing.
    api.token_page(&carol_jwt, "all=false");
    assert_eq!(names(&api.list_tokens(&carol_jwt)), ["carol-ops"]);

    for bad in ["all=maybe", "owner=alice", "all=true&all=true"] {
        api.try_token_page(&carol_jwt, bad)
            .assert_error(400, "invalid_request", bad);
    }
}

#[test]
fn token_listings_page_and_filter_by_name() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    for name in ["ci-one", "ci-two", "backup"] {
        api.create_token(&admin, name, Some("30m"));
    }
    let page = api.token_page(&admin, "page=2&pageSize=2");
    assert_eq!(page.total, 3);
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name, "backup", "oldest first");
    assert_eq!(api.token_page(&admin, "all=true&name=CI-").total, 2);
    api.try_token_page(&admin, "pageSize=0")
        .assert_error(400, "invalid_request", "pageSize 0");
}
