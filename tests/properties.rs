//! Property tests of the parsers that read what clients send: form bodies,
//! Basic and bearer credentials, API token secrets, access tokens (JWT),
//! the Cloud Director `filter` and `Accept`, Cloud Director's XML answers
//! and the JSON request bodies. Each property states what must hold for
//! every input (a round trip, a refusal, an agreement with an independent
//! implementation), not only that nothing panics; proptest draws the
//! inputs, a fixed number per property so that the whole file runs in a
//! few seconds. The same parsers have cargo-fuzz targets for longer runs
//! (`fuzz/`, README "Fuzzing"). A case proptest once found is kept below
//! its property as a plain test.

use std::sync::{Mutex, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

use tokend::domain::ambient::RandomSource;
use tokend::domain::fuzzing::{binding_admits, canonical_cidr, TokenChecker, ISSUER};
use tokend::domain::{ApiTokenSecret, DomainError, ServiceRoleScope, TokenScope};
use tokend::http::fuzzing as http;

/// `cases` inputs per property, unless `PROPTEST_CASES` asks for another
/// number (a longer search); failures are not written to files (a case
/// worth keeping becomes a plain test here).
fn config(cases: u32) -> Config {
    let asked = std::env::var("PROPTEST_CASES").ok();
    Config {
        cases: asked.and_then(|n| n.parse().ok()).unwrap_or(cases),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Any string, control characters and all planes of Unicode included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        "[a-zA-Z0-9 =&%+;:@.,_~-]{0,24}",
        proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
    ]
}

// --- application/x-www-form-urlencoded --------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// What the `url` crate's WHATWG encoder writes, tokend reads back
    /// exactly, pair by pair and in order.
    #[test]
    fn forms_read_back_what_an_encoder_wrote(pairs in proptest::collection::vec((text(), text()), 0..6)) {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        // A NUL is in no name or value of the API: refused, not read.
        if pairs.iter().any(|(name, value)| name.contains('\0') || value.contains('\0')) {
            prop_assert!(http::form(encoded.as_bytes()).is_err());
        } else {
            prop_assert_eq!(http::form(encoded.as_bytes()), Ok(pairs));
        }
    }

    /// On any bytes tokend agrees with the `url` crate's decoder, except
    /// that it refuses what would not decode to UTF-8 where `url` would
    /// substitute U+FFFD, and what holds a NUL.
    #[test]
    fn forms_agree_with_an_independent_decoder(input in proptest::collection::vec(
        prop_oneof![Just(b'%'), Just(b'+'), Just(b'='), Just(b'&'), any::<u8>(),
                    proptest::sample::select(b"0123456789abcdefABCDEF".to_vec())],
        0..48,
    )) {
        let theirs: Vec<(String, String)> = url::form_urlencoded::parse(&input).into_owned().collect();
        match http::form(&input) {
            Ok(ours) => prop_assert_eq!(ours, theirs),
            Err(_) => {
                let decoded = percent_encoding::percent_decode(&input).collect::<Vec<u8>>();
                prop_assert!(
                    std::str::from_utf8(&decoded).is_err() || decoded.contains(&0),
                    "refused input that decodes to UTF-8 without a NUL: {:?}", input
                );
            }
        }
    }
}

// --- Authorization: Basic, Bearer, csp-auth-token ----------------------------

fn basic(decoded: &str) -> String {
    format!("Basic {}", STANDARD.encode(decoded))
}

