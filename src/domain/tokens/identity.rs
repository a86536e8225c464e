//! Who a caller is, as OpenID Connect says it: the claims of `/userinfo`
//! and of ID tokens. The standard claims (`sub`, `preferred_username`,
//! `name`, `email`, `email_verified`) and tokend's own (`org_id`,
//! `org_name`, `groups`, `roles`), the roles as the caller's grant has them.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::directory::names::check_audience;
use crate::domain::records::{Account, ApiTokenRecord};
use crate::domain::tokens::signing::{ES256, RS256};
use crate::domain::{Authority, Caller, DomainError};

/// What an exchange request names beside the API token.
#[derive(Debug, Clone, Default)]
pub struct ExchangeRequest<'a> {
    /// The `client_id` of the request (a public client, RFC 6749 §6): the
    /// access token's `client_id`, the ID token's `aud` and `azp`. The
    /// first one presented with an API token binds the token to it.
    pub client_id: Option<&'a str>,
    /// The `resource` (RFC 8707) and `audience` (RFC 8693) values: each the
    /// identifier URI of a registered service, which the access token's
    /// `aud` then names.
    pub resources: Vec<&'a str>,
    /// A DPoP proof that came with the request (RFC 9449 §5): the access
    /// token is bound to its key.
    pub dpop: Option<&'a crate::domain::CheckedProof>,
}

/// The parties of an ID token (OpenID Connect Core §2): the same in every
/// refresh of one API token (§12.2).
#[derive(Debug, Clone)]
pub struct IdTokenParties {
    pub aud: String,
    pub azp: Option<String>,
    /// When the user authenticated: the API token's creation.
    pub auth_time: i64,
    /// `RS256`, or `ES256` for a client that registered for it.
    pub algorithm: &'static str,
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

    /// The `aud` of an access token for `request`: the services its
    /// resources name (each must be one's identifier URI), else the issuer
    /// and the configured default audiences.
    pub(in crate::domain) fn access_audience(
        &self,
        request: &ExchangeRequest<'_>,
    ) -> Result<Vec<String>, DomainError> {
        if let Some(client_id) = request.client_id {
            check_audience(client_id)?;
        }
        let mut audience: Vec<String> = Vec::with_capacity(request.resources.len());
        for &resource in &request.resources {
            check_audience(resource)?;
            if self.db().service_by_identifier(resource)?.is_none() {
                return Err(DomainError::InvalidTarget(format!(
                    "no service has the identifier {resource}"
                )));
            }
            if !audience.iter().any(|a| a == resource) {
                audience.push(resource.to_string());
            }
        }
        if audience.is_empty() {
            let settings = self.settings();
            audience.push(settings.issuer.clone());
            audience.extend(settings.default_audience.iter().cloned());
        }
        Ok(audience)
    }

    /// The parties of the ID tokens of `token` exchanged by `client_id`
    /// (the request's, else the one the token is bound to): that client
    /// is `aud` and `azp`; with none, `Settings::audience`, else the API
    /// token itself (its id), never an access token's audience.
    pub(in crate::domain) fn id_token_parties(
        &self,
        token: &ApiTokenRecord,
        client_id: Option<&str>,
    ) -> Result<IdTokenParties, DomainError> {
        let algorithm = match client_id {
            Some(client) => match self.db().client_id_token_alg(client)?.as_deref() {
                Some(ES256) => ES256,
                _ => RS256,
            },
            None => RS256,
        };
        let aud = match client_id {
            Some(client) => client.to_string(),
            None => self
                .settings()
                .audience
                .clone()
                .unwrap_or_else(|| token.id.clone()),
        };
        Ok(IdTokenParties {
            aud,
            azp: client_id.map(str::to_string),
            auth_time: token.created_at,
            algorithm,
        })
    }

    /// The claims of an OpenID Connect Core 1.0 ID token for `account`,
    /// issued now and expiring with the access token it comes with.
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
            "auth_time": parties.auth_time,
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
