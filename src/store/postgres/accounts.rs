//! Orgs, users (with the roles they hold) and the login unlocks an admin
//! records.
//!
//! Names compare as SQLite's NOCASE has them, through `tokend_fold`, and
//! sort as SQLite sorts them: text under the "C" collation (bytes), so that
//! a database created with a linguistic collation lists in the same order.

use tokio_postgres::Row;

use super::generations::Generation;
use super::listing::{like_pattern, listing, Conditions};
use super::PgConn;
use crate::domain::records::{
    Account, DirectoryFilter, HeldRole, NewUser, Org, OrgPage, UserFilter, UserPage, UserSummary,
};
use crate::domain::storage::{AccountReads, AccountWrites, StoreError, StoreResult};

const ORG_COLUMNS: &str = "id, name, is_provider, created_at";

impl AccountReads for PgConn {
    fn provider_org(&self) -> StoreResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE is_provider");
        self.query_opt(&sql, &[])?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    fn org_by_name(&self, name: &str) -> StoreResult<Option<Org>> {
        let sql =
            format!("SELECT {ORG_COLUMNS} FROM orgs WHERE tokend_fold(name) = tokend_fold($1)");
        self.query_opt(&sql, &[&name])?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    fn orgs(&self, filter: &DirectoryFilter) -> StoreResult<OrgPage> {
        let pattern = like_pattern(&filter.name_contains);
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
            r#"is_provider DESC, tokend_fold(name) COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            org_from_row,
        )?;
        Ok(OrgPage { orgs, total })
    }

    fn directory_generation(&self) -> StoreResult<i64> {
        self.generation(Generation::Directory)
    }

    fn group_names_of(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let rows = self.query(
            r#"SELECT g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
               WHERE gm.user_id = $1 ORDER BY tokend_fold(g.name) COLLATE "C", g.name COLLATE "C""#,
            &[&user_id],
        )?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    fn role_grants_of(&self, user_id: &str) -> StoreResult<Vec<(String, Option<String>)>> {
        // Direct grants (no group) first, as SQLite sorts NULL first.
        let rows = self.query(
            r#"SELECT role_id, via FROM (
                   SELECT role_id, NULL::TEXT AS via FROM user_roles WHERE user_id = $1
                   UNION ALL
                   SELECT gr.role_id, g.name FROM group_members gm
                   JOIN group_roles gr ON gr.group_id = gm.group_id
                   JOIN groups g ON g.id = gm.group_id
                   WHERE gm.user_id = $1
               ) grants
               ORDER BY tokend_fold(via) COLLATE "C" NULLS FIRST"#,
            &[&user_id],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        let found = self.query_opt(
            "SELECT u.id, u.name, u.email, u.display_name, u.disabled_at,
                    o.id, o.name, o.is_provider, o.created_at, u.kind = 'service'
             FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1",
            &[&user_id],
        )?;
        let Some(r) = found else {
            return Ok(None);
        };
        let mut account = Account {
            user_id: r.try_get(0)?,
            user_name: r.try_get(1)?,
            email: r.try_get(2)?,
            display_name: r.try_get(3)?,
            disabled: r.try_get::<_, Option<i64>>(4)?.is_some(),
            service_account: r.try_get(9)?,
            org: Org {
                id: r.try_get(5)?,
                name: r.try_get(6)?,
                is_provider: r.try_get(7)?,
                created_at: r.try_get(8)?,
            },
            roles: Vec::new(),
            permission_cap: None,
        };
        // One row per (role, permission); a role without permissions has one
        // row with a NULL permission.
        // Roles granted to the user, and to the groups the user is in.
        let rows = self.query(
            r#"SELECT r.id, r.name, rs.name, ps.name || ':' || rp.permission,
                      r.org_id IS NOT NULL OR r.published_to_all
                      OR EXISTS (SELECT 1 FROM role_orgs ro
                                 WHERE ro.role_id = r.id AND ro.org_id = $2)
               FROM (SELECT role_id FROM user_roles WHERE user_id = $1
                     UNION
                     SELECT gr.role_id FROM group_members gm
                     JOIN group_roles gr ON gr.group_id = gm.group_id
                     WHERE gm.user_id = $1) held
               JOIN roles r ON r.id = held.role_id
               LEFT JOIN services rs ON rs.id = r.service_id
               LEFT JOIN role_permissions rp ON rp.role_id = r.id
               LEFT JOIN services ps ON ps.id = rp.service_id
               ORDER BY tokend_fold(r.name) COLLATE "C", r.id COLLATE "C",
                        (ps.name || ':' || rp.permission) COLLATE "C""#,
            &[&user_id, &account.org.id],
        )?;
        let mut last_role: Option<String> = None;
        for row in &rows {
            let role_id: String = row.try_get(0)?;
            if last_role.as_deref() != Some(role_id.as_str()) {
                account.roles.push(HeldRole {
                    name: row.try_get(1)?,
                    published_here: row.try_get(4)?,
                    service: row.try_get(2)?,
                    permissions: Vec::new(),
                });
                last_role = Some(role_id);
            }
            if let (Some(role), Some(permission)) = (
                account.roles.last_mut(),
                row.try_get::<_, Option<String>>(3)?,
            ) {
                role.permissions.push(permission);
            }
        }
        if !account.org.is_provider {
            let cap = self.query(
                r#"SELECT DISTINCT (s.name || ':' || bp.permission) COLLATE "C"
                   FROM bundle_orgs bo
                   JOIN bundle_permissions bp ON bp.bundle_id = bo.bundle_id
                   JOIN services s ON s.id = bp.service_id
                   WHERE bo.org_id = $1
                   ORDER BY 1"#,
                &[&account.org.id],
            )?;
            account.permission_cap = Some(
                cap.iter()
                    .map(|r| Ok(r.try_get(0)?))
                    .collect::<StoreResult<_>>()?,
            );
        }
        Ok(Some(account))
    }

    fn login_account(
        &self,
        org_name: &str,
        user_name: &str,
    ) -> StoreResult<Option<(Account, String)>> {
        let found = self.query_opt(
            "SELECT u.id, u.password_hash FROM users u JOIN orgs o ON o.id = u.org_id
             WHERE tokend_fold(o.name) = tokend_fold($1)
               AND tokend_fold(u.name) = tokend_fold($2)",
            &[&org_name, &user_name],
        )?;
        let Some(row) = found else {
            return Ok(None);
        };
        let user_id: String = row.try_get(0)?;
        let hash: String = row.try_get(1)?;
        Ok(self.account(&user_id)?.map(|account| (account, hash)))
    }

    fn user(&self, user_id: &str) -> StoreResult<Option<UserSummary>> {
        self.query_opt(&format!("{USER_SUMMARY} WHERE u.id = $1"), &[&user_id])?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    fn users(&self, filter: &UserFilter) -> StoreResult<UserPage> {
        let pattern = like_pattern(&filter.name_contains);
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
            r#"tokend_fold(o.name) COLLATE "C", tokend_fold(u.name) COLLATE "C", u.id COLLATE "C""#,
            Some((filter.offset, filter.limit)),
            user_from_row,
        )?;
        Ok(UserPage { users, total })
    }

    fn login_unlocked_at(&self, login_name: &str) -> StoreResult<Option<i64>> {
        let found = self.query_opt(
            "SELECT unlocked_at FROM login_unlocks WHERE login_name = $1",
            &[&login_name],
        )?;
        Ok(found.map(|r| r.try_get(0)).transpose()?)
    }
}

impl AccountWrites for PgConn {
    fn insert_org(&self, org: &Org) -> StoreResult<()> {
        self.execute(
            "INSERT INTO orgs (id, name, is_provider, created_at) VALUES ($1, $2, $3, $4)",
            &[&org.id, &org.name, &org.is_provider, &org.created_at],
        )?;
        Ok(())
    }

