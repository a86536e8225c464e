//! Access tokens as RFC 9068 has them: ES256 JWTs of type `at+jwt` with
//! their claims, signed and checked with the key ring (`signing.rs`); and
//! the tokens whose signature was checked already.
//!
//! Checking here covers the token itself only; whether its session or API
//! token is still alive is the caller's (`Authority::authenticate`)
//! decision, because that needs the store.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::tokens::signing::{decode_json, KeyRing, ES256};
use crate::domain::DomainError;

/// The claims of every access token tokend issues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    /// The resource servers it is meant for (RFC 9068 §3): one is written
    /// as a string, several as an array.
    #[serde(serialize_with = "one_or_many", deserialize_with = "string_or_array")]
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The OAuth client it was issued to, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
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
    /// The key the token is bound to (RFC 9449 §6.1, RFC 7800): honoured
    /// only with a DPoP proof by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800's confirmation claim, as RFC 9449 §6.1 uses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key, base64url.
    pub jkt: String,
}

/// How far ahead of the clock an access token's `iat` may be (clocks of
/// several servers differ a little).
const ISSUED_AHEAD_TOLERATED: i64 = 60;

/// The JWS `typ` of access tokens (RFC 9068 §2.1): what keeps an ID token
/// or any other JWT of the same keys from passing as one.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

impl KeyRing {
    /// Signs an access token.
    pub fn sign_access_token(
        &self,
        claims: &AccessClaims,
        now: i64,
    ) -> Result<String, DomainError> {
        self.sign(claims, ES256, ACCESS_TOKEN_TYPE, now)
    }

    /// Checks an access token as RFC 9068 §4 has a resource server do:
    /// `typ`, the signature by a key in service, `iss` and `exp`; the
    /// audience is the caller's to check (`AccessClaims::is_for`).
    pub fn verify_access_token(
        &self,
        jwt: &str,
        issuer: &str,
        now: i64,
    ) -> Result<AccessClaims, DomainError> {
        let (header, claims_b64) = self.verify_es256(jwt, now)?;
        // RFC 9068 §4 allows the media type's full form too.
        let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
        if !matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
            return Err(unauthenticated("not an access token (typ)"));
        }
        let claims: AccessClaims = decode_json(claims_b64)?;
        if claims.iss != issuer {
            return Err(unauthenticated("access token issued by another issuer"));
        }
        if claims.exp <= now {
            return Err(unauthenticated("access token has expired"));
        }
        // Issued under a clock set ahead: it would live that much longer
        // than its lifetime once the clock is right again.
        if claims.iat > now + ISSUED_AHEAD_TOLERATED {
            return Err(unauthenticated(
                "access token issued at a time still to come",
            ));
        }
        Ok(claims)
    }
}

impl AccessClaims {
    /// Whether `aud` names the resource server `audience`.
    pub fn is_for(&self, audience: &str) -> bool {
        self.aud.iter().any(|a| a == audience)
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
            .filter(|claims| claims.exp > now && claims.iat <= now + ISSUED_AHEAD_TOLERATED)
            .cloned()
    }

    /// Forgets every token: the keys changed, and a key retired at once
    /// (a compromise) must not leave its tokens remembered.
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clear();
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

fn one_or_many<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match values {
        [one] => serializer.serialize_str(one),
        many => many.serialize(serializer),
    }
}

fn string_or_array<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

