//! Roles and groups managed over the API, within the caller's reach: an
//! org's admin sees its org's roles and groups (and the global roles), the
//! provider every org's. Changes need a password session and the manage
//! right; ids outside the reach are unknown.

use crate::domain::directory::catalog::NewRole;
use crate::domain::records::PageRequest;
use crate::domain::records::{
    BundlePage, BundleSummary, DirectoryFilter, GroupPage, GroupSummary, Org, RoleDefinition,
    RolePage, Service, ServicePage,
};
use crate::domain::{parse_id, Actor, Authority, Caller, DomainError, Right};

impl Authority {
    /// The roles the caller may see: its org's and the global ones (every
    /// org's, for the provider).
    pub fn roles_in_reach(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<RolePage, DomainError> {
        self.require(caller, Right::RoleView)?;
        let filter = DirectoryFilter {
            org_id: (!self.sees_every_org(caller)).then(|| caller.account.org.id.clone()),
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().roles(&filter)?)
    }

    /// Defines a role: a global one needs "Global Role: Manage" (the
    /// provider), an org's own "Role: Manage" in that org.
    pub fn create_role(
        &mut self,
        caller: &Caller,
        new: NewRole<'_>,
    ) -> Result<RoleDefinition, DomainError> {
        self.require_session(caller, "manage roles")?;
        match new.org_name {
            None => {
                self.require(caller, Right::GlobalRoleManage)?;
                if !caller.account.org.is_provider {
                    return Err(self.deny(caller, "only the provider defines global roles".into()));
                }
            }
            Some(org) => {
                self.require(caller, Right::RoleManage)?;
                self.visible_org(caller, org)?;
            }
        }
        self.add_role(Actor::Caller(caller), new)
    }

    /// Publishes a global role to an org, or withdraws it: the provider,
    /// with "Global Role: Manage".
    pub fn publish_role_by_id(
        &mut self,
        caller: &Caller,
        role_id: &str,
        org_name: &str,
        published: bool,
    ) -> Result<RoleDefinition, DomainError> {
        self.require_provider(caller, Right::GlobalRoleManage, "publish global roles")?;
        let role = self.role_in_reach(caller, role_id)?;
        let changed = self.publish_role(Actor::Caller(caller), &role, org_name, published)?;
        if !published && !changed {
            return Err(DomainError::NotFound(format!(
                "the role is not published to {org_name:?}"
            )));
        }
        self.role_in_reach(caller, role_id)
    }

    /// Replaces a role's permissions: an org's own with "Role: Manage"
    /// there, a global one as the provider with "Global Role: Manage".
    /// Built-in roles do not change.
    pub fn set_role_permissions(
        &mut self,
        caller: &Caller,
        role_id: &str,
        permissions: &[String],
    ) -> Result<RoleDefinition, DomainError> {
        let role = self.role_to_change(caller, role_id)?;
        let permissions = self.checked_permissions(role.service.as_deref(), permissions)?;
        // Its holders gain what is added and lose what is taken away.
        let touched: Vec<String> = role
            .permissions
            .iter()
            .chain(&permissions)
            .cloned()
            .collect();
        self.require_permissions_within_ceiling(Actor::Caller(caller), &touched)?;
        let id = role.id.clone();
        let changed = RoleDefinition {
            permissions: permissions.clone(),
            ..role
        };
        let event = self.on_role(
            self.event_by(Actor::Caller(caller), "role.update")?,
            &changed,
        );
        self.write_recorded(event, move |tx| tx.set_role_permissions(&id, &permissions))?;
        self.role_in_reach(caller, role_id)
    }

    /// Deletes a role no user or group holds (else 409).
    pub fn delete_role(&mut self, caller: &Caller, role_id: &str) -> Result<(), DomainError> {
        let role = self.role_to_change(caller, role_id)?;
        let id = role.id.clone();
        let event = self.on_role(self.event_by(Actor::Caller(caller), "role.delete")?, &role);
        if !self.write_if_changed(event, move |tx| tx.delete_unused_role(&id))? {
            return Err(DomainError::Conflict(format!(
                "role {:?} is still held by users or groups",
                role.name
            )));
        }
        Ok(())
    }

    fn role_to_change(
        &self,
        caller: &Caller,
        role_id: &str,
    ) -> Result<RoleDefinition, DomainError> {
        let role = self.role_in_reach(caller, role_id)?;
        match &role.org_id {
            None => {
                self.require_provider(caller, Right::GlobalRoleManage, "change global roles")?
            }
            Some(_) => {
                self.require_session(caller, "manage roles")?;
                self.require(caller, Right::RoleManage)?;
            }
        }
        if role.org_id.is_none() && crate::domain::directory::rights::is_builtin_role(&role.name) {
            return Err(DomainError::Invalid(format!(
                "the built-in role {:?} cannot be changed",
                role.name
            )));
        }
        Ok(role)
    }

    /// A role the caller may see: its org's own, a global one published to
    /// its org, any for the provider.
    fn role_in_reach(&self, caller: &Caller, id: &str) -> Result<RoleDefinition, DomainError> {
        self.require(caller, Right::RoleView)?;
        let not_found = || DomainError::NotFound("no such role".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        let role = self.db().role_by_id(&id)?.ok_or_else(not_found)?;
        if self.sees_every_org(caller) {
            return Ok(role);
        }
        let org = &caller.account.org.id;
        let visible = match &role.org_id {
            Some(owner) => owner == org,
            None => role.published_to_all || self.db().role_published_to(&role.id, org)?,
        };
        if visible {
            Ok(role)
        } else {
            Err(not_found())
        }
    }

    /// Grants a role to a user in the caller's reach, or takes it back.
    /// Returns false when nothing changed.
    pub fn set_user_role(
        &mut self,
        caller: &Caller,
        user_id: &str,
        role_name: &str,
        granted: bool,
    ) -> Result<bool, DomainError> {
        self.require_session(caller, "manage users")?;
        self.require(caller, Right::UserManage)?;
        let user = self.user_in_reach(caller, user_id)?;
        self.set_role_granted(
            Actor::Caller(caller),
            &user.org_name,
            &user.name,
            role_name,
            granted,
        )
    }

    /// The groups the caller may see.
    pub fn groups_in_reach(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<GroupPage, DomainError> {
        self.require(caller, Right::GroupView)?;
        let filter = DirectoryFilter {
            org_id: (!self.sees_every_org(caller)).then(|| caller.account.org.id.clone()),
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().groups(&filter)?)
    }

    pub fn create_group(
        &mut self,
        caller: &Caller,
        org_name: &str,
        name: &str,
    ) -> Result<GroupSummary, DomainError> {
        self.require_session(caller, "manage groups")?;
        self.require(caller, Right::GroupManage)?;
        self.visible_org(caller, org_name)?;
        let group = self.add_group(Actor::Caller(caller), org_name, name)?;
        self.group_in_reach(caller, &group.id)
    }

    /// Puts a user of the group's org into the group, or takes it out.
    pub fn set_group_member_by_id(
        &mut self,
        caller: &Caller,
        group_id: &str,
        user_id: &str,
        member: bool,
    ) -> Result<GroupSummary, DomainError> {
        self.require_session(caller, "manage groups")?;
        self.require(caller, Right::GroupManage)?;
        let group = self.group_in_reach(caller, group_id)?;
        let user = self.user_in_reach(caller, user_id)?;
        if user.org_id != group.org_id {
            return Err(DomainError::NotFound(
                "no such user in the group's org".into(),
            ));
        }
        let changed = self.set_group_member(
            Actor::Caller(caller),
            &group.org_name,
            &group.name,
            &user.name,
            member,
        )?;
        if !member && !changed {
            return Err(DomainError::NotFound("the user is not in the group".into()));
        }
        self.group_in_reach(caller, group_id)
    }

    /// Grants a role to a group in reach, or takes it back.
    pub fn set_group_role_by_id(
        &mut self,
        caller: &Caller,
        group_id: &str,
        role_name: &str,
        granted: bool,
    ) -> Result<GroupSummary, DomainError> {
        self.require_session(caller, "manage groups")?;
        self.require(caller, Right::GroupManage)?;
        let group = self.group_in_reach(caller, group_id)?;
        let changed = self.set_group_role(
            Actor::Caller(caller),
            &group.org_name,
            &group.name,
            role_name,
            granted,
        )?;
        if !granted && !changed {
            return Err(DomainError::NotFound(
                "the group does not hold the role".into(),
            ));
        }
        self.group_in_reach(caller, group_id)
    }

    /// The registered services and their permissions.
    pub fn services_in_reach(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<ServicePage, DomainError> {
        self.require(caller, Right::RoleView)?;
        let filter = DirectoryFilter {
            org_id: None,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().services(&filter)?)
    }

    /// Registers a service: the provider, with "Rights Bundle: Manage"
    /// (which permissions exist is what bundles hand out).
    pub fn create_service(
        &mut self,
        caller: &Caller,
        name: &str,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "register services")?;
        self.add_service(Actor::Caller(caller), name, permissions)
    }

    /// Adds permissions to a service (by id), as the provider.
    pub fn extend_service_by_id(
        &mut self,
        caller: &Caller,
        service_id: &str,
        permissions: &[String],
    ) -> Result<Service, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "register services")?;
        let name = self.service_name(service_id)?;
        self.extend_service(Actor::Caller(caller), &name, permissions)
    }

    /// Replaces a bundle's permissions, as the provider.
    pub fn set_bundle_permissions_by_id(
        &mut self,
        caller: &Caller,
        bundle_id: &str,
        permissions: &[String],
    ) -> Result<BundleSummary, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "manage rights bundles")?;
        let bundle = self.bundle_by_id(bundle_id)?;
        self.set_bundle_permissions(Actor::Caller(caller), &bundle.name, permissions)?;
        self.bundle_by_id(bundle_id)
    }

    /// New introspection credentials for a service (by id), as the provider.
    pub fn create_service_client(
        &mut self,
        caller: &Caller,
        service_id: &str,
    ) -> Result<crate::domain::ClientCredentials, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "manage services")?;
        let name = self.service_name(service_id)?;
        self.add_introspection_client(Actor::Caller(caller), &name)
    }

    /// A service's active introspection clients, as the provider.
    pub fn service_clients(
        &self,
        caller: &Caller,
        service_id: &str,
    ) -> Result<Vec<crate::domain::IntrospectionClient>, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "manage services")?;
        let name = self.service_name(service_id)?;
        self.introspection_clients(&name)
    }

    /// Revokes one of a service's introspection clients, as the provider.
    pub fn revoke_service_client(
        &mut self,
        caller: &Caller,
        service_id: &str,
        client_id: &str,
    ) -> Result<(), DomainError> {
        let clients = self.service_clients(caller, service_id)?;
        if !clients.iter().any(|c| c.id == client_id) {
            return Err(DomainError::NotFound(
                "no such introspection client of this service".into(),
            ));
        }
        self.revoke_introspection_client(Actor::Caller(caller), client_id)
    }

    fn service_name(&self, id: &str) -> Result<String, DomainError> {
        let not_found = || DomainError::NotFound("no such service".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        Ok(self.db().service_by_id(&id)?.ok_or_else(not_found)?.name)
    }

    /// The bundles the caller may see: those published to its org; every
    /// bundle, for the provider.
    pub fn bundles_in_reach(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<BundlePage, DomainError> {
        self.require(caller, Right::RightsBundleView)?;
        let filter = DirectoryFilter {
            org_id: (!self.sees_every_org(caller)).then(|| caller.account.org.id.clone()),
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().rights_bundles(&filter)?)
    }

    pub fn create_bundle(
        &mut self,
        caller: &Caller,
        name: &str,
        permissions: &[String],
    ) -> Result<BundleSummary, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "manage rights bundles")?;
        let bundle = self.add_rights_bundle(Actor::Caller(caller), name, permissions)?;
        self.bundle_by_id(&bundle.id)
    }

    /// Publishes a bundle to an org, or withdraws it.
    pub fn publish_bundle(
        &mut self,
        caller: &Caller,
        bundle_id: &str,
        org_name: &str,
        published: bool,
    ) -> Result<BundleSummary, DomainError> {
        self.require_provider(caller, Right::RightsBundleManage, "manage rights bundles")?;
        let bundle = self.bundle_by_id(bundle_id)?;
        let changed =
            self.set_bundle_published(Actor::Caller(caller), &bundle.name, org_name, published)?;
        if !published && !changed {
            return Err(DomainError::NotFound(format!(
                "the bundle is not published to {org_name:?}"
            )));
        }
        self.bundle_by_id(&bundle.id)
    }

    /// Adds a tenant org: the provider, with "Organization: Manage".
    pub fn create_org(&mut self, caller: &Caller, name: &str) -> Result<Org, DomainError> {
        self.require_provider(caller, Right::OrgManage, "add organizations")?;
        self.add_org(Actor::Caller(caller), name)
    }

    fn bundle_by_id(&self, id: &str) -> Result<BundleSummary, DomainError> {
        let not_found = || DomainError::NotFound("no such rights bundle".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        self.db().rights_bundle_by_id(&id)?.ok_or_else(not_found)
    }

    pub fn group_in_reach(&self, caller: &Caller, id: &str) -> Result<GroupSummary, DomainError> {
        self.require(caller, Right::GroupView)?;
        let not_found = || DomainError::NotFound("no such group".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        let group = self.db().group_by_id(&id)?.ok_or_else(not_found)?;
        if !self.sees_every_org(caller) && group.org_id != caller.account.org.id {
            return Err(not_found());
        }
        Ok(group)
    }
}

impl Authority {}