proptest! {
    #![proptest_config(config(512))]

    /// A login's `user@org:password` comes back as its three parts, with the
    /// scheme in any case and whitespace around the value. The org is what
    /// follows the last `@`, so the user may hold one and the org not.
    #[test]
    fn basic_logins_round_trip(
        user in "[^:]{1,12}",
        org in "[^:@]{1,12}",
        password in text(),
        scheme in "[bB][aA][sS][iI][cC]",
        pad in " {0,3}",
    ) {
        let header = format!("{pad}{scheme} {}{pad}", STANDARD.encode(format!("{user}@{org}:{password}")));
        prop_assert_eq!(http::basic_login(&header), Ok(Some((user, org, password))));
    }

    /// A client's id and secret, each form-urlencoded as RFC 6749 §2.3.1
    /// has it, come back as they were, whatever they hold (`:` included),
    /// but a NUL, which is refused.
    #[test]
    fn basic_client_credentials_round_trip(id in text(), secret in text()) {
        let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let header = basic(&format!("{}:{}", encode(&id), encode(&secret)));
        if id.contains('\0') || secret.contains('\0') {
            prop_assert!(http::basic_client(&header).is_err());
        } else {
            prop_assert_eq!(http::basic_client(&header), Ok(Some((id, secret))));
        }
    }

    /// Whatever the header, a login read from it is one whose
    /// `user@org:password` is exactly what the header's base64 carries: no
    /// credential is made up, cut or read from elsewhere.
    #[test]
    fn basic_logins_are_read_only_from_their_header(header in prop_oneof![
        text(),
        text().prop_map(|t| basic(&t)),
        ("[^:]{0,6}", "[^:]{0,6}", text()).prop_map(|(u, o, p)| basic(&format!("{u}@{o}:{p}"))),
    ]) {
        if let Ok(Some((user, org, password))) = http::basic_login(&header) {
            let (_, encoded) = header.trim().split_once(' ').expect("a scheme and a value");
            let decoded = STANDARD.decode(encoded.trim()).expect("valid base64");
            prop_assert_eq!(decoded, format!("{user}@{org}:{password}").into_bytes());
            prop_assert!(!user.is_empty() && !org.is_empty() && !org.contains('@'));
        }
    }

    /// `Authorization: Bearer` and `csp-auth-token` give the token either
    /// carries; together only when they carry the same one.
    #[test]
    fn bearer_and_csp_headers_must_agree(a in "[A-Za-z0-9._-]{1,40}", b in "[A-Za-z0-9._-]{1,40}") {
        let bearer = format!("Bearer {a}");
        prop_assert_eq!(http::access_token(&[("authorization", &bearer)]), Ok(Some(a.clone())));
        prop_assert_eq!(http::access_token(&[("csp-auth-token", &a)]), Ok(Some(a.clone())));
        let both = http::access_token(&[("authorization", &bearer), ("csp-auth-token", &b)]);
        if a == b {
            prop_assert_eq!(both, Ok(Some(a.clone())));
        } else {
            prop_assert!(both.is_err());
        }
        let repeated = http::access_token(&[("csp-auth-token", &a), ("csp-auth-token", &a)]);
        prop_assert!(repeated.is_err());
    }
}

// --- API token secrets ------------------------------------------------------

/// Hands out the bytes it was given, then fails.
struct Scripted(Mutex<Vec<u8>>);

impl RandomSource for Scripted {
    fn fill(&self, buf: &mut [u8]) -> Result<(), DomainError> {
        let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if bytes.len() < buf.len() {
            return Err(DomainError::Internal("script exhausted".into()));
        }
        buf.copy_from_slice(&bytes[..buf.len()]);
        bytes.drain(..buf.len());
        Ok(())
    }
}

/// A token generated from `bytes` (at least enough for its 56 random
/// characters: bytes of 248 and above are dropped).
fn token_from(bytes: Vec<u8>) -> String {
    let mut script: Vec<u8> = bytes.into_iter().map(|b| b % 248).collect();
    script.resize(4096, 0);
    ApiTokenSecret::generate(&Scripted(Mutex::new(script)))
        .expect("enough bytes")
        .reveal()
        .to_string()
}

fn is_token_shaped(s: &str) -> bool {
    s.len() == 65 && s.starts_with("tkd") && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

proptest! {
    #![proptest_config(config(512))]

    /// A generated token is accepted, and as itself.
    #[test]
    fn generated_tokens_round_trip(bytes in proptest::collection::vec(any::<u8>(), 56..200)) {
        let token = token_from(bytes);
        prop_assert!(is_token_shaped(&token));
        let parsed = ApiTokenSecret::parse(&token).map(|t| t.reveal().to_string());
        prop_assert_eq!(parsed, Some(token));
    }

    /// Any one character changed, to any other character, is refused.
    #[test]
    fn any_single_changed_character_is_refused(
        bytes in proptest::collection::vec(any::<u8>(), 56..120),
        at in 0usize..65,
        to in any::<char>(),
    ) {
        let token = token_from(bytes);
        let original = token.as_bytes()[at] as char;
        prop_assume!(to != original);
        let mut changed: Vec<char> = token.chars().collect();
        changed[at] = to;
        let changed: String = changed.into_iter().collect();
        prop_assert!(ApiTokenSecret::parse(&changed).is_none(), "{} accepted", changed);
    }

    /// Dropping, doubling or swapping characters is refused too.
    #[test]
    fn dropped_doubled_and_swapped_characters_are_refused(
        bytes in proptest::collection::vec(any::<u8>(), 56..120),
        at in 0usize..64,
    ) {
        let token = token_from(bytes);
        let mut dropped = token.clone();
        dropped.remove(at);
        prop_assert!(ApiTokenSecret::parse(&dropped).is_none());
        let mut doubled = token.clone();
        doubled.insert(at, token.as_bytes()[at] as char);
        prop_assert!(ApiTokenSecret::parse(&doubled).is_none());
        let mut swapped = token.clone().into_bytes();
        swapped.swap(at, at + 1);
        prop_assume!(swapped != token.as_bytes());
        prop_assert!(ApiTokenSecret::parse(&String::from_utf8(swapped).expect("ASCII")).is_none());
    }

    /// Any string at all: accepted only in the token's shape, as itself.
    #[test]
    fn arbitrary_strings_are_accepted_only_in_the_tokens_shape(s in prop_oneof![
        text(),
        "tkd[A-Za-z0-9]{62}",
        "tkd[A-Za-z0-9]{60,64}.?",
    ]) {
        if let Some(token) = ApiTokenSecret::parse(&s) {
            prop_assert!(is_token_shaped(&s));
            prop_assert_eq!(token.reveal(), s.as_str());
        }
    }
}

// --- Access tokens (JWT) ----------------------------------------------------

fn checker() -> &'static TokenChecker {
    static CHECKER: OnceLock<TokenChecker> = OnceLock::new();
    CHECKER.get_or_init(|| TokenChecker::new().expect("a key ring"))
}

