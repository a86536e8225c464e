//! Rotation without an outage: a token replaced by a new one with the same
//! name, scope, OpenID choice, reminder and lifetime (counted afresh, held
//! to the policy's maximum), while the old secret works on for a grace the
//! caller picks within the policy's `max_rotation_grace` (none by default:
//! revoked at once, as the console's Regenerate). By the owner (API,
//! console, CLI's operator), or with the token itself (self-rotation).
//!
//! The old token's expiry is brought forward to the grace's end, so every
//! check that refuses an expired token (the exchanges, access derived from
//! it, the reminders) refuses it from that second on, and access tokens
//! made from it during the grace end with it. A replaced token is never
//! rotated again (`replaced_by`, guarded in the same write that makes its
//! successor, so of two rotations one wins).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use crate::domain::audit::Actor;
use crate::domain::directory::rights::RightSet;
use crate::domain::records::{Event, NewReminder, TokenScope};
use crate::domain::storage::{Durability, StoreError};
use crate::domain::tokens::api_token::ApiTokenSecret;
use crate::domain::tokens::policy::grace_span;
use crate::domain::tokens::{CreatedApiToken, NewApiToken, MADE_AHEAD_TOLERATED};
use crate::domain::{format_time, Authority, DomainError, Right};

/// A rotation's outcome: the new token (its secret shown this once) and
/// when the old secret stops working.
#[derive(Debug)]
pub struct RotatedApiToken {
    pub created: CreatedApiToken,
    /// The id of the token replaced.
    pub replaces: String,
    /// The first second the old secret is refused (Unix seconds): the
    /// rotation's own time when there was no grace.
    pub old_refused_from: i64,
}

/// The token being replaced, as a rotation needs it.
struct Predecessor {
    id: String,
    name: String,
    owner_id: String,
    org_id: String,
    created_at: i64,
    expires_at: Option<i64>,
    scope: TokenScope,
    openid: bool,
    /// Its networks: the new token keeps them.
    bound_cidrs: Vec<String>,
}

/// The least reminder lead after a token's creation, as at creation.
const MIN_REMINDER_LEAD: i64 = 60;

const SELF_ROTATION_REFUSED: &str =
    "present a live API token itself (not an access token) as the bearer credential";

