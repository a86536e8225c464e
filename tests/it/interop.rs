//! Standard clients drive tokend unchanged: authlib (Python), installed by
//! `.ci/run`, as a relying party and a resource server, through the refresh
//! grant, ID token validation against the JWKS, userinfo, introspection and
//! revocation (`tests/interop/authlib_client.py`).

use std::process::Command;

use serde_json::Value;

use crate::support::*;

#[test]
fn authlib_drives_the_refresh_grant_id_tokens_userinfo_introspection_and_revocation() {
    let srv = TestServer::start();
    let cli = srv.cli();
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    cli.run(&["group", "add", "ops@acme"], None).ok("group add");
    cli.run(&["group", "join", "ops@acme", "alice"], None)
        .ok("group join");
    let token = cli
        .run(
            &[
                "token",
                "create",
                "alice@acme",
                "--name",
                "oidc",
                "--openid",
            ],
            None,
        )
        .ok("token create --openid");
    let secret = token
        .stdout
        .lines()
        .next()
        .expect("the secret")
        .trim()
        .to_owned();
    cli.service_add("vmc", &["vmc:sddc.read"]);
    let client = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client");
    let mut lines = client.stdout.lines();
    let (client_id, client_secret) = (
        lines.next().expect("client id").trim().to_owned(),
        lines.next().expect("client secret").trim().to_owned(),
    );

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/authlib_client.py"
    );
    let base = format!("http://{}", srv.addr());
    let out = Command::new("python3")
        .args([
            script,
            &base,
            "acme",
            &secret,
            "authlib-client",
            &client_id,
            &client_secret,
        ])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "authlib's run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(seen["id_token"]["preferred_username"], "alice");
    assert_eq!(seen["id_token"]["org_name"], "acme");
    assert_eq!(seen["id_token"]["groups"], serde_json::json!(["ops"]));
    assert_eq!(seen["other_audience_refused"], true);
    assert_eq!(seen["tampered_refused"], true);
    assert_eq!(seen["userinfo"]["preferred_username"], "alice");
    assert_eq!(seen["introspected"]["active"], true);
    assert_eq!(seen["introspected"]["token_type"], "Bearer");
    assert_eq!(seen["after_revocation"]["active"], false);
}