const NOW: i64 = 1_800_000_000;

fn claims_with(username: &str, roles: &[String], now: i64) -> Value {
    let mut claims = TokenChecker::access_claims(now);
    claims["username"] = json!(username);
    claims["roles"] = json!(roles);
    claims
}

proptest! {
    #![proptest_config(config(128))]

    /// A token tokend signed verifies to the very claims it was signed with.
    #[test]
    fn signed_access_tokens_verify_to_their_claims(
        username in text(),
        roles in proptest::collection::vec(text(), 0..4),
    ) {
        let claims = claims_with(&username, &roles, NOW);
        let jwt = checker().access_token(&claims, NOW).expect("signed");
        prop_assert_eq!(checker().verify(&jwt, NOW), Ok(claims));
    }

    /// Changing any one character of a valid token makes it fail, wherever
    /// it is: header, claims or signature.
    #[test]
    fn any_changed_character_of_a_token_fails(
        at in any::<prop::sample::Index>(),
        to in prop_oneof![proptest::char::range('-', 'z'), any::<char>()],
    ) {
        let jwt = checker().access_token(&TokenChecker::access_claims(NOW), NOW).expect("signed");
        let mut chars: Vec<char> = jwt.chars().collect();
        let at = at.index(chars.len());
        prop_assume!(chars[at] != to);
        chars[at] = to;
        let changed: String = chars.into_iter().collect();
        prop_assert!(checker().verify(&changed, NOW).is_err(), "verified after a change at {}", at);
    }

    /// A token cut short, or with anything appended, fails.
    #[test]
    fn cut_or_extended_tokens_fail(cut in any::<prop::sample::Index>(), tail in "[A-Za-z0-9._=-]{1,8}") {
        let jwt = checker().access_token(&TokenChecker::access_claims(NOW), NOW).expect("signed");
        let cut = cut.index(jwt.len());
        prop_assert!(checker().verify(&jwt[..cut], NOW).is_err());
        let extended = format!("{jwt}{tail}");
        prop_assert!(checker().verify(&extended, NOW).is_err());
    }

    /// A token is good from a minute before it was issued until it expires,
    /// and at no other time.
    #[test]
    fn tokens_verify_only_within_their_lifetime(offset in -4000i64..4000) {
        let jwt = checker().access_token(&TokenChecker::access_claims(NOW), NOW).expect("signed");
        let at = NOW + offset;
        let good = (NOW - 60..NOW + 1800).contains(&at);
        prop_assert_eq!(checker().verify(&jwt, at).is_ok(), good, "at {:+}", offset);
    }

    /// The same claims signed otherwise than an access token is (the RS256
    /// key of ID tokens, another `typ`) never pass as one, nor does a token
    /// of another issuer.
    #[test]
    fn other_tokens_of_the_same_keys_fail(typ in prop_oneof![Just("JWT".to_string()), Just("id+jwt".to_string()), text()]) {
        let claims = TokenChecker::access_claims(NOW);
        let rs256 = checker().sign(&claims, "RS256", "at+jwt", NOW).expect("signed");
        prop_assert!(checker().verify(&rs256, NOW).is_err());
        let lowered = typ.to_ascii_lowercase();
        prop_assume!(lowered != "at+jwt" && lowered != "application/at+jwt");
        let other_typ = checker().sign(&claims, "ES256", &typ, NOW).expect("signed");
        prop_assert!(checker().verify(&other_typ, NOW).is_err());
        let mut foreign = claims;
        foreign["iss"] = json!(format!("{ISSUER}/other"));
        let foreign = checker().access_token(&foreign, NOW).expect("signed");
        prop_assert!(checker().verify(&foreign, NOW).is_err());
    }

    /// Arbitrary text, and JWT-shaped strings with a header naming the
    /// ring's key and `alg` of any kind, never verify.
    #[test]
    fn forged_tokens_never_verify(
        junk in text(),
        alg in prop_oneof![Just("ES256".to_string()), Just("none".to_string()), Just("HS256".to_string()), text()],
        claims in text(),
        signature in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        prop_assert!(checker().verify(&junk, NOW).is_err());
        let real = checker().access_token(&TokenChecker::access_claims(NOW), NOW).expect("signed");
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(real.split('.').next().expect("a header")).expect("base64"),
        ).expect("JSON");
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let forged_header = json!({ "alg": alg, "typ": "at+jwt", "kid": header["kid"] });
        let forged_claims = TokenChecker::access_claims(NOW);
        for body in [b64(claims.as_bytes()), b64(forged_claims.to_string().as_bytes())] {
            let forged = format!("{}.{}.{}", b64(forged_header.to_string().as_bytes()), body, b64(&signature));
            prop_assert!(checker().verify(&forged, NOW).is_err());
            let unsigned = format!("{}.{}.", b64(forged_header.to_string().as_bytes()), body);
            prop_assert!(checker().verify(&unsigned, NOW).is_err());
        }
    }
}

