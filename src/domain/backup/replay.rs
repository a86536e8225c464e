//! What a restore does about what its backup lacks. After the backup
//! point, revocations may have happened; put back as it is, the backup
//! would make every token revoked since work again. So a restore either
//! replays every revocation the audit stream (`tokend audit --format
//! json-lines`) records after the point, through the operations the admin
//! CLI uses, each with its own event naming the event it replays
//! (`replays`); or revokes every API token and ends every session live at
//! the point; or, when the admin says so, puts the backup back as it is.
//! The restore records a `backup.restore` event either way.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

use serde_json::{json, Value};

use crate::domain::audit::{format_time_millis, Actor};
use crate::domain::backup::RestorePoint;
use crate::domain::records::Event;
use crate::domain::tokens::keys::KeyRotation;
use crate::domain::{Authority, DomainError};

/// The longest an access token lives (`TOKEND_ACCESS_TTL` is at most 24
/// hours): how long a replayed revocation of one is kept when its event
/// does not say when the token expires.
const LONGEST_ACCESS_TOKEN_SECS: i64 = 24 * 3600;

/// Events after the backup point that change nothing a restore must
/// bring back: uses, refusals, mail, the trail's own housekeeping.
const NOTHING_TO_REPLAY: [&str; 18] = [
    "token.exchange",
    "token.exchange_failed",
    "token.jwt_bearer_failed",
    "session.login",
    "session.login_failed",
    "session.locked",
    "access.denied",
    "introspection.client_failed",
    "token.reminder_sent",
    "token.reminder_failed",
    "token.leak_notice_sent",
    "token.leak_notice_failed",
    "token.expiry_digest",
    "audit.prune",
    "system.initialize",
    "system.upgrade",
    "backup.create",
    "backup.restore",
];

/// The audit trail as `tokend audit --format json-lines` prints it (and
/// `--follow` ships it), read line by line in its order: the events after
/// the backup point that a restore acts on or reports, repeats dropped.
/// A year of trail need not fit in memory: what comes before the point,
/// and uses and refusals after it, are only counted.
#[derive(Debug)]
pub struct AuditStream {
    events: Vec<Event>,
    /// Lines after the backup point.
    after: usize,
}

impl AuditStream {
    /// Reads the stream up to its end. A line that is not an event is
    /// refused with its number, since it could be a revocation; so is a
    /// stream that does not hold the backup point: it cannot show what
    /// happened after it.
    pub fn read(stream: impl BufRead, point: &RestorePoint) -> Result<AuditStream, DomainError> {
        let mut past_point = point.event_id.is_none();
        let (mut first, mut last) = (None, None);
        let mut kept = HashSet::new();
        let mut read = AuditStream {
            events: Vec::new(),
            after: 0,
        };
        for (n, line) in stream.lines().enumerate() {
            let line = line.map_err(|e| {
                DomainError::Invalid(format!(
                    "cannot read line {} of the audit stream: {e}",
                    n + 1
                ))
            })?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let event = serde_json::from_str::<Value>(line)
                .ok()
                .as_ref()
                .and_then(Event::from_json)
                .ok_or_else(|| {
                    DomainError::Invalid(format!(
                        "line {} of the audit stream is not an event as \
                         `tokend audit --format json-lines` prints one, and \
                         it could be a revocation (a stream from the journal \
                         that holds the shipper's own messages too: keep the \
                         JSON lines, grep '^{{')",
                        n + 1
                    ))
                })?;
            first.get_or_insert(event.at_ms);
            last = Some(event.at_ms);
            if point.event_id.as_ref() == Some(&event.id) {
                past_point = true;
                continue;
            }
            if !past_point {
                continue;
            }
            read.after += 1;
            if !unchanging(&event) && kept.insert(event.id.clone()) {
                read.events.push(event);
            }
        }
        if past_point {
            return Ok(read);
        }
        let span = match (first, last) {
            (Some(first), Some(last)) => format!(
                "it runs from {} to {}",
                format_time_millis(first),
                format_time_millis(last)
            ),
            _ => "it is empty".to_string(),
        };
        Err(DomainError::Invalid(format!(
            "the audit stream does not hold the backup point, {} ({span}): \
             it cannot show what happened after it; give the stream that \
             `tokend audit --follow --format json-lines` shipped from before \
             the backup until the database was lost",
            point.describe()
        )))
    }

    /// The events after the backup point a restore acts on or reports.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many events the stream holds after the backup point.
    pub fn after(&self) -> usize {
        self.after
    }
}

/// Whether an event changed nothing a restore must bring back: a use, a
/// refusal (but a replayed token's, which revoked), mail, housekeeping.
fn unchanging(event: &Event) -> bool {
    NOTHING_TO_REPLAY.contains(&event.kind.as_str())
        || (event.outcome != "success" && event.kind != "service_account.token_reuse")
}

