//! Using access tokens: `GET /api/org` and `GET /api/session` accept the
//! token in `Authorization: Bearer` and in `csp-auth-token`; the System
//! Administrator sees every org while tenant users see only their own;
//! `/api/session` reports the deriving API token and leaves token-derived
//! access with view rights only; missing, garbage, tampered, re-signed
//! (`alg: none`, HS256 key confusion) tokens are 401 with
//! `WWW-Authenticate: Bearer`.

use serde_json::{json, Value};

use crate::support::*;

/// (name, is_provider) of every org in a `GET /api/org` answer, sorted;
/// every org id must be a UUID.
fn org_names(r: &Response, what: &str) -> Vec<(String, bool)> {
    r.assert_status(200, what);
    let v = r.assert_json(what);
    let mut out: Vec<(String, bool)> = v["orgs"]
        .as_array()
        .unwrap_or_else(|| panic!("orgs array missing: {v}"))
        .iter()
        .map(|o| {
            assert!(is_uuid(str_field(o, "id")), "org id: {o}");
            (
                str_field(o, "name").to_owned(),
                o["is_provider"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("is_provider: {o}")),
            )
        })
        .collect();
    out.sort();
    out
}

fn is_manage_right(right: &str) -> bool {
    right.to_ascii_lowercase().contains("manage")
}

#[test]
fn both_headers_are_accepted_for_session_and_derived_tokens() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let sess = api.user_login("alice@acme").access_token;
    let token = api.create_token(&sess, "t", Some("30m"));
    let oauth_access = api.exchange_tenant("acme", &token.secret).access_token;
    let csp_access = api.exchange_authorize(&token.secret).access_token;
    for (what, jwt) in [
        ("session", &sess),
        ("oauth", &oauth_access),
        ("authorize", &csp_access),
    ] {
        for path in ["/api/org", "/api/session"] {
            let a = api.get_bearer(path, jwt);
            a.assert_status(200, &format!("{what} Bearer {path}"));
            a.assert_json(what);
            let b = api.get_csp(path, jwt);
            b.assert_status(200, &format!("{what} csp-auth-token {path}"));
            assert_eq!(
                a.json(),
                b.json(),
                "{what} {path}: same answer for both headers"
            );
        }
    }
}

#[test]
fn system_administrator_sees_all_orgs_tenants_see_their_own() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_ORG_ADMIN]);
    srv.cli().org_add("beta");
    let admin = api.admin_login().access_token;
    let all = vec![
        ("System".to_owned(), true),
        ("acme".to_owned(), false),
        ("beta".to_owned(), false),
    ];
    assert_eq!(
        org_names(&api.get_bearer("/api/org", &admin), "admin orgs"),
        all
    );

    let sys = api.create_token(&admin, "sys", Some("30m"));
    let sys_access = api.exchange_provider(&sys.secret).access_token;
    assert_eq!(
        org_names(
            &api.get_bearer("/api/org", &sys_access),
            "admin orgs via derived access"
        ),
        all,
        "viewing orgs is a view right"
    );

    let ja = api.user_login("alice@acme").access_token;
    assert_eq!(
        org_names(&api.get_csp("/api/org", &ja), "tenant orgs"),
        [("acme".to_owned(), false)]
    );
    let t = api.create_token(&ja, "t", Some("30m"));
    let acc = api.exchange_authorize(&t.secret).access_token;
    assert_eq!(
        org_names(
            &api.get_csp("/api/org", &acc),
            "tenant orgs via derived access"
        ),
        [("acme".to_owned(), false)]
    );
}

#[test]
fn session_info_reports_the_api_token_and_view_only_rights() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("carol@acme", &[ROLE_ORG_ADMIN]);

    for user in ["alice@acme", "carol@acme"] {
        let login = api.user_login(user);

        let r = api.try_session_info(&login.access_token);
        let si = SessionInfo::from_response(&r, "session info");
        r.assert_json("session info");
        assert_eq!(si.session_id, Some(login.id), "{si:?}");
        assert_eq!(si.api_token_id, None, "{si:?}");
        assert!(
            si.rights.iter().any(|r| is_manage_right(r)),
            "{user}: a login session holds a manage right: {si:?}"
        );
        assert!(
            parse_rfc3339(&si.expires_at) > now_secs(),
            "expires_at in the future: {si:?}"
        );

        let token = api.create_token(&login.access_token, "view-only", Some("30m"));
        let access = api.exchange_authorize(&token.secret).access_token;
        let r = api.get_csp("/api/session", &access);
        let di = SessionInfo::from_response(&r, "derived session info");
        assert_eq!(di.api_token_id, Some(token.id), "{di:?}");
        assert_eq!(di.session_id, None, "{di:?}");
        assert_eq!(di.user, si.user, "same user: {di:?}");
        assert_eq!(di.org, si.org, "same org: {di:?}");
        assert_eq!(di.roles, si.roles, "same roles: {di:?}");
        assert!(!di.rights.is_empty(), "{user}: view rights remain: {di:?}");
        for r in &di.rights {
            assert!(
                !is_manage_right(r),
                "{user}: token-derived access must not hold {r:?}: {di:?}"
            );
            assert!(
                si.rights.contains(r),
                "{user}: derived right {r:?} exceeds the user's rights"
            );
        }
    }
}

