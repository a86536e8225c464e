//! Service accounts: API-only identities of an org, for automation that
//! must not hang off a person (backups, CI runners, monitoring). An admin
//! registers one (the JWT-bearer registration with `software_id`, as Cloud
//! Director has it) and chooses its role; the client then asks for access
//! with the RFC 8628 device flow, an admin grants it by the user code, and
//! the client takes its first API token with the device code. That token
//! rotates at every refresh (`tokens::rotate_and_issue`); presenting a
//! replaced one revokes the account's access.
//!
//! Administration (listing, role, revoking access, deleting) takes the same
//! rights as managing users: a service account is an identity of the org.

use std::net::IpAddr;

use serde_json::json;

use crate::domain::ambient::random_string;
use crate::domain::audit::Actor;
use crate::domain::directory::users::check_user_name;
use crate::domain::oauth::clients::id_token_alg;
use crate::domain::records::Event;
use crate::domain::records::PageRequest;
use crate::domain::records::TokenScope;
use crate::domain::records::{
    DeviceAuthorization, DeviceDecision, DirectoryFilter, NewServiceAccount, NewUser,
    ServiceAccount, ServiceAccountPage, ServiceAccountStatus,
};
use crate::domain::storage::{Durability, StoreError};
use crate::domain::tokens::identity::ExchangeRequest;
use crate::domain::tokens::{
    CreatedApiToken, ExchangeAudience, IssuedAccess, NewApiToken, Rotation,
};
use crate::domain::{parse_id, Authority, Caller, Committing, DeviceFlowError, DomainError, Right};

/// Letters of a user code: consonants only (no words, no 0/O or 1/I to
/// confuse), as RFC 8628 §6.1 suggests: 20^8, about 34 bits.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LENGTH: usize = 8;
/// Characters of a device code: base62, about 256 bits.
const DEVICE_CODE_ALPHABET: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DEVICE_CODE_LENGTH: usize = 43;
/// How long a device authorization waits for an admin.
const DEVICE_CODE_LIFETIME: i64 = 600;
/// Seconds a client waits between polls, and what `slow_down` adds.
const POLL_INTERVAL: i64 = 5;
const SLOW_DOWN_STEP: i64 = 5;
const MAX_SOFTWARE_FIELD: usize = 256;

/// A service account to register.
#[derive(Debug, Clone, Copy)]
pub struct NewServiceAccountRequest<'a> {
    pub name: &'a str,
    pub software_id: &'a str,
    pub software_version: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    /// The role it holds; none until an admin chooses one.
    pub role: Option<&'a str>,
    /// What its ID tokens are signed with (`id_token_signed_response_alg`).
    pub id_token_alg: Option<&'a str>,
}

/// What a client receives from the device authorization endpoint.
#[derive(Debug)]
pub struct DeviceCodes {
    pub device_code: String,
    pub user_code: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// A pending request an admin looked up by its user code.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    pub account: ServiceAccount,
    pub user_code: String,
    pub expires_at: i64,
}

