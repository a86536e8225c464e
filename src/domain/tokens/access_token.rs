//! Access tokens: JWS-signed JWTs (ES256) with their claims, the signing keys,
//! and the JWKS that lets resource servers verify them without calling back.
//!
//! Signature checking here covers the token itself only; whether its session
//! or API token is still alive is the caller's (`Authority::authenticate`)
//! decision, because that needs the store.
//!
//! `ring` signs and verifies (its P-256 is assembly: a signature takes some
//! 16 µs where `p256` takes over 100); `p256` derives a key's public point
//! from the stored scalar, gives the JWK coordinates, and puts signatures in
//! low-S form. ring draws each signature's nonce from the OS itself: its
//! random source cannot be supplied from outside.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::domain::ambient::RandomSource;
use crate::domain::records::SigningKeyRecord;
use crate::domain::DomainError;

pub const ALGORITHM: &str = "ES256";

/// The claims of every access token tokend issues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub org_id: String,
    pub org_name: String,
    pub username: String,
    /// The roles granted, `service/role` for service roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The permissions granted, `service:permission`: what a resource
    /// server checks.
    #[serde(default)]
    pub perms: Vec<String>,
    /// The API token this access was derived from (`refreshTokenId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt: Option<String>,
    /// The login session this access belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// One key pair; not `Debug`.
struct Key {
    kid: String,
    created_at: i64,
    /// When a newer key took over signing; None for the key that signs.
    replaced_at: Option<i64>,
    signing: EcdsaKeyPair,
    verifying: VerifyingKey,
    /// The public point, uncompressed, for ring.
    public: UnparsedPublicKey<Vec<u8>>,
}

/// The signing keys in force, as of one generation of the key table: the
/// newest signs, all verify.
pub struct KeyRing {
    generation: i64,
    keys: Vec<Key>,
    signer: usize,
    random: SystemRandom,
    /// How long a replaced key keeps verifying (and stays in the JWKS): the
    /// longest an access token it signed can live, and a minute's grace.
    retire_after: i64,
}

/// Grace beyond the access token lifetime before a replaced key goes.
const RETIREMENT_GRACE: i64 = 60;