// --- Cloud Director's FIQL filter -------------------------------------------

/// A filter and the FIQL that asks for it, terms in any order.
fn filters() -> impl Strategy<Value = (http::TokenFilter, String)> {
    let value = "[^;]{0,16}";
    (
        proptest::option::of(value),
        proptest::option::of(value),
        proptest::option::of(prop_oneof![
            "[rR][eE][fF][rR][eE][sS][hH]".prop_map(|t| (t, false)),
            "[^;]{0,8}".prop_filter_map("another type", |t| {
                (!t.eq_ignore_ascii_case("REFRESH")).then_some((t, true))
            }),
        ]),
        any::<prop::sample::Index>(),
        " {0,2}",
    )
        .prop_filter("at least one term", |(n, o, t, _, _)| {
            n.is_some() || o.is_some() || t.is_some()
        })
        .prop_map(|(name, owner, kind, rotate, pad)| {
            let mut terms = Vec::new();
            if let Some(name) = &name {
                terms.push(format!("{pad}name=={name}"));
            }
            if let Some(owner) = &owner {
                terms.push(format!("owner.name{pad}=={owner}"));
            }
            if let Some((kind, _)) = &kind {
                terms.push(format!("type=={kind}"));
            }
            let by = rotate.index(terms.len());
            terms.rotate_left(by);
            let filter = http::TokenFilter {
                name,
                owner,
                other_type: kind.is_some_and(|(_, other)| other),
            };
            (filter, terms.join(";"))
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// parse(print(filter)) == filter.
    #[test]
    fn fiql_filters_round_trip((filter, fiql) in filters()) {
        prop_assert_eq!(http::cloudapi_filter(&fiql), Ok(filter));
    }

    /// A term on any other field, anywhere in the filter, refuses it whole.
    #[test]
    fn fiql_filters_with_an_unknown_field_are_refused(
        (_, fiql) in filters(),
        field in "[a-zA-Z.]{1,12}",
        value in "[^;]{0,8}",
    ) {
        prop_assume!(!["type", "name", "owner.name"].contains(&field.as_str()));
        let after = format!("{fiql};{field}=={value}");
        let before = format!("{field}=={value};{fiql}");
        prop_assert!(http::cloudapi_filter(&after).is_err());
        prop_assert!(http::cloudapi_filter(&before).is_err());
    }

    /// Any text: every term of an accepted filter is `field==value` on a
    /// known field, and what it asks for is what its terms say.
    #[test]
    fn accepted_fiql_filters_say_what_their_terms_say(fiql in prop_oneof![
        text(),
        "((type|name|owner\\.name| name)==[a-z;=]{0,5};?){0,3}",
    ]) {
        if let Ok(filter) = http::cloudapi_filter(&fiql) {
            let mut expected = http::TokenFilter::default();
            for term in fiql.split(';') {
                let (field, value) = term.split_once("==").expect("field==value");
                match field.trim() {
                    "type" => expected.other_type |= !value.eq_ignore_ascii_case("REFRESH"),
                    "name" => expected.name = Some(value.to_string()),
                    "owner.name" => expected.owner = Some(value.to_string()),
                    other => prop_assert!(false, "accepted a term on {:?}", other),
                }
            }
            prop_assert_eq!(filter, expected);
        }
    }
}

// --- Cloud Director's Accept and XML ----------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// Every version tokend speaks is answered at that version, however the
    /// XML range is written; any other version is 406.
    #[test]
    fn xml_ranges_choose_the_version_they_name(
        version in proptest::sample::select(http::VCLOUD_VERSIONS.to_vec()),
        other in "[0-9]{1,2}\\.[0-9]",
        media in proptest::sample::select(vec!["application/*+xml", "application/xml", "text/xml", "APPLICATION/VND.VMWARE.VCLOUD.ORG+XML"]),
        quoted in any::<bool>(),
        q in proptest::option::of(1u8..=9),
    ) {
        let q = q.map(|q| format!(";q=0.{q}")).unwrap_or_default();
        let quote = if quoted { "\"" } else { "" };
        let accept = format!("{media};version={quote}{version}{quote}{q}");
        prop_assert_eq!(http::vcloud_accept(&accept), Ok(Some(version)));
        prop_assume!(!http::VCLOUD_VERSIONS.contains(&other.as_str()));
        prop_assert_eq!(http::vcloud_accept(&format!("{media};version={other}{q}")), Err(406));
    }

    /// JSON wins when preferred, XML when preferred; anything else is JSON.
    #[test]
    fn the_most_preferred_range_decides(json_q in 1u8..=9, xml_q in 1u8..=9, junk in "[a-z]{1,8}/[a-z]{1,8}") {
        let accept = format!("application/json;q=0.{json_q}, application/*+xml;version=36.0;q=0.{xml_q}, {junk}");
        let expected = if xml_q > json_q { Some("36.0") } else { None };
        prop_assume!(!junk.contains("xml") && junk != "application/json");
        prop_assert_eq!(http::vcloud_accept(&accept), Ok(expected));
    }

    /// Any `Accept`: JSON, XML at a version tokend speaks, or 406.
    #[test]
    fn any_accept_is_answered_in_a_form_tokend_speaks(accept in prop_oneof![
        text(),
        "((application/(\\*\\+)?xml|\\*/\\*|application/json)(;(q|version)=[0-9.\"a-z]{0,4}){0,2}, ?){1,3}",
    ]) {
        match http::vcloud_accept(&accept) {
            Ok(None) => {}
            Ok(Some(version)) => prop_assert!(http::VCLOUD_VERSIONS.contains(&version)),
            Err(status) => prop_assert_eq!(status, 406),
        }
    }
}

/// The XML characters (XML 1.0 §2.2).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// What an XML 1.0 parser reads from attribute `name` of the first
/// `element` of `document`, checked as a conforming parser would: only XML
/// characters in the document, and the attribute value normalised (a
/// literal tab or line break reads as a space; a character reference
/// keeps it).
fn read_attribute(document: &[u8], element: &str, name: &str) -> Result<String, String> {
    let text = std::str::from_utf8(document).map_err(|e| e.to_string())?;
    if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
        return Err(format!("the document holds {c:?}, which XML 1.0 cannot"));
    }
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            quick_xml::events::Event::Empty(e) | quick_xml::events::Event::Start(e)
                if e.name().as_ref() == element.as_bytes() =>
            {
                let attribute = e
                    .try_get_attribute(name)
                    .map_err(|e| e.to_string())?
                    .ok_or("no such attribute")?;
                // Attribute-value normalisation (XML 1.0 §3.3.3) happens
                // before references are expanded.
                let raw = std::str::from_utf8(&attribute.value).map_err(|e| e.to_string())?;
                let normalised = raw.replace(['\t', '\n', '\r'], " ");
                return quick_xml::escape::unescape(&normalised)
                    .map(|s| s.into_owned())
                    .map_err(|e| e.to_string());
            }
            quick_xml::events::Event::Eof => return Err(format!("no {element} element")),
            _ => {}
        }
    }
}

