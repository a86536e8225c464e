//! `tokend audit`: print the trail, follow it, prune it.

use std::time::Duration;

use clap::{Args, Subcommand};

use crate::domain::audit::{Event, EventFilter};
use crate::domain::{Authority, DomainError};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct AuditCommand {
    #[command(subcommand)]
    pub(super) prune: Option<AuditPrune>,
    #[command(flatten)]
    pub(super) read: AuditArgs,
}

#[derive(Subcommand)]
pub(super) enum AuditPrune {
    /// Delete the events before a date or time (RFC 3339) or older than an age (e.g. 90days).
    Prune {
        #[arg(long)]
        before: String,
    },
}

#[derive(Args)]
pub(super) struct AuditArgs {
    /// Only events of this type, e.g. token.exchange.
    #[arg(long = "type")]
    kind: Option<String>,
    /// Only this org's events.
    #[arg(long)]
    org: Option<String>,
    /// How many of the newest events to show (1-10000).
    #[arg(long, short = 'n', default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    lines: u32,
    /// Keep printing events as they are written, until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
    /// `table` for people, `json-lines` (one event per line, as in GET /api/audit) for programs.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum AuditFormat {
    Table,
    JsonLines,
}

/// How often `audit --follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

pub(super) fn audit(authority: &mut Authority, args: AuditArgs) -> Result<(), DomainError> {
    let mut filter = EventFilter {
        kind: args.kind,
        limit: args.lines,
        ..EventFilter::default()
    };
    let mut newest = authority.events_for_operator(args.org.as_deref(), filter.clone())?;
    newest.reverse();
    let mut out = std::io::stdout().lock();
    if args.format == AuditFormat::Table {
        let header = format!(
            "{:<24}  {:<22}  {:<7}  {:<32}  {:<40}  CLIENT",
            "TIME", "TYPE", "OUTCOME", "ACTOR", "TARGET"
        );
        if !print_line(&mut out, &header) {
            return Ok(());
        }
    }
    let mut last_seen = 0;
    let mut page = newest;
    loop {
        for (seq, event) in &page {
            last_seen = *seq;
            if !print_line(&mut out, &audit_line(event, args.format)) {
                return Ok(());
            }
        }
        if !args.follow {
            return Ok(());
        }
        if page.len() < filter.limit as usize {
            std::thread::sleep(FOLLOW_INTERVAL);
        }
        filter.after = Some(last_seen);
        filter.limit = 500;
        page = authority.events_for_operator(args.org.as_deref(), filter.clone())?;
    }
}

pub(super) fn prune(authority: &mut Authority, before: &str) -> Result<(), DomainError> {
    // A bare date means its midnight, UTC.
    let time = match before.len() {
        10 => format!("{before}T00:00:00Z"),
        _ => before.to_string(),
    };
    let deleted = match humantime::parse_rfc3339_weak(&time) {
        Ok(at) => authority.prune_events(
            at.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        )?,
        Err(_) => {
            let age = humantime::parse_duration(before).map_err(|_| {
                DomainError::Invalid(format!(
                    "--before must be a date, an RFC 3339 time or an age such as 90days, not {before:?}"
                ))
            })?;
            authority.prune_events_older_than(age)?
        }
    };
    eprintln!("deleted {deleted} audit events");
    Ok(())
}

fn audit_line(event: &Event, format: AuditFormat) -> String {
    match format {
        AuditFormat::JsonLines => event.to_json().to_string(),
        AuditFormat::Table => {
            let target = match (&event.target_type, &event.target_name) {
                (Some(kind), Some(name)) => format!("{kind}:{name}"),
                _ => "-".into(),
            };
            format!(
                "{:<24}  {:<22}  {:<7}  {:<32}  {:<40}  {}",
                event.time(),
                event.kind,
                event.outcome,
                event.actor_name.as_deref().unwrap_or("-"),
                target,
                event.client_ip.as_deref().unwrap_or("-"),
            )
        }
    }
}

/// Writes one line and flushes it; false once stdout is gone (`| head`).
fn print_line(out: &mut impl std::io::Write, line: &str) -> bool {
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}
