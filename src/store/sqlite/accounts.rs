//! Orgs, roles, users and the login unlocks an admin records.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::domain::records::{Account, NewUser, Org, RoleDefinition};
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

    fn orgs(&self) -> StoreResult<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY is_provider DESC, name");
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = stmt.query_map([], org_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn role(&self, name: &str) -> StoreResult<Option<RoleDefinition>> {
        let role = self
            .query_row(
                "SELECT id, name, provider_only FROM roles WHERE name = ?1",
                [name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, name, provider_only)) = role else {
            return Ok(None);
        };
        let mut stmt = self.prepare_cached(
            "SELECT right_name FROM role_rights WHERE role_id = ?1 ORDER BY right_name",
        )?;
        let right_names = stmt
            .query_map([&id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(RoleDefinition {
            id,
            name,
            provider_only,
            right_names,
        }))
    }

    fn account(&self, user_id: &str) -> StoreResult<Option<Account>> {
        let mut stmt = self.prepare_cached(
            "SELECT u.id, u.name, o.id, o.name, o.is_provider, o.created_at
             FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = ?1",
        )?;
        let found = stmt
            .query_row([user_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    Org {
                        id: r.get(2)?,
                        name: r.get(3)?,
                        is_provider: r.get(4)?,
                        created_at: r.get(5)?,
                    },
                ))
            })
            .optional()?;
        let Some((user_id, user_name, org)) = found else {
            return Ok(None);
        };
        let mut roles = self.prepare_cached(
            "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id
             WHERE ur.user_id = ?1 ORDER BY r.name",
        )?;
        let role_names = roles
            .query_map([&user_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut rights = self.prepare_cached(
            "SELECT DISTINCT rr.right_name FROM user_roles ur
             JOIN role_rights rr ON rr.role_id = ur.role_id
             WHERE ur.user_id = ?1 ORDER BY rr.right_name",
        )?;
        let right_names = rights
            .query_map([&user_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Some(Account {
            user_id,
            user_name,
            org,
            role_names,
            right_names,
        }))
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

    fn insert_role(&self, role: &RoleDefinition) -> StoreResult<()> {
        self.execute(
            "INSERT INTO roles (id, name, provider_only) VALUES (?1, ?2, ?3)",
            params![role.id, role.name, role.provider_only],
        )?;
        for right in &role.right_names {
            self.execute(
                "INSERT INTO role_rights (role_id, right_name) VALUES (?1, ?2)",
                params![role.id, right],
            )?;
        }
        Ok(())
    }

    fn insert_user(&self, user: &NewUser) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, org_id, name, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                user.id,
                user.org_id,
                user.name,
                user.password_hash,
                user.created_at
            ],
        )?;
        for role in &user.role_names {
            let changed = self.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT ?1, id FROM roles WHERE name = ?2",
                params![user.id, role],
            )?;
            if changed == 0 {
                return Err(StoreError::Missing(format!("role {role:?}")));
            }
        }
        Ok(())
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

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: r.get(0)?,
        name: r.get(1)?,
        is_provider: r.get(2)?,
        created_at: r.get(3)?,
    })
}
