//! The web console over plain HTTP, below the browser test
//! (`tests/console.rs`): every page's defensive headers, the session
//! cookie's attributes, where a login may lead afterwards (this console
//! only), and forms refused without the session's CSRF token or from
//! another site, changing nothing.

use crate::support::*;

const LOGIN: &str = "/console/login";

fn login_form(org: &str, user: &str, password: &str, next: &str) -> String {
    format!(
        "org={}&user={}&password={}&next={}",
        form_encode(org),
        form_encode(user),
        form_encode(password),
        form_encode(next)
    )
}

/// Logs the administrator in through the console's form; its cookie.
fn console_session(srv: &TestServer) -> String {
    let answer = srv.api().post(
        LOGIN,
        &[("Content-Type", FORM)],
        login_form("System", "administrator", ADMIN_PASSWORD, "").as_bytes(),
    );
    answer.assert_status(303, "console login");
    let cookie = answer
        .header("Set-Cookie")
        .expect("a session cookie")
        .to_owned();
    cookie.split(';').next().expect("name=value").to_owned()
}

#[test]
fn every_console_page_carries_its_defences() {
    let srv = TestServer::start();
    let page = srv.api().get(LOGIN, &[]);
    page.assert_status(200, "the login page");
    for (header, expected) in [
        ("Content-Type", "text/html; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ] {
        assert_eq!(
            page.header(header),
            Some(expected),
            "{header}: {}",
            page.describe()
        );
    }
    let csp = page.header("Content-Security-Policy").expect("a CSP");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let body = String::from_utf8_lossy(&page.body);
    assert!(
        !body.contains("<script>") && !body.contains("style="),
        "no inline code: {body}"
    );
    let stranger = srv.api().get("/console/tokens", &[]);
    stranger.assert_status(303, "no session");
    assert!(
        stranger
            .header("Location")
            .is_some_and(|l| l.starts_with("/console/login?next=")),
        "{}",
        stranger.describe()
    );
}

#[test]
fn a_login_sets_a_strict_cookie_and_leads_only_within_the_console() {
    let srv = TestServer::start();
    let login = |next: &str| {
        srv.api().post(
            LOGIN,
            &[("Content-Type", FORM)],
            login_form("System", "administrator", ADMIN_PASSWORD, next).as_bytes(),
        )
    };
    let answer = login("/console/device?user_code=BCDF-GHJK");
    answer.assert_status(303, "login");
    assert_eq!(
        answer.header("Location"),
        Some("/console/device?user_code=BCDF-GHJK")
    );
    let cookie = answer.header("Set-Cookie").expect("a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    for elsewhere in [
        "https://attacker.example/",
        "//attacker.example/",
        "/api/tokens",
        "/console\\\\evil",
    ] {
        let answer = login(elsewhere);
        assert_eq!(
            answer.header("Location"),
            Some("/console/tokens"),
            "{elsewhere:?} is not followed: {}",
            answer.describe()
        );
    }
    let wrong = srv.api().post(
        LOGIN,
        &[("Content-Type", FORM)],
        login_form("System", "administrator", "wrong password", "").as_bytes(),
    );
    wrong.assert_status(401, "a wrong password");
    assert!(
        wrong.header("Set-Cookie").is_none(),
        "no cookie for a wrong password"
    );
}

#[test]
fn forms_without_the_csrf_token_or_from_another_site_change_nothing() {
    let srv = TestServer::start();
    let cookie = console_session(&srv);
    let page = srv.api().get("/console/tokens", &[("Cookie", &cookie)]);
    page.assert_status(200, "the token page");
    let body = String::from_utf8_lossy(&page.body).into_owned();
    let start = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = &body[start..start + body[start..].find('"').expect("end of the value")];
    let create = |csrf: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("Content-Type", FORM), ("Cookie", cookie.as_str())];
        all.extend_from_slice(headers);
        srv.api().post(
            "/console/tokens",
            &all,
            format!("name=forged&scope=all&csrf={csrf}").as_bytes(),
        )
    };
    create("", &[]).assert_status(403, "no CSRF token");
    create("0123456789abcdef0123456789abcdef", &[]).assert_status(403, "a wrong CSRF token");
    create(csrf, &[("Sec-Fetch-Site", "cross-site")]).assert_status(403, "another site");
    create(csrf, &[("Origin", "https://attacker.example")]).assert_status(403, "another origin");
    let admin = srv.api().admin_login().access_token;
    assert!(
        srv.api()
            .list_tokens(&admin)
            .iter()
            .all(|t| t.name != "forged"),
        "no forged token was made"
    );
    create(csrf, &[("Sec-Fetch-Site", "same-origin")]).assert_status(200, "the console's own form");
    assert!(srv
        .api()
        .list_tokens(&admin)
        .iter()
        .any(|t| t.name == "forged"));
}

#[test]
fn under_an_https_issuer_the_cookie_is_host_prefixed_and_secure() {
    let srv = TestServer::config()
        .env("TOKEND_ISSUER", "https://tokend.example")
        .start();
    let answer = srv.api().post(
        LOGIN,
        &[("Content-Type", FORM)],
        login_form("System", "administrator", ADMIN_PASSWORD, "").as_bytes(),
    );
    answer.assert_status(303, "console login");
    let cookie = answer.header("Set-Cookie").expect("a cookie");
    assert!(cookie.starts_with("__Host-tokend-session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(
        !cookie.contains("Domain="),
        "a __Host- cookie names no domain: {cookie}"
    );
}
