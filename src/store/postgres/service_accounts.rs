//! Service accounts and their RFC 8628 device authorizations; the rotation
//! and mass revocation of API tokens that goes with them.

use tokio_postgres::Row;

use super::listing::{like_pattern, listing, Conditions};
use super::PgConn;
use crate::domain::records::{
    DeviceAuthorization, DeviceDecision, DirectoryFilter, NewServiceAccount, ServiceAccount,
    ServiceAccountPage, ServiceAccountStatus,
};
use crate::domain::storage::{ServiceAccountReads, ServiceAccountWrites, StoreError, StoreResult};

/// A service account with its org and its directly granted roles. An
/// ACTIVE account whose token was revoked some other way (by its owner at
/// /oauth/revoke, by an admin, by the idle rule) reads as CREATED: it holds
/// no access, and may ask for it again.
const SERVICE_ACCOUNT: &str = "SELECT u.id, u.org_id, o.name, u.name, s.software_id,
        s.software_version, s.client_uri,
        CASE WHEN s.status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM api_tokens t
                 WHERE t.user_id = u.id AND t.revoked_at IS NULL)
             THEN 'CREATED' ELSE s.status END,
        s.created_at,
        (SELECT array_agg(r.name) FROM user_roles ur
             JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id)
    FROM service_accounts s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id";
const SERVICE_ACCOUNTS: &str =
    "service_accounts s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id";

const DEVICE_AUTHORIZATION: &str = "SELECT id, service_account_id, device_code_digest,
        user_code, created_at, expires_at, interval_s, last_polled_at, decision, used_at
    FROM device_authorizations";

fn service_account_from_row(r: &Row) -> StoreResult<ServiceAccount> {
    let status: &str = r.try_get(7)?;
    let roles: Option<Vec<String>> = r.try_get(9)?;
    let mut roles = roles.unwrap_or_default();
    roles.sort();
    Ok(ServiceAccount {
        id: r.try_get(0)?,
        org_id: r.try_get(1)?,
        org_name: r.try_get(2)?,
        name: r.try_get(3)?,
        software_id: r.try_get(4)?,
        software_version: r.try_get(5)?,
        client_uri: r.try_get(6)?,
        status: ServiceAccountStatus::parse(status).ok_or_else(|| {
            StoreError::Failed(format!("unknown service account status {status:?}"))
        })?,
        roles,
        created_at: r.try_get(8)?,
    })
}

fn device_authorization_from_row(r: &Row) -> StoreResult<DeviceAuthorization> {
    let digest: Vec<u8> = r.try_get(2)?;
    let decision: Option<&str> = r.try_get(8)?;
    Ok(DeviceAuthorization {
        id: r.try_get(0)?,
        service_account_id: r.try_get(1)?,
        device_code_digest: digest.try_into().map_err(|digest: Vec<u8>| {
            StoreError::Failed(format!("a device code digest of {} bytes", digest.len()))
        })?,
        user_code: r.try_get(3)?,
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        interval_s: r.try_get(6)?,
        last_polled_at: r.try_get(7)?,
        decision: match decision {
            Some("granted") => Some(DeviceDecision::Granted),
            Some(_) => Some(DeviceDecision::Denied),
            None => None,
        },
        used_at: r.try_get(9)?,
    })
}

impl ServiceAccountReads for PgConn {
    fn service_account(&self, id: &str) -> StoreResult<Option<ServiceAccount>> {
        self.query_opt(
            &format!("{SERVICE_ACCOUNT} WHERE s.user_id = $1 AND s.deleted_at IS NULL"),
            &[&id],
        )?
        .map(|r| service_account_from_row(&r))
        .transpose()
    }

    fn service_accounts(&self, filter: &DirectoryFilter) -> StoreResult<ServiceAccountPage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        conditions.push("s.deleted_at IS NULL", &[]);
        if let Some(org_id) = &filter.org_id {
            conditions.push("u.org_id = ?", &[org_id]);
        }
        conditions.name_like("u.name", &pattern);
        // Names in SQLite's NOCASE order, ids bytewise as SQLite compares
        // them, whatever the database's locale.
        let (accounts, total) = listing(
            self,
            SERVICE_ACCOUNTS,
            SERVICE_ACCOUNT,
            conditions,
            "tokend_fold(o.name) COLLATE \"C\", o.name COLLATE \"C\",
             tokend_fold(u.name) COLLATE \"C\", u.name COLLATE \"C\", u.id COLLATE \"C\"",
            Some((filter.offset, filter.limit)),
            service_account_from_row,
        )?;
        Ok(ServiceAccountPage { accounts, total })
    }

    fn device_authorization_by_device_code(
        &self,
        digest: &[u8; 32],
    ) -> StoreResult<Option<DeviceAuthorization>> {
        self.query_opt(
            &format!("{DEVICE_AUTHORIZATION} WHERE device_code_digest = $1"),
            &[&&digest[..]],
        )?
        .map(|r| device_authorization_from_row(&r))
        .transpose()
    }

    fn device_authorization_by_user_code(
        &self,
        user_code: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        self.query_opt(
            &format!("{DEVICE_AUTHORIZATION} WHERE user_code = $1"),
            &[&user_code],
        )?
        .map(|r| device_authorization_from_row(&r))
        .transpose()
    }

    fn pending_device_authorization(
        &self,
        service_account_id: &str,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        self.query_opt(
            &format!("{DEVICE_AUTHORIZATION} WHERE service_account_id = $1 AND decision IS NULL"),
            &[&service_account_id],
        )?
        .map(|r| device_authorization_from_row(&r))
        .transpose()
    }
}