/// The contract names the token rights "Manage user's own API token" (Token
/// User, Organization Administrator) and "Manage all users' API tokens"
/// (Organization Administrator); a login session reports them in `rights`.
#[test]
fn session_rights_use_the_contract_right_names() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    srv.cli().user_add("carol@acme", &[ROLE_ORG_ADMIN]);
    let own = "Manage user's own API token";
    let all = "Manage all users' API tokens";
    let a = api
        .session_info(&api.user_login("alice@acme").access_token)
        .rights;
    assert!(
        a.iter().any(|r| r == own),
        "Token User holds {own:?}: {a:?}"
    );
    assert!(
        !a.iter().any(|r| r == all),
        "Token User does not hold {all:?}: {a:?}"
    );
    let c = api
        .session_info(&api.user_login("carol@acme").access_token)
        .rights;
    assert!(
        c.iter().any(|r| r == own),
        "Organization Administrator holds {own:?}: {c:?}"
    );
    assert!(
        c.iter().any(|r| r == all),
        "Organization Administrator holds {all:?}: {c:?}"
    );
}

#[test]
fn system_administrator_token_access_is_view_only_too() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let si = api.session_info(&admin);
    assert!(si.rights.iter().any(|r| is_manage_right(r)), "{si:?}");
    let token = api.create_token(&admin, "sys", Some("30m"));
    let access = api.exchange_authorize(&token.secret).access_token;
    for right in api.session_info(&access).rights {
        assert!(
            !is_manage_right(&right),
            "admin derived access holds {right:?}"
        );
    }
    api.try_create_token(&access, r#"{"name":"x"}"#)
        .assert_error(403, "forbidden", "admin derived access creating a token");
}

/// Re-encode a JWT with a modified header and/or payload, keeping or
/// replacing the signature.
fn forge(jwt: &str, header: Option<Value>, claims: Option<Value>, sig: Option<&str>) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    let h = header
        .map(|h| b64url(h.to_string().as_bytes()))
        .unwrap_or_else(|| parts[0].to_owned());
    let c = claims
        .map(|c| b64url(c.to_string().as_bytes()))
        .unwrap_or_else(|| parts[1].to_owned());
    let sig = sig.unwrap_or(parts[2]);
    format!("{h}.{c}.{sig}")
}

#[test]
fn invalid_access_tokens_are_401_with_bearer_challenge() {
    let srv = TestServer::start();
    let api = srv.api();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let sess = api.user_login("alice@acme").access_token;
    let secret = api.create_token(&sess, "t", Some("30m")).secret;
    let good = api.exchange_authorize(&secret).access_token;
    api.try_session_info(&good)
        .assert_status(200, "control: the untouched token works");

    let (header, claims) = jwt_parts(&good);
    let sig = good.rsplit('.').next().unwrap();
    let mid = sig.len() / 2;
    let tampered_sig = {
        let mut b = sig.as_bytes().to_vec();
        b[mid] = if b[mid] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let mut escalated = claims.clone();
    escalated["org_name"] = json!("System");
    escalated["exp"] = json!(claims["exp"].as_i64().unwrap() + 3600);
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(now_secs() - 3600);
    let none_header = json!({"alg": "none", "typ": "JWT"});
    let mut hs_header = header.clone();
    hs_header["alg"] = json!("HS256");
    let hs256 = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        let jwks = api.get("/.well-known/jwks.json", &[]).body;
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(&jwks)).unwrap()
    };

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("garbage", Some("Bearer garbage".to_owned())),
        ("three garbage parts", Some("Bearer a.b.c".to_owned())),
        ("API token as access token", Some(bearer(&secret))),
        ("Basic scheme", Some(basic("alice@acme", USER_PASSWORD))),
        (
            "tampered signature",
            Some(bearer(&forge(&good, None, None, Some(&tampered_sig)))),
        ),
        (
            "signature stripped",
            Some(bearer(&forge(&good, None, None, Some("")))),
        ),
        (
            "tampered claims",
            Some(bearer(&forge(&good, None, Some(escalated.clone()), None))),
        ),
        (
            "expired claims, old signature",
            Some(bearer(&forge(&good, None, Some(expired_claims), None))),
        ),
        (
            "alg none",
            Some(bearer(&forge(
                &good,
                Some(none_header.clone()),
                None,
                Some(""),
            ))),
        ),
        (
            "alg none, escalated",
            Some(bearer(&forge(
                &good,
                Some(none_header),
                Some(escalated),
                Some(""),
            ))),
        ),
        (
            "alg HS256 header only",
            Some(bearer(&forge(&good, Some(hs_header), None, None))),
        ),
        ("HS256 key confusion", Some(bearer(&hs256))),
    ];
    for path in ["/api/session", "/api/org", "/api/tokens"] {
        for (what, auth) in &cases {
            let r = match auth {
                Some(h) => api.get(path, &[("Authorization", h)]),
                None => api.get(path, &[]),
            };
            r.assert_bearer_401(&format!("{what} at {path}"));
            if let Some(h) = auth {
                if let Some(tok) = h.strip_prefix("Bearer ") {
                    api.get(path, &[("csp-auth-token", tok)])
                        .assert_bearer_401(&format!("{what} via csp-auth-token at {path}"));
                }
            }
        }
    }
    api.try_session_info(&good)
        .assert_status(200, "control: still works afterwards");
}
