//! Services, their permissions, roles as bundles of permissions, groups, and
//! which users and groups hold which roles. Permissions travel as `service:permission` ids;
//! the tables keep the service's id and the permission's name as the
//! permission spells it.

use tokio_postgres::Row;

use super::listing::{like_pattern, listing, Conditions};
use super::PgConn;
use crate::domain::records::{
    BundlePage, BundleSummary, DirectoryFilter, Group, GroupPage, GroupSummary, RightsBundle,
    RoleDefinition, RolePage, Service, ServicePage,
};
use crate::domain::storage::{RoleReads, RoleWrites, StoreError, StoreResult};

const ROLE: &str = "SELECT r.id, r.name, r.org_id, s.name, r.provider_only, r.created_at,
        r.published_to_all,
        (SELECT array_agg(ps.name || ':' || rp.permission)
         FROM role_permissions rp JOIN services ps ON ps.id = rp.service_id
         WHERE rp.role_id = r.id)
    FROM roles r LEFT JOIN services s ON s.id = r.service_id";

fn role_from_row(r: &Row) -> StoreResult<RoleDefinition> {
    Ok(RoleDefinition {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        org_id: r.try_get(2)?,
        service: r.try_get(3)?,
        provider_only: r.try_get(4)?,
        published_to_all: r.try_get(6)?,
        permissions: sorted(r.try_get(7)?),
        created_at: r.try_get(5)?,
    })
}

const GROUP: &str = "SELECT g.id, g.name, o.id, o.name,
        (SELECT array_agg(gm.user_id) FROM group_members gm WHERE gm.group_id = g.id),
        (SELECT array_agg(r.name) FROM group_roles gr
         JOIN roles r ON r.id = gr.role_id WHERE gr.group_id = g.id)
    FROM groups g JOIN orgs o ON o.id = g.org_id";

fn group_from_row(r: &Row) -> StoreResult<GroupSummary> {
    Ok(GroupSummary {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        org_id: r.try_get(2)?,
        org_name: r.try_get(3)?,
        members: sorted(r.try_get(4)?),
        roles: sorted(r.try_get(5)?),
    })
}

const SERVICE: &str = "SELECT s.id, s.name, s.created_at,
        (SELECT array_agg(p.name) FROM permissions p WHERE p.service_id = s.id),
        s.identifier
    FROM services s";

fn service_from_row(r: &Row) -> StoreResult<Service> {
    Ok(Service {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
        permissions: sorted(r.try_get(3)?),
        identifier: r.try_get(4)?,
    })
}

const BUNDLE: &str = "SELECT b.id, b.name, b.publish_to_new_orgs,
        (SELECT array_agg(s.name || ':' || bp.permission) FROM bundle_permissions bp
         JOIN services s ON s.id = bp.service_id WHERE bp.bundle_id = b.id),
        (SELECT array_agg(o.name) FROM bundle_orgs bo
         JOIN orgs o ON o.id = bo.org_id WHERE bo.bundle_id = b.id)
    FROM rights_bundles b";

fn bundle_from_row(r: &Row) -> StoreResult<BundleSummary> {
    Ok(BundleSummary {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        publish_to_new_orgs: r.try_get(2)?,
        permissions: sorted(r.try_get(3)?),
        orgs: sorted(r.try_get(4)?),
    })
}

/// An `array_agg` list, sorted (by bytes, as SQLite's listings sort them
/// after `group_concat`); NULL (no rows) is empty.
fn sorted(list: Option<Vec<String>>) -> Vec<String> {
    let mut items = list.unwrap_or_default();
    items.sort();
    items
}