fn unauthenticated(why: &str) -> DomainError {
    DomainError::Unauthenticated(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;

    use crate::domain::ambient::OsRandom;
    use crate::domain::tokens::signing::RS256;

    const ISSUER: &str = "https://tokend.test";

    fn new_ring() -> KeyRing {
        KeyRing::from_records(
            1,
            &[KeyRing::generate_ec_key(&OsRandom, 0, 0).unwrap()],
            1800,
        )
        .unwrap()
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            sub: "u".into(),
            aud: vec![ISSUER.into()],
            iat: 0,
            exp,
            jti: "j".into(),
            client_id: None,
            org_id: "o".into(),
            org_name: "System".into(),
            username: "administrator".into(),
            roles: vec![],
            perms: vec![],
            rt: Some("t".into()),
            sid: None,
            cnf: None,
        }
    }

    #[test]
    fn signed_tokens_verify_and_round_trip() {
        let ring = new_ring();
        let jwt = ring.sign_access_token(&claims(100), 0).unwrap();
        let header: serde_json::Value = decode_json(jwt.split('.').next().unwrap()).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        let payload: serde_json::Value = decode_json(jwt.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(payload["aud"], ISSUER, "one audience is a string");
        assert_eq!(
            ring.verify_access_token(&jwt, ISSUER, 50).unwrap(),
            claims(100)
        );
    }

    #[test]
    fn several_audiences_are_an_array_and_each_is_checked() {
        let ring = new_ring();
        let mut both = claims(100);
        both.aud = vec!["https://a.test/".into(), "https://b.test/".into()];
        let jwt = ring.sign_access_token(&both, 0).unwrap();
        let payload: serde_json::Value = decode_json(jwt.split('.').nth(1).unwrap()).unwrap();
        assert_eq!(
            payload["aud"],
            serde_json::json!(["https://a.test/", "https://b.test/"])
        );
        let verified = ring.verify_access_token(&jwt, ISSUER, 50).unwrap();
        assert!(verified.is_for("https://b.test/"));
        assert!(
            !verified.is_for(ISSUER),
            "a token for other resource servers is not for tokend's own API"
        );
    }

    #[test]
    fn expired_foreign_tampered_and_mistyped_tokens_are_refused() {
        let ring = new_ring();
        let jwt = ring.sign_access_token(&claims(100), 0).unwrap();
        assert!(ring.verify_access_token(&jwt, ISSUER, 100).is_err());
        assert!(ring
            .verify_access_token(&jwt, "https://elsewhere.test", 50)
            .is_err());
        assert!(new_ring().verify_access_token(&jwt, ISSUER, 50).is_err());

        let (signed, _) = jwt.rsplit_once('.').unwrap();
        let other = ring.sign_access_token(&claims(200), 0).unwrap();
        let forged = format!("{signed}.{}", other.rsplit_once('.').unwrap().1);
        assert!(ring.verify_access_token(&forged, ISSUER, 50).is_err());

        // The same claims signed as an ID token is (typ "JWT") are refused.
        let id_token = ring.sign(&claims(100), ES256, "JWT", 0).unwrap();
        assert!(ring.verify_access_token(&id_token, ISSUER, 50).is_err());
        let rs256 = ring
            .sign(&claims(100), RS256, ACCESS_TOKEN_TYPE, 0)
            .unwrap();
        assert!(
            ring.verify_access_token(&rs256, ISSUER, 50).is_ok(),
            "without an RSA key the ES256 key signs"
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let ring = new_ring();
        let jwt = ring.sign_access_token(&claims(100), 0).unwrap();
        let claims_part = jwt.split('.').nth(1).unwrap();
        let header = B64.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        assert!(ring
            .verify_access_token(&format!("{header}.{claims_part}."), ISSUER, 50)
            .is_err());
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_only_whole() {
        let ring = new_ring();
        let jwt = ring.sign_access_token(&claims(100), 0).unwrap();
        let verified = VerifiedTokens::default();
        assert!(verified.get(&jwt, 50).is_none());
        verified.insert(&jwt, &claims(100), 50);
        assert_eq!(verified.get(&jwt, 99), Some(claims(100)));
        assert!(verified.get(&jwt, 100).is_none(), "expired");
        // Another payload under the same signature is not the same token.
        let (_, signature) = jwt.rsplit_once('.').unwrap();
        let forged = format!("e30.e30.{signature}");
        assert!(verified.get(&forged, 50).is_none());
        verified.clear();
        assert!(verified.get(&jwt, 50).is_none(), "cleared at a key change");
    }
}
