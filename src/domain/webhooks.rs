//! Webhooks: an admin-configured HTTPS endpoint told of token events
//! (`token.revoke`, `token.leaked`, and `token.expiring` N days ahead).
//!
//! Delivery is driven from the audit trail by a cursor: a run turns the
//! events after a webhook's cursor into queued deliveries and moves the
//! cursor in the same commit, so an event is queued exactly once and
//! nothing is lost across a restart. `token.expiring` is queued once per
//! token and webhook (a unique index). Each delivery keeps the exact body
//! it sends, so every retry sends the same bytes under the same delivery
//! id; a failed attempt is tried again after 30 s, doubling to an hour,
//! and given up (with an audit event) once a day has passed.
//!
//! Every request is signed: `X-Tokend-Signature-256: sha256=` and the hex
//! HMAC-SHA256, keyed with the webhook's secret, of the attempt's
//! `X-Tokend-Timestamp`, a `.` and the raw body, so a receiver can refuse
//! a replayed request by its age. The secret is made here, shown once at
//! creation and kept sealed under the key-encryption key. Bodies carry an
//! event's public fields only: never a secret, never a token digest.
//!
//! The domain knows no HTTP: a `WebhookSender` posts the request.

use std::collections::BTreeSet;
use std::sync::Arc;

use ring::hmac;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::domain::ambient::{random_string, RandomSource};
use crate::domain::records::{
    Event, ExpiringTokenDetail, NewWebhookDelivery, WebhookDelivery, WebhookRecord,
};
use crate::domain::storage::{StoreError, StoreResult, Transaction};
use crate::domain::tokens::sealing;
use crate::domain::{format_time, parse_id, Actor, Authority, Caller, DomainError, Right};

/// The event types a webhook may subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &["token.expiring", "token.revoke", "token.leaked"];
/// The event of the first delivery, made when a webhook is added.
pub const PING: &str = "ping";
/// Where `token.expiring` may look ahead: 1 day to a year.
const EXPIRING_DAYS: std::ops::RangeInclusive<i64> = 1..=365;
const MAX_URL_LEN: usize = 2048;
const SECRET_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters: over 256 bits.
const SECRET_LENGTH: usize = 43;
const SECRET_PREFIX: &str = "whsec_";
/// Events turned into deliveries per webhook per commit.
const QUEUE_BATCH: u32 = 500;
/// Deliveries claimed at a time: few enough that a batch of attempts
/// that all time out ends well within its claim.
const SEND_BATCH: u32 = 10;
/// How long a run owns the deliveries it claimed.
const CLAIM: i64 = 300;
/// The first retry's wait; each next one doubles, to `BACKOFF_CAP`.
const BACKOFF_FIRST: i64 = 30;
const BACKOFF_CAP: i64 = 3600;
/// A delivery not made within this long after it was queued is given up.
const GIVE_UP_AFTER: i64 = 24 * 3600;
/// Deliveries a listing shows at most.
pub const DELIVERIES_SHOWN: u32 = 100;

/// What an admin asks for.
#[derive(Debug, Clone)]
pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub events: &'a [String],
    /// The N of `token.expiring`.
    pub expiring_days: Option<i64>,
    /// Whose events, by org name. None: every org's for a System
    /// Administrator or the CLI, the caller's own org for an org admin.
    pub org: Option<&'a str>,
}

/// A webhook just made, with its secret: shown this once.
pub struct CreatedWebhook {
    pub webhook: WebhookRecord,
    pub secret: Zeroizing<String>,
}

/// One request to post.
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    /// Header names and values, the signature among them.
    pub headers: &'a [(&'static str, String)],
    pub body: &'a [u8],
}

