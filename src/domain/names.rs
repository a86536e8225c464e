//! What a name a client sets may contain. Names are shown to people in
//! listings and logs, so characters that are invisible or reorder the text
//! (controls, format characters such as U+202E RIGHT-TO-LEFT OVERRIDE, line
//! separators, private-use and unassigned code points) are refused: a name
//! must look like what it is.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::DomainError;

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
            "{what} must not contain control, format or invisible characters (found U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(())
}

fn is_visible(c: char) -> bool {
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_in_any_script_pass() {
        for name in [
            "ci deploy",
            "Übergabe",
            "本番トークン",
            "jeton d'équipe",
            "a.b_c-1",
        ] {
            assert!(check_name("name", name, 64).is_ok(), "{name}");
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
}
