//! Using access tokens: `GET /api/org` and `GET /api/session` accept the
//! token in `Authorization: Bearer` and in `csp-auth-token`; the System
//! Administrator sees every org while tenant users see only their own;
//! `/api/session` reports the deriving API token and leaves token-derived
//! access with view rights only; missing, garbage, tampered, re-signed
//! (`alg: none`, HS256 key confusion) tokens are 401 with
//! `WWW-Authenticate: Bearer`.

use serde_json::{json, Value};

use crate::common::*;

fn org_names(v: &Value) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = v["orgs"]
        .as_array()
        .unwrap_or_else(|| panic!("orgs array missing: {v}"))
        .iter()
        .map(|o| {
            assert!(is_uuid(s(o, "id")), "org id: {o}");
            (
                s(o, "name").to_owned(),
                o["is_provider"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("is_provider: {o}")),
            )
        })
        .collect();
    out.sort();
    out
}

fn rights(v: &Value) -> Vec<String> {
    v["rights"]
        .as_array()
        .unwrap_or_else(|| panic!("rights array missing: {v}"))
        .iter()
        .map(|r| {
            r.as_str()
                .unwrap_or_else(|| panic!("right is a string: {v}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn both_headers_are_accepted_for_session_and_derived_tokens() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let sess = srv.user_login(&alice);
    let (_, secret) = srv.create_token(&sess, "t", Some("30m"));
    let r = srv.exchange_tenant("acme", &secret);
    r.assert_status(200, "tenant exchange");
    let oauth_access = s(&r.json(), "access_token").to_owned();
    let csp_access = srv.access_token(&secret);
    for (what, jwt) in [
        ("session", &sess),
        ("oauth", &oauth_access),
        ("authorize", &csp_access),
    ] {
        for path in ["/api/org", "/api/session"] {
            let a = srv.get_bearer(path, jwt);
            a.assert_status(200, &format!("{what} Bearer {path}"));
            a.assert_json(what);
            let b = srv.get_csp(path, jwt);
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
    let alice = srv.tenant_user("acme", "alice", &[ROLE_ORG_ADMIN], true);
    srv.org_add("beta");
    let admin = srv.admin_login();
    let all = vec![
        ("System".to_owned(), true),
        ("acme".to_owned(), false),
        ("beta".to_owned(), false),
    ];
    let r = srv.get_bearer("/api/org", &admin);
    r.assert_status(200, "admin orgs");
    assert_eq!(org_names(&r.assert_json("admin orgs")), all);

    let (_, sys_secret) = srv.create_token(&admin, "sys", Some("30m"));
    let r = srv.exchange_provider(&sys_secret);
    let sys_access = s(&r.json(), "access_token").to_owned();
    let r = srv.get_bearer("/api/org", &sys_access);
    r.assert_status(200, "admin orgs via derived access");
    assert_eq!(org_names(&r.json()), all, "viewing orgs is a view right");

    let ja = srv.user_login(&alice);
    let r = srv.get_csp("/api/org", &ja);
    r.assert_status(200, "tenant orgs");
    assert_eq!(org_names(&r.json()), vec![("acme".to_owned(), false)]);
    let (_, sec) = srv.create_token(&ja, "t", Some("30m"));
    let acc = srv.access_token(&sec);
    let r = srv.get_csp("/api/org", &acc);
    r.assert_status(200, "tenant orgs via derived access");
    assert_eq!(org_names(&r.json()), vec![("acme".to_owned(), false)]);
}

#[test]
fn session_info_reports_the_api_token_and_view_only_rights() {
    let srv = TestServer::start();
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let carol = srv.tenant_user("acme", "carol", &[ROLE_ORG_ADMIN], false);

    for user in [&alice, &carol] {
        let login = srv.login_response(user, USER_PASSWORD, false);
        login.assert_status(200, "login");
        let session_id = s(&login.json(), "id").to_owned();
        let sess = login
            .header("X-VMWARE-VCLOUD-ACCESS-TOKEN")
            .unwrap()
            .to_owned();

        let r = srv.session_info(&sess);
        r.assert_status(200, "session info");
        let si = r.assert_json("session info");
        assert_eq!(si["session_id"], session_id.as_str(), "{si}");
        assert!(si["api_token_id"].is_null(), "{si}");
        let sess_rights = rights(&si);
        assert!(
            sess_rights
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("manage")),
            "{user}: a login session holds a manage right: {si}"
        );
        assert!(
            parse_rfc3339(s(&si, "expires_at")) > now_secs(),
            "expires_at in the future: {si}"
        );

        let (tid, secret) = srv.create_token(&sess, "view-only", Some("30m"));
        let access = srv.access_token(&secret);
        let r = srv.get_csp("/api/session", &access);
        r.assert_status(200, "derived session info");
        let di = r.json();
        assert_eq!(di["api_token_id"], tid.as_str(), "{di}");
        assert!(di["session_id"].is_null(), "{di}");
        assert_eq!(di["user"], si["user"], "same user: {di}");
        assert_eq!(di["org"], si["org"], "same org: {di}");
        assert_eq!(di["roles"], si["roles"], "same roles: {di}");
        let derived = rights(&di);
        assert!(!derived.is_empty(), "{user}: view rights remain: {di}");
        for r in &derived {
            assert!(
                !r.to_ascii_lowercase().contains("manage"),
                "{user}: token-derived access must not hold {r:?}: {di}"
            );
            assert!(
                sess_rights.contains(r),
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
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let carol = srv.tenant_user("acme", "carol", &[ROLE_ORG_ADMIN], false);
    let own = "Manage user's own API token";
    let all = "Manage all users' API tokens";
    let a = rights(&srv.session_info(&srv.user_login(&alice)).json());
    assert!(
        a.iter().any(|r| r == own),
        "Token User holds {own:?}: {a:?}"
    );
    assert!(
        !a.iter().any(|r| r == all),
        "Token User does not hold {all:?}: {a:?}"
    );
    let c = rights(&srv.session_info(&srv.user_login(&carol)).json());
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
    let admin = srv.admin_login();
    let si = srv.session_info(&admin);
    si.assert_status(200, "admin session info");
    assert!(
        rights(&si.json())
            .iter()
            .any(|r| r.to_ascii_lowercase().contains("manage")),
        "{}",
        si.describe()
    );
    let (_, secret) = srv.create_token(&admin, "sys", Some("30m"));
    let access = srv.access_token(&secret);
    let r = srv.session_info(&access);
    r.assert_status(200, "derived admin session info");
    for right in rights(&r.json()) {
        assert!(
            !right.to_ascii_lowercase().contains("manage"),
            "admin derived access holds {right:?}"
        );
    }
    srv.create_token_raw(&access, r#"{"name":"x"}"#)
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
    let alice = srv.tenant_user("acme", "alice", &[ROLE_TOKEN_USER], true);
    let sess = srv.user_login(&alice);
    let (_, secret) = srv.create_token(&sess, "t", Some("30m"));
    let good = srv.access_token(&secret);
    srv.session_info(&good)
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
        let jwks = srv.get("/.well-known/jwks.json", &[]).body;
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_secret(&jwks)).unwrap()
    };

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("garbage", Some("Bearer garbage".to_owned())),
        ("three garbage parts", Some("Bearer a.b.c".to_owned())),
        ("API token as access token", Some(bearer(&secret))),
        ("Basic scheme", Some(basic(&alice, USER_PASSWORD))),
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
                Some(h) => srv.get(path, &[("Authorization", h)]),
                None => srv.get(path, &[]),
            };
            r.assert_bearer_401(&format!("{what} at {path}"));
            if let Some(h) = auth {
                if let Some(tok) = h.strip_prefix("Bearer ") {
                    srv.get(path, &[("csp-auth-token", tok)])
                        .assert_bearer_401(&format!("{what} via csp-auth-token at {path}"));
                }
            }
        }
    }
    srv.session_info(&good)
        .assert_status(200, "control: still works afterwards");
}
