//! `tokend policy`: show and set the token lifetime policy, whether tokens
//! must be bound to networks, and who must log in with a second factor (the provider-wide default, or an org's),
//! and list the tokens an org's policy would not allow today.

use clap::Subcommand;

use super::output::{print_json, Output, Table};
use crate::domain::{format_time, Actor, Authority, DomainError, PolicyView, TokenPolicy};
use crate::shapes::{policy_json, token_json};

#[derive(Subcommand)]
pub(super) enum PolicyCommand {
    /// Show a policy: its own fields and what is in force.
    Show {
        /// The org; without it, the provider-wide default.
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Set a policy: the fields given; those left out are inherited.
    Set {
        /// The org; without it, the provider-wide default.
        #[arg(long)]
        org: Option<String>,
        /// The lifetime of a token that asks for none: 30days, never, ...
        #[arg(long)]
        default_ttl: Option<String>,
        /// The longest lifetime a token may have, e.g. 90days.
        #[arg(long)]
        max_ttl: Option<String>,
        /// Whether tokens that never expire may be made.
        #[arg(long)]
        allow_never: Option<bool>,
        /// Tokens unused for longer are revoked (at least 1h), or none.
        #[arg(long)]
        max_idle: Option<String>,
        /// Who must log in with a second factor: nobody, admins or everyone.
        #[arg(long, value_parser = ["nobody", "admins", "everyone"])]
        second_factor: Option<String>,
        /// The longest grace a rotation may give the old secret (at most
        /// 30days), or 0.
        #[arg(long)]
        max_rotation_grace: Option<String>,
        /// Whether every new token must be bound to networks (--bound-cidr).
        #[arg(long)]
        require_bound_cidrs: Option<bool>,
        #[command(flatten)]
        output: Output,
    },
    /// List an org's live tokens that its policy would not allow today.
    Exceeding {
        /// The org.
        org: String,
        #[command(flatten)]
        output: Output,
    },
}

pub(super) fn policy(authority: &mut Authority, command: PolicyCommand) -> Result<(), DomainError> {
    match command {
        PolicyCommand::Show { org, output } => {
            show(&authority.token_policy_of(org.as_deref())?, output)
        }
        PolicyCommand::Set {
            org,
            default_ttl,
            max_ttl,
            allow_never,
            max_idle,
            second_factor,
            max_rotation_grace,
            require_bound_cidrs,
            output,
        } => {
            let policy = TokenPolicy {
                default_ttl,
                max_ttl,
                allow_never,
                max_idle,
                second_factor,
                max_rotation_grace,
                require_bound_cidrs,
            };
            let view = authority.set_token_policy(Actor::Operator, org.as_deref(), policy)?;
            eprintln!("set the policy of {}", scope(&view));
            show(&view, output);
        }
        PolicyCommand::Exceeding { org, output } => {
            let tokens = authority.tokens_beyond_policy(Actor::Operator, &org)?;
            output.list(&tokens, token_json, || {
                let mut table = Table::new(&["ID", "OWNER", "NAME", "EXPIRES", "NETWORKS"]);
                for t in &tokens {
                    table.row(vec![
                        t.id.clone(),
                        format!("{}@{}", t.owner_name, t.org_name),
                        t.name.clone(),
                        t.expires_at.map_or("never".into(), format_time),
                        if t.bound_cidrs.is_empty() {
                            "any".into()
                        } else {
                            t.bound_cidrs.join(",")
                        },
                    ]);
                }
                table
            });
        }
    }
    Ok(())
}

/// Whose policy it is, for people.
fn scope(view: &PolicyView) -> String {
    view.org
        .as_ref()
        .map_or("the provider-wide default".to_string(), |org| {
            format!("org {}", org.name)
        })
}

fn show(view: &PolicyView, output: Output) {
    if output.json() {
        print_json(&policy_json(view));
        return;
    }
    let scope = scope(view);
    let own = |value: Option<String>| value.unwrap_or_else(|| "(inherited)".into());
    let effective = &view.effective;
    println!("policy of {scope}");
    println!(
        "default_ttl  {:<14}  in force: {}",
        own(view.own.default_ttl.clone()),
        effective.default_ttl
    );
    println!(
        "max_ttl      {:<14}  in force: {}",
        own(view.own.max_ttl.clone()),
        effective.max_ttl
    );
    println!(
        "allow_never  {:<14}  in force: {}",
        own(view.own.allow_never.map(|b| b.to_string())),
        effective.allow_never
    );
    println!(
        "max_idle     {:<14}  in force: {}",
        own(view.own.max_idle.clone()),
        effective.max_idle.as_deref().unwrap_or("none")
    );
    println!(
        "second_factor {:<13}  in force: {}",
        own(view.own.second_factor.clone()),
        effective.second_factor.name()
    );
    println!(
        "max_rotation_grace {:<8}  in force: {}",
        own(view.own.max_rotation_grace.clone()),
        effective.max_rotation_grace
    );
    println!(
        "require_bound_cidrs {:<7}  in force: {}",
        own(view.own.require_bound_cidrs.map(|b| b.to_string())),
        effective.require_bound_cidrs
    );
}
