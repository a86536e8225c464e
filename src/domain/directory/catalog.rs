//! What may be granted, and to whom: services and their permissions, roles
//! (global or an org's, org or service roles) and who holds them, groups
//! and their members, rights bundles and the orgs they are published to.
//! One method per action, for the API and the admin CLI alike: each takes
//! the `Actor` its audit event names and a target already resolved (by id
//! within a caller's reach, or by name for the CLI, in `lookups.rs`), and
//! checks a caller's rights itself, the privilege ceiling included; the
//! CLI's operator holds every right.

use serde_json::json;

use crate::domain::audit::Actor;
use crate::domain::directory::names::check_name;
use crate::domain::directory::names::check_resource;
use crate::domain::records::Event;
use crate::domain::records::{
    BundleSummary, Group, GroupSummary, Org, RightsBundle, RoleDefinition, Service, UserSummary,
};
use crate::domain::{directory::rights, Authority, DomainError, Right, PROVIDER_ORG};

const MAX_SERVICE_NAME: usize = 64;
const MAX_PERMISSION_NAME: usize = 128;
const MAX_ROLE_NAME: usize = 128;

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

impl Authority {
    /// Registers a service and the permissions it defines, written
    /// `service:permission`.
    pub fn add_service(
        &mut self,
        by: Actor<'_>,
        name: &str,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "register services")?;
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
            identifier: None,
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

