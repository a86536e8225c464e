//! The leaked-token response, as a secret-scanning partner endpoint:
//! anyone may report candidate secrets found in public; every one that is
//! a live API token is revoked at once (with a `token.leaked` event naming
//! where it was reported from, in the same commit), and its owner is
//! mailed after the commit through the reminders' relay.
//!
//! The answer never says whether a candidate was a live token: the caller
//! is unauthenticated, and "revoked: 1" would make the endpoint an oracle
//! for guessed or half-remembered secrets. It says how many candidates
//! were received and how many were well formed, which anyone can compute
//! offline from the format (`api_token.rs`). A candidate that is not well
//! formed costs no lookup.
//!
//! Reports are rate-limited per client address (a token bucket, bounded
//! memory). The owner's notice is written in the commit that revoked the
//! token, so neither a restart nor a relay that is down loses it; it is
//! sent as reminders are (claimed by one run, recorded once sent, retried
//! with backoff, then given up with an event), by `serve`'s mail thread,
//! which the commit wakes, on whichever node has a relay.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;

use crate::domain::records::{ApiTokenRecord, DueLeakNotice, NewLeakNotice};
use crate::domain::storage::ClusterNotice;
use crate::domain::tokens::api_token::ApiTokenSecret;
use crate::domain::tokens::reminders::{next_try, Mail, Mailer, ReminderRun, BATCH, CLAIM};
use crate::domain::{format_time, Authority, DomainError};

/// Candidates one report may hold.
pub const MAX_LEAK_CANDIDATES: usize = 1_000;
/// How much of a reported `url` or `source` is kept.
const MAX_ORIGIN_LENGTH: usize = 512;
/// Reports one address may send at once…
const BURST: u32 = 10;
/// …and then one more every this many milliseconds (10 a minute).
const REFILL_MS: i64 = 6_000;
/// Addresses tracked; past it, new addresses share one bucket (fail
/// closed: a flood of addresses slows itself, not the memory).
const MAX_ADDRESSES: usize = 10_000;

/// One reported candidate: a string that may be a secret, and where it
/// was found.
#[derive(Debug, Clone, Copy)]
pub struct LeakCandidate<'a> {
    pub token: &'a str,
    pub url: Option<&'a str>,
    pub source: Option<&'a str>,
}

/// What a report answers: counts only, the same whatever was live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakReport {
    pub received: usize,
    /// Candidates with the prefix, length and checksum of an API token.
    pub well_formed: usize,
}

/// Per-address token buckets of the report endpoint.
#[derive(Default)]
pub(in crate::domain) struct LeakReportLimiter {
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Reports left, in thousandths.
    credit: i64,
    at_ms: i64,
}

impl LeakReportLimiter {
    /// Takes one report from `client`'s bucket at `now_ms`; else how many
    /// seconds until one is back.
    pub(in crate::domain) fn admit(&self, client: IpAddr, now_ms: i64) -> Result<(), i64> {
        let full = i64::from(BURST) * 1000;
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let refilled = |bucket: &Bucket| {
            let gained = (now_ms - bucket.at_ms).max(0).saturating_mul(1000) / REFILL_MS;
            bucket.credit.saturating_add(gained).min(full)
        };
        let mut key = Some(client);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_ADDRESSES {
            // Buckets full again say nothing a new one would not.
            buckets.retain(|_, bucket| refilled(bucket) < full);
            if buckets.len() >= MAX_ADDRESSES {
                key = None;
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            credit: full,
            at_ms: now_ms,
        });
        let credit = refilled(bucket);
        if credit < 1000 {
            let missing = 1000 - credit;
            return Err((missing * REFILL_MS / 1000 + 999) / 1000);
        }
        *bucket = Bucket {
            credit: credit - 1000,
            at_ms: now_ms,
        };
        Ok(())
    }
}

/// Wakes this node's mail thread when a report committed owners'
/// notices, so that they go at once rather than at its next round.
#[derive(Default)]
pub(in crate::domain) struct LeakNoticeBell {
    rung: Mutex<bool>,
    bell: Condvar,
}

impl LeakNoticeBell {
    fn ring(&self) {
        *self.rung.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.bell.notify_all();
    }

    /// Waits until rung or `wait` has passed.
    fn wait(&self, wait: Duration) {
        let rung = self.rung.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut rung, _) = self
            .bell
            .wait_timeout_while(rung, wait, |rung| !*rung)
            .unwrap_or_else(PoisonError::into_inner);
        *rung = false;
    }
}