impl ServiceAccountWrites for PgConn {
    fn insert_service_account(&self, account: &NewServiceAccount) -> StoreResult<()> {
        let user = &account.user;
        self.execute(
            "INSERT INTO users (id, org_id, name, email, display_name, password_hash, created_at,
                 kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'service')",
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
        self.grant_user_roles(&user.id, &user.role_ids)?;
        self.execute(
            "INSERT INTO service_accounts (user_id, software_id, software_version, client_uri,
                 status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &user.id,
                &account.software_id,
                &account.software_version,
                &account.client_uri,
                &ServiceAccountStatus::Created.as_str(),
                &user.created_at,
            ],
        )?;
        Ok(())
    }

    fn set_service_account_status(
        &self,
        id: &str,
        status: ServiceAccountStatus,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE service_accounts SET status = $2 WHERE user_id = $1",
            &[&id, &status.as_str()],
        )?;
        Ok(())
    }

    fn delete_service_account(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE service_accounts SET deleted_at = $2, status = 'CREATED'
             WHERE user_id = $1 AND deleted_at IS NULL",
            &[&id, &at],
        )?;
        if changed == 1 {
            self.execute(
                "UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL",
                &[&id, &at],
            )?;
        }
        Ok(changed == 1)
    }

    fn set_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        self.execute("DELETE FROM user_roles WHERE user_id = $1", &[&user_id])?;
        self.grant_user_roles(user_id, role_ids)
    }

    fn insert_device_authorization(&self, authorization: &DeviceAuthorization) -> StoreResult<()> {
        // One request waits per account: a newer one replaces it, so that
        // asking again and again cannot fill the table.
        self.execute(
            "DELETE FROM device_authorizations
             WHERE service_account_id = $1 AND decision IS NULL",
            &[&authorization.service_account_id],
        )?;
        self.execute(
            "INSERT INTO device_authorizations (id, service_account_id, device_code_digest,
                 user_code, created_at, expires_at, interval_s)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &authorization.id,
                &authorization.service_account_id,
                &&authorization.device_code_digest[..],
                &authorization.user_code,
                &authorization.created_at,
                &authorization.expires_at,
                &authorization.interval_s,
            ],
        )?;
        Ok(())
    }

    fn record_device_poll(&self, id: &str, at: i64, interval_s: i64) -> StoreResult<()> {
        self.execute(
            "UPDATE device_authorizations SET last_polled_at = $2, interval_s = $3 WHERE id = $1",
            &[&id, &at, &interval_s],
        )?;
        Ok(())
    }

    fn decide_device_authorization(
        &self,
        id: &str,
        decision: DeviceDecision,
        at: i64,
    ) -> StoreResult<bool> {
        let decision = match decision {
            DeviceDecision::Granted => "granted",
            DeviceDecision::Denied => "denied",
        };
        let changed = self.execute(
            "UPDATE device_authorizations SET decision = $2, decided_at = $3
             WHERE id = $1 AND decision IS NULL",
            &[&id, &decision, &at],
        )?;
        Ok(changed == 1)
    }

    fn use_device_authorization(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE device_authorizations SET used_at = $2
             WHERE id = $1 AND used_at IS NULL AND decision = 'granted'",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }

    fn cancel_device_authorizations(&self, service_account_id: &str, at: i64) -> StoreResult<u64> {
        self.execute(
            "UPDATE device_authorizations SET decision = 'denied', decided_at = $2
             WHERE service_account_id = $1 AND used_at IS NULL
               AND (decision IS NULL OR decision = 'granted')",
            &[&service_account_id, &at],
        )
    }

    fn revoke_user_api_tokens(&self, user_id: &str, at: i64) -> StoreResult<u64> {
        self.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            &[&user_id, &at],
        )
    }

    fn rotate_api_token(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE api_tokens SET rotated_at = $2, revoked_at = $2
             WHERE id = $1 AND revoked_at IS NULL AND rotated_at IS NULL",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }
}

impl PgConn {
    /// Grants each role to the user; `Missing` for a role that does not
    /// exist. The user's own insert grants its roles the same way.
    fn grant_user_roles(&self, user_id: &str, role_ids: &[String]) -> StoreResult<()> {
        for role_id in role_ids {
            let changed = self.execute(
                "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE id = $2",
                &[&user_id, role_id],
            )?;
            if changed == 0 {
                return Err(StoreError::Missing(format!("role {role_id}")));
            }
        }
        Ok(())
    }
}
