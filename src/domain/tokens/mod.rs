//! The API token lifecycle: creation (secret shown once), listing (never the
//! secret), revocation, and the exchange of an API token for an access token.

pub(in crate::domain) mod access_token;
pub(in crate::domain) mod api_token;
pub(in crate::domain) mod dpop;
pub(in crate::domain) mod identity;
pub(in crate::domain) mod keys;
pub(in crate::domain) mod leaks;
pub(in crate::domain) mod named;
pub(in crate::domain) mod networks;
pub(in crate::domain) mod policy;
pub(in crate::domain) mod reminders;
pub(in crate::domain) mod rotation;
pub(in crate::domain) mod scopes;
pub(in crate::domain) mod sealing;
pub(in crate::domain) mod signing;

use std::net::IpAddr;

use serde_json::json;

use crate::domain::audit::Actor;
use crate::domain::directory::names::check_name;
use crate::domain::records::PageRequest;
use crate::domain::records::TokenScope;
use crate::domain::records::{
    Account, ApiTokenFilter, ApiTokenPage, ApiTokenRecord, ServiceAccountStatus,
};
use crate::domain::records::{ApiTokenListing, Event, TokenSort, TokenState};
use crate::domain::storage::{Durability, StoreError, WriteJob};
use crate::domain::tokens::access_token::Confirmation;
use crate::domain::tokens::api_token::ApiTokenSecret;
use crate::domain::tokens::dpop::CheckedProof;
use crate::domain::tokens::identity::ExchangeRequest;
use crate::domain::tokens::networks::BoundNetworks;
use crate::domain::tokens::reminders::ReminderRequest;
use crate::domain::tokens::scopes::Grant;
use crate::domain::{
    parse_id, AccessOrigin, Authority, Caller, Commit, Committing, DomainError, Right,
};

const MAX_NAME_LENGTH: usize = 128;
/// Tokens revoked per commit when every live one is.
const REVOKE_BATCH: u32 = 500;
const UNKNOWN_OR_REVOKED: &str = "the API token is invalid or has been revoked";
/// Why an exchange from outside a token's networks was refused, for the
/// trail only: the client hears `UNKNOWN_OR_REVOKED`, so that a stolen
/// token's holder learns nothing of the binding.
const OUTSIDE_BOUND_NETWORKS: &str =
    "network: the client address is outside the API token's bound networks";

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub name: &'a str,
    /// A lifetime such as `90d`, or `never`; None: the default.
    pub ttl: Option<&'a str>,
    pub scope: TokenScope,
    /// Every exchange also returns an OpenID Connect ID token.
    pub openid: bool,
    /// The request that asks for it (a console form's): the same request
    /// sent again makes no second token (`Conflict`).
    pub request_id: Option<&'a str>,
    /// The networks it may be exchanged from (CIDRs or addresses, as
    /// given); empty: any network.
    pub bound_cidrs: &'a [String],
}

/// A token just created: the only value that ever carries the secret.
#[derive(Debug)]
pub struct CreatedApiToken {
    pub id: String,
    pub name: String,
    pub secret: ApiTokenSecret,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub scope: TokenScope,
    pub openid: bool,
    /// The networks it may be exchanged from, canonical; empty: any.
    pub bound_cidrs: Vec<String>,
}

/// What an admin's token inventory shows: every token in reach, narrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct InventoryQuery<'a> {
    /// Tokens whose name contains it.
    pub name: Option<&'a str>,
    /// Tokens of the user called this.
    pub owner: Option<&'a str>,
    /// Live or inactive tokens; None: every token not revoked.
    pub state: Option<TokenState>,
    pub sort: TokenSort,
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
    /// The OpenID Connect ID token, for a token made with `openid`.
    pub id_token: Option<String>,
    /// The API token that replaces the one presented (a service account's
    /// token rotates at each refresh): the only time it is shown.
    pub refresh_token: Option<ApiTokenSecret>,
    /// When the API token exchanged stops working (Unix seconds): its
    /// expiry, or the end of its rotation grace; None: never.
    pub api_token_expires_at: Option<i64>,
    /// The access token is DPoP-bound (`cnf.jkt`): its type is `DPoP`.
    pub dpop_bound: bool,
}

