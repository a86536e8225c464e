//! Names that would look like another name, against the real binary: a
//! token, user, group or role named with an invisible character (Unicode's
//! default-ignorable set: variation selectors, the combining grapheme
//! joiner, Hangul fillers), a blank one (U+2800) or a space other than
//! U+0020 is refused with 400 and a JSON error, and nothing is created;
//! names in other scripts, and emoji without a variation selector, are not.

use serde_json::{json, Value};

use crate::support::*;

/// Each looks like a plain name, or like nothing.
const LOOKALIKES: [&str; 8] = [
    "deploy\u{034F}",
    "deploy\u{FE0F}",
    "\u{3164}",
    "\u{115F}deploy",
    "deploy\u{FFA0}",
    "ci\u{2800}",
    "ci\u{00A0}deploy",
    "ci\u{3000}deploy",
];

fn post(srv: &TestServer, path: &str, jwt: &str, body: Value) -> Response {
    srv.api().send_json("POST", path, jwt, Some(&body))
}

/// How many `path` lists, on all its pages.
fn total(srv: &TestServer, jwt: &str, path: &str) -> Value {
    srv.api().get_bearer(path, jwt).assert_json(path)["total"].clone()
}

#[test]
fn a_name_with_an_invisible_or_blank_character_is_refused_and_nothing_is_made() {
    let srv = TestServer::start();
    srv.cli().org_add("acme");
    let admin = srv.api().admin_login().access_token;
    let before: Vec<Value> = ["/api/users", "/api/groups", "/api/roles"]
        .iter()
        .map(|path| total(&srv, &admin, path))
        .collect();
    assert!(before.iter().all(Value::is_u64), "{before:?}");

    for name in LOOKALIKES {
        let what = format!("{name:?}");
        let error = srv
            .api()
            .try_create_token(&admin, &json!({ "name": name }).to_string())
            .assert_error(400, "invalid_request", &format!("token {what}"));
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains("U+")),
            "the message names the character: {error}"
        );
        post(
            &srv,
            "/api/users",
            &admin,
            json!({"username": format!("dave{name}"), "org": "acme", "password": USER_PASSWORD}),
        )
        .assert_error(400, "invalid_request", &format!("user {what}"));
        post(
            &srv,
            "/api/users",
            &admin,
            json!({"username": "erin", "org": "acme", "password": USER_PASSWORD,
                   "name": format!("Erin {name}")}),
        )
        .assert_error(400, "invalid_request", &format!("display name {what}"));
        post(
            &srv,
            "/api/groups",
            &admin,
            json!({"name": name, "org": "acme"}),
        )
        .assert_error(400, "invalid_request", &format!("group {what}"));
        post(
            &srv,
            "/api/roles",
            &admin,
            json!({"name": name, "org": "acme", "permissions": ["tokend:org.view"]}),
        )
        .assert_error(400, "invalid_request", &format!("role {what}"));
    }
    // Spaces at the ends, or two in a row, would pass for another name too.
    for name in ["ops ", "o  ps"] {
        post(
            &srv,
            "/api/groups",
            &admin,
            json!({"name": name, "org": "acme"}),
        )
        .assert_error(400, "invalid_request", &format!("group {name:?}"));
    }

    assert!(srv.api().list_tokens(&admin).is_empty(), "no token made");
    let after: Vec<Value> = ["/api/users", "/api/groups", "/api/roles"]
        .iter()
        .map(|path| total(&srv, &admin, path))
        .collect();
    assert_eq!(after, before, "no user, group or role made");

    // Ordinary names in other scripts, and emoji without a selector, pass.
    let ordinary = ["🔑 déploiement", "本番 トークン", "❤", "한국어"];
    for name in ordinary {
        srv.api().create_token(&admin, name, Some("30m"));
    }
    post(
        &srv,
        "/api/users",
        &admin,
        json!({"username": "dave", "org": "acme", "password": USER_PASSWORD,
               "name": "Дейв Нг"}),
    )
    .assert_status(201, "an ordinary user");
    post(
        &srv,
        "/api/groups",
        &admin,
        json!({"name": "ops team", "org": "acme"}),
    )
    .assert_status(201, "an ordinary group");
    let mut tokens: Vec<String> = srv
        .api()
        .list_tokens(&admin)
        .into_iter()
        .map(|t| t.name)
        .collect();
    tokens.sort();
    let mut expected = ordinary.map(String::from);
    expected.sort();
    assert_eq!(tokens, expected, "listed as written");
}
