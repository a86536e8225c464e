//! The command line: `tokend serve` and the admin subcommands that work on the
//! same database file, also while the server runs.
//!
//! This module parses arguments, reads the environment, and prints; every
//! decision is the domain's.

mod audit;
mod backup;
mod directory;
mod generate;
mod keys;
mod output;
mod policy;
mod remind;
mod serve;
mod service_accounts;
mod tls;
mod tokens;
mod users;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::domain::storage::Database;
use crate::domain::{
    format_time, Actor, Ambient, Authority, DomainError, Settings, DEFAULT_JWKS_MAX_AGE,
    DEFAULT_KEY_PUBLISH_DELAY,
};
use crate::key_file::KeyFile;
use crate::store::sqlite::LockMode;
use crate::store::{DatabaseLocation, PgDatabase, SqliteDatabase};
use audit::{AuditCommand, AuditPrune};
use backup::{BackupArgs, CheckArgs, RestoreArgs};
use directory::{BundleCommand, GroupCommand, RoleCommand, ServiceCommand};
use generate::GenerateCommand;
use keys::KeyCommand;
use policy::PolicyCommand;
use remind::RemindArgs;
use serve::ServeArgs;
use service_accounts::{DeviceCommand, ServiceAccountCommand};
use tls::TlsCommand;
use tokens::TokenCommand;
use users::{OrgCommand, UserCommand};
use webhooks::WebhookCommand;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Parser)]
#[command(name = "tokend", version, about = "On-prem API token authority")]
struct Cli {
    /// The database: a SQLite file, or a PostgreSQL database as a
    /// `postgres://user:password@host:port/database` URL. `tokend serve`
    /// creates it on first start (the file, or the schema in an empty
    /// database); every other command needs it to exist.
    #[arg(
        long,
        global = true,
        env = "TOKEND_DB",
        default_value = "./tokend.db",
        value_name = "FILE|URL"
    )]
    db: DatabaseLocation,
    /// The key file whose key seals the private signing keys: kept apart
    /// from the database, mode 0600; `tokend serve` makes it on first
    /// start [default: the database file's path with ".key" added, beside
    /// it; with PostgreSQL it must be given, the same file on every node].
    #[arg(long, global = true, env = "TOKEND_KEY_FILE", value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// PEM certificates to trust, beside the system's roots, for a
    /// PostgreSQL server's TLS (`?sslmode=require` in the URL).
    #[arg(long, global = true, env = "TOKEND_DB_CA_FILE", value_name = "FILE")]
    db_ca_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(Box<ServeArgs>),
    /// Certificates for serving TLS.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Write shell completions or manual pages (for packaging).
    #[command(subcommand, hide = true)]
    Generate(GenerateCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand, alias = "keys")]
    Key(KeyCommand),
    /// The wall clock, as the passes that destroy by it see it.
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Manage services and their permissions.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage roles and who holds them.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Manage groups: their members hold the roles granted to the group.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage rights bundles: the permissions a tenant org may use at all.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Read the audit trail: the newest events, oldest first.
    Audit(AuditCommand),
    /// Manage service accounts: API-only identities of an org.
    #[command(subcommand)]
    ServiceAccount(ServiceAccountCommand),
    /// Decide on a service account's request for access (RFC 8628 device grant).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Show and set the token lifetime policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage webhooks: HTTPS endpoints told of token events.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Send the e-mail reminders that are due (or an org's expiry digest).
    Remind(RemindArgs),
    /// Copy the database while the service runs (mode 0600, never over a file).
    Backup(BackupArgs),
    /// Check a database file (the --db one, or a backup): integrity, schema,
    /// what it holds; exit 0 when healthy.
    Check(CheckArgs),
    /// Put a backup in place of the --db database, with the service stopped,
    /// without bringing back what was revoked after the backup.
    Restore(RestoreArgs),
    /// Bring the database's schema up to this tokend's version (needed
    /// for PostgreSQL after an upgrade; a SQLite file is migrated by any
    /// command that opens it).
    Migrate,
}

impl Command {
    /// Whether the command opens the signing keys or other sealed secrets.
    fn needs_key_file(&self) -> bool {
        !matches!(
            self,
            Command::Generate(_) | Command::Tls(_) | Command::Migrate
        )
    }
}

#[derive(Subcommand)]
enum ClockCommand {
    /// After the service found the clock jumped (its log says so) and the
    /// clock is right again, or was right all along: the passes that
    /// prune, revoke idle tokens and forget revocations act again.
    Confirm,
}

