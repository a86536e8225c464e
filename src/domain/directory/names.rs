//! What a name a client sets may contain. Names are shown to people in
//! listings, logs and the audit trail, so two names that look the same must
//! be the same name: characters that are invisible, blank or reorder the
//! text are refused.
//!
//! - Controls, format characters (such as U+202E RIGHT-TO-LEFT OVERRIDE),
//!   line and paragraph separators, private-use, surrogate and unassigned
//!   code points.
//! - Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt):
//!   characters a renderer shows as nothing unless it supports them, among
//!   them the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), variation
//!   selectors (U+FE00–U+FE0F, U+E0100–U+E01EF), U+034F COMBINING GRAPHEME
//!   JOINER, the Mongolian free variation selectors and the Khmer inherent
//!   vowels. So an emoji written with U+FE0F (`❤️`) is refused; written
//!   without it (`❤`) it passes, and most show the same.
//! - Blank characters outside that set that draw nothing: U+2800 BRAILLE
//!   PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD.
//! - Every space but U+0020: the others (no-break, en, em, thin, hair,
//!   ideographic U+3000, …) look like U+0020 or like nothing, so `a b` and
//!   `a<U+00A0>b` would be two names that read alike. A CJK name is written
//!   with U+0020 instead of U+3000.
//! - U+0020 at either end or twice in a row: `admin ` would pass for
//!   `admin`, and a web page shows a run of spaces as one. So a name made of
//!   blanks alone is refused too. Callers that trim (token and client names)
//!   do so before the check; the others get the error.
//!
//! The Unicode data is `icu_properties` (ICU4X's, generated from the
//! Unicode Character Database, Unicode 18.0 in the version locked).

use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

use crate::domain::DomainError;

/// Blank characters that are not default-ignorable: they take up room, or
/// none, and draw nothing.
const BLANKS: [char; 2] = ['\u{2800}', '\u{1D159}'];

/// Checks `name` (already trimmed by the caller if it trims) for `what`.
pub fn check_name(what: &str, name: &str, max_chars: usize) -> Result<(), DomainError> {
    if name.is_empty() {
        return Err(DomainError::Invalid(format!("{what} must not be empty")));
    }
    if name.chars().count() > max_chars {
        return Err(DomainError::Invalid(format!(
            "{what} is too long: at most {max_chars} characters"
        )));
    }
    if let Some(c) = name.chars().find(|&c| !is_visible(c)) {
        return Err(DomainError::Invalid(format!(
            "{what} must not contain control, format, invisible or blank characters, \
             or spaces other than U+0020 (found U+{:04X})",
            u32::from(c)
        )));
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return Err(DomainError::Invalid(format!(
            "{what} must not begin or end with a space, or have two spaces in a row"
        )));
    }
    Ok(())
}

fn is_visible(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let refused_category = matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::SpaceSeparator
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    );
    !refused_category
        && !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        && !BLANKS.contains(&c)
}

pub(in crate::domain) fn check_email(email: &str) -> Result<(), DomainError> {
    check_name("e-mail address", email, 254)?;
    let plausible = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if plausible {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "{email:?} is not an e-mail address"
        )))
    }
}

/// An audience tokend will put in a token: 1-256 visible ASCII characters.
pub fn check_audience(audience: &str) -> Result<(), DomainError> {
    let valid = !audience.is_empty()
        && audience.len() <= 256
        && audience.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(DomainError::InvalidTarget(
            "an audience is 1-256 visible ASCII characters".into(),
        ))
    }
}

