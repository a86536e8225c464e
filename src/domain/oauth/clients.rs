//! OAuth clients and the JWT-bearer grant, as Cloud Director offers them to
//! its automation: a user with a password session registers a client, then
//! presents the session's access token as the assertion of an RFC 7523
//! grant and receives, once per client, a new API token (the refresh
//! token) with an access token. Deleting the client revokes that token.

use std::net::IpAddr;

use serde_json::json;

use crate::domain::directory::names::check_name;
use crate::domain::records::OAuthClient;
use crate::domain::records::TokenScope;
use crate::domain::storage::{Durability, StoreError};
use crate::domain::tokens::identity::ExchangeRequest;
use crate::domain::tokens::signing::{ES256, RS256};
use crate::domain::tokens::{CreatedApiToken, ExchangeAudience, IssuedAccess, NewApiToken};
use crate::domain::{Authority, Caller, Committing, DomainError, Right};

const MAX_CLIENT_NAME: usize = 128;

impl Authority {
    /// Registers a client for the caller, at the endpoint of `audience`
    /// (its own org's only). Needs a password session and "Manage user's
    /// own API token".
    pub fn register_oauth_client(
        &mut self,
        caller: &Caller,
        audience: ExchangeAudience<'_>,
        name: &str,
        id_token_alg: Option<&str>,
    ) -> Result<OAuthClient, DomainError> {
        self.require_session(caller, "register OAuth clients")?;
        let id_token_alg = id_token_alg.map(self::id_token_alg).transpose()?;
        self.require(caller, Right::TokenManageOwn)?;
        if !audience.admits(&caller.account) {
            return Err(self.deny(
                caller,
                "clients are registered at the endpoint of one's own organization".into(),
            ));
        }
        let name = name.trim();
        check_name("client name", name, MAX_CLIENT_NAME)?;
        let client = OAuthClient {
            id: self.new_id()?,
            name: name.to_string(),
            user_id: caller.account.user_id.clone(),
            created_at: self.now(),
            token_id: None,
            deleted_at: None,
        };
        let record = client.clone();
        let event = self
            .event("oauth_client.register", "success")?
            .by(caller)
            .on("oauth_client", &client.id, &client.name);
        self.write_recorded(event, move |tx| {
            tx.insert_oauth_client(&record)?;
            match id_token_alg {
                Some(algorithm) => tx.set_client_id_token_alg(&record.id, algorithm),
                None => Ok(()),
            }
        })?;
        Ok(client)
    }

    /// Deletes one of the caller's clients, and revokes the API token it
    /// took.
    pub fn delete_oauth_client(
        &mut self,
        caller: &Caller,
        client_id: &str,
    ) -> Result<(), DomainError> {
        self.require_session(caller, "delete OAuth clients")?;
        let not_found = || DomainError::NotFound("no such OAuth client".into());
        let client = self
            .db()
            .oauth_client(client_id)?
            .filter(|c| c.deleted_at.is_none() && c.user_id == caller.account.user_id)
            .ok_or_else(not_found)?;
        let now = self.now();
        let event = self
            .event("oauth_client.delete", "success")?
            .by(caller)
            .on("oauth_client", &client.id, &client.name)
            .with("api_token", json!(client.token_id));
        let (id, token_id) = (client.id.clone(), client.token_id.clone());
        self.write_if_changed(event, move |tx| {
            let deleted = tx.delete_oauth_client(&id, now)?;
            if let (true, Some(token_id)) = (deleted, &token_id) {
                tx.revoke_api_token(token_id, now)?;
            }
            Ok(deleted)
        })?;
        Ok(())
    }

    /// Deletes a client for the operator (a restore replaying a deletion
    /// the backup lacks) and revokes the API token it took; false when it
    /// is unknown or deleted already.
    pub fn delete_oauth_client_by_operator(
        &mut self,
        client_id: &str,
    ) -> Result<bool, DomainError> {
        let Some(client) = self
            .db()
            .oauth_client(client_id)?
            .filter(|c| c.deleted_at.is_none())
        else {
            return Ok(false);
        };
        let now = self.now();
        let mut event = self
            .operator_event("oauth_client.delete")?
            .on("oauth_client", &client.id, &client.name)
            .with("api_token", json!(client.token_id));
        if let Some(owner) = self.db().user(&client.user_id)? {
            event = event.in_org(&owner.org_id);
        }
        let (id, token_id) = (client.id, client.token_id);
        Ok(self.write_if_changed(event, move |tx| {
            let deleted = tx.delete_oauth_client(&id, now)?;
            if let (true, Some(token_id)) = (deleted, &token_id) {
                tx.revoke_api_token(token_id, now)?;
            }
            Ok(deleted)
        })?)
    }

