//! Password hashing (argon2id) and the generated first-start password.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::ambient::RandomSource;
use super::DomainError;

pub const MIN_PASSWORD_LENGTH: usize = 8;
const MAX_PASSWORD_LENGTH: usize = 1024;

pub fn check_password_rules(password: &str) -> Result<(), DomainError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(DomainError::Invalid(format!(
            "password is too short: at least {MIN_PASSWORD_LENGTH} characters"
        )));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(DomainError::Invalid(format!(
            "password is too long: at most {MAX_PASSWORD_LENGTH} characters"
        )));
    }
    Ok(())
}

pub fn hash_password(random: &dyn RandomSource, password: &str) -> Result<String, DomainError> {
    let mut salt = [0u8; 16];
    random.fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| DomainError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DomainError::Internal(e.to_string()))
}

/// Verifies a password against a stored hash. With no hash (unknown user) it
/// still spends the time of one verification, so that the answer's timing does
/// not tell whether the user exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password(&super::ambient::OsRandom, "not a password of anyone").unwrap_or_default()
    });
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let verified = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    real && verified
}

/// A random 24-character password for the first start's administrator,
/// without look-alike characters.
pub fn generate_password(random: &dyn RandomSource) -> Result<String, DomainError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    super::api_token::random_string(random, ALPHABET, 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let hash = hash_password(&OsRandom, "correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("not a password of anyone", None));
    }

    #[test]
    fn generated_passwords_satisfy_the_rules() {
        let p = generate_password(&OsRandom).unwrap();
        assert_eq!(p.len(), 24);
        assert!(check_password_rules(&p).is_ok());
        assert!(check_password_rules("short").is_err());
    }
}
