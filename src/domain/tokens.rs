//! The API token lifecycle: creation (secret shown once), listing (never the
//! secret), revocation, and the exchange of an API token for an access token.

use std::net::IpAddr;

use super::api_token::{ApiTokenSecret, TokenLifetime, DEFAULT_LIFETIME};
use super::names::check_name;
use super::records::{Account, ApiTokenFilter, ApiTokenPage, ApiTokenRecord};
use super::scopes::{Grant, TokenScope};
use super::users::PageRequest;
use super::{parse_id, AccessOrigin, Authority, Caller, DomainError, Right};

const MAX_NAME_LENGTH: usize = 128;
const UNKNOWN_OR_REVOKED: &str = "the API token is invalid or has been revoked";

/// A token just created: the only value that ever carries the secret.
#[derive(Debug)]
pub struct CreatedApiToken {
    pub id: String,
    pub name: String,
    pub secret: ApiTokenSecret,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub scope: TokenScope,
}

/// Where an API token is presented for exchange, and so which tokens qualify.
#[derive(Debug, Clone, Copy)]
pub enum ExchangeAudience<'a> {
    /// The console's `authorize` endpoint: any org's token.
    AnyOrg,
    /// `/oauth/provider/token`: only tokens of the provider org.
    Provider,
    /// `/oauth/tenant/{org}/token`: only tokens of that tenant org.
    Tenant(&'a str),
}

/// An access token issued for an API token.
pub struct IssuedAccess {
    pub access_token: String,
    pub expires_in: i64,
    /// What it grants.
    pub grant: Grant,
    /// The grant is every permission the user holds.
    pub grants_everything: bool,
}

impl Authority {
    /// Creates an API token for the caller. Needs "Manage user's own API token" and a
    /// session: access derived from an API token cannot create tokens.
    pub fn create_api_token(
        &mut self,
        caller: &Caller,
        name: &str,
        ttl: Option<&str>,
        scope: TokenScope,
    ) -> Result<CreatedApiToken, DomainError> {
        if caller.is_token_derived() {
            return Err(DomainError::Forbidden(
                "access derived from an API token cannot create API tokens".into(),
            ));
        }
        if !caller.rights.contains(Right::TokenManageOwn) {
            return Err(DomainError::Forbidden(format!(
                "creating API tokens needs the right {:?}",
                Right::TokenManageOwn.name()
            )));
        }
        let scope = scope.checked(&caller.account)?;
        self.issue_api_token(&caller.account.user_id, name, ttl, scope)
    }