/// What a restore does about the changes after the backup point.
#[derive(Debug, Clone, Copy)]
pub enum RestoreChoice<'a> {
    /// Replay the revocations the stream records after the backup point.
    Replay(&'a AuditStream),
    /// Revoke every API token and end every session live at the point.
    RevokeLive,
    /// Put the backup back as it is.
    AcceptResurrection,
}

impl RestoreChoice<'_> {
    fn mode(self) -> &'static str {
        match self {
            RestoreChoice::Replay(_) => "audit-stream",
            RestoreChoice::RevokeLive => "revoke-live-tokens",
            RestoreChoice::AcceptResurrection => "accept-resurrection",
        }
    }
}

/// An API token made after the backup point, until the stream shows it
/// revoked too.
struct MadeAfter {
    id: String,
    /// Its owner's id: revoking a service account revokes its tokens.
    owner: String,
    label: String,
}

/// What a restore did.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Events of the stream after the backup point.
    pub events_after: usize,
    pub api_tokens_revoked: u64,
    pub access_tokens_revoked: u64,
    pub users_disabled: u64,
    pub users_enabled: u64,
    pub sessions_ended: u64,
    pub service_accounts_revoked: u64,
    pub service_accounts_deleted: u64,
    pub oauth_clients_deleted: u64,
    pub introspection_clients_revoked: u64,
    /// The signing keys were rotated at once, as they were after the
    /// point (a key that leaked must not sign again).
    pub keys_rotated: bool,
    /// Revocations of what the backup does not hold (made after the
    /// point) or holds revoked already.
    pub nothing_to_do: u64,
    /// API tokens made after the point and not revoked since, as
    /// `name (id)`: not in the backup, and gone.
    pub tokens_made_after: Vec<String>,
    /// Users whose password changed after the point: the backup holds the
    /// one before.
    pub passwords_changed: Vec<String>,
    /// Other changes after the point, not replayed, by event type.
    pub not_replayed: BTreeMap<String, u64>,
}

impl RestoreReport {
    /// How many changes the restore replayed or made.
    pub fn replayed(&self) -> u64 {
        self.api_tokens_revoked
            + self.access_tokens_revoked
            + self.users_disabled
            + self.users_enabled
            + self.sessions_ended
            + self.service_accounts_revoked
            + self.service_accounts_deleted
            + self.oauth_clients_deleted
            + self.introspection_clients_revoked
            + u64::from(self.keys_rotated)
    }

    fn to_json(&self) -> Value {
        json!({
            "events_after": self.events_after,
            "api_tokens_revoked": self.api_tokens_revoked,
            "access_tokens_revoked": self.access_tokens_revoked,
            "users_disabled": self.users_disabled,
            "users_enabled": self.users_enabled,
            "sessions_ended": self.sessions_ended,
            "service_accounts_revoked": self.service_accounts_revoked,
            "service_accounts_deleted": self.service_accounts_deleted,
            "oauth_clients_deleted": self.oauth_clients_deleted,
            "introspection_clients_revoked": self.introspection_clients_revoked,
            "keys_rotated": self.keys_rotated,
            "tokens_made_after": self.tokens_made_after.len(),
            "not_replayed": self.not_replayed,
        })
    }
}

impl Authority {
    /// Deals with what the backup this handle is on lacks, as `choice`
    /// says, and records a `backup.restore` event. For a database that is
    /// not in service yet: the copy a restore is about to put in place.
    pub fn restore(
        &mut self,
        choice: RestoreChoice<'_>,
        point: &RestorePoint,
    ) -> Result<RestoreReport, DomainError> {
        let mut report = RestoreReport::default();
        match choice {
            RestoreChoice::Replay(stream) => {
                report.events_after = stream.after();
                let mut made_after: Vec<MadeAfter> = Vec::new();
                for event in stream.events() {
                    self.replaying = Some(event.id.clone());
                    let replayed = self.replay(event, &mut report, &mut made_after);
                    self.replaying = None;
                    replayed?;
                }
                report.tokens_made_after = made_after.into_iter().map(|t| t.label).collect();
            }
            RestoreChoice::RevokeLive => {
                report.api_tokens_revoked = self.revoke_every_live_api_token("restore")?;
                report.sessions_ended = self.end_every_session()?;
            }
            RestoreChoice::AcceptResurrection => {}
        }
        let event = self
            .operator_event("backup.restore")?
            .with("mode", json!(choice.mode()))
            .with("point", point.to_json())
            .with("restored", report.to_json());
        self.write_recorded(event, |_| Ok(()))?;
        Ok(report)
    }

