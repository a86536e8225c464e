//! The rights checks every operation uses, and the privilege ceiling.
//!
//! `require` (the caller holds a right), `require_session` (not access
//! derived from an API token), `require_provider`, and the caller's reach
//! (`sees_every_org`, `visible_org`): a denial is a 403 with an
//! `access.denied` event.
//!
//! The ceiling: a right to manage users is not a right to become anyone.
//! A caller may grant or revoke a role (to a user, to a group, or by
//! adding a user to a group that holds it), define a role or change its
//! permissions, only when it holds every permission involved at that
//! moment; and may reset another user's password, disable or enable them,
//! or change a service account's access only when the target's permissions
//! are a subset of its own. Provider-only roles, and users holding them,
//! are a System Administrator's alone. The admin CLI acts with the
//! authority of whoever holds the database file, so the ceiling binds
//! requests only.

use std::collections::HashSet;

use crate::domain::directory::rights::SYSTEM_ADMINISTRATOR;
use crate::domain::records::{Org, RoleDefinition};
use crate::domain::{AccessOrigin, Actor, Authority, Caller, DomainError, Right};

impl Caller {
    /// A System Administrator acting with a password session: the one
    /// caller above every ceiling.
    pub(in crate::domain) fn is_system_administrator(&self) -> bool {
        self.account.org.is_provider
            && !self.is_token_derived()
            && self.roles.iter().any(|r| r == SYSTEM_ADMINISTRATOR)
    }

    /// Whether the caller holds each of `permissions` now.
    fn holds_all<S: AsRef<str>>(&self, permissions: &[S]) -> bool {
        let held: HashSet<String> = self
            .permissions
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        permissions
            .iter()
            .all(|p| held.contains(&p.as_ref().to_ascii_lowercase()))
    }
}

impl Authority {
    /// Refuses (403, audited) unless `by` may hand out or take back `role`:
    /// it holds every permission of the role, and a provider-only role
    /// needs a System Administrator.
    pub(in crate::domain) fn require_role_within_ceiling(
        &self,
        by: Actor<'_>,
        role: &RoleDefinition,
    ) -> Result<(), DomainError> {
        let Actor::Caller(caller) = by else {
            return Ok(());
        };
        if caller.is_system_administrator() {
            return Ok(());
        }
        if role.provider_only {
            return Err(self.deny(
                caller,
                format!(
                    "only a {SYSTEM_ADMINISTRATOR} may grant or revoke the role {:?}",
                    role.name
                ),
            ));
        }
        if !caller.holds_all(&role.permissions) {
            return Err(self.deny(
                caller,
                format!(
                    "the role {:?} holds permissions the caller does not hold",
                    role.name
                ),
            ));
        }
        Ok(())
    }

    /// Refuses unless `by` holds every one of `permissions`, for defining
    /// a role or changing what it holds.
    pub(in crate::domain) fn require_permissions_within_ceiling(
        &self,
        by: Actor<'_>,
        permissions: &[String],
    ) -> Result<(), DomainError> {
        let Actor::Caller(caller) = by else {
            return Ok(());
        };
        if caller.is_system_administrator() || caller.holds_all(permissions) {
            return Ok(());
        }
        Err(self.deny(
            caller,
            "a role may only hold permissions the caller holds".into(),
        ))
    }

    /// Refuses unless `by` may act on the user `user_id` (reset its
    /// password, disable or enable it, decide its access): the user's
    /// permissions are a subset of the caller's, and a System
    /// Administrator is acted on only by another.
    pub(in crate::domain) fn require_user_within_ceiling(
        &self,
        by: Actor<'_>,
        user_id: &str,
    ) -> Result<(), DomainError> {
        let Actor::Caller(caller) = by else {
            return Ok(());
        };
        if caller.is_system_administrator() || caller.account.user_id == user_id {
            return Ok(());
        }
        let Some(target) = self.db().account(user_id)? else {
            return Err(DomainError::NotFound("no such user".into()));
        };
        let target_is_admin = target.org.is_provider
            && target
                .held_roles()
                .iter()
                .any(|r| r.service.is_none() && r.name == SYSTEM_ADMINISTRATOR);
        if target_is_admin {
            return Err(self.deny(
                caller,
                format!("only a {SYSTEM_ADMINISTRATOR} may act on a {SYSTEM_ADMINISTRATOR}"),
            ));
        }
        if !caller.holds_all(&target.permissions()) {
            return Err(self.deny(
                caller,
                "the user holds permissions the caller does not hold".into(),
            ));
        }
        Ok(())
    }
}