/// Whether an exchange replaces a service account's API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::domain) enum Rotation {
    /// A refresh: a service account's token is replaced.
    OfServiceAccounts,
    /// The first exchange of a token just made (the device grant).
    Never,
}

/// Whether a new token is held to its org's rule that tokens be bound to
/// networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BindingRule {
    /// A token someone asks for: the policy's rule holds.
    OfPolicy,
    /// A service account's token replaced at a refresh: it keeps its
    /// predecessor's networks, whatever the rule says now.
    Inherited,
}

/// How far ahead of the clock an API token's creation may be.
pub(in crate::domain) const MADE_AHEAD_TOLERATED: i64 = 300;

/// How long a revoked access token is remembered past its expiry: longer
/// than a clock set ahead unnoticed (`clock_watch` notices more than 30
/// days at a start) could make it look expired.
const REVOCATIONS_KEPT: i64 = 31 * 24 * 3600;

/// What an exchange's access token is for: its `aud` (resolved from the
/// request) and the client that asks.
pub(in crate::domain) struct Access<'a> {
    pub audience: Vec<String>,
    pub client_id: Option<&'a str>,
    /// The DPoP proof the access token is bound to the key of.
    pub dpop: Option<&'a CheckedProof>,
}

impl ApiTokenRecord {
    /// Whether `client` may exchange the token: any address when it is
    /// bound to no network. A stored binding that no longer parses admits
    /// nobody: a binding fails closed.
    pub(in crate::domain) fn admits_client(&self, client: IpAddr) -> bool {
        BoundNetworks::parse(&self.bound_cidrs).is_ok_and(|networks| networks.admits(client))
    }

    /// Whether the token is bound to a client other than `client_id`.
    fn bound_elsewhere(&self, client_id: &str) -> bool {
        self.client_id
            .as_deref()
            .is_some_and(|bound| bound != client_id)
    }
}

/// What an exchange comes to, once the presented token is checked.
enum Exchange {
    /// An access token, and the write (event, last-use stamp) that must
    /// commit before it is handed out.
    Issue(IssuedAccess, WriteJob),
    /// A service account's live token: replaced, then exchanged.
    Rotate(Box<(ApiTokenRecord, Account)>),
    /// A service account's token that was replaced already: stolen.
    Replayed(Box<(ApiTokenRecord, Account)>),
}

impl Authority {
    /// Creates an API token for `owner_id`. A caller makes its own only,
    /// with "Manage user's own API token" and a password session (access
    /// derived from an API token cannot create tokens); the CLI's operator
    /// makes one for any user.
    pub fn create_api_token(
        &mut self,
        by: Actor<'_>,
        owner_id: &str,
        mut new: NewApiToken<'_>,
        reminder: Option<ReminderRequest<'_>>,
    ) -> Result<CreatedApiToken, DomainError> {
        self.require_to(by, Right::TokenManageOwn, "create API tokens")?;
        if let Actor::Caller(caller) = by {
            if caller.account.user_id != owner_id {
                return Err(self.deny(caller, "API tokens are made by their owner".into()));
            }
        }
        let account = self
            .db()
            .account(owner_id)?
            .ok_or_else(|| DomainError::NotFound("no such user".into()))?;
        new.scope = new.scope.checked(&account)?;
        let event = self.event_by(by, "token.create")?.in_org(&account.org.id);
        self.issue_api_token(by, owner_id, new, event, reminder)
    }
    /// The caller's own tokens that are live, or those that are not (expired
    /// or revoked), for the console's two tabs.
    pub fn own_api_tokens_by_state(
        &self,
        caller: &Caller,
        state: TokenState,
        page: PageRequest,
    ) -> Result<ApiTokenPage, DomainError> {
        let filter = ApiTokenFilter {
            owner_id: Some(caller.account.user_id.clone()),
            state_at: Some((state, self.now())),
            page: Some((page.offset(), page.page_size)),
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?)
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
        query: &InventoryQuery<'_>,
        page: PageRequest,
    ) -> Result<ApiTokenPage, DomainError> {
        let InventoryQuery {
            name,
            owner,
            state,
            sort,
        } = *query;
        self.require_session(caller, "view other users' API tokens")?;
        self.require(caller, Right::TokenManageAll)?;
        let org = &caller.account.org;
        let filter = ApiTokenFilter {
            org_id: (!org.is_provider).then(|| org.id.clone()),
            name_contains: name.map(str::to_lowercase),
            user_name: owner.map(String::from),
            state_at: state.map(|state| (state, self.now())),
            sort,
            page: Some((page.offset(), page.page_size)),
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?)
    }

