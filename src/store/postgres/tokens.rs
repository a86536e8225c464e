//! API tokens: found by digest for the exchange, by id for revocation, and
//! listed with their owners. Listings build their WHERE clause from the
//! filters that are set, so that each statement can use its index. Also the
//! revoked access tokens, the DPoP proofs seen, the introspection
//! clients, and the token lifetime policies.

use tokio_postgres::Row;

use super::listing::{like_pattern, listing, Conditions};
use super::PgConn;
use crate::domain::records::TokenPolicy;
use crate::domain::records::TokenScope;
use crate::domain::records::{
    ApiTokenFilter, ApiTokenListing, ApiTokenPage, ApiTokenRecord, IntrospectionClient,
    OAuthClient, TokenCounts, TokenSort, TokenState,
};
use crate::domain::storage::{StoreError, StoreResult, TokenReads, TokenWrites};
use crate::store::token_columns::{
    cidrs_from_column, cidrs_to_column, scope_from_column, scope_to_column,
};

const LISTING: &str = "SELECT t.id, t.name, u.id, u.name, o.id, o.name,
        t.created_at, t.expires_at, t.last_used_at, t.revoked_at, t.scope, t.last_used_ip,
        t.openid, t.bound_cidrs
    FROM api_tokens t
    JOIN users u ON u.id = t.user_id
    JOIN orgs o ON o.id = u.org_id";

impl TokenReads for PgConn {
    fn token_policy(&self, key: &str) -> StoreResult<Option<TokenPolicy>> {
        let row = self.query_opt(
            "SELECT default_ttl, max_ttl, allow_never, max_idle, second_factor,
                    max_rotation_grace, require_bound_cidrs
             FROM token_policies WHERE org_id = $1",
            &[&key],
        )?;
        row.map(|r| {
            Ok(TokenPolicy {
                default_ttl: r.try_get(0)?,
                max_ttl: r.try_get(1)?,
                allow_never: r.try_get(2)?,
                max_idle: r.try_get(3)?,
                second_factor: r.try_get(4)?,
                max_rotation_grace: r.try_get(5)?,
                require_bound_cidrs: r.try_get(6)?,
            })
        })
        .transpose()
    }

    fn tokens_beyond(
        &self,
        org_id: &str,
        latest: i64,
        never_forbidden: bool,
        unbound_forbidden: bool,
        now: i64,
    ) -> StoreResult<Vec<ApiTokenListing>> {
        let rows = self.query(
            &format!(
                "{LISTING} WHERE o.id = $1 AND t.revoked_at IS NULL
                     AND (t.expires_at > $2 OR (t.expires_at IS NULL AND $3)
                          OR (t.bound_cidrs IS NULL AND $5))
                     AND (t.expires_at IS NULL OR t.expires_at > $4)
                 ORDER BY t.created_at, t.id COLLATE \"C\""
            ),
            &[&org_id, &latest, &never_forbidden, &now, &unbound_forbidden],
        )?;
        rows.iter().map(listing_from_row).collect()
    }

    fn idle_tokens(
        &self,
        org_id: &str,
        cutoff: i64,
        limit: u32,
    ) -> StoreResult<Vec<ApiTokenListing>> {
        let rows = self.query(
            &format!(
                "{LISTING} WHERE o.id = $1 AND t.revoked_at IS NULL
                     AND coalesce(t.last_used_at, t.created_at) < $2
                 ORDER BY t.created_at, t.id COLLATE \"C\" LIMIT $3"
            ),
            &[&org_id, &cutoff, &i64::from(limit)],
        )?;
        rows.iter().map(listing_from_row).collect()
    }

    fn api_token_counts(&self, now: i64) -> StoreResult<Vec<TokenCounts>> {
        // Every org, those without tokens too; the states as the listings
        // have them (revoked first, then expired).
        let rows = self.query(
            "SELECT o.name,
                    count(t.id) FILTER (WHERE t.revoked_at IS NULL
                        AND (t.expires_at IS NULL OR t.expires_at > $1)),
                    count(t.id) FILTER (WHERE t.revoked_at IS NULL AND t.expires_at <= $1),
                    count(t.id) FILTER (WHERE t.revoked_at IS NOT NULL)
             FROM orgs o
             LEFT JOIN users u ON u.org_id = o.id
             LEFT JOIN api_tokens t ON t.user_id = u.id
             GROUP BY o.id
             ORDER BY tokend_fold(o.name) COLLATE \"C\", o.name COLLATE \"C\"",
            &[&now],
        )?;
        rows.iter()
            .map(|r| {
                Ok(TokenCounts {
                    org: r.try_get(0)?,
                    live: count(r.try_get(1)?),
                    expired: count(r.try_get(2)?),
                    revoked: count(r.try_get(3)?),
                })
            })
            .collect()
    }

