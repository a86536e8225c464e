//! `tokend service-account` (list, show, role, revoke, delete) and `tokend
//! device` (grant or deny a service account's request by its user code):
//! the admin's side of service accounts, for labs without a console.

use clap::Subcommand;

use crate::domain::records::ServiceAccount;
use crate::domain::{format_time, Actor, Authority, DomainError, PageRequest, MAX_PAGE_SIZE};

#[derive(Subcommand)]
pub(super) enum ServiceAccountCommand {
    /// List service accounts: ID, NAME, ORG, STATUS, ROLES, SOFTWARE.
    List,
    /// Show one service account.
    Show {
        /// Its id (its OAuth client_id).
        id: String,
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
        ServiceAccountCommand::List => {
            println!(
                "{:<36}  {:<24}  {:<16}  {:<9}  {:<24}  SOFTWARE",
                "ID", "NAME", "ORG", "STATUS", "ROLES"
            );
            for number in 1.. {
                let page = authority.service_accounts(PageRequest::new(number, MAX_PAGE_SIZE)?)?;
                for account in &page.accounts {
                    println!(
                        "{:<36}  {:<24}  {:<16}  {:<9}  {:<24}  {}",
                        account.id,
                        account.name,
                        account.org_name,
                        account.status.as_str(),
                        roles(account),
                        account.software_id
                    );
                }
                if page.accounts.len() < MAX_PAGE_SIZE as usize {
                    break;
                }
            }
        }
        ServiceAccountCommand::Show { id } => show(&authority.service_account_by_id(&id)?),
        ServiceAccountCommand::Role { id, role } => {
            show(&authority.set_service_account_role(Actor::Operator, &id, role.as_deref())?)
        }
        ServiceAccountCommand::Revoke { id } => {
            show(&authority.revoke_service_account(Actor::Operator, &id)?)
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
    show(account);
    Ok(())
}

fn roles(account: &ServiceAccount) -> String {
    if account.roles.is_empty() {
        "-".into()
    } else {
        account.roles.join(", ")
    }
}

fn show(account: &ServiceAccount) {
    println!("id:        {}", account.id);
    println!("name:      {}@{}", account.name, account.org_name);
    println!("status:    {}", account.status.as_str());
    println!("roles:     {}", roles(account));
    println!("software:  {}", account.software_id);
    if let Some(version) = &account.software_version {
        println!("version:   {version}");
    }
    if let Some(uri) = &account.client_uri {
        println!("client:    {uri}");
    }
    println!("created:   {}", format_time(account.created_at));
}
