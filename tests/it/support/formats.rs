//! The formats tokend speaks, read independently of its code: compact JWTs
//! decoded without verification, base64url, RFC 3339 timestamps, the shape
//! of API token secrets and ids, and the check that a secret (or any
//! 12-character piece of one) does not appear in some bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

use super::wire::contains_bytes;

pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("bad base64url {s:?}: {e}"))
}

/// Decode a JWT's header and claims without verifying it.
pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {jwt}");
    let h = serde_json::from_slice(&b64url_decode(parts[0])).expect("JWT header JSON");
    let c = serde_json::from_slice(&b64url_decode(parts[1])).expect("JWT claims JSON");
    (h, c)
}

/// `exp - iat` of a JWT, in seconds.
pub fn jwt_lifetime(jwt: &str) -> i64 {
    let (_, c) = jwt_parts(jwt);
    let at = |k: &str| {
        c[k].as_i64()
            .unwrap_or_else(|| panic!("claim {k} missing or not an integer: {c}"))
    };
    at("exp") - at("iat")
}

/// String field of a JSON object, panicking with context when absent.
pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key:?} missing or not a string in {v}"))
}

/// 65 characters of [A-Za-z0-9] starting with "tkd".
pub fn is_token_format(t: &str) -> bool {
    t.len() == 65 && t.starts_with("tkd") && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// Every UUID in free text, in order (CLI output mixes ids with prose).
pub fn uuids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .filter(|w| w.len() == 36 && is_uuid(w))
        .map(str::to_owned)
        .collect()
}

/// Replace the alphanumeric character at `idx` by a different one.
pub fn flip_char(t: &str, idx: usize) -> String {
    let mut b = t.as_bytes().to_vec();
    b[idx] = if b[idx] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

/// Panics if `hay` contains the secret or any 12-character piece of it:
/// storing or logging part of a secret leaks it as surely as the whole.
pub fn assert_no_secret(hay: &[u8], secret: &str, what: &str) {
    for i in 0..=secret.len().saturating_sub(12) {
        let piece = &secret[i..i + 12];
        assert!(
            !contains_bytes(hay, piece.as_bytes()),
            "{what}: contains {piece:?}, a piece of secret {secret:?}"
        );
    }
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parse an RFC 3339 timestamp to Unix seconds (fractions dropped).
pub fn parse_rfc3339(s: &str) -> i64 {
    let b = s.as_bytes();
    let bad = || -> ! { panic!("not an RFC 3339 timestamp: {s:?}") };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        bad();
    }
    let num = |r: std::ops::Range<usize>| -> i64 {
        let t = &s[r];
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            bad();
        }
        t.parse().unwrap_or_else(|_| bad())
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        bad();
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            bad();
        }
    }
    let rest = &s[i..];
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                bad();
            }
            let oh: i64 = rest[1..3].parse().unwrap_or_else(|_| bad());
            let om: i64 = rest[4..6].parse().unwrap_or_else(|_| bad());
            let o = oh * 3600 + om * 60;
            if rb[0] == b'-' {
                -o
            } else {
                o
            }
        }
    };
    days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset
}

/// Assert `a` is within `tol` of `b`.
pub fn assert_near(a: i64, b: i64, tol: i64, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} not within {tol} of {b} (diff {})",
        a - b
    );
}

#[test]
fn rfc3339_parser_is_correct() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), 951868800);
    assert_eq!(parse_rfc3339("2024-02-29T12:34:56.789Z"), 1709210096);
    assert_eq!(parse_rfc3339("2024-02-29T14:34:56+02:00"), 1709210096);
}
