//! DPoP (RFC 9449): access tokens bound to a key the client holds.
//!
//! A client sends a proof (a JWS of type `dpop+jwt`, signed by its key,
//! the public key in the header) with its exchange; the access token then
//! carries the key's RFC 7638 thumbprint as `cnf.jkt`, and is honoured only
//! with a fresh proof by that key for each request (method, URL, `ath`).
//!
//! Replayed proofs are caught in the database (`record_dpop_proof`, a
//! unique insert), so a proof used on one node is refused on every other.
//! Nonces (§8, §9) are stateless: an HMAC of a time window under a key
//! derived from the key-encryption key, which every node shares, so a
//! nonce one node gave out is accepted by the others with no storage.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use ring::{hkdf, hmac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::error::DpopRefusal;
use crate::domain::tokens::access_token::AccessClaims;
use crate::domain::tokens::sealing::Kek;
use crate::domain::{Authority, DomainError, Presented};

/// The signature algorithms a proof may use, in the order discovery and
/// `WWW-Authenticate`'s `algs` name them. Asymmetric only (§4.2).
pub const DPOP_ALGORITHMS: &[&str] = &["ES256", "ES384", "RS256", "PS256", "EdDSA"];

/// How long after its `iat` a proof is accepted: a proof is made for one
/// request, at once.
pub const PROOF_MAX_AGE: i64 = 60;
/// How far ahead of this clock a proof's `iat` may be (the client's clock
/// may run a little fast).
pub const PROOF_AHEAD_TOLERATED: i64 = 15;
/// Bytes a proof may have: an RSA key of 8192 bits fits.
const MAX_PROOF_LENGTH: usize = 8192;
/// Characters a `jti` may have.
const MAX_JTI_LENGTH: usize = 256;

/// Whether proofs must carry a nonce of tokend's (`TOKEND_DPOP_NONCE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DpopNonce {
    /// Proofs are fresh by `iat` and unique by `jti`; no nonce is asked.
    #[default]
    Off,
    /// Every proof carries a nonce tokend gave out (`DPoP-Nonce`), so no
    /// proof can be made ahead of time.
    Required,
}

/// How long a proof is remembered after this node would stop accepting
/// it: another node whose clock lags this one's by up to as much still
/// accepts it, and must still find it.
pub const PROOFS_KEPT: i64 = 300;

/// A proof whose signature and claims hold for the request it came with;
/// its `jti` is not yet recorded (`record_dpop_proof`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    /// What the store remembers: a hash of the key and the `jti`.
    pub(in crate::domain) replay_key: [u8; 32],
    /// Until when the proof would be accepted.
    pub(in crate::domain) accepted_until: i64,
}

/// What a second use of a proof is told.
pub(in crate::domain) fn replayed() -> DomainError {
    DomainError::Dpop(DpopRefusal::InvalidProof(
        "the proof was used before (jti)".into(),
    ))
}

/// What a proof must match: the request it came with.
pub struct ProofTarget<'a> {
    pub method: &'a str,
    /// The request's URL as tokend's issuer names it.
    pub url: &'a str,
    /// The access token it comes with, at a protected resource (`ath`).
    pub access_token: Option<&'a str>,
}

fn invalid(why: &str) -> DpopRefusal {
    DpopRefusal::InvalidProof(why.to_string())
}

/// A public key from a proof's `jwk`, and its thumbprint's members.
enum ProofKey {
    Ec {
        crv: &'static str,
        x: String,
        y: String,
        point: Vec<u8>,
    },
    Rsa {
        n: String,
        e: String,
        n_bytes: Vec<u8>,
        e_bytes: Vec<u8>,
    },
    Ed25519 {
        x: String,
        bytes: Vec<u8>,
    },
}

