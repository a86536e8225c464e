//! `tokend service-account` (list, show, role, revoke, delete) and `tokend
//! device` (grant or deny a service account's request by its user code):
//! the admin's side of service accounts, for labs without a console.

use clap::Subcommand;

use super::output::{every_page, print_fields, Output, Table};
use crate::domain::records::ServiceAccount;
use crate::domain::{format_time, Actor, Authority, DomainError};
use crate::shapes::service_account_json;

#[derive(Subcommand)]
pub(super) enum ServiceAccountCommand {
    /// List service accounts: ID, NAME, ORG, STATUS, ROLES, SOFTWARE.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one service account.
    Show {
        /// Its id (its OAuth client_id).
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the role it holds (none without ROLE).
    Role {
        /// Its id.
        id: String,
        /// The role's name.
        role: Option<String>,
    },
    /// Revoke its access: every API token it holds; it must be granted again.
    Revoke {
        /// Its id.
        id: String,
    },
    /// Delete it (its tokens are revoked).
    Delete {
        /// Its id.
        id: String,
    },
}

#[derive(Subcommand)]
pub(super) enum DeviceCommand {
    /// Grant the pending request of a user code (as the client shows it).
    Grant {
        /// The user code, e.g. BCDF-GHJK.
        user_code: String,
    },
    /// Deny the pending request of a user code.
    Deny {
        /// The user code.
        user_code: String,
    },
}

pub(super) fn service_account(
    authority: &mut Authority,
    command: ServiceAccountCommand,
) -> Result<(), DomainError> {
    match command {
        ServiceAccountCommand::List { output } => {
            let accounts = every_page(|page| {
                let listed = authority.service_accounts_in_reach(Actor::Operator, None, page)?;
                Ok((listed.accounts, listed.total))
            })?;
            output.list(&accounts, service_account_json, || {
                let mut table = Table::new(&["ID", "NAME", "ORG", "STATUS", "ROLES", "SOFTWARE"]);
                for account in &accounts {
                    table.row(vec![
                        account.id.clone(),
                        account.name.clone(),
                        account.org_name.clone(),
                        account.status.as_str().into(),
                        roles(account),
                        account.software_id.clone(),
                    ]);
                }
                table
            });
        }
        ServiceAccountCommand::Show { id, output } => {
            let account = authority.service_account_by_id(&id)?;
            output.show(service_account_json(&account), &fields(&account));
        }
        ServiceAccountCommand::Role { id, role } => {
            let account =
                authority.set_service_account_role(Actor::Operator, &id, role.as_deref())?;
            match &role {
                Some(role) => eprintln!("service account {id} now holds {role:?}"),
                None => eprintln!("service account {id} now holds no role"),
            }
            print_fields(&fields(&account));
        }
        ServiceAccountCommand::Revoke { id } => {
            let account = authority.revoke_service_account(Actor::Operator, &id)?;
            eprintln!("revoked the access of service account {id}: it must be granted again");
            print_fields(&fields(&account));
        }
        ServiceAccountCommand::Delete { id } => {
            authority.delete_service_account(Actor::Operator, &id)?;
            eprintln!("deleted service account {id}");
        }
    }
    Ok(())
}

pub(super) fn device(authority: &mut Authority, command: DeviceCommand) -> Result<(), DomainError> {
    let (code, grant) = match &command {
        DeviceCommand::Grant { user_code } => (user_code, true),
        DeviceCommand::Deny { user_code } => (user_code, false),
    };
    let decided = authority.decide_device(Actor::Operator, code, grant)?;
    let account = &decided.account;
    eprintln!(
        "{} the request of service account {}@{} ({})",
        if grant { "granted" } else { "denied" },
        account.name,
        account.org_name,
        account.id
    );
    print_fields(&fields(account));
    Ok(())
}

fn roles(account: &ServiceAccount) -> String {
    if account.roles.is_empty() {
        "-".into()
    } else {
        account.roles.join(", ")
    }
}

fn fields(account: &ServiceAccount) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", account.id.clone()),
        ("name", format!("{}@{}", account.name, account.org_name)),
        ("status", account.status.as_str().into()),
        ("roles", roles(account)),
        ("software", account.software_id.clone()),
    ];
    if let Some(version) = &account.software_version {
        fields.push(("version", version.clone()));
    }
    if let Some(uri) = &account.client_uri {
        fields.push(("client", uri.clone()));
    }
    fields.push(("created", format_time(account.created_at)));
    fields
}
