//! The signing keys in force: an ES256 key that signs access tokens and an
//! RS256 key that signs ID tokens (OpenID Connect Discovery §3 requires
//! RS256), each replaced at a rotation by a pair published first and
//! signing later; and the JWKS that lets anyone verify them.
//!
//! `ring` signs and verifies (its P-256 is assembly: a signature takes some
//! 16 µs where `p256` takes over 100); `p256` derives an EC key's public
//! point from the stored scalar, gives the JWK coordinates, and puts
//! signatures in low-S form. `rsa` only generates RSA keys (ring cannot);
//! ring signs with them. ring draws each ECDSA nonce from the OS itself:
//! its random source cannot be supplied from outside.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;
use rsa::rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::ambient::RandomSource;
use crate::domain::records::SigningKeyRecord;
use crate::domain::DomainError;

/// What signs access tokens.
pub const ES256: &str = "ES256";
/// What signs ID tokens unless their client asks for ES256.
pub const RS256: &str = "RS256";

/// RSA modulus size: the smallest RFC 7518 §3.3 allows, and what every
/// OpenID Connect library expects.
const RSA_BITS: usize = 2048;

/// Grace beyond the access token lifetime before a replaced key goes.
const RETIREMENT_GRACE: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub(in crate::domain) struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
}

/// Opens a stored key: its private part in plaintext, or why not.
pub type OpenKey<'a> = dyn Fn(&SigningKeyRecord) -> Result<Zeroizing<Vec<u8>>, String> + 'a;

/// A key pair of one of the two algorithms; not `Debug`.
enum KeyPair {
    Ec {
        signing: EcdsaKeyPair,
        verifying: VerifyingKey,
        /// The public point, uncompressed, for ring.
        public: UnparsedPublicKey<Vec<u8>>,
    },
    Rsa {
        signing: RsaKeyPair,
        public: PublicKeyComponents<Vec<u8>>,
    },
}

struct Key {
    kid: String,
    algorithm: &'static str,
    activates_at: i64,
    /// When the next key of the same algorithm takes over signing.
    replaced_at: Option<i64>,
    /// Shared with the ring this one replaced, when it held the key.
    pair: Arc<KeyPair>,
}

/// The signing keys of one generation of the key table. Of each algorithm
/// the newest key already active signs; a key not yet active is published
/// (so verifiers hold it before its first token); a replaced key verifies,
/// and stays published, for one access-token lifetime and a minute.
pub struct KeyRing {
    generation: i64,
    keys: Vec<Key>,
    random: SystemRandom,
    retire_after: i64,
}

/// A key's state at one moment, for listings.
pub struct KeyState {
    pub kid: String,
    pub signs: bool,
    pub replaced_at: Option<i64>,
    pub verifies: bool,
}