impl RoleReads for PgConn {
    fn services(&self, filter: &DirectoryFilter) -> StoreResult<ServicePage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        conditions.name_like("s.name", &pattern);
        let (services, total) = listing(
            self,
            "services s",
            SERVICE,
            conditions,
            r#"tokend_fold(s.name) COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            service_from_row,
        )?;
        Ok(ServicePage { services, total })
    }

    fn service_by_id(&self, id: &str) -> StoreResult<Option<Service>> {
        self.query_opt(&format!("{SERVICE} WHERE s.id = $1"), &[&id])?
            .as_ref()
            .map(service_from_row)
            .transpose()
    }

    fn service_by_identifier(&self, identifier: &str) -> StoreResult<Option<Service>> {
        self.query_opt(
            &format!("{SERVICE} WHERE s.identifier = $1"),
            &[&identifier],
        )?
        .as_ref()
        .map(service_from_row)
        .transpose()
    }

    fn rights_bundle_by_id(&self, id: &str) -> StoreResult<Option<BundleSummary>> {
        self.query_opt(&format!("{BUNDLE} WHERE b.id = $1"), &[&id])?
            .as_ref()
            .map(bundle_from_row)
            .transpose()
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
            r#"tokend_fold(b.name) COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            bundle_from_row,
        )?;
        Ok(BundlePage { bundles, total })
    }

    fn role_published_to(&self, role_id: &str, org_id: &str) -> StoreResult<bool> {
        let row = self.query_one(
            "SELECT EXISTS (SELECT 1 FROM role_orgs WHERE role_id = $1 AND org_id = $2)",
            &[&role_id, &org_id],
        )?;
        Ok(row.try_get(0)?)
    }

    fn role_by_id(&self, id: &str) -> StoreResult<Option<RoleDefinition>> {
        self.query_opt(&format!("{ROLE} WHERE r.id = $1"), &[&id])?
            .as_ref()
            .map(role_from_row)
            .transpose()
    }

    fn roles(&self, filter: &DirectoryFilter) -> StoreResult<RolePage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            // The org's own roles, and the global ones published to it.
            conditions.push(
                "(r.org_id = ? OR (r.org_id IS NULL AND (r.published_to_all
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
            r#"r.org_id IS NOT NULL, tokend_fold(r.name) COLLATE "C", r.id COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            role_from_row,
        )?;
        Ok(RolePage { roles, total })
    }

    fn group_by_id(&self, id: &str) -> StoreResult<Option<GroupSummary>> {
        self.query_opt(&format!("{GROUP} WHERE g.id = $1"), &[&id])?
            .as_ref()
            .map(group_from_row)
            .transpose()
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
            r#"tokend_fold(o.name) COLLATE "C", tokend_fold(g.name) COLLATE "C", g.id COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            group_from_row,
        )?;
        Ok(GroupPage { groups, total })
    }

    fn role(&self, org_id: Option<&str>, name: &str) -> StoreResult<Option<RoleDefinition>> {
        // Two statements rather than `IS NOT DISTINCT FROM`, so that each
        // uses its partial unique index.
        let found = match org_id {
            None => self.query_opt(
                &format!("{ROLE} WHERE r.org_id IS NULL AND tokend_fold(r.name) = tokend_fold($1)"),
                &[&name],
            )?,
            Some(org_id) => self.query_opt(
                &format!("{ROLE} WHERE r.org_id = $1 AND tokend_fold(r.name) = tokend_fold($2)"),
                &[&org_id, &name],
            )?,
        };
        found.as_ref().map(role_from_row).transpose()
    }

    fn service(&self, name: &str) -> StoreResult<Option<Service>> {
        let found = self.query_opt(
            "SELECT id, name, created_at, identifier FROM services
             WHERE tokend_fold(name) = tokend_fold($1)",
            &[&name],
        )?;
        let Some(r) = found else {
            return Ok(None);
        };
        let mut service = Service {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            permissions: Vec::new(),
            created_at: r.try_get(2)?,
            identifier: r.try_get(3)?,
        };
        service.permissions = self
            .query(
                r#"SELECT name FROM permissions WHERE service_id = $1
                   ORDER BY tokend_fold(name) COLLATE "C""#,
                &[&service.id],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect::<StoreResult<_>>()?;
        Ok(Some(service))
    }

    fn rights_bundle(&self, name: &str) -> StoreResult<Option<RightsBundle>> {
        let found = self.query_opt(
            "SELECT id, name, created_at FROM rights_bundles
             WHERE tokend_fold(name) = tokend_fold($1)",
            &[&name],
        )?;
        let Some(r) = found else {
            return Ok(None);
        };
        let mut bundle = RightsBundle {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            permissions: Vec::new(),
            created_at: r.try_get(2)?,
        };
        bundle.permissions = self
            .query(
                r#"SELECT s.name || ':' || bp.permission FROM bundle_permissions bp
                   JOIN services s ON s.id = bp.service_id
                   WHERE bp.bundle_id = $1
                   ORDER BY (s.name || ':' || bp.permission) COLLATE "C""#,
                &[&bundle.id],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect::<StoreResult<_>>()?;
        Ok(Some(bundle))
    }

    fn group(&self, org_id: &str, name: &str) -> StoreResult<Option<Group>> {
        let found = self.query_opt(
            "SELECT id, org_id, name, created_at FROM groups
             WHERE org_id = $1 AND tokend_fold(name) = tokend_fold($2)",
            &[&org_id, &name],
        )?;
        let Some(r) = found else {
            return Ok(None);
        };
        Ok(Some(Group {
            id: r.try_get(0)?,
            org_id: r.try_get(1)?,
            name: r.try_get(2)?,
            created_at: r.try_get(3)?,
        }))
    }
}

impl RoleWrites for PgConn {
    fn insert_service(&self, service: &Service) -> StoreResult<()> {
        self.execute(
            "INSERT INTO services (id, name, created_at, identifier) VALUES ($1, $2, $3, $4)",
            &[
                &service.id,
                &service.name,
                &service.created_at,
                &service.identifier,
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
            "UPDATE services SET identifier = $2 WHERE id = $1",
            &[&service_id, &identifier],
        )?;
        Ok(())
    }

    fn add_permission(&self, service_id: &str, name: &str) -> StoreResult<()> {
        // No conflict target: a name the service has in another case is
        // the same permission (`permissions_by_name`).
        self.execute(
            "INSERT INTO permissions (service_id, name) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&service_id, &name],
        )?;
        Ok(())
    }

    fn insert_role(&self, role: &RoleDefinition) -> StoreResult<()> {
        let inserted = self.execute(
            "INSERT INTO roles
                 (id, name, org_id, service_id, provider_only, published_to_all, created_at)
             SELECT $1::TEXT, $2::TEXT, $3::TEXT,
                    (SELECT id FROM services WHERE tokend_fold(name) = tokend_fold($4)),
                    $5::BOOLEAN, $6::BOOLEAN, $7::BIGINT
             WHERE $4::TEXT IS NULL
                OR EXISTS (SELECT 1 FROM services WHERE tokend_fold(name) = tokend_fold($4))",
            &[
                &role.id,
                &role.name,
                &role.org_id,
                &role.service,
                &role.provider_only,
                &role.published_to_all,
                &role.created_at,
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
        // The permission's own spelling: the foreign key compares exactly.
        let changed = self.execute(
            "INSERT INTO role_permissions (role_id, service_id, permission)
             SELECT $1::TEXT, p.service_id, p.name FROM permissions p
             JOIN services s ON s.id = p.service_id
             WHERE tokend_fold(s.name) = tokend_fold($2) AND tokend_fold(p.name) = tokend_fold($3)
             ON CONFLICT DO NOTHING",
            &[&role_id, &service, &name],
        )?;
        if changed == 0 && !permission_exists(self, service, name)? {
            return Err(missing());
        }
        Ok(())
    }

    fn grant_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user_id, &role_id],
        )?;
        Ok(changed == 1)
    }

    fn revoke_role(&self, user_id: &str, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2",
            &[&user_id, &role_id],
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
            "INSERT INTO role_orgs (role_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM role_orgs WHERE role_id = $1 AND org_id = $2"
        };
        Ok(self.execute(sql, &[&role_id, &org_id])? == 1)
    }

    fn set_role_permissions(&self, role_id: &str, permissions: &[String]) -> StoreResult<()> {
        self.execute(
            "DELETE FROM role_permissions WHERE role_id = $1",
            &[&role_id],
        )?;
        for permission in permissions {
            self.add_role_permission(role_id, permission)?;
        }
        Ok(())
    }

    fn delete_unused_role(&self, role_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "DELETE FROM roles WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM user_roles WHERE role_id = $1)
               AND NOT EXISTS (SELECT 1 FROM group_roles WHERE role_id = $1)",
            &[&role_id],
        )?;
        Ok(changed == 1)
    }

    fn insert_group(&self, group: &Group) -> StoreResult<()> {
        self.execute(
            "INSERT INTO groups (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&group.id, &group.org_id, &group.name, &group.created_at],
        )?;
        Ok(())
    }

    fn set_group_member(&self, group_id: &str, user_id: &str, member: bool) -> StoreResult<bool> {
        let sql = if member {
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2"
        };
        Ok(self.execute(sql, &[&group_id, &user_id])? == 1)
    }

    fn insert_rights_bundle(&self, bundle: &RightsBundle) -> StoreResult<()> {
        self.execute(
            "INSERT INTO rights_bundles (id, name, created_at) VALUES ($1, $2, $3)",
            &[&bundle.id, &bundle.name, &bundle.created_at],
        )?;
        for permission in &bundle.permissions {
            self.add_bundle_permission(&bundle.id, permission)?;
        }
        Ok(())
    }

    fn set_bundle_permissions(&self, bundle_id: &str, permissions: &[String]) -> StoreResult<()> {
        self.execute(
            "DELETE FROM bundle_permissions WHERE bundle_id = $1",
            &[&bundle_id],
        )?;
        for permission in permissions {
            self.add_bundle_permission(bundle_id, permission)?;
        }
        Ok(())
    }

    fn add_bundle_permission(&self, bundle_id: &str, permission: &str) -> StoreResult<()> {
        let missing = || StoreError::Missing(format!("permission {permission:?}"));
        let (service, name) = permission.split_once(':').ok_or_else(missing)?;
        // The permission's own spelling: the foreign key compares exactly.
        let changed = self.execute(
            "INSERT INTO bundle_permissions (bundle_id, service_id, permission)
             SELECT $1::TEXT, p.service_id, p.name FROM permissions p
             JOIN services s ON s.id = p.service_id
             WHERE tokend_fold(s.name) = tokend_fold($2) AND tokend_fold(p.name) = tokend_fold($3)
             ON CONFLICT DO NOTHING",
            &[&bundle_id, &service, &name],
        )?;
        if changed == 0 && !permission_exists(self, service, name)? {
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
            "INSERT INTO bundle_orgs (bundle_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM bundle_orgs WHERE bundle_id = $1 AND org_id = $2"
        };
        Ok(self.execute(sql, &[&bundle_id, &org_id])? == 1)
    }

    fn publish_new_org_bundles(&self, org_id: &str) -> StoreResult<u64> {
        self.execute(
            "INSERT INTO bundle_orgs (bundle_id, org_id)
             SELECT id, $1 FROM rights_bundles WHERE publish_to_new_orgs
             ON CONFLICT DO NOTHING",
            &[&org_id],
        )
    }

    fn set_group_role(&self, group_id: &str, role_id: &str, granted: bool) -> StoreResult<bool> {
        let sql = if granted {
            "INSERT INTO group_roles (group_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_roles WHERE group_id = $1 AND role_id = $2"
        };
        Ok(self.execute(sql, &[&group_id, &role_id])? == 1)
    }
}

/// Whether `service:name` is a known permission.
fn permission_exists(conn: &PgConn, service: &str, name: &str) -> StoreResult<bool> {
    let row = conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM permissions p JOIN services s ON s.id = p.service_id
         WHERE tokend_fold(s.name) = tokend_fold($1) AND tokend_fold(p.name) = tokend_fold($2))",
        &[&service, &name],
    )?;
    Ok(row.try_get(0)?)
}