/// A message as an XML document can carry it: characters XML 1.0 has no
/// place for are written as U+FFFD.
fn as_xml_can_carry(message: &str) -> String {
    message
        .chars()
        .map(|c| match c {
            c if is_xml_char(c) => c,
            _ => '\u{FFFD}',
        })
        .collect()
}

proptest! {
    #![proptest_config(config(512))]

    /// An error message, whatever it holds, reads back from Cloud
    /// Director's `Error` document as it was (but for characters XML cannot
    /// hold at all), and the document is well-formed.
    #[test]
    fn xml_error_messages_read_back_as_written(message in text(), status in 400u16..600) {
        let (answered, content_type, body) = http::vcloud_error(status, "invalid_request", &message);
        prop_assert_eq!(answered, status);
        prop_assert!(content_type.starts_with("application/vnd.vmware.vcloud.error+xml;version="));
        prop_assert_eq!(read_attribute(&body, "Error", "message"), Ok(as_xml_can_carry(&message)));
    }

    /// An org's name reads back from its `Org` document, attribute and text.
    #[test]
    fn xml_org_documents_carry_the_name(name in text()) {
        let body = http::vcloud_org(ISSUER, "5c4b3a29-0000-4000-8000-000000000003", &name).expect("written");
        let expected = as_xml_can_carry(&name);
        prop_assert_eq!(read_attribute(&body, "Org", "name"), Ok(expected.clone()));
        let text = String::from_utf8(body).expect("UTF-8");
        let full_name = text
            .split_once("<FullName>")
            .and_then(|(_, rest)| rest.split_once("</FullName>"))
            .map(|(inner, _)| inner)
            .unwrap_or_default();
        // XML 1.0 §2.11: a parser reads a literal CR, and CR LF, as LF.
        let read = full_name.replace("\r\n", "\n").replace('\r', "\n");
        let read = quick_xml::escape::unescape(&read).map(|s| s.into_owned());
        prop_assert_eq!(read, Ok(expected));
    }
}