impl Authority {
    /// Registers a service account in the org of the endpoint (`audience`),
    /// status `CREATED`. Needs a password session and "User: Manage" in
    /// that org.
    pub fn register_service_account(
        &mut self,
        caller: &Caller,
        audience: ExchangeAudience<'_>,
        new: NewServiceAccountRequest<'_>,
    ) -> Result<ServiceAccount, DomainError> {
        self.require_session(caller, "manage service accounts")?;
        self.require(caller, Right::UserManage)?;
        let org = match audience {
            ExchangeAudience::Tenant(name) => {
                let org = self.org(name).map_err(|_| self.out_of_reach(caller))?;
                if org.is_provider
                    || (!self.sees_every_org(caller) && org.id != caller.account.org.id)
                {
                    return Err(self.out_of_reach(caller));
                }
                org
            }
            _ if caller.account.org.is_provider => caller.account.org.clone(),
            _ => return Err(self.out_of_reach(caller)),
        };
        // Its name is a user name of the org: the same rules hold.
        let name = new.name.trim();
        check_user_name(name)?;
        let software_id = software_field("software_id", Some(new.software_id))?
            .ok_or_else(|| DomainError::Invalid("software_id is required".into()))?;
        let software_version = software_field("software_version", new.software_version)?;
        let client_uri = software_field("client_uri", new.client_uri)?;
        let role_ids = match new.role {
            Some(role) => {
                let role = self.grantable_role(&org, role)?;
                self.require_role_within_ceiling(Actor::Caller(caller), &role)?;
                vec![role.id]
            }
            None => Vec::new(),
        };
        let id = self.new_id()?;
        let account = NewServiceAccount {
            user: NewUser {
                id: id.clone(),
                org_id: org.id.clone(),
                name: name.to_string(),
                email: None,
                display_name: None,
                // No password: a service account never logs in.
                password_hash: String::new(),
                created_at: self.now(),
                role_ids,
            },
            software_id,
            software_version,
            client_uri,
        };
        let event = self
            .event("service_account.create", "success")?
            .by(caller)
            .on("service_account", &id, &format!("{name}@{}", org.name))
            .in_org(&org.id)
            .with("software_id", json!(account.software_id))
            .with("role", json!(new.role));
        let id_token_alg = new.id_token_alg.map(id_token_alg).transpose()?;
        self.write_recorded(event, move |tx| {
            tx.insert_service_account(&account)?;
            match id_token_alg {
                Some(algorithm) => tx.set_client_id_token_alg(&account.user.id, algorithm),
                None => Ok(()),
            }
        })
        .map_err(|e| match e {
            StoreError::Duplicate => DomainError::Conflict(format!(
                "a user or service account named {name:?} exists in org {:?}",
                org.name
            )),
            other => other.into(),
        })?;
        self.service_account_by_id(&id)
    }

    fn out_of_reach(&self, caller: &Caller) -> DomainError {
        self.deny(
            caller,
            "service accounts are registered at the endpoint of an org in one's reach".into(),
        )
    }

