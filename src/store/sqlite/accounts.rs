//! Orgs, users (with the roles they hold) and the login unlocks an admin
//! records.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{listing, Conditions};
use crate::domain::records::{
    Account, DirectoryFilter, HeldRole, NewUser, Org, OrgPage, UserFilter, UserPage, UserSummary,
};
use crate::domain::storage::{AccountReads, AccountWrites, StoreError, StoreResult};

const ORG_COLUMNS: &str = "id, name, is_provider, created_at";

impl AccountReads for Connection {
    fn provider_org(&self) -> StoreResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE is_provider = 1");
        Ok(self.query_row(&sql, [], org_from_row).optional()?)
    }

    fn org_by_name(&self, name: &str) -> StoreResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = ?1");
        Ok(self.query_row(&sql, [name], org_from_row).optional()?)
    }

    fn orgs(&self, filter: &DirectoryFilter) -> StoreResult<OrgPage> {
        let pattern = super::like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(org_id) = &filter.org_id {
            conditions.push("id = ?", &[org_id]);
        }
        conditions.name_like("name", &pattern);
        let (orgs, total) = listing(
            self,
            "orgs",
            &format!("SELECT {ORG_COLUMNS} FROM orgs"),
            conditions,
            "is_provider DESC, name",
            Some((filter.offset, filter.limit)),
            org_from_row,
        )?;
        Ok(OrgPage { orgs, total })
    }

    fn directory_generation(&self) -> StoreResult<i64> {
        let mut stmt = self.prepare_cached("SELECT generation FROM directory_generation")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    fn group_names_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let mut stmt = self.prepare_cached(
            "SELECT g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
             WHERE gm.user_id = ?1 ORDER BY g.name",
        )?;
        let names = stmt
            .query_map([user_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    fn role_grants_of(&self, user_id: &str) -> StoreResult<Vec<(String, Option<String>)>> {
        let mut stmt = self.prepare_cached(
            "SELECT role_id, NULL FROM user_roles WHERE user_id = ?1
             UNION ALL
             SELECT gr.role_id, g.name FROM group_members gm
             JOIN group_roles gr ON gr.group_id = gm.group_id
             JOIN groups g ON g.id = gm.group_id
             WHERE gm.user_id = ?1
             ORDER BY 2",
        )?;
        let grants = stmt
            .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(grants)
    }

    fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        let mut stmt = self.prepare_cached(
            "SELECT u.id, u.name, u.email, u.display_name, u.disabled_at,
                    o.id, o.name, o.is_provider, o.created_at, u.kind = 'service'
             FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
        )?;
        let found = stmt
            .query_row([user_id], |r| {
                Ok(Account {
                    user_id: r.get(0)?,
                    user_name: r.get(1)?,
                    email: r.get(2)?,
                    display_name: r.get(3)?,
                    disabled: r.get::<_, Option<i64>>(4)?.is_some(),
                    service_account: r.get(9)?,
                    org: Org {
                        id: r.get(5)?,
                        name: r.get(6)?,
                        is_provider: r.get(7)?,
                        created_at: r.get(8)?,
                    },
                    roles: Vec::new(),
                    permission_cap: None,
                })
            })
            .optional()?;
        let Some(mut account) = found else {
            return Ok(None);
        };
        // One row per (role, permission); a role without permissions has one
        // row with a NULL permission.
        // Roles granted to the user, and to the groups the user is in.
        let mut roles = self.prepare_cached(
            "SELECT r.id, r.name, rs.name, ps.name || ':' || rp.permission,
                    r.org_id IS NOT NULL OR r.published_to_all = 1
                    OR EXISTS (SELECT 1 FROM role_orgs ro
                               WHERE ro.role_id = r.id AND ro.org_id = ?2)
             FROM (SELECT role_id FROM user_roles WHERE user_id = ?1
                   UNION
                   SELECT gr.role_id FROM group_members gm
                   JOIN group_roles gr ON gr.group_id = gm.group_id
                   WHERE gm.user_id = ?1) held
             JOIN roles r ON r.id = held.role_id
             LEFT JOIN services rs ON rs.id = r.service_id
             LEFT JOIN role_permissions rp ON rp.role_id = r.id
             LEFT JOIN services ps ON ps.id = rp.service_id
             ORDER BY r.name, r.id, 4",
        )?;
        let mut rows = roles.query([user_id, account.org.id.as_str()])?;
        let mut last_role: Option<String> = None;
        while let Some(row) = rows.next()? {
            let role_id: String = row.get(0)?;
            if last_role.as_deref() != Some(role_id.as_str()) {
                account.roles.push(HeldRole {
                    name: row.get(1)?,
                    published_here: row.get(4)?,
                    service: row.get(2)?,
                    permissions: Vec::new(),
                });
                last_role = Some(role_id);
            }
            if let (Some(role), Some(permission)) =
                (account.roles.last_mut(), row.get::<_, Option<String>>(3)?)
            {
                role.permissions.push(permission);
            }
        }
        if !account.org.is_provider {
            let mut cap = self.prepare_cached(
                "SELECT DISTINCT s.name || ':' || bp.permission
                 FROM bundle_orgs bo
                 JOIN bundle_permissions bp ON bp.bundle_id = bo.bundle_id
                 JOIN services s ON s.id = bp.service_id
                 WHERE bo.org_id = ?1",
            )?;
            account.permission_cap = Some(
                cap.query_map([&account.org.id], |r| r.get(0))?
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(Some(account))
    }

    fn login_account(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> StoreResult<Option<(Account, String)>> {
        let mut stmt = self.prepare_cached(
            "SELECT u.id, u.password_hash FROM users u JOIN orgs o ON o.id = u.org_id
             WHERE o.name = ?1 AND u.name = ?2",
        )?;
        let found = stmt
            .query_row([org_name, user_name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        let Some((user_id, hash)) = found else {
            return Ok(None);
        };
        Ok(self.account(&user_id)?.map(|account| (account, hash)))
    }

    fn user(&self, user_id: &str) -> StoreResult<Option<UserSummary>> {
        let mut stmt = self.prepare_cached(&format!("{USER_SUMMARY} WHERE u.id = ?1"))?;
        Ok(stmt.query_row([user_id], user_from_row).optional()?)
    }

    fn users(&self, filter: &UserFilter) -> StoreResult<UserPage> {
        let pattern = super::like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        // Service accounts are listed as such, not as users.
        conditions.push("u.kind = 'user'", &[]);
        if let Some(org_id) = &filter.org_id {
            conditions.push("u.org_id = ?", &[org_id]);
        }
        conditions.name_like("u.name", &pattern);
        let (users, total) = listing(
            self,
            "users u JOIN orgs o ON o.id = u.org_id",
            USER_SUMMARY,
            conditions,
            "o.name, u.name, u.id",
            Some((filter.offset, filter.limit)),
            user_from_row,
        )?;
        Ok(UserPage { users, total })
    }

    fn login_unlocked_at(&self, login_name: &str) -> StoreResult<Option<i64>> {
        let mut stmt =
            self.prepare_cached("SELECT unlocked_at FROM login_unlocks WHERE login_name = ?1")?;
        Ok(stmt.query_row([login_name], |r| r.get(0)).optional()?)
    }
}

impl AccountWrites for Connection {
    fn insert_org(&self, org: &Org) -> StoreResult<()> {
        self.execute(
            "INSERT INTO orgs (id, name, is_provider, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![org.id, org.name, org.is_provider, org.created_at],
        )?;
        Ok(())
    }

    fn insert_user(&self, user: &NewUser) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, org_id, name, email, display_name, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                user.id,
                user.org_id,
                user.name,
                user.email,
                user.display_name,
                user.password_hash,
                user.created_at
            ],
        )?;
        for role_id in &user.role_ids {
            let changed = self.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE id = ?2",
                params![user.id, role_id],
            )?;
            if changed == 0 {
                return Err(StoreError::Missing(format!("role {role_id}")));
            }
        }
        Ok(())
    }

    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, hash],
        )?;
        Ok(())
    }

    fn set_user_details(
        &self,
        user_id: &str,
        email: Option<&str>,
        display_name: Option<&str>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET email = ?2, display_name = ?3 WHERE id = ?1",
            params![user_id, email, display_name],
        )?;
        Ok(())
    }

    fn set_user_disabled(&self, user_id: &str, disabled_at: Option<i64>) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
            params![user_id, disabled_at],
        )?;
        Ok(changed == 1)
    }

    fn record_login_unlock(&self, login_name: &str, at: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO login_unlocks (login_name, unlocked_at) VALUES (?1, ?2)
             ON CONFLICT (login_name) DO UPDATE SET unlocked_at = excluded.unlocked_at",
            params![login_name, at],
        )?;
        Ok(())
    }
}

const USER_SUMMARY: &str = "SELECT u.id, u.name, o.id, o.name, u.email, u.display_name,
        u.disabled_at, u.created_at,
        EXISTS (SELECT 1 FROM second_factors f
                WHERE f.user_id = u.id AND f.enrolled_at IS NOT NULL)
    FROM users u JOIN orgs o ON o.id = u.org_id";

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserSummary> {
    Ok(UserSummary {
        id: r.get(0)?,
        name: r.get(1)?,
        org_id: r.get(2)?,
        org_name: r.get(3)?,
        email: r.get(4)?,
        display_name: r.get(5)?,
        disabled: r.get::<_, Option<i64>>(6)?.is_some(),
        created_at: r.get(7)?,
        second_factor: r.get(8)?,
    })
}

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        is_provider: r.get(2)?,
        created_at: r.get(3)?,
    })
}