    fn api_token_by_digest(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        let row = self.query_opt(
            "SELECT id, digest, user_id, name, created_at, expires_at, revoked_at, scope,
                    openid, rotated_at, client_id, bound_cidrs
             FROM api_tokens WHERE digest = $1",
            &[&&digest[..]],
        )?;
        row.as_ref().map(api_token_from_row).transpose()
    }

    fn api_token(&self, id: &str) -> StoreResult<Option<ApiTokenListing>> {
        let row = self.query_opt(&format!("{LISTING} WHERE t.id = $1"), &[&id])?;
        row.as_ref().map(listing_from_row).transpose()
    }

    fn api_tokens(&self, filter: &ApiTokenFilter) -> StoreResult<ApiTokenPage> {
        let pattern = like_pattern(&filter.name_contains);
        let mut conditions = Conditions::default();
        if let Some(owner_id) = &filter.owner_id {
            conditions.push("t.user_id = ?", &[owner_id]);
        }
        if let Some(org_id) = &filter.org_id {
            conditions.push("u.org_id = ?", &[org_id]);
        }
        if let Some(user_name) = &filter.user_name {
            conditions.push("tokend_fold(u.name) = tokend_fold(?)", &[user_name]);
        }
        conditions.name_like("t.name", &pattern);
        if let Some(name) = &filter.name_equals {
            conditions.push("t.name = ?", &[name]);
        }
        match &filter.state_at {
            Some((TokenState::Live, at)) => conditions.push(
                "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)",
                &[at],
            ),
            Some((TokenState::Inactive, at)) => {
                conditions.push("(t.revoked_at IS NOT NULL OR t.expires_at <= ?)", &[at])
            }
            None if !filter.include_revoked => conditions.push("t.revoked_at IS NULL", &[]),
            None => {}
        }
        // `seq` is the insertion order, SQLite's rowid. Names sort as
        // SQLite's NOCASE does: folded ASCII, then bytes.
        let order = match filter.sort {
            TokenSort::Created => "t.created_at, t.seq",
            TokenSort::Expires => "t.expires_at IS NULL, t.expires_at, t.seq",
            TokenSort::LastUsed => "t.last_used_at IS NULL, t.last_used_at DESC, t.seq",
            TokenSort::Name => "tokend_fold(t.name) COLLATE \"C\", t.seq",
            TokenSort::Owner => {
                "tokend_fold(u.name) COLLATE \"C\", tokend_fold(t.name) COLLATE \"C\", t.seq"
            }
        };
        let (tokens, total) = listing(
            self,
            "api_tokens t JOIN users u ON u.id = t.user_id JOIN orgs o ON o.id = u.org_id",
            LISTING,
            conditions,
            order,
            filter.page,
            listing_from_row,
        )?;
        Ok(ApiTokenPage { tokens, total })
    }

    fn active_api_token(&self, id: &str) -> StoreResult<Option<(String, TokenScope)>> {
        let row = self.query_opt(
            "SELECT user_id, scope FROM api_tokens WHERE id = $1 AND revoked_at IS NULL",
            &[&id],
        )?;
        row.map(|r| Ok((r.try_get(0)?, scope_from_column(r.try_get(1)?)?)))
            .transpose()
    }

    fn introspection_client(&self, id: &str) -> StoreResult<Option<IntrospectionClient>> {
        let row = self.query_opt(&format!("{CLIENT} WHERE c.id = $1"), &[&id])?;
        row.as_ref().map(client_from_row).transpose()
    }

