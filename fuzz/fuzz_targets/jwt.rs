//! Access tokens: arbitrary input never verifies, nor does a real token
//! with bytes of the input written over it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tokend::domain::fuzzing::TokenChecker;

const NOW: i64 = 1_800_000_000;

fn fixture() -> &'static (TokenChecker, String) {
    static FIXTURE: OnceLock<(TokenChecker, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let checker = TokenChecker::new().expect("a key ring");
        let jwt = checker
            .access_token(&TokenChecker::access_claims(NOW), NOW)
            .expect("signed");
        (checker, jwt)
    })
}

fuzz_target!(|data: &[u8]| {
    let (checker, real) = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(checker.verify(text, NOW).is_err(), "{text} verified");
    }
    // The first two bytes say where in the real token the rest goes.
    if data.len() > 2 {
        let at = usize::from(u16::from_le_bytes([data[0], data[1]])) % real.len();
        let mut mutated = real.as_bytes().to_vec();
        let end = (at + data.len() - 2).min(mutated.len());
        mutated[at..end].copy_from_slice(&data[2..2 + end - at]);
        if mutated != real.as_bytes() {
            if let Ok(text) = String::from_utf8(mutated) {
                assert!(checker.verify(&text, NOW).is_err(), "{text} verified");
            }
        }
    }
});