    /// The tokens the caller may see, as Cloud Director lists them: every
    /// token in reach (as `all_visible_api_tokens`) for a password session
    /// holding "Manage all users' API tokens", otherwise the caller's own;
    /// narrowed to an exact name and owner name. Not revoked.
    pub fn tokens_in_reach(
        &self,
        caller: &Caller,
        name: Option<&str>,
        owner: Option<&str>,
        page: PageRequest,
    ) -> Result<ApiTokenPage, DomainError> {
        let sees_all = !caller.is_token_derived() && caller.rights.contains(Right::TokenManageAll);
        let org = &caller.account.org;
        let filter = ApiTokenFilter {
            owner_id: (!sees_all).then(|| caller.account.user_id.clone()),
            org_id: (sees_all && !org.is_provider).then(|| org.id.clone()),
            user_name: owner.map(String::from),
            name_equals: name.map(String::from),
            page: Some((page.offset(), page.page_size)),
            ..ApiTokenFilter::default()
        };
        Ok(self.db().api_tokens(&filter)?)
    }

    /// Revokes a token: its owner may; so may a holder of "Manage all users' API tokens"
    /// in the token's org, or in the provider org for any org. Tokens the
    /// caller may not touch are reported as unknown.
    pub fn revoke_api_token(&mut self, by: Actor<'_>, id: &str) -> Result<(), DomainError> {
        if let Actor::Caller(caller) = by {
            self.require_session(caller, "revoke API tokens")?;
        }
        let token = self.api_token_in_reach(by, id)?;
        let now = self.now();
        let event = self
            .event_by(by, "token.revoke")?
            .on("api_token", &token.id, &token.name)
            .in_org(&token.org_id)
            .with("owner", json!(token.owner_id));
        let id = token.id.clone();
        if !self.write_if_changed(event, move |tx| tx.revoke_api_token(&id, now))? {
            return Err(unknown_token());
        }
        Ok(())
    }

    /// A live token by id, if `by` may manage it: its owner, a holder of
    /// "Manage all users' API tokens" in its org (any org, in the provider
    /// org), the CLI's operator. Any other is unknown.
    pub fn api_token_in_reach(
        &self,
        by: Actor<'_>,
        id: &str,
    ) -> Result<ApiTokenListing, DomainError> {
        let id = parse_id(id).ok_or_else(unknown_token)?;
        let token = self
            .db()
            .api_token(&id)?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(unknown_token)?;
        if let Actor::Caller(caller) = by {
            let org = &caller.account.org;
            let allowed = token.owner_id == caller.account.user_id
                || (caller.rights.contains(Right::TokenManageAll)
                    && (org.is_provider || org.id == token.org_id));
            if !allowed {
                return Err(unknown_token());
            }
        }
        Ok(token)
    }

    /// Exchanges an API token for an access token limited by the token's
    /// rules: the user's rights as they are now, view-only. The access token
    /// may be handed out only once its event is committed. A service
    /// account's token is replaced by a new one at each exchange.
    pub fn exchange_api_token(
        &mut self,
        presented: &str,
        audience: ExchangeAudience<'_>,
        request: &ExchangeRequest<'_>,
        client: IpAddr,
    ) -> Result<Committing<IssuedAccess>, DomainError> {
        self.exchange(
            presented,
            audience,
            request,
            client,
            Rotation::OfServiceAccounts,
        )
    }

