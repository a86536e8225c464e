//! RFC 7009 revocation at `POST /oauth/revoke`: an API token revokes itself,
//! an access token stops working at once while its siblings go on, and any
//! other token gets the same 200, telling nothing.

use crate::support::*;

const REVOKE: &str = "/oauth/revoke";

fn revoke(srv: &TestServer, token: &str) -> Response {
    let answer = srv.api().try_revoke_presented(token);
    answer.assert_status(200, "revoke");
    assert!(answer.body.is_empty(), "no body");
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
    answer
}

#[test]
fn a_revoked_access_token_stops_at_once_and_its_siblings_go_on() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("30m"));
    let first = api.exchange_provider(&token.secret).access_token;
    let second = api.exchange_provider(&token.secret).access_token;
    api.try_session_info(&first)
        .assert_status(200, "before the revocation (and now remembered)");

    revoke(&srv, &first);
    api.try_session_info(&first)
        .assert_bearer_401("a revoked access token");
    api.try_session_info(&second)
        .assert_status(200, "another access token of the same API token");
    api.exchange_provider(&token.secret);
    revoke(&srv, &first);

    let events = api.audit(&admin, "type=access_token.revoke").events;
    assert_eq!(
        events.len(),
        1,
        "revoking again changes nothing: {events:?}"
    );
    assert_eq!(
        events[0]["additionalProperties"]["currentContext.refreshTokenId"],
        token.id.as_str()
    );
}

#[test]
fn an_api_token_revokes_itself() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("30m"));
    let derived = api.exchange_provider(&token.secret).access_token;

    revoke(&srv, &token.secret);
    api.try_exchange_provider(&token.secret)
        .assert_oauth_error("invalid_grant", "a revoked API token");
    api.try_session_info(&derived)
        .assert_bearer_401("access derived from it");
    let listed = api.list_tokens(&admin);
    assert!(
        listed.iter().all(|t| t.id != token.id),
        "no longer listed as active"
    );
}

#[test]
fn unknown_tokens_get_the_same_answer_and_bad_requests_a_json_error() {
    let srv = TestServer::start();
    let api = srv.api();
    let admin = api.admin_login().access_token;
    let token = api.create_token(&admin, "ci", Some("30m"));
    for unknown in [
        "not-a-token",
        &flip_char(&token.secret, 64),
        "eyJhbGciOiJub25lIn0.e30.",
        &flip_char(&admin, 20),
    ] {
        revoke(&srv, unknown);
    }
    api.exchange_provider(&token.secret);
    api.try_session_info(&admin)
        .assert_status(200, "nothing was revoked");

    api.post_form(REVOKE, "")
        .assert_oauth_error("invalid_request", "no token");
    api.post_form(REVOKE, "token=a&token=b")
        .assert_oauth_error("invalid_request", "two tokens");
    api.get(REVOKE, &[]).assert_status(405, "GET");
}