pub fn run() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(path) = &cli.db_ca_file {
        match std::fs::read(path) {
            Ok(pem) => cli.db = cli.db.trusting(pem),
            Err(e) => {
                eprintln!("tokend: TOKEND_DB_CA_FILE {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let key_file = match (&cli.key_file, &cli.db) {
        (Some(path), _) => KeyFile::new(path.clone()),
        (None, DatabaseLocation::File(db)) => KeyFile::new(KeyFile::default_for(db)),
        (None, DatabaseLocation::Postgres { .. }) if !cli.command.needs_key_file() => {
            KeyFile::new(PathBuf::new())
        }
        (None, DatabaseLocation::Postgres { .. }) => {
            eprintln!(
                "tokend: with a PostgreSQL database, TOKEND_KEY_FILE (--key-file) must name \
                 the key file: the same file on every node"
            );
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => serve::serve(&cli.db, &key_file, *args),
        Command::Generate(command) => generate::generate(command),
        Command::Tls(command) => tls::tls(command),
        Command::Org(command) => administer(&cli.db, &key_file, |authority| {
            users::org(authority, command)
        }),
        Command::User(command) => administer(&cli.db, &key_file, |authority| {
            users::user(authority, command)
        }),
        Command::Token(command) => administer(&cli.db, &key_file, |authority| {
            tokens::token(authority, command)
        }),
        Command::Key(command) => administer(&cli.db, &key_file, |authority| {
            keys::key(authority, command)
        }),
        Command::Clock(ClockCommand::Confirm) => administer(&cli.db, &key_file, |authority| {
            let now = authority.confirm_clock(Actor::Operator)?;
            eprintln!(
                "the clock ({}) is confirmed: audit retention, idle revocation and forgetting \
                 expired revocations resume within a minute",
                format_time(now)
            );
            Ok(())
        }),
        Command::Service(command) => administer(&cli.db, &key_file, |authority| {
            directory::service(authority, command)
        }),
        Command::Role(command) => administer(&cli.db, &key_file, |authority| {
            directory::role(authority, command)
        }),
        Command::Group(command) => administer(&cli.db, &key_file, |authority| {
            directory::group(authority, command)
        }),
        Command::Bundle(command) => administer(&cli.db, &key_file, |authority| {
            directory::bundle(authority, command)
        }),
        Command::Audit(AuditCommand {
            prune: Some(AuditPrune::Prune { before }),
            ..
        }) => administer(&cli.db, &key_file, |authority| {
            audit::prune(authority, &before)
        }),
        Command::Audit(AuditCommand { read, .. }) => administer(&cli.db, &key_file, |authority| {
            audit::audit(authority, read)
        }),
        Command::ServiceAccount(command) => administer(&cli.db, &key_file, |authority| {
            service_accounts::service_account(authority, command)
        }),
        Command::Device(command) => administer(&cli.db, &key_file, |authority| {
            service_accounts::device(authority, command)
        }),
        Command::Policy(command) => administer(&cli.db, &key_file, |authority| {
            policy::policy(authority, command)
        }),
        Command::Webhook(command) => administer(&cli.db, &key_file, |authority| {
            webhooks::webhook(authority, command)
        }),
        Command::Remind(args) => administer(&cli.db, &key_file, |authority| {
            remind::remind(authority, args)
        }),
        Command::Backup(args) => file_only(&cli.db, |db| backup::backup(db, &key_file, args)),
        Command::Check(args) => file_only(&cli.db, |db| backup::check(db, &key_file, args)),
        Command::Restore(args) => file_only(&cli.db, |db| backup::restore(db, &key_file, args)),
        Command::Migrate => migrate(&cli.db),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokend: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that works on a database file alone; PostgreSQL has its
/// own tools for what it does.
fn file_only(
    db: &DatabaseLocation,
    command: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    match db {
        DatabaseLocation::File(path) => command(path),
        DatabaseLocation::Postgres { .. } => Err(format!(
            "{db} is a PostgreSQL database: back it up and restore it with PostgreSQL's own \
             tools (pg_dump, pg_basebackup and point-in-time recovery), as README \
             \"Several nodes on PostgreSQL\" says"
        )),
    }
}

fn migrate(db: &DatabaseLocation) -> Result<(), String> {
    let (before, after) = match db {
        DatabaseLocation::File(path) => {
            let version = |path: &Path| {
                SqliteDatabase::schema_version_of(path).map_err(|e| cannot_open(db, e))
            };
            SqliteDatabase::check_existing(path).map_err(|e| cannot_open(db, e))?;
            let before = version(path)?;
            SqliteDatabase::open_existing(path).map_err(|e| cannot_open(db, e))?;
            (before, version(path)?)
        }
        DatabaseLocation::Postgres { url, ca_pem } => {
            PgDatabase::migrate(url, ca_pem.as_deref()).map_err(|e| cannot_open(db, e))?
        }
    };
    if before == after {
        println!("{db}: schema version {after}, up to date");
    } else {
        println!("{db}: schema migrated from version {before} to {after}");
    }
    Ok(())
}

fn administer(
    db: &DatabaseLocation,
    key_file: &KeyFile,
    command: impl FnOnce(&mut Authority) -> Result<(), DomainError>,
) -> Result<(), String> {
    let db_path = match db {
        DatabaseLocation::File(path) => path,
        DatabaseLocation::Postgres { url, ca_pem } => {
            // Refused before anything is written: an empty database has
            // no authority to administer.
            let database = PgDatabase::open_existing(url, ca_pem.as_deref())
                .map_err(|e| cannot_open(db, e))?;
            return administer_database(Arc::new(database), db, key_file, command);
        }
    };
    let db = db_path;
    // A mistyped --db must not quietly create a second, empty authority.
    if !db.exists() {
        return Err(format!(
            "database {} does not exist; `tokend serve` creates it on first start",
            db.display()
        ));
    }
    // Refused before anything is written, the lock file beside it too.
    SqliteDatabase::check_existing(db).map_err(|e| cannot_open(db, e))?;
    // Held while the database is open: a restore waits for no one and
    // replaces nothing under an admin command.
    let Some(_lock) =
        SqliteDatabase::try_lock(db, LockMode::Shared).map_err(|e| cannot_open(db, e))?
    else {
        return Err(format!(
            "a restore of {} is in progress (it holds {}); try again when it has finished",
            db.display(),
            SqliteDatabase::lock_path(db).display()
        ));
    };
    let database = SqliteDatabase::open_existing(db).map_err(|e| cannot_open(db, e))?;
    let location = DatabaseLocation::File(db.to_path_buf());
    administer_database(Arc::new(database), &location, key_file, command)
}

fn administer_database(
    database: Arc<dyn Database>,
    db: &DatabaseLocation,
    key_file: &KeyFile,
    command: impl FnOnce(&mut Authority) -> Result<(), DomainError>,
) -> Result<(), String> {
    let mut authority = Authority::open(
        database,
        admin_settings(),
        Ambient::system(),
        Arc::new(key_file.clone()),
    )
    .map_err(|e| cannot_open(db, e))?;
    command(&mut authority).map_err(|e| e.to_string())
}

/// The settings of an admin command: it issues no access tokens, so these
/// only have to be valid, and match the service's where they count.
fn admin_settings() -> Settings {
    let operator = operator_name();
    Settings {
        issuer: format!("http://{DEFAULT_LISTEN}"),
        // As the service's, so that `key list` retires keys when it does.
        access_token_lifetime: std::env::var("TOKEND_ACCESS_TTL")
            .ok()
            .and_then(|ttl| serve::parse_access_ttl(&ttl).ok())
            .unwrap_or(DEFAULT_ACCESS_TTL),
        operator: Some(format!("cli:{operator}")),
        audit_retention: None,
        audit_max_bytes: None,
        audience: None,
        default_audience: Vec::new(),
        // As the service's, so that `key rotate` waits longer than it.
        jwks_max_age: std::env::var("TOKEND_JWKS_MAX_AGE")
            .ok()
            .and_then(|age| humantime::parse_duration(&age).ok())
            .unwrap_or(DEFAULT_JWKS_MAX_AGE),
        key_publish_delay: DEFAULT_KEY_PUBLISH_DELAY,
        dpop_nonce: Default::default(),
    }
}

/// Who runs this command, as its events name it: the name of the
/// process's real uid (what `id -un` prints), not `$USER`, which anyone
/// sets; `uid:N` for a uid without an entry in /etc/passwd.
fn operator_name() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                // Real, effective, saved and file-system uid, in that order.
                line.strip_prefix("Uid:")
                    .and_then(|ids| ids.split_whitespace().next())
                    .map(str::to_owned)
            })
        });
    let Some(uid) = uid else {
        return "unknown".into();
    };
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|entry| {
                let mut fields = entry.split(':');
                let name = fields.next()?;
                (fields.nth(1)? == uid && !name.is_empty()).then(|| name.to_owned())
            })
        });
    name.unwrap_or_else(|| format!("uid:{uid}"))
}

