//! Who is calling: password login into a session, logout, and the check of an
//! access token on every authenticated request (signature, then whether its
//! session or API token is still alive, then the user's current rights).

pub(in crate::domain) mod second_factor;
pub(in crate::domain) mod throttle;

use std::net::IpAddr;

use serde_json::json;

use crate::domain::ambient::random_string;
use crate::domain::auth::throttle::login_key;
use crate::domain::directory::password;
use crate::domain::records::TokenScope;
use crate::domain::records::{Account, SessionRecord, UserFilter, UserSummary};
use crate::domain::storage::ClusterNotice;
use crate::domain::storage::StoreError;
use crate::domain::tokens::access_token::AccessClaims;
use crate::domain::tokens::scopes::Grant;
use crate::domain::{AccessOrigin, Authority, Caller, DomainError, RightSet};

/// An access token as a request presents it.
pub struct Presented<'a> {
    pub token: &'a str,
    /// `Authorization: DPoP` rather than `Bearer` (or `csp-auth-token`).
    pub dpop_scheme: bool,
    /// The request's `DPoP` header.
    pub proof: Option<&'a str>,
    /// The request's method and path, which the proof must name.
    pub method: &'a str,
    pub path: &'a str,
}

impl<'a> Presented<'a> {
    /// A bearer token with no proof.
    pub fn bearer(token: &'a str) -> Presented<'a> {
        Presented {
            token,
            dpop_scheme: false,
            proof: None,
            method: "",
            path: "",
        }
    }
}

/// Users whose sessions one commit ends, when every session is ended.
const SESSION_BATCH: u32 = 100;

/// Which login endpoint was used: each admits only its own kind of user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginEndpoint {
    Provider,
    Tenant,
}

pub struct LoginSession {
    pub session_id: String,
    pub account: Account,
    pub access_token: String,
    pub expires_at: i64,
    /// The user must enrol a second factor; until then the session may
    /// only do that (and log out).
    pub enrol_only: bool,
}

/// A console login's second step came too late, or after another.
fn login_expired() -> DomainError {
    DomainError::Unauthenticated("the login has expired; log in again".into())
}

