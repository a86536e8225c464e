//! API token secrets: any string is accepted only in the token's shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokend::domain::ApiTokenSecret;

fuzz_target!(|presented: &str| {
    if let Some(token) = ApiTokenSecret::parse(presented) {
        assert_eq!(token.reveal(), presented);
        assert_eq!(presented.len(), 65);
        assert!(presented.starts_with("tkd"));
        assert!(presented.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
});
