//! `tokend audit`: print the trail, follow it, prune it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::domain::records::{Event, EventFilter};
use crate::domain::{Authority, DomainError, TimeOrAge};

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
    /// Only events done by this user (its id).
    #[arg(long, value_name = "USER_ID")]
    actor: Option<String>,
    /// Only events on this API token, or done with access derived from it (its id).
    #[arg(long, value_name = "TOKEN_ID")]
    token: Option<String>,
    /// Only events at or after this time: RFC 3339, a date (its midnight,
    /// UTC), or an age back from now (30m, 1h, 7days).
    #[arg(long, value_name = "TIME", value_parser = time_or_age)]
    since: Option<TimeOrAge>,
    /// Only events before this time (written as for --since).
    #[arg(long, value_name = "TIME", value_parser = time_or_age)]
    until: Option<TimeOrAge>,
    /// How many of the newest events to show (1-10000).
    #[arg(long, short = 'n', default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    lines: u32,
    /// Keep printing events as they are written, until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Print every event written after this one (its id), oldest first,
    /// instead of the newest: resumes a shipper where it stopped.
    #[arg(long, value_name = "EVENT_ID", conflicts_with = "lines")]
    after: Option<String>,
    /// Resume after the event id kept in this file, if it exists, and keep
    /// the id of the last event printed there (like journalctl's).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["after", "lines"])]
    cursor_file: Option<PathBuf>,
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
/// Events read at a time after a position.
const FOLLOW_PAGE: u32 = 500;

pub(super) fn audit(authority: &mut Authority, args: AuditArgs) -> Result<(), DomainError> {
    let mut filter = EventFilter {
        kind: args.kind,
        actor_id: args.actor,
        token_id: args.token,
        since_ms: args.since.map(|time| authority.resolve_time(time)),
        until_ms: args.until.map(|time| authority.resolve_time(time)),
        limit: args.lines,
        ..EventFilter::default()
    };
    // A cursor file not written yet: the whole trail, from its start.
    let after = match (&args.cursor_file, &args.after) {
        (Some(file), _) => match read_cursor(file)? {
            Some(id) => Some(authority.event_position(&id)?),
            None => Some(0),
        },
        (None, Some(id)) => Some(authority.event_position(id)?),
        (None, None) => None,
    };
    let first = match after {
        Some(position) => {
            filter.after = Some(position);
            filter.limit = FOLLOW_PAGE;
            authority.events_for_operator(args.org.as_deref(), filter.clone())?
        }
        None => {
            let mut newest = authority.events_for_operator(args.org.as_deref(), filter.clone())?;
            newest.reverse();
            newest
        }
    };
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
    let mut last_seen = filter.after.unwrap_or(0);
    let mut page = first;
    loop {
        for (seq, event) in &page {
            last_seen = *seq;
            if !print_line(&mut out, &audit_line(event, args.format)) {
                return Ok(());
            }
        }
        // Kept once the page is out: a crash in between repeats events,
        // never skips them.
        if let (Some(file), Some((_, last))) = (&args.cursor_file, page.last()) {
            write_cursor(file, &last.id)?;
        }
        // A full page after a position means more is waiting already.
        let more = filter.after.is_some() && page.len() == filter.limit as usize;
        if !args.follow && !more {
            return Ok(());
        }
        if !more {
            std::thread::sleep(FOLLOW_INTERVAL);
        }
        filter.after = Some(last_seen);
        filter.limit = FOLLOW_PAGE;
        page = authority.events_for_operator(args.org.as_deref(), filter.clone())?;
    }
}

fn time_or_age(text: &str) -> Result<TimeOrAge, String> {
    TimeOrAge::parse(text).ok_or_else(|| {
        format!("not a date, an RFC 3339 time or an age such as 1h or 90days: {text:?}")
    })
}

pub(super) fn prune(authority: &mut Authority, before: &str) -> Result<(), DomainError> {
    let before = authority
        .time_or_age(before)
        .map_err(|e| DomainError::Invalid(format!("--before: {e}")))?;
    let deleted = authority.prune_events(before)?;
    eprintln!("deleted {deleted} audit events");
    Ok(())
}

/// The event id in `file`; none when there is no file yet.
fn read_cursor(file: &Path) -> Result<Option<String>, DomainError> {
    match std::fs::read_to_string(file) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DomainError::Invalid(format!(
            "cannot read the cursor file {}: {e}",
            file.display()
        ))),
    }
}

/// Replaces `file` with `id` whole: a crash leaves the old id or the new.
fn write_cursor(file: &Path, id: &str) -> Result<(), DomainError> {
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, format!("{id}\n"))
        .and_then(|()| std::fs::rename(&partial, file))
        .map_err(|e| {
            DomainError::Invalid(format!(
                "cannot write the cursor file {}: {e}",
                file.display()
            ))
        })
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
