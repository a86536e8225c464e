//! `tokend org` (add, list, show) and `tokend user` (add, list, show, set,
//! password, unlock, disable, enable), and how a new password is read:
//! typed twice without echo on a terminal, else the first line of
//! standard input.

use std::io::{BufRead, IsTerminal};

use clap::{ArgGroup, Subcommand};
use zeroize::Zeroizing;

use super::output::{every_page, or_dash, Output, Table};
use super::split_user;
use crate::domain::{
    check_password_rules, format_time, Actor, Authority, DomainError, NewAccount, Org,
    PasswordTarget, UserDetails, UserSummary,
};
use crate::shapes::{org_json, user_json};

#[derive(Subcommand)]
pub(super) enum OrgCommand {
    /// Add a tenant organization; prints its id.
    Add {
        /// 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'.
        name: String,
    },
    /// List the organizations: ID, NAME, KIND.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one organization.
    Show {
        /// The org's name.
        org: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
pub(super) enum UserCommand {
    /// Add a user; prints its id. The password is typed twice, unechoed, on
    /// a terminal; otherwise it is the first line of standard input.
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
    /// List users (not service accounts): ID, USER, NAME, EMAIL, STATUS, CREATED.
    List {
        /// Only the users of this org.
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Show one user.
    Show {
        /// The user as USER@ORG.
        user: String,
        #[command(flatten)]
        output: Output,
    },
    /// Change a user's e-mail address or full name (an empty value removes
    /// it); ID tokens and /userinfo carry them from the next request on.
    #[command(group(ArgGroup::new("change").required(true).multiple(true).args(["email", "name"])))]
    Set {
        /// The user as USER@ORG.
        user: String,
        /// The e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// The full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Set a user's password (typed twice, unechoed, on a terminal;
    /// otherwise the first line of standard input) and end its sessions:
    /// the way back in for an administrator who lost theirs.
    Password {
        /// The user as USER@ORG, e.g. administrator@System.
        user: String,
    },
    /// Remove a user's second factor and recovery codes (a lost
    /// authenticator); the user enrols again at the next login if the
    /// org's policy requires it.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// The user as USER@ORG.
        user: String,
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

pub(super) fn org(authority: &mut Authority, command: OrgCommand) -> Result<(), DomainError> {
    match command {
        OrgCommand::Add { name } => {
            let org = authority.add_org(Actor::Operator, &name)?;
            println!("{}", org.id);
            eprintln!("added org {}", org.name);
        }
        OrgCommand::List { output } => {
            let orgs = every_page(|page| {
                let listed = authority.visible_orgs(Actor::Operator, None, page)?;
                Ok((listed.orgs, listed.total))
            })?;
            output.list(&orgs, org_json, || {
                let mut table = Table::new(&["ID", "NAME", "KIND"]);
                for org in &orgs {
                    table.row(vec![org.id.clone(), org.name.clone(), kind(org).into()]);
                }
                table
            });
        }
        OrgCommand::Show { org, output } => {
            let org = authority.org(&org)?;
            output.show(
                org_json(&org),
                &[
                    ("id", org.id.clone()),
                    ("name", org.name.clone()),
                    ("kind", kind(&org).into()),
                    ("created", format_time(org.created_at)),
                ],
            );
        }
    }
    Ok(())
}

fn kind(org: &Org) -> &'static str {
    if org.is_provider {
        "provider"
    } else {
        "tenant"
    }
}

pub(super) fn user(authority: &mut Authority, command: UserCommand) -> Result<(), DomainError> {
    match command {
        UserCommand::Add {
            user,
            roles,
            email,
            name,
        } => {
            let (user_name, org_name) = split_user(&user)?;
            let password = read_new_password(&user)?;
            let added = authority.add_user(
                Actor::Operator,
                NewAccount {
                    org_name,
                    user_name,
                    password: &password,
                    role_names: &roles,
                    email: email.as_deref(),
                    display_name: name.as_deref(),
                },
            )?;
            println!("{}", added.id);
            eprintln!("added user {}@{}", added.name, added.org_name);
        }
        UserCommand::List { org, output } => {
            let users = every_page(|page| {
                let listed = authority.users(Actor::Operator, None, org.as_deref(), page)?;
                Ok((listed.users, listed.total))
            })?;
            output.list(&users, user_json, || {
                let mut table =
                    Table::new(&["ID", "USER", "NAME", "EMAIL", "STATUS", "2FA", "CREATED"]);
                for user in &users {
                    table.row(vec![
                        user.id.clone(),
                        format!("{}@{}", user.name, user.org_name),
                        or_dash(user.display_name.as_deref()),
                        or_dash(user.email.as_deref()),
                        status(user).into(),
                        second_factor(user).into(),
                        format_time(user.created_at),
                    ]);
                }
                table
            });
        }
        UserCommand::Show { user, output } => {
            let (user_name, org_name) = split_user(&user)?;
            let user = authority.user_by_name(org_name, user_name)?;
            output.show(user_json(&user), &fields(&user));
        }
        UserCommand::Set { user, email, name } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            let changed = authority.set_user_details(
                Actor::Operator,
                &target,
                UserDetails {
                    email: given(&email),
                    display_name: given(&name),
                },
            )?;
            let said = |what: &str, before: &Option<String>, after: &Option<String>| match (
                before == after,
                after,
            ) {
                (true, _) => format!("{what} unchanged"),
                (false, Some(value)) => format!("{what} set to {value:?}"),
                (false, None) => format!("{what} removed"),
            };
            let mut report = Vec::new();
            if email.is_some() {
                report.push(said("e-mail", &target.email, &changed.email));
            }
            if name.is_some() {
                report.push(said("name", &target.display_name, &changed.display_name));
            }
            eprintln!("user {user}: {}", report.join(", "));
        }
        UserCommand::Password { user } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            let password = read_new_password(&user)?;
            authority.set_password(Actor::Operator, PasswordTarget::User(&target.id), &password)?;
            eprintln!("set the password of {user}; its sessions have ended");
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
        UserCommand::Reset2fa { user } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            authority.reset_second_factor(Actor::Operator, &target)?;
            eprintln!("reset the second factor of {user}");
        }
        UserCommand::Unlock { user } => {
            let (user_name, org_name) = split_user(&user)?;
            authority.unlock_login(org_name, user_name)?;
            eprintln!("unlocked logins of {user}");
        }
    }
    Ok(())
}

/// A field `user set` was given: an empty value removes it.
fn given(value: &Option<String>) -> Option<Option<&str>> {
    value
        .as_deref()
        .map(|v| Some(v.trim()).filter(|v| !v.is_empty()))
}

fn status(user: &UserSummary) -> &'static str {
    if user.disabled {
        "disabled"
    } else {
        "enabled"
    }
}

fn fields(user: &UserSummary) -> Vec<(&'static str, String)> {
    vec![
        ("id", user.id.clone()),
        ("user", format!("{}@{}", user.name, user.org_name)),
        ("name", or_dash(user.display_name.as_deref())),
        ("email", or_dash(user.email.as_deref())),
        ("status", status(user).into()),
        ("2fa", second_factor(user).into()),
        ("created", format_time(user.created_at)),
    ]
}

/// Whether a second factor is enrolled (never anything of it).
fn second_factor(user: &UserSummary) -> &'static str {
    if user.second_factor {
        "enrolled"
    } else {
        "-"
    }
}

/// A new password for `user`: on a terminal, typed twice without echo
/// (the password rule is checked before the second prompt); otherwise the
/// first line of standard input, without its line ending.
fn read_new_password(user: &str) -> Result<Zeroizing<String>, DomainError> {
    let unreadable = |e: std::io::Error| DomainError::Invalid(format!("cannot read password: {e}"));
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password(format!("New password for {user}: ")).map_err(unreadable)?,
        );
        check_password_rules(&first)?;
        let again = Zeroizing::new(
            rpassword::prompt_password("The same password again: ").map_err(unreadable)?,
        );
        if *first != *again {
            return Err(DomainError::Invalid(
                "the two passwords differ; nothing was changed".into(),
            ));
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(unreadable)?;
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(line)
}
