//! Users managed over the API, within the caller's reach: an org admin's
//! own org, every org for the provider. Ids outside that reach are
//! reported as unknown, so an org cannot learn another org's users.

use serde_json::json;

use crate::domain::directory::names::{check_email, check_name};
use crate::domain::directory::password;
use crate::domain::directory::rights;
use crate::domain::records::{Event, NewUser, PageRequest, UserFilter, UserPage, UserSummary};
use crate::domain::{parse_id, Actor, Authority, Caller, DomainError, Right};

/// What `set_user_details` changes: `None` leaves a field as it is,
/// `Some(None)` removes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserDetails<'a> {
    pub email: Option<Option<&'a str>>,
    pub display_name: Option<Option<&'a str>>,
}

/// Who a password change is for.
pub enum PasswordTarget<'a> {
    /// The caller: needs its current password.
    Me { current: &'a str },
    /// Another user, by id: needs "User: Manage" over it.
    User(&'a str),
}

impl Authority {
    /// The users the caller may see, a page at a time, optionally only
    /// those whose name contains `name`.
    pub fn users(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        org_name: Option<&str>,
        page: PageRequest,
    ) -> Result<UserPage, DomainError> {
        let reach = self.listing_reach(by, Right::UserView)?;
        let org_id = match (reach, org_name) {
            (None, None) => None,
            (None, Some(name)) => Some(self.org_to_act_in(by, name)?.id),
            (Some(own), Some(name)) if self.org_to_act_in(by, name)?.id != own => {
                return Err(DomainError::NotFound(format!("no org {name:?}")))
            }
            (Some(own), _) => Some(own),
        };
        let filter = UserFilter {
            org_id,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().users(&filter)?)
    }

    /// One user in the caller's reach.
    pub fn user(&self, caller: &Caller, id: &str) -> Result<UserSummary, DomainError> {
        self.require(caller, Right::UserView)?;
        self.user_in_reach(caller, id)
    }

    /// A user by id: for a caller, one within its reach (its org; every
    /// org for the provider); another org's user is unknown.
    pub fn user_by_id(&self, by: Actor<'_>, id: &str) -> Result<UserSummary, DomainError> {
        match by {
            Actor::Caller(caller) => self.user_in_reach(caller, id),
            Actor::Operator => {
                let not_found = || DomainError::NotFound("no such user".into());
                let id = parse_id(id).ok_or_else(not_found)?;
                self.db().user(&id)?.ok_or_else(not_found)
            }
        }
    }

    /// A user by org and name, for the CLI.
    pub fn user_by_name(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> Result<UserSummary, DomainError> {
        self.user_summary(org_name, user_name)
    }

    /// Sets a password: the caller's own (proving the current one), or
    /// another user's with "User: Manage" within the ceiling, never with
    /// token-derived access; or any user's for the CLI's operator (the way
    /// back for a lost administrator password). Whoever knew the old
    /// password loses the sessions it opened; a caller changing its own
    /// keeps the session it changed it from.
    pub fn set_password(
        &mut self,
        by: Actor<'_>,
        target: PasswordTarget<'_>,
        new_password: &str,
    ) -> Result<(), DomainError> {
        if let Actor::Caller(caller) = by {
            self.require_session(caller, "change passwords")?;
        }
        password::check_password_rules(new_password)?;
        let (user, own) = match (by, target) {
            (Actor::Caller(caller), PasswordTarget::Me { current }) => {
                let account = &caller.account;
                let stored = self
                    .db()
                    .login_account(&account.org.name, &account.user_name)?
                    .map(|(_, hash)| hash);
                if !password::verify_password(current, stored.as_deref()) {
                    return Err(self.deny(caller, "the current password is not correct".into()));
                }
                (self.user_in_reach(caller, &account.user_id)?, true)
            }
            (Actor::Operator, PasswordTarget::Me { .. }) => {
                return Err(DomainError::Invalid(
                    "the operator has no password of its own; name the user".into(),
                ))
            }
            (Actor::Caller(caller), PasswordTarget::User(id)) => {
                self.require(caller, Right::UserManage)?;
                let user = self.user_in_reach(caller, id)?;
                if user.id == caller.account.user_id {
                    return Err(DomainError::Invalid(
                        "changing one's own password needs current_password".into(),
                    ));
                }
                self.require_user_within_ceiling(by, &user.id)?;
                (user, false)
            }
            (Actor::Operator, PasswordTarget::User(id)) => (self.user_by_id(by, id)?, false),
        };
        self.refuse_service_account(&user, "has no password")?;
        let hash = password::hash_password(&*self.shared.ambient.random, new_password)?;
        let event = self
            .on_user(self.event_by(by, "user.password_change")?, &user)
            .with("own", serde_json::json!(own));
        let keep = match by {
            Actor::Caller(caller) if own => caller.session_id().map(str::to_owned),
            _ => None,
        };
        let now = self.now();
        self.write_recorded(event, move |tx| {
            tx.set_password_hash(&user.id, &hash)?;
            tx.end_user_sessions(&user.id, keep.as_deref(), now)?;
            Ok(())
        })?;
        Ok(())
    }

    /// Changes a user's e-mail address or display name (`Some(None)`
    /// removes one; `None` leaves it): a caller with "User: Manage" within
    /// the ceiling (itself included), or the CLI's operator. They appear
    /// in `/userinfo` and ID tokens from the next request on.
    pub fn set_user_details(
        &mut self,
        by: Actor<'_>,
        user: &UserSummary,
        change: UserDetails<'_>,
    ) -> Result<UserSummary, DomainError> {
        self.require_to(by, Right::UserManage, "manage users")?;
        self.require_user_within_ceiling(by, &user.id)?;
        self.refuse_service_account(user, "has no e-mail address or display name")?;
        let UserDetails {
            email,
            display_name,
        } = change;
        if let Some(Some(email)) = email {
            check_email(email)?;
        }
        if let Some(Some(name)) = display_name {
            check_name("display name", name, MAX_USER_NAME)?;
        }
        let email = email.unwrap_or(user.email.as_deref()).map(String::from);
        let display_name = display_name
            .unwrap_or(user.display_name.as_deref())
            .map(String::from);
        let mut changed = Vec::new();
        if email != user.email {
            changed.push("email");
        }
        if display_name != user.display_name {
            changed.push("name");
        }
        if changed.is_empty() {
            return Ok(user.clone());
        }
        // The event names what changed, never the values: an address is
        // personal data, and the trail outlives it.
        let event = self
            .on_user(self.event_by(by, "user.update")?, user)
            .with("changed", json!(changed));
        let user_id = user.id.clone();
        self.write_recorded(event, move |tx| {
            tx.set_user_details(&user_id, email.as_deref(), display_name.as_deref())
        })?;
        self.user_by_id(Actor::Operator, &user.id)
    }

    /// Refuses a service account where only a person makes sense.
    fn refuse_service_account(&self, user: &UserSummary, what: &str) -> Result<(), DomainError> {
        let is_service = self
            .db()
            .account(&user.id)?
            .is_some_and(|account| account.service_account);
        if is_service {
            return Err(DomainError::Invalid(format!(
                "{}@{} is a service account, not a person: it {what}",
                user.name, user.org_name
            )));
        }
        Ok(())
    }

    pub(in crate::domain) fn user_in_reach(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<UserSummary, DomainError> {
        let not_found = || DomainError::NotFound("no such user".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        let user = self.db().user(&id)?.ok_or_else(not_found)?;
        if !self.sees_every_org(caller) && user.org_id != caller.account.org.id {
            return Err(not_found());
        }
        Ok(user)
    }
}

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

pub(in crate::domain) fn check_user_name(name: &str) -> Result<(), DomainError> {
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

impl Authority {
    /// Adds `user_name` to `org_name` with the given roles (or the default).
    /// Adds a user: a caller to its own org (any org, for the provider),
    /// with "User: Manage" and only roles within its ceiling.
    pub fn add_user(
        &mut self,
        by: Actor<'_>,
        new: NewAccount<'_>,
    ) -> Result<UserSummary, DomainError> {
        self.require_to(by, Right::UserManage, "manage users")?;
        self.org_to_act_in(by, new.org_name)?;
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
        self.user_by_id(Actor::Operator, &id)
    }

    /// Turns a user off or on. A disabled user cannot log in, its sessions
    /// and derived access tokens stop working, and its API tokens are
    /// refused at the exchange, until it is enabled again.
    /// Disables or enables a user: a caller with "User: Manage", never
    /// itself, and only a user within its ceiling. A disable ends the
    /// user's sessions for good.
    pub fn set_user_enabled(
        &mut self,
        by: Actor<'_>,
        user: &UserSummary,
        enabled: bool,
    ) -> Result<UserSummary, DomainError> {
        self.require_to(by, Right::UserManage, "manage users")?;
        if let Actor::Caller(caller) = by {
            if user.id == caller.account.user_id {
                return Err(DomainError::Invalid(
                    "a user cannot disable or enable itself".into(),
                ));
            }
        }
        self.require_user_within_ceiling(by, &user.id)?;
        self.write_user_enabled(by, user, enabled)?;
        self.user_by_id(Actor::Operator, &user.id)
    }

    pub(in crate::domain) fn write_user_enabled(
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
    pub(in crate::domain) fn on_user(&self, event: Event, user: &UserSummary) -> Event {
        event
            .on(
                "user",
                &user.id,
                &format!("{}@{}", user.name, user.org_name),
            )
            .in_org(&user.org_id)
    }

    pub(in crate::domain) fn user_summary(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> Result<UserSummary, DomainError> {
        let id = self.user_id(org_name, user_name)?;
        self.db().user(&id)?.ok_or_else(|| {
            DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
        })
    }

    pub(in crate::domain) fn user_id(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> Result<String, DomainError> {
        let (account, _) = self
            .db()
            .login_account(org_name, user_name)?
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
            })?;
        Ok(account.user_id)
    }
}