    pub(in crate::domain) fn exchange(
        &mut self,
        presented: &str,
        audience: ExchangeAudience<'_>,
        request: &ExchangeRequest<'_>,
        client: IpAddr,
        rotation: Rotation,
    ) -> Result<Committing<IssuedAccess>, DomainError> {
        let checked = self.in_snapshot(|| {
            let access = Access {
                audience: self.access_audience(request)?,
                client_id: request.client_id,
                dpop: request.dpop,
            };
            self.check_exchange(presented, audience, &access, client, rotation)
        })?;
        match checked {
            Exchange::Issue(issued, write) => {
                let pending = self.store.submit_write(write, Durability::Durable)?;
                // The write records the proof's use: a lost race means
                // another node (or request) used it first.
                let commit = Commit {
                    pending,
                    conflict: request.dpop.map(|_| dpop::replayed()),
                };
                Ok(Committing {
                    value: issued,
                    commit,
                })
            }
            Exchange::Rotate(checked) => {
                let (token, account) = *checked;
                let access = Access {
                    audience: self.access_audience(request)?,
                    client_id: request.client_id,
                    dpop: request.dpop,
                };
                self.rotate_and_issue(&token, &account, &access, client)
            }
            Exchange::Replayed(checked) => {
                let (token, account) = *checked;
                self.revoke_stolen_token(&token, &account, client)?;
                Err(DomainError::InvalidGrant(UNKNOWN_OR_REVOKED))
            }
        }
    }

    /// Checks the presented token and, for an ordinary one, issues its
    /// access token.
    fn check_exchange(
        &self,
        presented: &str,
        audience: ExchangeAudience<'_>,
        access: &Access<'_>,
        client: IpAddr,
        rotation: Rotation,
    ) -> Result<Exchange, DomainError> {
        let now = self.now();
        let refused = |reason: &'static str| DomainError::InvalidGrant(reason);
        let Some(secret) = ApiTokenSecret::parse(presented) else {
            self.record_failed_exchange(None, None, "the API token is malformed", client);
            return Err(refused("the API token is malformed"));
        };
        let Some(token) = self.db().api_token_by_digest(&secret.digest())? else {
            self.record_failed_exchange(None, None, UNKNOWN_OR_REVOKED, client);
            return Err(refused(UNKNOWN_OR_REVOKED));
        };
        let account = self.account_now(&token.user_id)?;
        if let (Some(account), Some(_)) = (&account, token.rotated_at) {
            return Ok(Exchange::Replayed(Box::new((token, account.clone()))));
        }
        let reason = match &account {
            _ if token.revoked_at.is_some() => Some(UNKNOWN_OR_REVOKED),
            // Outside its networks, nothing more about the token is told:
            // not even whether it expired.
            _ if !token.admits_client(client) => Some(OUTSIDE_BOUND_NETWORKS),
            _ if token.expires_at.is_some_and(|at| at <= now) => Some("the API token has expired"),
            // Made under a clock set ahead: its lifetime would count from
            // a time still to come.
            _ if token.created_at > now + MADE_AHEAD_TOLERATED => {
                Some("the API token was made at a time still to come")
            }
            None => Some(UNKNOWN_OR_REVOKED),
            Some(account) if account.disabled => Some("the API token's user is disabled"),
            Some(account) if !audience.admits(account) => {
                Some("the API token is not valid for this organization")
            }
            // RFC 6749 §6: a refresh token is bound to the client it was
            // issued to.
            Some(_) if access.client_id.is_some_and(|c| token.bound_elsewhere(c)) => {
                Some("the API token was issued to another client")
            }
            Some(_) => None,
        };
        let (Some(account), None) = (account.clone(), reason) else {
            let reason = reason.unwrap_or(UNKNOWN_OR_REVOKED);
            self.record_failed_exchange(Some(&token), account.as_ref(), reason, client);
            // The binding is not the client's to learn.
            let told = match reason {
                OUTSIDE_BOUND_NETWORKS => UNKNOWN_OR_REVOKED,
                other => other,
            };
            return Err(refused(told));
        };
        if account.service_account && rotation == Rotation::OfServiceAccounts {
            return Ok(Exchange::Rotate(Box::new((token, account))));
        }
        let (issued, event) = self.access_for(&token, &account, access, client)?;
        let (id, address) = (token.id.clone(), client.to_string());
        let client_id = access.client_id.map(str::to_string);
        // Recorded only now that the API token holds, in the exchange's own
        // commit: only a holder adds proofs, and the access token goes out
        // only if this use was the first, on whichever node.
        let proof = access.dpop.map(|p| (p.replay_key, p.accepted_until));
        let write: WriteJob = Box::new(move |tx| {
            if let Some((key, until)) = &proof {
                if !tx.record_dpop_proof(key, *until)? {
                    return Err(StoreError::Conflict);
                }
            }
            tx.record_api_token_use(&id, now, &address, client_id.as_deref())?;
            tx.insert_event(&event)
        });
        Ok(Exchange::Issue(issued, write))
    }