/// JWK members that only a private (or symmetric) key has (RFC 7518 §6).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl ProofKey {
    /// The key of `jwk`, which must suit `alg` and hold no private part.
    fn from_jwk(jwk: &Map<String, Value>, alg: &str) -> Result<ProofKey, DpopRefusal> {
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(invalid("the proof's jwk holds a private key"));
        }
        let text = |name: &str| -> Result<String, DpopRefusal> {
            jwk.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid(&format!("the proof's jwk lacks {name}")))
        };
        let bytes = |value: &str| -> Result<Vec<u8>, DpopRefusal> {
            B64.decode(value)
                .map_err(|_| invalid("the proof's jwk is not base64url"))
        };
        let kty = text("kty")?;
        match (alg, kty.as_str()) {
            ("ES256" | "ES384", "EC") => {
                let (crv, size) = if alg == "ES256" {
                    ("P-256", 32)
                } else {
                    ("P-384", 48)
                };
                if text("crv")? != crv {
                    return Err(invalid("the proof's jwk is not on the curve of its alg"));
                }
                let (x, y) = (text("x")?, text("y")?);
                let (xb, yb) = (bytes(&x)?, bytes(&y)?);
                if xb.len() != size || yb.len() != size {
                    return Err(invalid("the proof's jwk has coordinates of the wrong size"));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend(xb);
                point.extend(yb);
                Ok(ProofKey::Ec { crv, x, y, point })
            }
            ("RS256" | "PS256", "RSA") => {
                let (n, e) = (text("n")?, text("e")?);
                let (n_bytes, e_bytes) = (bytes(&n)?, bytes(&e)?);
                Ok(ProofKey::Rsa {
                    n,
                    e,
                    n_bytes,
                    e_bytes,
                })
            }
            ("EdDSA", "OKP") => {
                if text("crv")? != "Ed25519" {
                    return Err(invalid("the proof's jwk is not an Ed25519 key"));
                }
                let x = text("x")?;
                let bytes = bytes(&x)?;
                if bytes.len() != 32 {
                    return Err(invalid("the proof's jwk has a key of the wrong size"));
                }
                Ok(ProofKey::Ed25519 { x, bytes })
            }
            _ => Err(invalid("the proof's jwk does not suit its alg")),
        }
    }

    /// RFC 7638: the required members in lexicographic order, no
    /// whitespace (the values are base64url, which needs no escaping).
    fn thumbprint(&self) -> String {
        let canonical = match self {
            ProofKey::Ec { crv, x, y, .. } => {
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            ProofKey::Rsa { n, e, .. } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            ProofKey::Ed25519 { x, .. } => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#)
            }
        };
        B64.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn verifies(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        match self {
            ProofKey::Ec { point, .. } => {
                let algorithm = if alg == "ES256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                UnparsedPublicKey::new(algorithm, point)
                    .verify(message, sig)
                    .is_ok()
            }
            ProofKey::Rsa {
                n_bytes, e_bytes, ..
            } => {
                let algorithm = if alg == "RS256" {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents {
                    n: n_bytes,
                    e: e_bytes,
                }
                .verify(algorithm, message, sig)
                .is_ok()
            }
            ProofKey::Ed25519 { bytes, .. } => UnparsedPublicKey::new(&signature::ED25519, bytes)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// The claims of a proof that parsed and whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofClaims {
    pub jkt: String,
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    pub ath: Option<String>,
    pub nonce: Option<String>,
}

/// Parses a proof and checks its form and signature (§4.3, steps 1–6):
/// three base64url parts, `typ` `dpop+jwt`, an asymmetric `alg` of
/// `DPOP_ALGORITHMS`, a public `jwk` of that algorithm, the signature by
/// it, and the claims `jti`, `htm`, `htu` and `iat`.
pub fn parse_proof(proof: &str) -> Result<ProofClaims, DpopRefusal> {
    if proof.len() > MAX_PROOF_LENGTH {
        return Err(invalid("the proof is too long"));
    }
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(claims_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the proof is not a JWS in compact form"));
    };
    let object = |part: &str| -> Result<Map<String, Value>, DpopRefusal> {
        let bytes = B64
            .decode(part)
            .map_err(|_| invalid("the proof is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(invalid(
                "the proof's header and claims must be JSON objects",
            )),
        }
    };
    let header = object(header_b64)?;
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    if !typ.eq_ignore_ascii_case("dpop+jwt") {
        return Err(invalid("the proof's typ must be dpop+jwt"));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !DPOP_ALGORITHMS.contains(&alg) {
        return Err(invalid(
            "the proof's alg must be one of ES256, ES384, RS256, PS256, EdDSA",
        ));
    }
    // No extension tokend would have to understand (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(invalid("the proof names critical extensions"));
    }
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid("the proof's header has no jwk"));
    };
    let key = ProofKey::from_jwk(jwk, alg)?;
    let sig = B64
        .decode(sig_b64)
        .map_err(|_| invalid("the proof's signature is not base64url"))?;
    let signed = &proof[..header_b64.len() + 1 + claims_b64.len()];
    if !key.verifies(alg, signed.as_bytes(), &sig) {
        return Err(invalid("the proof's signature does not verify"));
    }
    let claims = object(claims_b64)?;
    let text = |name: &str| -> Result<String, DpopRefusal> {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid(&format!("the proof lacks {name}")))
    };
    let optional = |name: &str| -> Result<Option<String>, DpopRefusal> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(_) => Err(invalid(&format!("the proof's {name} must be a string"))),
        }
    };
    let jti = text("jti")?;
    if jti.len() > MAX_JTI_LENGTH {
        return Err(invalid("the proof's jti is too long"));
    }
    // A NumericDate may have a fraction (RFC 7519 §2).
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    }
    .ok_or_else(|| invalid("the proof lacks iat"))?;
    Ok(ProofClaims {
        jkt: key.thumbprint(),
        jti,
        htm: text("htm")?,
        htu: text("htu")?,
        iat,
        ath: optional("ath")?,
        nonce: optional("nonce")?,
    })
}

