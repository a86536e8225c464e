//! Form bodies and query strings: any bytes are read or refused, and what
//! is read is what the `url` crate's decoder reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokend::http::fuzzing::form;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = form(data) {
        let theirs: Vec<(String, String)> =
            url::form_urlencoded::parse(data).into_owned().collect();
        assert_eq!(pairs, theirs);
    }
});