    /// The access token (and ID token) for `token`, and the exchange's
    /// event, which must commit before they are handed out.
    fn access_for(
        &self,
        token: &ApiTokenRecord,
        account: &Account,
        access: &Access<'_>,
        client: IpAddr,
    ) -> Result<(IssuedAccess, Event), DomainError> {
        let now = self.now();
        let grant = token.scope.grant(account).token_derived();
        // "All roles" is everything by definition; a narrower scope may
        // still come to it.
        let grants_everything = token.scope == TokenScope::AllRoles
            || grant.permissions
                == TokenScope::AllRoles
                    .grant(account)
                    .token_derived()
                    .permissions;
        // An access token never outlives the API token it came from.
        let lifetime = self.settings().access_token_lifetime.as_secs() as i64;
        let expires_at = token
            .expires_at
            .map_or(now + lifetime, |at| at.min(now + lifetime));
        // The client of the request, else the one the token is bound to.
        let client_id = access.client_id.or(token.client_id.as_deref());
        let mut claims = self.claims_for(
            account,
            grant.clone(),
            now,
            expires_at,
            AccessOrigin::ApiToken(token.id.clone()),
        )?;
        claims.aud = access.audience.clone();
        claims.client_id = client_id.map(str::to_string);
        if let Some(proof) = access.dpop {
            // The caller's write records the proof's use.
            claims.cnf = Some(Confirmation {
                jkt: proof.jkt.clone(),
            });
        }
        let keys = self.keys()?;
        let access_token = keys.sign_access_token(&claims, now)?;
        let id_token = if token.openid {
            let parties = self.id_token_parties(token, client_id)?;
            let id_claims =
                self.id_token_claims(account, &grant.roles, &parties, now, expires_at)?;
            Some(keys.sign(&id_claims, parties.algorithm, "JWT", now)?)
        } else {
            None
        };
        let event = self
            .event("token.exchange", "success")?
            .by_account(account)
            .on("api_token", &token.id, &token.name)
            .from(client)
            .with("currentContext.refreshTokenId", json!(token.id))
            .with("accessTokenId", json!(claims.jti))
            .with("aud", json!(claims.aud))
            .with("expires_in", json!(expires_at - now));
        // The key's thumbprint, never the key.
        let event = match &claims.cnf {
            Some(cnf) => event.with("dpop_jkt", json!(cnf.jkt)),
            None => event,
        };
        let issued = IssuedAccess {
            access_token,
            expires_in: expires_at - now,
            grant,
            grants_everything,
            id_token,
            refresh_token: None,
            api_token_expires_at: token.expires_at,
            dpop_bound: claims.cnf.is_some(),
        };
        Ok((issued, event))
    }

    /// Replaces a service account's live token with a new one and issues
    /// access for the new one, all in one commit. Two refreshes with the
    /// same token cannot both win: the loser presented a replaced token,
    /// and is treated as a thief (RFC 9700 §4.14).
    fn rotate_and_issue(
        &mut self,
        token: &ApiTokenRecord,
        account: &Account,
        access: &Access<'_>,
        client: IpAddr,
    ) -> Result<Committing<IssuedAccess>, DomainError> {
        let now = self.now();
        let event = self
            .event("token.rotate", "success")?
            .by_account(account)
            .from(client)
            .with("replaces", json!(token.id));
        // The replacement keeps its predecessor's networks, and is no new
        // token to the policy's binding rule: a service account made before
        // the rule keeps refreshing.
        let (created, mut insert) = self.make_api_token(
            &account.user_id,
            NewApiToken {
                name: &token.name,
                ttl: None,
                scope: token.scope.clone(),
                openid: token.openid,
                request_id: None,
                bound_cidrs: &token.bound_cidrs,
            },
            event,
            BindingRule::Inherited,
        )?;
        let replacement = ApiTokenRecord {
            id: created.id.clone(),
            digest: created.secret.digest(),
            user_id: account.user_id.clone(),
            name: created.name.clone(),
            created_at: created.created_at,
            expires_at: created.expires_at,
            revoked_at: None,
            scope: created.scope.clone(),
            openid: created.openid,
            rotated_at: None,
            client_id: token.client_id.clone(),
            bound_cidrs: created.bound_cidrs.clone(),
        };
        let (mut issued, exchanged) = self.access_for(&replacement, account, access, client)?;
        let (old, new, address) = (token.id.clone(), created.id.clone(), client.to_string());
        // The replacement keeps the client its predecessor was bound to.
        let client_id = access
            .client_id
            .or(token.client_id.as_deref())
            .map(str::to_string);
        let proof = access.dpop.map(|p| (p.replay_key, p.accepted_until));
        let rotated = self.store.write(move |tx| {
            // First, so that a replayed proof changes nothing.
            if let Some((key, until)) = &proof {
                if !tx.record_dpop_proof(key, *until)? {
                    return Ok(false);
                }
            }
            if !tx.rotate_api_token(&old, now)? {
                return Err(StoreError::Conflict);
            }
            insert(tx)?;
            tx.record_api_token_use(&new, now, &address, client_id.as_deref())?;
            tx.insert_event(&exchanged)?;
            Ok(true)
        });
        match rotated {
            Ok(true) => {}
            Ok(false) => return Err(dpop::replayed()),
            Err(StoreError::Conflict) => {
                self.revoke_stolen_token(token, account, client)?;
                return Err(DomainError::InvalidGrant(UNKNOWN_OR_REVOKED));
            }
            Err(e) => return Err(e.into()),
        }
        issued.refresh_token = Some(created.secret);
        Ok(Committing {
            value: issued,
            commit: Commit::done_already(),
        })
    }