/// `htu` as §4.3 compares it: the URL without query and fragment, after
/// RFC 3986's syntax- and scheme-based normalisation (case of scheme and
/// host, default port, dot segments, an empty path as `/`), as the `url`
/// crate parses it. None: not an absolute http(s) URL.
pub fn normalised_htu(htu: &str) -> Option<String> {
    let mut url = url::Url::parse(htu).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// `ath`: the base64url SHA-256 of the access token's ASCII (§4.2).
pub fn access_token_hash(access_token: &str) -> String {
    B64.encode(Sha256::digest(access_token.as_bytes()))
}

/// Checks a proof against the request it came with (§4.3): form,
/// signature, `htm`, `htu`, `iat` within the window, `ath` when an access
/// token comes with it, and a nonce of tokend's when nonces are required.
pub fn check_proof(
    proof: &str,
    target: &ProofTarget<'_>,
    nonces: Option<&DpopNonces>,
    now: i64,
) -> Result<CheckedProof, DpopRefusal> {
    let claims = parse_proof(proof)?;
    if claims.htm != target.method {
        return Err(invalid("the proof's htm is not this request's method"));
    }
    let expected = normalised_htu(target.url);
    if expected.is_none() || normalised_htu(&claims.htu) != expected {
        return Err(invalid("the proof's htu is not this request's URL"));
    }
    if claims.iat < now - PROOF_MAX_AGE {
        return Err(invalid("the proof is too old (iat)"));
    }
    if claims.iat > now + PROOF_AHEAD_TOLERATED {
        return Err(invalid("the proof was made at a time still to come (iat)"));
    }
    if let Some(token) = target.access_token {
        let expected = access_token_hash(token);
        if claims.ath.as_deref() != Some(expected.as_str()) {
            return Err(invalid("the proof's ath is not the access token's hash"));
        }
    }
    if let Some(nonces) = nonces {
        if !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, now))
        {
            return Err(DpopRefusal::UseNonce(nonces.current(now)));
        }
    }
    let mut replay = Sha256::new();
    replay.update(claims.jkt.as_bytes());
    replay.update([0]);
    replay.update(claims.jti.as_bytes());
    Ok(CheckedProof {
        jkt: claims.jkt,
        replay_key: replay.finalize().into(),
        accepted_until: claims.iat + PROOF_MAX_AGE,
    })
}

/// How long one nonce window lasts; a nonce is accepted in its window and
/// the next, so for one to two of these.
pub const NONCE_PERIOD: i64 = 60;

/// What the nonce key is derived for (HKDF's `info`): no other use of the
/// KEK can yield the same key.
const NONCE_KEY_LABEL: &[u8] = b"tokend DPoP nonce key v1";

/// Stateless nonces: the window's number and an HMAC-SHA256 of it under a
/// key every node derives alike.
pub struct DpopNonces {
    key: hmac::Key,
}

