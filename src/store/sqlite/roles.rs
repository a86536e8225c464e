//! Services, their permissions, roles as bundles of permissions, groups, and
//! which users and groups hold which roles. Permissions travel as `service:permission` ids;
//! the tables keep the service's id and the permission's name.

use rusqlite::{params, Connection, OptionalExtension};

use super::{like_pattern, listing, Conditions};
use crate::domain::records::{
    BundlePage, BundleSummary, DirectoryFilter, Group, GroupPage, GroupSummary, RightsBundle,
    RoleDefinition, RolePage, Service, ServicePage,
};
use crate::domain::storage::{RoleReads, RoleWrites, StoreError, StoreResult};

const ROLE: &str = "SELECT r.id, r.name, r.org_id, s.name, r.provider_only, r.created_at,
        r.published_to_all,
        (SELECT group_concat(ps.name || ':' || rp.permission, ' ')
         FROM role_permissions rp JOIN services ps ON ps.id = rp.service_id
         WHERE rp.role_id = r.id)
    FROM roles r LEFT JOIN services s ON s.id = r.service_id";

fn role_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RoleDefinition> {
    let mut permissions: Vec<String> = r
        .get::<_, Option<String>>(7)?
        .map(|list| list.split(' ').map(String::from).collect())
        .unwrap_or_default();
    permissions.sort();
    Ok(RoleDefinition {
        id: r.get(0)?,
        name: r.get(1)?,
        org_id: r.get(2)?,
        service: r.get(3)?,
        provider_only: r.get(4)?,
        published_to_all: r.get(6)?,
        permissions,
        created_at: r.get(5)?,
    })
}

const GROUP: &str = "SELECT g.id, g.name, o.id, o.name,
        (SELECT group_concat(gm.user_id, ' ') FROM group_members gm WHERE gm.group_id = g.id),
        (SELECT group_concat(r.name, char(31)) FROM group_roles gr
         JOIN roles r ON r.id = gr.role_id WHERE gr.group_id = g.id)
    FROM groups g JOIN orgs o ON o.id = g.org_id";

fn group_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupSummary> {
    Ok(GroupSummary {
        id: r.get(0)?,
        name: r.get(1)?,
        org_id: r.get(2)?,
        org_name: r.get(3)?,
        members: split_sorted(r.get(4)?, ' '),
        roles: split_sorted(r.get(5)?, '\u{1f}'),
    })
}

const SERVICE: &str = "SELECT s.id, s.name, s.created_at,
        (SELECT group_concat(p.name, ' ') FROM permissions p WHERE p.service_id = s.id),
        s.identifier
    FROM services s";

fn service_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Service> {
    Ok(Service {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        permissions: split_sorted(r.get(3)?, ' '),
        identifier: r.get(4)?,
    })
}

const BUNDLE: &str = "SELECT b.id, b.name, b.publish_to_new_orgs,
        (SELECT group_concat(s.name || ':' || bp.permission, ' ') FROM bundle_permissions bp
         JOIN services s ON s.id = bp.service_id WHERE bp.bundle_id = b.id),
        (SELECT group_concat(o.name, ' ') FROM bundle_orgs bo
         JOIN orgs o ON o.id = bo.org_id WHERE bo.bundle_id = b.id)
    FROM rights_bundles b";

fn bundle_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BundleSummary> {
    Ok(BundleSummary {
        id: r.get(0)?,
        name: r.get(1)?,
        publish_to_new_orgs: r.get(2)?,
        permissions: split_sorted(r.get(3)?, ' '),
        orgs: split_sorted(r.get(4)?, ' '),
    })
}

/// A `group_concat` list, split and sorted; NULL is empty.
fn split_sorted(list: Option<String>, at: char) -> Vec<String> {
    let mut items: Vec<String> = list
        .map(|l| l.split(at).map(String::from).collect())
        .unwrap_or_default();
    items.sort();
    items
}

