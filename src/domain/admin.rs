//! Administration done by whoever holds the database file (the admin CLI):
//! orgs, users, tokens, login locks and signing keys, with the same
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
use super::records::{
    ApiTokenFilter, ApiTokenListing, Group, NewUser, Org, RightsBundle, RoleDefinition, Service,
    UserSummary,
};
use super::scopes::TokenScope;
use super::storage::{Durability, PendingCommit};
use super::throttle::login_key;
use super::tokens::{CreatedApiToken, NewApiToken};
use super::{parse_id, password, rights, Authority, DomainError, PROVIDER_ORG};

const MAX_SERVICE_NAME: usize = 64;
const MAX_PERMISSION_NAME: usize = 128;

const MAX_ORG_NAME: usize = 64;
const MAX_USER_NAME: usize = 128;
const MAX_ROLE_NAME: usize = 128;

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

/// A role to define.
pub struct NewRole<'a> {
    pub name: &'a str,
    /// None: a global role.
    pub org_name: Option<&'a str>,
    /// Some: a service role of that service.
    pub service: Option<&'a str>,
    /// `service:permission` ids.
    pub permissions: &'a [String],
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
            role_ids.push(self.grantable_role(&org, role_name)?.id);
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
        self.write_recorded(event, move |tx| tx.set_user_disabled(&user_id, disabled_at))?;
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

    /// Registers a service and the permissions it defines, written
    /// `service:permission`.
    pub fn add_service(
        &mut self,
        by: Actor<'_>,
        name: &str,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        check_identifier("service name", name, MAX_SERVICE_NAME)?;
        let mut names = Vec::with_capacity(permissions.len());
        for permission in permissions {
            let (service, permission_name) = split_permission(permission)?;
            if !service.eq_ignore_ascii_case(name) {
                return Err(DomainError::Invalid(format!(
                    "permission {permission:?} does not belong to service {name:?}"
                )));
            }
            names.push(permission_name.to_string());
        }
        names.sort();
        names.dedup();
        let service = Service {
            id: self.new_id()?,
            name: name.to_string(),
            permissions: names,
            created_at: self.now(),
        };
        let record = service.clone();
        let event = self
            .event_by(by, "service.create")?
            .on("service", &service.id, &service.name)
            .with("permissions", json!(service.permissions));
        self.write_recorded(event, move |tx| tx.insert_service(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("service {name:?} already exists"))
                }
                other => other,
            })?;
        Ok(service)
    }

    /// Adds permissions to a registered service.
    pub fn extend_service(
        &mut self,
        by: Actor<'_>,
        name: &str,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        let service = self.service(name)?;
        let mut added = Vec::with_capacity(permissions.len());
        for permission in permissions {
            let (owner, permission_name) = split_permission(permission)?;
            if !owner.eq_ignore_ascii_case(&service.name) {
                return Err(DomainError::Invalid(format!(
                    "permission {permission:?} does not belong to service {name:?}"
                )));
            }
            added.push(permission_name.to_string());
        }
        if service.name == rights::TOKEND_SERVICE {
            return Err(DomainError::Invalid(
                "tokend's own permissions are its rights; they do not change".into(),
            ));
        }
        let id = service.id.clone();
        let event = self
            .event_by(by, "service.update")?
            .on("service", &service.id, &service.name)
            .with("added", json!(added));
        self.write_recorded(event, move |tx| {
            for name in &added {
                tx.add_permission(&id, name)?;
            }
            Ok(())
        })?;
        self.service(name)
    }

    /// Replaces a rights bundle's permissions. The Default Rights Bundle
    /// keeps every right of tokend's.
    pub fn set_bundle_permissions(
        &mut self,
        by: Actor<'_>,
        bundle_name: &str,
        permissions: &[String],
    ) -> Result<RightsBundle, DomainError> {
        let bundle = self
            .db()
            .rights_bundle(bundle_name)?
            .ok_or_else(|| DomainError::NotFound(format!("no rights bundle {bundle_name:?}")))?;
        let permissions = self.checked_permissions(None, permissions)?;
        if bundle.name == rights::DEFAULT_RIGHTS_BUNDLE {
            if let Some(missing) = super::Right::ALL
                .iter()
                .map(|r| r.id())
                .find(|id| !permissions.contains(id))
            {
                return Err(DomainError::Invalid(format!(
                    "the {} keeps every right of tokend's, {missing:?} included",
                    rights::DEFAULT_RIGHTS_BUNDLE
                )));
            }
        }
        let id = bundle.id.clone();
        let event = self
            .event_by(by, "bundle.update")?
            .on("rights_bundle", &bundle.id, &bundle.name)
            .with("permissions", json!(permissions));
        self.write_recorded(event, move |tx| {
            tx.set_bundle_permissions(&id, &permissions)
        })?;
        self.db()
            .rights_bundle(bundle_name)?
            .ok_or_else(|| DomainError::NotFound(format!("no rights bundle {bundle_name:?}")))
    }

    /// Defines a role: global (no org) or local to `org_name`; an org role,
    /// or a service role holding only `service`'s permissions.
    pub fn add_role(
        &mut self,
        by: Actor<'_>,
        new: NewRole<'_>,
    ) -> Result<RoleDefinition, DomainError> {
        check_name("role name", new.name, MAX_ROLE_NAME)?;
        if new.name.contains('/') {
            return Err(DomainError::Invalid(format!(
                "role name {:?} must not contain '/'",
                new.name
            )));
        }
        let org = match new.org_name {
            Some(org_name) => Some(self.org(org_name)?),
            None => None,
        };
        if let Some(org) = &org {
            // A local role must not hide a global one of the same name.
            if self.db().role(None, new.name)?.is_some() {
                return Err(DomainError::Conflict(format!(
                    "a global role is already called {:?}",
                    new.name
                )));
            }
            if org.is_provider {
                return Err(DomainError::Invalid(format!(
                    "roles of the {PROVIDER_ORG} org are global: use --global"
                )));
            }
        }
        let service = match new.service {
            Some(service) => Some(self.service(service)?),
            None => None,
        };
        let permissions =
            self.checked_permissions(service.as_ref().map(|s| s.name.as_str()), new.permissions)?;
        let role = RoleDefinition {
            id: self.new_id()?,
            name: new.name.to_string(),
            org_id: org.map(|o| o.id),
            service: service.map(|s| s.name),
            provider_only: false,
            // A new global role reaches tenant orgs once published to them.
            published_to_all: false,
            permissions,
            created_at: self.now(),
        };
        let record = role.clone();
        let name = new.name.to_string();
        let event = self.on_role(self.event_by(by, "role.create")?, &role);
        self.write_recorded(event, move |tx| tx.insert_role(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("role {name:?} already exists there"))
                }
                other => other,
            })?;
        Ok(role)
    }

    /// Publishes a global role to a tenant org (or withdraws it): the org's
    /// users may hold it from then on. Returns false when nothing changed.
    pub fn set_role_published(
        &mut self,
        by: Actor<'_>,
        role_name: &str,
        org_name: &str,
        published: bool,
    ) -> Result<bool, DomainError> {
        let role = self
            .db()
            .role(None, role_name)?
            .ok_or_else(|| DomainError::NotFound(format!("no global role {role_name:?}")))?;
        self.publish_role(by, &role, org_name, published)
    }

    pub(super) fn publish_role(
        &mut self,
        by: Actor<'_>,
        role: &RoleDefinition,
        org_name: &str,
        published: bool,
    ) -> Result<bool, DomainError> {
        if role.org_id.is_some() {
            return Err(DomainError::Invalid(format!(
                "{:?} is an org's own role; only global roles are published",
                role.name
            )));
        }
        if role.published_to_all {
            return Err(DomainError::Invalid(format!(
                "{:?} is published to every org",
                role.name
            )));
        }
        let org = self.org(org_name)?;
        if org.is_provider {
            return Err(DomainError::Invalid(format!(
                "the {PROVIDER_ORG} org uses every global role"
            )));
        }
        let role_id = role.id.clone();
        let kind = if published {
            "role.publish"
        } else {
            "role.withdraw"
        };
        let event = self
            .event_by(by, kind)?
            .on("role", &role.id, &role.name)
            .in_org(&org.id)
            .with("org", json!(org.name));
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_role_published(&role_id, &org.id, published)
        })?)
    }

    /// Grants (or takes back) a role to `user_name@org_name`. Returns false
    /// when nothing changed.
    pub fn set_role_granted(
        &mut self,
        by: Actor<'_>,
        org_name: &str,
        user_name: &str,
        role_name: &str,
        granted: bool,
    ) -> Result<bool, DomainError> {
        let org = self.org(org_name)?;
        let user = self.user_summary(org_name, user_name)?;
        let role = self.grantable_role(&org, role_name)?;
        let kind = if granted { "role.grant" } else { "role.revoke" };
        let event = self
            .on_user(self.event_by(by, kind)?, &user)
            .with("role", json!({ "id": role.id, "name": role.name }));
        let changed = self.write_if_changed(event, move |tx| {
            if granted {
                tx.grant_role(&user.id, &role.id)
            } else {
                tx.revoke_role(&user.id, &role.id)
            }
        })?;
        Ok(changed)
    }

    pub fn add_group(
        &mut self,
        by: Actor<'_>,
        org_name: &str,
        name: &str,
    ) -> Result<Group, DomainError> {
        check_name("group name", name, MAX_ROLE_NAME)?;
        if name.contains('@') {
            return Err(DomainError::Invalid(format!(
                "group name {name:?} must not contain '@'"
            )));
        }
        let org = self.org(org_name)?;
        let group = Group {
            id: self.new_id()?,
            org_id: org.id,
            name: name.to_string(),
            created_at: self.now(),
        };
        let record = group.clone();
        let event = self.on_group(self.event_by(by, "group.create")?, &group);
        self.write_recorded(event, move |tx| tx.insert_group(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => DomainError::Conflict(format!(
                    "group {name:?} already exists in org {org_name:?}"
                )),
                other => other,
            })?;
        Ok(group)
    }

    /// Puts `user_name` into (or takes it out of) a group of its org.
    /// Returns false when nothing changed.
    pub fn set_group_member(
        &mut self,
        by: Actor<'_>,
        org_name: &str,
        group_name: &str,
        user_name: &str,
        member: bool,
    ) -> Result<bool, DomainError> {
        let org = self.org(org_name)?;
        let group = self.group(&org, group_name)?;
        let user_id = self.user_id(org_name, user_name)?;
        let kind = if member {
            "group.member_add"
        } else {
            "group.member_remove"
        };
        let event = self
            .on_group(self.event_by(by, kind)?, &group)
            .with("user", json!({ "id": user_id, "name": user_name }));
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_group_member(&group.id, &user_id, member)
        })?)
    }

    /// Grants a role to a group (or takes it back): its members hold it for
    /// as long as they are members. Returns false when nothing changed.
    pub fn set_group_role(
        &mut self,
        by: Actor<'_>,
        org_name: &str,
        group_name: &str,
        role_name: &str,
        granted: bool,
    ) -> Result<bool, DomainError> {
        let org = self.org(org_name)?;
        let group = self.group(&org, group_name)?;
        let role = self.grantable_role(&org, role_name)?;
        let kind = if granted {
            "group.role_grant"
        } else {
            "group.role_revoke"
        };
        let event = self
            .on_group(self.event_by(by, kind)?, &group)
            .with("role", json!({ "id": role.id, "name": role.name }));
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_group_role(&group.id, &role.id, granted)
        })?)
    }

    /// Defines a rights bundle: permissions an org may use once the bundle
    /// is published to it.
    pub fn add_rights_bundle(
        &mut self,
        by: Actor<'_>,
        name: &str,
        permissions: &[String],
    ) -> Result<RightsBundle, DomainError> {
        check_name("rights bundle name", name, MAX_ROLE_NAME)?;
        let ids = self.checked_permissions(None, permissions)?;
        let bundle = RightsBundle {
            id: self.new_id()?,
            name: name.to_string(),
            permissions: ids,
            created_at: self.now(),
        };
        let record = bundle.clone();
        let event = self
            .event_by(by, "bundle.create")?
            .on("rights_bundle", &bundle.id, &bundle.name)
            .with("permissions", json!(bundle.permissions));
        self.write_recorded(event, move |tx| tx.insert_rights_bundle(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("rights bundle {name:?} already exists"))
                }
                other => other,
            })?;
        Ok(bundle)
    }

    /// Publishes a bundle to a tenant org (or withdraws it): the org's
    /// users may use its permissions from their next request on. Returns
    /// false when nothing changed.
    pub fn set_bundle_published(
        &mut self,
        by: Actor<'_>,
        bundle_name: &str,
        org_name: &str,
        published: bool,
    ) -> Result<bool, DomainError> {
        let bundle = self
            .db()
            .rights_bundle(bundle_name)?
            .ok_or_else(|| DomainError::NotFound(format!("no rights bundle {bundle_name:?}")))?;
        let org = self.org(org_name)?;
        if org.is_provider {
            return Err(DomainError::Invalid(format!(
                "the {PROVIDER_ORG} org is not capped by rights bundles"
            )));
        }
        let kind = if published {
            "bundle.publish"
        } else {
            "bundle.withdraw"
        };
        let event = self
            .event_by(by, kind)?
            .on("rights_bundle", &bundle.id, &bundle.name)
            .in_org(&org.id)
            .with("org", json!(org.name));
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_bundle_published(&bundle.id, &org.id, published)
        })?)
    }

    /// `event` about `group`, read by the admins of its org.
    fn on_group(&self, event: Event, group: &Group) -> Event {
        event
            .on("group", &group.id, &group.name)
            .in_org(&group.org_id)
    }

    /// `event` about `role`; an org's own role is read by that org's admins.
    pub(super) fn on_role(&self, event: Event, role: &RoleDefinition) -> Event {
        let event = event
            .on("role", &role.id, &role.name)
            .with("permissions", json!(role.permissions));
        match &role.org_id {
            Some(org_id) => event.in_org(org_id),
            None => event,
        }
    }

    fn group(&self, org: &Org, name: &str) -> Result<Group, DomainError> {
        self.db().group(&org.id, name)?.ok_or_else(|| {
            DomainError::NotFound(format!("no group {name:?} in org {:?}", org.name))
        })
    }

    /// The role called `name` that users of `org` may hold: the org's own,
    /// else a global one (provider-only roles in the provider org alone).
    fn grantable_role(&self, org: &Org, name: &str) -> Result<RoleDefinition, DomainError> {
        check_name("role name", name, MAX_ROLE_NAME)?;
        let role = match self.db().role(Some(&org.id), name)? {
            Some(role) => role,
            None => self
                .db()
                .role(None, name)?
                .ok_or_else(|| DomainError::Invalid(format!("role {name:?} does not exist")))?,
        };
        if role.provider_only && !org.is_provider {
            return Err(DomainError::Invalid(format!(
                "role {name:?} can only be held in the {PROVIDER_ORG} org"
            )));
        }
        let published = role.org_id.is_some()
            || role.published_to_all
            || org.is_provider
            || self.db().role_published_to(&role.id, &org.id)?;
        if !published {
            return Err(DomainError::Invalid(format!(
                "the global role {name:?} is not published to org {:?}",
                org.name
            )));
        }
        Ok(role)
    }

    /// `permissions` as full ids, each an existing permission, all of
    /// `service` when the role is a service role.
    pub(super) fn checked_permissions(
        &self,
        service: Option<&str>,
        permissions: &[String],
    ) -> Result<Vec<String>, DomainError> {
        let mut checked = Vec::with_capacity(permissions.len());
        for permission in permissions {
            let (service_name, permission_name) = split_permission(permission)?;
            let owner = self.service(service_name)?;
            if !owner
                .permissions
                .iter()
                .any(|p| p.eq_ignore_ascii_case(permission_name))
            {
                return Err(DomainError::Invalid(format!(
                    "service {service_name:?} has no permission {permission_name:?}"
                )));
            }
            if let Some(service) = service {
                if !owner.name.eq_ignore_ascii_case(service) {
                    return Err(DomainError::Invalid(format!(
                        "a role of service {service:?} cannot hold {permission:?}"
                    )));
                }
            }
            checked.push(format!("{}:{}", owner.name, permission_name));
        }
        checked.sort();
        checked.dedup();
        Ok(checked)
    }

    fn service(&self, name: &str) -> Result<Service, DomainError> {
        self.db()
            .service(name)?
            .ok_or_else(|| DomainError::Invalid(format!("service {name:?} does not exist")))
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
    ) -> Result<CreatedApiToken, DomainError> {
        let user_id = self.user_id(org_name, user_name)?;
        let account = self
            .db()
            .account(&user_id)?
            .ok_or_else(|| DomainError::NotFound(format!("no user {user_name:?}")))?;
        new.scope = new.scope.checked(&account)?;
        let event = self.operator_event("token.create")?.by_account(&account);
        self.issue_api_token(&user_id, new, event)
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
            let event = self.operator_event("token.create")?.by_account(&account);
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

    fn user_summary(&self, org_name: &str, user_name: &str) -> Result<UserSummary, DomainError> {
        let id = self.user_id(org_name, user_name)?;
        self.db().user(&id)?.ok_or_else(|| {
            DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
        })
    }

    fn user_id(&self, org_name: &str, user_name: &str) -> Result<String, DomainError> {
        let (account, _) = self
            .db()
            .login_account(org_name, user_name)?
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
            })?;
        Ok(account.user_id)
    }
}

/// `service:permission`, split.
fn split_permission(id: &str) -> Result<(&str, &str), DomainError> {
    let invalid = || {
        DomainError::Invalid(format!(
            "permission {id:?} must be written service:permission"
        ))
    };
    let (service, name) = id.split_once(':').ok_or_else(invalid)?;
    check_identifier("service name", service, MAX_SERVICE_NAME).map_err(|_| invalid())?;
    check_identifier("permission name", name, MAX_PERMISSION_NAME).map_err(|_| invalid())?;
    Ok((service, name))
}

/// Service and permission names: 1-N characters of A-Z, a-z, 0-9, '.', '_', '-'.
fn check_identifier(what: &str, name: &str, max: usize) -> Result<(), DomainError> {
    let valid = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "{what} {name:?} must be 1-{max} characters of A-Z, a-z, 0-9, '.', '_', '-'"
        )))
    }
}

fn check_email(email: &str) -> Result<(), DomainError> {
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

fn check_user_name(name: &str) -> Result<(), DomainError> {
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
