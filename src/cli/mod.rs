//! The command line: `tokend serve` and the admin subcommands that work on the
//! same database file, also while the server runs.
//!
//! This module parses arguments, reads the environment, and prints; every
//! decision is the domain's.

mod audit;
mod backup;
mod policy;
mod remind;
mod serve;
mod service_accounts;
mod tokens;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::domain::{
    format_time, Actor, Ambient, Authority, DomainError, KeyRotation, NewAccount, NewRole,
    Settings, DEFAULT_JWKS_MAX_AGE, DEFAULT_KEY_PUBLISH_DELAY,
};
use crate::store::sqlite::LockMode;
use crate::store::SqliteDatabase;
use audit::{AuditCommand, AuditPrune};
use backup::{BackupArgs, CheckArgs, RestoreArgs};
use policy::PolicyCommand;
use remind::RemindArgs;
use serve::ServeArgs;
use service_accounts::{DeviceCommand, ServiceAccountCommand};
use tokens::TokenCommand;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Parser)]
#[command(name = "tokend", version, about = "On-prem API token authority")]
struct Cli {
    /// The SQLite database file. `tokend serve` creates it on first start;
    /// every other command needs it to exist and refuses any other path.
    #[arg(long, global = true, env = "TOKEND_DB", default_value = "./tokend.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(Box<ServeArgs>),
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
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Define a rights bundle.
    Add {
        /// A unique name.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Replace a bundle's permissions.
    Set {
        /// The bundle's name.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Publish a bundle to a tenant org: its users may use its permissions.
    Publish {
        /// The bundle's name.
        bundle: String,
        /// The org.
        org: String,
    },
    /// Withdraw a bundle from an org: its permissions stop counting there at once.
    Withdraw {
        /// The bundle's name.
        bundle: String,
        /// The org.
        org: String,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Add a group to an org.
    Add {
        /// The group as GROUP@ORG.
        group: String,
    },
    /// Put a user of the group's org into the group.
    Join {
        /// The group as GROUP@ORG.
        group: String,
        /// The user's name in that org.
        user: String,
    },
    /// Take a user out of a group.
    Leave {
        /// The group as GROUP@ORG.
        group: String,
        /// The user's name in that org.
        user: String,
    },
    /// Grant a role to a group's members.
    Grant {
        /// The group as GROUP@ORG.
        group: String,
        /// The role's name.
        role: String,
    },
    /// Take a role from a group.
    Revoke {
        /// The group as GROUP@ORG.
        group: String,
        /// The role's name.
        role: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add a tenant organization.
    Add {
        /// 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'.
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// The user as USER@ORG.
        user: String,
        /// A role to grant (repeatable) [default: Organization Member].
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The user's e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The user's full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Lift the login lock of a user, from every address, also in a running server.
    Unlock {
        /// The user as USER@ORG.
        user: String,
    },
    /// Turn a user off: no login, and its sessions and API tokens stop working.
    Disable {
        /// The user as USER@ORG.
        user: String,
    },
    /// Turn a disabled user back on.
    Enable {
        /// The user as USER@ORG.
        user: String,
    },
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Register a service and the permissions it defines.
    Add {
        /// 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Add permissions to a registered service.
    Extend {
        /// The service's name.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// Set the service's identifier URI, which exchanges name as `resource`
    /// (or `audience`) to get access tokens meant for it.
    SetIdentifier {
        /// The service's name.
        name: String,
        /// An absolute URI without a fragment, e.g. https://vmc.example/api.
        #[arg(required_unless_present = "clear")]
        identifier: Option<String>,
        /// Remove the identifier instead.
        #[arg(long, conflicts_with = "identifier")]
        clear: bool,
    },
    /// Make introspection credentials for the service's resource server;
    /// prints the client id, then the secret (shown only once).
    AddClient {
        /// The service's name.
        name: String,
    },
    /// List the service's introspection clients (never their secrets).
    Clients {
        /// The service's name.
        name: String,
    },
    /// Revoke introspection credentials.
    RevokeClient {
        /// The client id.
        client_id: String,
    },
}

#[derive(Subcommand)]
enum RoleCommand {
    /// Define a role: a bundle of permissions, global or local to one org.
    Add {
        /// Unique among global roles, or within its org.
        name: String,
        /// A role of this org only.
        #[arg(long, conflicts_with = "global", required_unless_present = "global")]
        org: Option<String>,
        /// A global role, defined by the provider for every org.
        #[arg(long)]
        global: bool,
        /// A service role, holding only this service's permissions.
        #[arg(long)]
        service: Option<String>,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Grant a role to a user.
    Grant {
        /// The user as USER@ORG.
        user: String,
        /// The role's name.
        role: String,
    },
    /// Take a role from a user.
    Revoke {
        /// The user as USER@ORG.
        user: String,
        /// The role's name.
        role: String,
    },
    /// Publish a global role to a tenant org: its users may then hold it.
    Publish {
        /// The global role's name.
        role: String,
        /// The org.
        org: String,
    },
    /// Withdraw a global role from an org: it stops counting there at once.
    Withdraw {
        /// The global role's name.
        role: String,
        /// The org.
        org: String,
    },
}

#[derive(Subcommand)]
enum ClockCommand {
    /// After the service found the clock jumped (its log says so) and the
    /// clock is right again, or was right all along: the passes that
    /// prune, revoke idle tokens and forget revocations act again.
    Confirm,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Add a new key pair (ES256 for access tokens, RS256 for ID tokens):
    /// published in the JWKS at once, signing after a delay longer than the
    /// JWKS max-age, so verifiers hold it before its first token. Older
    /// keys keep verifying what they signed.
    Rotate {
        /// How long the new keys are published before they sign; longer
        /// than TOKEND_JWKS_MAX_AGE.
        #[arg(long, env = "TOKEND_KEY_PUBLISH_DELAY", default_value = "10m",
              value_parser = humantime::parse_duration, conflicts_with = "now")]
        delay: Duration,
        /// For a key that leaked: the new keys sign at once and every older
        /// key stops verifying now; tokens they signed are refused.
        #[arg(long)]
        now: bool,
    },
    /// List the signing keys (ids and dates, never private keys).
    List,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::serve(&cli.db, *args),
        Command::Org(command) => administer(&cli.db, |authority| org(authority, command)),
        Command::User(command) => administer(&cli.db, |authority| user(authority, command)),
        Command::Token(command) => {
            administer(&cli.db, |authority| tokens::token(authority, command))
        }
        Command::Key(command) => administer(&cli.db, |authority| key(authority, command)),
        Command::Clock(ClockCommand::Confirm) => administer(&cli.db, |authority| {
            let now = authority.confirm_clock(Actor::Operator)?;
            eprintln!(
                "the clock ({}) is confirmed: audit retention, idle revocation and forgetting \
                 expired revocations resume within a minute",
                format_time(now)
            );
            Ok(())
        }),
        Command::Service(command) => administer(&cli.db, |authority| service(authority, command)),
        Command::Role(command) => administer(&cli.db, |authority| role(authority, command)),
        Command::Group(command) => administer(&cli.db, |authority| group(authority, command)),
        Command::Bundle(command) => administer(&cli.db, |authority| bundle(authority, command)),
        Command::Audit(AuditCommand {
            prune: Some(AuditPrune::Prune { before }),
            ..
        }) => administer(&cli.db, |authority| audit::prune(authority, &before)),
        Command::Audit(AuditCommand { read, .. }) => {
            administer(&cli.db, |authority| audit::audit(authority, read))
        }
        Command::ServiceAccount(command) => administer(&cli.db, |authority| {
            service_accounts::service_account(authority, command)
        }),
        Command::Device(command) => administer(&cli.db, |authority| {
            service_accounts::device(authority, command)
        }),
        Command::Policy(command) => {
            administer(&cli.db, |authority| policy::policy(authority, command))
        }
        Command::Remind(args) => administer(&cli.db, |authority| remind::remind(authority, args)),
        Command::Backup(args) => backup::backup(&cli.db, args),
        Command::Check(args) => backup::check(&cli.db, args),
        Command::Restore(args) => backup::restore(&cli.db, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokend: {message}");
            ExitCode::FAILURE
        }
    }
}

fn administer(
    db: &Path,
    command: impl FnOnce(&mut Authority) -> Result<(), DomainError>,
) -> Result<(), String> {
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
    let settings = admin_settings();
    let mut authority = Authority::open(Arc::new(database), settings, Ambient::system())
        .map_err(|e| cannot_open(db, e))?;
    command(&mut authority).map_err(|e| e.to_string())
}

/// The settings of an admin command: it issues no access tokens, so these
/// only have to be valid, and match the service's where they count.
fn admin_settings() -> Settings {
    let operator = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
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
    }
}

fn cannot_open(db: &Path, e: impl std::fmt::Display) -> String {
    format!("cannot open database {}: {e}", db.display())
}

fn org(authority: &mut Authority, command: OrgCommand) -> Result<(), DomainError> {
    match command {
        OrgCommand::Add { name } => {
            let org = authority.add_org(Actor::Operator, &name)?;
            println!("{}", org.id);
        }
    }
    Ok(())
}

fn user(authority: &mut Authority, command: UserCommand) -> Result<(), DomainError> {
    match command {
        UserCommand::Add {
            user,
            roles,
            email,
            name,
        } => {
            let (user_name, org_name) = split_user(&user)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| DomainError::Invalid(format!("cannot read password: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let user = authority.add_user(
                Actor::Operator,
                NewAccount {
                    org_name,
                    user_name,
                    password,
                    role_names: &roles,
                    email: email.as_deref(),
                    display_name: name.as_deref(),
                },
            )?;
            println!("{}", user.id);
        }
        UserCommand::Disable { user } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            authority.set_user_enabled(Actor::Operator, &target, false)?;
            eprintln!("disabled {user}");
        }
        UserCommand::Enable { user } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            authority.set_user_enabled(Actor::Operator, &target, true)?;
            eprintln!("enabled {user}");
        }
        UserCommand::Unlock { user } => {
            let (user_name, org_name) = split_user(&user)?;
            authority.unlock_login(org_name, user_name)?;
            eprintln!("unlocked logins of {user}");
        }
    }
    Ok(())
}

fn key(authority: &mut Authority, command: KeyCommand) -> Result<(), DomainError> {
    match command {
        KeyCommand::Rotate { delay, now } => {
            let rotation = if now {
                KeyRotation::AtOnce
            } else {
                KeyRotation::Published(delay)
            };
            for key in authority.rotate_signing_keys(rotation)? {
                println!("{}", key.kid);
                if now {
                    eprintln!("new {} key {} signs from now on", key.algorithm, key.kid);
                } else {
                    eprintln!(
                        "new {} key {} is published and signs from {}",
                        key.algorithm,
                        key.kid,
                        format_time(key.activates_at)
                    );
                }
            }
            if now {
                eprintln!("every older key stopped verifying: the tokens it signed are refused");
            }
        }
        KeyCommand::List => {
            println!(
                "{:<44}  {:<9}  {:<20}  {:<20}  {:<20}  STATE",
                "KID", "ALGORITHM", "CREATED", "SIGNS FROM", "REPLACED"
            );
            for key in authority.signing_keys()? {
                let state = match (key.signs, key.verifies) {
                    (true, _) => "signs",
                    (false, true) if key.replaced_at.is_none() => "published",
                    (false, true) => "verifies",
                    (false, false) => "retired",
                };
                println!(
                    "{:<44}  {:<9}  {:<20}  {:<20}  {:<20}  {state}",
                    key.kid,
                    key.algorithm,
                    format_time(key.created_at),
                    format_time(key.activates_at),
                    key.replaced_at.map_or_else(|| "-".into(), format_time),
                );
            }
        }
    }
    Ok(())
}

fn service(authority: &mut Authority, command: ServiceCommand) -> Result<(), DomainError> {
    match command {
        ServiceCommand::Extend { name, permissions } => {
            let service = authority.service_by_name(&name)?;
            let service = authority.extend_service(Actor::Operator, &service, &permissions)?;
            eprintln!(
                "service {} now has {} permissions",
                service.name,
                service.permissions.len()
            );
        }
        ServiceCommand::SetIdentifier {
            name,
            identifier,
            clear: _,
        } => {
            let service = authority.service_by_name(&name)?;
            let service = authority.set_service_identifier(
                Actor::Operator,
                &service,
                identifier.as_deref(),
            )?;
            match &service.identifier {
                Some(identifier) => eprintln!("service {} is {identifier}", service.name),
                None => eprintln!("service {} has no identifier", service.name),
            }
        }
        ServiceCommand::AddClient { name } => {
            let service = authority.service_by_name(&name)?;
            let created = authority.add_introspection_client(Actor::Operator, &service)?;
            println!("{}", created.client_id);
            println!("{}", created.client_secret);
            eprintln!(
                "introspection client {} for service {}; the secret above is shown only once",
                created.client_id, created.service
            );
        }
        ServiceCommand::Clients { name } => {
            println!("{:<36}  CREATED", "CLIENT_ID");
            let service = authority.service_by_name(&name)?;
            for client in authority.introspection_clients(Actor::Operator, &service)? {
                println!("{:<36}  {}", client.id, format_time(client.created_at));
            }
        }
        ServiceCommand::RevokeClient { client_id } => {
            authority.revoke_introspection_client(Actor::Operator, &client_id, None)?;
            eprintln!("revoked introspection client {client_id}");
        }
        ServiceCommand::Add { name, permissions } => {
            let service = authority.add_service(Actor::Operator, &name, &permissions)?;
            println!("{}", service.id);
            eprintln!(
                "service {} with {} permissions",
                service.name,
                service.permissions.len()
            );
        }
    }
    Ok(())
}

fn role(authority: &mut Authority, command: RoleCommand) -> Result<(), DomainError> {
    match command {
        RoleCommand::Add {
            name,
            org,
            global: _,
            service,
            permissions,
        } => {
            let role = authority.add_role(
                Actor::Operator,
                NewRole {
                    name: &name,
                    org_name: org.as_deref(),
                    service: service.as_deref(),
                    permissions: &permissions,
                },
            )?;
            println!("{}", role.id);
        }
        RoleCommand::Grant { user, role } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            if !authority.set_user_role(Actor::Operator, &target, &role, true)? {
                eprintln!("{user} already holds {role:?}");
            }
        }
        RoleCommand::Publish { role, org } => {
            let global = authority.global_role(&role)?;
            if !authority.set_role_published(Actor::Operator, &global, &org, true)? {
                eprintln!("{role:?} is already published to {org}");
            }
        }
        RoleCommand::Withdraw { role, org } => {
            let global = authority.global_role(&role)?;
            if !authority.set_role_published(Actor::Operator, &global, &org, false)? {
                return Err(DomainError::NotFound(format!(
                    "{role:?} is not published to {org}"
                )));
            }
        }
        RoleCommand::Revoke { user, role } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            if !authority.set_user_role(Actor::Operator, &target, &role, false)? {
                return Err(DomainError::NotFound(format!(
                    "{user} does not hold {role:?}"
                )));
            }
        }
    }
    Ok(())
}

fn group(authority: &mut Authority, command: GroupCommand) -> Result<(), DomainError> {
    let unchanged = |what: String| DomainError::NotFound(what);
    match command {
        GroupCommand::Add { group } => {
            let (name, org) = split_group(&group)?;
            println!("{}", authority.add_group(Actor::Operator, org, name)?.id);
        }
        GroupCommand::Join { group, user } => {
            let (name, org) = split_group(&group)?;
            let (target, member) = (
                authority.group_by_name(org, name)?,
                authority.user_by_name(org, &user)?,
            );
            if !authority.set_group_member(Actor::Operator, &target, &member, true)? {
                eprintln!("{user} is already in {group}");
            }
        }
        GroupCommand::Leave { group, user } => {
            let (name, org) = split_group(&group)?;
            let (target, member) = (
                authority.group_by_name(org, name)?,
                authority.user_by_name(org, &user)?,
            );
            if !authority.set_group_member(Actor::Operator, &target, &member, false)? {
                return Err(unchanged(format!("{user} is not in {group}")));
            }
        }
        GroupCommand::Grant { group, role } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            if !authority.set_group_role(Actor::Operator, &target, &role, true)? {
                eprintln!("{group} already holds {role:?}");
            }
        }
        GroupCommand::Revoke { group, role } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            if !authority.set_group_role(Actor::Operator, &target, &role, false)? {
                return Err(unchanged(format!("{group} does not hold {role:?}")));
            }
        }
    }
    Ok(())
}

