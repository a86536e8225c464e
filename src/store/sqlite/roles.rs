//! Services, their permissions, roles as bundles of permissions, groups, and
//! which users and groups hold which roles. Permissions travel as `service:permission` ids;
//! the tables keep the service's id and the permission's name.

use rusqlite::{params, Connection, OptionalExtension};

use crate::domain::records::{Group, RightsBundle, RoleDefinition, Service};
use crate::domain::storage::{RoleReads, RoleWrites, StoreError, StoreResult};

impl RoleReads for Connection {
    fn role(&self, org_id: Option<&str>, name: &str) -> StoreResult<Option<RoleDefinition>> {
        // `org_id IS ?1` matches NULL to NULL: the global roles.
        let mut stmt = self.prepare_cached(
            "SELECT r.id, r.name, r.org_id, s.name, r.provider_only, r.created_at
             FROM roles r LEFT JOIN services s ON s.id = r.service_id
             WHERE r.org_id IS ?1 AND r.name = ?2",
        )?;
        let found = stmt
            .query_row(params![org_id, name], |r| {
                Ok(RoleDefinition {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    org_id: r.get(2)?,
                    service: r.get(3)?,
                    provider_only: r.get(4)?,
                    permissions: Vec::new(),
                    created_at: r.get(5)?,
                })
            })
            .optional()?;
        let Some(mut role) = found else {
            return Ok(None);
        };
        let mut stmt = self.prepare_cached(
            "SELECT s.name || ':' || rp.permission FROM role_permissions rp
             JOIN services s ON s.id = rp.service_id
             WHERE rp.role_id = ?1 ORDER BY 1",
        )?;
        role.permissions = stmt
            .query_map([&role.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(role))
    }

    fn service(&self, name: &str) -> StoreResult<Option<Service>> {
        let mut stmt =
            self.prepare_cached("SELECT id, name, created_at FROM services WHERE name = ?1")?;
        let found = stmt
            .query_row([name], |r| {
                Ok(Service {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    permissions: Vec::new(),
                    created_at: r.get(2)?,
                })
            })
            .optional()?;
        let Some(mut service) = found else {
            return Ok(None);
        };
        let mut stmt = self
            .prepare_cached("SELECT name FROM permissions WHERE service_id = ?1 ORDER BY name")?;
        service.permissions = stmt
            .query_map([&service.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(service))
    }

    fn rights_bundle(&self, name: &str) -> StoreResult<Option<RightsBundle>> {
        let mut stmt =
            self.prepare_cached("SELECT id, name, created_at FROM rights_bundles WHERE name = ?1")?;
        let found = stmt
            .query_row([name], |r| {
                Ok(RightsBundle {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    permissions: Vec::new(),
                    created_at: r.get(2)?,
                })
            })
            .optional()?;
        let Some(mut bundle) = found else {
            return Ok(None);
        };
        let mut stmt = self.prepare_cached(
            "SELECT s.name || ':' || bp.permission FROM bundle_permissions bp
             JOIN services s ON s.id = bp.service_id
             WHERE bp.bundle_id = ?1 ORDER BY 1",
        )?;
        bundle.permissions = stmt
            .query_map([&bundle.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(bundle))
    }

    fn group(&self, org_id: &str, name: &str) -> StoreResult<Option<Group>> {
        let mut stmt = self.prepare_cached(
            "SELECT id, org_id, name, created_at FROM groups WHERE org_id = ?1 AND name = ?2",
        )?;
        Ok(stmt
            .query_row(params![org_id, name], |r| {
                Ok(Group {
                    id: r.get(0)?,
                    org_id: r.get(1)?,
                    name: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .optional()?)
    }
}

impl RoleWrites for Connection {
    fn insert_service(&self, service: &Service) -> StoreResult<()> {
        self.execute(
            "INSERT INTO services (id, name, created_at) VALUES (?1, ?2, ?3)",
            params![service.id, service.name, service.created_at],
        )?;
        for permission in &service.permissions {
            self.add_permission(&service.id, permission)?;
        }
        Ok(())
    }

    fn add_permission(&self, service_id: &str, name: &str) -> StoreResult<()> {
        let mut stmt = self.prepare_cached(
            "INSERT INTO permissions (service_id, name) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
        )?;
        stmt.execute(params![service_id, name])?;
        Ok(())
    }

    fn insert_role(&self, role: &RoleDefinition) -> StoreResult<()> {
        let inserted = self.execute(
            "INSERT INTO roles (id, name, org_id, service_id, provider_only, created_at)
             SELECT ?1, ?2, ?3, (SELECT id FROM services WHERE name = ?4), ?5, ?6
             WHERE ?4 IS NULL OR EXISTS (SELECT 1 FROM services WHERE name = ?4)",
            params![
                role.id,
                role.name,
                role.org_id,
                role.service,
                role.provider_only,
                role.created_at
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::Missing(format!(
                "service {:?}",
                role.service.as_deref().unwrap_or_default()
            )));
        }
        for permission in &role.permissions {
            self.add_role_permission(&role.id, permission)?;
        }
        Ok(())
    }

    fn add_role_permission(&self, role_id: &str, permission: &str) -> StoreResult<()> {
        let missing = || StoreError::Missing(format!("permission {permission:?}"));
        let (service, name) = permission.split_once(':').ok_or_else(missing)?;
        let changed = self
            .prepare_cached(
                "INSERT INTO role_permissions (role_id, service_id, permission)
                 SELECT ?1, p.service_id, p.name FROM permissions p
                 JOIN services s ON s.id = p.service_id
                 WHERE s.name = ?2 AND p.name = ?3
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![role_id, service, name])?;
        if changed == 0 && !self.permission_exists(service, name)? {
            return Err(missing());
        }
        Ok(())
    }

    fn grant_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO user_roles (user_id, role_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![user_id, role_id],
        )?;
        Ok(changed == 1)
    }

    fn revoke_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "DELETE FROM user_roles WHERE user_id = ?1 AND role_id = ?2",
            params![user_id, role_id],
        )?;
        Ok(changed == 1)
    }

    fn insert_group(&self, group: &Group) -> StoreResult<()> {
        self.execute(
            "INSERT INTO groups (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![group.id, group.org_id, group.name, group.created_at],
        )?;
        Ok(())
    }

    fn set_group_member(&self, group_id: &str, user_id: &str, member: bool) -> StoreResult<bool> {
        let sql = if member {
            "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2"
        };
        Ok(self.execute(sql, params![group_id, user_id])? == 1)
    }

    fn insert_rights_bundle(&self, bundle: &RightsBundle) -> StoreResult<()> {
        self.execute(
            "INSERT INTO rights_bundles (id, name, created_at) VALUES (?1, ?2, ?3)",
            params![bundle.id, bundle.name, bundle.created_at],
        )?;
        for permission in &bundle.permissions {
            self.add_bundle_permission(&bundle.id, permission)?;
        }
        Ok(())
    }

    fn add_bundle_permission(&self, bundle_id: &str, permission: &str) -> StoreResult<()> {
        let missing = || StoreError::Missing(format!("permission {permission:?}"));
        let (service, name) = permission.split_once(':').ok_or_else(missing)?;
        let changed = self
            .prepare_cached(
                "INSERT INTO bundle_permissions (bundle_id, service_id, permission)
                 SELECT ?1, p.service_id, p.name FROM permissions p
                 JOIN services s ON s.id = p.service_id
                 WHERE s.name = ?2 AND p.name = ?3
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![bundle_id, service, name])?;
        if changed == 0 && !self.permission_exists(service, name)? {
            return Err(missing());
        }
        Ok(())
    }

    fn set_bundle_published(
        &self,
        bundle_id: &str,
        org_id: &str,
        published: bool,
    ) -> StoreResult<bool> {
        let sql = if published {
            "INSERT INTO bundle_orgs (bundle_id, org_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM bundle_orgs WHERE bundle_id = ?1 AND org_id = ?2"
        };
        Ok(self.execute(sql, params![bundle_id, org_id])? == 1)
    }

    fn set_group_role(&self, group_id: &str, role_id: &str, granted: bool) -> StoreResult<bool> {
        let sql = if granted {
            "INSERT INTO group_roles (group_id, role_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_roles WHERE group_id = ?1 AND role_id = ?2"
        };
        Ok(self.execute(sql, params![group_id, role_id])? == 1)
    }
}

/// Whether `service:name` is a known permission.
trait PermissionLookup {
    fn permission_exists(&self, service: &str, name: &str) -> StoreResult<bool>;
}

impl PermissionLookup for Connection {
    fn permission_exists(&self, service: &str, name: &str) -> StoreResult<bool> {
        Ok(self
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM permissions p JOIN services s ON s.id = p.service_id
                 WHERE s.name = ?1 AND p.name = ?2)",
            )?
            .query_row(params![service, name], |r| r.get(0))?)
    }
}
