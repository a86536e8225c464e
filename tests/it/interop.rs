//! Standard clients drive tokend unchanged, as a relying party and as a
//! resource server: authlib (Python, installed by `.ci/run`;
//! `tests/interop/authlib_client.py`) and the `openidconnect` crate (built
//! on `oauth2`). The refresh grant, ID token validation against the JWKS
//! (`iss`, `aud`, `exp`, signature; tampered and foreign-audience tokens
//! refused), userinfo, introspection and revocation.

use std::process::Command;

use openidconnect::{HttpRequest, HttpResponse};

use serde_json::Value;

use crate::support::*;

/// acme with alice (Token User, in group `ops`) and her openid API token;
/// the service vmc with introspection credentials. Returns (the token's
/// secret, client id, client secret).
fn alice_with_openid_and_vmc_client(srv: &TestServer) -> (String, String, String) {
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
    let secret = token.stdout.lines().next().expect("the secret").trim();
    cli.service_add("vmc", &["vmc:sddc.read"]);
    let client = cli
        .run(&["service", "add-client", "vmc"], None)
        .ok("add-client");
    let mut lines = client.stdout.lines();
    let mut next = |what: &str| lines.next().expect(what).trim().to_owned();
    (secret.to_owned(), next("client id"), next("client secret"))
}

#[test]
fn authlib_drives_the_refresh_grant_id_tokens_userinfo_introspection_and_revocation() {
    let srv = TestServer::start();
    let (secret, client_id, client_secret) = alice_with_openid_and_vmc_client(&srv);

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

/// An HTTP client for the `openidconnect` crate over this suite's raw
/// wire client: the library does the protocol, this only carries bytes.
fn http_client(addr: String) -> impl Fn(HttpRequest) -> Result<HttpResponse, std::io::Error> {
    move |request: HttpRequest| {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let method = request.method().as_str().to_owned();
        let body = (method != "GET").then_some(request.body().as_slice());
        let bytes = build_request(&addr, &method, &path, &headers, body);
        let answer = send_raw(&addr, &bytes, std::time::Duration::from_secs(10))?;
        let mut response = openidconnect::http::Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(name.as_str(), value.as_str());
        }
        response.body(answer.body).map_err(std::io::Error::other)
    }
}

#[test]
fn the_openidconnect_crate_refreshes_validates_and_introspects() {
    use openidconnect::core::{
        CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
        CoreRevocableToken, CoreUserInfoClaims,
    };
    use openidconnect::{
        AuthType, ClientId, ClientSecret, IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse,
        RefreshToken, RevocationUrl, TokenIntrospectionResponse, TokenResponse, TokenUrl,
        UserInfoUrl,
    };

    let srv = TestServer::start();
    let (secret, client_id, client_secret) = alice_with_openid_and_vmc_client(&srv);

    let base = format!("http://{}", srv.addr());
    let http = http_client(srv.addr().to_string());
    let issuer = IssuerUrl::new(base.clone()).expect("issuer");
    // Discovery through the library: the metadata, its issuer, the JWKS.
    let metadata = CoreProviderMetadata::discover(&issuer, &http)
        .expect("the discovery document and JWKS, as the library reads them");
    assert_eq!(metadata.issuer(), &issuer);
    let jwks: CoreJsonWebKeySet = metadata.jwks().clone();
    assert!(!jwks.keys().is_empty());

    // A public relying party: the refresh grant with the API token.
    let relying_party = CoreClient::new(
        ClientId::new("oidc-client".into()),
        issuer.clone(),
        jwks.clone(),
    )
    .set_auth_type(AuthType::RequestBody)
    .set_token_uri(TokenUrl::new(format!("{base}/oauth/tenant/acme/token")).expect("url"))
    .set_user_info_url(UserInfoUrl::new(format!("{base}/userinfo")).expect("url"))
    .set_revocation_url(RevocationUrl::new(format!("{base}/oauth/revoke")).expect("url"));
    let answer = relying_party
        .exchange_refresh_token(&RefreshToken::new(secret.clone()))
        .request(&http)
        .expect("the refresh grant, as the library parses it");
    assert!(answer
        .scopes()
        .is_some_and(|s| s.iter().any(|scope| scope.as_str() == "openid")));

    // The ID token, checked by the library: RS256 against the JWKS, iss,
    // aud, exp; no nonce in this flow.
    let verifier = relying_party
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let id_token = answer.id_token().expect("an ID token");
    let claims = id_token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("a valid ID token");
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    let signed = id_token.to_string();
    let tampered: CoreIdToken = flip_char(&signed, signed.len() - 10)
        .parse()
        .expect("still a JWT");
    assert!(
        tampered
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .is_err(),
        "a tampered ID token is refused"
    );
    let other = CoreClient::new(
        ClientId::new("another-client".into()),
        issuer.clone(),
        jwks.clone(),
    );
    let other_verifier = other
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    assert!(
        id_token
            .claims(&other_verifier, |_: Option<&Nonce>| Ok(()))
            .is_err(),
        "another client's verifier refuses it"
    );

    // Userinfo.
    let info: CoreUserInfoClaims = relying_party
        .user_info(answer.access_token().clone(), None)
        .request(&http)
        .expect("userinfo, as the library parses it");
    assert_eq!(info.subject(), claims.subject());

    // A resource server introspects with its client credentials.
    let resource_server = CoreClient::new(ClientId::new(client_id), issuer, jwks)
        .set_client_secret(ClientSecret::new(client_secret))
        .set_introspection_url(
            IntrospectionUrl::new(format!("{base}/oauth/introspect")).expect("url"),
        );
    let described = resource_server
        .introspect(answer.access_token())
        .request(&http)
        .expect("introspection, as the library parses it");
    assert!(described.active());
    assert_eq!(described.username(), Some("alice"));

    // Revocation: the library insists on an https revocation endpoint
    // (RFC 7009 §2), which this plain-HTTP test server is not, so the
    // revocation itself goes over the wire here (authlib's test drives it);
    // introspection through the library then says inactive.
    assert!(relying_party
        .revoke_token(CoreRevocableToken::AccessToken(
            answer.access_token().clone(),
        ))
        .is_err());
    srv.api()
        .try_revoke_presented(answer.access_token().secret())
        .assert_status(200, "revoke");
    let after = resource_server
        .introspect(answer.access_token())
        .request(&http)
        .expect("introspection after revocation");
    assert!(!after.active());
}
