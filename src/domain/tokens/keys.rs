//! The signing keys as the admin CLI manages them: rotating to a new pair
//! (published first, signing later; or at once, for a compromise), listing
//! them (never their private part), and keeping them sealed: the KEK a
//! start uses (made at the first, checked at every other), sealing the
//! plaintext keys of an earlier version, and resealing every key under a
//! new KEK. The key ring that signs and verifies is `signing::KeyRing`;
//! the cipher is `sealing`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::domain::ambient::Ambient;
use crate::domain::records::SigningKeyRecord;
use crate::domain::storage::{Reads, Storage};
use crate::domain::tokens::sealing::{self, Kek, KekStore, Sealing};
use crate::domain::tokens::signing::{key_states_of, KeyRing};
use crate::domain::{system_event, Authority, DomainError};

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
        let kek = self.kek()?;
        self.rotate_under(&kek, now, activates_at, rotation, None)
    }

    /// For a key file that is lost for good: makes a new KEK in
    /// `new_store` (never over one that exists) and a new key pair sealed
    /// under it that signs at once, and retires every older key at once,
    /// as `KeyRotation::AtOnce` does: they could never be opened again.
    /// No older key needs opening, so the lost KEK is not asked for.
    pub fn replace_signing_keys_under_new_kek(
        &mut self,
        new_store: &dyn KekStore,
    ) -> Result<(Vec<SigningKeyInfo>, String), DomainError> {
        let kek = Kek::generate(&*self.shared.ambient.random)?;
        new_store.create(&kek)?;
        let now = self.now();
        let keys = self.rotate_under(&kek, now, now, KeyRotation::AtOnce, Some(&kek))?;
        Ok((keys, kek.id()))
    }

    fn rotate_under(
        &mut self,
        kek: &Kek,
        now: i64,
        activates_at: i64,
        rotation: KeyRotation,
        new_kek: Option<&Kek>,
    ) -> Result<Vec<SigningKeyInfo>, DomainError> {
        let random = &*self.shared.ambient.random;
        let ambient = &self.shared.ambient;
        let keys = vec![
            sealed(
                kek,
                ambient,
                KeyRing::generate_ec_key(random, now, activates_at)?,
            )?,
            sealed(
                kek,
                ambient,
                KeyRing::generate_rsa_key(random, now, activates_at)?,
            )?,
        ];
        let kids: Vec<String> = keys.iter().map(|k| k.kid.clone()).collect();
        let at_once = matches!(rotation, KeyRotation::AtOnce);
        let mut event = self
            .operator_event("key.rotate")?
            .on("signing_key", &kids[0], &kids[0])
            .with("kids", json!(kids))
            .with("activates_at", json!(activates_at))
            .with("old_keys_retired", json!(at_once));
        if let Some(new_kek) = new_kek {
            event = event.with("new_kek", json!(new_kek.id()));
        }
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
        // From the records alone: a listing opens no private key.
        let records = self.db().signing_keys()?;
        let states = key_states_of(&records, self.now(), self.token_lifetime());
        Ok(records
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

/// What a reseal did.
#[derive(Debug, Clone)]
pub struct ResealReport {
    /// The KEK ids the keys were sealed under ("plaintext" for keys an
    /// earlier version stored so).
    pub from: Vec<String>,
    /// The new KEK's id.
    pub to: String,
    /// Keys resealed, the retired ones included.
    pub keys: usize,
    /// Second-factor secrets resealed.
    pub second_factors: usize,
    /// Webhook signing secrets resealed.
    pub webhook_secrets: usize,
}

impl Authority {
    /// The KEK this process seals and opens with, read once from its
    /// store: refused when there is none, or when it is not the one the
    /// keys in force are sealed under.
    pub(in crate::domain) fn kek(&self) -> Result<Kek, DomainError> {
        if let Some(kek) = self.shared.kek.get() {
            return Ok(kek.clone());
        }
        let store = &*self.shared.kek_store;
        let records = self.db().signing_keys()?;
        let kek = match store.load()? {
            Some(kek) => kek,
            None => {
                return Err(match sealed_under(&records).into_iter().next() {
                    Some(expected) => missing_kek(&expected, store),
                    None => DomainError::Invalid(format!(
                        "there is no key file at {}: the signing keys are not sealed yet; \
                         `tokend serve` makes it and seals them at its next start",
                        store.location()
                    )),
                })
            }
        };
        check_kek(&records, &kek, store)?;
        Ok(self.shared.kek.get_or_init(|| kek).clone())
    }

    /// Makes a new KEK in `new_store` (never over one that exists) and
    /// reseals every private key under it in one write, with its event.
    /// Running servers keep the keys they hold; the admin then points
    /// `TOKEND_KEY_FILE` at the new file and restarts them.
    pub fn reseal_signing_keys(
        &mut self,
        new_store: &dyn KekStore,
    ) -> Result<ResealReport, DomainError> {
        let old = self.kek()?;
        // Every key in force must open before anything is made or written.
        let resealed = resealable(
            &self.db().signing_keys()?,
            &self.db().all_signing_keys()?,
            &old,
        )
        .map_err(DomainError::Invalid)?;
        let new = Kek::generate(&*self.shared.ambient.random)?;
        // The new file first: a write that then fails leaves an unused
        // file, never keys sealed under a KEK kept nowhere.
        new_store.create(&new)?;
        let from: Vec<String> = resealed
            .iter()
            .map(|(r, _)| match sealing::sealing_of(&r.private_key) {
                Sealing::Sealed(id) => id,
                Sealing::Plaintext => "plaintext".into(),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let event = self
            .operator_event("key.reseal")?
            .on("key_encryption_key", &new.id(), &new.id())
            .with("from", json!(from))
            .with("to", json!(new.id()));
        let random = std::sync::Arc::clone(&self.shared.ambient.random);
        let to = new.id();
        let keys = self.write_recorded(event, move |tx| {
            // Read again inside the write: a key added meanwhile is resealed too.
            let resealed = resealable(&tx.signing_keys()?, &tx.all_signing_keys()?, &old)
                .map_err(crate::domain::storage::StoreError::Failed)?;
            for (record, private) in &resealed {
                let blob =
                    sealing::seal(&new, &*random, &record.kid, &record.algorithm, private)
                        .map_err(|e| crate::domain::storage::StoreError::Failed(e.to_string()))?;
                tx.replace_signing_key_private(&record.kid, &blob)?;
            }
            // Second-factor secrets are sealed under the same KEK. One
            // that does not open (sealed under a key file lost before) is
            // of no use to anyone and is left; its user needs a reset.
            let mut second_factors = 0;
            for factor in tx.all_second_factors()? {
                let Ok(secret) = sealing::unseal(
                    &old,
                    &factor.user_id,
                    sealing::SECOND_FACTOR,
                    &factor.secret,
                ) else {
                    continue;
                };
                let blob = sealing::seal(
                    &new,
                    &*random,
                    &factor.user_id,
                    sealing::SECOND_FACTOR,
                    &secret,
                )
                .map_err(|e| crate::domain::storage::StoreError::Failed(e.to_string()))?;
                tx.replace_second_factor_secret(&factor.user_id, &blob)?;
                second_factors += 1;
            }
            // Webhook secrets too, by the same rule.
            let mut webhook_secrets = 0;
            for webhook in tx.webhooks(None)? {
                let Ok(secret) =
                    sealing::unseal(&old, &webhook.id, sealing::WEBHOOK_SECRET, &webhook.secret)
                else {
                    continue;
                };
                let blob = sealing::seal(
                    &new,
                    &*random,
                    &webhook.id,
                    sealing::WEBHOOK_SECRET,
                    &secret,
                )
                .map_err(|e| crate::domain::storage::StoreError::Failed(e.to_string()))?;
                tx.replace_webhook_secret(&webhook.id, &blob)?;
                webhook_secrets += 1;
            }
            Ok((resealed.len(), second_factors, webhook_secrets))
        })?;
        let (keys, second_factors, webhook_secrets) = keys;
        Ok(ResealReport {
            from,
            to,
            keys,
            second_factors,
            webhook_secrets,
        })
    }
}

/// A stored key and its private part, opened.
type Opened = (SigningKeyRecord, zeroize::Zeroizing<Vec<u8>>);

/// The keys of `all` a reseal under a new KEK rewrites, opened with `old`:
/// every key in force (`live`), which must open, and every retired key
/// that opens. A retired key that does not (sealed under a key file lost
/// and replaced by `key rotate --now --new-key-file`) never signs nor
/// verifies again and is left as it is.
fn resealable(
    live: &[SigningKeyRecord],
    all: &[SigningKeyRecord],
    old: &Kek,
) -> Result<Vec<Opened>, String> {
    let mut resealed = Vec::with_capacity(all.len());
    for record in all {
        match sealing::unseal(old, &record.kid, &record.algorithm, &record.private_key) {
            Ok(private) => resealed.push((record.clone(), private)),
            Err(e) if live.iter().any(|k| k.kid == record.kid) => {
                return Err(format!("signing key {} cannot be opened: {e}", record.kid))
            }
            Err(_) => {}
        }
    }
    Ok(resealed)
}

/// Whether the KEK `store` keeps opens every key of `keys` (a database's
/// keys in force, as stored), in words: `Ok` when the keys can be used
/// with it (or are plaintext, sealed at the next start), `Err` when not.
pub fn key_file_verdict(keys: &[SigningKeyRecord], store: &dyn KekStore) -> Result<String, String> {
    let location = store.location();
    let plaintext = keys
        .iter()
        .filter(|k| sealing::sealing_of(&k.private_key) == Sealing::Plaintext)
        .count();
    let kek = store.load().map_err(|e| e.to_string())?;
    let Some(kek) = kek else {
        return match sealed_under(keys).into_iter().next() {
            Some(expected) => Err(format!(
                "the signing keys are sealed under key-encryption key {expected}, and there is \
                 no key file at {location}: tokend serve refuses to start without it"
            )),
            None => Ok(format!(
                "{plaintext} signing keys in plaintext, as an earlier version stored them; no key \
                 file at {location} yet: the next start of tokend serve makes it and seals them"
            )),
        };
    };
    let refused: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            sealing::unseal(&kek, &k.kid, &k.algorithm, &k.private_key)
                .err()
                .map(|e| format!("signing key {}: {e}", k.kid))
        })
        .collect();
    if !refused.is_empty() {
        return Err(format!(
            "the key file {location} (key-encryption key {}) does not open every signing key: {}",
            kek.id(),
            refused.join("; ")
        ));
    }
    let sealed = keys.len() - plaintext;
    let mut verdict = format!(
        "the key file {location} (key-encryption key {}) opens the {sealed} sealed signing keys",
        kek.id()
    );
    if plaintext > 0 {
        verdict.push_str(&format!(
            "; {plaintext} in plaintext are sealed at the next start of tokend serve"
        ));
    }
    Ok(verdict)
}

/// `key` with its private part sealed under `kek`.
pub(in crate::domain) fn sealed(
    kek: &Kek,
    ambient: &Ambient,
    mut key: SigningKeyRecord,
) -> Result<SigningKeyRecord, DomainError> {
    let blob = sealing::seal(
        kek,
        &*ambient.random,
        &key.kid,
        &key.algorithm,
        &key.private_key,
    )?;
    key.private_key = zeroize::Zeroizing::new(blob);
    Ok(key)
}

/// The KEK ids the keys in `records` are sealed under.
fn sealed_under(records: &[SigningKeyRecord]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| match sealing::sealing_of(&r.private_key) {
            Sealing::Sealed(id) => Some(id),
            Sealing::Plaintext => None,
        })
        .collect()
}

fn missing_kek(expected: &str, store: &dyn KekStore) -> DomainError {
    DomainError::Invalid(format!(
        "the signing keys are sealed under key-encryption key {expected}, and there is no key \
         file at {location}: set TOKEND_KEY_FILE (or --key-file) to the file that holds \
         {expected}, or put that file back at {location}. No new signing keys are made in \
         their place: every token the old keys signed would be orphaned. If the file is lost \
         for good, `tokend key rotate --now --new-key-file FILE` replaces the keys",
        location = store.location()
    ))
}

/// Refuses `kek` when a key in force is sealed under another.
fn check_kek(
    records: &[SigningKeyRecord],
    kek: &Kek,
    store: &dyn KekStore,
) -> Result<(), DomainError> {
    let others: Vec<String> = sealed_under(records)
        .into_iter()
        .filter(|id| *id != kek.id())
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(DomainError::Invalid(format!(
        "the signing keys are sealed under key-encryption key {expected}, but the key file \
         {location} holds {actual}: set TOKEND_KEY_FILE (or --key-file) to the file that holds \
         {expected}",
        expected = others.join(" and "),
        location = store.location(),
        actual = kek.id()
    )))
}

/// The KEK a `serve` start uses: the one `store` keeps, when it is the
/// one the keys in force are sealed under; else, when no key is sealed
/// yet (a first start, or plaintext keys of an earlier version), a new one
/// made there. Keys sealed under a KEK that is missing or another are
/// refused: never are new keys made in their place.
pub(in crate::domain) fn kek_for_start(
    reads: &dyn Reads,
    store: &dyn KekStore,
    ambient: &Ambient,
) -> Result<Kek, DomainError> {
    let records = reads.signing_keys()?;
    if let Some(kek) = store.load()? {
        check_kek(&records, &kek, store)?;
        return Ok(kek);
    }
    if let Some(expected) = sealed_under(&records).into_iter().next() {
        return Err(missing_kek(&expected, store));
    }
    let kek = Kek::generate(&*ambient.random)?;
    match store.create(&kek) {
        Ok(()) => Ok(kek),
        // Another process made it first: use that one.
        Err(e) => store.load()?.ok_or(e),
    }
}

/// Seals, in one write with its `key.seal` event, every key an earlier
/// version stored in plaintext (the retired ones too).
pub(in crate::domain) fn seal_plaintext_keys(
    store: &mut Box<dyn Storage>,
    ambient: &Ambient,
    kek: &Kek,
) -> Result<(), DomainError> {
    let plaintext: Vec<String> = store
        .reads()
        .all_signing_keys()?
        .iter()
        .filter(|r| sealing::sealing_of(&r.private_key) == Sealing::Plaintext)
        .map(|r| r.kid.clone())
        .collect();
    if plaintext.is_empty() {
        return Ok(());
    }
    let event = system_event(ambient, "key.seal")?
        .on("key_encryption_key", &kek.id(), &kek.id())
        .with("kids", json!(plaintext))
        .with("kek", json!(kek.id()));
    let (kek, random) = (kek.clone(), std::sync::Arc::clone(&ambient.random));
    store.write(move |tx| {
        for record in tx.all_signing_keys()? {
            if sealing::sealing_of(&record.private_key) != Sealing::Plaintext {
                continue;
            }
            let blob = sealing::seal(
                &kek,
                &*random,
                &record.kid,
                &record.algorithm,
                &record.private_key,
            )
            .map_err(|e| crate::domain::storage::StoreError::Failed(e.to_string()))?;
            tx.replace_signing_key_private(&record.kid, &blob)?;
        }
        tx.insert_event(&event)
    })?;
    Ok(())
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
