//! `tokend service`, `role`, `group` and `bundle`: what can be granted, and
//! to whom; each with `list` and `show`, and `role delete` as the API
//! deletes roles. Names are resolved by the domain's look-ups; every
//! action is the domain method the API calls, taken as the operator.

use std::collections::HashMap;

use clap::Subcommand;

use super::output::{every_page, joined, or_dash, Output, Table};
use super::{member_of, split_group, split_user};
use crate::domain::{
    format_time, Actor, Authority, BundleSummary, DomainError, GroupSummary, NewRole,
    RoleDefinition, Service,
};
use crate::shapes::{bundle_json, group_json, introspection_client_json, role_json, service_json};

#[derive(Subcommand)]
pub(super) enum ServiceCommand {
    /// Register a service and the permissions it defines; prints its id.
    Add {
        /// 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// List the services: ID, NAME, IDENTIFIER, PERMISSIONS.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one service.
    Show {
        /// The service's name.
        name: String,
        #[command(flatten)]
        output: Output,
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
        #[command(flatten)]
        output: Output,
    },
    /// Revoke introspection credentials.
    RevokeClient {
        /// The client id.
        client_id: String,
    },
}

#[derive(Subcommand)]
pub(super) enum RoleCommand {
    /// Define a role: a bundle of permissions, global or local to one org;
    /// prints its id.
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
    /// List every role, global and of each org: ID, NAME, ORG, SERVICE,
    /// PERMISSIONS.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one role.
    Show {
        /// The role's name.
        role: String,
        /// The org whose own role it is; without it, a global role.
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Replace a role's permissions (not a built-in role's).
    Set {
        /// The role's name.
        role: String,
        /// The org whose own role it is; without it, a global role.
        #[arg(long)]
        org: Option<String>,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Delete a role that no user or group holds (not a built-in role).
    Delete {
        /// The role's name.
        role: String,
        /// The org whose own role it is; without it, a global role.
        #[arg(long)]
        org: Option<String>,
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
pub(super) enum GroupCommand {
    /// Add a group to an org; prints its id.
    Add {
        /// The group as GROUP@ORG.
        group: String,
    },
    /// List the groups of every org: ID, GROUP, MEMBERS, ROLES.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one group, with its members and roles.
    Show {
        /// The group as GROUP@ORG.
        group: String,
        #[command(flatten)]
        output: Output,
    },
    /// Put a user of the group's org into the group.
    Join {
        /// The group as GROUP@ORG.
        group: String,
        /// The user as USER@ORG, or its name alone within the group's org.
        user: String,
    },
    /// Take a user out of a group.
    Leave {
        /// The group as GROUP@ORG.
        group: String,
        /// The user as USER@ORG, or its name alone within the group's org.
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
pub(super) enum BundleCommand {
    /// Define a rights bundle; prints its id.
    Add {
        /// A unique name.
        name: String,
        /// A permission, written SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// List the rights bundles: ID, NAME, PERMISSIONS, ORGS.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one rights bundle.
    Show {
        /// The bundle's name.
        name: String,
        #[command(flatten)]
        output: Output,
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

pub(super) fn service(
    authority: &mut Authority,
    command: ServiceCommand,
) -> Result<(), DomainError> {
    match command {
        ServiceCommand::Add { name, permissions } => {
            let service = authority.add_service(Actor::Operator, &name, &permissions)?;
            println!("{}", service.id);
            eprintln!(
                "added service {} with {} permissions",
                service.name,
                service.permissions.len()
            );
        }
        ServiceCommand::List { output } => {
            let services = every_page(|page| {
                let listed = authority.services_in_reach(Actor::Operator, None, page)?;
                Ok((listed.services, listed.total))
            })?;
            output.list(&services, service_json, || {
                let mut table = Table::new(&["ID", "NAME", "IDENTIFIER", "PERMISSIONS"]);
                for service in &services {
                    table.row(vec![
                        service.id.clone(),
                        service.name.clone(),
                        or_dash(service.identifier.as_deref()),
                        joined(&service.permissions),
                    ]);
                }
                table
            });
        }
        ServiceCommand::Show { name, output } => {
            let service = authority.service_by_name(&name)?;
            output.show(service_json(&service), &service_fields(&service));
        }
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
        ServiceCommand::Clients { name, output } => {
            let service = authority.service_by_name(&name)?;
            let clients = authority.introspection_clients(Actor::Operator, &service)?;
            output.list(&clients, introspection_client_json, || {
                let mut table = Table::new(&["CLIENT_ID", "CREATED"]);
                for client in &clients {
                    table.row(vec![client.id.clone(), format_time(client.created_at)]);
                }
                table
            });
        }
        ServiceCommand::RevokeClient { client_id } => {
            authority.revoke_introspection_client(Actor::Operator, &client_id, None)?;
            eprintln!("revoked introspection client {client_id}");
        }
    }
    Ok(())
}

fn service_fields(service: &Service) -> Vec<(&'static str, String)> {
    vec![
        ("id", service.id.clone()),
        ("name", service.name.clone()),
        ("identifier", or_dash(service.identifier.as_deref())),
        ("permissions", joined(&service.permissions)),
        ("created", format_time(service.created_at)),
    ]
}

pub(super) fn role(authority: &mut Authority, command: RoleCommand) -> Result<(), DomainError> {
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
            let scope = org.map_or("global role".into(), |org| format!("role of {org}"));
            eprintln!(
                "added {scope} {:?} with {} permissions",
                role.name,
                role.permissions.len()
            );
        }
        RoleCommand::List { output } => {
            let roles = every_page(|page| {
                let listed = authority.roles_in_reach(Actor::Operator, None, page)?;
                Ok((listed.roles, listed.total))
            })?;
            // The ORG column names each role's org.
            let orgs = if output.json() {
                HashMap::new()
            } else {
                org_names(authority)?
            };
            output.list(&roles, role_json, || {
                let mut table = Table::new(&["ID", "NAME", "ORG", "SERVICE", "PERMISSIONS"]);
                for role in &roles {
                    table.row(vec![
                        role.id.clone(),
                        role.name.clone(),
                        role_org(role, &orgs),
                        or_dash(role.service.as_deref()),
                        joined(&role.permissions),
                    ]);
                }
                table
            });
        }
        RoleCommand::Show { role, org, output } => {
            let role = authority.role_by_name(org.as_deref(), &role)?;
            let orgs = org_names(authority)?;
            output.show(
                role_json(&role),
                &[
                    ("id", role.id.clone()),
                    ("name", role.name.clone()),
                    ("org", role_org(&role, &orgs)),
                    ("service", or_dash(role.service.as_deref())),
                    ("permissions", joined(&role.permissions)),
                    (
                        "in every org",
                        if role.published_to_all { "yes" } else { "no" }.into(),
                    ),
                    ("created", format_time(role.created_at)),
                ],
            );
        }
        RoleCommand::Set {
            role,
            org,
            permissions,
        } => {
            let target = authority.role_by_name(org.as_deref(), &role)?;
            let changed = authority.set_role_permissions(Actor::Operator, &target, &permissions)?;
            eprintln!(
                "role {:?} now holds {} permissions",
                changed.name,
                changed.permissions.len()
            );
        }
        RoleCommand::Delete { role, org } => {
            let target = authority.role_by_name(org.as_deref(), &role)?;
            authority.delete_role(Actor::Operator, &target)?;
            eprintln!("deleted role {:?} ({})", target.name, target.id);
        }
        RoleCommand::Grant { user, role } => {
            let (user_name, org_name) = split_user(&user)?;
            let target = authority.user_by_name(org_name, user_name)?;
            if authority.set_user_role(Actor::Operator, &target, &role, true)? {
                eprintln!("granted {role:?} to {user}");
            } else {
                eprintln!("{user} already holds {role:?}");
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
            eprintln!("took {role:?} from {user}");
        }
        RoleCommand::Publish { role, org } => {
            let global = authority.global_role(&role)?;
            if authority.set_role_published(Actor::Operator, &global, &org, true)? {
                eprintln!("published {role:?} to {org}");
            } else {
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
            eprintln!("withdrew {role:?} from {org}");
        }
    }
    Ok(())
}

/// Every org's name by its id.
fn org_names(authority: &Authority) -> Result<HashMap<String, String>, DomainError> {
    let orgs = every_page(|page| {
        let listed = authority.visible_orgs(Actor::Operator, None, page)?;
        Ok((listed.orgs, listed.total))
    })?;
    Ok(orgs.into_iter().map(|org| (org.id, org.name)).collect())
}

/// Whose role it is, for people: `global`, or its org's name.
fn role_org(role: &RoleDefinition, orgs: &HashMap<String, String>) -> String {
    match &role.org_id {
        None => "global".into(),
        Some(id) => orgs.get(id).cloned().unwrap_or_else(|| id.clone()),
    }
}

pub(super) fn group(authority: &mut Authority, command: GroupCommand) -> Result<(), DomainError> {
    match command {
        GroupCommand::Add { group } => {
            let (name, org) = split_group(&group)?;
            println!("{}", authority.add_group(Actor::Operator, org, name)?.id);
            eprintln!("added group {group}");
        }
        GroupCommand::List { output } => {
            let groups = every_page(|page| {
                let listed = authority.groups_in_reach(Actor::Operator, None, page)?;
                Ok((listed.groups, listed.total))
            })?;
            output.list(&groups, group_json, || {
                let mut table = Table::new(&["ID", "GROUP", "MEMBERS", "ROLES"]);
                for group in &groups {
                    table.row(vec![
                        group.id.clone(),
                        format!("{}@{}", group.name, group.org_name),
                        group.members.len().to_string(),
                        joined(&group.roles),
                    ]);
                }
                table
            });
        }
        GroupCommand::Show { group, output } => {
            let (name, org) = split_group(&group)?;
            let group = authority.group_by_name(org, name)?;
            let fields = if output.json() {
                Vec::new()
            } else {
                group_fields(authority, &group)?
            };
            output.show(group_json(&group), &fields);
        }
        GroupCommand::Join { group, user } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            let member = authority.user_by_name(org, member_of(&user, org)?)?;
            if authority.set_group_member(Actor::Operator, &target, &member, true)? {
                eprintln!("{}@{} joined {group}", member.name, member.org_name);
            } else {
                eprintln!("{}@{} is already in {group}", member.name, member.org_name);
            }
        }
        GroupCommand::Leave { group, user } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            let member = authority.user_by_name(org, member_of(&user, org)?)?;
            if !authority.set_group_member(Actor::Operator, &target, &member, false)? {
                return Err(DomainError::NotFound(format!(
                    "{}@{} is not in {group}",
                    member.name, member.org_name
                )));
            }
            eprintln!("{}@{} left {group}", member.name, member.org_name);
        }
        GroupCommand::Grant { group, role } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            if authority.set_group_role(Actor::Operator, &target, &role, true)? {
                eprintln!("granted {role:?} to {group}");
            } else {
                eprintln!("{group} already holds {role:?}");
            }
        }
        GroupCommand::Revoke { group, role } => {
            let (name, org) = split_group(&group)?;
            let target = authority.group_by_name(org, name)?;
            if !authority.set_group_role(Actor::Operator, &target, &role, false)? {
                return Err(DomainError::NotFound(format!(
                    "{group} does not hold {role:?}"
                )));
            }
            eprintln!("took {role:?} from {group}");
        }
    }
    Ok(())
}

/// A group for people: its members by name.
fn group_fields(
    authority: &Authority,
    group: &GroupSummary,
) -> Result<Vec<(&'static str, String)>, DomainError> {
    let mut members = Vec::with_capacity(group.members.len());
    for id in &group.members {
        let user = authority.user_by_id(Actor::Operator, id)?;
        members.push(format!("{}@{}", user.name, user.org_name));
    }
    Ok(vec![
        ("id", group.id.clone()),
        ("group", format!("{}@{}", group.name, group.org_name)),
        ("members", joined(&members)),
        ("roles", joined(&group.roles)),
    ])
}

pub(super) fn bundle(authority: &mut Authority, command: BundleCommand) -> Result<(), DomainError> {
    match command {
        BundleCommand::Add { name, permissions } => {
            let bundle = authority.add_rights_bundle(Actor::Operator, &name, &permissions)?;
            println!("{}", bundle.id);
            eprintln!("added rights bundle {name:?}");
        }
        BundleCommand::List { output } => {
            let bundles = every_page(|page| {
                let listed = authority.bundles_in_reach(Actor::Operator, None, page)?;
                Ok((listed.bundles, listed.total))
            })?;
            output.list(&bundles, bundle_json, || {
                let mut table = Table::new(&["ID", "NAME", "PERMISSIONS", "ORGS"]);
                for bundle in &bundles {
                    table.row(vec![
                        bundle.id.clone(),
                        bundle.name.clone(),
                        joined(&bundle.permissions),
                        bundle_orgs(bundle),
                    ]);
                }
                table
            });
        }
        BundleCommand::Show { name, output } => {
            let bundle = authority.bundle_by_name(&name)?;
            output.show(
                bundle_json(&bundle),
                &[
                    ("id", bundle.id.clone()),
                    ("name", bundle.name.clone()),
                    ("permissions", joined(&bundle.permissions)),
                    ("orgs", bundle_orgs(&bundle)),
                ],
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
            if authority.set_bundle_published(Actor::Operator, &target, &org, true)? {
                eprintln!("published {bundle:?} to {org}");
            } else {
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
            eprintln!("withdrew {bundle:?} from {org}");
        }
    }
    Ok(())
}

/// The orgs a bundle is published to, for people.
fn bundle_orgs(bundle: &BundleSummary) -> String {
    let mut orgs = bundle.orgs.clone();
    if bundle.publish_to_new_orgs {
        orgs.push("(every new org)".into());
    }
    joined(&orgs)
}