    fn client_id_token_alg(&self, client_id: &str) -> StoreResult<Option<String>> {
        let row = self.query_opt(
            "SELECT id_token_alg FROM oauth_clients WHERE id = $1 AND deleted_at IS NULL
             UNION ALL
             SELECT id_token_alg FROM service_accounts WHERE user_id = $1 AND deleted_at IS NULL
             LIMIT 1",
            &[&client_id],
        )?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    fn oauth_client(&self, id: &str) -> StoreResult<Option<OAuthClient>> {
        let row = self.query_opt(
            "SELECT id, name, user_id, created_at, token_id, deleted_at
             FROM oauth_clients WHERE id = $1",
            &[&id],
        )?;
        row.map(|r| {
            Ok(OAuthClient {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                user_id: r.try_get(2)?,
                created_at: r.try_get(3)?,
                token_id: r.try_get(4)?,
                deleted_at: r.try_get(5)?,
            })
        })
        .transpose()
    }

    fn introspection_clients(&self, service_id: &str) -> StoreResult<Vec<IntrospectionClient>> {
        let rows = self.query(
            &format!(
                "{CLIENT} WHERE c.service_id = $1 AND c.revoked_at IS NULL
                 ORDER BY c.created_at, c.seq"
            ),
            &[&service_id],
        )?;
        rows.iter().map(client_from_row).collect()
    }

    fn access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let row = self.query_opt(
            "SELECT 1 FROM revoked_access_tokens WHERE jti = $1",
            &[&jti],
        )?;
        Ok(row.is_some())
    }
}

impl TokenWrites for PgConn {
    fn insert_api_token(&self, token: &ApiTokenRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO api_tokens (id, digest, user_id, name, created_at, expires_at, scope,
                 openid, client_id, bound_cidrs)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &token.id,
                &&token.digest[..],
                &token.user_id,
                &token.name,
                &token.created_at,
                &token.expires_at,
                &scope_to_column(&token.scope)?,
                &token.openid,
                &token.client_id,
                &cidrs_to_column(&token.bound_cidrs)?,
            ],
        )?;
        Ok(())
    }

    fn set_client_id_token_alg(&self, client_id: &str, algorithm: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE oauth_clients SET id_token_alg = $2 WHERE id = $1",
            &[&client_id, &algorithm],
        )?;
        self.execute(
            "UPDATE service_accounts SET id_token_alg = $2 WHERE user_id = $1",
            &[&client_id, &algorithm],
        )?;
        Ok(())
    }

    fn insert_token_request(
        &self,
        user_id: &str,
        request_id: &str,
        token_id: &str,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO token_requests (user_id, request_id, token_id) VALUES ($1, $2, $3)",
            &[&user_id, &request_id, &token_id],
        )?;
        Ok(())
    }

    fn set_token_policy(&self, key: &str, policy: &TokenPolicy) -> StoreResult<()> {
        self.execute(
            "INSERT INTO token_policies
                 (org_id, default_ttl, max_ttl, allow_never, max_idle, second_factor,
                  max_rotation_grace, require_bound_cidrs)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (org_id) DO UPDATE SET default_ttl = $2, max_ttl = $3,
                 allow_never = $4, max_idle = $5, second_factor = $6,
                 max_rotation_grace = $7, require_bound_cidrs = $8",
            &[
                &key,
                &policy.default_ttl,
                &policy.max_ttl,
                &policy.allow_never,
                &policy.max_idle,
                &policy.second_factor,
                &policy.max_rotation_grace,
                &policy.require_bound_cidrs,
            ],
        )?;
        Ok(())
    }

    fn revoke_api_token(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }

    fn replace_api_token(
        &self,
        id: &str,
        successor: &str,
        works_until: i64,
        now: i64,
    ) -> StoreResult<bool> {
        // A grace that ends now or earlier is no grace: revoked at once.
        let changed = self.execute(
            "UPDATE api_tokens SET replaced_by = $2,
                 revoked_at = CASE WHEN $3::BIGINT <= $4::BIGINT THEN $4::BIGINT END,
                 expires_at = CASE WHEN $3::BIGINT <= $4::BIGINT THEN expires_at
                                   ELSE least(coalesce(expires_at, $3), $3) END
             WHERE id = $1 AND revoked_at IS NULL AND replaced_by IS NULL
               AND rotated_at IS NULL AND (expires_at IS NULL OR expires_at > $4)",
            &[&id, &successor, &works_until, &now],
        )?;
        Ok(changed == 1)
    }

    fn record_api_token_use(
        &self,
        id: &str,
        at: i64,
        client: &str,
        client_id: Option<&str>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE api_tokens SET last_used_at = $2, last_used_ip = $3,
                 client_id = coalesce(client_id, $4)
             WHERE id = $1",
            &[&id, &at, &client, &client_id],
        )?;
        Ok(())
    }

    fn revoke_access_token(&self, jti: &str, expires_at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
            &[&jti, &expires_at],
        )?;
        Ok(changed == 1)
    }

    fn insert_introspection_client(&self, client: &IntrospectionClient) -> StoreResult<()> {
        self.execute(
            "INSERT INTO introspection_clients (id, service_id, secret_digest, created_at)
             VALUES ($1, $2, $3, $4)",
            &[
                &client.id,
                &client.service_id,
                &&client.secret_digest[..],
                &client.created_at,
            ],
        )?;
        Ok(())
    }

    fn insert_oauth_client(&self, client: &OAuthClient) -> StoreResult<()> {
        self.execute(
            "INSERT INTO oauth_clients (id, name, user_id, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &client.id,
                &client.name,
                &client.user_id,
                &client.created_at,
            ],
        )?;
        Ok(())
    }

    fn bind_oauth_client_token(&self, client_id: &str, token_id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE oauth_clients SET token_id = $2
             WHERE id = $1 AND token_id IS NULL AND deleted_at IS NULL",
            &[&client_id, &token_id],
        )?;
        Ok(changed == 1)
    }

    fn delete_oauth_client(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE oauth_clients SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }

    fn revoke_introspection_client(&self, id: &str, at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE introspection_clients SET revoked_at = $2
             WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
        )?;
        Ok(changed == 1)
    }

    fn forget_expired_revocations(&self, now: i64) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
            &[&now],
        )
    }

    fn record_dpop_proof(&self, replay_key: &[u8; 32], expires_at: i64) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO dpop_proofs (replay_key, expires_at) VALUES ($1, $2)
             ON CONFLICT (replay_key) DO NOTHING",
            &[&&replay_key[..], &expires_at],
        )?;
        Ok(changed == 1)
    }

    fn forget_expired_dpop_proofs(&self, before: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM dpop_proofs WHERE expires_at < $1", &[&before])
    }
}

