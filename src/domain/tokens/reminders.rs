//! E-mail reminders before API tokens expire. A token may ask for one at
//! creation; a run (every minute in `tokend serve`, or `tokend remind
//! --once` from a timer) claims the reminders that are due in one
//! transaction, so two runs never send the same one, sends each through a
//! `Mailer`, and records the send after it succeeded: a crash in between
//! may repeat a mail, never lose one. A failed send is tried again with
//! backoff, then given up with an audit event. Admins may also mail a
//! digest of their org's tokens expiring soon.
//!
//! The message names the token, its id, org and expiry (UTC) and how to
//! make a new one; never a secret.

use std::time::Duration;

use serde_json::json;

use crate::domain::directory::names::check_email;
use crate::domain::records::{DueReminder, NewReminder, OwnerMailLimit};
use crate::domain::tokens::CreatedApiToken;
use crate::domain::{format_time, Actor, Authority, DomainError, Right};

/// How long a run owns the reminders it claimed; past it, another run may
/// take them (the first one died).
pub(in crate::domain) const CLAIM: i64 = 300;
/// Reminders claimed at a time: few enough that a batch against a relay
/// that times out every send (20 s each) ends well within its claim.
pub(in crate::domain) const BATCH: u32 = 10;
/// Waits before the next try of a failed send; after the last, it is
/// given up.
const BACKOFF: [i64; 4] = [60, 300, 900, 3600];
const MIN_BEFORE: Duration = Duration::from_secs(60);
/// The least time between a token's creation and its reminder.
const MIN_LEAD: i64 = 60;
/// Reminder mails one owner may be sent in an hour; more wait their turn.
const MAILS_PER_OWNER_HOUR: u32 = 5;
const MAX_BEFORE: Duration = Duration::from_secs(5 * 365 * 24 * 3600);

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Where mail goes out (an SMTP relay, in `tokend`): implemented outside
/// the domain, which knows no protocol.
pub trait Mailer: Send + Sync {
    /// Sends `mail`; the error says why not, for the log and the trail.
    fn send(&self, mail: &Mail) -> Result<(), String>;
}

/// A reminder a token asks for at creation.
#[derive(Debug, Clone, Copy)]
pub struct ReminderRequest<'a> {
    /// How long before the expiry, e.g. `7d`.
    pub before: &'a str,
    /// Where to; None: the owner's e-mail address. Another address than
    /// the owner's needs an admin ("User: Manage"), or the admin CLI.
    pub email: Option<&'a str>,
}

/// When a mail whose send failed, after `attempts` failures before this
/// one, is tried again; None once given up.
pub(in crate::domain) fn next_try(attempts: i64, now: i64) -> Option<i64> {
    usize::try_from(attempts)
        .ok()
        .and_then(|tried| BACKOFF.get(tried))
        .map(|wait| now + wait)
}

/// What one run of reminders, or of leak notices, did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderRun {
    pub sent: usize,
    /// Failed, to be tried again.
    pub deferred: usize,
    /// Failed for the last time.
    pub given_up: usize,
}

impl Authority {
    /// The reminder `request` asks for on the token just `created` for
    /// `user_id`, or why it cannot be.
    pub(in crate::domain) fn reminder_for(
        &self,
        by: Actor<'_>,
        user_id: &str,
        created: &CreatedApiToken,
        request: ReminderRequest<'_>,
    ) -> Result<NewReminder, DomainError> {
        let expires_at = created.expires_at.ok_or_else(|| {
            DomainError::Invalid("a token that never expires needs no reminder".into())
        })?;
        let before = humantime::parse_duration(request.before.trim())
            .ok()
            .filter(|d| (MIN_BEFORE..=MAX_BEFORE).contains(d))
            .ok_or_else(|| {
                DomainError::Invalid(format!(
                    "reminder.before is a span of 1 minute to 5 years, such as 7d; not {:?}",
                    request.before
                ))
            })?;
        let on_record = self.db().user(user_id)?.and_then(|user| user.email);
        let email = match (request.email, on_record) {
            (Some(email), on_record) => {
                check_email(email)?;
                let own = on_record.is_some_and(|own| own.eq_ignore_ascii_case(email.trim()));
                if !own {
                    match by {
                        Actor::Operator => {}
                        Actor::Caller(caller) if caller.rights.contains(Right::UserManage) => {}
                        Actor::Caller(caller) => {
                            return Err(self.deny(
                                caller,
                                "a reminder goes to the owner's e-mail address on record; another address needs an admin"
                                    .into(),
                            ))
                        }
                    }
                }
                email.to_string()
            }
            (None, Some(own)) => own,
            (None, None) => {
                return Err(DomainError::Invalid(
                    "the reminder needs an e-mail address: the user has none on record".into(),
                ))
            }
        };
        let before_s = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
        let due_at = expires_at.saturating_sub(before_s);
        if due_at < created.created_at.saturating_add(MIN_LEAD) {
            return Err(DomainError::Invalid(format!(
                "reminder.before {:?} leaves no time: the reminder must fall at least a minute after the token is made",
                request.before
            )));
        }
        Ok(NewReminder {
            token_id: created.id.clone(),
            email,
            before_s,
            due_at,
        })
    }

    /// The reminder a token in `by`'s reach asked for: its address and its
    /// lead, as `ReminderRequest` takes them back (for regenerating it).
    pub fn reminder_of(
        &self,
        by: Actor<'_>,
        token_id: &str,
    ) -> Result<Option<(String, String)>, DomainError> {
        let token = self.api_token_in_reach(by, token_id)?;
        Ok(self
            .db()
            .reminder_of(&token.id)?
            .map(|(email, before_s)| (email, format!("{before_s}s"))))
    }

