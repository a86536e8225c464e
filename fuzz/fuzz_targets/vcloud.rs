//! Cloud Director's `Accept` and XML: any `Accept` is answered in a form
//! tokend speaks; any message or org name makes a well-formed document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokend::http::fuzzing::{vcloud_accept, vcloud_error, vcloud_org, VCLOUD_VERSIONS};

fn well_formed(document: &[u8]) {
    let text = std::str::from_utf8(document).expect("UTF-8");
    assert!(
        text.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')),
        "a character XML 1.0 cannot hold: {text:?}"
    );
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
}

fuzz_target!(|input: &str| {
    match vcloud_accept(input) {
        Ok(None) => {}
        Ok(Some(version)) => assert!(VCLOUD_VERSIONS.contains(&version)),
        Err(status) => assert_eq!(status, 406),
    }
    let (_, _, body) = vcloud_error(400, "invalid_request", input);
    well_formed(&body);
    well_formed(&vcloud_org("https://tokend.test", "id", input).expect("written"));
});
