//! Names that would look like another name, against the real binary: a
//! token, user, group or role named with an invisible character (Unicode's
//! default-ignorable set: variation selectors, the combining grapheme
//! joiner, Hangul fillers), a blank one (U+2800) or a space other than
//! U+0020 is refused with 400 and a JSON error, and nothing is created;
//! names in other scripts, and emoji without a variation selector, are not.

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

/// How many users, groups and roles `jwt` lists, on all their pages.
fn totals(srv: &TestServer, jwt: &str) -> [u64; 3] {
    let api = srv.api();
    [
        api.list_users(jwt, "").total,
        api.list_groups(jwt, "").total,
        api.list_roles(jwt, "").total,
    ]
}

#[test]
fn a_name_with_an_invisible_or_blank_character_is_refused_and_nothing_is_made() {
    let srv = TestServer::start();
    srv.cli().org_add("acme");
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let before = totals(&srv, &admin);

    for name in LOOKALIKES {
        let what = format!("{name:?}");
        let error = api
            .try_create_token_with(&admin, &NewToken::named(name))
            .assert_error(400, "invalid_request", &format!("token {what}"));
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains("U+")),
            "the message names the character: {error}"
        );
        api.try_create_user(&admin, &NewUser::new(&format!("dave{name}"), "acme"))
            .assert_error(400, "invalid_request", &format!("user {what}"));
        api.try_create_user(
            &admin,
            &NewUser::new("erin", "acme").full_name(&format!("Erin {name}")),
        )
        .assert_error(400, "invalid_request", &format!("display name {what}"));
        api.try_create_group(&admin, name, "acme").assert_error(
            400,
            "invalid_request",
            &format!("group {what}"),
        );
        api.try_create_role(
            &admin,
            &NewRole::local(name, "acme").permissions(&["tokend:org.view"]),
        )
        .assert_error(400, "invalid_request", &format!("role {what}"));
    }
    // Spaces at the ends, or two in a row, would pass for another name too.
    for name in ["ops ", "o  ps"] {
        api.try_create_group(&admin, name, "acme").assert_error(
            400,
            "invalid_request",
            &format!("group {name:?}"),
        );
    }

    assert!(api.list_tokens(&admin).is_empty(), "no token made");
    assert_eq!(totals(&srv, &admin), before, "no user, group or role made");

    // Ordinary names in other scripts, and emoji without a selector, pass.
    let ordinary = ["🔑 déploiement", "本番 トークン", "❤", "한국어"];
    for name in ordinary {
        api.create_token(&admin, name, Some("30m"));
    }
    api.create_user(&admin, &NewUser::new("dave", "acme").full_name("Дейв Нг"));
    api.create_group(&admin, "ops team", "acme");
    let mut tokens: Vec<String> = api
        .list_tokens(&admin)
        .into_iter()
        .map(|t| t.name)
        .collect();
    tokens.sort();
    let mut expected = ordinary.map(String::from);
    expected.sort();
    assert_eq!(tokens, expected, "listed as written");
}
