//! The client's address behind trusted proxies, against the real binary:
//! `X-Forwarded-For` is read from the right through trusted proxies only,
//! and an entry that is not an address stops the walk at the nearest
//! trusted proxy. A client that writes `<someone else's address>, junk`
//! therefore cannot lock that address out of a login, be recorded in the
//! audit trail or as a token's last-used address under it, or escape the
//! lock on its own address by forging a new one on every try; through one,
//! two and three proxies.

use std::time::Duration;

use crate::support::*;

/// The proxy the tests connect from (any 127.x.y.z is this machine).
const PROXY: &str = "127.0.0.7";
/// Proxies further out, named only in the header.
const MIDDLE_PROXY: &str = "192.0.2.10";
const EDGE_PROXY: &str = "192.0.2.11";
/// Where the administrator works from, behind the proxies.
const ADMIN_HOME: &str = "198.51.100.1";

fn behind_proxies() -> TestServer {
    TestServer::config()
        .arg("--trusted-proxy")
        .arg(&format!("{PROXY},{MIDDLE_PROXY},{EDGE_PROXY}"))
        .start()
}

/// A provider login for `user` from `peer`, with one `X-Forwarded-For`
/// line per item of `forwarded`.
fn login_via(
    srv: &TestServer,
    peer: &str,
    forwarded: &[&str],
    user: &str,
    password: &str,
) -> Response {
    let auth = basic(user, password);
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend(forwarded.iter().map(|line| ("X-Forwarded-For", *line)));
    let request = build_request(srv.addr(), "POST", PROVIDER_SESSIONS, &headers, Some(b""));
    send_from(srv.addr(), peer, &request)
}

fn admin_via(srv: &TestServer, forwarded: &[&str], password: &str) -> Response {
    login_via(srv, PROXY, forwarded, ADMIN, password)
}

/// The `session.login_failed` events of `name`, once there are `count`.
fn failures_of(srv: &TestServer, admin: &str, name: &str, count: usize) -> Vec<String> {
    eventually(Duration::from_secs(5), || {
        let trail = srv
            .api()
            .get_bearer("/api/audit?type=session.login_failed&limit=500", admin)
            .assert_json("audit");
        let seen: Vec<String> = trail["events"]
            .as_array()?
            .iter()
            .filter(|event| event["actor"]["name"] == name)
            .map(|event| event["client_ip"].as_str().unwrap_or("-").to_string())
            .collect();
        (seen.len() == count).then_some(seen)
    })
    .unwrap_or_else(|| panic!("{count} failed logins of {name} in the trail"))
}

/// The address a failed login from `peer` with `forwarded` is recorded
/// under. Each probe fails for a name of its own, so none is locked.
fn recorded_as(
    srv: &TestServer,
    admin: &str,
    probe: usize,
    peer: &str,
    forwarded: &[&str],
) -> String {
    let name = format!("probe{probe}@System");
    login_via(srv, peer, forwarded, &name, "wrong password")
        .assert_status(401, &format!("probe {forwarded:?}"));
    failures_of(srv, admin, &name, 1).remove(0)
}

#[test]
fn an_address_before_junk_is_never_recorded_as_the_client() {
    let srv = behind_proxies();
    let admin = srv.api().admin_login().access_token;
    let cases: &[(&str, &[&str], &str)] = &[
        // Positive: a well-formed chain names the client.
        (PROXY, &["203.0.113.80"], "203.0.113.80"),
        (PROXY, &["203.0.113.81, 192.0.2.10"], "203.0.113.81"),
        // An untrusted peer's header is ignored.
        ("127.0.0.8", &["198.51.100.1"], "127.0.0.8"),
        // One hop: the junk came through our peer unchanged, so the peer's
        // view is all there is; with the client's real address appended
        // after the junk, that address.
        (PROXY, &["198.51.100.1, junk"], PROXY),
        (PROXY, &["198.51.100.1, "], PROXY),
        (PROXY, &["198.51.100.1, junk, 203.0.113.50"], "203.0.113.50"),
        // Two hops.
        (PROXY, &["198.51.100.1, junk, 192.0.2.10"], MIDDLE_PROXY),
        (
            PROXY,
            &["198.51.100.1, junk, 203.0.113.60, 192.0.2.10"],
            "203.0.113.60",
        ),
        // Three hops, in one header line and spread over several.
        (
            PROXY,
            &["198.51.100.1, junk, 192.0.2.11, 192.0.2.10"],
            EDGE_PROXY,
        ),
        (
            PROXY,
            &["198.51.100.1, junk, 203.0.113.70, 192.0.2.11, 192.0.2.10"],
            "203.0.113.70",
        ),
        (
            PROXY,
            &[
                "198.51.100.1, junk",
                "203.0.113.70",
                "192.0.2.11, 192.0.2.10",
            ],
            "203.0.113.70",
        ),
        (
            PROXY,
            &["198.51.100.1", "junk", "192.0.2.11", "192.0.2.10"],
            EDGE_PROXY,
        ),
    ];
    for (probe, (peer, forwarded, seen)) in cases.iter().enumerate() {
        assert_eq!(
            recorded_as(&srv, &admin, probe, peer, forwarded),
            *seen,
            "from {peer} with {forwarded:?}"
        );
    }

    // Nor is it recorded as where a token was last used from.
    let secret = srv
        .api()
        .create_token(&admin, "proxied", Some("30m"))
        .secret;
    let form = format!("grant_type=refresh_token&refresh_token={secret}");
    let request = build_request(
        srv.addr(),
        "POST",
        PROVIDER_TOKEN,
        &[
            ("Content-Type", FORM),
            ("X-Forwarded-For", "198.51.100.1, junk, 192.0.2.10"),
        ],
        Some(form.as_bytes()),
    );
    send_from(srv.addr(), PROXY, &request).assert_status(200, "exchange through the proxies");
    let stamped = eventually(Duration::from_secs(5), || {
        let listing = srv.api().get_bearer("/api/tokens", &admin).json();
        listing["tokens"][0]["last_used_ip"]
            .as_str()
            .map(String::from)
    });
    assert_eq!(stamped.as_deref(), Some(MIDDLE_PROXY));
}

