//! `tokend backup`, `tokend check` and `tokend restore`: the database file
//! as an admin handles it. Like `serve`, this module composes the store's
//! file operations (copying, inspecting, replacing the file, its lock)
//! with the domain's decisions (the backup point, health, what a restore
//! replays); it parses, prints and decides nothing itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{ArgGroup, Args};

use super::{admin_settings, administer, cannot_open};
use crate::domain::records::Inspection;
use crate::domain::storage::StoreError;
use crate::domain::{
    backup_file_name, backups_beyond, health_problems, key_file_verdict, Ambient, AuditStream,
    Authority, DomainError, RestoreChoice, RestorePoint, RestoreReport,
};
use crate::key_file::KeyFile;
use crate::store::sqlite::LockMode;
use crate::store::{DatabaseLocation, SqliteDatabase};

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["file", "dir"])))]
pub(super) struct BackupArgs {
    /// The file to write (mode 0600); an existing file is never replaced.
    file: Option<PathBuf>,
    /// Write into this directory instead, named by the time in UTC
    /// (tokend-20261206T231500Z.db).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// With --dir: keep the newest N backups named so, deleting older ones.
    #[arg(long, value_name = "N", requires = "dir",
          value_parser = clap::value_parser!(u32).range(1..))]
    keep: Option<u32>,
}

#[derive(Args)]
pub(super) struct CheckArgs {
    /// The database file to check, a backup for instance [default: the --db database].
    file: Option<PathBuf>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("lacking").multiple(false)
    .args(["audit_stream", "revoke_live_tokens", "accept_resurrection"])))]
pub(super) struct RestoreArgs {
    /// The backup to put in place of the --db database.
    backup: PathBuf,
    /// The audit trail as `tokend audit --follow --format json-lines`
    /// shipped it: every revocation it records after the backup point is
    /// replayed.
    #[arg(long, value_name = "FILE")]
    audit_stream: Option<PathBuf>,
    /// Without the trail: revoke every API token and end every session
    /// live at the backup point; their holders need new ones.
    #[arg(long)]
    revoke_live_tokens: bool,
    /// Without the trail: restore as it is, and accept that tokens revoked
    /// after the backup point work again.
    #[arg(long)]
    accept_resurrection: bool,
}

pub(super) fn backup(db: &Path, key_file: &KeyFile, args: BackupArgs) -> Result<(), String> {
    let location = DatabaseLocation::File(db.to_path_buf());
    administer(&location, key_file, |authority| {
        let target = match (&args.file, &args.dir) {
            (Some(file), _) => file.clone(),
            (None, Some(dir)) => dir.join(backup_file_name(authority.now())),
            (None, None) => return Err(DomainError::Invalid("name a FILE or --dir".into())),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| DomainError::Invalid(format!("{} is no file name", target.display())))?;
        let refused = |e: StoreError| match e {
            StoreError::Duplicate => DomainError::Conflict(format!(
                "{} exists already; a backup never replaces a file",
                target.display()
            )),
            other => {
                DomainError::Invalid(format!("cannot back up to {}: {other}", target.display()))
            }
        };
        let copy = SqliteDatabase::begin_backup(db, &target).map_err(refused)?;
        let event = authority.backup_event(&name, copy.point())?;
        let point = RestorePoint {
            event_id: copy.point().map(|p| p.event_id.clone()),
            event_at_ms: copy.point().map(|p| p.event_at_ms),
            taken_at_ms: Some(event.at_ms),
            file: Some(name.clone()),
        };
        let copied = copy.finish(&event).map_err(refused)?;
        authority.record_backup(event).map_err(|e| {
            DomainError::Invalid(format!(
                "{} is written, but its backup.create event could not be recorded: {e}",
                target.display()
            ))
        })?;
        println!("{}", target.display());
        eprintln!(
            "copied {} pages ({}) in {} step{}; backup point: {}",
            copied.pages,
            size(copied.bytes),
            copied.steps,
            if copied.steps == 1 { "" } else { "s" },
            point.describe()
        );
        if let (Some(dir), Some(keep)) = (&args.dir, args.keep) {
            delete_old_backups(dir, keep as usize)?;
        }
        Ok(())
    })
}

/// Deletes the backups `--dir` made in `dir` beyond the newest `keep`.
fn delete_old_backups(dir: &Path, keep: usize) -> Result<(), DomainError> {
    let cannot =
        |e: std::io::Error| DomainError::Invalid(format!("cannot list {}: {e}", dir.display()));
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for name in backups_beyond(&names, keep) {
        let path = dir.join(&name);
        std::fs::remove_file(&path).map_err(|e| {
            DomainError::Invalid(format!(
                "cannot delete the old backup {}: {e}",
                path.display()
            ))
        })?;
        eprintln!("deleted the old backup {}", path.display());
    }
    Ok(())
}

