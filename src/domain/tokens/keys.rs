//! The signing keys as the admin CLI manages them: rotating to a new pair
//! (published first, signing later; or at once, for a compromise) and
//! listing them (never their private part). The key ring that signs and
//! verifies is `signing::KeyRing`.

use std::time::Duration;

use serde_json::json;

use crate::domain::records::SigningKeyRecord;
use crate::domain::tokens::signing::KeyRing;
use crate::domain::{Authority, DomainError};

/// A signing key as listed: never its private part.
#[derive(Debug, Clone)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub created_at: i64,
    /// When it signs (or signed) its first token.
    pub activates_at: i64,
    /// It signs new tokens of its algorithm now.
    pub signs: bool,
    /// When a newer key took (or takes) over signing.
    pub replaced_at: Option<i64>,
    /// Whether it still verifies (and is in the JWKS): it signs or will,
    /// or tokens it signed may still be alive.
    pub verifies: bool,
}

/// How a rotation hands over signing.
#[derive(Debug, Clone, Copy)]
pub enum KeyRotation {
    /// The new keys are published now and sign after this delay, which
    /// must be longer than the JWKS `max-age`: every verifier fetches
    /// them before their first token. The old keys verify on.
    Published(Duration),
    /// The new keys sign now and the old ones stop verifying now: for a
    /// key that leaked. Tokens they signed are refused from then on.
    AtOnce,
}

impl Authority {
    /// Adds a new ES256 and RS256 key pair. Running servers pick them up
    /// on their next request.
    pub fn rotate_signing_keys(
        &mut self,
        rotation: KeyRotation,
    ) -> Result<Vec<SigningKeyInfo>, DomainError> {
        let now = self.now();
        let activates_at = match rotation {
            KeyRotation::Published(delay) => {
                let max_age = self.settings().jwks_max_age;
                if delay <= max_age {
                    return Err(DomainError::Invalid(format!(
                        "the delay ({}) must be longer than the JWKS max-age ({}): a verifier \
                         could otherwise meet a token before it has the key",
                        humantime::format_duration(delay),
                        humantime::format_duration(max_age)
                    )));
                }
                // Strictly after any key already waiting, so the newest
                // rotation is the one that ends up signing.
                let waiting = self
                    .db()
                    .signing_keys()?
                    .iter()
                    .map(|k| k.activates_at)
                    .max();
                (now + delay.as_secs() as i64).max(waiting.map_or(i64::MIN, |t| t + 1))
            }
            KeyRotation::AtOnce => now,
        };
        let random = &*self.shared.ambient.random;
        let keys = vec![
            KeyRing::generate_ec_key(random, now, activates_at)?,
            KeyRing::generate_rsa_key(random, now, activates_at)?,
        ];
        let kids: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
        let at_once = matches!(rotation, KeyRotation::AtOnce);
        let event = self
            .operator_event("key.rotate")?
            .on("signing_key", &kids[0], &kids[0])
            .with("kids", json!(kids))
            .with("activates_at", json!(activates_at))
            .with("old_keys_retired", json!(at_once));
        let infos = keys.iter().map(|k| new_key_info(k, at_once)).collect();
        self.write_recorded(event, move |tx| {
            for key in &keys {
                tx.insert_signing_key(key)?;
            }
            if at_once {
                tx.retire_signing_keys_except(&kids, now)?;
            }
            Ok(())
        })?;
        Ok(infos)
    }

    pub fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>, DomainError> {
        let states = self.keys()?.key_states(self.now());
        Ok(self
            .db()
            .signing_keys()?
            .into_iter()
            .map(|k| {
                let state = states.iter().find(|s| s.kid == k.kid);
                SigningKeyInfo {
                    signs: state.is_some_and(|s| s.signs),
                    replaced_at: state.and_then(|s| s.replaced_at),
                    verifies: state.is_some_and(|s| s.verifies),
                    kid: k.kid.clone(),
                    algorithm: k.algorithm.clone(),
                    created_at: k.created_at,
                    activates_at: k.activates_at,
                }
            })
            .collect())
    }

    /// The JWKS `max-age`, in seconds.
    pub fn jwks_max_age(&self) -> u64 {
        self.settings().jwks_max_age.as_secs()
    }
}

fn new_key_info(key: &SigningKeyRecord, at_once: bool) -> SigningKeyInfo {
    SigningKeyInfo {
        kid: key.kid.clone(),
        algorithm: key.algorithm.clone(),
        created_at: key.created_at,
        activates_at: key.activates_at,
        signs: at_once,
        replaced_at: None,
        verifies: true,
    }
}