/// Found by `xml_error_messages_read_back_as_written`: a NUL (or any
/// character XML 1.0 cannot hold) went into the document as it was, which
/// no XML parser accepts; a line break in an attribute read back as a space.
#[test]
fn xml_documents_hold_no_character_xml_forbids_and_keep_line_breaks() {
    let (_, _, body) = http::vcloud_error(400, "invalid_request", "a\0b\u{1b}c\u{FFFF}");
    assert_eq!(
        read_attribute(&body, "Error", "message"),
        Ok("a\u{FFFD}b\u{FFFD}c\u{FFFD}".to_string())
    );
    let (_, _, body) = http::vcloud_error(400, "invalid_request", "one\ntwo\r\tthree");
    assert_eq!(
        read_attribute(&body, "Error", "message"),
        Ok("one\ntwo\r\tthree".to_string())
    );
}

// --- JSON request bodies ----------------------------------------------------

/// A body each operation accepts, the smallest there is.
fn minimal_body(operation: &str) -> Value {
    match operation {
        "createRole" | "createOrg" | "namedPermissions" => json!({ "name": "n" }),
        "roleRef" | "serviceAccountRole" => json!({ "role": "r" }),
        "createGroup" => json!({ "name": "n", "org": "o" }),
        "memberRef" => json!({ "user": "u" }),
        "orgRef" => json!({ "org": "o" }),
        "permissions" => json!({ "permissions": [] }),
        "changeService" | "tokenPolicy" | "rotateToken" => json!({}),
        "reportLeakedTokens" => json!({ "candidates": [] }),
        "register" => json!({ "client_name": "c" }),
        "userCode" => json!({ "userCode": "ABCD-EFGH" }),
        "createApiToken" => json!({ "name": "n" }),
        "createUser" => json!({ "username": "u", "org": "o", "password": "p" }),
        "setPassword" => json!({ "new_password": "p" }),
        "createWebhook" => json!({ "url": "https://h", "events": [] }),
        other => panic!("no minimal body for {other}"),
    }
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Every body reader refuses a field it does not know, whatever the
    /// name and value: a misspelt field is an error, not ignored.
    #[test]
    fn json_bodies_refuse_unknown_fields(
        operation in proptest::sample::select(http::JSON_BODIES.to_vec()),
        field in text(),
        value in json_value(),
    ) {
        let mut body = minimal_body(operation);
        prop_assert_eq!(http::json_body(operation, body.to_string().as_bytes()), Ok(()), "{}", operation);
        prop_assume!(!body.as_object().is_some_and(|o| o.contains_key(&field)));
        let known = ["name", "org", "service", "permissions", "role", "user", "identifier",
            "client_name", "software_id", "software_version", "client_uri",
            "id_token_signed_response_alg", "default_ttl", "max_ttl", "allow_never", "max_idle",
            "max_rotation_grace", "second_factor", "grace", "candidates",
            "userCode", "ttl", "openid", "all_roles", "org_roles", "service_roles", "reminder",
            "username", "password", "email", "roles", "current_password", "new_password"];
        prop_assume!(!known.contains(&field.as_str()));
        body[field.as_str()] = value;
        prop_assert!(http::json_body(operation, body.to_string().as_bytes()).is_err());
    }

    /// Any bytes and any JSON value: every reader answers, none panics,
    /// and a body that is not a JSON object is refused.
    #[test]
    fn json_bodies_refuse_what_is_not_an_object(
        operation in proptest::sample::select(http::JSON_BODIES.to_vec()),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        value in json_value(),
    ) {
        let _ = http::json_body(operation, &bytes);
        let result = http::json_body(operation, value.to_string().as_bytes());
        if !value.is_object() {
            prop_assert!(result.is_err());
        }
    }

    /// `POST /api/tokens` asks for every role, or for the roles it names,
    /// never both; what it names is what the scope holds.
    #[test]
    fn api_token_bodies_ask_for_the_scope_they_name(
        all_roles in proptest::option::of(any::<bool>()),
        org_roles in proptest::option::of(proptest::collection::vec(text(), 0..3)),
        service_roles in proptest::option::of(proptest::collection::vec(
            (text(), text(), proptest::option::of(proptest::collection::vec(text(), 0..3))), 0..3)),
    ) {
        let mut body = json!({ "name": "n" });
        if let Some(all) = all_roles {
            body["all_roles"] = json!(all);
        }
        if let Some(roles) = &org_roles {
            body["org_roles"] = json!(roles);
        }
        if let Some(roles) = &service_roles {
            body["service_roles"] = roles
                .iter()
                .map(|(service, role, permissions)| match permissions {
                    Some(p) => json!({ "service": service, "role": role, "permissions": p }),
                    None => json!({ "service": service, "role": role }),
                })
                .collect();
        }
        let names = org_roles.is_some() || service_roles.is_some();
        let scope = http::api_token_scope(body.to_string().as_bytes());
        // A NUL is in no role or service name: the body is refused.
        let holds_nul = body.to_string().contains("\\u0000");
        match (all_roles, names) {
            _ if holds_nul => prop_assert!(scope.is_err()),
            (Some(true), true) => prop_assert!(scope.is_err()),
            (None | Some(true), false) => prop_assert_eq!(scope, Ok(TokenScope::AllRoles)),
            _ => prop_assert_eq!(scope, Ok(TokenScope::Roles {
                org_roles: org_roles.unwrap_or_default(),
                service_roles: service_roles
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(service, role, permissions)| ServiceRoleScope { service, role, permissions })
                    .collect(),
            })),
        }
    }
}