impl Authority {
    /// Rotates the token `id`: its owner may, with "Manage user's own API
    /// token" and a password session; the CLI's operator any. An admin who
    /// may revoke another user's token may not rotate it: the new secret
    /// is shown to whoever rotates, and an admin never sees another user's
    /// secret. `grace` is `0` or a span (None: 0); `request_id` makes a
    /// resubmitted console form answer `Conflict` instead of rotating twice.
    pub fn rotate_api_token(
        &mut self,
        by: Actor<'_>,
        id: &str,
        grace: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<RotatedApiToken, DomainError> {
        self.require_to(by, Right::TokenManageOwn, "rotate API tokens")?;
        let token = self.api_token_in_reach(by, id)?;
        if let Actor::Caller(caller) = by {
            if token.owner_id != caller.account.user_id {
                return Err(self.deny(
                    caller,
                    "only a token's owner rotates it (the new secret is shown to whoever rotates); revoke it instead"
                        .into(),
                ));
            }
        }
        let event = self.event_by(by, "token.rotate")?;
        let old = Predecessor {
            id: token.id,
            name: token.name,
            owner_id: token.owner_id,
            org_id: token.org_id,
            created_at: token.created_at,
            expires_at: token.expires_at,
            scope: token.scope,
            openid: token.openid,
            bound_cidrs: token.bound_cidrs,
        };
        self.rotate(old, grace, event, request_id)
    }

    /// Rotates the API token `presented` itself (GitLab's self-rotation):
    /// the token must be live, its owner enabled and still holding
    /// "Manage user's own API token". Anything else is refused alike.
    pub fn rotate_presented_api_token(
        &mut self,
        presented: &str,
        grace: Option<&str>,
        client: IpAddr,
    ) -> Result<RotatedApiToken, DomainError> {
        let now = self.now();
        let refuse = |authority: &Authority, reason: &str, event: Option<Event>| {
            if let Ok(event) = event.map_or_else(
                || authority.event("token.rotate", "failure"),
                Ok::<Event, DomainError>,
            ) {
                authority.record_refusal(
                    event
                        .from(client)
                        .with("via", json!("self"))
                        .with("reason", json!(reason)),
                );
            }
            DomainError::Unauthenticated(SELF_ROTATION_REFUSED.into())
        };
        let Some(secret) = ApiTokenSecret::parse(presented) else {
            return Err(refuse(self, "not an API token", None));
        };
        let Some(token) = self.db().api_token_by_digest(&secret.digest())? else {
            return Err(refuse(self, "unknown API token", None));
        };
        let account = self.account_now(&token.user_id)?;
        let target = self
            .event("token.rotate", "failure")?
            .on("api_token", &token.id, &token.name)
            .with("currentContext.refreshTokenId", json!(token.id));
        // Outside its networks a token is refused as an unknown one is,
        // here as at the exchange: a stolen bound token cannot replace the
        // owner's secret from elsewhere.
        if !token.admits_client(client) {
            return Err(refuse(self, "outside its networks", Some(target)));
        }
        let live = token.revoked_at.is_none()
            && token.rotated_at.is_none()
            && token.expires_at.is_none_or(|at| at > now)
            && token.created_at <= now + MADE_AHEAD_TOLERATED;
        let account = match account {
            Some(account) if live && !account.disabled => account,
            _ => return Err(refuse(self, "the API token is not live", Some(target))),
        };
        let target = target.by_account(&account).in_org(&account.org.id);
        if account.service_account {
            let _ = refuse(self, "a service account's token", Some(target));
            return Err(DomainError::Conflict(
                "a service account's token rotates at each refresh; it is not rotated by itself"
                    .into(),
            ));
        }
        if !RightSet::from_permissions(&account.permissions()).contains(Right::TokenManageOwn) {
            let _ = refuse(self, "the owner may not manage API tokens", Some(target));
            return Err(DomainError::Forbidden(format!(
                "this needs the right {:?} ({})",
                Right::TokenManageOwn.name(),
                Right::TokenManageOwn.id()
            )));
        }
        let event = self
            .event("token.rotate", "success")?
            .by_account(&account)
            .from(client)
            .with("via", json!("self"))
            .with("currentContext.refreshTokenId", json!(token.id));
        let old = Predecessor {
            id: token.id,
            name: token.name,
            owner_id: token.user_id,
            org_id: account.org.id.clone(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            scope: token.scope,
            openid: token.openid,
            bound_cidrs: token.bound_cidrs,
        };
        self.rotate(old, grace, event, None)
    }

    fn rotate(
        &mut self,
        old: Predecessor,
        grace: Option<&str>,
        event: Event,
        request_id: Option<&str>,
    ) -> Result<RotatedApiToken, DomainError> {
        let now = self.now();
        let policy = self.policy_of(&old.org_id)?;
        let grace = match grace {
            None => Duration::ZERO,
            Some(text) => grace_span(text).ok_or_else(|| {
                DomainError::Invalid(format!(
                    "grace is 0 or a span such as 1h or 30m; not {text:?}"
                ))
            })?,
        };
        if grace > policy.rotation_grace_limit() {
            return Err(DomainError::Invalid(format!(
                "grace {} is longer than the token policy allows (max_rotation_grace is {})",
                humantime::format_duration(grace),
                policy.max_rotation_grace
            )));
        }
        if old.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::Conflict(
                "the API token has expired; make a new one".into(),
            ));
        }
        let grace_s = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let works_until = now.saturating_add(grace_s);
        let old_refused_from = match old.expires_at {
            _ if grace_s == 0 => now,
            Some(at) => at.min(works_until),
            None => works_until,
        };
        let ttl = policy.rotated_ttl(old.expires_at.map(|at| at - old.created_at));
        let event = event
            .in_org(&old.org_id)
            .with("replaces", json!(old.id))
            .with("grace", json!(grace_s))
            .with("old_refused_from", json!(format_time(old_refused_from)));
        let (created, mut insert) = self.new_api_token(
            &old.owner_id,
            NewApiToken {
                name: &old.name,
                ttl: Some(&ttl),
                scope: old.scope.clone(),
                openid: old.openid,
                request_id: None,
                bound_cidrs: &old.bound_cidrs,
            },
            event,
        )?;
        // The reminder comes along, to the same address, as far ahead of
        // the new expiry as it was of the old; none if that leaves no time.
        let reminder = self
            .db()
            .reminder_of(&old.id)?
            .and_then(|(email, before_s)| {
                let due_at = created.expires_at?.saturating_sub(before_s);
                (due_at >= created.created_at.saturating_add(MIN_REMINDER_LEAD)).then(|| {
                    NewReminder {
                        token_id: created.id.clone(),
                        email,
                        before_s,
                        due_at,
                    }
                })
            });
        let request = request_id.map(|id| (old.owner_id.clone(), id.to_string()));
        let repeatable = request.is_some();
        let (old_id, new_id) = (old.id.clone(), created.id.clone());
        let written = self.store.run_write(
            Box::new(move |tx| {
                insert(tx)?;
                if !tx.replace_api_token(&old_id, &new_id, works_until, now)? {
                    return Err(StoreError::Conflict);
                }
                if let Some((user_id, request_id)) = &request {
                    tx.insert_token_request(user_id, request_id, &new_id)?;
                }
                match &reminder {
                    Some(reminder) => tx.insert_reminder(reminder),
                    None => Ok(()),
                }
            }),
            Durability::Durable,
        );
        match written {
            Ok(()) => Ok(RotatedApiToken {
                created,
                replaces: old.id,
                old_refused_from,
            }),
            Err(StoreError::Conflict) => Err(DomainError::Conflict(
                "the API token was rotated or revoked already; rotate the token that replaced it"
                    .into(),
            )),
            Err(StoreError::Duplicate) if repeatable => Err(DomainError::Conflict(
                "this request made its token already; its secret is not shown again".into(),
            )),
            Err(other) => Err(other.into()),
        }
    }
}
