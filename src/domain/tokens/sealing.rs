//! Private signing keys sealed at rest: AES-256-GCM (ring) under a
//! key-encryption key (KEK) kept outside the database, so that the
//! database file, or a backup of it, alone yields no key that signs.
//!
//! A sealed blob is self-describing:
//!
//! ```text
//! "TKS1" | KEK id (8 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The associated data is the blob's header (magic and KEK id), the
//! key's algorithm and its kid, so a blob moved to another row, or given
//! another header, fails to open. A plaintext key of an earlier version is
//! a 32-byte P-256 scalar or a PKCS #8 document (starting 0x30): never
//! long enough, or never starting with the magic, to pass for a sealed
//! blob. Where the KEK is kept is `KekStore`'s business (a file, for the
//! binary; memory, for tests).

use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::ambient::RandomSource;
use crate::domain::DomainError;

/// What starts every sealed blob: version 1 of the format.
const MAGIC: &[u8; 4] = b"TKS1";
/// The KEK id's bytes in a blob.
const KEK_ID_LEN: usize = 8;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + KEK_ID_LEN;
/// The KEK's length: AES-256.
pub const KEK_LEN: usize = 32;

/// What a second-factor secret is sealed as, in place of a signing key's
/// algorithm, its user id in place of the kid: a blob copied onto another
/// user's row, or into the signing keys, does not open.
pub const SECOND_FACTOR: &str = "totp";

/// What a webhook's signing secret is sealed as, its webhook id in place
/// of the kid.
pub const WEBHOOK_SECRET: &str = "webhook";

/// A key-encryption key; wiped when dropped, never shown by `Debug`.
#[derive(Clone)]
pub struct Kek {
    key: Zeroizing<[u8; KEK_LEN]>,
    id: [u8; KEK_ID_LEN],
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("id", &self.id()).finish()
    }
}

impl Kek {
    /// A fresh KEK from `random`.
    pub fn generate(random: &dyn RandomSource) -> Result<Kek, DomainError> {
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        random.fill(&mut key[..])?;
        Ok(Kek::from_bytes(key))
    }

    /// The KEK whose bytes are `key`.
    pub fn from_bytes(key: Zeroizing<[u8; KEK_LEN]>) -> Kek {
        let digest = Sha256::new()
            .chain_update(b"tokend key-encryption key id\0")
            .chain_update(&key[..])
            .finalize();
        let mut id = [0u8; KEK_ID_LEN];
        id.copy_from_slice(&digest[..KEK_ID_LEN]);
        Kek { key, id }
    }

    /// The key's bytes, for the one place that keeps them.
    pub fn bytes(&self) -> &[u8; KEK_LEN] {
        &self.key
    }

    /// The KEK's id: 16 hex digits of a hash of the key, which tell
    /// KEKs apart and say nothing of the key.
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    fn aead(&self) -> Result<LessSafeKey, DomainError> {
        UnboundKey::new(&AES_256_GCM, &self.key[..])
            .map(LessSafeKey::new)
            .map_err(|_| DomainError::Internal("the key-encryption key is unusable".into()))
    }
}

/// Where the KEK is kept, outside the database.
pub trait KekStore: Send + Sync {
    /// Where it is, in words an admin acts on (a file's path).
    fn location(&self) -> String;
    /// The KEK kept there; None when there is none (no file).
    fn load(&self) -> Result<Option<Kek>, DomainError>;
    /// Keeps `kek` there, durably; refused when a KEK is there already:
    /// a KEK is never replaced, since keys sealed under it would be lost.
    fn create(&self, kek: &Kek) -> Result<(), DomainError>;
}

/// A KEK held in memory: for tests and tools that make a database
/// in-process.
#[derive(Default)]
pub struct MemoryKek(std::sync::Mutex<Option<Kek>>);

impl KekStore for MemoryKek {
    fn location(&self) -> String {
        "memory".into()
    }

    fn load(&self) -> Result<Option<Kek>, DomainError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn create(&self, kek: &Kek) -> Result<(), DomainError> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_some() {
            return Err(DomainError::Conflict("a KEK is held already".into()));
        }
        *held = Some(kek.clone());
        Ok(())
    }
}

/// One KEK for every test database of a test run.
#[cfg(test)]
pub fn test_store() -> std::sync::Arc<dyn KekStore> {
    static STORE: std::sync::OnceLock<std::sync::Arc<MemoryKek>> = std::sync::OnceLock::new();
    STORE.get_or_init(Default::default).clone()
}

/// What a stored private key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sealing {
    /// Sealed under the KEK with this id.
    Sealed(String),
    /// Plaintext, as versions before sealing stored it.
    Plaintext,
}

/// Whether `blob` is sealed, and under which KEK.
pub fn sealing_of(blob: &[u8]) -> Sealing {
    if blob.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN && blob.starts_with(MAGIC) {
        Sealing::Sealed(hex(&blob[MAGIC.len()..HEADER_LEN]))
    } else {
        Sealing::Plaintext
    }
}

/// `private_key` of the key `kid` of `algorithm`, sealed under `kek` with
/// a fresh nonce from `random`.
pub fn seal(
    kek: &Kek,
    random: &dyn RandomSource,
    kid: &str,
    algorithm: &str,
    private_key: &[u8],
) -> Result<Vec<u8>, DomainError> {
    let mut nonce = [0u8; NONCE_LEN];
    random.fill(&mut nonce)?;
    let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + private_key.len() + TAG_LEN);
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&kek.id);
    blob.extend_from_slice(&nonce);
    let aad = associated_data(&blob[..HEADER_LEN], kid, algorithm);
    let mut sealed = Zeroizing::new(private_key.to_vec());
    kek.aead()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut *sealed,
        )
        .map_err(|_| DomainError::Internal(format!("sealing signing key {kid} failed")))?;
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Why a stored key could not be unsealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsealError {
    /// Sealed under another KEK (its id).
    OtherKek(String),
    /// The blob does not open: altered, or moved from another key's row.
    Tampered,
}