    /// The caller's own tokens that are not revoked (expired ones included).
    pub fn own_api_tokens(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<ApiTokenPage, DomainError> {
        let filter = ApiTokenFilter {
            owner_id: Some(caller.account.user_id.clone()),
            name_contains: name.map(str::to_lowercase),
            page: Some((page.offset(), page.page_size)),
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?)
    }

    /// Every user's tokens the caller may see by name, not revoked: those of
    /// its org with "View all users' API tokens", of every org for the
    /// provider. Access derived from an API token sees its own user's tokens
    /// only, whatever its user holds: seed 003 denies it other users' tokens.
    pub fn all_visible_api_tokens(
        &self,
        caller: &Caller,
        name: Option<&str>,
        page: PageRequest,
    ) -> Result<ApiTokenPage, DomainError> {
        if caller.is_token_derived() {
            return Err(DomainError::Forbidden(
                "access derived from an API token cannot view other users' API tokens".into(),
            ));
        }
        if !caller.rights.contains(Right::TokenManageAll) {
            return Err(DomainError::Forbidden(format!(
                "listing other users' API tokens needs the right {:?}",
                Right::TokenManageAll.name()
            )));
        }
        let org = &caller.account.org;
        let filter = ApiTokenFilter {
            org_id: (!org.is_provider).then(|| org.id.clone()),
            name_contains: name.map(str::to_lowercase),
            page: Some((page.offset(), page.page_size)),
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?)
    }

    /// Revokes a token: its owner may; so may a holder of "Manage all users' API tokens"
    /// in the token's org, or in the provider org for any org. Tokens the
    /// caller may not touch are reported as unknown.
    pub fn revoke_api_token(&mut self, caller: &Caller, id: &str) -> Result<(), DomainError> {
        if caller.is_token_derived() {
            return Err(DomainError::Forbidden(
                "access derived from an API token cannot revoke API tokens".into(),
            ));
        }
        let not_found = || DomainError::NotFound("no such API token".into());
        let id = parse_id(id).ok_or_else(not_found)?;
        let token = self
            .db()
            .api_token(&id)?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(not_found)?;
        let org = &caller.account.org;
        let allowed = token.owner_id == caller.account.user_id
            || (caller.rights.contains(Right::TokenManageAll)
                && (org.is_provider || org.id == token.org_id));
        if !allowed {
            return Err(not_found());
        }
        let now = self.now();
        if !self.store.write(move |tx| tx.revoke_api_token(&id, now))? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Exchanges an API token for an access token limited by the token's
    /// rules: the user's rights as they are now, view-only.
    pub fn exchange_api_token(
        &mut self,
        presented: &str,
        audience: ExchangeAudience<'_>,
        client: IpAddr,
    ) -> Result<IssuedAccess, DomainError> {
        let secret = ApiTokenSecret::parse(presented)
            .ok_or(DomainError::InvalidGrant("the API token is malformed"))?;
        let now = self.now();
        let token = self
            .db()
            .api_token_by_digest(&secret.digest())?
            .filter(|t| t.revoked_at.is_none())
            .ok_or(DomainError::InvalidGrant(UNKNOWN_OR_REVOKED))?;
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::InvalidGrant("the API token has expired"));
        }
        let account = self
            .db()
            .account(&token.user_id)?
            .ok_or(DomainError::InvalidGrant(UNKNOWN_OR_REVOKED))?;
        if account.disabled {
            return Err(DomainError::InvalidGrant(
                "the API token's user is disabled",
            ));
        }
        if !audience.admits(&account) {
            return Err(DomainError::InvalidGrant(
                "the API token is not valid for this organization",
            ));
        }
        let grant = token.scope.grant(&account);
        let grants_everything = grant.permissions == account.permissions();
        // An access token never outlives the API token it came from.
        let lifetime = self.settings().access_token_lifetime.as_secs() as i64;
        let expires_at = token
            .expires_at
            .map_or(now + lifetime, |at| at.min(now + lifetime));
        let claims = self.claims_for(
            &account,
            grant.clone(),
            now,
            expires_at,
            AccessOrigin::ApiToken(token.id.clone()),
        )?;
        let access_token = self.keys()?.sign(&claims)?;
        // A last-used stamp acknowledges nothing: it is queued, not waited
        // for, and an exchange never fails for want of it.
        let id = token.id.clone();
        let client = client.to_string();
        if let Err(e) = self.store.queue_write(Box::new(move |tx| {
            tx.record_api_token_use(&id, now, &client)
        })) {
            eprintln!(
                "tokend: could not record the use of API token {}: {e}",
                token.id
            );
        }
        Ok(IssuedAccess {
            access_token,
            expires_in: expires_at - now,
            grant,
            grants_everything,
        })
    }

    pub(super) fn issue_api_token(
        &mut self,
        user_id: &str,
        name: &str,
        ttl: Option<&str>,
        scope: TokenScope,
    ) -> Result<CreatedApiToken, DomainError> {
        let name = name.trim();
        check_name("token name", name, MAX_NAME_LENGTH)?;
        let lifetime = TokenLifetime::parse(ttl.unwrap_or(DEFAULT_LIFETIME))?;
        let secret = ApiTokenSecret::generate(&*self.shared.ambient.random)?;
        let now = self.now();
        let record = ApiTokenRecord {
            id: self.new_id()?,
            digest: secret.digest(),
            user_id: user_id.to_string(),
            name: name.to_string(),
            created_at: now,
            expires_at: lifetime.expires_at(now),
            revoked_at: None,
            scope: scope.clone(),
        };
        let created = CreatedApiToken {
            id: record.id.clone(),
            name: record.name.clone(),
            secret,
            created_at: record.created_at,
            expires_at: record.expires_at,
            scope,
        };
        self.store.write(move |tx| tx.insert_api_token(&record))?;
        Ok(created)
    }
}

impl ExchangeAudience<'_> {
    fn admits(self, account: &Account) -> bool {
        match self {
            ExchangeAudience::AnyOrg => true,
            ExchangeAudience::Provider => account.org.is_provider,
            ExchangeAudience::Tenant(org) => {
                !account.org.is_provider && account.org.name.eq_ignore_ascii_case(org)
            }
        }
    }
}