impl KeyRing {
    /// The ring of `records` (as stored: sealed, or plaintext from an
    /// earlier version); a replaced key verifies for `token_lifetime` (plus
    /// a minute) after its successor took over. A key `held` already (the
    /// ring this one replaces) is kept as it is, not opened again, so a
    /// reseal under a KEK this process lacks takes none of its keys away.
    /// Every other key is opened by `open`; one that does not open is left
    /// out of the ring and returned with the reason: the caller decides
    /// whether that is fatal (a start) or said and survived (a reload).
    pub fn load(
        generation: i64,
        records: &[SigningKeyRecord],
        token_lifetime: i64,
        open: &OpenKey<'_>,
        held: Option<&KeyRing>,
    ) -> Result<(KeyRing, Vec<(String, String)>), DomainError> {
        let random = SystemRandom::new();
        let mut keys = Vec::with_capacity(records.len());
        let mut left_out = Vec::new();
        for record in records {
            let algorithm = match record.algorithm.as_str() {
                ES256 => ES256,
                RS256 => RS256,
                _ => continue,
            };
            let kept = held.and_then(|ring| {
                ring.keys
                    .iter()
                    .find(|k| k.kid == record.kid && k.algorithm == algorithm)
                    .map(|k| Arc::clone(&k.pair))
            });
            let pair = match kept {
                Some(pair) => pair,
                None => match open(record).and_then(|private| {
                    key_pair(algorithm, &private, &random)
                        .ok_or_else(|| "it is corrupt: not a key of its algorithm".to_string())
                }) {
                    Ok(pair) => Arc::new(pair),
                    Err(why) => {
                        left_out.push((record.kid.clone(), why));
                        continue;
                    }
                },
            };
            keys.push(Key {
                kid: record.kid.clone(),
                algorithm,
                activates_at: record.activates_at,
                replaced_at: None,
                pair,
            });
        }
        for i in 0..keys.len() {
            keys[i].replaced_at = replaced_at(
                keys.iter().map(|k| (k.algorithm, k.activates_at)),
                keys[i].algorithm,
                keys[i].activates_at,
            );
        }
        if !keys.iter().any(|k| k.algorithm == ES256) {
            let why = left_out
                .iter()
                .map(|(kid, why)| format!("signing key {kid}: {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(DomainError::Internal(if why.is_empty() {
                "the database holds no ES256 signing key".into()
            } else {
                format!("no ES256 signing key can be used: {why}")
            }));
        }
        Ok((
            KeyRing {
                generation,
                keys,
                random,
                retire_after: token_lifetime + RETIREMENT_GRACE,
            },
            left_out,
        ))
    }

    /// The ring of plaintext `records`: the unit tests' and the fuzzing
    /// seam's (`domain::fuzzing`), never the store's.
    pub fn from_records(
        generation: i64,
        records: &[SigningKeyRecord],
        token_lifetime: i64,
    ) -> Result<KeyRing, DomainError> {
        let open = |record: &SigningKeyRecord| Ok(record.private_key.clone());
        let (ring, left_out) = KeyRing::load(generation, records, token_lifetime, &open, None)?;
        if let Some((kid, why)) = left_out.first() {
            return Err(DomainError::Internal(format!("signing key {kid}: {why}")));
        }
        Ok(ring)
    }

    /// Whether the ring holds the key `kid`.
    pub fn holds(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// The key-table generation this ring was read at.
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// A fresh P-256 key, as a record to store; it signs from `activates_at`.
    pub fn generate_ec_key(
        random: &dyn RandomSource,
        now: i64,
        activates_at: i64,
    ) -> Result<SigningKeyRecord, DomainError> {
        loop {
            let mut secret = Zeroizing::new([0u8; 32]);
            random.fill(&mut secret[..])?;
            // Rejects the (astronomically rare) scalars outside the curve order.
            if let Ok(signing) = SigningKey::from_slice(&secret[..]) {
                return Ok(SigningKeyRecord {
                    kid: ec_thumbprint(signing.verifying_key()),
                    algorithm: ES256.to_string(),
                    private_key: Zeroizing::new(secret.to_vec()),
                    created_at: now,
                    activates_at,
                });
            }
        }
    }

    /// A fresh 2048-bit RSA key (PKCS #8), as a record to store.
    pub fn generate_rsa_key(
        random: &dyn RandomSource,
        now: i64,
        activates_at: i64,
    ) -> Result<SigningKeyRecord, DomainError> {
        let mut rng = RandomSourceRng {
            random,
            failed: None,
        };
        let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS);
        if let Some(e) = rng.failed {
            return Err(e);
        }
        let der = key
            .map_err(|e| DomainError::Internal(format!("generating an RSA key failed: {e}")))?
            .to_pkcs8_der()
            .map_err(|e| DomainError::Internal(format!("encoding an RSA key failed: {e}")))?;
        let signing = RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| DomainError::Internal(format!("an RSA key came out unusable: {e}")))?;
        Ok(SigningKeyRecord {
            kid: rsa_thumbprint(&PublicKeyComponents::<Vec<u8>>::from(signing.public())),
            algorithm: RS256.to_string(),
            private_key: Zeroizing::new(der.as_bytes().to_vec()),
            created_at: now,
            activates_at,
        })
    }

    /// The key of `algorithm` that signs at `now`: the newest active one.
    fn signer(&self, algorithm: &str, now: i64) -> Option<&Key> {
        self.keys
            .iter()
            .filter(|k| k.algorithm == algorithm && k.activates_at <= now)
            .max_by_key(|k| k.activates_at)
    }

    /// Whether an `algorithm` key signs at `now`.
    #[cfg(test)]
    fn signs_with(&self, algorithm: &str, now: i64) -> bool {
        self.signer(algorithm, now).is_some()
    }

    /// Signs `claims` as a JWT with the `algorithm` key in force at `now`,
    /// else the ES256 key in force (RS256 before an upgraded database's
    /// first RSA key is active), else the oldest ES256 key (a clock set
    /// back); and the header type `typ`.
    pub fn sign(
        &self,
        claims: &impl Serialize,
        algorithm: &str,
        typ: &str,
        now: i64,
    ) -> Result<String, DomainError> {
        let key = self
            .signer(algorithm, now)
            .or_else(|| self.signer(ES256, now))
            .or_else(|| {
                self.keys
                    .iter()
                    .filter(|k| k.algorithm == ES256)
                    .min_by_key(|k| k.activates_at)
            })
            .ok_or_else(|| DomainError::Internal("no signing key".into()))?;
        let header = Header {
            alg: key.algorithm.into(),
            typ: Some(typ.into()),
            kid: Some(key.kid.clone()),
        };
        let header = serde_json::to_vec(&header).map_err(internal)?;
        let claims = serde_json::to_vec(claims).map_err(internal)?;
        let mut jwt = format!("{}.{}", B64.encode(header), B64.encode(claims));
        let failed = || DomainError::Internal("signing a token failed".into());
        let signature = match &*key.pair {
            KeyPair::Ec { signing, .. } => {
                let signed = signing
                    .sign(&self.random, jwt.as_bytes())
                    .map_err(|_| failed())?;
                let signature = Signature::from_slice(signed.as_ref())
                    .map_err(|_| DomainError::Internal("a signature came out malformed".into()))?;
                // Low-S form, the only one `verify_es256` accepts: one
                // token, one encoding.
                signature.normalize_s().unwrap_or(signature).to_vec()
            }
            KeyPair::Rsa { signing, .. } => {
                let mut signature = vec![0; signing.public().modulus_len()];
                signing
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &self.random,
                        jwt.as_bytes(),
                        &mut signature,
                    )
                    .map_err(|_| failed())?;
                signature
            }
        };
        jwt.push('.');
        jwt.push_str(&B64.encode(signature));
        Ok(jwt)
    }

    /// Checks an ES256 JWT's signature by a key in service at `now`;
    /// returns its header and its payload, still encoded.
    pub(in crate::domain) fn verify_es256<'a>(
        &self,
        jwt: &'a str,
        now: i64,
    ) -> Result<(Header, &'a str), DomainError> {
        let mut parts = jwt.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated("malformed access token"));
        };
        let header: Header = decode_json(header_b64)?;
        // The algorithm is fixed by us, never chosen by the token ("alg": "none").
        if header.alg != ES256 {
            return Err(unauthenticated("access token algorithm not accepted"));
        }
        let public = self
            .keys
            .iter()
            .filter(|k| self.in_service(k, now))
            .filter(|k| Some(&k.kid) == header.kid.as_ref())
            .find_map(|k| match &*k.pair {
                KeyPair::Ec { public, .. } => Some(public),
                KeyPair::Rsa { .. } => None,
            })
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
        public
            .verify(&jwt.as_bytes()[..signed_len], &signature.to_bytes())
            .map_err(|_| unauthenticated("access token signature is invalid"))?;
        Ok((header, claims_b64))
    }

    /// Whether `key` verifies (and is published) at `now`: it signs or
    /// will, or the tokens it signed may not all have expired yet.
    fn in_service(&self, key: &Key, now: i64) -> bool {
        key.replaced_at
            .is_none_or(|replaced| now < replaced + self.retire_after)
    }

    /// Each key's state at `now`.
    #[cfg(test)]
    pub fn key_states(&self, now: i64) -> Vec<KeyState> {
        key_states(
            self.keys
                .iter()
                .map(|k| (k.kid.as_str(), k.algorithm, k.activates_at)),
            now,
            self.retire_after,
        )
    }

    /// The public keys in service at `now` as a JWK Set (RFC 7517): the
    /// next keys before they sign, a replaced key until every token it
    /// signed has expired.
    pub fn jwks(&self, now: i64) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| self.in_service(k, now))
            .map(|k| {
                let mut jwk = public_jwk(&k.pair);
                jwk["kid"] = json!(k.kid);
                jwk["use"] = json!("sig");
                jwk["alg"] = json!(k.algorithm);
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// The state at `now` of each key of `keys` (kid, algorithm, when it
/// signs from), as a ring of them all would have it; a replaced key
/// verifies for `token_lifetime` and a minute. For listings, which need no
/// private key.
pub fn key_states_of(records: &[SigningKeyRecord], now: i64, token_lifetime: i64) -> Vec<KeyState> {
    key_states(
        records
            .iter()
            .map(|r| (r.kid.as_str(), r.algorithm.as_str(), r.activates_at)),
        now,
        token_lifetime + RETIREMENT_GRACE,
    )
}

fn key_states<'a>(
    keys: impl Iterator<Item = (&'a str, &'a str, i64)> + Clone,
    now: i64,
    retire_after: i64,
) -> Vec<KeyState> {
    keys.clone()
        .map(|(kid, algorithm, activates_at)| {
            let signer = keys
                .clone()
                .filter(|(_, a, at)| *a == algorithm && *at <= now)
                .max_by_key(|(_, _, at)| *at);
            let replaced_at = replaced_at(
                keys.clone().map(|(_, a, at)| (a, at)),
                algorithm,
                activates_at,
            );
            KeyState {
                kid: kid.to_string(),
                signs: signer.is_some_and(|(signer, _, _)| signer == kid),
                replaced_at,
                verifies: replaced_at.is_none_or(|replaced| now < replaced + retire_after),
            }
        })
        .collect()
}

/// When the next key of `algorithm` after one activating at `activates_at`
/// takes over signing.
fn replaced_at<'a>(
    keys: impl Iterator<Item = (&'a str, i64)>,
    algorithm: &str,
    activates_at: i64,
) -> Option<i64> {
    keys.filter(|(a, at)| *a == algorithm && *at > activates_at)
        .map(|(_, at)| at)
        .min()
}

fn key_pair(algorithm: &str, private_key: &[u8], random: &SystemRandom) -> Option<KeyPair> {
    match algorithm {
        ES256 => ec_pair(private_key, random),
        RS256 => {
            let signing = RsaKeyPair::from_pkcs8(private_key).ok()?;
            let public = PublicKeyComponents::<Vec<u8>>::from(signing.public());
            Some(KeyPair::Rsa { signing, public })
        }
        _ => None,
    }
}

fn ec_pair(private_key: &[u8], random: &SystemRandom) -> Option<KeyPair> {
    // `SigningKey` wipes its copy of the scalar when dropped here.
    let verifying = *SigningKey::from_slice(private_key).ok()?.verifying_key();
    let point = verifying.to_encoded_point(false).as_bytes().to_vec();
    let signing = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        private_key,
        &point,
        random,
    )
    .ok()?;
    Some(KeyPair::Ec {
        signing,
        verifying,
        public: UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point),
    })
}