    /// Replays one event of the stream if it revoked, disabled or ended
    /// something; notes it otherwise.
    fn replay(
        &mut self,
        event: &Event,
        report: &mut RestoreReport,
        made_after: &mut Vec<MadeAfter>,
    ) -> Result<(), DomainError> {
        let target = event.target_id.as_deref().unwrap_or_default();
        let property = |key: &str| event.properties[key].as_str().map(str::to_string);
        let done = match event.kind.as_str() {
            "token.create" | "token.rotate" => {
                let name = event.target_name.as_deref().unwrap_or("-");
                made_after.push(MadeAfter {
                    id: target.to_string(),
                    owner: property("owner").unwrap_or_default(),
                    label: format!("{name} ({target})"),
                });
                match property("replaces") {
                    Some(replaced) => {
                        self.replay_token_revocation(&replaced, made_after, report)?
                    }
                    None => return Ok(()),
                }
            }
            "token.revoke" => self.replay_token_revocation(target, made_after, report)?,
            "oauth_client.delete" => {
                let deleted = self.delete_oauth_client_by_operator(target)?;
                report.oauth_clients_deleted += u64::from(deleted);
                let token = property("api_token");
                let revoked = match token {
                    Some(token) => self.replay_token_revocation(&token, made_after, report)?,
                    None => false,
                };
                deleted || revoked
            }
            "service_account.revoke" | "service_account.token_reuse" => {
                made_after.retain(|made| made.owner != target);
                let exists = self.service_account_by_id(target).is_ok();
                if exists {
                    self.revoke_service_account(Actor::Operator, target)?;
                    report.service_accounts_revoked += 1;
                }
                exists
            }
            "service_account.delete" => {
                made_after.retain(|made| made.owner != target);
                let exists = self.service_account_by_id(target).is_ok();
                if exists {
                    self.delete_service_account(Actor::Operator, target)?;
                    report.service_accounts_deleted += 1;
                }
                exists
            }
            "access_token.revoke" => {
                let expires_at = event.properties["expires_at"]
                    .as_i64()
                    .unwrap_or(event.at_ms / 1000 + LONGEST_ACCESS_TOKEN_SECS);
                let name = event.target_name.as_deref().unwrap_or(target);
                let revoked = self.revoke_access_token_by_id(
                    target,
                    name,
                    event.org_id.as_deref(),
                    expires_at,
                )?;
                report.access_tokens_revoked += u64::from(revoked);
                revoked
            }
            "user.disable" | "user.enable" => {
                let enable = event.kind == "user.enable";
                match self.db().user(target)? {
                    Some(user) if user.disabled == enable => {
                        self.set_user_enabled(Actor::Operator, &user, enable)?;
                        if enable {
                            report.users_enabled += 1;
                        } else {
                            report.users_disabled += 1;
                        }
                        true
                    }
                    _ => false,
                }
            }
            "session.logout" => {
                let ended = self.end_session_by_operator(target)?;
                report.sessions_ended += u64::from(ended);
                ended
            }
            "user.password_change" => match self.db().user(target)? {
                Some(user) => {
                    let ended = self.end_sessions_of_users(std::slice::from_ref(&user))?;
                    report.sessions_ended += ended;
                    let name = format!("{}@{}", user.name, user.org_name);
                    if !report.passwords_changed.contains(&name) {
                        report.passwords_changed.push(name);
                    }
                    true
                }
                None => false,
            },
            "key.rotate" if event.properties["old_keys_retired"] == json!(true) => {
                if !report.keys_rotated {
                    self.rotate_signing_keys(KeyRotation::AtOnce)?;
                    report.keys_rotated = true;
                }
                true
            }
            "service.client_revoke" => {
                let client = property("client_id").unwrap_or_default();
                let live = self
                    .db()
                    .introspection_client(&client)?
                    .is_some_and(|c| c.revoked_at.is_none());
                if live {
                    self.revoke_introspection_client(Actor::Operator, &client, None)?;
                    report.introspection_clients_revoked += 1;
                }
                live
            }
            _ if unchanging(event) => return Ok(()),
            kind => {
                *report.not_replayed.entry(kind.to_string()).or_default() += 1;
                return Ok(());
            }
        };
        if !done {
            report.nothing_to_do += 1;
        }
        Ok(())
    }

    /// Revokes the API token `id` if the backup holds it live; a token
    /// made after the point is crossed off the list of those gone.
    fn replay_token_revocation(
        &mut self,
        id: &str,
        made_after: &mut Vec<MadeAfter>,
        report: &mut RestoreReport,
    ) -> Result<bool, DomainError> {
        made_after.retain(|made| made.id != id);
        let live = self
            .db()
            .api_token(id)?
            .is_some_and(|t| t.revoked_at.is_none());
        if live {
            self.revoke_api_token(Actor::Operator, id)?;
            report.api_tokens_revoked += 1;
        }
        Ok(live)
    }
}