    /// A replaced token was presented: whoever holds the account's tokens
    /// cannot be told from a thief, so every token of the account is
    /// revoked and it must be granted access again.
    fn revoke_stolen_token(
        &mut self,
        token: &ApiTokenRecord,
        account: &Account,
        client: IpAddr,
    ) -> Result<(), DomainError> {
        let now = self.now();
        let event = self
            .event("service_account.token_reuse", "failure")?
            .by_account(account)
            .on("service_account", &account.user_id, &account.user_name)
            .from(client)
            .with("currentContext.refreshTokenId", json!(token.id))
            .with(
                "reason",
                json!("a replaced API token was presented: every token of the account is revoked"),
            );
        let id = account.user_id.clone();
        self.write_recorded(event, move |tx| {
            tx.revoke_user_api_tokens(&id, now)?;
            tx.set_service_account_status(&id, ServiceAccountStatus::Created)
        })?;
        Ok(())
    }

    /// RFC 7009: revokes what `presented` is. An API token revokes itself;
    /// an access token tokend signed, still alive, is refused from now on
    /// (its `jti` kept until it would have expired). Anything else changes
    /// nothing and is no error: the answer must not tell which it was.
    pub fn revoke_presented_token(
        &mut self,
        presented: &str,
        client: IpAddr,
    ) -> Result<(), DomainError> {
        let now = self.now();
        if let Some(secret) = ApiTokenSecret::parse(presented) {
            let Some(token) = self.db().api_token_by_digest(&secret.digest())? else {
                return Ok(());
            };
            if token.revoked_at.is_some() {
                return Ok(());
            }
            let mut event = self
                .event("token.revoke", "success")?
                .on("api_token", &token.id, &token.name)
                .from(client)
                .with("currentContext.refreshTokenId", json!(token.id))
                .with("via", json!("revocation endpoint"));
            if let Some(owner) = self.db().account(&token.user_id)? {
                event = event.by_account(&owner);
            }
            let id = token.id.clone();
            self.write_if_changed(event, move |tx| tx.revoke_api_token(&id, now))?;
            return Ok(());
        }
        let Ok(claims) = self.verified_access_token(presented) else {
            return Ok(());
        };
        let mut event = self
            .event("access_token.revoke", "success")?
            .on("access_token", &claims.jti, &claims.username)
            .in_org(&claims.org_id)
            .from(client)
            .with("via", json!("revocation endpoint"))
            .with("expires_at", json!(claims.exp));
        if let Some(owner) = self.db().account(&claims.sub)? {
            event = event.by_account(&owner);
        }
        if let Some(token_id) = &claims.rt {
            event = event.with("currentContext.refreshTokenId", json!(token_id));
        }
        if let Some(session_id) = &claims.sid {
            event = event.with("currentContext.sessionId", json!(session_id));
        }
        let (jti, expires_at) = (claims.jti.clone(), claims.exp);
        self.write_if_changed(event, move |tx| tx.revoke_access_token(&jti, expires_at))?;
        Ok(())
    }

