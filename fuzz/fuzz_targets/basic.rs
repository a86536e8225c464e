//! `Authorization` headers: Basic logins and client credentials, bearer
//! tokens; a login read is exactly what the header's base64 carries.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tokend::http::fuzzing::{access_token, basic_client, basic_login};

fuzz_target!(|header: &str| {
    if let Ok(Some((user, org, password))) = basic_login(header) {
        let (_, encoded) = header.trim().split_once(' ').expect("a scheme and a value");
        let decoded = STANDARD.decode(encoded.trim()).expect("valid base64");
        assert_eq!(decoded, format!("{user}@{org}:{password}").into_bytes());
    }
    let _ = basic_client(header);
    let _ = access_token(&[("authorization", header)]);
    let _ = access_token(&[("authorization", header), ("csp-auth-token", header.trim())]);
});