impl DpopNonces {
    /// Nonces under a key derived from `kek` with HKDF-SHA256: the same on
    /// every node that holds the key file, and telling nothing of the KEK.
    pub fn from_kek(kek: &Kek) -> Result<DpopNonces, DomainError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(kek.bytes());
        let okm = prk
            .expand(&[NONCE_KEY_LABEL], hmac::HMAC_SHA256)
            .map_err(|_| DomainError::Internal("cannot derive the DPoP nonce key".into()))?;
        Ok(DpopNonces {
            key: hmac::Key::from(okm),
        })
    }

    fn for_window(&self, window: i64) -> String {
        let number = window.to_be_bytes();
        let tag = hmac::sign(&self.key, &number);
        let mut bytes = number.to_vec();
        bytes.extend_from_slice(&tag.as_ref()[..16]);
        B64.encode(bytes)
    }

    /// The nonce to give out now.
    pub fn current(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_PERIOD))
    }

    /// Whether `nonce` is one of this window's or the last one's.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = B64.decode(nonce) else {
            return false;
        };
        let Some((number, tag)) = bytes.split_first_chunk::<8>() else {
            return false;
        };
        let window = i64::from_be_bytes(*number);
        let current = now.div_euclid(NONCE_PERIOD);
        if window != current && window != current - 1 {
            return false;
        }
        // Compared in constant time, as an HMAC tag must be.
        let expected = hmac::sign(&self.key, number);
        tag.len() == 16 && constant_time_eq(tag, &expected.as_ref()[..16])
    }
}

impl Authority {
    /// The nonces, when they are required. Their key is derived on first
    /// use, from the KEK `start` read: an admin command, which never
    /// checks a proof, reads no key file for them.
    fn nonces_required(&self) -> Result<Option<&DpopNonces>, DomainError> {
        if self.settings().dpop_nonce != DpopNonce::Required {
            return Ok(None);
        }
        let held: &OnceLock<DpopNonces> = &self.shared.dpop_nonces;
        if let Some(nonces) = held.get() {
            return Ok(Some(nonces));
        }
        let derived = DpopNonces::from_kek(&self.kek()?)?;
        Ok(Some(held.get_or_init(|| derived)))
    }

    /// The nonce to offer in `DPoP-Nonce` now, when nonces are required.
    pub fn dpop_nonce(&self) -> Result<Option<String>, DomainError> {
        Ok(self.nonces_required()?.map(|n| n.current(self.now())))
    }

    /// Records a proof's first use, on any node; false when it was used
    /// before.
    fn record_proof_use(&self, proof: &CheckedProof) -> Result<bool, DomainError> {
        let (key, until) = (proof.replay_key, proof.accepted_until);
        Ok(self
            .store
            .write(move |tx| tx.record_dpop_proof(&key, until))?)
    }

    /// Forgets the proofs no node accepts any more, and the console logins
    /// that waited for their second factor in vain; how many of each.
    pub fn forget_spent_proofs_and_logins(&self) -> Result<(u64, u64), DomainError> {
        let now = self.now();
        let before = now - PROOFS_KEPT;
        Ok(self.store.write(move |tx| {
            Ok((
                tx.forget_expired_dpop_proofs(before)?,
                tx.forget_expired_pending_logins(now)?,
            ))
        })?)
    }

    /// The URL of `path` at tokend, as a proof's `htu` names it: behind a
    /// proxy, the issuer is what the client sees.
    fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.settings().issuer.trim_end_matches('/'))
    }

    /// Checks the proof of a token request (RFC 9449 §4.3, §8). Its `jti`
    /// is recorded by the exchange, once the API token holds.
    pub fn check_token_request_proof(
        &self,
        proof: &str,
        method: &str,
        path: &str,
    ) -> Result<CheckedProof, DomainError> {
        let target = ProofTarget {
            method,
            url: &self.url_of(path),
            access_token: None,
        };
        check_proof(proof, &target, self.nonces_required()?, self.now()).map_err(DomainError::Dpop)
    }

    /// RFC 9449 §7.1, §7.2: a DPoP-bound access token is honoured only
    /// with the DPoP scheme and a fresh proof by its key for this request,
    /// never as a bearer token; an unbound one only as a bearer token.
    pub(in crate::domain) fn check_dpop_binding(
        &self,
        claims: &AccessClaims,
        presented: &Presented<'_>,
    ) -> Result<(), DomainError> {
        let refuse = |refusal: DpopRefusal| Err(DomainError::Dpop(refusal));
        let cnf = match (&claims.cnf, presented.dpop_scheme) {
            (None, false) => return Ok(()),
            (None, true) => {
                return refuse(DpopRefusal::InvalidToken(
                    "the access token is not DPoP-bound: present it as Bearer".into(),
                ))
            }
            (Some(_), false) => {
                return refuse(DpopRefusal::InvalidToken(
                    "the access token is DPoP-bound: present it as DPoP, with a proof".into(),
                ))
            }
            (Some(cnf), true) => cnf,
        };
        let Some(proof) = presented.proof else {
            return refuse(DpopRefusal::InvalidProof(
                "a DPoP proof is required with a DPoP-bound access token".into(),
            ));
        };
        let target = ProofTarget {
            method: presented.method,
            url: &self.url_of(presented.path),
            access_token: Some(presented.token),
        };
        let now = self.now();
        let checked =
            check_proof(proof, &target, self.nonces_required()?, now).map_err(DomainError::Dpop)?;
        if checked.jkt != cnf.jkt {
            return refuse(DpopRefusal::InvalidToken(
                "the DPoP proof is not by the key the access token is bound to".into(),
            ));
        }
        // Recorded only now that the token and the key hold: only a holder
        // adds proofs to the store.
        if !self.record_proof_use(&checked)? {
            return Err(replayed());
        }
        Ok(())
    }
}