    /// RFC 7523 with Cloud Director's rules: `assertion` is a live password
    /// session's access token of the client's owner, who may manage its own
    /// API tokens; each client takes one API token, ever. Returns the new
    /// token and the access token its exchange gave.
    pub fn exchange_jwt_bearer(
        &mut self,
        client_id: &str,
        assertion: &str,
        audience: ExchangeAudience<'_>,
        resources: &[&str],
        client_ip: IpAddr,
    ) -> Result<(CreatedApiToken, Committing<IssuedAccess>), DomainError> {
        let (caller, client) =
            match self.check_jwt_bearer(client_id, assertion, audience, client_ip)? {
                Ok(checked) => checked,
                Err((reason, caller)) => {
                    let refusal = self
                        .event("token.jwt_bearer_failed", "failure")
                        .map(|event| {
                            let event = match &caller {
                                Some(caller) => event.by(caller),
                                None => event.from(client_ip),
                            };
                            // Only a well-formed id is named, never whatever else
                            // was sent in its place.
                            let event = match crate::domain::parse_id(client_id) {
                                Some(id) => event.on("oauth_client", &id, ""),
                                None => event,
                            };
                            event.with("reason", json!(reason))
                        });
                    if let Ok(refusal) = refusal {
                        self.record_refusal(refusal);
                    }
                    return Err(DomainError::InvalidGrant(reason));
                }
            };
        let event = self
            .event("token.create", "success")?
            .by(&caller)
            .with("via", json!("jwt-bearer"))
            .with("oauth_client", json!(client.id));
        let (created, mut write) = self.new_api_token(
            &caller.account.user_id,
            NewApiToken {
                name: &client.name,
                ttl: None,
                scope: TokenScope::AllRoles,
                openid: false,
                request_id: None,
                bound_cidrs: &[],
            },
            event,
        )?;
        let (client_id, token_id) = (client.id.clone(), created.id.clone());
        let bound = self.store.run_write(
            Box::new(move |tx| {
                write(tx)?;
                // A second grant racing this one: only one binds.
                if tx.bind_oauth_client_token(&client_id, &token_id)? {
                    Ok(())
                } else {
                    Err(StoreError::Conflict)
                }
            }),
            Durability::Durable,
        );
        match bound {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(DomainError::InvalidGrant(
                    "this client has taken its API token already",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        let issued = self.exchange_api_token(
            created.secret.reveal(),
            audience,
            &ExchangeRequest {
                client_id: Some(&client.id),
                resources: resources.to_vec(),
                dpop: None,
            },
            client_ip,
        )?;
        Ok((created, issued))
    }

    /// The caller behind `assertion` and its client, when the grant may be
    /// made; otherwise why not (and the caller, when the assertion was
    /// good), every reason an `invalid_grant`. The outer error is the
    /// service's own (a database that cannot answer).
    #[allow(clippy::type_complexity)]
    fn check_jwt_bearer(
        &self,
        client_id: &str,
        assertion: &str,
        audience: ExchangeAudience<'_>,
        client_ip: IpAddr,
    ) -> Result<Result<(Caller, OAuthClient), (&'static str, Option<Caller>)>, DomainError> {
        let caller = match self.authenticate(assertion, client_ip) {
            Ok(caller) => caller,
            Err(DomainError::Unauthenticated(_)) => {
                return Ok(Err((
                    "the assertion is not a live session's access token",
                    None,
                )))
            }
            Err(e) => return Err(e),
        };
        let refused = |reason, caller| Ok(Err((reason, Some(caller))));
        if caller.is_token_derived() {
            return refused(
                "an assertion derived from an API token cannot take API tokens",
                caller,
            );
        }
        if !caller.rights.contains(Right::TokenManageOwn) || !audience.admits(&caller.account) {
            return refused(
                "the assertion's user may not take API tokens at this endpoint",
                caller,
            );
        }
        let client = self
            .db()
            .oauth_client(client_id)?
            .filter(|c| c.deleted_at.is_none() && c.user_id == caller.account.user_id);
        let Some(client) = client else {
            return refused("unknown client", caller);
        };
        if client.token_id.is_some() {
            return refused("this client has taken its API token already", caller);
        }
        Ok(Ok((caller, client)))
    }
}

/// A registered client's `id_token_signed_response_alg` (OpenID Connect
/// Dynamic Client Registration §2): RS256 (the default) or ES256.
pub(in crate::domain) fn id_token_alg(algorithm: &str) -> Result<&'static str, DomainError> {
    match algorithm {
        RS256 => Ok(RS256),
        ES256 => Ok(ES256),
        _ => Err(DomainError::Invalid(
            "id_token_signed_response_alg is RS256 or ES256".into(),
        )),
    }
}