const CLIENT: &str = "SELECT c.id, c.service_id, s.name, c.secret_digest, c.created_at,
        c.revoked_at
    FROM introspection_clients c JOIN services s ON s.id = c.service_id";

fn client_from_row(r: &Row) -> StoreResult<IntrospectionClient> {
    Ok(IntrospectionClient {
        id: r.try_get(0)?,
        service_id: r.try_get(1)?,
        service_name: r.try_get(2)?,
        secret_digest: digest(r.try_get(3)?)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

fn api_token_from_row(r: &Row) -> StoreResult<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.try_get(0)?,
        digest: digest(r.try_get(1)?)?,
        user_id: r.try_get(2)?,
        name: r.try_get(3)?,
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        revoked_at: r.try_get(6)?,
        scope: scope_from_column(r.try_get(7)?)?,
        openid: r.try_get(8)?,
        rotated_at: r.try_get(9)?,
        client_id: r.try_get(10)?,
        bound_cidrs: cidrs_from_column(r.try_get(11)?)?,
    })
}

fn listing_from_row(r: &Row) -> StoreResult<ApiTokenListing> {
    Ok(ApiTokenListing {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        owner_id: r.try_get(2)?,
        owner_name: r.try_get(3)?,
        org_id: r.try_get(4)?,
        org_name: r.try_get(5)?,
        created_at: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        last_used_at: r.try_get(8)?,
        revoked_at: r.try_get(9)?,
        scope: scope_from_column(r.try_get(10)?)?,
        last_used_ip: r.try_get(11)?,
        openid: r.try_get(12)?,
        bound_cidrs: cidrs_from_column(r.try_get(13)?)?,
    })
}

fn digest(bytes: Vec<u8>) -> StoreResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Failed("a stored digest is not 32 bytes".into()))
}

/// A `count(*)`, never negative.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
