//! The JSON request bodies: any bytes are read or refused by every
//! operation's reader; only a JSON object is ever read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokend::http::fuzzing::{api_token_scope, json_body, JSON_BODIES};

fuzz_target!(|data: &[u8]| {
    let is_object = serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object());
    for operation in JSON_BODIES {
        if json_body(operation, data).is_ok() {
            assert!(is_object, "{operation} read a body that is not an object");
        }
    }
    let _ = api_token_scope(data);
});
