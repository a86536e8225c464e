//! Administration done by whoever holds the database file (the admin CLI):
//! orgs, users, tokens, login locks and signing keys (services, roles,
//! groups and bundles are in `catalog.rs`), with the same
//! validation as the HTTP API but without a caller's rights, since file
//! access is the provider's own. The API's handlers reach the same changes
//! after checking the caller's rights; each change takes the `Actor` its
//! audit event names.

use std::collections::VecDeque;

use serde_json::json;

use super::access_token::KeyRing;
use super::audit::Actor;
use super::audit::Event;
use super::names::check_name;
use super::records::{ApiTokenFilter, ApiTokenListing, NewUser, Org, UserSummary};
use super::reminders::ReminderRequest;
use super::scopes::TokenScope;
use super::storage::{Durability, PendingCommit};
use super::throttle::login_key;
use super::tokens::{CreatedApiToken, NewApiToken};
use super::{parse_id, password, rights, Authority, DomainError};

const MAX_ORG_NAME: usize = 64;
const MAX_USER_NAME: usize = 128;

/// A user to add.
pub struct NewAccount<'a> {
    pub org_name: &'a str,
    pub user_name: &'a str,
    pub password: &'a str,
    /// Empty: the default role.
    pub role_names: &'a [String],
    pub email: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// Which tokens `tokend token list` shows.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub org_name: Option<String>,
    pub user_name: Option<String>,
    pub include_revoked: bool,
}

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
    pub fn add_org(&mut self, by: Actor<'_>, name: &str) -> Result<Org, DomainError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_ORG_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(DomainError::Invalid(format!(
                "org name {name:?} must be 1-{MAX_ORG_NAME} characters of A-Z, a-z, 0-9, '.', '_', '-'"
            )));
        }
        let org = Org {
            id: self.new_id()?,
            name: name.to_string(),
            is_provider: false,
            created_at: self.now(),
        };
        let record = org.clone();
        let event = self
            .event_by(by, "org.create")?
            .on("org", &org.id, &org.name)
            .in_org(&org.id);
        self.write_recorded(event, move |tx| tx.insert_org(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("org {name:?} already exists"))
                }
                other => other,
            })?;
        Ok(org)
    }

    /// Adds `user_name` to `org_name` with the given roles (or the default).
    pub fn add_user(&mut self, by: Actor<'_>, new: NewAccount<'_>) -> Result<String, DomainError> {
        let NewAccount {
            org_name,
            user_name,
            password,
            role_names,
            email,
            display_name,
        } = new;
        check_user_name(user_name)?;
        password::check_password_rules(password)?;
        if let Some(email) = email {
            check_email(email)?;
        }
        if let Some(name) = display_name {
            check_name("display name", name, MAX_USER_NAME)?;
        }
        let org = self.org(org_name)?;
        let org_label = org.name.clone();
        let default_role = [rights::DEFAULT_USER_ROLE.to_string()];
        let role_names = if role_names.is_empty() {
            &default_role[..]
        } else {
            role_names
        };
        let mut role_ids = Vec::with_capacity(role_names.len());
        for role_name in role_names {
            let role = self.grantable_role(&org, role_name)?;
            self.require_role_within_ceiling(by, &role)?;
            role_ids.push(role.id);
        }
        let user = NewUser {
            id: self.new_id()?,
            org_id: org.id,
            name: user_name.to_string(),
            email: email.map(String::from),
            display_name: display_name.map(String::from),
            password_hash: password::hash_password(&*self.shared.ambient.random, password)?,
            created_at: self.now(),
            role_ids,
        };
        let id = user.id.clone();
        let event = self
            .event_by(by, "user.create")?
            .on("user", &id, &format!("{user_name}@{org_label}"))
            .in_org(&user.org_id)
            .with("roles", json!(role_names));
        self.write_recorded(event, move |tx| tx.insert_user(&user))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => DomainError::Conflict(format!(
                    "user {user_name:?} already exists in org {org_name:?}"
                )),
                other => other,
            })?;
        Ok(id)
    }

    /// Turns a user off or on. A disabled user cannot log in, its sessions
    /// and derived access tokens stop working, and its API tokens are
    /// refused at the exchange, until it is enabled again.
    pub fn set_user_enabled(
        &mut self,
        by: Actor<'_>,
        org_name: &str,
        user_name: &str,
        enabled: bool,
    ) -> Result<(), DomainError> {
        let user = self.user_summary(org_name, user_name)?;
        self.write_user_enabled(by, &user, enabled)
    }

    pub(super) fn write_user_enabled(
        &mut self,
        by: Actor<'_>,
        user: &UserSummary,
        enabled: bool,
    ) -> Result<(), DomainError> {
        let disabled_at = (!enabled).then(|| self.now());
        let kind = if enabled {
            "user.enable"
        } else {
            "user.disable"
        };
        let event = self.on_user(self.event_by(by, kind)?, user);
        let user_id = user.id.clone();
        self.write_recorded(event, move |tx| {
            // A disable ends its sessions for good: enabling the user again
            // must not bring back a session from before.
            if let Some(at) = disabled_at {
                tx.end_user_sessions(&user_id, None, at)?;
            }
            tx.set_user_disabled(&user_id, disabled_at)
        })?;
        Ok(())
    }

    /// `event` about `user`, read by the admins of the user's org.
    pub(super) fn on_user(&self, event: Event, user: &UserSummary) -> Event {
        event
            .on(
                "user",
                &user.id,
                &format!("{}@{}", user.name, user.org_name),
            )
            .in_org(&user.org_id)
    }

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

    pub fn create_api_token_for(
        &mut self,
        org_name: &str,
        user_name: &str,
        mut new: NewApiToken<'_>,
        reminder: Option<ReminderRequest<'_>>,
    ) -> Result<CreatedApiToken, DomainError> {
        let user_id = self.user_id(org_name, user_name)?;
        let account = self
            .db()
            .account(&user_id)?
            .ok_or_else(|| DomainError::NotFound(format!("no user {user_name:?}")))?;
        new.scope = new.scope.checked(&account)?;
        let event = self.operator_event("token.create")?.in_org(&account.org.id);
        self.issue_api_token(Actor::Operator, &user_id, new, event, reminder)
    }

    /// Creates `count` tokens for `user_name@org_name`, named
    /// `{name}-{n}`, handing each to `created` once it is committed. The
    /// writes share commits, so a large set is made in seconds (the
    /// benchmark's seed).
    pub fn create_api_tokens_in_bulk(
        &mut self,
        org_name: &str,
        user_name: &str,
        name: &str,
        count: usize,
        mut created: impl FnMut(CreatedApiToken),
    ) -> Result<(), DomainError> {
        /// Tokens waiting for their commit at once.
        const IN_FLIGHT: usize = 4096;
        let user_id = self.user_id(org_name, user_name)?;
        let account = self
            .db()
            .account(&user_id)?
            .ok_or_else(|| DomainError::NotFound(format!("no user {user_name:?}")))?;
        let mut waiting: VecDeque<(CreatedApiToken, PendingCommit)> =
            VecDeque::with_capacity(IN_FLIGHT);
        for n in 0..count {
            while waiting.len() >= IN_FLIGHT {
                if let Some((token, commit)) = waiting.pop_front() {
                    commit.wait()?;
                    created(token);
                }
            }
            let event = self.operator_event("token.create")?.in_org(&account.org.id);
            let (token, write) = self.new_api_token(
                &user_id,
                NewApiToken {
                    name: &format!("{name}-{n}"),
                    ttl: None,
                    scope: TokenScope::AllRoles,
                    openid: false,
                },
                event,
            )?;
            waiting.push_back((token, self.store.submit_write(write, Durability::Durable)?));
        }
        for (token, commit) in waiting {
            commit.wait()?;
            created(token);
        }
        Ok(())
    }

    pub fn api_tokens(&self, query: &TokenQuery) -> Result<Vec<ApiTokenListing>, DomainError> {
        let org_id = match &query.org_name {
            Some(name) => Some(self.org(name)?.id),
            None => None,
        };
        let filter = ApiTokenFilter {
            owner_id: None,
            org_id,
            user_name: query.user_name.clone(),
            include_revoked: query.include_revoked,
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?.tokens)
    }

    pub fn revoke_api_token_by_id(&mut self, id: &str) -> Result<(), DomainError> {
        let not_found = || DomainError::NotFound(format!("no active API token with id {id:?}"));
        let id = parse_id(id).ok_or_else(not_found)?;
        let token = self
            .db()
            .api_token(&id)?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(not_found)?;
        let now = self.now();
        let event = self
            .operator_event("token.revoke")?
            .on("api_token", &token.id, &token.name)
            .in_org(&token.org_id)
            .with("owner", json!(token.owner_id));
        if !self.write_if_changed(event, move |tx| tx.revoke_api_token(&id, now))? {
            return Err(not_found());
        }
        Ok(())
    }

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

    pub(super) fn org(&self, name: &str) -> Result<Org, DomainError> {
        self.db()
            .org_by_name(name)?
            .ok_or_else(|| DomainError::NotFound(format!("org {name:?} does not exist")))
    }

    pub(super) fn user_summary(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> Result<UserSummary, DomainError> {
        let id = self.user_id(org_name, user_name)?;
        self.db().user(&id)?.ok_or_else(|| {
            DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
        })
    }

    pub(super) fn user_id(&self, org_name: &str, user_name: &str) -> Result<String, DomainError> {
        let (account, _) = self
            .db()
            .login_account(org_name, user_name)?
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
            })?;
        Ok(account.user_id)
    }
}

pub(super) fn check_email(email: &str) -> Result<(), DomainError> {
    check_name("e-mail address", email, 254)?;
    let plausible = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if plausible {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "{email:?} is not an e-mail address"
        )))
    }
}

pub(super) fn check_user_name(name: &str) -> Result<(), DomainError> {
    check_name("user name", name, MAX_USER_NAME)?;
    if name
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c == ':')
    {
        return Err(DomainError::Invalid(format!(
            "user name {name:?} must not contain spaces, '@' or ':'"
        )));
    }
    Ok(())
}
