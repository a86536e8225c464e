//! `tokend token`: create (the secret printed once), list (a table, or
//! JSON), revoke and rotate API tokens on the database file, and the scope flags
//! that narrow a token.

use clap::Subcommand;

use super::output::{Output, Table};
use super::split_user;
use crate::domain::{
    format_time, Actor, Authority, DomainError, NewApiToken, ReminderRequest, ServiceRoleScope,
    TokenQuery, TokenScope,
};
use crate::shapes::token_json;

#[derive(Subcommand)]
pub(super) enum TokenCommand {
    /// Create an API token; prints the secret once, on standard output.
    Create {
        /// The owner as USER@ORG.
        user: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Lifetime: a duration such as 30m, 90d, 6months, or "never".
        #[arg(long)]
        ttl: Option<String>,
        /// Scope the token to this org role (repeatable) [default: all the user's roles].
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Scope the token to this service role, SERVICE/ROLE (repeatable).
        #[arg(long = "service-role")]
        service_roles: Vec<String>,
        /// Narrow the service roles of its service to this SERVICE:PERMISSION (repeatable).
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Every exchange of the token also returns an OpenID Connect ID token.
        #[arg(long)]
        openid: bool,
        /// Mail a reminder this long before the token expires, e.g. 7d.
        #[arg(long, value_name = "SPAN")]
        remind_before: Option<String>,
        /// Where the reminder goes [default: the owner's e-mail address].
        #[arg(long, value_name = "EMAIL", requires = "remind_before")]
        remind_email: Option<String>,
        /// Bind the token to this network: a CIDR such as 192.0.2.0/24 or
        /// 2001:db8::/32, or an address (repeatable, or comma-separated);
        /// an exchange from elsewhere is refused [default: any network].
        #[arg(long = "bound-cidr", value_name = "CIDR", value_delimiter = ',')]
        bound_cidrs: Vec<String>,
    },
    /// List API tokens (names and metadata, never secrets): ID, OWNER,
    /// NAME, CREATED, EXPIRES, LAST USED, LAST CLIENT, STATUS, NETWORKS
    /// (the networks it may be exchanged from, or "any").
    List {
        /// Only tokens of users in this org.
        #[arg(long)]
        org: Option<String>,
        /// Only the tokens of this user, as USER@ORG (or USER with --org).
        #[arg(long)]
        user: Option<String>,
        /// Include revoked tokens.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Revoke an API token by id.
    Revoke {
        /// The token's id (a UUID).
        id: String,
    },
    /// Replace an API token by a new one with the same name, scope and
    /// lifetime; prints the new secret once, on standard output.
    Rotate {
        /// The token's id (a UUID).
        id: String,
        /// How long the old secret keeps working, e.g. 1h (at most the
        /// policy's max_rotation_grace) [default: 0, revoked at once].
        #[arg(long, value_name = "SPAN")]
        grace: Option<String>,
    },
}

pub(super) fn token(authority: &mut Authority, command: TokenCommand) -> Result<(), DomainError> {
    match command {
        TokenCommand::Create {
            user,
            name,
            ttl,
            roles,
            service_roles,
            permissions,
            openid,
            remind_before,
            remind_email,
            bound_cidrs,
        } => {
            let (user_name, org_name) = split_user(&user)?;
            let scope = token_scope(roles, &service_roles, &permissions)?;
            let reminder = remind_before.as_deref().map(|before| ReminderRequest {
                before,
                email: remind_email.as_deref(),
            });
            let owner = authority.user_by_name(org_name, user_name)?;
            let created = authority.create_api_token(
                Actor::Operator,
                &owner.id,
                NewApiToken {
                    name: &name,
                    ttl: ttl.as_deref(),
                    scope,
                    openid,
                    request_id: None,
                    bound_cidrs: &bound_cidrs,
                },
                reminder,
            )?;
            println!("{}", created.secret.reveal());
            eprintln!(
                "created API token {} ({:?}) for {user}, expires {}",
                created.id,
                created.name,
                created.expires_at.map_or("never".into(), format_time)
            );
            eprintln!(
                "networks it may be exchanged from: {}",
                networks_text(&created.bound_cidrs)
            );
            eprintln!("the secret above is shown only once: store it safely");
        }
        TokenCommand::List {
            org,
            user,
            all,
            output,
        } => {
            let (org_name, user_name) = owner_filter(org, user)?;
            let query = TokenQuery {
                org_name,
                user_name,
                include_revoked: all,
            };
            let tokens = authority.api_tokens(&query)?;
            let now = authority.now();
            output.list(&tokens, token_json, || {
                let mut table = Table::new(&[
                    "ID",
                    "OWNER",
                    "NAME",
                    "CREATED",
                    "EXPIRES",
                    "LAST USED",
                    "LAST CLIENT",
                    "STATUS",
                    "NETWORKS",
                ]);
                for t in &tokens {
                    table.row(vec![
                        t.id.clone(),
                        format!("{}@{}", t.owner_name, t.org_name),
                        t.name.clone(),
                        format_time(t.created_at),
                        t.expires_at.map_or("never".into(), format_time),
                        t.last_used_at.map_or_else(String::new, format_time),
                        t.last_used_ip.clone().unwrap_or_default(),
                        t.status(now).into(),
                        networks_text(&t.bound_cidrs),
                    ]);
                }
                table
            });
        }
        TokenCommand::Revoke { id } => {
            authority.revoke_api_token(Actor::Operator, &id)?;
            eprintln!("revoked API token {id}");
        }
        TokenCommand::Rotate { id, grace } => {
            let rotated =
                authority.rotate_api_token(Actor::Operator, &id, grace.as_deref(), None)?;
            let created = &rotated.created;
            println!("{}", created.secret.reveal());
            eprintln!(
                "rotated API token {id} into {} ({:?}), expires {}; the old secret is refused from {}",
                created.id,
                created.name,
                created.expires_at.map_or("never".into(), format_time),
                format_time(rotated.old_refused_from)
            );
            eprintln!("the secret above is shown only once: store it safely");
        }
    }
    Ok(())
}

/// The networks a token may be exchanged from, as one cell: its CIDRs,
/// or `any` for a token bound to none.
fn networks_text(cidrs: &[String]) -> String {
    if cidrs.is_empty() {
        "any".into()
    } else {
        cidrs.join(",")
    }
}

/// `--org` and `--user` as the domain takes them: a user named USER@ORG,
/// or USER within `--org`.
fn owner_filter(
    org: Option<String>,
    user: Option<String>,
) -> Result<(Option<String>, Option<String>), DomainError> {
    let Some(user) = user else {
        return Ok((org, None));
    };
    if !user.contains('@') {
        return Ok((org, Some(user)));
    }
    let (user_name, org_name) = split_user(&user)?;
    if org
        .as_deref()
        .is_some_and(|org| !org.eq_ignore_ascii_case(org_name))
    {
        return Err(DomainError::Invalid(format!(
            "--user {user} is not of --org {}",
            org.unwrap_or_default()
        )));
    }
    Ok((Some(org_name.to_owned()), Some(user_name.to_owned())))
}

/// The scope `token create` asks for: all roles unless roles are named.
fn token_scope(
    org_roles: Vec<String>,
    service_roles: &[String],
    permissions: &[String],
) -> Result<TokenScope, DomainError> {
    if org_roles.is_empty() && service_roles.is_empty() {
        if !permissions.is_empty() {
            return Err(DomainError::Invalid(
                "--permission narrows a --service-role; name one".into(),
            ));
        }
        return Ok(TokenScope::AllRoles);
    }
    let mut scoped = Vec::with_capacity(service_roles.len());
    for service_role in service_roles {
        let (service, role) = service_role.split_once('/').ok_or_else(|| {
            DomainError::Invalid(format!(
                "--service-role {service_role:?} must be SERVICE/ROLE"
            ))
        })?;
        let narrowed: Vec<String> = permissions
            .iter()
            .filter(|p| {
                p.split_once(':')
                    .is_some_and(|(s, _)| s.eq_ignore_ascii_case(service))
            })
            .cloned()
            .collect();
        scoped.push(ServiceRoleScope {
            service: service.to_string(),
            role: role.to_string(),
            permissions: (!narrowed.is_empty()).then_some(narrowed),
        });
    }
    for permission in permissions {
        let covered = scoped
            .iter()
            .any(|s| s.permissions.iter().flatten().any(|p| p == permission));
        if !covered {
            return Err(DomainError::Invalid(format!(
                "--permission {permission:?} belongs to no --service-role"
            )));
        }
    }
    Ok(TokenScope::Roles {
        org_roles,
        service_roles: scoped,
    })
}