    /// The service accounts the caller may see ("User: View").
    pub fn service_accounts_in_reach(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<ServiceAccountPage, DomainError> {
        let filter = DirectoryFilter {
            org_id: self.listing_reach(by, Right::UserView)?,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().service_accounts(&filter)?)
    }

    /// One service account in the caller's reach ("User: View"); others
    /// are unknown.
    pub fn service_account_in_reach(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ServiceAccount, DomainError> {
        self.require(caller, Right::UserView)?;
        let account = self.service_account_by_id(id)?;
        if !self.sees_every_org(caller) && account.org_id != caller.account.org.id {
            return Err(unknown_account());
        }
        Ok(account)
    }

    pub fn service_account_by_id(&self, id: &str) -> Result<ServiceAccount, DomainError> {
        let id = parse_id(id).ok_or_else(unknown_account)?;
        self.db().service_account(&id)?.ok_or_else(unknown_account)
    }

    /// The caller, allowed to change `id` (a password session and "User:
    /// Manage" in its org), and the account.
    fn service_account_to_manage(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ServiceAccount, DomainError> {
        self.require_session(caller, "manage service accounts")?;
        let account = self.service_account_in_reach(caller, id)?;
        self.require(caller, Right::UserManage)?;
        self.require_user_within_ceiling(Actor::Caller(caller), &account.id)?;
        Ok(account)
    }

    /// Replaces the role a service account holds (none: no role).
    pub fn set_service_account_role(
        &mut self,
        by: Actor<'_>,
        id: &str,
        role: Option<&str>,
    ) -> Result<ServiceAccount, DomainError> {
        let account = match by {
            Actor::Caller(caller) => self.service_account_to_manage(caller, id)?,
            Actor::Operator => self.service_account_by_id(id)?,
        };
        let org = self.org(&account.org_name)?;
        let role_ids = match role {
            Some(role) => {
                let role = self.grantable_role(&org, role)?;
                self.require_role_within_ceiling(by, &role)?;
                vec![role.id]
            }
            None => Vec::new(),
        };
        let event = on_account(self.event_by(by, "service_account.role_change")?, &account)
            .with("role", json!(role))
            .with("previous", json!(account.roles));
        let user_id = account.id.clone();
        self.write_recorded(event, move |tx| tx.set_user_roles(&user_id, &role_ids))?;
        self.service_account_by_id(&account.id)
    }

    /// Revokes a service account's access: every API token it holds; it is
    /// `CREATED` again and must be granted anew.
    pub fn revoke_service_account(
        &mut self,
        by: Actor<'_>,
        id: &str,
    ) -> Result<ServiceAccount, DomainError> {
        let account = match by {
            Actor::Caller(caller) => self.service_account_to_manage(caller, id)?,
            Actor::Operator => self.service_account_by_id(id)?,
        };
        let now = self.now();
        let event = on_account(self.event_by(by, "service_account.revoke")?, &account);
        let user_id = account.id.clone();
        self.write_recorded(event, move |tx| {
            tx.revoke_user_api_tokens(&user_id, now)?;
            // A code granted before the revocation must not bring it back.
            tx.cancel_device_authorizations(&user_id, now)?;
            tx.set_service_account_status(&user_id, ServiceAccountStatus::Created)
        })?;
        self.service_account_by_id(&account.id)
    }

    /// Deletes a service account: its tokens are revoked and it is gone
    /// from listings; its id stays in the audit trail.
    pub fn delete_service_account(&mut self, by: Actor<'_>, id: &str) -> Result<(), DomainError> {
        let account = match by {
            Actor::Caller(caller) => self.service_account_to_manage(caller, id)?,
            Actor::Operator => self.service_account_by_id(id)?,
        };
        let now = self.now();
        let event = on_account(self.event_by(by, "service_account.delete")?, &account);
        let user_id = account.id.clone();
        self.write_recorded(event, move |tx| {
            tx.revoke_user_api_tokens(&user_id, now)?;
            tx.delete_service_account(&user_id, now).map(drop)
        })?;
        Ok(())
    }

    /// RFC 8628 §3.1–3.2: a service account's client asks for access at
    /// its org's endpoint. Unknown clients are `NotFound` (`invalid_client`
    /// to the client).
    pub fn authorize_device(
        &mut self,
        client_id: &str,
        audience: ExchangeAudience<'_>,
        source: IpAddr,
    ) -> Result<DeviceCodes, DomainError> {
        let unknown = || DomainError::NotFound("unknown client".into());
        let account = self
            .service_account_by_id(client_id)
            .map_err(|_| unknown())?;
        let user = self.account_now(&account.id)?.ok_or_else(unknown)?;
        if !audience.admits(&user) || user.disabled {
            return Err(unknown());
        }
        if account.status == ServiceAccountStatus::Active {
            return Err(DomainError::Invalid(
                "this service account has access already; an admin revokes it first".into(),
            ));
        }
        // Anyone who knows a client id may ask: at most one new request per
        // poll interval, so asking cannot flood the writer or the trail.
        let now = self.now();
        if let Some(pending) = self.db().pending_device_authorization(&account.id)? {
            if now - pending.created_at < POLL_INTERVAL {
                return Err(DomainError::DeviceFlow(DeviceFlowError::SlowDown));
            }
        }
        let random = &*self.shared.ambient.random;
        let device_code = random_string(random, DEVICE_CODE_ALPHABET, DEVICE_CODE_LENGTH)?;
        let user_code = format_user_code(&random_string(
            random,
            USER_CODE_ALPHABET,
            USER_CODE_LENGTH,
        )?);
        let authorization = DeviceAuthorization {
            id: self.new_id()?,
            service_account_id: account.id.clone(),
            device_code_digest: *blake3::hash(device_code.as_bytes()).as_bytes(),
            user_code: user_code.clone(),
            created_at: now,
            expires_at: now + DEVICE_CODE_LIFETIME,
            interval_s: POLL_INTERVAL,
            last_polled_at: None,
            decision: None,
            used_at: None,
        };
        let event = on_account(
            self.event("service_account.device_request", "success")?
                .by_account(&user)
                .from(source),
            &account,
        )
        .with("expires_at", json!(authorization.expires_at));
        let id = account.id.clone();
        self.write_recorded(event, move |tx| {
            tx.insert_device_authorization(&authorization)?;
            tx.set_service_account_status(&id, ServiceAccountStatus::Requested)
        })?;
        Ok(DeviceCodes {
            device_code,
            user_code,
            expires_in: DEVICE_CODE_LIFETIME,
            interval: POLL_INTERVAL,
        })
    }

    /// The pending request of `user_code`, for an admin to decide on.
    pub fn look_up_device(
        &self,
        caller: &Caller,
        user_code: &str,
    ) -> Result<DeviceRequest, DomainError> {
        let (authorization, account) = self.pending_request(Actor::Caller(caller), user_code)?;
        Ok(DeviceRequest {
            account,
            user_code: authorization.user_code,
            expires_at: authorization.expires_at,
        })
    }

    /// An admin grants or denies the request of `user_code`. A user code
    /// works once; an expired one not at all.
    pub fn decide_device(
        &mut self,
        by: Actor<'_>,
        user_code: &str,
        grant: bool,
    ) -> Result<DeviceRequest, DomainError> {
        let (authorization, account) = self.pending_request(by, user_code)?;
        let (decision, status, kind) = if grant {
            (
                DeviceDecision::Granted,
                ServiceAccountStatus::Granted,
                "service_account.device_grant",
            )
        } else {
            (
                DeviceDecision::Denied,
                ServiceAccountStatus::Created,
                "service_account.device_deny",
            )
        };
        let now = self.now();
        let event = on_account(self.event_by(by, kind)?, &account)
            .with("user_code", json!(authorization.user_code));
        let (id, account_id) = (authorization.id.clone(), account.id.clone());
        self.write_recorded(event, move |tx| {
            if !tx.decide_device_authorization(&id, decision, now)? {
                return Err(StoreError::Conflict);
            }
            tx.set_service_account_status(&account_id, status)
        })
        .map_err(|e| match e {
            StoreError::Conflict => used_code(),
            other => other.into(),
        })?;
        Ok(DeviceRequest {
            account: self.service_account_by_id(&account.id)?,
            user_code: authorization.user_code,
            expires_at: authorization.expires_at,
        })
    }

    /// The request of `user_code` and its account, if the caller (an admin
    /// of the account's org) may act on it, and if it is still undecided
    /// and unexpired. Reach is checked first: another org's code is unknown,
    /// whatever its state.
    fn pending_request(
        &self,
        by: Actor<'_>,
        user_code: &str,
    ) -> Result<(DeviceAuthorization, ServiceAccount), DomainError> {
        // The right first: a caller without it is refused alike whether
        // the code exists or not.
        if let Actor::Caller(caller) = by {
            self.require_session(caller, "manage service accounts")?;
            self.require(caller, Right::UserManage)?;
        }
        let code = normalize_user_code(user_code).ok_or_else(unknown_code)?;
        let authorization = self
            .db()
            .device_authorization_by_user_code(&code)?
            .ok_or_else(unknown_code)?;
        let account = self
            .db()
            .service_account(&authorization.service_account_id)?
            .ok_or_else(unknown_code)?;
        if let Actor::Caller(caller) = by {
            if !self.sees_every_org(caller) && account.org_id != caller.account.org.id {
                return Err(unknown_code());
            }
        }
        // An account above the caller is answered like an unknown code.
        match self.require_user_within_ceiling(by, &account.id) {
            Err(DomainError::Forbidden(_)) => return Err(unknown_code()),
            other => other?,
        }
        if authorization.decision.is_some() || authorization.used_at.is_some() {
            return Err(used_code());
        }
        if authorization.expires_at <= self.now() {
            return Err(DomainError::Invalid("this user code has expired".into()));
        }
        Ok((authorization, account))
    }

    /// RFC 8628 §3.4–3.5: the client polls with its device code. Until an
    /// admin decides: `authorization_pending` (or `slow_down` when it polls
    /// faster than the interval); then `access_denied`, or its first API
    /// token (the refresh token) and an access token, once.
    pub fn exchange_device_code(
        &mut self,
        client_id: &str,
        device_code: &str,
        audience: ExchangeAudience<'_>,
        resources: &[&str],
        source: IpAddr,
    ) -> Result<(CreatedApiToken, Committing<IssuedAccess>), DomainError> {
        let invalid = DomainError::InvalidGrant;
        let digest = *blake3::hash(device_code.as_bytes()).as_bytes();
        let authorization = self
            .db()
            .device_authorization_by_device_code(&digest)?
            .ok_or(invalid("unknown device code"))?;
        if parse_id(client_id).as_deref() != Some(authorization.service_account_id.as_str()) {
            return Err(invalid("the device code was issued to another client"));
        }
        if authorization.used_at.is_some() {
            return Err(invalid("the device code was used already"));
        }
        let now = self.now();
        if authorization.expires_at <= now {
            return Err(DomainError::DeviceFlow(DeviceFlowError::ExpiredToken));
        }
        let account = self
            .db()
            .service_account(&authorization.service_account_id)?
            .ok_or(invalid("the service account was deleted"))?;
        let user = self
            .account_now(&account.id)?
            .filter(|user| !user.disabled && audience.admits(user))
            .ok_or(invalid("the device code is not valid at this endpoint"))?;
        match authorization.decision {
            Some(DeviceDecision::Denied) => {
                return Err(DomainError::DeviceFlow(DeviceFlowError::AccessDenied))
            }
            None => {
                let too_soon = authorization
                    .last_polled_at
                    .is_some_and(|at| now - at < authorization.interval_s);
                let interval = authorization.interval_s + if too_soon { SLOW_DOWN_STEP } else { 0 };
                let id = authorization.id.clone();
                self.store.run_write(
                    Box::new(move |tx| tx.record_device_poll(&id, now, interval)),
                    Durability::Durable,
                )?;
                return Err(DomainError::DeviceFlow(if too_soon {
                    DeviceFlowError::SlowDown
                } else {
                    DeviceFlowError::AuthorizationPending
                }));
            }
            Some(DeviceDecision::Granted) => {}
        }
        let event = on_account(
            self.event("token.create", "success")?
                .by_account(&user)
                .from(source)
                .with("via", json!("device_code")),
            &account,
        );
        let (created, mut insert) = self.new_api_token(
            &account.id,
            NewApiToken {
                name: &account.name,
                ttl: None,
                scope: TokenScope::AllRoles,
                openid: false,
                request_id: None,
                bound_cidrs: &[],
            },
            event,
        )?;
        let activated = on_account(
            self.event("service_account.activate", "success")?
                .by_account(&user)
                .from(source),
            &account,
        )
        .with("currentContext.refreshTokenId", json!(created.id));
        let (id, account_id) = (authorization.id.clone(), account.id.clone());
        self.write_recorded(activated, move |tx| {
            if !tx.use_device_authorization(&id, now)? {
                return Err(StoreError::Conflict);
            }
            insert(tx)?;
            tx.set_service_account_status(&account_id, ServiceAccountStatus::Active)
        })
        .map_err(|e| match e {
            StoreError::Conflict => invalid("the device code was used already"),
            other => other.into(),
        })?;
        let issued = self.exchange(
            created.secret.reveal(),
            audience,
            &ExchangeRequest {
                client_id: Some(&authorization.service_account_id),
                resources: resources.to_vec(),
                dpop: None,
            },
            source,
            Rotation::Never,
        )?;
        Ok((created, issued))
    }
}

fn on_account(event: Event, account: &ServiceAccount) -> Event {
    event
        .on(
            "service_account",
            &account.id,
            &format!("{}@{}", account.name, account.org_name),
        )
        .in_org(&account.org_id)
}

fn unknown_account() -> DomainError {
    DomainError::NotFound("no such service account".into())
}

fn unknown_code() -> DomainError {
    DomainError::NotFound("no pending request has this user code".into())
}

fn used_code() -> DomainError {
    DomainError::Invalid("this user code was used already".into())
}

/// An optional registration field: 1-256 visible characters.
fn software_field(what: &str, value: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(None);
    };
    let valid = !value.is_empty()
        && value.len() <= MAX_SOFTWARE_FIELD
        && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(value.to_string()))
    } else {
        Err(DomainError::Invalid(format!(
            "{what} is 1-{MAX_SOFTWARE_FIELD} visible ASCII characters"
        )))
    }
}

/// `BCDF-GHJK`: the halves apart, as people read and type it.
fn format_user_code(code: &str) -> String {
    let (first, second) = code.split_at(USER_CODE_LENGTH / 2);
    format!("{first}-{second}")
}

/// A user code as typed (any case, with or without its dash or spaces) in
/// its stored form; None when it cannot be one.
fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = letters.len() == USER_CODE_LENGTH
        && letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then(|| format_user_code(&letters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_read_as_people_type_them() {
        assert_eq!(
            normalize_user_code("bcdf-ghjk").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(
            normalize_user_code(" BCDF GHJK ").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(
            normalize_user_code("BCDFGHJK").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None, "too short");
        assert_eq!(normalize_user_code("ACDF-GHJK"), None, "a vowel");
        assert_eq!(normalize_user_code("BCDF-GHJ0"), None, "a digit");
    }
}