impl KeyRing {
    /// The ring of `records`; a replaced key verifies for
    /// `token_lifetime` (plus a minute) after its successor took over.
    pub fn from_records(
        generation: i64,
        records: &[SigningKeyRecord],
        token_lifetime: i64,
    ) -> Result<KeyRing, DomainError> {
        let random = SystemRandom::new();
        let mut keys = Vec::with_capacity(records.len());
        for record in records.iter().filter(|r| r.algorithm == ALGORITHM) {
            let corrupt =
                || DomainError::Internal(format!("signing key {} is corrupt", record.kid));
            // `SigningKey` wipes its copy of the scalar when dropped here.
            let verifying = *SigningKey::from_slice(&record.private_key)
                .map_err(|_| corrupt())?
                .verifying_key();
            let point = verifying.to_encoded_point(false).as_bytes().to_vec();
            let signing = EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &record.private_key,
                &point,
                &random,
            )
            .map_err(|_| corrupt())?;
            keys.push(Key {
                kid: record.kid.clone(),
                created_at: record.created_at,
                replaced_at: None,
                signing,
                verifying,
                public: UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point),
            });
        }
        // Each key is replaced when the next newer one was made.
        let mut made: Vec<i64> = keys.iter().map(|k| k.created_at).collect();
        made.sort_unstable();
        for key in &mut keys {
            key.replaced_at = made.iter().copied().find(|&t| t > key.created_at);
        }
        // The newest key signs, whatever order the records came in.
        let signer = keys
            .iter()
            .enumerate()
            .max_by_key(|(_, k)| k.created_at)
            .map(|(i, _)| i)
            .ok_or_else(|| {
                DomainError::Internal("the database holds no ES256 signing key".into())
            })?;
        Ok(KeyRing {
            generation,
            keys,
            signer,
            random,
            retire_after: token_lifetime + RETIREMENT_GRACE,
        })
    }

    /// The key-table generation this ring was read at.
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// A fresh P-256 key, as a record to store.
    pub fn generate_key(
        random: &dyn RandomSource,
        now: i64,
    ) -> Result<SigningKeyRecord, DomainError> {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            random.fill(&mut secret[..])?;
            // Rejects the (astronomically rare) scalars outside the curve order.
            if let Ok(signing) = SigningKey::from_slice(&secret[..]) {
                return Ok(SigningKeyRecord {
                    kid: thumbprint(signing.verifying_key()),
                    algorithm: ALGORITHM.to_string(),
                    private_key: Zeroizing::new(secret.to_vec()),
                    created_at: now,
                });
            }
        }
    }

    /// The id of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.keys[self.signer].kid
    }

    /// Signs `claims` (an access token's, or an ID token's) as an ES256 JWT.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, DomainError> {
        let key = &self.keys[self.signer];
        let header = Header {
            alg: ALGORITHM.into(),
            typ: Some("JWT".into()),
            kid: Some(key.kid.clone()),
        };
        let header = serde_json::to_vec(&header).map_err(internal)?;
        let claims = serde_json::to_vec(claims).map_err(internal)?;
        let mut jwt = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let signed = key
            .signing
            .sign(&self.random, jwt.as_bytes())
            .map_err(|_| DomainError::Internal("signing an access token failed".into()))?;
        let signature = Signature::from_slice(signed.as_ref())
            .map_err(|_| DomainError::Internal("a signature came out malformed".into()))?;
        // Low-S form, the only one `verify` accepts: one token, one encoding.
        let signature = signature.normalize_s().unwrap_or(signature);
        jwt.push('.');
        jwt.push_str(&B64.encode(signature.to_bytes()));
        Ok(jwt)
    }

    /// Checks the signature, algorithm and lifetime; returns the claims.
    pub fn verify(&self, jwt: &str, issuer: &str, now: i64) -> Result<AccessClaims, DomainError> {
        let mut parts = jwt.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated("malformed access token"));
        };
        let header: Header = decode_json(header_b64)?;
        // The algorithm is fixed by us, never chosen by the token ("alg": "none").
        if header.alg != ALGORITHM {
            return Err(unauthenticated("access token algorithm not accepted"));
        }
        let key = self
            .keys
            .iter()
            .filter(|k| self.in_service(k, now))
            .find(|k| Some(&k.kid) == header.kid.as_ref())
            .ok_or_else(|| unauthenticated("access token signed by an unknown or retired key"))?;
        let signature = B64
            .decode(signature_b64)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or_else(|| unauthenticated("malformed access token signature"))?;
        // (r, n - s) verifies as well as (r, s); accepting only low S leaves
        // each token a single valid encoding.
        if signature.normalize_s().is_some() {
            return Err(unauthenticated(
                "access token signature is not in low-S form",
            ));
        }
        let signed_len = header_b64.len() + 1 + claims_b64.len();
        key.public
            .verify(&jwt.as_bytes()[..signed_len], &signature.to_bytes())
            .map_err(|_| unauthenticated("access token signature is invalid"))?;
        let claims: AccessClaims = decode_json(claims_b64)?;
        if claims.iss != issuer {
            return Err(unauthenticated("access token issued by another issuer"));
        }
        if claims.exp <= now {
            return Err(unauthenticated("access token has expired"));
        }
        Ok(claims)
    }

    /// Whether `key` still verifies at `now`: it signs, or the tokens it
    /// signed may not all have expired yet.
    fn in_service(&self, key: &Key, now: i64) -> bool {
        key.replaced_at
            .is_none_or(|replaced| now < replaced + self.retire_after)
    }

    /// When each key stopped signing, and whether it still verifies at `now`.
    pub fn key_states(&self, now: i64) -> Vec<(String, Option<i64>, bool)> {
        self.keys
            .iter()
            .map(|k| (k.kid.clone(), k.replaced_at, self.in_service(k, now)))
            .collect()
    }

    /// The public keys in service at `now` as a JWK Set (RFC 7517): a
    /// replaced key stays until every token it signed has expired.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .filter(|k| self.in_service(k, now))
            .map(|k| {
                let (x, y) = coordinates(&k.verifying);
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": x,
                    "y": y,
                    "kid": k.kid,
                    "use": "sig",
                    "alg": ALGORITHM,
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// Access tokens whose signature, issuer and form have been checked, by a
/// hash of the whole token, until they expire: a signature is checked once
/// per token, not once per request. Only the token itself is vouched for;
/// whether its session or API token is still alive is checked every time.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

/// Tokens remembered at most; past it the expired go, then all.
const VERIFIED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    /// The claims of `jwt` if it was verified before and has not expired.
    pub fn get(&self, jwt: &str, now: i64) -> Option<AccessClaims> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(blake3::hash(jwt.as_bytes()).as_bytes())
            .filter(|claims| claims.exp > now)
            .cloned()
    }

    pub fn insert(&self, jwt: &str, claims: &AccessClaims, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= VERIFIED_TOKENS {
            entries.retain(|_, c| c.exp > now);
            if entries.len() >= VERIFIED_TOKENS {
                entries.clear();
            }
        }
        entries.insert(*blake3::hash(jwt.as_bytes()).as_bytes(), claims.clone());
    }
}

fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let encode = |c: Option<&p256::FieldBytes>| c.map(|b| B64.encode(b)).unwrap_or_default();
    (encode(point.x()), encode(point.y()))
}

/// The RFC 7638 JWK thumbprint, used as the key id.
fn thumbprint(key: &VerifyingKey) -> String {
    let (x, y) = coordinates(key);
    // Members in lexicographic order, no whitespace, as RFC 7638 §3 requires.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, DomainError> {
    let bytes = B64
        .decode(part)
        .map_err(|_| unauthenticated("malformed access token"))?;
    serde_json::from_slice(&bytes).map_err(|_| unauthenticated("malformed access token"))
}

fn unauthenticated(why: &str) -> DomainError {
    DomainError::Unauthenticated(why.to_string())
}

fn internal(e: serde_json::Error) -> DomainError {
    DomainError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::ambient::OsRandom;

    fn new_ring() -> KeyRing {
        KeyRing::from_records(1, &[KeyRing::generate_key(&OsRandom, 0).unwrap()], 1800).unwrap()
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "https://tokend.test".into(),
            sub: "u".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            org_id: "o".into(),
            org_name: "System".into(),
            username: "administrator".into(),
            roles: vec![],
            perms: vec![],
            rt: Some("t".into()),
            sid: None,
        }
    }

    #[test]
    fn signed_tokens_verify_and_round_trip() {
        let ring = new_ring();
        let jwt = ring.sign(&claims(100)).unwrap();
        assert_eq!(
            ring.verify(&jwt, "https://tokend.test", 50).unwrap(),
            claims(100)
        );
    }

    #[test]
    fn expired_foreign_and_tampered_tokens_are_refused() {
        let ring = new_ring();
        let jwt = ring.sign(&claims(100)).unwrap();
        assert!(ring.verify(&jwt, "https://tokend.test", 100).is_err());
        assert!(ring.verify(&jwt, "https://elsewhere.test", 50).is_err());
        assert!(new_ring().verify(&jwt, "https://tokend.test", 50).is_err());

        let (signed, _) = jwt.rsplit_once('.').unwrap();
        let other = ring.sign(&claims(200)).unwrap();
        let forged = format!("{signed}.{}", other.rsplit_once('.').unwrap().1);
        assert!(ring.verify(&forged, "https://tokend.test", 50).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let ring = new_ring();
        let jwt = ring.sign(&claims(100)).unwrap();
        let claims_part = jwt.split('.').nth(1).unwrap();
        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(ring
            .verify(
                &format!("{header}.{claims_part}."),
                "https://tokend.test",
                50
            )
            .is_err());
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::domain::ambient::OsRandom;
    use p256::elliptic_curve::ops::Neg;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://tokend.test".into(),
            sub: "u".into(),
            iat: 0,
            exp: 100,
            jti: "j".into(),
            org_id: "o".into(),
            org_name: "System".into(),
            username: "administrator".into(),
            roles: vec![],
            perms: vec![],
            rt: None,
            sid: Some("s".into()),
        }
    }

    #[test]
    fn a_signature_with_high_s_is_refused() {
        let ring = KeyRing::from_records(1, &[KeyRing::generate_key(&OsRandom, 0).unwrap()], 1800)
            .unwrap();
        for _ in 0..4 {
            let jwt = ring.sign(&claims()).unwrap();
            let (signed, sig) = jwt.rsplit_once('.').unwrap();
            let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
            assert!(sig.normalize_s().is_none(), "tokend signs in low-S form");
            let (r, s) = sig.split_scalars();
            let high = Signature::from_scalars(r, s.as_ref().neg()).unwrap();
            let twin = format!("{signed}.{}", B64.encode(high.to_bytes()));
            // The twin is a valid ECDSA signature, refused only for its form.
            let key = &ring.keys[ring.signer];
            assert!(key
                .public
                .verify(signed.as_bytes(), &high.to_bytes())
                .is_ok());
            assert!(ring.verify(&twin, "https://tokend.test", 50).is_err());
            assert!(ring.verify(&jwt, "https://tokend.test", 50).is_ok());
        }
    }

    #[test]
    fn the_newest_key_signs_and_every_key_verifies() {
        let old = KeyRing::generate_key(&OsRandom, 10).unwrap();
        let new = KeyRing::generate_key(&OsRandom, 20).unwrap();
        let ring = KeyRing::from_records(2, &[old.clone(), new.clone()], 30).unwrap();
        assert_eq!(ring.signing_kid(), new.kid);
        let reversed = KeyRing::from_records(2, &[new.clone(), old.clone()], 30).unwrap();
        assert_eq!(reversed.signing_kid(), new.kid);
        let by_old = KeyRing::from_records(1, &[old], 30).unwrap();
        let jwt = by_old.sign(&claims()).unwrap();
        assert!(ring.verify(&jwt, "https://tokend.test", 50).is_ok());
        assert_eq!(ring.jwks(50)["keys"].as_array().unwrap().len(), 2);
        // The old key was replaced at 20; its tokens live at most 30 s, and
        // a minute's grace: from 110 on it is gone.
        assert_eq!(ring.jwks(109)["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.jwks(110)["keys"].as_array().unwrap().len(), 1);
        let mut late = claims();
        late.exp = 1000;
        let jwt = by_old.sign(&late).unwrap();
        assert!(ring.verify(&jwt, "https://tokend.test", 109).is_ok());
        assert!(
            ring.verify(&jwt, "https://tokend.test", 110).is_err(),
            "a token signed by a retired key is refused"
        );
        let signer = KeyRing::from_records(1, &[new], 30).unwrap();
        late.exp = 200_000;
        let jwt = signer.sign(&late).unwrap();
        assert!(
            signer.verify(&jwt, "https://tokend.test", 100_000).is_ok(),
            "the signing key never retires"
        );
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_only_whole() {
        let ring = KeyRing::from_records(1, &[KeyRing::generate_key(&OsRandom, 0).unwrap()], 1800)
            .unwrap();
        let jwt = ring.sign(&claims()).unwrap();
        let verified = VerifiedTokens::default();
        assert!(verified.get(&jwt, 50).is_none());
        verified.insert(&jwt, &claims(), 50);
        assert_eq!(verified.get(&jwt, 99), Some(claims()));
        assert!(verified.get(&jwt, 100).is_none(), "expired");
        // Another payload under the same signature is not the same token.
        let (_, signature) = jwt.rsplit_once('.').unwrap();
        let forged = format!("e30.e30.{signature}");
        assert!(verified.get(&forged, 50).is_none());
    }

    #[test]
    fn a_key_record_never_shows_its_private_key() {
        let record = KeyRing::generate_key(&OsRandom, 0).unwrap();
        let shown = format!("{record:?}");
        assert!(!shown.contains(&format!("{:?}", &record.private_key[..4])));
        assert!(shown.contains(&record.kid));
    }
}