impl fmt::Display for UnsealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsealError::OtherKek(id) => write!(f, "sealed under key-encryption key {id}"),
            UnsealError::Tampered => f.write_str(
                "its sealed form does not open: altered, or not this key's (wrong kid or algorithm)",
            ),
        }
    }
}

/// The private key of `kid` of `algorithm` from its stored `blob`: opened
/// with `kek` when sealed; a plaintext key of an earlier version as it is.
pub fn unseal(
    kek: &Kek,
    kid: &str,
    algorithm: &str,
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
    match sealing_of(blob) {
        Sealing::Plaintext => return Ok(Zeroizing::new(blob.to_vec())),
        Sealing::Sealed(id) if id != kek.id() => return Err(UnsealError::OtherKek(id)),
        Sealing::Sealed(_) => {}
    }
    let (header, rest) = blob.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| UnsealError::Tampered)?;
    let aad = associated_data(header, kid, algorithm);
    let mut opened = Zeroizing::new(sealed.to_vec());
    let aead = kek.aead().map_err(|_| UnsealError::Tampered)?;
    let len = aead
        .open_in_place(nonce, Aad::from(aad), &mut opened)
        .map_err(|_| UnsealError::Tampered)?
        .len();
    opened.truncate(len);
    Ok(opened)
}

/// What the tag binds beside the key: the blob's header, the algorithm
/// and the kid, each length-prefixed so no two pairs run together.
fn associated_data(header: &[u8], kid: &str, algorithm: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + 8 + kid.len() + algorithm.len());
    aad.extend_from_slice(header);
    for part in [algorithm, kid] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;

    const SCALAR: [u8; 32] = [7; 32];

    fn kek() -> Kek {
        Kek::generate(&OsRandom).unwrap()
    }

    #[test]
    fn a_sealed_key_opens_under_its_kek_kid_and_algorithm() {
        let kek = kek();
        let blob = seal(&kek, &OsRandom, "kid-a", "ES256", &SCALAR).unwrap();
        assert_eq!(sealing_of(&blob), Sealing::Sealed(kek.id()));
        assert!(!blob.windows(SCALAR.len()).any(|w| w == SCALAR));
        assert_eq!(&unseal(&kek, "kid-a", "ES256", &blob).unwrap()[..], SCALAR);
        let again = seal(&kek, &OsRandom, "kid-a", "ES256", &SCALAR).unwrap();
        assert_ne!(blob, again, "a fresh nonce for every seal");
    }

    #[test]
    fn a_tampered_blob_is_refused() {
        let kek = kek();
        let blob = seal(&kek, &OsRandom, "kid-a", "ES256", &SCALAR).unwrap();
        for at in [HEADER_LEN, HEADER_LEN + NONCE_LEN, blob.len() - 1] {
            let mut tampered = blob.clone();
            tampered[at] ^= 1;
            assert_eq!(
                unseal(&kek, "kid-a", "ES256", &tampered),
                Err(UnsealError::Tampered),
                "byte {at} flipped"
            );
        }
        let mut cut = blob.clone();
        cut.truncate(blob.len() - 1);
        assert!(unseal(&kek, "kid-a", "ES256", &cut).is_err());
    }

    #[test]
    fn a_blob_moved_to_another_kid_or_algorithm_is_refused() {
        let kek = kek();
        let blob = seal(&kek, &OsRandom, "kid-a", "ES256", &SCALAR).unwrap();
        assert_eq!(
            unseal(&kek, "kid-b", "ES256", &blob),
            Err(UnsealError::Tampered)
        );
        assert_eq!(
            unseal(&kek, "kid-a", "RS256", &blob),
            Err(UnsealError::Tampered)
        );
    }

    #[test]
    fn another_kek_is_refused_even_under_a_forged_id() {
        let (kek, other) = (kek(), kek());
        assert_ne!(kek.id(), other.id());
        let blob = seal(&kek, &OsRandom, "kid-a", "ES256", &SCALAR).unwrap();
        assert_eq!(
            unseal(&other, "kid-a", "ES256", &blob),
            Err(UnsealError::OtherKek(kek.id()))
        );
        // The header names the other KEK: its tag still does not open.
        let mut forged = blob.clone();
        forged[MAGIC.len()..HEADER_LEN].copy_from_slice(&other.id);
        assert_eq!(
            unseal(&other, "kid-a", "ES256", &forged),
            Err(UnsealError::Tampered)
        );
    }

    #[test]
    fn plaintext_keys_of_earlier_versions_are_told_apart() {
        assert_eq!(sealing_of(&SCALAR), Sealing::Plaintext);
        let mut scalar = SCALAR;
        scalar[..4].copy_from_slice(MAGIC);
        assert_eq!(
            sealing_of(&scalar),
            Sealing::Plaintext,
            "too short to be sealed"
        );
        let pkcs8 = [0x30, 0x82, 0x04, 0xbd, 0x02, 0x01, 0x00];
        assert_eq!(sealing_of(&pkcs8.repeat(100)), Sealing::Plaintext);
        assert_eq!(&unseal(&kek(), "k", "ES256", &SCALAR).unwrap()[..], SCALAR);
    }

    #[test]
    fn a_kek_never_shows_its_bytes() {
        let kek = kek();
        let shown = format!("{kek:?}");
        assert!(shown.contains(&kek.id()));
        assert!(!shown.contains(&hex(kek.bytes())));
        assert!(!shown.contains(&format!("{:?}", &kek.bytes()[..4])));
    }
}