    fn insert_user(&self, user: &NewUser) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, org_id, name, email, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &user.id,
                &user.org_id,
                &user.name,
                &user.email,
                &user.display_name,
                &user.password_hash,
                &user.created_at,
            ],
        )?;
        for role_id in &user.role_ids {
            let changed = self.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE id = $2",
                &[&user.id, role_id],
            )?;
            if changed == 0 {
                return Err(StoreError::Missing(format!("role {role_id}")));
            }
        }
        Ok(())
    }

    fn set_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            &[&user_id, &hash],
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
            "UPDATE users SET email = $2, display_name = $3 WHERE id = $1",
            &[&user_id, &email, &display_name],
        )?;
        Ok(())
    }

    fn set_user_disabled(&self, user_id: &str, disabled_at: Option<i64>) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE users SET disabled_at = $2 WHERE id = $1",
            &[&user_id, &disabled_at],
        )?;
        Ok(changed == 1)
    }

    fn record_login_unlock(&self, login_name: &str, at: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO login_unlocks (login_name, unlocked_at) VALUES ($1, $2)
             ON CONFLICT (login_name) DO UPDATE SET unlocked_at = EXCLUDED.unlocked_at",
            &[&login_name, &at],
        )?;
        Ok(())
    }
}

const USER_SUMMARY: &str = "SELECT u.id, u.name, o.id, o.name, u.email, u.display_name,
        u.disabled_at, u.created_at,
        EXISTS (SELECT 1 FROM second_factors f
                WHERE f.user_id = u.id AND f.enrolled_at IS NOT NULL)
    FROM users u JOIN orgs o ON o.id = u.org_id";

fn user_from_row(r: &Row) -> StoreResult<UserSummary> {
    Ok(UserSummary {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        org_id: r.try_get(2)?,
        org_name: r.try_get(3)?,
        email: r.try_get(4)?,
        display_name: r.try_get(5)?,
        disabled: r.try_get::<_, Option<i64>>(6)?.is_some(),
        created_at: r.try_get(7)?,
        second_factor: r.try_get(8)?,
    })
}

fn org_from_row(r: &Row) -> StoreResult<Org> {
    Ok(Org {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        is_provider: r.try_get(2)?,
        created_at: r.try_get(3)?,
    })
}
