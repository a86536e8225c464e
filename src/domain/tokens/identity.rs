//! Who a caller is, as OpenID Connect says it: the claims of `/userinfo`
//! and of ID tokens. The standard claims (`sub`, `preferred_username`,
//! `name`, `email`, `email_verified`) and tokend's own (`org_id`,
//! `org_name`, `groups`, `roles`), the roles as the caller's grant has them.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::records::Account;
use crate::domain::{Authority, Caller, DomainError};

/// Who an ID token is for, as the exchange request names it.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdTokenAudience<'a> {
    pub target: AudienceTarget<'a>,
    /// The `client_id` of the request (a public client, RFC 6749 §6): the
    /// token's `azp`, and its `aud` when nothing else names one.
    pub client_id: Option<&'a str>,
}

/// What the request names as the ID token's audience.
#[derive(Debug, Clone, Copy, Default)]
pub enum AudienceTarget<'a> {
    /// The client, else `Settings::audience`, else the issuer.
    #[default]
    Default,
    /// An `audience` parameter: a client id or any name of 1-256 visible
    /// characters.
    Named(&'a str),
    /// A `resource` parameter (RFC 8707): an absolute URI, no fragment.
    Resource(&'a str),
}

/// The audience an ID token gets, and the party it was issued to.
#[derive(Debug, Clone)]
pub struct IdTokenParties {
    pub aud: String,
    pub azp: Option<String>,
}

/// An audience tokend will put in a token: 1-256 visible ASCII characters.
pub fn check_audience(audience: &str) -> Result<(), DomainError> {
    let valid = !audience.is_empty()
        && audience.len() <= 256
        && audience.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(DomainError::InvalidTarget(
            "an audience is 1-256 visible ASCII characters".into(),
        ))
    }
}

/// RFC 8707 §2: a resource is an absolute URI without a fragment.
fn check_resource(resource: &str) -> Result<(), DomainError> {
    check_audience(resource)?;
    let scheme = resource.split_once(':').map(|(scheme, _)| scheme);
    let absolute = scheme.is_some_and(|s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if absolute && !resource.contains('#') {
        Ok(())
    } else {
        Err(DomainError::InvalidTarget(
            "a resource is an absolute URI without a fragment (RFC 8707)".into(),
        ))
    }
}

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
        self.identity_of(&caller.account, &caller.roles)
    }

    /// How the caller holds each of its roles, by role name: "direct",
    /// or "group NAME" for each group it comes through.
    pub fn role_sources(&self, caller: &Caller) -> Result<Vec<(String, Vec<String>)>, DomainError> {
        let mut sources: Vec<(String, Vec<String>)> = Vec::new();
        for (role_id, group) in self.db().role_grants_of(&caller.account.user_id)? {
            let Some(role) = self.db().role_by_id(&role_id)? else {
                continue;
            };
            let name = match &role.service {
                Some(service) => format!("{service}/{}", role.name),
                None => role.name,
            };
            let how = group.map_or_else(|| "direct".to_string(), |g| format!("group {g}"));
            match sources.iter_mut().find(|(n, _)| *n == name) {
                Some((_, hows)) => hows.push(how),
                None => sources.push((name, vec![how])),
            }
        }
        Ok(sources)
    }

    /// `account`'s identity claims with the roles of a grant.
    pub(in crate::domain) fn identity_of(
        &self,
        account: &Account,
        roles: &[String],
    ) -> Result<IdentityClaims, DomainError> {
        Ok(IdentityClaims {
            sub: account.user_id.clone(),
            preferred_username: account.user_name.clone(),
            name: account.display_name.clone(),
            email: account.email.clone(),
            email_verified: account.email.as_ref().map(|_| false),
            org_id: account.org.id.clone(),
            org_name: account.org.name.clone(),
            groups: self.db().group_names_of(&account.user_id)?,
            roles: roles.to_vec(),
        })
    }

    /// The `aud` and `azp` an ID token gets; a malformed one asked for is
    /// refused whether or not the token yields an ID token.
    pub(in crate::domain) fn id_token_audience(
        &self,
        audience: IdTokenAudience<'_>,
    ) -> Result<IdTokenParties, DomainError> {
        let settings = self.settings();
        if let Some(client_id) = audience.client_id {
            check_audience(client_id)?;
        }
        let aud = match audience.target {
            AudienceTarget::Default => match audience.client_id {
                Some(client_id) => client_id.to_string(),
                None => settings
                    .audience
                    .clone()
                    .unwrap_or_else(|| settings.issuer.clone()),
            },
            AudienceTarget::Named(name) => {
                check_audience(name)?;
                name.to_string()
            }
            AudienceTarget::Resource(uri) => {
                check_resource(uri)?;
                uri.to_string()
            }
        };
        Ok(IdTokenParties {
            aud,
            azp: audience.client_id.map(str::to_string),
        })
    }

    /// The claims of an OpenID Connect Core 1.0 ID token for `account`,
    /// issued now (the exchange is the authentication) and expiring with
    /// the access token it comes with.
    pub(in crate::domain) fn id_token_claims(
        &self,
        account: &Account,
        roles: &[String],
        parties: &IdTokenParties,
        issued_at: i64,
        expires_at: i64,
    ) -> Result<Value, DomainError> {
        let settings = self.settings();
        let mut claims = serde_json::to_value(self.identity_of(account, roles)?)
            .map_err(|e| DomainError::Internal(format!("ID token claims: {e}")))?;
        let mut registered = json!({
            "iss": settings.issuer,
            "aud": parties.aud,
            "iat": issued_at,
            "exp": expires_at,
            "auth_time": issued_at,
        });
        if let Some(azp) = &parties.azp {
            registered["azp"] = json!(azp);
        }
        if let (Some(claims), Some(registered)) = (claims.as_object_mut(), registered.as_object()) {
            claims.extend(registered.clone());
        }
        Ok(claims)
    }
}
