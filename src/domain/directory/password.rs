//! Password hashing (argon2id) and the generated first-start password.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::domain::ambient::RandomSource;
use crate::domain::DomainError;

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

/// argon2's working memory (19 MiB at the default cost), kept and reused.
/// Allocated and freed per login, glibc keeps the freed blocks in its
/// arenas and the resident size grows by that much with each thread that
/// ever hashed; kept here, there are only ever as many as hashes that ran at
/// once.
static SPARE_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// argon2id of `password` with `salt`, as `params` and `version` say, into
/// an output of `len` bytes, on memory from `SPARE_MEMORY`.
fn argon2(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    len: usize,
) -> Result<Output, DomainError> {
    let internal = |e: &dyn std::fmt::Display| DomainError::Internal(format!("argon2: {e}"));
    let blocks_needed = params.block_count();
    let mut blocks = SPARE_MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    if blocks.len() < blocks_needed {
        blocks.resize(blocks_needed, Block::default());
    }
    let hasher = Argon2::new(algorithm, version, params);
    let output = Output::init_with(len, |out| {
        hasher
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..blocks_needed])
            .map_err(|_| argon2::password_hash::Error::Password)
    })
    .map_err(|e| internal(&e));
    SPARE_MEMORY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(blocks);
    output
}

pub fn hash_password(random: &dyn RandomSource, password: &str) -> Result<String, DomainError> {
    let internal = |e: argon2::password_hash::Error| DomainError::Internal(format!("argon2: {e}"));
    let mut salt = [0u8; 16];
    random.fill(&mut salt)?;
    let salt_string = SaltString::encode_b64(&salt).map_err(internal)?;
    let params = Params::default();
    let output = argon2(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.as_bytes(),
        &salt,
        Params::DEFAULT_OUTPUT_LEN,
    )?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt_string.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` hashes to the PHC string `stored`.
fn matches(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let computed = (|| {
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        let salt = salt.decode_b64(&mut salt_bytes).ok()?;
        argon2(
            algorithm,
            version,
            params,
            password.as_bytes(),
            salt,
            expected.len(),
        )
        .ok()
    })();
    // `Output`'s equality takes the same time wherever the bytes differ.
    computed.is_some_and(|computed| computed == expected)
}

/// Verifies a password against a stored hash. With no hash (unknown user) it
/// still spends the time of one verification, so that the answer's timing does
/// not tell whether the user exists.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        hash_password(
            &crate::domain::ambient::OsRandom,
            "not a password of anyone",
        )
        .unwrap_or_default()
    });
    let (hash, real) = match stored {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let verified = matches(password, hash);
    real && verified
}

/// A random 24-character password for the first start's administrator,
/// without look-alike characters.
pub fn generate_password(random: &dyn RandomSource) -> Result<String, DomainError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    crate::domain::ambient::random_string(random, ALPHABET, 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;

    #[test]
    fn hashes_interoperate_with_the_stock_argon2_implementation() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Hashes stored before memory was reused still verify, and ours
        // verify with the crate's own verifier.
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let stock = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(matches("correct horse", &stock));
        assert!(!matches("wrong horse", &stock));
        let ours = hash_password(&OsRandom, "correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(!matches("correct horse", "$argon2id$v=19$garbage"));
    }

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
