//! Administration done by whoever holds the database file (the admin CLI):
//! orgs, users and tokens, with the same validation as the HTTP API but
//! without a caller's rights, since file access is the provider's own.

use super::tokens::CreatedApiToken;
use super::{new_id, now, parse_id, password, Authority, DomainError, PROVIDER_ORG};
use crate::store::{ApiTokenFilter, ApiTokenListing, NewUser, Org};

const MAX_ORG_NAME: usize = 64;
const MAX_USER_NAME: usize = 128;

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
            id: new_id(),
            name: name.to_string(),
            is_provider: false,
            created_at: now(),
        };
        self.store.insert_org(&org).map_err(|e| match e.into() {
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
            vec![super::rights::DEFAULT_USER_ROLE.to_string()]
        } else {
            role_names.to_vec()
        };
        for role_name in &role_names {
            let role = self.store.role(role_name)?.ok_or_else(|| {
                DomainError::Invalid(format!("role {role_name:?} does not exist"))
            })?;
            if role.provider_only && !org.is_provider {
                return Err(DomainError::Invalid(format!(
                    "role {role_name:?} can only be held in the {PROVIDER_ORG} org"
                )));
            }
        }
        let user = NewUser {
            id: new_id(),
            org_id: org.id,
            name: user_name.to_string(),
            password_hash: password::hash_password(password)?,
            created_at: now(),
            role_names,
        };
        self.store.insert_user(&user).map_err(|e| match e.into() {
            DomainError::Conflict(_) => DomainError::Conflict(format!(
                "user {user_name:?} already exists in org {org_name:?}"
            )),
            other => other,
        })?;
        Ok(user.id)
    }

    pub fn create_api_token_for(
        &mut self,
        org_name: &str,
        user_name: &str,
        name: &str,
        ttl: Option<&str>,
    ) -> Result<CreatedApiToken, DomainError> {
        let (account, _) = self
            .store
            .login_account(org_name, user_name)?
            .ok_or_else(|| {
                DomainError::NotFound(format!("no user {user_name:?} in org {org_name:?}"))
            })?;
        self.issue_api_token(&account.user_id, name, ttl)
    }

    pub fn api_tokens(&self, filter: &ApiTokenFilter) -> Result<Vec<ApiTokenListing>, DomainError> {
        Ok(self.store.api_tokens(filter)?)
    }

    pub fn revoke_api_token_by_id(&mut self, id: &str) -> Result<(), DomainError> {
        let not_found = || DomainError::NotFound(format!("no active API token with id {id:?}"));
        let id = parse_id(id).ok_or_else(not_found)?;
        if !self.store.revoke_api_token(&id, now())? {
            return Err(not_found());
        }
        Ok(())
    }

    fn org(&self, name: &str) -> Result<Org, DomainError> {
        self.store
            .org_by_name(name)?
            .ok_or_else(|| DomainError::NotFound(format!("org {name:?} does not exist")))
    }
}

fn check_user_name(name: &str) -> Result<(), DomainError> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_USER_NAME
        && !name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '@' || c == ':');
    if valid {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "user name {name:?} must be 1-{MAX_USER_NAME} characters without spaces, '@' or ':'"
        )))
    }
}
