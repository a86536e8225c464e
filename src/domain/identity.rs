//! Who a caller is, as OpenID Connect says it: the claims of `/userinfo`
//! and of ID tokens. The standard claims (`sub`, `preferred_username`,
//! `name`, `email`, `email_verified`) and tokend's own (`org_id`,
//! `org_name`, `groups`, `roles`), the roles as the caller's grant has them.

use serde::Serialize;

use super::{Authority, Caller, DomainError};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdentityClaims {
    pub sub: String,
    pub preferred_username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// tokend does not verify addresses: false whenever there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    pub org_id: String,
    pub org_name: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
}

impl Authority {
    /// The caller's identity claims, as of now.
    pub fn identity(&self, caller: &Caller) -> Result<IdentityClaims, DomainError> {
        let account = &caller.account;
        Ok(IdentityClaims {
            sub: account.user_id.clone(),
            preferred_username: account.user_name.clone(),
            name: account.display_name.clone(),
            email: account.email.clone(),
            email_verified: account.email.as_ref().map(|_| false),
            org_id: account.org.id.clone(),
            org_name: account.org.name.clone(),
            groups: self.db().group_names_of(&account.user_id)?,
            roles: caller.roles.clone(),
        })
    }
}
