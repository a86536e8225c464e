//! A second factor for password logins: RFC 6238 TOTP (HMAC-SHA-1, six
//! digits, 30-second steps: what authenticator apps accept) and ten
//! one-time recovery codes.
//!
//! - A user enrols from a password session: a random 160-bit secret is kept
//!   pending until a code proves the app has it; then the ten recovery
//!   codes are shown, once, and only their BLAKE3 digests are kept.
//! - A code is accepted for the step before, the step of and the step after
//!   the clock (±30 s of skew), and only for a step later than the last one
//!   accepted: a code seen once, or an earlier one, is refused. The step
//!   is moved in the same write that opens the session, guarded by the
//!   step itself, so two logins racing with one code cannot both win.
//! - Wrong codes count as failed logins in the throttle, so six digits
//!   cannot be guessed at.
//! - The secret is stored sealed under the key-encryption key, as the
//!   signing keys are (`tokens::sealing`), bound to its user; `tokend key
//!   reseal` reseals it with them.
//!
//! The console's two-step login keeps a verified password as a short-lived
//! pending login in the database, by a digest of its handle, so that the
//! second step may reach another node than the first; it is used up in
//! the write that opens the session.

use std::net::IpAddr;

use serde_json::json;
use totp_rs::{Algorithm, Builder, Secret};
use zeroize::Zeroizing;

use crate::domain::ambient::random_string;
use crate::domain::records::{Account, PendingLogin, SecondFactorRecord, UserSummary};
use crate::domain::storage::{StoreError, StoreResult, Transaction};
use crate::domain::tokens::policy::SecondFactorRule;
use crate::domain::tokens::sealing;
use crate::domain::{Actor, Authority, Caller, DomainError, Right, RightSet};

/// Seconds per time step (RFC 6238's default, and what apps assume).
pub const STEP_SECONDS: i64 = 30;
const DIGITS: usize = 6;
/// 160 bits, RFC 4226's recommended length.
const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;
/// RFC 4648's base32 letters, lower case: no 0/1 to mistake for o/l.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
/// 20 characters of 5 bits: 100 bits, shown in groups of four.
const RECOVERY_LENGTH: usize = 20;
/// The name the authenticator app shows, and the `issuer` of the URI.
const ISSUER: &str = "tokend";
/// How long a console login waits for its code.
const PENDING_LOGIN_SECONDS: i64 = 300;
/// Pending logins remembered at most; the oldest give way.
const MAX_PENDING_LOGINS: u64 = 10_000;

/// What a user needs to add tokend to an authenticator app.
pub struct Enrolment {
    /// `otpauth://totp/tokend:USER@ORG?secret=…&issuer=tokend…`
    pub uri: String,
    /// The secret in base32, for typing into an app by hand.
    pub secret: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment { .. }")
    }
}

/// Where a user's second factor stands.
#[derive(Debug, Clone, Copy)]
pub struct SecondFactorStatus {
    pub enrolled: bool,
    /// An enrolment begun and not yet confirmed.
    pub pending: bool,
    pub recovery_codes_left: u64,
    /// The org's policy requires one of this user.
    pub required: bool,
}

/// A code that checked out, and what accepting it changes.
enum Proof {
    /// A TOTP code of this time step.
    Step(i64),
    /// A recovery code, by digest.
    Recovery([u8; 32]),
}

impl Proof {
    /// Accepts the proof in `tx`: false if it was used meanwhile.
    fn accept(&self, tx: &dyn Transaction, user_id: &str, now: i64) -> StoreResult<bool> {
        match self {
            Proof::Step(step) => tx.accept_second_factor_step(user_id, *step),
            Proof::Recovery(digest) => tx.use_recovery_code(user_id, digest, now),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Proof::Step(_) => "totp",
            Proof::Recovery(_) => "recovery_code",
        }
    }
}

impl Authority {
    /// What the store keeps of `user_id`'s secret: sealed under the
    /// key-encryption key, as the signing keys are, so a copied database
    /// or a backup alone yields no code generator.
    fn seal_second_factor(&self, user_id: &str, secret: &[u8]) -> Result<Vec<u8>, DomainError> {
        let kek = self.kek()?;
        sealing::seal(
            &kek,
            &*self.shared.ambient.random,
            user_id,
            sealing::SECOND_FACTOR,
            secret,
        )
    }