/// Whether two byte strings of equal length are equal, in a time that does
/// not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ambient::OsRandom;

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}))
                .unwrap();
        let key = ProofKey::from_jwk(&jwk, "RS256").unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_private_key_is_refused_in_a_proof() {
        let jwk: Map<String, Value> = serde_json::from_value(serde_json::json!(
            {"kty": "EC", "crv": "P-256", "x": B64.encode([1u8; 32]), "y": B64.encode([2u8; 32]), "d": "AA"}
        ))
        .unwrap();
        assert!(ProofKey::from_jwk(&jwk, "ES256").is_err());
    }

    #[test]
    fn htu_is_compared_without_query_and_fragment_after_normalisation() {
        let base = normalised_htu("https://tokend.example/api/tokens").unwrap();
        for same in [
            "https://tokend.example/api/tokens?page=2",
            "https://tokend.example/api/tokens#top",
            "HTTPS://TOKEND.example:443/api/tokens",
            "https://tokend.example/api/./x/../tokens",
        ] {
            assert_eq!(
                normalised_htu(same).as_deref(),
                Some(base.as_str()),
                "{same}"
            );
        }
        for other in [
            "https://tokend.example/api/tokens/",
            "http://tokend.example/api/tokens",
            "https://tokend.example:8443/api/tokens",
            "https://other.example/api/tokens",
        ] {
            assert_ne!(
                normalised_htu(other).as_deref(),
                Some(base.as_str()),
                "{other}"
            );
        }
        assert_eq!(
            normalised_htu("https://tokend.example").as_deref(),
            Some("https://tokend.example/")
        );
        assert!(normalised_htu("/api/tokens").is_none());
        assert!(normalised_htu("ftp://tokend.example/x").is_none());
    }

    #[test]
    fn nonces_last_one_to_two_periods_and_are_unforgeable() {
        let nonces = DpopNonces::from_kek(&Kek::generate(&OsRandom).unwrap()).unwrap();
        let now = 10 * NONCE_PERIOD + 5;
        let nonce = nonces.current(now);
        assert!(nonces.accepts(&nonce, now));
        assert!(nonces.accepts(&nonce, now + NONCE_PERIOD));
        assert!(!nonces.accepts(&nonce, now + 2 * NONCE_PERIOD));
        assert!(!nonces.accepts(&nonce, now - NONCE_PERIOD), "not before");
        let other = DpopNonces::from_kek(&Kek::generate(&OsRandom).unwrap()).unwrap();
        assert!(!other.accepts(&nonce, now), "another KEK's");
        assert!(!nonces.accepts("", now));
        assert!(!nonces.accepts("not base64!", now));
    }

    #[test]
    fn every_node_with_the_kek_accepts_the_others_nonces_and_the_key_is_not_the_keks() {
        let kek = Kek::generate(&OsRandom).unwrap();
        // Another node reads the same key file.
        let copy = Kek::from_bytes(zeroize::Zeroizing::new(*kek.bytes()));
        let (a, b) = (
            DpopNonces::from_kek(&kek).unwrap(),
            DpopNonces::from_kek(&copy).unwrap(),
        );
        let now = 7 * NONCE_PERIOD;
        assert!(b.accepts(&a.current(now), now));
        assert!(a.accepts(&b.current(now), now + NONCE_PERIOD));
        // Domain-separated: an HMAC under the KEK itself is no nonce.
        let number = (now / NONCE_PERIOD).to_be_bytes();
        let raw = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, kek.bytes()), &number);
        let mut forged = number.to_vec();
        forged.extend_from_slice(&raw.as_ref()[..16]);
        assert!(!a.accepts(&B64.encode(forged), now));
    }
}
