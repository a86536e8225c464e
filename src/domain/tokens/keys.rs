//! The signing keys as the admin CLI manages them: rotating to a new key
//! and listing them (never their private part). The key ring that signs
//! and verifies is `access_token::KeyRing`.

use serde_json::json;

use crate::domain::tokens::access_token::KeyRing;
use crate::domain::{Authority, DomainError};

/// A signing key as listed: never its private part.
#[derive(Debug, Clone)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub created_at: i64,
    /// The key that signs new access tokens.
    pub signs: bool,
    /// When a newer key took over signing.
    pub replaced_at: Option<i64>,
    /// Whether it still verifies (and is in the JWKS): it signs, or tokens
    /// it signed may still be alive.
    pub verifies: bool,
}

impl Authority {
    /// Adds a new signing key, which signs from now on; the older keys keep
    /// verifying the access tokens they signed. Running servers pick it up
    /// on their next request.
    pub fn rotate_signing_key(&mut self) -> Result<SigningKeyInfo, DomainError> {
        let mut key = KeyRing::generate_key(&*self.shared.ambient.random, self.now())?;
        // The newest key signs: a rotation within the second of the last
        // one must still come out newest.
        let newest = self.db().signing_keys()?.iter().map(|k| k.created_at).max();
        key.created_at = key.created_at.max(newest.map_or(i64::MIN, |t| t + 1));
        let info = SigningKeyInfo {
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            created_at: key.created_at,
            signs: true,
            replaced_at: None,
            verifies: true,
        };
        let event = self
            .operator_event("key.rotate")?
            .on("signing_key", &info.kid, &info.kid)
            .with("algorithm", json!(info.algorithm));
        self.write_recorded(event, move |tx| tx.insert_signing_key(&key))?;
        Ok(info)
    }

    pub fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>, DomainError> {
        let ring = self.keys()?;
        let states = ring.key_states(self.now());
        Ok(self
            .db()
            .signing_keys()?
            .into_iter()
            .map(|k| {
                let state = states.iter().find(|(kid, _, _)| *kid == k.kid);
                SigningKeyInfo {
                    signs: k.kid == ring.signing_kid(),
                    replaced_at: state.and_then(|(_, replaced, _)| *replaced),
                    verifies: state.is_some_and(|(_, _, verifies)| *verifies),
                    kid: k.kid.clone(),
                    algorithm: k.algorithm.clone(),
                    created_at: k.created_at,
                }
            })
            .collect())
    }
}