fn public_jwk(pair: &KeyPair) -> Value {
    match pair {
        KeyPair::Ec { verifying, .. } => {
            let (x, y) = coordinates(verifying);
            json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y })
        }
        KeyPair::Rsa { public, .. } => {
            json!({ "kty": "RSA", "n": B64.encode(&public.n), "e": B64.encode(&public.e) })
        }
    }
}

/// The domain's random source as the `rand_core` generator `rsa` asks for;
/// a failure is kept and reported after the key generation returns.
struct RandomSourceRng<'a> {
    random: &'a dyn RandomSource,
    failed: Option<DomainError>,
}

impl RngCore for RandomSourceRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if let Err(e) = self.random.fill(dest) {
            self.failed.get_or_insert(e);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for RandomSourceRng<'_> {}

fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let encode = |c: Option<&p256::FieldBytes>| c.map(|b| B64.encode(b)).unwrap_or_default();
    (encode(point.x()), encode(point.y()))
}

/// The RFC 7638 JWK thumbprint of an EC key, used as its key id.
fn ec_thumbprint(key: &VerifyingKey) -> String {
    let (x, y) = coordinates(key);
    // Members in lexicographic order, no whitespace, as RFC 7638 §3 requires.
    thumbprint(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// The RFC 7638 JWK thumbprint of an RSA key.
fn rsa_thumbprint(key: &PublicKeyComponents<Vec<u8>>) -> String {
    let (n, e) = (B64.encode(&key.n), B64.encode(&key.e));
    thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
}

fn thumbprint(canonical: &str) -> String {
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

pub(in crate::domain) fn decode_json<T: for<'de> Deserialize<'de>>(
    part: &str,
) -> Result<T, DomainError> {
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
    use p256::elliptic_curve::ops::Neg;
    use ring::signature::RSA_PKCS1_2048_8192_SHA256;

    fn ec(created: i64, activates: i64) -> SigningKeyRecord {
        KeyRing::generate_ec_key(&OsRandom, created, activates).unwrap()
    }

    fn payload(jwt: &str) -> Value {
        decode_json(jwt.split('.').nth(1).unwrap()).unwrap()
    }

    #[test]
    fn a_signature_with_high_s_is_refused() {
        let ring = KeyRing::from_records(1, &[ec(0, 0)], 1800).unwrap();
        for _ in 0..4 {
            let jwt = ring.sign(&json!({"a": 1}), ES256, "at+jwt", 50).unwrap();
            let (signed, sig) = jwt.rsplit_once('.').unwrap();
            let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
            assert!(sig.normalize_s().is_none(), "tokend signs in low-S form");
            let (r, s) = sig.split_scalars();
            let high = Signature::from_scalars(r, s.as_ref().neg()).unwrap();
            let twin = format!("{signed}.{}", B64.encode(high.to_bytes()));
            // The twin is a valid ECDSA signature, refused only for its form.
            let KeyPair::Ec { public, .. } = &*ring.keys[0].pair else {
                unreachable!()
            };
            assert!(public.verify(signed.as_bytes(), &high.to_bytes()).is_ok());
            assert!(ring.verify_es256(&twin, 50).is_err());
            assert!(ring.verify_es256(&jwt, 50).is_ok());
        }
    }

    #[test]
    fn a_published_key_signs_only_once_active_and_a_replaced_one_retires() {
        let old = ec(10, 10);
        // Rotated at 20, signing from 40.
        let new = ec(20, 40);
        let ring = KeyRing::from_records(2, &[new.clone(), old.clone()], 30).unwrap();
        let kid_at = |now| {
            let jwt = ring.sign(&json!({}), ES256, "at+jwt", now).unwrap();
            ring.verify_es256(&jwt, now).unwrap().0.kid.unwrap()
        };
        assert_eq!(kid_at(39), old.kid, "the new key is not active yet");
        assert_eq!(kid_at(40), new.kid);
        assert_eq!(
            ring.jwks(21)["keys"].as_array().unwrap().len(),
            2,
            "published at once"
        );
        // The old key was replaced at 40; its tokens live at most 30 s, and
        // a minute's grace: from 130 on it is gone.
        assert_eq!(ring.jwks(129)["keys"].as_array().unwrap().len(), 2);
        assert_eq!(ring.jwks(130)["keys"].as_array().unwrap().len(), 1);
        let by_old = KeyRing::from_records(1, &[old], 30).unwrap();
        let jwt = by_old.sign(&json!({}), ES256, "at+jwt", 35).unwrap();
        assert!(ring.verify_es256(&jwt, 129).is_ok());
        assert!(ring.verify_es256(&jwt, 130).is_err(), "retired");
        let states = ring.key_states(50);
        assert!(states
            .iter()
            .any(|s| s.kid == new.kid && s.signs && s.verifies));
        assert!(states
            .iter()
            .any(|s| s.kid != new.kid && !s.signs && s.verifies));
    }

    #[test]
    fn rsa_keys_sign_id_tokens_that_verify_against_their_jwk() {
        let rsa = KeyRing::generate_rsa_key(&OsRandom, 0, 0).unwrap();
        let ring = KeyRing::from_records(1, &[ec(0, 0), rsa.clone()], 1800).unwrap();
        let jwt = ring.sign(&json!({"sub": "u"}), RS256, "JWT", 5).unwrap();
        let header: Header = decode_json(jwt.split('.').next().unwrap()).unwrap();
        assert_eq!(
            (header.alg.as_str(), header.kid.as_deref()),
            (RS256, Some(&*rsa.kid))
        );
        assert_eq!(payload(&jwt)["sub"], "u");
        let jwks = ring.jwks(5);
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == "RSA")
            .unwrap();
        let component = |name: &str| B64.decode(jwk[name].as_str().unwrap()).unwrap();
        let public = PublicKeyComponents {
            n: component("n"),
            e: component("e"),
        };
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &B64.decode(signature).unwrap(),
            )
            .expect("the JWKS's RSA key verifies the ID token");
        assert!(
            ring.verify_es256(&jwt, 5).is_err(),
            "an RS256 token never passes as an access token"
        );
    }

    #[test]
    fn without_an_active_rsa_key_id_tokens_are_signed_es256() {
        let rsa = KeyRing::generate_rsa_key(&OsRandom, 0, 100).unwrap();
        let ring = KeyRing::from_records(1, &[ec(0, 0), rsa], 1800).unwrap();
        assert!(!ring.signs_with(RS256, 99));
        assert!(ring.signs_with(RS256, 100));
    }

    #[test]
    fn a_key_record_never_shows_its_private_key() {
        let record = ec(0, 0);
        let shown = format!("{record:?}");
        assert!(!shown.contains(&format!("{:?}", &record.private_key[..4])));
        assert!(shown.contains(&record.kid));
    }
}