    /// Revokes the access token `jti` until `expires_at` (Unix seconds),
    /// for the operator: a restore replaying a revocation the backup
    /// lacks. False when it was revoked already.
    pub fn revoke_access_token_by_id(
        &mut self,
        jti: &str,
        name: &str,
        org_id: Option<&str>,
        expires_at: i64,
    ) -> Result<bool, DomainError> {
        let mut event = self
            .operator_event("access_token.revoke")?
            .on("access_token", jti, name)
            .with("expires_at", json!(expires_at));
        if let Some(org_id) = org_id {
            event = event.in_org(org_id);
        }
        let jti = jti.to_string();
        Ok(self.write_if_changed(event, move |tx| tx.revoke_access_token(&jti, expires_at))?)
    }

    /// Revokes every API token live now, each with its `token.revoke`
    /// event naming `reason`, a batch per commit; how many.
    pub fn revoke_every_live_api_token(&mut self, reason: &str) -> Result<u64, DomainError> {
        let mut revoked = 0;
        loop {
            let now = self.now();
            let live = self.db().api_tokens(&ApiTokenFilter {
                state_at: Some((TokenState::Live, now)),
                page: Some((0, REVOKE_BATCH)),
                ..ApiTokenFilter::default()
            })?;
            if live.tokens.is_empty() {
                return Ok(revoked);
            }
            let mut batch = Vec::with_capacity(live.tokens.len());
            for token in &live.tokens {
                let event = self
                    .operator_event("token.revoke")?
                    .on("api_token", &token.id, &token.name)
                    .in_org(&token.org_id)
                    .with("owner", json!(token.owner_id))
                    .with("reason", json!(reason));
                batch.push((token.id.clone(), event));
            }
            let done = self.store.write(move |tx| {
                let mut done = 0;
                for (id, event) in &batch {
                    if tx.revoke_api_token(id, now)? {
                        tx.insert_event(event)?;
                        done += 1;
                    }
                }
                Ok(done)
            })?;
            if done == 0 {
                return Ok(revoked);
            }
            revoked += done;
        }
    }

    /// Forgets revoked access tokens that expired long ago; how many. Kept
    /// for `REVOCATIONS_KEPT` past their expiry, and not forgotten at all
    /// while the wall clock is in doubt: a revocation forgotten under a
    /// clock set ahead would let the token work again once it is set right.
    pub fn forget_expired_revocations(&mut self) -> Result<u64, DomainError> {
        self.clock_trusted()?;
        let before = self.now() - REVOCATIONS_KEPT;
        Ok(self
            .store
            .write(move |tx| tx.forget_expired_revocations(before))?)
    }

    /// Records a refused exchange, with the token when it is known (never
    /// the secret). Queued, not waited for: a flood of bad tokens must not
    /// hold up the writer for everyone.
    fn record_failed_exchange(
        &self,
        token: Option<&ApiTokenRecord>,
        account: Option<&Account>,
        reason: &str,
        client: IpAddr,
    ) {
        let Ok(mut event) = self.event("token.exchange_failed", "failure") else {
            return;
        };
        event = event.from(client).with("reason", json!(reason));
        if let Some(account) = account {
            event = event.by_account(account);
        }
        if let Some(token) = token {
            event = event
                .on("api_token", &token.id, &token.name)
                .with("currentContext.refreshTokenId", json!(token.id));
        }
        self.record_refusal(event);
    }

    /// Creates the token, and records `event` (who asked) with it, and the
    /// reminder it asked for, all in one commit.
    pub(in crate::domain) fn issue_api_token(
        &mut self,
        by: Actor<'_>,
        user_id: &str,
        new: NewApiToken<'_>,
        event: Event,
        reminder: Option<ReminderRequest<'_>>,
    ) -> Result<CreatedApiToken, DomainError> {
        let request = new
            .request_id
            .map(|id| (user_id.to_string(), id.to_string()));
        let (created, mut write) = self.new_api_token(user_id, new, event)?;
        let reminder = reminder
            .map(|request| self.reminder_for(by, user_id, &created, request))
            .transpose()?;
        let token_id = created.id.clone();
        let repeatable = request.is_some();
        self.store
            .run_write(
                Box::new(move |tx| {
                    write(tx)?;
                    if let Some((user_id, request_id)) = &request {
                        tx.insert_token_request(user_id, request_id, &token_id)?;
                    }
                    match &reminder {
                        Some(reminder) => tx.insert_reminder(reminder),
                        None => Ok(()),
                    }
                }),
                Durability::Durable,
            )
            .map_err(|e| match e {
                StoreError::Duplicate if repeatable => DomainError::Conflict(
                    "this request made its token already; its secret is not shown again".into(),
                ),
                other => other.into(),
            })?;
        Ok(created)
    }

