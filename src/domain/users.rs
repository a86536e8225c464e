//! Users managed over the API, within the caller's reach: an org admin's
//! own org, every org for the provider. Ids outside that reach are
//! reported as unknown, so an org cannot learn another org's users.

use super::admin::NewAccount;
use super::records::{Org, UserFilter, UserPage, UserSummary};
use super::{parse_id, password, AccessOrigin, Actor, Authority, Caller, DomainError, Right};

/// The largest page a listing answers.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A page of a listing: 1-based page number and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl PageRequest {
    pub fn new(page: u32, page_size: u32) -> Result<PageRequest, DomainError> {
        if page == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(DomainError::Invalid(format!(
                "page starts at 1 and pageSize is 1-{MAX_PAGE_SIZE}"
            )));
        }
        Ok(PageRequest { page, page_size })
    }

    /// Entries before this page.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }
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
        caller: &Caller,
        name: Option<&str>,
        org_name: Option<&str>,
        page: PageRequest,
    ) -> Result<UserPage, DomainError> {
        self.require(caller, Right::UserView)?;
        let org_id = match (self.sees_every_org(caller), org_name) {
            (true, None) => None,
            (true, Some(name)) => Some(self.visible_org(caller, name)?.id),
            (false, Some(name)) if !name.eq_ignore_ascii_case(&caller.account.org.name) => {
                return Err(DomainError::NotFound(format!("no org {name:?}")))
            }
            (false, _) => Some(caller.account.org.id.clone()),
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

    /// Adds a user to the caller's org (any org, for the provider).
    pub fn create_user(
        &mut self,
        caller: &Caller,
        new: NewAccount<'_>,
    ) -> Result<UserSummary, DomainError> {
        self.require_session(caller, "manage users")?;
        self.require(caller, Right::UserManage)?;
        self.visible_org(caller, new.org_name)?;
        let id = self.add_user(Actor::Caller(caller), new)?;
        self.user_in_reach(caller, &id)
    }

    /// Disables or enables a user in the caller's reach; never the caller.
    pub fn set_enabled(
        &mut self,
        caller: &Caller,
        id: &str,
        enabled: bool,
    ) -> Result<UserSummary, DomainError> {
        self.require_session(caller, "manage users")?;
        self.require(caller, Right::UserManage)?;
        let user = self.user_in_reach(caller, id)?;
        if user.id == caller.account.user_id {
            return Err(DomainError::Invalid(
                "a user cannot disable or enable itself".into(),
            ));
        }
        self.require_user_within_ceiling(Actor::Caller(caller), &user.id)?;
        self.write_user_enabled(Actor::Caller(caller), &user, enabled)?;
        self.user_in_reach(caller, id)
    }

    /// Sets a password: the caller's own (proving the current one), or
    /// another user's with "User: Manage". Never with token-derived access.
    pub fn set_password(
        &mut self,
        caller: &Caller,
        target: PasswordTarget<'_>,
        new_password: &str,
    ) -> Result<(), DomainError> {
        self.require_session(caller, "change passwords")?;
        password::check_password_rules(new_password)?;
        let (user, own) = match target {
            PasswordTarget::Me { current } => {
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
            PasswordTarget::User(id) => {
                self.require(caller, Right::UserManage)?;
                let user = self.user_in_reach(caller, id)?;
                if user.id == caller.account.user_id {
                    return Err(DomainError::Invalid(
                        "changing one's own password needs current_password".into(),
                    ));
                }
                self.require_user_within_ceiling(Actor::Caller(caller), &user.id)?;
                (user, false)
            }
        };
        let hash = password::hash_password(&*self.shared.ambient.random, new_password)?;
        let event = self
            .on_user(
                self.event_by(Actor::Caller(caller), "user.password_change")?,
                &user,
            )
            .with("own", serde_json::json!(own));
        // Whoever knew the old password loses the sessions it opened; the
        // caller keeps the one it changed its own password from.
        let keep = own
            .then(|| caller.session_id().map(str::to_owned))
            .flatten();
        let now = self.now();
        self.write_recorded(event, move |tx| {
            tx.set_password_hash(&user.id, &hash)?;
            tx.end_user_sessions(&user.id, keep.as_deref(), now)?;
            Ok(())
        })?;
        Ok(())
    }

    pub(super) fn user_in_reach(
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

    /// The org `name`, if the caller may act in it.
    pub(super) fn visible_org(&self, caller: &Caller, name: &str) -> Result<Org, DomainError> {
        let not_found = || DomainError::NotFound(format!("no org {name:?}"));
        let org = self.db().org_by_name(name)?.ok_or_else(not_found)?;
        if !self.sees_every_org(caller) && org.id != caller.account.org.id {
            return Err(not_found());
        }
        Ok(org)
    }

    pub(super) fn sees_every_org(&self, caller: &Caller) -> bool {
        caller.account.org.is_provider && caller.rights.contains(Right::OrgView)
    }
}

impl Authority {
    /// Forbidden, naming the missing right, unless the caller holds `right`.
    pub(super) fn require(&self, caller: &Caller, right: Right) -> Result<(), DomainError> {
        if caller.rights.contains(right) {
            return Ok(());
        }
        Err(self.deny(
            caller,
            format!("this needs the right {:?} ({})", right.name(), right.id()),
        ))
    }

    /// Forbidden for access derived from an API token (seed 003).
    pub(super) fn require_session(&self, caller: &Caller, what: &str) -> Result<(), DomainError> {
        match caller.origin {
            AccessOrigin::Session(_) => Ok(()),
            AccessOrigin::ApiToken(_) => Err(self.deny(
                caller,
                format!("access derived from an API token cannot {what}"),
            )),
        }
    }
}