impl RoleReads for Connection {
    fn services(&self, filter: &DirectoryFilter) -> StoreResult<ServicePage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        conditions.name_like("s.name", &pattern);
        let (services, total) = listing(
            self,
            "services s",
            SERVICE,
            conditions,
            "s.name",
            Some((filter.offset, filter.limit)),
            service_from_row,
        )?;
        Ok(ServicePage { services, total })
    }

    fn service_by_id(&self, id: &str) -> StoreResult<Option<Service>> {
        let mut stmt = self.prepare_cached(&format!("{SERVICE} WHERE s.id = ?1"))?;
        Ok(stmt.query_row([id], service_from_row).optional()?)
    }

    fn service_by_identifier(&self, identifier: &str) -> StoreResult<Option<Service>> {
        let mut stmt = self.prepare_cached(&format!("{SERVICE} WHERE s.identifier = ?1"))?;
        Ok(stmt.query_row([identifier], service_from_row).optional()?)
    }

    fn rights_bundle_by_id(&self, id: &str) -> StoreResult<Option<BundleSummary>> {
        let mut stmt = self.prepare_cached(&format!("{BUNDLE} WHERE b.id = ?1"))?;
        Ok(stmt.query_row([id], bundle_from_row).optional()?)
    }

    fn rights_bundles(&self, filter: &DirectoryFilter) -> StoreResult<BundlePage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            conditions.push(
                "EXISTS (SELECT 1 FROM bundle_orgs bo WHERE bo.bundle_id = b.id AND bo.org_id = ?)",
                &[org_id],
            );
        }
        conditions.name_like("b.name", &pattern);
        let (bundles, total) = listing(
            self,
            "rights_bundles b",
            BUNDLE,
            conditions,
            "b.name",
            Some((filter.offset, filter.limit)),
            bundle_from_row,
        )?;
        Ok(BundlePage { bundles, total })
    }

    fn role_published_to(&self, role_id: &str, org_id: &str) -> StoreResult<bool> {
        Ok(self
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM role_orgs WHERE role_id = ?1 AND org_id = ?2)",
            )?
            .query_row(params![role_id, org_id], |r| r.get(0))?)
    }

    fn role_by_id(&self, id: &str) -> StoreResult<Option<RoleDefinition>> {
        let mut stmt = self.prepare_cached(&format!("{ROLE} WHERE r.id = ?1"))?;
        Ok(stmt.query_row([id], role_from_row).optional()?)
    }

    fn roles(&self, filter: &DirectoryFilter) -> StoreResult<RolePage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            // The org's own roles, and the global ones published to it.
            conditions.push(
                "(r.org_id = ? OR (r.org_id IS NULL AND (r.published_to_all = 1
                  OR EXISTS (SELECT 1 FROM role_orgs ro WHERE ro.role_id = r.id AND ro.org_id = ?))))",
                &[org_id, org_id],
            );
        }
        conditions.name_like("r.name", &pattern);
        let (roles, total) = listing(
            self,
            "roles r",
            ROLE,
            conditions,
            "r.org_id IS NOT NULL, r.name, r.id",
            Some((filter.offset, filter.limit)),
            role_from_row,
        )?;
        Ok(RolePage { roles, total })
    }

    fn group_by_id(&self, id: &str) -> StoreResult<Option<GroupSummary>> {
        let mut stmt = self.prepare_cached(&format!("{GROUP} WHERE g.id = ?1"))?;
        Ok(stmt.query_row([id], group_from_row).optional()?)
    }

    fn groups(&self, filter: &DirectoryFilter) -> StoreResult<GroupPage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            conditions.push("g.org_id = ?", &[org_id]);
        }
        conditions.name_like("g.name", &pattern);
        let (groups, total) = listing(
            self,
            "groups g JOIN orgs o ON o.id = g.org_id",
            GROUP,
            conditions,
            "o.name, g.name, g.id",
            Some((filter.offset, filter.limit)),
            group_from_row,
        )?;
        Ok(GroupPage { groups, total })
    }

    fn role(&self, org_id: Option<&str>, name: &str) -> StoreResult<Option<RoleDefinition>> {
        // `org_id IS ?1` matches NULL to NULL: the global roles.
        let mut stmt =
            self.prepare_cached(&format!("{ROLE} WHERE r.org_id IS ?1 AND r.name = ?2"))?;
        Ok(stmt
            .query_row(params![org_id, name], role_from_row)
            .optional()?)
    }

    fn service(&self, name: &str) -> StoreResult<Option<Service>> {
        let mut stmt = self.prepare_cached(
            "SELECT id, name, created_at, identifier FROM services WHERE name = ?1",
        )?;
        let found = stmt
            .query_row([name], |r| {
                Ok(Service {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    permissions: Vec::new(),
                    created_at: r.get(2)?,
                    identifier: r.get(3)?,
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
            "INSERT INTO services (id, name, created_at, identifier) VALUES (?1, ?2, ?3, ?4)",
            params![
                service.id,
                service.name,
                service.created_at,
                service.identifier
            ],
        )?;
        for permission in &service.permissions {
            self.add_permission(&service.id, permission)?;
        }
        Ok(())
    }

    fn set_service_identifier(
        &self,
        service_id: &str,
        identifier: Option<&str>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE services SET identifier = ?2 WHERE id = ?1",
            params![service_id, identifier],
        )?;
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
            "INSERT INTO roles
                 (id, name, org_id, service_id, provider_only, published_to_all, created_at)
             SELECT ?1, ?2, ?3, (SELECT id FROM services WHERE name = ?4), ?5, ?6, ?7
             WHERE ?4 IS NULL OR EXISTS (SELECT 1 FROM services WHERE name = ?4)",
            params![
                role.id,
                role.name,
                role.org_id,
                role.service,
                role.provider_only,
                role.published_to_all,
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

    fn set_role_published(
        &self,
        role_id: &str,
        org_id: &str,
        published: bool,
    ) -> StoreResult<bool> {
        let sql = if published {
            "INSERT INTO role_orgs (role_id, org_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM role_orgs WHERE role_id = ?1 AND org_id = ?2"
        };
        Ok(self.execute(sql, params![role_id, org_id])? == 1)
    }

    fn set_role_permissions(&self, role_id: &str, permissions: &[String]) -> StoreResult<()> {
        self.execute("DELETE FROM role_permissions WHERE role_id = ?1", [role_id])?;
        for permission in permissions {
            self.add_role_permission(role_id, permission)?;
        }
        Ok(())
    }

    fn delete_unused_role(&self, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "DELETE FROM roles WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM user_roles WHERE role_id = ?1)
               AND NOT EXISTS (SELECT 1 FROM group_roles WHERE role_id = ?1)",
            [role_id],
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

    fn set_bundle_permissions(&self, bundle_id: &str, permissions: &[String]) -> StoreResult<()> {
        self.execute(
            "DELETE FROM bundle_permissions WHERE bundle_id = ?1",
            [bundle_id],
        )?;
        for permission in permissions {
            self.add_bundle_permission(bundle_id, permission)?;
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

    fn publish_new_org_bundles(&self, org_id: &str) -> StoreResult<u64> {
        let published = self.execute(
            "INSERT INTO bundle_orgs (bundle_id, org_id)
             SELECT id, ?1 FROM rights_bundles WHERE publish_to_new_orgs = 1
             ON CONFLICT DO NOTHING",
            [org_id],
        )?;
        Ok(published as u64)
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