fn bundle(authority: &mut Authority, command: BundleCommand) -> Result<(), DomainError> {
    match command {
        BundleCommand::Add { name, permissions } => {
            println!(
                "{}",
                authority
                    .add_rights_bundle(Actor::Operator, &name, &permissions)?
                    .id
            );
        }
        BundleCommand::Set { name, permissions } => {
            let bundle = authority.bundle_by_name(&name)?;
            let bundle =
                authority.set_bundle_permissions(Actor::Operator, &bundle, &permissions)?;
            eprintln!(
                "bundle {} now holds {} permissions",
                bundle.name,
                bundle.permissions.len()
            );
        }
        BundleCommand::Publish { bundle, org } => {
            let target = authority.bundle_by_name(&bundle)?;
            if !authority.set_bundle_published(Actor::Operator, &target, &org, true)? {
                eprintln!("{bundle:?} is already published to {org}");
            }
        }
        BundleCommand::Withdraw { bundle, org } => {
            let target = authority.bundle_by_name(&bundle)?;
            if !authority.set_bundle_published(Actor::Operator, &target, &org, false)? {
                return Err(DomainError::NotFound(format!(
                    "{bundle:?} is not published to {org}"
                )));
            }
        }
    }
    Ok(())
}

fn split_user(user: &str) -> Result<(&str, &str), DomainError> {
    split_in_org(user, "USER@ORG")
}

fn split_group(group: &str) -> Result<(&str, &str), DomainError> {
    split_in_org(group, "GROUP@ORG")
}

/// `NAME@ORG`, split at the last '@'.
fn split_in_org<'a>(text: &'a str, form: &str) -> Result<(&'a str, &'a str), DomainError> {
    text.rsplit_once('@')
        .filter(|(name, org)| !name.is_empty() && !org.is_empty())
        .ok_or_else(|| DomainError::Invalid(format!("expected {form}, got {text:?}")))
}