    /// Sends the reminders that are due, each once.
    pub fn send_due_reminders(&mut self, mailer: &dyn Mailer) -> Result<ReminderRun, DomainError> {
        let mut run = ReminderRun::default();
        loop {
            let now = self.now();
            let claimed = self.store.write(move |tx| {
                let per_owner = OwnerMailLimit {
                    since: now - 3600,
                    mails: MAILS_PER_OWNER_HOUR,
                };
                tx.claim_due_reminders(now, now + CLAIM, BATCH, per_owner)
            })?;
            if claimed.is_empty() {
                return Ok(run);
            }
            for reminder in claimed {
                match mailer.send(&reminder_mail(&reminder)) {
                    Ok(()) => {
                        self.record_sent(&reminder)?;
                        run.sent += 1;
                    }
                    Err(error) => {
                        crate::logging::warn(format!(
                            "tokend: the reminder for API token {} could not be sent: {error}",
                            reminder.token_id
                        ));
                        if self.record_failure(&reminder, &error)? {
                            run.deferred += 1;
                        } else {
                            run.given_up += 1;
                        }
                    }
                }
            }
        }
    }

    fn record_sent(&mut self, reminder: &DueReminder) -> Result<(), DomainError> {
        let now = self.now();
        let event = self
            .operator_event("token.reminder_sent")?
            .on("api_token", &reminder.token_id, &reminder.token_name)
            .in_org(&reminder.org_id)
            .with("to", json!(reminder.email))
            .with("expires_at", json!(format_time(reminder.expires_at)));
        let id = reminder.token_id.clone();
        self.write_recorded(event, move |tx| tx.record_reminder_sent(&id, now))?;
        Ok(())
    }

    /// Records a failed send; whether it will be tried again.
    fn record_failure(&mut self, reminder: &DueReminder, error: &str) -> Result<bool, DomainError> {
        let now = self.now();
        let next = next_try(reminder.attempts, now);
        let (id, text) = (reminder.token_id.clone(), error.to_string());
        match next {
            Some(at) => {
                self.store
                    .write(move |tx| tx.record_reminder_failure(&id, now, Some(at), &text))?;
            }
            None => {
                let event = self
                    .event("token.reminder_failed", "failure")?
                    .on("api_token", &reminder.token_id, &reminder.token_name)
                    .in_org(&reminder.org_id)
                    .with("to", json!(reminder.email))
                    .with("attempts", json!(reminder.attempts + 1))
                    .with("error", json!(error));
                self.write_recorded(event, move |tx| {
                    tx.record_reminder_failure(&id, now, None, &text)
                })?;
            }
        }
        Ok(next.is_some())
    }

    /// Mails `to` the list of `org_name`'s live tokens that expire within
    /// `within`; how many it listed.
    pub fn send_expiry_digest(
        &mut self,
        org_name: &str,
        within: Duration,
        to: &str,
        mailer: &dyn Mailer,
    ) -> Result<usize, DomainError> {
        check_email(to)?;
        let org = self.org(org_name)?;
        let now = self.now();
        let until = now.saturating_add(i64::try_from(within.as_secs()).unwrap_or(i64::MAX));
        let tokens = self.db().tokens_expiring(&org.id, now, until)?;
        let days = within.as_secs() / 86_400;
        let mut body = format!(
            "API tokens of org {} that expire within {} ({} days), as of {}:\n\n",
            org.name,
            humantime::format_duration(within),
            days,
            format_time(now)
        );
        if tokens.is_empty() {
            body.push_str("None.\n");
        }
        for token in &tokens {
            body.push_str(&format!(
                "- {} (id {}), of {}: expires {}\n",
                token.name,
                token.id,
                token.owner_name,
                format_time(token.expires_at)
            ));
        }
        body.push_str(NEW_TOKEN_HINT);
        mailer
            .send(&Mail {
                to: to.to_string(),
                subject: format!(
                    "tokend: {} API tokens of {} expire within {days} days",
                    tokens.len(),
                    org.name
                ),
                body,
            })
            .map_err(|e| DomainError::Unavailable(format!("the digest was not sent: {e}")))?;
        let event = self
            .operator_event("token.expiry_digest")?
            .on("org", &org.id, &org.name)
            .in_org(&org.id)
            .with("to", json!(to))
            .with("tokens", json!(tokens.len()));
        self.write_recorded(event, |_| Ok(()))?;
        Ok(tokens.len())
    }
}

const NEW_TOKEN_HINT: &str = "\nTo replace a token, create a new one (POST /api/tokens with a \
password session, or `tokend token create USER@ORG --name NAME` on the server), move your \
automation to it, then revoke the old one.\n";

/// The reminder of one token: what it is and when it ends; never a secret.
fn reminder_mail(reminder: &DueReminder) -> Mail {
    let expires = format_time(reminder.expires_at);
    Mail {
        to: reminder.email.clone(),
        subject: format!(
            "tokend: API token \"{}\" expires on {expires}",
            reminder.token_name
        ),
        body: format!(
            "The API token \"{}\" of {}@{} expires on {expires} (UTC).\n\n\
             Token:   {}\nId:      {}\nOrg:     {}\nExpires: {expires}\n{NEW_TOKEN_HINT}",
            reminder.token_name,
            reminder.owner_name,
            reminder.org_name,
            reminder.token_name,
            reminder.token_id,
            reminder.org_name,
        ),
    }
}
