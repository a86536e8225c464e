//! Administration done by whoever holds the database file (the admin CLI):
//! orgs, users, tokens, login locks and signing keys, with the same
//! validation as the HTTP API but without a caller's rights, since file
//! access is the provider's own.

use super::access_token::KeyRing;
use super::names::check_name;
use super::records::{ApiTokenFilter, ApiTokenListing, NewUser, Org};
use super::throttle::login_key;
use super::tokens::CreatedApiToken;
use super::{parse_id, password, rights, Authority, DomainError, PROVIDER_ORG};

const MAX_ORG_NAME: usize = 64;
const MAX_USER_NAME: usize = 128;
const MAX_ROLE_NAME: usize = 128;

/// Which tokens `tokend token list` shows.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub org_name: Option<String>,
    pub user_name: Option<String>,
    pub include_revoked: bool,
}

/// A signing key as listed: never its private part.
#[derive(Debug, Clone)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub created_at: i64,
    /// The key that signs new access tokens.
    pub signs: bool,
}

impl Authority {
    pub fn add_org(&mut self, name: &str) -> Result<Org, DomainError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_ORG_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(DomainError::Invalid(format!(
                "org name {name:?} must be 1-{MAX_ORG_NAME} characters of A-Z, a-z, 0-9, '.', '_', '-'"
            )));
        }
        let org = Org {
            id: self.new_id()?,
            name: name.to_string(),
            is_provider: false,
            created_at: self.now(),
        };
        let record = org.clone();
        self.store
            .write(move |tx| tx.insert_org(&record))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => {
                    DomainError::Conflict(format!("org {name:?} already exists"))
                }
                other => other,
            })?;
        Ok(org)
    }

    /// Adds `user_name` to `org_name` with the given roles (or the default).
    pub fn add_user(
        &mut self,
        org_name: &str,
        user_name: &str,
        password: &str,
        role_names: &[String],
    ) -> Result<String, DomainError> {
        check_user_name(user_name)?;
        password::check_password_rules(password)?;
        let org = self.org(org_name)?;
        let role_names = if role_names.is_empty() {
            vec![rights::DEFAULT_USER_ROLE.to_string()]
        } else {
            role_names.to_vec()
        };
        for role_name in &role_names {
            check_name("role name", role_name, MAX_ROLE_NAME)?;
            let role = self.db().role(role_name)?.ok_or_else(|| {
                DomainError::Invalid(format!("role {role_name:?} does not exist"))
            })?;
            if role.provider_only && !org.is_provider {
                return Err(DomainError::Invalid(format!(
                    "role {role_name:?} can only be held in the {PROVIDER_ORG} org"
                )));
            }
        }
        let user = NewUser {
            id: self.new_id()?,
            org_id: org.id,
            name: user_name.to_string(),
            password_hash: password::hash_password(&*self.shared.ambient.random, password)?,
            created_at: self.now(),
            role_names,
        };
        let id = user.id.clone();
        self.store
            .write(move |tx| tx.insert_user(&user))
            .map_err(|e| match e.into() {
                DomainError::Conflict(_) => DomainError::Conflict(format!(
                    "user {user_name:?} already exists in org {org_name:?}"
                )),
                other => other,
            })?;
        Ok(id)
    }

    /// Lifts the login lock of `user_name@org_name` from every address, in
    /// this process and in a running server (which reads the unlock when
    /// the lock is next hit).
    pub fn unlock_login(&mut self, org_name: &str, user_name: &str) -> Result<(), DomainError> {
        self.user_id(org_name, user_name)?;
        let name = format!("{user_name}@{org_name}");
        self.shared.throttle.unlock(&name);
        let (key, now) = (login_key(&name), self.now());
        self.store
            .write(move |tx| tx.record_login_unlock(&key, now))?;
        Ok(())
    }

    pub fn create_api_token_for(
        &mut self,
        org_name: &str,
        user_name: &str,
        name: &str,
        ttl: Option<&str>,
    ) -> Result<CreatedApiToken, DomainError> {
        let user_id = self.user_id(org_name, user_name)?;
        self.issue_api_token(&user_id, name, ttl)
    }

    pub fn api_tokens(&self, query: &TokenQuery) -> Result<Vec<ApiTokenListing>, DomainError> {
        let org_id = match &query.org_name {
            Some(name) => Some(self.org(name)?.id),
            None => None,
        };
        let filter = ApiTokenFilter {
            owner_id: None,
            org_id,
            user_name: query.user_name.clone(),
            include_revoked: query.include_revoked,
        };
        Ok(self.db().api_tokens(&filter)?)
    }

    pub fn revoke_api_token_by_id(&mut self, id: &str) -> Result<(), DomainError> {
        let not_found = || DomainError::NotFound(format!("no active API token with id {id:?}"));
        let id = parse_id(id).ok_or_else(not_found)?;
        let now = self.now();
        if !self.store.write(move |tx| tx.revoke_api_token(&id, now))? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Adds a new signing key, which signs from now on; the older keys keep
    /// verifying the access tokens they signed. Running servers pick it up
    /// on their next request.
    pub fn rotate_signing_key(&mut self) -> Result<SigningKeyInfo, DomainError> {
        let mut key = KeyRing::generate_key(&*self.shared.ambient.random, self.now())?;
        // The newest key signs: a rotation within the second of the last
        // one must still come out newest.
        let newest = self.db().signing_keys()?.iter().map(|k| k.created_at).max();
        key.created_at = key.created_at.max(newest.map_or(i64::MIN, |t| t + 1));
        let info = SigningKeyInfo {
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            created_at: key.created_at,
            signs: true,
        };
        self.store.write(move |tx| tx.insert_signing_key(&key))?;
        Ok(info)
    }

    pub fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>, DomainError> {
        let ring = self.keys()?;
        Ok(self
            .db()
            .signing_keys()?
            .into_iter()
            .map(|k| SigningKeyInfo {
                signs: k.kid == ring.signing_kid(),
                kid: k.kid.clone(),
                algorithm: k.algorithm.clone(),
                created_at: k.created_at,
            })
            .collect())
    }

    fn org(&self, name: &str) -> Result<Org, DomainError> {
        self.db()
            .org_by_name(name)?
            .ok_or_else(|| DomainError::NotFound(format!("org {name:?} does not exist")))
    }

    fn user_id(&self, org_name: &str, user_name: &str) -> Result<String, DomainError> {
        let (account, _) = self
            .db()
            .login_account(org_name, user_name)?
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
            })?;
        Ok(account.user_id)
    }
}

fn check_user_name(name: &str) -> Result<(), DomainError> {
    check_name("user name", name, MAX_USER_NAME)?;
    if name
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c == ':')
    {
        return Err(DomainError::Invalid(format!(
            "user name {name:?} must not contain spaces, '@' or ':'"
        )));
    }
    Ok(())
}
