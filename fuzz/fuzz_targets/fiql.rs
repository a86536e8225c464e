//! Cloud Director's FIQL `filter`: an accepted filter asks for what its
//! `field==value` terms say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokend::http::fuzzing::{cloudapi_filter, TokenFilter};

fuzz_target!(|fiql: &str| {
    if let Ok(filter) = cloudapi_filter(fiql) {
        let mut expected = TokenFilter::default();
        for term in fiql.split(';') {
            let (field, value) = term.split_once("==").expect("field==value");
            match field.trim() {
                "type" => expected.other_type |= !value.eq_ignore_ascii_case("REFRESH"),
                "name" => expected.name = Some(value.to_string()),
                "owner.name" => expected.owner = Some(value.to_string()),
                other => panic!("accepted a term on {other:?}"),
            }
        }
        assert_eq!(filter, expected);
    }
});