    /// The secret from what the store kept (`seal_second_factor`'s inverse).
    fn unseal_second_factor(
        &self,
        factor: &SecondFactorRecord,
    ) -> Result<Zeroizing<Vec<u8>>, DomainError> {
        let kek = self.kek()?;
        let secret = sealing::unseal(
            &kek,
            &factor.user_id,
            sealing::SECOND_FACTOR,
            &factor.secret,
        )
        .map_err(|e| match e {
            // Resealed by `tokend key reseal` since this server read
            // its key file: it opens again once restarted on the new one.
            sealing::UnsealError::OtherKek(id) => DomainError::Unavailable(format!(
                "second factors are sealed under key-encryption key {id}, which this \
                     server does not hold: restart it with the new key file"
            )),
            sealing::UnsealError::Tampered => {
                DomainError::Internal(format!("a second-factor secret: {e}"))
            }
        })?;
        if secret.len() != SECRET_BYTES {
            return Err(DomainError::Internal(
                "a stored second-factor secret has the wrong length".into(),
            ));
        }
        Ok(secret)
    }
}

/// The time step of `at`.
fn step_of(at: i64) -> i64 {
    at.div_euclid(STEP_SECONDS)
}

/// The step among the clock's and its neighbours whose code `code` is,
/// if any.
fn matching_step(secret: &[u8], code: &str, now: i64) -> Result<Option<i64>, DomainError> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(0)
        .with_step_duration(STEP_SECONDS as u64)
        .with_secret(secret.to_vec())
        .build()
        .map_err(|e| DomainError::Internal(format!("TOTP: {e}")))?;
    let current = step_of(now);
    // Every candidate is checked, so the time taken does not tell which.
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let Ok(at) = u64::try_from(step * STEP_SECONDS) else {
            continue;
        };
        if totp.check(code, at).is_some() && found.is_none() {
            found = Some(step);
        }
    }
    Ok(found)
}

/// A recovery code as typed (any case, with or without dashes and
/// spaces), in its one canonical form; None if it cannot be one.
fn canonical_recovery_code(code: &str) -> Option<String> {
    let canonical: String = code
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = canonical.len() == RECOVERY_LENGTH
        && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then_some(canonical)
}

fn recovery_digest(canonical: &str) -> [u8; 32] {
    blake3::derive_key("tokend 2fa recovery code v1", canonical.as_bytes())
}