#[test]
fn junk_after_the_admins_address_cannot_lock_the_admin_out() {
    let srv = behind_proxies();
    admin_via(&srv, &[ADMIN_HOME], ADMIN_PASSWORD).assert_status(200, "the admin at home");
    let forged = format!("{ADMIN_HOME}, junk");
    for attempt in 0..5 {
        admin_via(&srv, &[&forged], "wrong password")
            .assert_status(401, &format!("forged failure {attempt}"));
    }
    admin_via(&srv, &[ADMIN_HOME], ADMIN_PASSWORD)
        .assert_status(200, "the admin's own address is not locked");
    // The failures counted against the proxy's view, which is locked.
    admin_via(&srv, &[&forged], ADMIN_PASSWORD).assert_error(
        429,
        "too_many_requests",
        "the address the failures came from is locked",
    );
    let admin = srv.api().admin_login().access_token;
    assert_eq!(failures_of(&srv, &admin, ADMIN, 5), [PROXY; 5]);

    // Two and three hops: the junk stops the walk at the outer proxy.
    for (hops, proxy) in [
        (format!("{ADMIN_HOME}, junk, {MIDDLE_PROXY}"), MIDDLE_PROXY),
        (
            format!("{ADMIN_HOME}, junk, {EDGE_PROXY}, {MIDDLE_PROXY}"),
            EDGE_PROXY,
        ),
    ] {
        for attempt in 0..5 {
            admin_via(&srv, &[&hops], "wrong password")
                .assert_status(401, &format!("{hops}: failure {attempt}"));
        }
        admin_via(&srv, &[&hops], ADMIN_PASSWORD).assert_error(
            429,
            "too_many_requests",
            &format!("{hops}: {proxy} is locked"),
        );
        admin_via(&srv, &[ADMIN_HOME], ADMIN_PASSWORD).assert_status(
            200,
            &format!("{hops}: the admin's own address still logs in"),
        );
    }
    let recorded = failures_of(&srv, &admin, ADMIN, 15);
    assert!(
        !recorded.iter().any(|ip| ip == ADMIN_HOME),
        "no failure is recorded at the admin's address: {recorded:?}"
    );
}

/// The `X-Forwarded-For` lines that reach tokend when the client forges
/// the address it is given.
type Chain = fn(&str) -> Vec<String>;

#[test]
fn forging_a_new_address_on_every_try_still_hits_the_real_addresss_lock() {
    let srv = behind_proxies();
    // Each proxy appends the address it was connected from after whatever
    // the client sent, so the client's real address stands right of its
    // junk: one, two and three proxies.
    let chains: [(&str, Chain); 3] = [
        ("203.0.113.50", |forged| {
            vec![format!("{forged}, junk, 203.0.113.50")]
        }),
        ("203.0.113.60", |forged| {
            vec![format!("{forged}, junk, 203.0.113.60, {MIDDLE_PROXY}")]
        }),
        ("203.0.113.70", |forged| {
            vec![
                format!("{forged}, junk"),
                "203.0.113.70".to_string(),
                format!("{EDGE_PROXY}, {MIDDLE_PROXY}"),
            ]
        }),
    ];
    for (real, chain) in chains {
        for attempt in 1..=5 {
            let lines = chain(&format!("198.51.100.{attempt}"));
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            admin_via(&srv, &lines, "wrong password")
                .assert_status(401, &format!("{real}: failure {attempt}"));
        }
        let lines = chain("198.51.100.99");
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        admin_via(&srv, &lines, ADMIN_PASSWORD).assert_error(
            429,
            "too_many_requests",
            &format!("{real} is locked, whatever it forges"),
        );
        admin_via(&srv, &["203.0.113.99"], ADMIN_PASSWORD)
            .assert_status(200, "another client behind the same proxy");
        admin_via(&srv, &["198.51.100.99"], ADMIN_PASSWORD)
            .assert_status(200, "the forged address is not locked");
    }
}