    /// A new token, and the write job that stores it with its event.
    pub(in crate::domain) fn new_api_token(
        &mut self,
        user_id: &str,
        new: NewApiToken<'_>,
        event: Event,
    ) -> Result<(CreatedApiToken, WriteJob), DomainError> {
        self.make_api_token(user_id, new, event, BindingRule::OfPolicy)
    }

    fn make_api_token(
        &mut self,
        user_id: &str,
        new: NewApiToken<'_>,
        event: Event,
        binding: BindingRule,
    ) -> Result<(CreatedApiToken, WriteJob), DomainError> {
        let NewApiToken {
            name,
            ttl,
            scope,
            openid,
            request_id: _,
            bound_cidrs,
        } = new;
        let name = name.trim();
        check_name("token name", name, MAX_NAME_LENGTH)?;
        let networks = BoundNetworks::parse(bound_cidrs)?;
        let owner = self
            .db()
            .user(user_id)?
            .ok_or_else(|| DomainError::NotFound("no such user".into()))?;
        let policy = self.policy_of(&owner.org_id)?;
        let lifetime = policy.lifetime(ttl, &owner.org_name)?;
        if policy.require_bound_cidrs && binding == BindingRule::OfPolicy {
            if networks.is_unbound() {
                return Err(DomainError::Invalid(format!(
                    "org {:?} requires every API token to be bound to networks: give bound_cidrs (token policy: require_bound_cidrs)",
                    owner.org_name
                )));
            }
            if networks.narrows_nothing() {
                return Err(DomainError::Invalid(format!(
                    "org {:?} requires every API token to be bound to networks: a /0 binds to none (token policy: require_bound_cidrs)",
                    owner.org_name
                )));
            }
        }
        let bound_cidrs = networks.to_strings();
        let secret = ApiTokenSecret::generate(&*self.shared.ambient.random)?;
        let now = self.now();
        let record = ApiTokenRecord {
            id: self.new_id()?,
            digest: secret.digest(),
            user_id: user_id.to_string(),
            name: name.to_string(),
            created_at: now,
            // A lifetime asked for is kept to the second; a default one
            // ends on a whole minute.
            expires_at: match ttl {
                Some(_) => lifetime.expires_at(now),
                None => lifetime.default_expires_at(now),
            },
            revoked_at: None,
            scope: scope.clone(),
            openid,
            rotated_at: None,
            client_id: None,
            bound_cidrs: bound_cidrs.clone(),
        };
        let created = CreatedApiToken {
            id: record.id.clone(),
            name: record.name.clone(),
            secret,
            created_at: record.created_at,
            expires_at: record.expires_at,
            scope,
            openid,
            bound_cidrs,
        };
        let event = event
            .on("api_token", &record.id, &record.name)
            .with("owner", json!(record.user_id))
            .with("expires_at", json!(record.expires_at))
            .with("openid", json!(openid))
            .with("bound_cidrs", json!(record.bound_cidrs));
        let write: WriteJob = Box::new(move |tx| {
            tx.insert_api_token(&record)?;
            tx.insert_event(&event)
        });
        Ok((created, write))
    }
}

impl ExchangeAudience<'_> {
    pub(in crate::domain) fn admits(self, account: &Account) -> bool {
        match self {
            ExchangeAudience::AnyOrg => true,
            ExchangeAudience::Provider => account.org.is_provider,
            ExchangeAudience::Tenant(org) => {
                !account.org.is_provider && account.org.name.eq_ignore_ascii_case(org)
            }
        }
    }
}

fn unknown_token() -> DomainError {
    DomainError::NotFound("no such API token".into())
}