pub(super) fn check(db: &Path, key_file: &KeyFile, args: CheckArgs) -> Result<(), String> {
    let path = args.file.as_deref().unwrap_or(db);
    let inspection =
        SqliteDatabase::inspect(path, Ambient::system().now()).map_err(|e| cannot_open(path, e))?;
    println!("database: {}", path.display());
    print_inspection(&inspection);
    let mut problems = health_problems(&inspection);
    if inspection.counts.is_some() {
        match key_file_verdict(&inspection.signing_keys, key_file) {
            Ok(verdict) => println!("key file: {verdict}"),
            Err(problem) => {
                println!("key file: {problem}");
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        println!("status: healthy");
        return Ok(());
    }
    println!("status: NOT healthy");
    Err(format!(
        "{} is not healthy:\n  {}",
        path.display(),
        problems.join("\n  ")
    ))
}

fn print_inspection(found: &Inspection) {
    println!("integrity: {}", found.integrity.join("; "));
    match found.foreign_key_violations {
        Some(0) => println!("foreign keys: ok"),
        Some(n) => println!("foreign keys: {n} rows refer to rows that do not exist"),
        None => println!("foreign keys: unknown"),
    }
    let known = found.known_schema_version;
    match found.schema_version {
        Some(v) if v > known => {
            println!("schema: version {v}, newer than this tokend knows ({known})")
        }
        Some(v) if v < known => {
            println!("schema: version {v} (this tokend knows {known}; the next start migrates it)")
        }
        Some(v) => println!("schema: version {v} (current)"),
        None => println!("schema: unknown"),
    }
    if let Some(c) = &found.counts {
        println!("orgs: {}", c.orgs);
        println!("users: {} ({} disabled)", c.users, c.users_disabled);
        println!("service accounts: {}", c.service_accounts);
        println!(
            "API tokens: {} live, {} expired, {} revoked",
            c.api_tokens_live, c.api_tokens_expired, c.api_tokens_revoked
        );
        println!("sessions: {} live", c.sessions_live);
        println!(
            "signing keys: {} ({} retired)",
            c.signing_keys, c.signing_keys_retired
        );
    }
    if let Some(audit) = &found.audit {
        let span = match (audit.oldest_ms, audit.newest_ms) {
            (Some(oldest), Some(newest)) => format!(
                ", {} to {}",
                crate::domain::format_time(oldest / 1000),
                crate::domain::format_time(newest / 1000)
            ),
            _ => String::new(),
        };
        let measure = if audit.bytes_exact {
            ""
        } else {
            " at most (the whole file)"
        };
        println!(
            "audit trail: {} events, {}{measure}{span}",
            audit.events,
            size(audit.bytes)
        );
    }
    if let Some(event) = &found.newest_event {
        println!("newest event: {} at {}", event.kind, event.time());
        // A backup's own record, in the copy and in the trail it copied.
        let point = RestorePoint::of(found);
        if point.taken_at_ms.is_some() {
            println!("backup point: {}", point.describe());
        }
    }
}

pub(super) fn restore(db: &Path, key_file: &KeyFile, args: RestoreArgs) -> Result<(), String> {
    let backup = &args.backup;
    if backup
        .canonicalize()
        .ok()
        .is_some_and(|b| Some(b) == db.canonicalize().ok())
    {
        return Err(format!("{} is the database itself", backup.display()));
    }
    let inspection = SqliteDatabase::inspect(backup, Ambient::system().now())
        .map_err(|e| format!("cannot read the backup {}: {e}", backup.display()))?;
    let problems = health_problems(&inspection);
    if !problems.is_empty() {
        return Err(format!(
            "the backup {} is not healthy; nothing was changed:\n  {}",
            backup.display(),
            problems.join("\n  ")
        ));
    }
    let point = RestorePoint::of(&inspection);
    if args.audit_stream.is_none() && !args.revoke_live_tokens && !args.accept_resurrection {
        return Err(choose(&point));
    }
    let Some(lock) =
        SqliteDatabase::try_lock(db, LockMode::Exclusive).map_err(|e| cannot_open(db, e))?
    else {
        return Err(format!(
            "{db} is in use: tokend serve, or another tokend command (an audit shipper's \
             `tokend audit --follow`, a backup), has it open and holds {lock}. Stop them \
             first (systemctl stop tokend, and tokend-audit if it runs), then restore \
             again; nothing was changed",
            db = db.display(),
            lock = SqliteDatabase::lock_path(db).display()
        ));
    };
    let stream = match &args.audit_stream {
        Some(file) => {
            let lines = std::fs::File::open(file)
                .map(std::io::BufReader::new)
                .map_err(|e| format!("cannot read the audit stream {}: {e}", file.display()))?;
            let stream = AuditStream::read(lines, &point)
                .map_err(|e| format!("{e}; nothing was changed"))?;
            Some(stream)
        }
        None => None,
    };
    let choice = match &stream {
        Some(stream) => RestoreChoice::Replay(stream),
        None if args.revoke_live_tokens => RestoreChoice::RevokeLive,
        None => RestoreChoice::AcceptResurrection,
    };
    let cannot =
        |e: StoreError| format!("cannot restore {}: {e}; nothing was changed", db.display());
    let staged = SqliteDatabase::stage_restore(backup, db).map_err(cannot)?;
    let report = {
        let database = SqliteDatabase::open_existing(staged.path()).map_err(cannot)?;
        let mut authority = Authority::open(
            Arc::new(database),
            admin_settings(),
            Ambient::system(),
            Arc::new(key_file.clone()),
        )
        .map_err(|e| format!("cannot open the restored copy: {e}; nothing was changed"))?;
        authority
            .restore(choice, &point)
            .map_err(|e| format!("{e}; nothing was changed"))?
    };
    staged.install().map_err(|e| {
        format!(
            "cannot put the restored copy in place of {}: {e}",
            db.display()
        )
    })?;
    // A lock file this restore made (no service ever ran here) goes, so
    // that the service makes its own, owned by its user.
    lock.remove_if_created();
    println!("restored {} from {}", db.display(), backup.display());
    println!("backup point: {}", point.describe());
    print_report(choice, &report);
    if let Some(id) = &point.event_id {
        println!(
            "audit shippers: the events after the backup point are not in the restored trail; \
             resume them after event {id} (write it into the --cursor-file)"
        );
    }
    // The backup holds its keys sealed; the key file is backed up apart.
    if let Err(problem) = key_file_verdict(&inspection.signing_keys, key_file) {
        println!(
            "warning: {problem}. Put the key file the backup's keys are sealed under at {} \
             (or set TOKEND_KEY_FILE to it) before starting tokend; if it is lost for good, \
             `tokend key rotate --now --new-key-file FILE` replaces the signing keys (tokens \
             they signed are refused from then on)",
            key_file.path().display()
        );
    }
    println!("start tokend again (systemctl start tokend)");
    Ok(())
}

/// Why a restore needs to be told what to do about revocations.
fn choose(point: &RestorePoint) -> String {
    format!(
        "refusing to restore without a choice about revocations. The backup knows \
         nothing after its backup point, {}: every API token revoked, access token \
         revoked, user disabled and session ended since then would work again. Choose one:\n  \
         --audit-stream FILE    replay every revocation after the backup point, from the \
         audit trail as `tokend audit --follow --format json-lines` shipped it (best)\n  \
         --revoke-live-tokens   revoke every API token and end every session live at the \
         backup point; their holders need new ones (safe without the trail)\n  \
         --accept-resurrection  restore as it is, accepting that whatever was revoked after \
         the backup point works again",
        point.describe()
    )
}

fn print_report(choice: RestoreChoice<'_>, report: &RestoreReport) {
    match choice {
        RestoreChoice::Replay(_) => {
            println!(
                "replayed from the audit stream: {} events after the backup point",
                report.events_after
            );
            for (what, n) in [
                ("API tokens revoked", report.api_tokens_revoked),
                ("access tokens revoked", report.access_tokens_revoked),
                ("users disabled", report.users_disabled),
                ("users enabled", report.users_enabled),
                ("sessions ended", report.sessions_ended),
                ("service accounts revoked", report.service_accounts_revoked),
                ("service accounts deleted", report.service_accounts_deleted),
                ("OAuth clients deleted", report.oauth_clients_deleted),
                (
                    "introspection clients revoked",
                    report.introspection_clients_revoked,
                ),
                ("already so, or not in the backup", report.nothing_to_do),
            ] {
                if n > 0 {
                    println!("  {what}: {n}");
                }
            }
            if report.replayed() == 0 {
                println!("  no revocation to replay");
            }
            if report.keys_rotated {
                println!("  signing keys rotated at once, as they were after the backup point");
            }
            if !report.tokens_made_after.is_empty() {
                println!(
                    "API tokens made after the backup point are not in the backup and stay gone; \
                     their holders need new ones: {}",
                    report.tokens_made_after.len()
                );
                for token in &report.tokens_made_after {
                    println!("  {token}");
                }
            }
            for user in &report.passwords_changed {
                println!(
                    "password of {user} changed after the backup point: the backup holds the \
                     one before; set it again"
                );
            }
            if !report.not_replayed.is_empty() {
                println!(
                    "not replayed (changes after the backup point the restored database lacks; \
                     redo those that still stand):"
                );
                for (kind, n) in &report.not_replayed {
                    println!("  {kind}: {n}");
                }
            }
        }
        RestoreChoice::RevokeLive => {
            println!(
                "revoked every API token live at the backup point: {} (their holders need new ones)",
                report.api_tokens_revoked
            );
            println!("ended every session: {}", report.sessions_ended);
            println!(
                "without the audit trail, users disabled, passwords changed and signing keys \
                 rotated after the backup point are as the backup has them: check them"
            );
        }
        RestoreChoice::AcceptResurrection => {
            println!(
                "restored as the backup has it (--accept-resurrection): API tokens, access \
                 tokens and sessions revoked or ended after the backup point, and users \
                 disabled since, work again"
            );
        }
    }
}

/// Bytes for people: `3.2 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
