//! Cloud Director's XML API, as its SDKs read it: `/api/versions` lists the
//! versions tokend speaks, each with a login URL that works.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::support::*;

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