/// Where a report says a candidate was found, capped, for the trail.
fn origin(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX_ORIGIN_LENGTH) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    })
}

impl Authority {
    /// Takes a leak report from `client`: revokes every candidate that is
    /// a live API token, with its `token.leaked` event, in one commit, and
    /// queues its owner's mail. Answers counts only.
    pub fn report_leaked_tokens(
        &mut self,
        candidates: &[LeakCandidate<'_>],
        client: IpAddr,
    ) -> Result<LeakReport, DomainError> {
        if candidates.len() > MAX_LEAK_CANDIDATES {
            return Err(DomainError::Invalid(format!(
                "a report holds at most {MAX_LEAK_CANDIDATES} candidates"
            )));
        }
        let now_ms = self.shared.ambient.clock.now_millis();
        self.shared
            .leak_limiter
            .admit(client, now_ms)
            .map_err(DomainError::RateLimited)?;
        // The other nodes take it from their bucket too: a reporter that
        // spreads its reports over the nodes meets one limit.
        self.tell_others(ClusterNotice::LeakReportAdmitted {
            client,
            at_ms: now_ms,
        });
        let now = self.now();
        let mut seen = HashSet::new();
        let mut well_formed = 0;
        let mut leaked: Vec<(ApiTokenRecord, LeakCandidate<'_>)> = Vec::new();
        self.in_snapshot(|| {
            for candidate in candidates {
                let Some(secret) = ApiTokenSecret::parse(candidate.token.trim()) else {
                    continue;
                };
                well_formed += 1;
                let digest = secret.digest();
                if !seen.insert(digest) {
                    continue;
                }
                let live = |t: &ApiTokenRecord| {
                    t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now)
                };
                if let Some(token) = self.db().api_token_by_digest(&digest)?.filter(live) {
                    leaked.push((token, *candidate));
                }
            }
            Ok::<(), DomainError>(())
        })?;
        let report = LeakReport {
            received: candidates.len(),
            well_formed,
        };
        if leaked.is_empty() {
            return Ok(report);
        }
        let mut batch = Vec::with_capacity(leaked.len());
        for (token, candidate) in &leaked {
            let account = self.db().account(&token.user_id)?;
            let (url, source) = (origin(candidate.url), origin(candidate.source));
            let mut event = self
                .event("token.leaked", "success")?
                .on("api_token", &token.id, &token.name)
                .from(client)
                .with("currentContext.refreshTokenId", json!(token.id))
                .with("owner", json!(token.user_id))
                .with("url", json!(url))
                .with("source", json!(source));
            let mut notice = None;
            if let Some(account) = &account {
                event = event.in_org(&account.org.id);
                notice = account.email.as_ref().map(|email| NewLeakNotice {
                    token_id: token.id.clone(),
                    email: email.clone(),
                    reported_at: now,
                    url,
                    source,
                });
            }
            batch.push((token.id.clone(), event, notice));
        }
        // Only what this report revoked is told: a token another report
        // revoked first has its notice from that one.
        let noticed: bool = self.store.write(move |tx| {
            let mut noticed = false;
            for (id, event, notice) in &batch {
                if tx.revoke_api_token(id, now)? {
                    tx.insert_event(event)?;
                    if let Some(notice) = notice {
                        tx.insert_leak_notice(notice)?;
                        noticed = true;
                    }
                }
            }
            Ok(noticed)
        })?;
        if noticed {
            self.shared.leak_notice_bell.ring();
        }
        Ok(report)
    }

    /// Waits until a report on this node committed owners' notices, or
    /// `wait` has passed: the mail thread's pause between runs.
    pub fn wait_for_leak_notices(&self, wait: Duration) {
        self.shared.leak_notice_bell.wait(wait);
    }

    /// Sends the owners' notices of leaked tokens that are due, each once;
    /// a failed send is tried again with the reminders' backoff, then
    /// given up with a `token.leak_notice_failed` event.
    pub fn send_due_leak_notices(
        &mut self,
        mailer: &dyn Mailer,
    ) -> Result<ReminderRun, DomainError> {
        let mut run = ReminderRun::default();
        loop {
            let now = self.now();
            let claimed = self
                .store
                .write(move |tx| tx.claim_due_leak_notices(now, now + CLAIM, BATCH))?;
            if claimed.is_empty() {
                return Ok(run);
            }
            for notice in claimed {
                match mailer.send(&leak_mail(&notice)) {
                    Ok(()) => {
                        self.record_leak_notice_sent(&notice)?;
                        run.sent += 1;
                    }
                    Err(error) => {
                        crate::logging::warn(format!(
                            "tokend: the leak notice for API token {} could not be sent: {error}",
                            notice.token_id
                        ));
                        if self.record_leak_notice_failure(&notice, &error)? {
                            run.deferred += 1;
                        } else {
                            run.given_up += 1;
                        }
                    }
                }
            }
        }
    }

    fn record_leak_notice_sent(&mut self, notice: &DueLeakNotice) -> Result<(), DomainError> {
        let now = self.now();
        let event = self
            .operator_event("token.leak_notice_sent")?
            .on("api_token", &notice.token_id, &notice.token_name)
            .in_org(&notice.org_id)
            .with("to", json!(notice.email));
        let id = notice.token_id.clone();
        self.write_recorded(event, move |tx| tx.record_leak_notice_sent(&id, now))?;
        Ok(())
    }

    /// Records a failed send; whether it will be tried again.
    fn record_leak_notice_failure(
        &mut self,
        notice: &DueLeakNotice,
        error: &str,
    ) -> Result<bool, DomainError> {
        let now = self.now();
        let next = next_try(notice.attempts, now);
        let (id, text) = (notice.token_id.clone(), error.to_string());
        match next {
            Some(at) => {
                self.store
                    .write(move |tx| tx.record_leak_notice_failure(&id, now, Some(at), &text))?;
            }
            None => {
                let event = self
                    .event("token.leak_notice_failed", "failure")?
                    .on("api_token", &notice.token_id, &notice.token_name)
                    .in_org(&notice.org_id)
                    .with("to", json!(notice.email))
                    .with("attempts", json!(notice.attempts + 1))
                    .with("error", json!(error));
                self.write_recorded(event, move |tx| {
                    tx.record_leak_notice_failure(&id, now, None, &text)
                })?;
            }
        }
        Ok(next.is_some())
    }
}

fn leak_mail(notice: &DueLeakNotice) -> Mail {
    let mut body = format!(
        "Your API token \"{}\" (id {}, org {}) was reported as leaked at {} and has been revoked.\n",
        notice.token_name,
        notice.token_id,
        notice.org_name,
        format_time(notice.reported_at)
    );
    if let Some(url) = &notice.url {
        body.push_str(&format!("Where it was found: {url}\n"));
    }
    if let Some(source) = &notice.source {
        body.push_str(&format!("Reported by: {source}\n"));
    }
    body.push_str(
        "\nAnything using it now fails. Make a new token, put it where the old one was, \
         and remove the old secret from wherever it was published.\n",
    );
    Mail {
        to: notice.email.clone(),
        subject: format!(
            "tokend: API token \"{}\" leaked and revoked",
            notice.token_name
        ),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_report_per_refill() {
        let limiter = LeakReportLimiter::default();
        let address: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..BURST {
            assert_eq!(limiter.admit(address, 0), Ok(()));
        }
        assert_eq!(limiter.admit(address, 0), Err(6));
        assert_eq!(limiter.admit(address, REFILL_MS - 1), Err(1));
        assert_eq!(limiter.admit(address, REFILL_MS), Ok(()));
        assert_eq!(limiter.admit([127, 0, 0, 2].into(), REFILL_MS), Ok(()));
    }

    #[test]
    fn past_the_table_new_addresses_share_one_bucket() {
        let limiter = LeakReportLimiter::default();
        for n in 0..MAX_ADDRESSES as u32 {
            assert_eq!(limiter.admit(IpAddr::from(n.to_be_bytes()), 0), Ok(()));
        }
        let stranger: IpAddr = [10, 255, 255, 255].into();
        for _ in 0..BURST {
            assert_eq!(limiter.admit(stranger, 0), Ok(()));
        }
        assert!(limiter.admit([10, 255, 255, 254].into(), 0).is_err());
        // Once buckets are full again they make room.
        assert_eq!(
            limiter.admit(stranger, REFILL_MS * i64::from(BURST)),
            Ok(())
        );
    }

    #[test]
    fn origins_are_capped_and_blank_ones_dropped() {
        assert_eq!(origin(Some("  ")), None);
        let long = "x".repeat(MAX_ORIGIN_LENGTH + 10);
        assert_eq!(
            origin(Some(&long)).map(|o| o.chars().count()),
            Some(MAX_ORIGIN_LENGTH + 1)
        );
    }
}