/// Found by `json_bodies_refuse_what_is_not_an_object`: serde fills a
/// struct from an array of its fields in order, so `["r"]` was read as
/// `{"role": "r"}`.
#[test]
fn json_bodies_as_arrays_of_their_fields_are_refused() {
    assert_eq!(http::json_body("roleRef", br#"{"role": "r"}"#), Ok(()));
    assert!(http::json_body("roleRef", br#"["r"]"#).is_err());
    assert!(http::json_body("createGroup", br#" ["n", "o"]"#).is_err());
    assert!(http::json_body("createUser", br#"["u", "o", "p", null, null, []]"#).is_err());
}

// --- networks a token is bound to (`bound_cidrs`) -----------------------------

/// Membership as arithmetic on the address's bits, written apart from the
/// code under test: the top `prefix` bits agree.
fn same_top_bits(a: u128, b: u128, width: u32, prefix: u32) -> bool {
    let shift = width - prefix;
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

fn v4_masked(address: u32, prefix: u32) -> u32 {
    address & u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn an_ipv4_network_admits_exactly_the_addresses_sharing_its_prefix(
        network in any::<u32>(),
        prefix in 0u32..=32,
        client in any::<u32>(),
    ) {
        let network = v4_masked(network, prefix);
        let cidr = format!("{}/{prefix}", std::net::Ipv4Addr::from(network));
        prop_assert_eq!(canonical_cidr(&cidr), Ok(cidr.clone()));
        let client_ip = std::net::Ipv4Addr::from(client);
        let expected = same_top_bits(network.into(), client.into(), 32, prefix);
        let bound = vec![cidr.clone()];
        prop_assert_eq!(binding_admits(&bound, client_ip.into()), Ok(expected));
        // The same client arriving IPv4-mapped on a dual-stack socket.
        let mapped = client_ip.to_ipv6_mapped();
        prop_assert_eq!(binding_admits(&bound, mapped.into()), Ok(expected));
        // Written IPv4-mapped, the network is the same IPv4 network.
        let written_mapped = format!(
            "{}/{}",
            std::net::Ipv4Addr::from(network).to_ipv6_mapped(),
            prefix + 96
        );
        prop_assert_eq!(canonical_cidr(&written_mapped), Ok(cidr));
    }

    #[test]
    fn an_ipv6_network_admits_exactly_the_addresses_sharing_its_prefix(
        network in any::<u128>(),
        prefix in 0u32..=128,
        client in any::<u128>(),
        near in any::<bool>(),
    ) {
        let network = network & u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        let address = std::net::Ipv6Addr::from(network);
        // Half the clients inside the network, half anywhere.
        let client = if near {
            network | (client & !u128::MAX.checked_shl(128 - prefix).unwrap_or(0))
        } else {
            client
        };
        let client_ip = std::net::Ipv6Addr::from(client);
        let cidr = format!("{address}/{prefix}");
        let Ok(canonical) = canonical_cidr(&cidr) else {
            return Err(TestCaseError::fail(format!("{cidr} refused")));
        };
        prop_assert_eq!(canonical_cidr(&canonical), Ok(canonical.clone()), "stable");
        let expected = match (address.to_ipv4_mapped(), client_ip.to_ipv4_mapped()) {
            // A mapped network of /96 or more is kept as IPv4; a mapped
            // client is matched as IPv4: both sides move alike.
            (Some(_), _) if prefix >= 96 => {
                client_ip.to_ipv4_mapped().is_some()
                    && same_top_bits(network, client, 128, prefix)
            }
            // Any other IPv6 network never holds a mapped client.
            (_, Some(_)) => false,
            _ => same_top_bits(network, client, 128, prefix),
        };
        prop_assert_eq!(binding_admits(&[canonical], client_ip.into()), Ok(expected));
    }

    #[test]
    fn an_address_with_host_bits_set_is_refused(address in any::<u32>(), prefix in 0u32..32) {
        prop_assume!(v4_masked(address, prefix) != address);
        let cidr = format!("{}/{prefix}", std::net::Ipv4Addr::from(address));
        let refused = canonical_cidr(&cidr);
        prop_assert!(refused.is_err(), "{cidr} accepted");
        let masked = format!("{}/{prefix}", std::net::Ipv4Addr::from(v4_masked(address, prefix)));
        prop_assert!(refused.unwrap_err().contains(&masked), "the message names {masked}");
    }

    #[test]
    fn any_text_is_refused_or_canonical_and_never_panics(entry in text()) {
        if let Ok(canonical) = canonical_cidr(&entry) {
            prop_assert_eq!(canonical_cidr(&canonical), Ok(canonical.clone()));
            prop_assert!(canonical.contains('/'), "{canonical}");
        }
        let _ = binding_admits(&[entry], std::net::Ipv4Addr::LOCALHOST.into());
    }
}

// --- DPoP proofs ------------------------------------------------------------

/// An ES256 DPoP proof signed with p256 (RustCrypto, not the ring code
/// tokend verifies with), and the RFC 7638 thumbprint of its key.
fn es256_proof(jti: &str) -> (String, String) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use p256::ecdsa::signature::Signer;
    use sha2::Digest;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a key");
    let point = key.verifying_key().to_encoded_point(false);
    let x = B64.encode(point.x().expect("x"));
    let y = B64.encode(point.y().expect("y"));
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
    let claims =
        json!({"jti": jti, "htm": "GET", "htu": "https://tokend.test/api/tokens", "iat": 1});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    (
        format!("{input}.{}", B64.encode(signature.to_bytes())),
        B64.encode(sha2::Sha256::digest(canonical.as_bytes())),
    )
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text is refused, never a panic.
    #[test]
    fn arbitrary_text_is_no_dpop_proof(proof in text()) {
        prop_assert!(tokend::domain::fuzzing::dpop_proof_thumbprint(&proof).is_err());
    }

    /// A proof by another library passes with its key's thumbprint; one
    /// character changed anywhere, it is refused.
    #[test]
    fn a_changed_proof_is_refused(jti in "[A-Za-z0-9-]{1,40}", at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
        let (proof, jkt) = es256_proof(&jti);
        prop_assert_eq!(tokend::domain::fuzzing::dpop_proof_thumbprint(&proof), Ok(jkt));
        let i = at.index(proof.len());
        prop_assume!(proof[i..i + 1] != with);
        let changed = format!("{}{with}{}", &proof[..i], &proof[i + 1..]);
        prop_assert!(tokend::domain::fuzzing::dpop_proof_thumbprint(&changed).is_err(), "{}", changed);
    }
}