/// RFC 8707 §2: a resource is an absolute URI without a fragment.
pub fn check_resource(resource: &str) -> Result<(), DomainError> {
    check_audience(resource)?;
    let scheme = resource.split_once(':').map(|(scheme, _)| scheme);
    let absolute = scheme.is_some_and(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if absolute && !resource.contains('#') {
        Ok(())
    } else {
        Err(DomainError::InvalidTarget(
            "a resource is an absolute URI without a fragment (RFC 8707)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Default_Ignorable_Code_Point as DerivedCoreProperties.txt lists it
    /// (unchanged since U+180F joined in Unicode 14.0; the crate's data is
    /// Unicode 18.0), written out so that the test does not take the data
    /// under test on trust.
    const DEFAULT_IGNORABLE: [(u32, u32); 19] = [
        (0x00AD, 0x00AD),   // SOFT HYPHEN
        (0x034F, 0x034F),   // COMBINING GRAPHEME JOINER
        (0x061C, 0x061C),   // ARABIC LETTER MARK
        (0x115F, 0x1160),   // HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
        (0x17B4, 0x17B5),   // KHMER VOWEL INHERENT AQ..AA
        (0x180B, 0x180F),   // MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
        (0x200B, 0x200F),   // ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
        (0x202A, 0x202E),   // LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
        (0x2060, 0x206F),   // WORD JOINER..NOMINAL DIGIT SHAPES (U+2065 reserved)
        (0x3164, 0x3164),   // HANGUL FILLER
        (0xFE00, 0xFE0F),   // VARIATION SELECTOR-1..16
        (0xFEFF, 0xFEFF),   // ZERO WIDTH NO-BREAK SPACE
        (0xFFA0, 0xFFA0),   // HALFWIDTH HANGUL FILLER
        (0xFFF0, 0xFFF8),   // reserved
        (0x1BCA0, 0x1BCA3), // SHORTHAND FORMAT LETTER OVERLAP..UP STEP
        (0x1D173, 0x1D17A), // MUSICAL SYMBOL BEGIN BEAM..END PHRASE
        (0xE0000, 0xE007F), // reserved, LANGUAGE TAG, TAG SPACE..CANCEL TAG
        (0xE0080, 0xE01EF), // reserved, VARIATION SELECTOR-17..256
        (0xE01F0, 0xE0FFF), // reserved
    ];

    fn listed(c: char) -> bool {
        let c = u32::from(c);
        DEFAULT_IGNORABLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
    }

    #[test]
    fn ordinary_names_in_any_script_pass() {
        for name in [
            "ci deploy",
            "Übergabe",
            "本番トークン",
            "本番 トークン",
            "jeton d'équipe",
            "a.b_c-1",
            "Ελληνικά",
            "русский токен",
            "עברית",
            "العربية",
            "हिन्दी",
            "ไทย",
            "한국어 토큰",
            "ქართული",
            "Nguyễn",
            "🔑 deploy",
            "❤",
            "👍🏽",
            "Org Admin",
        ] {
            let checked = check_name("name", name, 64);
            assert!(checked.is_ok(), "{name}: {checked:?}");
        }
    }

    #[test]
    fn controls_bidi_overrides_and_invisible_characters_are_refused() {
        for bad in [
            "evil\u{202e}gpj.exe",
            "a\u{2066}b",
            "zero\u{200b}width",
            "bom\u{feff}",
            "tab\there",
            "nul\0",
            "esc\u{1b}[31m",
            "line\u{2028}sep",
            "private\u{e000}",
            "tag\u{e0041}",
        ] {
            assert!(check_name("name", bad, 64).is_err(), "{bad:?}");
        }
        assert!(check_name("name", "", 64).is_err());
        assert!(check_name("name", &"x".repeat(65), 64).is_err());
    }

    #[test]
    fn every_default_ignorable_code_point_is_refused() {
        let mut refused = 0;
        for &(first, last) in &DEFAULT_IGNORABLE {
            for c in (first..=last).filter_map(char::from_u32) {
                let name = format!("ad{c}min");
                assert!(
                    check_name("name", &name, 64).is_err(),
                    "U+{:04X}",
                    u32::from(c)
                );
                refused += 1;
            }
        }
        assert_eq!(refused, 4174);
        // The ones the issue found, alone and inside a name.
        for c in ['\u{034F}', '\u{FE0F}', '\u{3164}', '\u{115F}', '\u{FFA0}'] {
            assert!(check_name("name", &c.to_string(), 64).is_err(), "{c:?}");
            assert!(check_name("name", &format!("x{c}"), 64).is_err(), "{c:?}");
        }
        assert!(check_name("name", "❤\u{FE0F}", 64).is_err());
    }

    #[test]
    fn the_data_agrees_with_the_listed_set() {
        // The crate's data and the list above name the same code points, so
        // neither has drifted from DerivedCoreProperties.txt unnoticed.
        let data = CodePointSetData::new::<DefaultIgnorableCodePoint>();
        let differ: Vec<String> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| data.contains(c) != listed(c))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(differ.is_empty(), "{differ:?}");
    }

    #[test]
    fn blanks_and_spaces_other_than_u0020_are_refused() {
        for c in [
            '\u{2800}',
            '\u{1D159}',
            '\u{00A0}',
            '\u{1680}',
            '\u{2000}',
            '\u{2002}',
            '\u{2003}',
            '\u{2009}',
            '\u{200A}',
            '\u{202F}',
            '\u{205F}',
            '\u{3000}',
        ] {
            assert!(check_name("name", &format!("a{c}b"), 64).is_err(), "{c:?}");
            assert!(check_name("name", &c.to_string(), 64).is_err(), "{c:?}");
        }
    }

    #[test]
    fn spaces_only_between_words_and_one_at_a_time() {
        for bad in [" ", "   ", " admin", "admin ", "Org  Admin"] {
            assert!(check_name("name", bad, 64).is_err(), "{bad:?}");
        }
        assert!(check_name("name", "Org Admin", 64).is_ok());
    }
}
