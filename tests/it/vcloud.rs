//! Cloud Director's XML API, as its SDKs read it: `/api/versions` lists the
//! versions tokend speaks, each with a login URL that works; `Accept`
//! chooses JSON or XML on `/api/session` and `/api/org`, errors included;
//! and VMware's own SDK, pyvcloud (unmodified, in a virtual environment
//! made by `tests/interop/setup-pyvcloud`), logs in, follows the session's
//! links, takes an API token by the JWT-bearer grant and is refused once
//! that token is revoked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;

use crate::support::*;

const VCLOUD_NAMESPACE: &str = "http://www.vmware.com/vcloud/v1.5";
const XML_36_1: &str = "application/*+xml;version=36.1";

/// One element of a document: its name and attributes.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: HashMap<String, String>,
}

/// Every element of `xml` in document order, the root first.
fn elements(xml: &[u8]) -> Vec<Element> {
    let mut reader = Reader::from_reader(xml);
    let mut found = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => found.push(Element {
                name: String::from_utf8(e.local_name().as_ref().to_vec()).expect("UTF-8"),
                attributes: e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let value = a.unescape_value().expect("value").into_owned();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).expect("UTF-8"),
                            value,
                        )
                    })
                    .collect(),
            }),
            Event::Eof => return found,
            _ => {}
        }
    }
}

fn xml_get(srv: &TestServer, path: &str, jwt: &str, accept: &str) -> Response {
    srv.api().get(
        path,
        &[
            ("Authorization", &format!("Bearer {jwt}")),
            ("Accept", accept),
        ],
    )
}

/// The root of an XML answer, checked to be in Cloud Director's namespace.
fn root(answer: &Response) -> Vec<Element> {
    let all = elements(&answer.body);
    assert_eq!(
        all[0].attributes.get("xmlns").map(String::as_str),
        Some(VCLOUD_NAMESPACE),
        "{}",
        answer.describe()
    );
    all
}

/// The `Link` of `rel` and `type` among `elements`.
fn link<'a>(elements: &'a [Element], rel: &str, media_type: &str) -> &'a Element {
    elements
        .iter()
        .find(|e| {
            e.name == "Link"
                && e.attributes.get("rel").map(String::as_str) == Some(rel)
                && e.attributes.get("type").map(String::as_str) == Some(media_type)
        })
        .unwrap_or_else(|| panic!("no Link rel={rel} type={media_type} in {elements:?}"))
}

/// The text of every element called `name`, in document order.
fn texts(xml: &str, name: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let (mut found, mut inside) = (Vec::new(), false);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => inside = e.local_name().as_ref() == name.as_bytes(),
            Event::Text(t) if inside => found.push(t.decode().expect("text").into_owned()),
            Event::End(_) => inside = false,
            Event::Eof => return found,
            _ => {}
        }
    }
}