fn cannot_open(db: impl DatabaseName, e: impl std::fmt::Display) -> String {
    format!("cannot open database {}: {e}", db.shown())
}

/// A database as messages name it.
trait DatabaseName {
    fn shown(&self) -> String;
}

impl DatabaseName for &Path {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl DatabaseName for &PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

impl DatabaseName for &DatabaseLocation {
    fn shown(&self) -> String {
        self.to_string()
    }
}

fn split_user(user: &str) -> Result<(&str, &str), DomainError> {
    split_in_org(user, "USER@ORG")
}

fn split_group(group: &str) -> Result<(&str, &str), DomainError> {
    split_in_org(group, "GROUP@ORG")
}

/// A group member's name: `USER@ORG` with the group's org, or the bare
/// user name, taken within it.
fn member_of<'a>(user: &'a str, group_org: &str) -> Result<&'a str, DomainError> {
    match user.rsplit_once('@') {
        None => Ok(user),
        Some((name, org)) if !name.is_empty() && org.eq_ignore_ascii_case(group_org) => Ok(name),
        Some(_) => Err(DomainError::Invalid(format!(
            "{user} is not of the group's org {group_org}: a group holds users of its own org"
        ))),
    }
}

/// `NAME@ORG`, split at the last '@'.
fn split_in_org<'a>(text: &'a str, form: &str) -> Result<(&'a str, &'a str), DomainError> {
    text.rsplit_once('@')
        .filter(|(name, org)| !name.is_empty() && !org.is_empty())
        .ok_or_else(|| DomainError::Invalid(format!("expected {form}, got {text:?}")))
}
