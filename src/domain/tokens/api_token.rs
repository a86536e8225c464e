//! The API token secret: its format, generation, checksum and digest, and the
//! lifetime an owner may ask for.
//!
//! Format (65 characters, all `[A-Za-z0-9]`):
//!
//! ```text
//! tkd  <56 random base62 characters>  <6 base62 checksum characters>
//! ```
//!
//! The random part carries about 333 bits from the OS RNG, drawn without
//! modulo bias. The checksum is the first six base62 digits of the blake3
//! hash of the first 59 characters: a mistyped or invented string is refused
//! before any database lookup, and the fixed prefix lets secret scanners
//! recognise a leaked token (`\btkd[A-Za-z0-9]{62}\b`).

use std::fmt;
use std::time::Duration;

use crate::domain::ambient::{random_string, RandomSource};
use crate::domain::DomainError;

pub const TOKEN_LENGTH: usize = 65;
pub const TOKEN_PREFIX: &str = "tkd";
const RANDOM_LENGTH: usize = 56;
const CHECKSUM_LENGTH: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub const DEFAULT_LIFETIME: &str = "6months";
const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// Past five years an owner should say "never" and mean it.
const MAX_LIFETIME: Duration = Duration::from_secs(5 * 365 * 24 * 3600);

/// A well-formed API token secret. Its `Debug` never shows the secret.
pub struct ApiTokenSecret(String);

impl ApiTokenSecret {
    pub fn generate(random: &dyn RandomSource) -> Result<ApiTokenSecret, DomainError> {
        let mut token = String::with_capacity(TOKEN_LENGTH);
        token.push_str(TOKEN_PREFIX);
        token.push_str(&random_string(random, BASE62, RANDOM_LENGTH)?);
        let checksum = checksum(&token);
        token.push_str(&checksum);
        Ok(ApiTokenSecret(token))
    }

    /// Checks the shape and checksum of a presented token; no lookup involved.
    pub fn parse(presented: &str) -> Option<ApiTokenSecret> {
        let well_formed = presented.len() == TOKEN_LENGTH
            && presented.starts_with(TOKEN_PREFIX)
            && presented.bytes().all(|b| b.is_ascii_alphanumeric());
        if !well_formed {
            return None;
        }
        let (body, sum) = presented.split_at(TOKEN_LENGTH - CHECKSUM_LENGTH);
        // Not secret-dependent timing worth hiding: the checksum is public
        // knowledge derived from the rest of the string.
        (checksum(body) == sum).then(|| ApiTokenSecret(presented.to_string()))
    }

    pub fn digest(&self) -> [u8; 32] {
        *blake3::hash(self.0.as_bytes()).as_bytes()
    }

    /// The secret itself, for the one answer that shows it to its owner.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiTokenSecret(..)")
    }
}

fn checksum(body: &str) -> String {
    let hash = blake3::hash(body.as_bytes());
    let mut n = u64::from_le_bytes(hash.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    let mut digits = [0u8; CHECKSUM_LENGTH];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits.iter().map(|&d| d as char).collect()
}

/// How long a new API token lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    Never,
    For(Duration),
}

impl TokenLifetime {
    /// Parses `never` or a humantime span (`30m`, `90d`, `6months`).
    pub fn parse(text: &str) -> Result<TokenLifetime, DomainError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("never") {
            return Ok(TokenLifetime::Never);
        }
        let span = humantime::parse_duration(text).map_err(|e| {
            DomainError::Invalid(format!(
                "ttl {text:?} is not a duration ({e}); use e.g. \"30m\", \"90d\", \"6months\" or \"never\""
            ))
        })?;
        if span < MIN_LIFETIME {
            return Err(DomainError::Invalid(format!(
                "ttl {text:?} is too short: the minimum is 1 minute"
            )));
        }
        if span > MAX_LIFETIME {
            return Err(DomainError::Invalid(format!(
                "ttl {text:?} is too long: the maximum is 5 years; use \"never\" for a token that does not expire"
            )));
        }
        Ok(TokenLifetime::For(span))
    }

    /// When a token made at `now` for this lifetime expires, to the second.
    pub fn expires_at(self, now: i64) -> Option<i64> {
        match self {
            TokenLifetime::Never => None,
            TokenLifetime::For(span) => Some(now.saturating_add(span.as_secs() as i64)),
        }
    }

    /// When a token made at `now` that asked for no lifetime expires: at
    /// least this (the default) later, on the next whole minute, so that a
    /// default expiry reads as a time someone chose.
    pub fn default_expires_at(self, now: i64) -> Option<i64> {
        self.expires_at(now).map(whole_minute_at_or_after)
    }
}