#[test]
fn api_versions_lists_33_to_36_3_each_with_a_working_login_url() {
    let srv = TestServer::start();
    let answer = srv
        .api()
        .get("/api/versions", &[("Accept", "application/*+xml")]);
    answer.assert_status(200, "versions");
    assert_eq!(
        answer.header("Content-Type"),
        Some("application/*+xml;version=36.3")
    );
    let xml = String::from_utf8(answer.body.clone()).expect("UTF-8");
    assert!(
        xml.contains(r#"<SupportedVersions xmlns="http://www.vmware.com/vcloud/versions">"#),
        "{xml}"
    );
    assert_eq!(
        texts(&xml, "Version"),
        ["33.0", "34.0", "35.0", "36.0", "36.1", "36.2", "36.3"]
    );
    let logins = texts(&xml, "LoginUrl");
    assert_eq!(logins.len(), 7);
    let base = format!("http://{}", srv.addr());
    let path = logins[0]
        .strip_prefix(&base)
        .expect("on the issuer")
        .to_owned();
    srv.api()
        .post(
            &format!("{path}/provider"),
            &[("Authorization", &basic(ADMIN, ADMIN_PASSWORD))],
            b"",
        )
        .assert_status(200, "the provider login it names");
    assert_eq!(
        texts(&xml, "ProviderLoginUrl"),
        [format!("{base}{PROVIDER_SESSIONS}")]
    );
}

#[test]
fn session_org_list_and_org_in_cloud_directors_xml_at_the_version_asked() {
    let srv = TestServer::start();
    let cli = srv.cli();
    let acme = cli.org_add("acme");
    cli.org_add("other");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let alice = srv.api().user_login("alice@acme");
    let base = format!("http://{}", srv.addr());

    let session = xml_get(&srv, "/api/session", &alice.access_token, XML_36_1);
    session.assert_status(200, "XML session");
    assert_eq!(
        session.header("Content-Type"),
        Some("application/vnd.vmware.vcloud.session+xml;version=36.1")
    );
    let doc = root(&session);
    let attrs = &doc[0].attributes;
    assert_eq!(doc[0].name, "Session");
    assert_eq!(attrs["user"], "alice");
    assert_eq!(attrs["org"], "acme");
    assert_eq!(
        attrs["userId"],
        format!("urn:vcloud:user:{}", alice.user.id)
    );
    assert_eq!(attrs["roles"], ROLE_TOKEN_USER);
    let org_list = &link(&doc, "down", "application/vnd.vmware.vcloud.orgList+xml").attributes;
    assert_eq!(org_list["href"], format!("{base}/api/org"));
    let own = &link(&doc, "down", "application/vnd.vmware.vcloud.org+xml").attributes;
    assert_eq!(own["name"], "acme");
    assert_eq!(own["href"], format!("{base}/api/org/{acme}"));

    // The seed's own call: GET /api/org at version 36.1.
    let listed = xml_get(&srv, "/api/org", &alice.access_token, XML_36_1);
    listed.assert_status(200, "XML org list");
    assert_eq!(
        listed.header("Content-Type"),
        Some("application/vnd.vmware.vcloud.orgList+xml;version=36.1")
    );
    let doc = root(&listed);
    assert_eq!(doc[0].name, "OrgList");
    let orgs: Vec<&str> = doc[1..]
        .iter()
        .map(|e| e.attributes["name"].as_str())
        .collect();
    assert_eq!(orgs, ["acme"], "a tenant sees its own org only");

    let org = xml_get(
        &srv,
        &format!("/api/org/{acme}"),
        &alice.access_token,
        XML_36_1,
    );
    org.assert_status(200, "XML org");
    let doc = root(&org);
    assert_eq!(doc[0].name, "Org");
    assert_eq!(doc[0].attributes["id"], format!("urn:vcloud:org:{acme}"));
    assert!(doc.iter().any(|e| e.name == "FullName"), "{doc:?}");

    // The provider sees every org; JSON stays the default.
    let admin = srv.api().admin_login();
    let doc = root(&xml_get(
        &srv,
        "/api/org",
        &admin.access_token,
        "application/*+xml",
    ));
    let orgs: Vec<&str> = doc[1..]
        .iter()
        .map(|e| e.attributes["name"].as_str())
        .collect();
    assert_eq!(orgs, ["System", "acme", "other"]);
    let json = srv.api().try_session_info(&alice.access_token);
    json.assert_status(200, "JSON session");
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    let preferring_json = xml_get(
        &srv,
        "/api/session",
        &alice.access_token,
        "application/*+xml;q=0.5, application/json",
    );
    assert_eq!(preferring_json.json()["user"]["name"], "alice");
}

#[test]
fn xml_clients_get_their_errors_in_xml_and_unknown_versions_406() {
    let srv = TestServer::start();
    let cli = srv.cli();
    let other = cli.org_add("other");
    cli.org_add("acme");
    cli.user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let alice = srv.api().user_login("alice@acme");

    let error = |answer: &Response, status: u16| {
        answer.assert_status(status, "an XML error");
        let doc = root(answer);
        assert_eq!(doc[0].name, "Error");
        assert_eq!(doc[0].attributes["majorErrorCode"], status.to_string());
        doc[0].attributes["message"].clone()
    };
    let message = error(
        &xml_get(
            &srv,
            "/api/session",
            &alice.access_token,
            "application/*+xml;version=20.0",
        ),
        406,
    );
    assert!(message.contains("33.0 to 36.3"), "{message}");
    let message = error(&srv.api().get("/api/session", &[("Accept", XML_36_1)]), 401);
    assert!(message.contains("access token"), "{message}");
    // Another org is unknown to a tenant, by id or by URN, in both forms.
    error(
        &xml_get(
            &srv,
            &format!("/api/org/{other}"),
            &alice.access_token,
            XML_36_1,
        ),
        404,
    );
    error(
        &xml_get(
            &srv,
            &format!("/api/org/urn:vcloud:org:{other}"),
            &alice.access_token,
            XML_36_1,
        ),
        404,
    );
    srv.api()
        .try_org(&alice.access_token, &other)
        .assert_status(404, "JSON, another org");
    // A resource tokend serves as JSON only says so to an XML-only client.
    let message = error(
        &xml_get(&srv, "/api/tokens", &alice.access_token, XML_36_1),
        406,
    );
    assert!(message.contains("application/json only"), "{message}");
}

#[test]
fn delete_api_session_logs_out_as_the_sdks_do() {
    let srv = TestServer::start();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let alice = srv.api().user_login("alice@acme");
    srv.api()
        .delete(
            "/api/session",
            &[("Authorization", &bearer(&alice.access_token))],
        )
        .assert_status(204, "logout at /api/session");
    srv.api()
        .try_session_info(&alice.access_token)
        .assert_status(401, "the session is over");
}

/// The Python of the virtual environment that holds pyvcloud, made on first
/// use (`.ci/run` makes it beforehand).
fn pyvcloud_python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pyvcloud-venv");
    let setup = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/setup-pyvcloud");
    let made = Command::new("bash")
        .arg(setup)
        .arg(&venv)
        .output()
        .expect("bash runs");
    assert!(
        made.status.success(),
        "setup-pyvcloud failed:\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    venv.join("bin").join("python")
}

#[test]
fn pyvcloud_logs_in_lists_orgs_takes_a_token_by_jwt_bearer_and_is_refused_once_it_is_revoked() {
    let python = pyvcloud_python();
    let srv = TestServer::start();
    srv.cli().org_add("acme");
    srv.cli().user_add("alice@acme", &[ROLE_TOKEN_USER]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/pyvcloud_client.py"
    );
    let out = Command::new(python)
        .args([
            script,
            &format!("http://{}", srv.addr()),
            ADMIN_PASSWORD,
            "acme",
            "alice",
            USER_PASSWORD,
        ])
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pyvcloud's run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let provider = &seen["provider"];
    assert_eq!(
        provider["api_version"], "36.0",
        "negotiated from /api/versions"
    );
    assert_eq!(provider["is_sysadmin"], true);
    assert_eq!(provider["orgs"], serde_json::json!(["System", "acme"]));
    let tenant = &seen["tenant"];
    assert_eq!(tenant["is_sysadmin"], false);
    assert_eq!(
        (tenant["user"].as_str(), tenant["org"].as_str()),
        (Some("alice"), Some("acme"))
    );
    assert_eq!(tenant["orgs"], serde_json::json!(["acme"]));
    assert_eq!(tenant["logged_in_org"], "acme");
    assert_eq!(seen["second_grant"]["error"], "invalid_grant");
    assert_eq!(seen["rehydrated"]["user"], "alice");
    assert_eq!(seen["rehydrated"]["orgs"], serde_json::json!(["acme"]));
    assert!(str_field(&seen, "token_urn").starts_with("urn:vcloud:token:"));
    assert_eq!(seen["rehydrated_refused_after_revocation"], true);
    assert_eq!(seen["rehydrate_refused_after_revocation"], true);
    assert_eq!(seen["session_refused_after_logout"], true);
}
