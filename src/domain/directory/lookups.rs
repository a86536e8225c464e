//! What a caller may see of the directory, and the look-ups that resolve
//! an action's target: by id within a caller's reach (an org's admin sees
//! its org's roles and groups and the global roles, the provider every
//! org's; ids outside the reach are unknown), or by name for the admin
//! CLI. The actions themselves are in `catalog.rs` and `users.rs`.

use crate::domain::records::PageRequest;
use crate::domain::records::{
    BundlePage, BundleSummary, DirectoryFilter, GroupPage, GroupSummary, RoleDefinition, RolePage,
    Service, ServicePage,
};
use crate::domain::{parse_id, Actor, Authority, Caller, DomainError, Right};

impl Authority {
    /// The roles the caller may see: its org's and the global ones (every
    /// org's, for the provider and the CLI's operator).
    pub fn roles_in_reach(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<RolePage, DomainError> {
        let filter = DirectoryFilter {
            org_id: self.listing_reach(by, Right::RoleView)?,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().roles(&filter)?)
    }

    /// The groups the caller may see.
    pub fn groups_in_reach(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<GroupPage, DomainError> {
        let filter = DirectoryFilter {
            org_id: self.listing_reach(by, Right::GroupView)?,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().groups(&filter)?)
    }

    /// The registered services and their permissions.
    pub fn services_in_reach(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<ServicePage, DomainError> {
        // Every caller who may see roles sees every service.
        self.listing_reach(by, Right::RoleView)?;
        let filter = DirectoryFilter {
            org_id: None,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().services(&filter)?)
    }

    /// The bundles the caller may see: those published to its org; every
    /// bundle, for the provider.
    pub fn bundles_in_reach(
        &self,
        by: Actor<'_>,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<BundlePage, DomainError> {
        let filter = DirectoryFilter {
            org_id: self.listing_reach(by, Right::RightsBundleView)?,
            name_contains: name.map(str::to_lowercase),
            offset: page.offset(),
            limit: page.page_size,
        };
        Ok(self.db().rights_bundles(&filter)?)
    }

    /// A role by id: for a caller, one it may see ("Role: View"; its org's
    /// own, a global one published to its org, any for the provider).
    pub fn role_by_id(&self, by: Actor<'_>, id: &str) -> Result<RoleDefinition, DomainError> {
        match by {
            Actor::Caller(caller) => self.role_in_reach(caller, id),
            Actor::Operator => {
                let not_found = || DomainError::NotFound("no such role".into());
                let id = parse_id(id).ok_or_else(not_found)?;
                self.db().role_by_id(&id)?.ok_or_else(not_found)
            }
        }
    }

    /// A global role by id, to publish or withdraw: publishing is the
    /// provider's alone, so another caller is refused before the look-up
    /// (and learns nothing of roles outside its reach).
    pub fn role_to_publish(&self, by: Actor<'_>, id: &str) -> Result<RoleDefinition, DomainError> {
        self.require_provider_to(by, Right::GlobalRoleManage, "publish global roles")?;
        self.role_by_id(by, id)
    }

    /// A global role by name, for the CLI.
    pub fn global_role(&self, name: &str) -> Result<RoleDefinition, DomainError> {
        self.db()
            .role(None, name)?
            .ok_or_else(|| DomainError::NotFound(format!("no global role {name:?}")))
    }

    /// A role by name, for the CLI: `org`'s own, or a global one.
    pub fn role_by_name(
        &self,
        org_name: Option<&str>,
        name: &str,
    ) -> Result<RoleDefinition, DomainError> {
        let Some(org_name) = org_name else {
            return self.global_role(name);
        };
        let org = self.org(org_name)?;
        self.db()
            .role(Some(&org.id), name)?
            .ok_or_else(|| DomainError::NotFound(format!("no role {name:?} in org {org_name:?}")))
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

    /// A group by id: for a caller, one of its org ("Group: View"; every
    /// org's, for the provider).
    pub fn group_by_id(&self, by: Actor<'_>, id: &str) -> Result<GroupSummary, DomainError> {
        match by {
            Actor::Caller(caller) => self.group_in_reach(caller, id),
            Actor::Operator => {
                let not_found = || DomainError::NotFound("no such group".into());
                let id = parse_id(id).ok_or_else(not_found)?;
                self.db().group_by_id(&id)?.ok_or_else(not_found)
            }
        }
    }

    /// A group by its org's name and its own, for the CLI.
    pub fn group_by_name(&self, org_name: &str, name: &str) -> Result<GroupSummary, DomainError> {
        let org = self.org(org_name)?;
        let not_found = || DomainError::NotFound(format!("no group {name:?} in org {org_name:?}"));
        let group = self.db().group(&org.id, name)?.ok_or_else(not_found)?;
        self.db().group_by_id(&group.id)?.ok_or_else(not_found)
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

    /// A service by id.
    pub fn service_by_id(&self, id: &str) -> Result<Service, DomainError> {
        let not_found = || DomainError::NotFound("no such service".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        self.db().service_by_id(&id)?.ok_or_else(not_found)
    }

    /// A service by name, for the CLI.
    pub fn service_by_name(&self, name: &str) -> Result<Service, DomainError> {
        self.db()
            .service(name)?
            .ok_or_else(|| DomainError::NotFound(format!("no service {name:?}")))
    }

    /// A rights bundle by id.
    pub fn bundle_by_id(&self, id: &str) -> Result<BundleSummary, DomainError> {
        let not_found = || DomainError::NotFound("no such rights bundle".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        self.db().rights_bundle_by_id(&id)?.ok_or_else(not_found)
    }

    /// A rights bundle by name, for the CLI.
    pub fn bundle_by_name(&self, name: &str) -> Result<BundleSummary, DomainError> {
        let bundle = self
            .db()
            .rights_bundle(name)?
            .ok_or_else(|| DomainError::NotFound(format!("no rights bundle {name:?}")))?;
        self.bundle_by_id(&bundle.id)
    }
}