/// `at`, or the next whole minute after it (Unix seconds).
pub(in crate::domain) fn whole_minute_at_or_after(at: i64) -> i64 {
    match at.rem_euclid(60) {
        0 => at,
        past => at.saturating_add(60 - past),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;
    use std::sync::Mutex;

    /// Hands out scripted bytes, then fails: shows exactly which bytes a
    /// draw consumed.
    struct Scripted(Mutex<Vec<u8>>);

    impl RandomSource for Scripted {
        fn fill(&self, buf: &mut [u8]) -> Result<(), DomainError> {
            let mut bytes = self.0.lock().unwrap();
            if bytes.len() < buf.len() {
                return Err(DomainError::Internal("script exhausted".into()));
            }
            buf.copy_from_slice(&bytes[..buf.len()]);
            bytes.drain(..buf.len());
            Ok(())
        }
    }

    #[test]
    fn bytes_that_would_bias_the_alphabet_are_dropped() {
        // 248..=255 would make the first eight characters of base62 likelier.
        let mut script: Vec<u8> = (248..=255).collect();
        script.extend([0, 61, 62, 247]);
        script.resize(64, 255);
        let random = Scripted(Mutex::new(script));
        assert_eq!(random_string(&random, BASE62, 4).unwrap(), "0z0z");
        assert!(
            random_string(&random, BASE62, 1).is_err(),
            "all further bytes were consumed"
        );
    }

    #[test]
    fn generated_tokens_are_65_alphanumerics_with_a_valid_checksum() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let token = ApiTokenSecret::generate(&OsRandom).unwrap();
            let text = token.reveal();
            assert_eq!(text.len(), TOKEN_LENGTH);
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
            assert!(ApiTokenSecret::parse(text).is_some());
            assert!(seen.insert(text.to_string()), "duplicate token drawn");
        }
    }

    #[test]
    fn every_base62_character_appears_about_equally_often() {
        let mut counts = [0u32; 128];
        let draws = 4000;
        for _ in 0..draws {
            let token = ApiTokenSecret::generate(&OsRandom).unwrap();
            for b in token.reveal()[TOKEN_PREFIX.len()..TOKEN_LENGTH - CHECKSUM_LENGTH].bytes() {
                counts[usize::from(b)] += 1;
            }
        }
        let expected = f64::from(draws * RANDOM_LENGTH as u32) / 62.0;
        for &c in BASE62 {
            let n = f64::from(counts[usize::from(c)]);
            // ~3612 expected per character; 10% is over 5 standard deviations.
            assert!(
                (n - expected).abs() < expected * 0.1,
                "character {} drawn {n} times, expected about {expected}",
                c as char
            );
        }
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let token = ApiTokenSecret::generate(&OsRandom).unwrap();
        let text = token.reveal();
        for i in [3, 30, 58, 59, 64] {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(ApiTokenSecret::parse(&altered).is_none(), "position {i}");
        }
    }

    #[test]
    fn malformed_strings_are_refused() {
        let token = ApiTokenSecret::generate(&OsRandom).unwrap();
        let text = token.reveal();
        assert!(ApiTokenSecret::parse(&text[..64]).is_none());
        assert!(ApiTokenSecret::parse(&format!("{text}a")).is_none());
        assert!(ApiTokenSecret::parse(&format!("xyz{}", &text[3..])).is_none());
        assert!(ApiTokenSecret::parse(&format!("{}-", &text[..64])).is_none());
        assert!(ApiTokenSecret::parse("").is_none());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let token = ApiTokenSecret::generate(&OsRandom).unwrap();
        assert!(!format!("{token:?}").contains(token.reveal()));
    }

    #[test]
    fn lifetimes_parse_from_minutes_to_never() {
        assert_eq!(
            TokenLifetime::parse("30m").unwrap(),
            TokenLifetime::For(Duration::from_secs(1800))
        );
        assert!(matches!(
            TokenLifetime::parse("6months").unwrap(),
            TokenLifetime::For(_)
        ));
        assert_eq!(TokenLifetime::parse("never").unwrap(), TokenLifetime::Never);
        assert!(TokenLifetime::parse("59s").is_err());
        assert!(TokenLifetime::parse("banana").is_err());
        assert!(TokenLifetime::parse("6y").is_err());
        assert_eq!(TokenLifetime::Never.expires_at(100), None);
        assert_eq!(
            TokenLifetime::parse("1m").unwrap().expires_at(100),
            Some(160)
        );
        // A default: 100 + 60 = 160, on to the next whole minute.
        let minute = TokenLifetime::parse("1m").unwrap();
        assert_eq!(minute.default_expires_at(100), Some(180));
        let half_hour = TokenLifetime::parse("30m").unwrap();
        assert_eq!(
            half_hour.default_expires_at(1_800_000_000),
            Some(1_800_001_800),
            "already on a whole minute"
        );
        assert_eq!(
            half_hour.default_expires_at(1_800_000_001),
            Some(1_800_001_860)
        );
        assert_eq!(TokenLifetime::Never.default_expires_at(100), None);
    }
}
