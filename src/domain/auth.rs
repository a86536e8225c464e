//! Who is calling: password login into a session, logout, and the check of an
//! access token on every authenticated request (signature, then whether its
//! session or API token is still alive, then the user's current rights).

use super::access_token::AccessClaims;
use super::{new_id, now, password, AccessOrigin, Authority, Caller, DomainError, RightSet};
use crate::store::{Account, SessionRecord};

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
}

impl Authority {
    pub fn login(
        &mut self,
        endpoint: LoginEndpoint,
        org_name: &str,
        user_name: &str,
        password: &str,
    ) -> Result<LoginSession, DomainError> {
        let now = now();
        let name = format!("{user_name}@{org_name}");
        // Checked before the password, so that a locked name cannot be
        // guessed at and costs no hashing.
        if let Some(seconds) = self.throttle.locked_for(&name, now) {
            return Err(DomainError::LoginLocked(seconds));
        }
        let found = self
            .store
            .login_account(org_name, user_name)?
            .filter(|(account, _)| {
                account.org.is_provider == (endpoint == LoginEndpoint::Provider)
            });
        // Verified even when nobody matched, so timing does not tell.
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let verified = password::verify_password(password, hash);
        let Some((account, _)) = found.filter(|_| verified) else {
            self.throttle.record_failure(&name, now);
            return Err(DomainError::InvalidCredentials);
        };
        self.throttle.record_success(&name);
        let expires_at = now + self.settings.access_token_lifetime.as_secs() as i64;
        let session = SessionRecord {
            id: new_id(),
            user_id: account.user_id.clone(),
            created_at: now,
            expires_at,
            ended_at: None,
        };
        self.store.insert_session(&session)?;
        let claims = self.claims_for(
            &account,
            now,
            expires_at,
            AccessOrigin::Session(session.id.clone()),
        );
        Ok(LoginSession {
            session_id: session.id,
            access_token: self.keys.sign(&claims)?,
            account,
            expires_at,
        })
    }

    /// Ends the caller's session; its access token stops working at once.
    pub fn logout(&mut self, caller: &Caller) -> Result<(), DomainError> {
        match &caller.origin {
            AccessOrigin::Session(id) => {
                self.store.end_session(id, now())?;
                Ok(())
            }
            AccessOrigin::ApiToken(_) => Err(DomainError::Forbidden(
                "access derived from an API token has no session to end; revoke the API token instead"
                    .into(),
            )),
        }
    }

    /// Checks an access token and loads the caller with current rights.
    pub fn authenticate(&self, access_token: &str) -> Result<Caller, DomainError> {
        let now = now();
        let claims = self.keys.verify(access_token, &self.settings.issuer, now)?;
        let origin = match (&claims.rt, &claims.sid) {
            (Some(token_id), None) => {
                let owner = self.store.active_api_token_owner(token_id)?;
                if owner.as_deref() != Some(claims.sub.as_str()) {
                    return Err(gone("the API token behind this access token was revoked"));
                }
                AccessOrigin::ApiToken(token_id.clone())
            }
            (None, Some(session_id)) => {
                let live = self.store.session(session_id)?.is_some_and(|s| {
                    s.ended_at.is_none() && s.expires_at > now && s.user_id == claims.sub
                });
                if !live {
                    return Err(gone("the session of this access token has ended"));
                }
                AccessOrigin::Session(session_id.clone())
            }
            _ => {
                return Err(gone(
                    "access token names neither a session nor an API token",
                ))
            }
        };
        let account = self
            .store
            .account(&claims.sub)?
            .filter(|a| a.org.id == claims.org_id)
            .ok_or_else(|| gone("the user of this access token no longer exists"))?;
        let held = RightSet::from_names(&account.right_names);
        let rights = match origin {
            AccessOrigin::ApiToken(_) => held.view_only(),
            AccessOrigin::Session(_) => held,
        };
        Ok(Caller {
            account,
            rights,
            origin,
            expires_at: claims.exp,
        })
    }

    pub(super) fn claims_for(
        &self,
        account: &Account,
        now: i64,
        expires_at: i64,
        origin: AccessOrigin,
    ) -> AccessClaims {
        let (rt, sid) = match origin {
            AccessOrigin::ApiToken(id) => (Some(id), None),
            AccessOrigin::Session(id) => (None, Some(id)),
        };
        AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: account.user_id.clone(),
            iat: now,
            exp: expires_at,
            jti: new_id(),
            org_id: account.org.id.clone(),
            org_name: account.org.name.clone(),
            username: account.user_name.clone(),
            rt,
            sid,
        }
    }
}

fn gone(why: &str) -> DomainError {
    DomainError::Unauthenticated(why.to_string())
}