    /// Sets (or, with None, removes) a service's identifier URI: what an
    /// exchange names as `resource` or `audience` for access tokens meant
    /// for the service. An absolute URI without a fragment (RFC 8707),
    /// and no other service's.
    pub fn set_service_identifier(
        &mut self,
        by: Actor<'_>,
        service: &Service,
        identifier: Option<&str>,
    ) -> Result<Service, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "register services")?;
        if let Some(identifier) = identifier {
            check_resource(identifier)?;
            if identifier == self.settings().issuer {
                return Err(DomainError::Invalid(
                    "the issuer is tokend's own identifier".into(),
                ));
            }
        }
        let (id, value) = (service.id.clone(), identifier.map(str::to_string));
        let event = self
            .event_by(by, "service.update")?
            .on("service", &service.id, &service.name)
            .with("identifier", json!(identifier));
        self.write_recorded(event, move |tx| {
            tx.set_service_identifier(&id, value.as_deref())
        })
        .map_err(|e| match e.into() {
            DomainError::Conflict(_) => {
                DomainError::Conflict("another service has this identifier already".into())
            }
            other => other,
        })?;
        self.service(&service.name)
    }

    /// Adds permissions to a registered service.
    pub fn extend_service(
        &mut self,
        by: Actor<'_>,
        service: &Service,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "register services")?;
        let name = &service.name;
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
        bundle: &BundleSummary,
        permissions: &[String],
    ) -> Result<BundleSummary, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "manage rights bundles")?;
        let permissions = self.checked_permissions(None, permissions)?;
        if bundle.name == rights::DEFAULT_RIGHTS_BUNDLE {
            if let Some(missing) = crate::domain::Right::ALL
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
        self.bundle_by_id(&bundle.id)
    }

    /// Defines a role: global (no org) or local to `org_name`; an org role,
    /// or a service role holding only `service`'s permissions.
    pub fn add_role(
        &mut self,
        by: Actor<'_>,
        new: NewRole<'_>,
    ) -> Result<RoleDefinition, DomainError> {
        match new.org_name {
            None => self.require_provider_to(by, Right::GlobalRoleManage, "define global roles")?,
            Some(org) => {
                self.require_to(by, Right::RoleManage, "manage roles")?;
                self.org_to_act_in(by, org)?;
            }
        }
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
        self.require_permissions_within_ceiling(by, &permissions)?;
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
        role: &RoleDefinition,
        org_name: &str,
        published: bool,
    ) -> Result<bool, DomainError> {
        self.require_provider_to(by, Right::GlobalRoleManage, "publish global roles")?;
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

    /// Grants (or takes back) a role to a user. Returns false when nothing
    /// changed.
    pub fn set_user_role(
        &mut self,
        by: Actor<'_>,
        user: &UserSummary,
        role_name: &str,
        granted: bool,
    ) -> Result<bool, DomainError> {
        self.require_to(by, Right::UserManage, "manage users")?;
        let org = self.org(&user.org_name)?;
        let role = self.grantable_role(&org, role_name)?;
        let user = user.clone();
        self.require_role_within_ceiling(by, &role)?;
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
        self.require_to(by, Right::GroupManage, "manage groups")?;
        let org = self.org_to_act_in(by, org_name)?;
        check_name("group name", name, MAX_ROLE_NAME)?;
        if name.contains('@') {
            return Err(DomainError::Invalid(format!(
                "group name {name:?} must not contain '@'"
            )));
        }
        let group = Group {
            id: self.new_id()?,
            org_id: org.id,
            name: name.to_string(),
            created_at: self.now(),
        };
        let record = group.clone();
        let event = self
            .event_by(by, "group.create")?
            .on("group", &group.id, &group.name)
            .in_org(&group.org_id);
        self.write_recorded(event, move |tx| tx.insert_group(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => DomainError::Conflict(format!(
                    "group {name:?} already exists in org {org_name:?}"
                )),
                other => other,
            })?;
        Ok(group)
    }

    /// Puts a user into (or takes it out of) a group of its org. Returns
    /// false when nothing changed.
    pub fn set_group_member(
        &mut self,
        by: Actor<'_>,
        group: &GroupSummary,
        user: &UserSummary,
        member: bool,
    ) -> Result<bool, DomainError> {
        self.require_to(by, Right::GroupManage, "manage groups")?;
        if user.org_id != group.org_id {
            return Err(DomainError::NotFound(
                "no such user in the group's org".into(),
            ));
        }
        // A member holds the group's roles: joining or leaving is granting
        // or revoking each of them.
        let org = self.org(&group.org_name)?;
        for role_name in &group.roles {
            let role = self.grantable_role(&org, role_name)?;
            self.require_role_within_ceiling(by, &role)?;
        }
        let kind = if member {
            "group.member_add"
        } else {
            "group.member_remove"
        };
        let event = self
            .on_group(self.event_by(by, kind)?, group)
            .with("user", json!({ "id": user.id, "name": user.name }));
        let (group_id, user_id) = (group.id.clone(), user.id.clone());
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_group_member(&group_id, &user_id, member)
        })?)
    }

    /// Grants a role to a group (or takes it back): its members hold it for
    /// as long as they are members. Returns false when nothing changed.
    pub fn set_group_role(
        &mut self,
        by: Actor<'_>,
        group: &GroupSummary,
        role_name: &str,
        granted: bool,
    ) -> Result<bool, DomainError> {
        self.require_to(by, Right::GroupManage, "manage groups")?;
        let org = self.org(&group.org_name)?;
        let role = self.grantable_role(&org, role_name)?;
        self.require_role_within_ceiling(by, &role)?;
        let kind = if granted {
            "group.role_grant"
        } else {
            "group.role_revoke"
        };
        let event = self
            .on_group(self.event_by(by, kind)?, group)
            .with("role", json!({ "id": role.id, "name": role.name }));
        let group_id = group.id.clone();
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_group_role(&group_id, &role.id, granted)
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
        self.require_provider_to(by, Right::RightsBundleManage, "manage rights bundles")?;
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
        bundle: &BundleSummary,
        org_name: &str,
        published: bool,
    ) -> Result<bool, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "manage rights bundles")?;
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
        let bundle_id = bundle.id.clone();
        Ok(self.write_if_changed(event, move |tx| {
            tx.set_bundle_published(&bundle_id, &org.id, published)
        })?)
    }

    /// Replaces a role's permissions: an org's own with "Role: Manage"
    /// there, a global one as the provider with "Global Role: Manage".
    /// Built-in roles do not change.
    pub fn set_role_permissions(
        &mut self,
        by: Actor<'_>,
        role: &RoleDefinition,
        permissions: &[String],
    ) -> Result<RoleDefinition, DomainError> {
        self.require_role_change(by, role)?;
        let permissions = self.checked_permissions(role.service.as_deref(), permissions)?;
        // Its holders gain what is added and lose what is taken away.
        let touched: Vec<String> = role
            .permissions
            .iter()
            .chain(&permissions)
            .cloned()
            .collect();
        self.require_permissions_within_ceiling(by, &touched)?;
        let id = role.id.clone();
        let changed = RoleDefinition {
            permissions: permissions.clone(),
            ..role.clone()
        };
        let event = self.on_role(self.event_by(by, "role.update")?, &changed);
        self.write_recorded(event, move |tx| tx.set_role_permissions(&id, &permissions))?;
        Ok(changed)
    }

    /// Deletes a role no user or group holds (else 409).
    pub fn delete_role(&mut self, by: Actor<'_>, role: &RoleDefinition) -> Result<(), DomainError> {
        self.require_role_change(by, role)?;
        let id = role.id.clone();
        let event = self.on_role(self.event_by(by, "role.delete")?, role);
        if !self.write_if_changed(event, move |tx| tx.delete_unused_role(&id))? {
            return Err(DomainError::Conflict(format!(
                "role {:?} is still held by users or groups",
                role.name
            )));
        }
        Ok(())
    }

    /// Who may change `role`: a global one the provider with "Global Role:
    /// Manage", an org's own "Role: Manage"; a built-in role nobody.
    fn require_role_change(&self, by: Actor<'_>, role: &RoleDefinition) -> Result<(), DomainError> {
        match &role.org_id {
            None => self.require_provider_to(by, Right::GlobalRoleManage, "change global roles")?,
            Some(_) => self.require_to(by, Right::RoleManage, "manage roles")?,
        }
        if role.org_id.is_none() && rights::is_builtin_role(&role.name) {
            return Err(DomainError::Invalid(format!(
                "the built-in role {:?} cannot be changed",
                role.name
            )));
        }
        Ok(())
    }

    /// `event` about `group`, read by the admins of its org.
    fn on_group(&self, event: Event, group: &GroupSummary) -> Event {
        event
            .on("group", &group.id, &group.name)
            .in_org(&group.org_id)
    }

    /// `event` about `role`; an org's own role is read by that org's admins.
    pub(in crate::domain) fn on_role(&self, event: Event, role: &RoleDefinition) -> Event {
        let event = event
            .on("role", &role.id, &role.name)
            .with("permissions", json!(role.permissions));
        match &role.org_id {
            Some(org_id) => event.in_org(org_id),
            None => event,
        }
    }

    /// The role called `name` that users of `org` may hold: the org's own,
    /// else a global one (provider-only roles in the provider org alone).
    pub(in crate::domain) fn grantable_role(
        &self,
        org: &Org,
        name: &str,
    ) -> Result<RoleDefinition, DomainError> {
        // A look-up, not a new name: a role named before today's name
        // rules must still be found.
        if name.is_empty() || name.chars().count() > MAX_ROLE_NAME {
            return Err(DomainError::Invalid(format!(
                "role {name:?} does not exist"
            )));
        }
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
    pub(in crate::domain) fn checked_permissions(
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