/// Alphabet of a pending login's handle.
const HANDLE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Authority {
    /// Checks `user@org`'s password from the client at `source` and opens a
    /// session. Repeated failures lock the name for that source (see
    /// `throttle`). A user with a second factor must give its code (or a
    /// recovery code) as `second_factor`; without one the answer is
    /// `SecondFactorRequired`, and only after a right password.
    pub fn login(
        &mut self,
        endpoint: LoginEndpoint,
        org_name: &str,
        user_name: &str,
        password: &str,
        second_factor: Option<&str>,
        source: IpAddr,
    ) -> Result<LoginSession, DomainError> {
        let now = self.now();
        let name = format!("{user_name}@{org_name}");
        // Checked before the password, so that a locked name cannot be
        // guessed at and costs no hashing.
        self.check_login_lock(&name, org_name, source, now)?;
        let found = self
            .db()
            .login_account(org_name, user_name)?
            // A service account never logs in with a password: refused
            // like an unknown name.
            .filter(|(account, _)| {
                account.org.is_provider == (endpoint == LoginEndpoint::Provider)
                    && !account.service_account
            });
        // A disabled user is refused like a wrong password, after the same
        // work, so the answer tells nothing.
        let enabled = found.as_ref().is_some_and(|(account, _)| !account.disabled);
        // Verified even when nobody matched, so timing does not tell.
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let verified = password::verify_password(password, hash);
        let Some((account, _)) = found.as_ref().filter(|_| verified && enabled).cloned() else {
            self.login_failed(&name, source, now);
            let user_id = found.map(|(account, _)| account.user_id);
            self.record_login_refused(
                "session.login_failed",
                &name,
                org_name,
                user_id.as_deref(),
                source,
            );
            return Err(DomainError::InvalidCredentials);
        };
        self.finish_login(account, &name, org_name, second_factor, source, None)
    }

    /// The console's second step: the code for a login whose password was
    /// right (`SecondFactorRequired`'s handle), from the same address,
    /// within five minutes, on this node or another; the pending login is
    /// used up by the write that opens the session.
    pub fn continue_login(
        &mut self,
        handle: &str,
        code: &str,
        source: IpAddr,
    ) -> Result<LoginSession, DomainError> {
        let now = self.now();
        let pending = self
            .pending_login(handle, source)?
            .ok_or_else(login_expired)?;
        self.check_login_lock(&pending.name, &pending.org_name, source, now)?;
        let account = self
            .db()
            .account(&pending.user_id)?
            .filter(|a| !a.disabled)
            .ok_or_else(login_expired)?;
        self.finish_login(
            account,
            &pending.name,
            &pending.org_name,
            Some(code),
            source,
            Some(pending.handle_digest),
        )
    }

    /// Refuses a name locked for `source`, unless an admin lifted the lock.
    fn check_login_lock(
        &mut self,
        name: &str,
        org_name: &str,
        source: IpAddr,
        now: i64,
    ) -> Result<(), DomainError> {
        let throttle = &self.shared.throttle;
        if let Some(lock) = throttle.lock_on(name, source, now) {
            let lifted = self
                .db()
                .login_unlocked_at(&login_key(name))?
                .is_some_and(|at| at >= lock.since);
            if !lifted {
                self.record_login_refused("session.locked", name, org_name, None, source);
                return Err(DomainError::LoginLocked(lock.retry_after));
            }
            throttle.unlock(name);
        }
        Ok(())
    }

    /// After a right password: the second factor, then the session. With
    /// `pending`, the digest of the pending login this completes: used up
    /// in the session's write, so only one second step can win it.
    fn finish_login(
        &mut self,
        account: Account,
        name: &str,
        org_name: &str,
        second_factor: Option<&str>,
        source: IpAddr,
        pending: Option<[u8; 32]>,
    ) -> Result<LoginSession, DomainError> {
        let now = self.now();
        let factor = self.enrolled_second_factor(&account.user_id)?;
        let enrol_only = factor.is_none() && self.second_factor_required(&account)?;
        if let (Some(_), None) = (&factor, second_factor) {
            // Only a right password gets here, and it does not count as a
            // success: the throttle's run of failures goes on.
            let handle = random_string(&*self.shared.ambient.random, HANDLE_ALPHABET, 43)?;
            self.open_pending_login(&handle, &account.user_id, name, org_name, source)?;
            self.record_login_refused(
                "session.second_factor_required",
                name,
                org_name,
                Some(&account.user_id),
                source,
            );
            return Err(DomainError::SecondFactorRequired(handle));
        }
        let expires_at = now + self.settings().access_token_lifetime.as_secs() as i64;
        let session = SessionRecord {
            id: self.new_id()?,
            user_id: account.user_id.clone(),
            created_at: now,
            expires_at,
            ended_at: None,
            enrol_only,
        };
        let session_id = session.id.clone();
        // A session that may only enrol carries no roles: a resource
        // server that reads the token alone grants it nothing.
        let grant = if enrol_only {
            Grant {
                roles: Vec::new(),
                permissions: Vec::new(),
            }
        } else {
            TokenScope::AllRoles.grant(&account)
        };
        let claims = self.claims_for(
            &account,
            grant,
            now,
            expires_at,
            AccessOrigin::Session(session_id.clone()),
        )?;
        let access_token = self.keys()?.sign_access_token(&claims, now)?;
        let mut event = self
            .event("session.login", "success")?
            .by_account(&account)
            .on("session", &session_id, name)
            .from(source)
            .with("currentContext.sessionId", json!(session_id));
        if enrol_only {
            event = event.with("enrol_only", json!(true));
        }
        match (factor, second_factor) {
            (Some(factor), Some(code)) => {
                let opened = self.accept_second_factor(&factor, code, event, move |tx| {
                    if let Some(digest) = &pending {
                        if !tx.use_pending_login(digest, now)? {
                            return Err(StoreError::Conflict);
                        }
                    }
                    tx.insert_session(&session)
                })?;
                if opened.is_none() {
                    return Err(self.second_factor_failed(
                        name,
                        org_name,
                        &account.user_id,
                        source,
                    ));
                }
            }
            _ => {
                // A pending login whose factor was reset meanwhile still
                // opens one session only.
                let opened = self.store.write(move |tx| {
                    if let Some(digest) = &pending {
                        if !tx.use_pending_login(digest, now)? {
                            return Ok(false);
                        }
                    }
                    tx.insert_session(&session)?;
                    tx.insert_event(&event)?;
                    Ok(true)
                })?;
                if !opened {
                    return Err(login_expired());
                }
            }
        }
        self.shared.throttle.record_success(name, source);
        self.tell_others(ClusterNotice::LoginSucceeded {
            name: name.to_string(),
            source,
        });
        Ok(LoginSession {
            session_id,
            access_token,
            account,
            expires_at,
            enrol_only,
        })
    }

    /// Records a refused login under the name tried (never the password).
    /// Queued, not waited for: guessing must not hold up the writer.
    pub(in crate::domain) fn record_login_refused(
        &mut self,
        kind: &str,
        name: &str,
        org_name: &str,
        user_id: Option<&str>,
        source: IpAddr,
    ) {
        let Ok(event) = self.event(kind, "failure") else {
            return;
        };
        let mut event = event.from(source);
        event.actor_name = Some(name.to_string());
        event.actor_id = user_id.map(str::to_string);
        // In the org named, when there is one, so that its admins see who
        // knocks at their door.
        if let Ok(Some(org)) = self.db().org_by_name(org_name) {
            event.org_id = Some(org.id);
        }
        self.record_refusal(event);
    }

    /// Ends the caller's session; its access token stops working at once.
    pub fn logout(&mut self, caller: &Caller) -> Result<(), DomainError> {
        match &caller.origin {
            AccessOrigin::Session(id) => {
                let (id, now) = (id.clone(), self.now());
                let event = self
                    .event("session.logout", "success")?
                    .by(caller)
                    .on("session", &id, &caller.account.user_name);
                self.store.write(move |tx| {
                    if tx.end_session(&id, now)? {
                        tx.insert_event(&event)?;
                    }
                    Ok(())
                })?;
                Ok(())
            }
            AccessOrigin::ApiToken(_) => Err(self.deny(
                caller,
                "access derived from an API token has no session to end; revoke the API token instead"
                    .into(),
            )),
        }
    }

    /// Ends the session `id` for the operator (a restore replaying a
    /// logout the backup lacks), with a `session.end` event; false when it
    /// is unknown or ended already.
    pub fn end_session_by_operator(&mut self, id: &str) -> Result<bool, DomainError> {
        let Some(session) = self.db().session(id)?.filter(|s| s.ended_at.is_none()) else {
            return Ok(false);
        };
        let mut event = self.operator_event("session.end")?;
        event = match self.db().user(&session.user_id)? {
            Some(user) => event
                .on(
                    "session",
                    &session.id,
                    &format!("{}@{}", user.name, user.org_name),
                )
                .in_org(&user.org_id),
            None => event.on("session", &session.id, &session.user_id),
        };
        let (id, now) = (session.id, self.now());
        Ok(self.write_if_changed(event, move |tx| tx.end_session(&id, now))?)
    }

    /// Ends every live session of the users `users`, for the operator, a
    /// `session.end` event for each user that had one; how many sessions.
    pub fn end_sessions_of_users(&mut self, users: &[UserSummary]) -> Result<u64, DomainError> {
        let mut ends = Vec::with_capacity(users.len());
        for user in users {
            let event = self
                .operator_event("session.end")?
                .on(
                    "user",
                    &user.id,
                    &format!("{}@{}", user.name, user.org_name),
                )
                .in_org(&user.org_id);
            ends.push((user.id.clone(), event));
        }
        let now = self.now();
        Ok(self.store.write(move |tx| {
            let mut ended = 0;
            for (user_id, event) in &ends {
                let n = tx.end_user_sessions(user_id, None, now)?;
                if n > 0 {
                    tx.insert_event(&event.clone().with("sessions", json!(n)))?;
                    ended += n;
                }
            }
            Ok(ended)
        })?)
    }

    /// Ends every live session, for the operator: a restore that cannot
    /// tell which ended after its backup was taken; how many.
    pub fn end_every_session(&mut self) -> Result<u64, DomainError> {
        let mut ended = 0;
        for page in 0_u64.. {
            let users = self.db().users(&UserFilter {
                offset: page * u64::from(SESSION_BATCH),
                limit: SESSION_BATCH,
                ..UserFilter::default()
            })?;
            ended += self.end_sessions_of_users(&users.users)?;
            if users.users.len() < SESSION_BATCH as usize {
                break;
            }
        }
        Ok(ended)
    }

    /// Checks an access token for tokend's own API and loads the caller
    /// with current rights. tokend is a resource server whose identifier
    /// is the issuer (RFC 9068 §4): a token meant for other services only
    /// is refused.
    pub fn authenticate(&self, access_token: &str, client: IpAddr) -> Result<Caller, DomainError> {
        self.authenticate_own(&Presented::bearer(access_token), client, false)
    }

    /// The same for a token as a request presents it: a DPoP-bound token
    /// only with the DPoP scheme and a proof by its key (RFC 9449 §7).
    pub fn authenticate_presented(
        &self,
        presented: &Presented<'_>,
        client: IpAddr,
    ) -> Result<Caller, DomainError> {
        self.authenticate_own(presented, client, false)
    }

    /// `authenticate_presented`, admitting a session that may only enrol
    /// a second factor.
    pub fn authenticate_presented_for_enrolment(
        &self,
        presented: &Presented<'_>,
        client: IpAddr,
    ) -> Result<Caller, DomainError> {
        self.authenticate_own(presented, client, true)
    }

    /// The same, admitting a session that may only enrol a second factor:
    /// for enrolling and logging out, and nothing else.
    pub fn authenticate_for_enrolment(
        &self,
        access_token: &str,
        client: IpAddr,
    ) -> Result<Caller, DomainError> {
        self.authenticate_own(&Presented::bearer(access_token), client, true)
    }

    fn authenticate_own(
        &self,
        presented: &Presented<'_>,
        client: IpAddr,
        admit_enrol_only: bool,
    ) -> Result<Caller, DomainError> {
        let (caller, claims) = self.in_snapshot(|| {
            let claims = self.verified_access_token(presented.token)?;
            let caller = self.check_access_token(&claims, client, admit_enrol_only)?;
            Ok((caller, claims))
        })?;
        if !claims.is_for(&self.settings().issuer) {
            return Err(gone("the access token is meant for another audience"));
        }
        self.check_dpop_binding(&claims, presented)?;
        Ok(caller)
    }

    /// Checks an access token whatever its audience (introspection), and
    /// loads the caller with current rights.
    pub(in crate::domain) fn authenticate_for_any_audience(
        &self,
        access_token: &str,
        client: IpAddr,
    ) -> Result<(Caller, AccessClaims), DomainError> {
        self.in_snapshot(|| {
            let claims = self.verified_access_token(access_token)?;
            let caller = self.check_access_token(&claims, client, false)?;
            Ok((caller, claims))
        })
    }

    /// The claims of an access token whose signature, type, issuer and
    /// expiry check, whatever its audience.
    pub(in crate::domain) fn verified_access_token(
        &self,
        access_token: &str,
    ) -> Result<AccessClaims, DomainError> {
        let now = self.now();
        let verified = &self.shared.verified_tokens;
        if let Some(claims) = verified.get(access_token, now) {
            return Ok(claims);
        }
        let claims =
            self.keys()?
                .verify_access_token(access_token, &self.settings().issuer, now)?;
        verified.insert(access_token, &claims, now);
        Ok(claims)
    }

    /// Whether what `claims` came from is alive, and the caller it makes.
    fn check_access_token(
        &self,
        claims: &AccessClaims,
        client: IpAddr,
        admit_enrol_only: bool,
    ) -> Result<Caller, DomainError> {
        let now = self.now();
        if self.db().access_token_revoked(&claims.jti)? {
            return Err(gone("the access token was revoked"));
        }
        let mut enrol_only = false;
        let (origin, scope) = match (&claims.rt, &claims.sid) {
            (Some(token_id), None) => {
                let token = self.db().active_api_token(token_id)?;
                let Some((_, scope)) = token.filter(|(owner, _)| *owner == claims.sub) else {
                    return Err(gone("the API token behind this access token was revoked"));
                };
                (AccessOrigin::ApiToken(token_id.clone()), scope)
            }
            (None, Some(session_id)) => {
                let session = self.db().session(session_id)?.filter(|s| {
                    s.ended_at.is_none() && s.expires_at > now && s.user_id == claims.sub
                });
                let Some(session) = session else {
                    return Err(gone("the session of this access token has ended"));
                };
                if session.enrol_only && !admit_enrol_only {
                    return Err(DomainError::SecondFactorEnrolmentRequired);
                }
                enrol_only = session.enrol_only;
                (
                    AccessOrigin::Session(session_id.clone()),
                    TokenScope::AllRoles,
                )
            }
            _ => {
                return Err(gone(
                    "access token names neither a session nor an API token",
                ))
            }
        };
        let account = self
            .account_now(&claims.sub)?
            .filter(|a| a.org.id == claims.org_id)
            .ok_or_else(|| gone("the user of this access token no longer exists"))?;
        if account.disabled {
            return Err(gone("the user of this access token is disabled"));
        }
        // What the token's scope comes to now; a session holds everything.
        let grant = match origin {
            AccessOrigin::ApiToken(_) => scope.grant(&account).token_derived(),
            // Until the second factor is enrolled, the session holds nothing.
            AccessOrigin::Session(_) if enrol_only => Grant {
                roles: Vec::new(),
                permissions: Vec::new(),
            },
            AccessOrigin::Session(_) => scope.grant(&account).for_session(),
        };
        let rights = RightSet::from_permissions(&grant.permissions);
        Ok(Caller {
            account,
            rights,
            permissions: grant.permissions,
            roles: grant.roles,
            origin,
            expires_at: claims.exp,
            client,
        })
    }

    pub(in crate::domain) fn claims_for(
        &self,
        account: &Account,
        grant: Grant,
        now: i64,
        expires_at: i64,
        origin: AccessOrigin,
    ) -> Result<AccessClaims, DomainError> {
        let (rt, sid) = match origin {
            AccessOrigin::ApiToken(id) => (Some(id), None),
            AccessOrigin::Session(id) => (None, Some(id)),
        };
        Ok(AccessClaims {
            iss: self.settings().issuer.clone(),
            sub: account.user_id.clone(),
            aud: vec![self.settings().issuer.clone()],
            iat: now,
            exp: expires_at,
            jti: self.new_id()?,
            client_id: None,
            org_id: account.org.id.clone(),
            org_name: account.org.name.clone(),
            username: account.user_name.clone(),
            roles: grant.roles,
            perms: grant.permissions,
            rt,
            sid,
            cnf: None,
        })
    }
}

fn gone(why: &str) -> DomainError {
    DomainError::Unauthenticated(why.to_string())
}

impl Authority {
    /// Lifts the login lock of `user_name@org_name` from every address, in
    /// this process and in a running server (which reads the unlock when
    /// the lock is next hit).
    pub fn unlock_login(&mut self, org_name: &str, user_name: &str) -> Result<(), DomainError> {
        let user = self.user_summary(org_name, user_name)?;
        let name = format!("{user_name}@{org_name}");
        self.shared.throttle.unlock(&name);
        let (key, now) = (login_key(&name), self.now());
        let event = self.on_user(self.operator_event("user.unlock")?, &user);
        self.write_recorded(event, move |tx| tx.record_login_unlock(&key, now))?;
        Ok(())
    }
}