/// Where webhook requests go out (an HTTPS client, in `tokend`):
/// implemented outside the domain, which knows no protocol.
pub trait WebhookSender: Send + Sync {
    /// Posts `request`; the answer's status, or why there was none (for
    /// the log and the delivery's record: never the URL's path or query).
    fn post(&self, request: &WebhookRequest<'_>) -> Result<u16, String>;
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookRun {
    /// Deliveries queued from the trail and from expiring tokens.
    pub queued: usize,
    pub delivered: usize,
    /// Failed, to be tried again.
    pub deferred: usize,
    /// Failed for the last time.
    pub given_up: usize,
}

/// The signature header's value for `body` sent at `timestamp`:
/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body`.
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    let tag = context.sign();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for byte in tag.as_ref() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

impl Authority {
    /// Adds a webhook: a System Administrator (password session) for every
    /// org or one; an org admin ("Audit: View" and "Manage all users' API
    /// tokens", password session) for its own org only; the CLI for any.
    /// Queues a `ping` in the same commit. The secret is in the answer
    /// only.
    pub fn create_webhook(
        &mut self,
        by: Actor<'_>,
        new: NewWebhook<'_>,
    ) -> Result<CreatedWebhook, DomainError> {
        let org = match by {
            Actor::Caller(caller) => {
                self.require_webhook_admin(caller, "add webhooks")?;
                match new.org {
                    Some(name) => {
                        let org = self.visible_org(caller, name)?;
                        Some(org)
                    }
                    None if caller.is_system_administrator() => None,
                    None => Some(caller.account.org.clone()),
                }
            }
            Actor::Operator => match new.org {
                Some(name) => Some(self.org(name)?),
                None => None,
            },
        };
        // An org admin's webhook is its org's, even when the org admin is
        // the provider's and holds no System Administrator role.
        let org = match (by, org) {
            (Actor::Caller(caller), Some(org))
                if !caller.is_system_administrator() && org.id != caller.account.org.id =>
            {
                return Err(self.deny(
                    caller,
                    "only a System Administrator may add a webhook for another org".into(),
                ))
            }
            (_, org) => org,
        };
        let url = check_url(new.url)?;
        let events = check_events(new.events, new.expiring_days)?;
        let now = self.now();
        let id = self.shared.ambient.new_id()?;
        let secret = Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            random_string(&*self.shared.ambient.random, SECRET_ALPHABET, SECRET_LENGTH)?
        ));
        let sealed = sealing::seal(
            &self.kek()?,
            &*self.shared.ambient.random,
            &id,
            sealing::WEBHOOK_SECRET,
            secret.as_bytes(),
        )?;
        let created_by = match by {
            Actor::Caller(caller) => {
                format!("{}@{}", caller.account.user_name, caller.account.org.name)
            }
            Actor::Operator => self
                .settings()
                .operator
                .clone()
                .unwrap_or_else(|| "tokend".into()),
        };
        let webhook = WebhookRecord {
            id: id.clone(),
            org_id: org.as_ref().map(|o| o.id.clone()),
            org_name: org.as_ref().map(|o| o.name.clone()),
            url,
            events,
            expiring_days: new.expiring_days,
            secret: sealed,
            created_at: now,
            created_by,
            cursor: 0,
        };
        let ping_id = self.shared.ambient.new_id()?;
        let ping = NewWebhookDelivery {
            id: ping_id.clone(),
            webhook_id: id.clone(),
            event_type: PING.into(),
            event_id: ping_id.clone(),
            token_id: None,
            body: json!({
                "delivery_id": ping_id,
                "type": PING,
                "time": format_time(now),
                "webhook": webhook_json_public(&webhook),
            })
            .to_string(),
            created_at: now,
        };
        let mut event = self
            .event_by(by, "webhook.create")?
            .on("webhook", &id, &host_of(&webhook.url))
            .with("events", json!(webhook.events));
        if let Some(org) = &org {
            event = event.in_org(&org.id);
        }
        let mut record = webhook.clone();
        self.write_recorded(event, move |tx| {
            // Events from now on: those before the webhook are not its.
            record.cursor = tx.newest_event_seq()?;
            tx.insert_webhook(&record)?;
            tx.insert_webhook_delivery(&ping, now)?;
            Ok(())
        })?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// The webhooks `by` may see: every one for a System Administrator or
    /// the CLI, its org's for an org admin.
    pub fn webhooks_in_reach(&self, by: Actor<'_>) -> Result<Vec<WebhookRecord>, DomainError> {
        match by {
            Actor::Caller(caller) => {
                self.require_webhook_admin(caller, "read webhooks")?;
                if caller.is_system_administrator() {
                    Ok(self.db().webhooks(None)?)
                } else {
                    Ok(self.db().webhooks(Some(&caller.account.org.id))?)
                }
            }
            Actor::Operator => Ok(self.db().webhooks(None)?),
        }
    }

    /// One webhook in `by`'s reach, by id; another org's is unknown.
    pub fn webhook_in_reach(&self, by: Actor<'_>, id: &str) -> Result<WebhookRecord, DomainError> {
        if let Actor::Caller(caller) = by {
            self.require_webhook_admin(caller, "read webhooks")?;
        }
        let unknown = || DomainError::NotFound("no such webhook".into());
        let id = parse_id(id).ok_or_else(unknown)?;
        let webhook = self.db().webhook(&id)?.ok_or_else(unknown)?;
        if let Actor::Caller(caller) = by {
            let own = webhook.org_id.as_deref() == Some(caller.account.org.id.as_str());
            if !caller.is_system_administrator() && !own {
                return Err(unknown());
            }
        }
        Ok(webhook)
    }

    /// Removes a webhook and its queued deliveries.
    pub fn delete_webhook(&mut self, by: Actor<'_>, id: &str) -> Result<(), DomainError> {
        let webhook = self.webhook_in_reach(by, id)?;
        let mut event =
            self.event_by(by, "webhook.delete")?
                .on("webhook", &webhook.id, &host_of(&webhook.url));
        if let Some(org) = &webhook.org_id {
            event = event.in_org(org);
        }
        let id = webhook.id.clone();
        if !self.write_if_changed(event, move |tx| tx.delete_webhook(&id))? {
            return Err(DomainError::NotFound("no such webhook".into()));
        }
        Ok(())
    }

    /// A webhook's recent deliveries, newest first, with their state.
    pub fn webhook_deliveries(
        &self,
        by: Actor<'_>,
        id: &str,
    ) -> Result<Vec<WebhookDelivery>, DomainError> {
        let webhook = self.webhook_in_reach(by, id)?;
        Ok(self
            .db()
            .webhook_deliveries(&webhook.id, DELIVERIES_SHOWN)?)
    }

    /// Who may manage webhooks: a password session holding "Audit: View"
    /// (a webhook tells what the trail says) and "Manage all users' API
    /// tokens" (the tokens it tells of), as an org admin does.
    fn require_webhook_admin(&self, caller: &Caller, what: &str) -> Result<(), DomainError> {
        self.require_session(caller, what)?;
        self.require(caller, Right::AuditView)?;
        self.require(caller, Right::TokenManageAll)
    }

    /// One run: queues what the trail and the expiring tokens hold for
    /// each webhook, then sends what is due.
    pub fn run_webhooks(&mut self, sender: &dyn WebhookSender) -> Result<WebhookRun, DomainError> {
        self.run_webhooks_with(sender, true)
    }

    /// A run; the expiring tokens are looked for only `with_expiring`
    /// (their query is the costly one, and a day's notice needs no
    /// second's precision).
    pub fn run_webhooks_with(
        &mut self,
        sender: &dyn WebhookSender,
        with_expiring: bool,
    ) -> Result<WebhookRun, DomainError> {
        let expiring = if with_expiring {
            self.queue_expiring_tokens()?
        } else {
            0
        };
        let mut run = WebhookRun {
            queued: self.queue_webhook_events()? + expiring,
            ..WebhookRun::default()
        };
        let sent = self.send_due_webhooks(sender)?;
        run.delivered = sent.delivered;
        run.deferred = sent.deferred;
        run.given_up = sent.given_up;
        Ok(run)
    }

    /// Turns the trail's events after each webhook's cursor into
    /// deliveries, moving the cursor in the same commit; how many.
    pub fn queue_webhook_events(&mut self) -> Result<usize, DomainError> {
        let mut queued = 0;
        for webhook in self.db().webhooks(None)? {
            let kinds: Vec<String> = webhook
                .events
                .iter()
                .filter(|kind| kind.as_str() != "token.expiring")
                .cloned()
                .collect();
            // A read first: most passes find nothing new, and a write
            // would cost a sync each.
            if kinds.is_empty() || self.db().newest_event_seq()? <= webhook.cursor {
                continue;
            }
            loop {
                let random = Arc::clone(&self.shared.ambient.random);
                let now = self.now();
                let (id, kinds) = (webhook.id.clone(), kinds.clone());
                let (count, more) = self
                    .store
                    .write(move |tx| queue_events_of(tx, &*random, &id, &kinds, now))?;
                queued += count;
                if !more {
                    break;
                }
            }
        }
        Ok(queued)
    }

    /// Queues `token.expiring` for the live tokens expiring within each
    /// subscribed webhook's N days, once per token; how many.
    pub fn queue_expiring_tokens(&mut self) -> Result<usize, DomainError> {
        let mut queued = 0;
        for webhook in self.db().webhooks(None)? {
            let Some(days) = webhook.expiring_days else {
                continue;
            };
            if !webhook.events.iter().any(|e| e == "token.expiring") {
                continue;
            }
            loop {
                let now = self.now();
                let until = now.saturating_add(days.saturating_mul(86_400));
                let tokens = self.db().tokens_expiring_untold(
                    &webhook.id,
                    webhook.org_id.as_deref(),
                    now,
                    until,
                    QUEUE_BATCH,
                )?;
                if tokens.is_empty() {
                    break;
                }
                let full = tokens.len() as u32 == QUEUE_BATCH;
                let mut deliveries = Vec::with_capacity(tokens.len());
                for token in &tokens {
                    let id = self.shared.ambient.new_id()?;
                    deliveries.push(expiring_delivery(&webhook.id, id, token, days, now));
                }
                let count = self.store.write(move |tx| {
                    let mut count = 0;
                    for delivery in &deliveries {
                        if tx.insert_webhook_delivery(delivery, now)? {
                            count += 1;
                        }
                    }
                    Ok(count)
                })?;
                queued += count;
                if !full {
                    break;
                }
            }
        }
        Ok(queued)
    }

    /// Sends the deliveries that are due, each until it succeeds or is
    /// given up.
    pub fn send_due_webhooks(
        &mut self,
        sender: &dyn WebhookSender,
    ) -> Result<WebhookRun, DomainError> {
        let mut run = WebhookRun::default();
        loop {
            let now = self.now();
            if !self.db().webhook_delivery_due(now)? {
                return Ok(run);
            }
            let claimed = self
                .store
                .write(move |tx| tx.claim_due_webhook_deliveries(now, now + CLAIM, SEND_BATCH))?;
            if claimed.is_empty() {
                return Ok(run);
            }
            for delivery in claimed {
                let Some(webhook) = self.db().webhook(&delivery.webhook_id)? else {
                    continue;
                };
                let outcome = self.attempt(&webhook, &delivery, sender);
                match outcome {
                    Ok(status) => {
                        let (id, at) = (delivery.id.clone(), self.now());
                        self.store.write(move |tx| {
                            tx.record_webhook_delivered(&id, at, i64::from(status))
                        })?;
                        run.delivered += 1;
                    }
                    Err((status, error)) => {
                        crate::logging::warn(format!(
                            "tokend: webhook {} delivery {} ({}) failed, attempt {}: {error}",
                            webhook.id,
                            delivery.id,
                            delivery.event_type,
                            delivery.attempts + 1
                        ));
                        if self.record_webhook_failure(&webhook, &delivery, status, &error)? {
                            run.deferred += 1;
                        } else {
                            run.given_up += 1;
                        }
                    }
                }
            }
        }
    }

    /// One attempt: the status of a 2xx answer, else the status (if any)
    /// and why it failed.
    fn attempt(
        &self,
        webhook: &WebhookRecord,
        delivery: &WebhookDelivery,
        sender: &dyn WebhookSender,
    ) -> Result<u16, (Option<u16>, String)> {
        let secret = self
            .unseal_webhook_secret(webhook)
            .map_err(|e| (None, e.to_string()))?;
        let timestamp = self.now();
        let body = delivery.body.as_bytes();
        let headers = [
            ("content-type", "application/json".to_string()),
            ("user-agent", "tokend-webhook".to_string()),
            ("x-tokend-event", delivery.event_type.clone()),
            ("x-tokend-delivery", delivery.id.clone()),
            ("x-tokend-webhook", webhook.id.clone()),
            ("x-tokend-timestamp", timestamp.to_string()),
            (
                "x-tokend-signature-256",
                webhook_signature(&secret, timestamp, body),
            ),
        ];
        let request = WebhookRequest {
            url: &webhook.url,
            headers: &headers,
            body,
        };
        match sender.post(&request) {
            Ok(status) if (200..300).contains(&status) => Ok(status),
            Ok(status) => Err((Some(status), format!("answered {status}"))),
            Err(error) => Err((None, error)),
        }
    }

    /// Records a failed attempt; whether it will be tried again.
    fn record_webhook_failure(
        &mut self,
        webhook: &WebhookRecord,
        delivery: &WebhookDelivery,
        status: Option<u16>,
        error: &str,
    ) -> Result<bool, DomainError> {
        let now = self.now();
        let wait = backoff(delivery.attempts);
        let next = Some(now + wait).filter(|at| *at <= delivery.created_at + GIVE_UP_AFTER);
        let (id, text) = (delivery.id.clone(), error.to_string());
        let status = status.map(i64::from);
        match next {
            Some(at) => {
                self.store.write(move |tx| {
                    tx.record_webhook_failure(&id, now, Some(at), status, &text)
                })?;
            }
            None => {
                let mut event = self
                    .event("webhook.delivery_failed", "failure")?
                    .on("webhook", &webhook.id, &host_of(&webhook.url))
                    .with("delivery", json!(delivery.id))
                    .with("event", json!(delivery.event_type))
                    .with("attempts", json!(delivery.attempts + 1))
                    .with("status", json!(status))
                    .with("error", json!(error));
                event.actor_name = Some("tokend".into());
                if let Some(org) = &webhook.org_id {
                    event = event.in_org(org);
                }
                self.write_recorded(event, move |tx| {
                    tx.record_webhook_failure(&id, now, None, status, &text)
                })?;
            }
        }
        Ok(next.is_some())
    }

    fn unseal_webhook_secret(
        &self,
        webhook: &WebhookRecord,
    ) -> Result<Zeroizing<Vec<u8>>, DomainError> {
        sealing::unseal(
            &self.kek()?,
            &webhook.id,
            sealing::WEBHOOK_SECRET,
            &webhook.secret,
        )
        .map_err(|e| match e {
            sealing::UnsealError::OtherKek(id) => DomainError::Unavailable(format!(
                "webhook secrets are sealed under key-encryption key {id}, which this \
                 server does not hold: restart it with the new key file"
            )),
            sealing::UnsealError::Tampered => {
                DomainError::Internal(format!("a webhook secret: {e}"))
            }
        })
    }
}

/// The wait before the attempt after `attempts` failed ones: 30 s,
/// doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    BACKOFF_FIRST
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_CAP)
}

/// One commit's work for webhook `id`: events after its cursor queued,
/// the cursor moved; (queued, whether more may follow).
fn queue_events_of(
    tx: &dyn Transaction,
    random: &dyn RandomSource,
    id: &str,
    kinds: &[String],
    now: i64,
) -> StoreResult<(usize, bool)> {
    // Read again inside the write: the cursor another run moved counts.
    let Some(webhook) = tx.webhook(id)? else {
        return Ok((0, false));
    };
    let newest = tx.newest_event_seq()?;
    if newest <= webhook.cursor {
        return Ok((0, false));
    }
    let events = tx.events_for_webhook(
        webhook.cursor,
        newest,
        kinds,
        webhook.org_id.as_deref(),
        QUEUE_BATCH,
    )?;
    let full = events.len() as u32 == QUEUE_BATCH;
    let cursor = match events.last() {
        Some((seq, _)) if full => *seq,
        _ => newest,
    };
    let mut queued = 0;
    for (_, event) in &events {
        let delivery_id = fresh_id(random)?;
        let delivery = event_delivery(tx, &webhook.id, delivery_id, event, now)?;
        if tx.insert_webhook_delivery(&delivery, now)? {
            queued += 1;
        }
    }
    tx.set_webhook_cursor(&webhook.id, cursor)?;
    Ok((queued, full))
}

fn fresh_id(random: &dyn RandomSource) -> StoreResult<String> {
    let mut bytes = [0u8; 16];
    random
        .fill(&mut bytes)
        .map_err(|e| StoreError::Failed(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// The delivery of an audit event: its public fields, and the token it
/// names as it stands (never its digest).
fn event_delivery(
    tx: &dyn Transaction,
    webhook_id: &str,
    delivery_id: String,
    event: &Event,
    now: i64,
) -> StoreResult<NewWebhookDelivery> {
    let token_id = (event.target_type.as_deref() == Some("api_token"))
        .then(|| event.target_id.clone())
        .flatten();
    let token = match &token_id {
        Some(id) => tx.api_token(id)?,
        None => None,
    };
    let org_name = match &event.org_id {
        Some(org_id) => match &token {
            Some(token) if &token.org_id == org_id => Some(token.org_name.clone()),
            _ => tx
                .orgs(&crate::domain::records::DirectoryFilter {
                    org_id: Some(org_id.clone()),
                    limit: 1,
                    ..Default::default()
                })?
                .orgs
                .into_iter()
                .next()
                .map(|o| o.name),
        },
        None => None,
    };
    let token_json = match (&token_id, &token) {
        (_, Some(token)) => json!({
            "id": token.id,
            "name": token.name,
            "owner": { "id": token.owner_id, "name": token.owner_name },
            "expires_at": token.expires_at.map(format_time),
            "revoked_at": token.revoked_at.map(format_time),
        }),
        (Some(id), None) => json!({ "id": id, "name": event.target_name }),
        (None, None) => Value::Null,
    };
    let mut body = json!({
        "delivery_id": delivery_id,
        "event_id": event.id,
        "type": event.kind,
        "time": event.time(),
        "org": event.org_id.as_ref().map(|id| json!({ "id": id, "name": org_name })),
        "actor": event.actor_name,
        "outcome": event.outcome,
        "token": token_json,
    });
    if event.kind == "token.leaked" {
        // Where the secret was found and who said so, as the trail has it.
        body["reported"] = json!({
            "from": event.client_ip,
            "url": event.properties.get("url"),
            "source": event.properties.get("source"),
        });
    }
    Ok(NewWebhookDelivery {
        id: delivery_id,
        webhook_id: webhook_id.to_string(),
        event_type: event.kind.clone(),
        event_id: event.id.clone(),
        token_id,
        body: body.to_string(),
        created_at: now,
    })
}

fn expiring_delivery(
    webhook_id: &str,
    delivery_id: String,
    token: &ExpiringTokenDetail,
    days: i64,
    now: i64,
) -> NewWebhookDelivery {
    let body = json!({
        "delivery_id": delivery_id,
        "event_id": delivery_id,
        "type": "token.expiring",
        "time": format_time(now),
        "org": { "id": token.org_id, "name": token.org_name },
        "actor": null,
        "outcome": "success",
        "within_days": days,
        "token": {
            "id": token.id,
            "name": token.name,
            "owner": { "id": token.owner_id, "name": token.owner_name },
            "expires_at": format_time(token.expires_at),
            "revoked_at": null,
        },
    });
    NewWebhookDelivery {
        id: delivery_id.clone(),
        webhook_id: webhook_id.to_string(),
        event_type: "token.expiring".into(),
        event_id: delivery_id,
        token_id: Some(token.id.clone()),
        body: body.to_string(),
        created_at: now,
    }
}

/// A webhook as its ping describes it: no secret.
fn webhook_json_public(webhook: &WebhookRecord) -> Value {
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "expiring_days": webhook.expiring_days,
        "org": webhook.org_id,
    })
}

/// The URL's host, which events and logs name: a URL's path or query may
/// hold a receiver's own secret.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}

/// An `https://` URL with a host and no credentials or fragment; plain
/// HTTP is refused, loopback too: the body is signed but not secret, and
/// a receiver reached in clear text could be impersonated.
fn check_url(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    let invalid = |why: &str| DomainError::Invalid(format!("url: {why}"));
    if text.len() > MAX_URL_LEN {
        return Err(invalid("at most 2048 characters"));
    }
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(invalid(
            "a webhook is delivered over HTTPS only: the URL must start with https://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not hold credentials: requests are signed with the webhook's secret",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    Ok(url.to_string())
}

/// The subscribed events, sorted, each known; `expiring_days` exactly
/// when `token.expiring` is asked for.
fn check_events(events: &[String], expiring_days: Option<i64>) -> Result<Vec<String>, DomainError> {
    if events.is_empty() {
        return Err(DomainError::Invalid(format!(
            "events: name at least one of {}",
            WEBHOOK_EVENTS.join(", ")
        )));
    }
    let mut set = BTreeSet::new();
    for event in events {
        if !WEBHOOK_EVENTS.contains(&event.as_str()) {
            return Err(DomainError::Invalid(format!(
                "events: {event:?} is not one of {}",
                WEBHOOK_EVENTS.join(", ")
            )));
        }
        set.insert(event.clone());
    }
    match (set.contains("token.expiring"), expiring_days) {
        (true, Some(days)) if EXPIRING_DAYS.contains(&days) => {}
        (true, _) => {
            return Err(DomainError::Invalid(
                "expiring_days: token.expiring needs a number of days from 1 to 365".into(),
            ))
        }
        (false, Some(_)) => {
            return Err(DomainError::Invalid(
                "expiring_days is only for the event token.expiring".into(),
            ))
        }
        (false, None) => {}
    }
    Ok(set.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_30_seconds_to_an_hour() {
        let waits: Vec<i64> = (0..9).map(backoff).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(1000), 3600);
    }

    #[test]
    fn only_https_urls_without_credentials_are_taken() {
        assert!(check_url("https://hooks.example.org/tokend").is_ok());
        for bad in [
            "http://hooks.example.org/",
            "http://127.0.0.1:8080/",
            "ftp://example.org/",
            "https://user:pw@example.org/",
            "https://example.org/#x",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // RFC 4231 is keyed differently; this pins the construction.
        let signature = webhook_signature(b"key", 1, b"{}");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"key");
        let expected = hmac::sign(&key, b"1.{}");
        let hex: String = expected
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(signature, format!("sha256={hex}"));
    }
}
