//! RFC 7662 introspection. A resource server authenticates with the
//! credentials of a service it serves (a client id and secret, made by the
//! provider) and asks whether an access token tokend issued is active. An
//! API token is never active here: it is a credential for tokend's token
//! endpoints, not for a resource server, which must not accept it as a
//! bearer token. An inactive token gets nothing but "inactive".

use std::net::IpAddr;

use serde_json::json;

use crate::domain::ambient::random_string;
use crate::domain::audit::Actor;
use crate::domain::records::{IntrospectionClient, Service};
use crate::domain::{Authority, DomainError, Right};

/// Characters of a client secret: base62, about 285 bits.
const SECRET_LENGTH: usize = 48;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Credentials just made: the only value that ever holds the secret.
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub service: String,
    pub created_at: i64,
}

/// What introspection says of an active token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveToken {
    pub sub: String,
    pub username: String,
    pub org_id: String,
    pub org_name: String,
    /// The permissions it grants now, space-separated.
    pub scope: String,
    pub iat: i64,
    pub exp: Option<i64>,
    /// Its `jti`.
    pub token_id: String,
    /// The API token or session it came from.
    pub origin: Option<String>,
    pub aud: Vec<String>,
    pub client_id: Option<String>,
    /// The thumbprint of the DPoP key it is bound to (RFC 9449 §6.2).
    pub dpop_jkt: Option<String>,
}

fn digest(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

impl Authority {
    /// New introspection credentials for the service `service_name`.
    pub fn add_introspection_client(
        &mut self,
        by: Actor<'_>,
        service: &Service,
    ) -> Result<ClientCredentials, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "manage services")?;
        let service = service.clone();
        let secret = random_string(&*self.shared.ambient.random, BASE62, SECRET_LENGTH)?;
        let client = IntrospectionClient {
            id: self.new_id()?,
            service_id: service.id.clone(),
            service_name: service.name.clone(),
            secret_digest: digest(&secret),
            created_at: self.now(),
            revoked_at: None,
        };
        let event = self
            .event_by(by, "service.client_create")?
            .on("service", &service.id, &service.name)
            .with("client_id", json!(client.id));
        let credentials = ClientCredentials {
            client_id: client.id.clone(),
            client_secret: secret,
            service: service.name,
            created_at: client.created_at,
        };
        self.write_recorded(event, move |tx| tx.insert_introspection_client(&client))?;
        Ok(credentials)
    }

    /// The active introspection clients of a service (never their secrets).
    /// A service's active introspection clients, for the provider.
    pub fn introspection_clients(
        &self,
        by: Actor<'_>,
        service: &Service,
    ) -> Result<Vec<IntrospectionClient>, DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "manage services")?;
        Ok(self.db().introspection_clients(&service.id)?)
    }

    pub fn revoke_introspection_client(
        &mut self,
        by: Actor<'_>,
        client_id: &str,
        of_service: Option<&Service>,
    ) -> Result<(), DomainError> {
        self.require_provider_to(by, Right::RightsBundleManage, "manage services")?;
        let not_found = || DomainError::NotFound("no such introspection client".into());
        let id = crate::domain::parse_id(client_id).ok_or_else(not_found)?;
        let client = self
            .db()
            .introspection_client(&id)?
            .filter(|c| c.revoked_at.is_none())
            .filter(|c| of_service.is_none_or(|service| service.id == c.service_id))
            .ok_or_else(not_found)?;
        let event = self
            .event_by(by, "service.client_revoke")?
            .on("service", &client.service_id, &client.service_name)
            .with("client_id", json!(client.id));
        let now = self.now();
        if !self.write_if_changed(event, move |tx| tx.revoke_introspection_client(&id, now))? {
            return Err(not_found());
        }
        Ok(())
    }

    /// The client whose credentials these are, or 401 (recorded as an
    /// `introspection.client_failed` event, never with the secret).
    pub fn authenticate_introspection_client(
        &self,
        client_id: &str,
        secret: &str,
        source: IpAddr,
    ) -> Result<IntrospectionClient, DomainError> {
        let id = crate::domain::parse_id(client_id);
        let found = match &id {
            Some(id) => self.db().introspection_client(id)?,
            None => None,
        };
        // Digests of a secret are compared whole; their timing tells
        // nothing about the secret.
        match found.filter(|c| c.revoked_at.is_none()) {
            Some(client) if client.secret_digest == digest(secret) => Ok(client),
            _ => {
                if let Ok(event) = self.event("introspection.client_failed", "failure") {
                    // Only a well-formed id is named: whatever else was
                    // sent might be a secret pasted in the wrong place.
                    let event = match &id {
                        Some(id) => event.on("introspection_client", id, ""),
                        None => event,
                    };
                    self.record_refusal(event.from(source));
                }
                Err(DomainError::Unauthenticated(
                    "invalid client credentials".into(),
                ))
            }
        }
    }

    /// Whether the access token `presented` is active now, and what it
    /// is; None: inactive (an API token, unknown, malformed, expired,
    /// revoked, its session ended or its user disabled). Any audience:
    /// the resource server checks `aud` itself.
    pub fn introspect(
        &self,
        presented: &str,
        client: IpAddr,
    ) -> Result<Option<ActiveToken>, DomainError> {
        let (caller, claims) = match self.authenticate_for_any_audience(presented, client) {
            Ok(checked) => checked,
            Err(DomainError::Unauthenticated(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let account = &caller.account;
        Ok(Some(ActiveToken {
            sub: account.user_id.clone(),
            username: account.user_name.clone(),
            org_id: account.org.id.clone(),
            org_name: account.org.name.clone(),
            scope: caller.permissions.join(" "),
            iat: claims.iat,
            exp: Some(claims.exp),
            token_id: claims.jti,
            origin: claims.rt.or(claims.sid),
            aud: claims.aud,
            client_id: claims.client_id,
            dpop_jkt: claims.cnf.map(|cnf| cnf.jkt),
        }))
    }
}