/// `xxxx-xxxx-xxxx-xxxx-xxxx`
fn grouped(canonical: &str) -> String {
    let chars: Vec<char> = canonical.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn label_component(text: &str) -> String {
    // The label keeps `@` and the usual name characters readable; anything
    // else (a colon above all, which separates issuer and account) is
    // percent-encoded.
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'@')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

/// The rights that make a user an admin for the policy `admins`: any
/// right over other users, the directory or the orgs.
const ADMIN_RIGHTS: [Right; 7] = [
    Right::TokenManageAll,
    Right::UserManage,
    Right::GroupManage,
    Right::RoleManage,
    Right::GlobalRoleManage,
    Right::RightsBundleManage,
    Right::OrgManage,
];

fn is_admin(account: &Account) -> bool {
    let rights = RightSet::from_permissions(&account.permissions());
    ADMIN_RIGHTS.iter().any(|r| rights.contains(*r))
}

impl Authority {
    /// Whether the org's policy requires a second factor of `account`.
    pub(in crate::domain) fn second_factor_required(
        &self,
        account: &Account,
    ) -> Result<bool, DomainError> {
        Ok(match self.policy_of(&account.org.id)?.second_factor {
            SecondFactorRule::Nobody => false,
            SecondFactorRule::Admins => is_admin(account),
            SecondFactorRule::Everyone => true,
        })
    }

    /// The enrolled second factor of `user_id`, if any.
    pub(in crate::domain) fn enrolled_second_factor(
        &self,
        user_id: &str,
    ) -> Result<Option<SecondFactorRecord>, DomainError> {
        Ok(self
            .db()
            .second_factor(user_id)?
            .filter(|f| f.enrolled_at.is_some()))
    }

    /// What `code` proves against `factor` now: a TOTP code of a step
    /// after the last one accepted, or an unused recovery code. None for
    /// anything else, a replayed code included.
    fn second_factor_proof(
        &self,
        factor: &SecondFactorRecord,
        code: &str,
        now: i64,
    ) -> Result<Option<Proof>, DomainError> {
        let code = code.trim();
        let secret = self.unseal_second_factor(factor)?;
        if let Some(step) = matching_step(&secret, code, now)? {
            let fresh = factor.last_step.is_none_or(|last| step > last);
            return Ok(fresh.then_some(Proof::Step(step)));
        }
        let Some(canonical) = canonical_recovery_code(code) else {
            return Ok(None);
        };
        Ok(Some(Proof::Recovery(recovery_digest(&canonical))))
    }

    /// Checks `code` and accepts it in the same write as `then`, with
    /// `event`; None (and nothing written) if the code is wrong, replayed
    /// or used meanwhile, or if `then` found a single-use record it needs
    /// used meanwhile (`Conflict`: the pending login another node
    /// completed), which loses as a replayed code does.
    pub(in crate::domain) fn accept_second_factor<T: Send + 'static>(
        &mut self,
        factor: &SecondFactorRecord,
        code: &str,
        event: crate::domain::records::Event,
        mut then: impl FnMut(&dyn Transaction) -> StoreResult<T> + Send + 'static,
    ) -> Result<Option<T>, DomainError> {
        let now = self.now();
        let Some(proof) = self.second_factor_proof(factor, code, now)? else {
            return Ok(None);
        };
        let event = event.with("second_factor", json!(proof.kind()));
        let user_id = factor.user_id.clone();
        let accepted = self.store.write(move |tx| {
            if !proof.accept(tx, &user_id, now)? {
                return Ok(None);
            }
            let value = then(tx)?;
            tx.insert_event(&event)?;
            Ok(Some(value))
        });
        match accepted {
            Err(StoreError::Conflict) => Ok(None),
            accepted => Ok(accepted?),
        }
    }

    /// A wrong second factor from `source` for `name`: counted by the
    /// login throttle like a wrong password, and recorded.
    pub(in crate::domain) fn second_factor_failed(
        &mut self,
        name: &str,
        org_name: &str,
        user_id: &str,
        source: IpAddr,
    ) -> DomainError {
        let now = self.now();
        self.login_failed(name, source, now);
        self.record_login_refused(
            "session.second_factor_failed",
            name,
            org_name,
            Some(user_id),
            source,
        );
        DomainError::InvalidSecondFactor
    }

    /// Refuses a session's caller unless it may manage its own second
    /// factor: a password session of a person.
    fn require_own_second_factor(&self, caller: &Caller) -> Result<(), DomainError> {
        self.require_session(caller, "manage a second factor")?;
        if caller.account.service_account {
            return Err(DomainError::Invalid(
                "a service account has no password login and no second factor".into(),
            ));
        }
        Ok(())
    }

    /// Where the caller's second factor stands.
    pub fn second_factor_status(&self, caller: &Caller) -> Result<SecondFactorStatus, DomainError> {
        self.require_own_second_factor(caller)?;
        let user_id = &caller.account.user_id;
        let factor = self.db().second_factor(user_id)?;
        let enrolled = factor.as_ref().is_some_and(|f| f.enrolled_at.is_some());
        Ok(SecondFactorStatus {
            enrolled,
            pending: factor.is_some() && !enrolled,
            recovery_codes_left: if enrolled {
                self.db().recovery_codes_left(user_id)?
            } else {
                0
            },
            required: self.second_factor_required(&caller.account)?,
        })
    }

    /// Begins the caller's enrolment: a new secret, pending until
    /// `confirm_second_factor` (a pending one is replaced). Refused while
    /// one is enrolled: turn it off first.
    pub fn begin_second_factor(&mut self, caller: &Caller) -> Result<Enrolment, DomainError> {
        self.require_own_second_factor(caller)?;
        let account = &caller.account;
        let mut secret = Zeroizing::new([0_u8; SECRET_BYTES]);
        self.shared.ambient.random.fill(&mut secret[..])?;
        let record = SecondFactorRecord {
            user_id: account.user_id.clone(),
            secret: self.seal_second_factor(&account.user_id, &secret[..])?,
            created_at: self.now(),
            enrolled_at: None,
            last_step: None,
        };
        let event = self.own_second_factor_event(caller, "user.2fa.begin")?;
        let begun = self.write_if_changed(event, move |tx| tx.begin_second_factor(&record))?;
        if !begun {
            return Err(DomainError::Conflict(
                "a second factor is enrolled already; turn it off first".into(),
            ));
        }
        Ok(enrolment(account, &secret[..]))
    }

    /// The caller's enrolment begun and not yet confirmed, to show again
    /// (the console's page after a mistyped code); None if there is none.
    pub fn pending_enrolment(&self, caller: &Caller) -> Result<Option<Enrolment>, DomainError> {
        self.require_own_second_factor(caller)?;
        let Some(pending) = self
            .db()
            .second_factor(&caller.account.user_id)?
            .filter(|f| f.enrolled_at.is_none())
        else {
            return Ok(None);
        };
        let secret = self.unseal_second_factor(&pending)?;
        Ok(Some(enrolment(&caller.account, &secret)))
    }

    /// Confirms the pending enrolment with a code from the app; the ten
    /// recovery codes, shown this once. A session that could only enrol
    /// may do everything its user may from now on.
    pub fn confirm_second_factor(
        &mut self,
        caller: &Caller,
        code: &str,
    ) -> Result<Vec<String>, DomainError> {
        self.require_own_second_factor(caller)?;
        let user_id = caller.account.user_id.clone();
        let pending = self
            .db()
            .second_factor(&user_id)?
            .filter(|f| f.enrolled_at.is_none())
            .ok_or_else(|| {
                DomainError::Conflict("no enrolment is pending; begin one first".into())
            })?;
        let now = self.now();
        let secret = self.unseal_second_factor(&pending)?;
        let Some(step) = matching_step(&secret, code.trim(), now)? else {
            let name = caller_login_name(caller);
            self.second_factor_failed(&name, &caller.account.org.name, &user_id, caller.client);
            return Err(DomainError::Invalid(
                "the code is not the authenticator's current one".into(),
            ));
        };
        let mut codes = Vec::with_capacity(RECOVERY_CODES);
        let mut digests = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let code = random_string(
                &*self.shared.ambient.random,
                RECOVERY_ALPHABET,
                RECOVERY_LENGTH,
            )?;
            digests.push(recovery_digest(&code));
            codes.push(grouped(&code));
        }
        let event = self.own_second_factor_event(caller, "user.2fa.enrol")?;
        let session = caller.session_id().map(str::to_owned);
        let enrolled = self.write_if_changed(event, move |tx| {
            let enrolled = tx.enrol_second_factor(&user_id, now, step, &digests)?;
            if enrolled {
                if let Some(session) = &session {
                    tx.lift_enrol_only(session)?;
                }
            }
            Ok(enrolled)
        })?;
        if !enrolled {
            return Err(DomainError::Conflict(
                "the enrolment was confirmed or replaced meanwhile".into(),
            ));
        }
        Ok(codes)
    }

    /// Turns the caller's second factor off, proven with a current code
    /// (or a recovery code); refused where the org's policy requires one.
    pub fn disable_second_factor(
        &mut self,
        caller: &Caller,
        code: &str,
    ) -> Result<(), DomainError> {
        self.require_own_second_factor(caller)?;
        let user_id = caller.account.user_id.clone();
        let Some(factor) = self.enrolled_second_factor(&user_id)? else {
            return Err(DomainError::NotFound("no second factor is enrolled".into()));
        };
        if self.second_factor_required(&caller.account)? {
            return Err(self.deny(
                caller,
                "the org's policy requires a second factor of this user".into(),
            ));
        }
        let event = self.own_second_factor_event(caller, "user.2fa.disable")?;
        let removed_for = user_id.clone();
        let accepted = self.accept_second_factor(&factor, code, event, move |tx| {
            tx.delete_second_factor(&removed_for)
        })?;
        if accepted.is_none() {
            let name = caller_login_name(caller);
            return Err(self.second_factor_failed(
                &name,
                &caller.account.org.name,
                &user_id,
                caller.client,
            ));
        }
        Ok(())
    }

    /// Removes `user`'s second factor (enrolled or pending) and recovery
    /// codes, for an admin: "User: Manage" over the user, within the
    /// ceiling, never one's own (that takes a code); or the CLI's
    /// operator. The user enrols again at the next login if the policy
    /// requires it.
    pub fn reset_second_factor(
        &mut self,
        by: Actor<'_>,
        user: &UserSummary,
    ) -> Result<UserSummary, DomainError> {
        self.require_to(by, Right::UserManage, "manage users")?;
        if let Actor::Caller(caller) = by {
            if user.id == caller.account.user_id {
                return Err(DomainError::Invalid(
                    "one's own second factor is turned off with a code, not reset".into(),
                ));
            }
        }
        self.require_user_within_ceiling(by, &user.id)?;
        let event = self.on_user(self.event_by(by, "user.2fa.reset")?, user);
        let user_id = user.id.clone();
        let reset = self.write_if_changed(event, move |tx| tx.delete_second_factor(&user_id))?;
        if !reset {
            return Err(DomainError::NotFound(format!(
                "{}@{} has no second factor",
                user.name, user.org_name
            )));
        }
        self.user_by_id(Actor::Operator, &user.id)
    }

    fn own_second_factor_event(
        &self,
        caller: &Caller,
        kind: &str,
    ) -> Result<crate::domain::records::Event, DomainError> {
        let account = &caller.account;
        Ok(self
            .event(kind, "success")?
            .by(caller)
            .on(
                "user",
                &account.user_id,
                &format!("{}@{}", account.user_name, account.org.name),
            )
            .in_org(&account.org.id))
    }
}