impl Authority {
    /// A provider action: a password session in the provider org holding
    /// `right`.
    pub(in crate::domain) fn require_provider(
        &self,
        caller: &Caller,
        right: Right,
        what: &str,
    ) -> Result<(), DomainError> {
        self.require_session(caller, what)?;
        self.require(caller, right)?;
        if caller.account.org.is_provider {
            Ok(())
        } else {
            Err(self.deny(caller, format!("only the provider may {what}")))
        }
    }

    /// The org `name`, if the caller may act in it.
    pub(in crate::domain) fn visible_org(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Org, DomainError> {
        let not_found = || DomainError::NotFound(format!("no org {name:?}"));
        let org = self.db().org_by_name(name)?.ok_or_else(not_found)?;
        if !self.sees_every_org(caller) && org.id != caller.account.org.id {
            return Err(not_found());
        }
        Ok(org)
    }

    pub(in crate::domain) fn sees_every_org(&self, caller: &Caller) -> bool {
        caller.account.org.is_provider && caller.rights.contains(Right::OrgView)
    }

    /// Forbidden, naming the missing right, unless the caller holds `right`.
    pub(in crate::domain) fn require(
        &self,
        caller: &Caller,
        right: Right,
    ) -> Result<(), DomainError> {
        if caller.rights.contains(right) {
            return Ok(());
        }
        Err(self.deny(
            caller,
            format!("this needs the right {:?} ({})", right.name(), right.id()),
        ))
    }

    /// Forbidden for access derived from an API token (seed 003).
    pub(in crate::domain) fn require_session(
        &self,
        caller: &Caller,
        what: &str,
    ) -> Result<(), DomainError> {
        match caller.origin {
            AccessOrigin::Session(_) => Ok(()),
            AccessOrigin::ApiToken(_) => Err(self.deny(
                caller,
                format!("access derived from an API token cannot {what}"),
            )),
        }
    }

    /// For a request, a password session holding `right`; the CLI's
    /// operator holds every right.
    pub(in crate::domain) fn require_to(
        &self,
        by: Actor<'_>,
        right: Right,
        what: &str,
    ) -> Result<(), DomainError> {
        let Actor::Caller(caller) = by else {
            return Ok(());
        };
        self.require_session(caller, what)?;
        self.require(caller, right)
    }

    /// The same, for what only the provider does.
    pub(in crate::domain) fn require_provider_to(
        &self,
        by: Actor<'_>,
        right: Right,
        what: &str,
    ) -> Result<(), DomainError> {
        match by {
            Actor::Caller(caller) => self.require_provider(caller, right, what),
            Actor::Operator => Ok(()),
        }
    }

    /// The org a listing by `by` is confined to, once `by` holds `right`:
    /// a caller's own org, or none for a caller who sees every org and for
    /// the CLI's operator.
    pub(in crate::domain) fn listing_reach(
        &self,
        by: Actor<'_>,
        right: Right,
    ) -> Result<Option<String>, DomainError> {
        match by {
            Actor::Caller(caller) => {
                self.require(caller, right)?;
                Ok((!self.sees_every_org(caller)).then(|| caller.account.org.id.clone()))
            }
            Actor::Operator => Ok(None),
        }
    }

    /// The org called `name`, if `by` may act in it (another org is
    /// unknown to a tenant's caller).
    pub(in crate::domain) fn org_to_act_in(
        &self,
        by: Actor<'_>,
        name: &str,
    ) -> Result<Org, DomainError> {
        match by {
            Actor::Caller(caller) => self.visible_org(caller, name),
            Actor::Operator => self.org(name),
        }
    }
}