/// What an app needs to hold `secret` for `account`.
fn enrolment(account: &Account, secret: &[u8]) -> Enrolment {
    let base32 = Secret::from(secret.to_vec()).to_base32();
    let label = format!(
        "{ISSUER}:{}",
        label_component(&format!("{}@{}", account.user_name, account.org.name))
    );
    Enrolment {
        uri: format!(
            "otpauth://totp/{label}?secret={base32}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        ),
        secret: base32,
    }
}

fn caller_login_name(caller: &Caller) -> String {
    format!("{}@{}", caller.account.user_name, caller.account.org.name)
}

/// The digest a pending login is kept under: the handle itself is never
/// stored, so the database alone continues no login.
pub(in crate::domain) fn pending_login_digest(handle: &str) -> [u8; 32] {
    *blake3::hash(handle.as_bytes()).as_bytes()
}

impl Authority {
    /// Keeps a verified password for `PENDING_LOGIN_SECONDS` under
    /// `handle`, the one the second step presents. Expired ones are
    /// forgotten first; past `MAX_PENDING_LOGINS`, the soonest to expire
    /// give way.
    pub(in crate::domain) fn open_pending_login(
        &self,
        handle: &str,
        user_id: &str,
        name: &str,
        org_name: &str,
        source: IpAddr,
    ) -> Result<(), DomainError> {
        let now = self.now();
        let login = PendingLogin {
            handle_digest: pending_login_digest(handle),
            user_id: user_id.into(),
            name: name.into(),
            org_name: org_name.into(),
            source: source.to_string(),
            expires_at: now + PENDING_LOGIN_SECONDS,
        };
        self.store.write(move |tx| {
            tx.forget_expired_pending_logins(now)?;
            let held = tx.pending_login_count()?;
            let over = (held + 1).saturating_sub(MAX_PENDING_LOGINS);
            if over > 0 {
                tx.forget_oldest_pending_logins(over)?;
            }
            tx.insert_pending_login(&login)
        })?;
        Ok(())
    }

    /// The pending login of `handle`, if it is live and from `source`.
    pub(in crate::domain) fn pending_login(
        &self,
        handle: &str,
        source: IpAddr,
    ) -> Result<Option<PendingLogin>, DomainError> {
        let now = self.now();
        let source = source.to_string();
        Ok(self
            .db()
            .pending_login(&pending_login_digest(handle))?
            .filter(|p| p.expires_at > now && p.source == source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to six digits.
    #[test]
    fn codes_are_rfc_6238s_and_a_step_either_side_is_accepted() {
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59).unwrap(), Some(1));
        assert_eq!(
            matching_step(secret, "081804", 1111111109).unwrap(),
            Some(37037036)
        );
        // Its neighbours' codes, and no further.
        assert_eq!(matching_step(secret, "287082", 89).unwrap(), Some(1));
        assert_eq!(matching_step(secret, "287082", 29).unwrap(), Some(1));
        assert_eq!(matching_step(secret, "287082", 90).unwrap(), None);
        assert_eq!(matching_step(secret, "28708", 59).unwrap(), None);
        assert_eq!(matching_step(secret, "28708x", 59).unwrap(), None);
    }

    #[test]
    fn recovery_codes_are_read_in_any_case_with_or_without_dashes() {
        let code = "abcd2345efgh6723ijkl";
        let shown = grouped(code);
        assert_eq!(shown, "abcd-2345-efgh-6723-ijkl");
        assert_eq!(canonical_recovery_code(&shown).as_deref(), Some(code));
        assert_eq!(
            canonical_recovery_code(&shown.to_uppercase()).as_deref(),
            Some(code)
        );
        assert_eq!(canonical_recovery_code("abcd-2345"), None);
        assert_eq!(canonical_recovery_code("0bcd2345efgh6723ijkl"), None);
    }

    #[test]
    fn the_label_encodes_what_would_break_it() {
        assert_eq!(label_component("alice@acme"), "alice@acme");
        assert_eq!(label_component("a:b c@acme"), "a%3Ab%20c@acme");
    }
}
