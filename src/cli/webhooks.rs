//! `tokend webhook`: add, list, show and remove webhooks, and show a
//! webhook's recent deliveries. The secret is printed once, by `add`, on stdout.

use clap::Subcommand;

use super::output::{joined, or_dash, Output, Table};
use crate::domain::{format_time, Actor, Authority, DomainError, NewWebhook, WebhookRecord};
use crate::shapes::{webhook_delivery_json, webhook_json};

#[derive(Subcommand)]
pub(super) enum WebhookCommand {
    /// Add a webhook; prints its signing secret, this once.
    Add {
        /// The endpoint: an https:// URL.
        url: String,
        /// An event to deliver: token.revoke, token.leaked or
        /// token.expiring (repeatable, or comma-separated).
        #[arg(long = "event", required = true, value_delimiter = ',')]
        events: Vec<String>,
        /// For token.expiring: tokens expiring within this many days.
        #[arg(long)]
        expiring_days: Option<i64>,
        /// Only this org's events [default: every org's].
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// List the webhooks.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one webhook.
    Show {
        /// The webhook's id.
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Remove a webhook and its queued deliveries.
    Remove {
        /// The webhook's id.
        id: String,
    },
    /// Show a webhook's recent deliveries, newest first.
    Deliveries {
        /// The webhook's id.
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

pub(super) fn webhook(
    authority: &mut Authority,
    command: WebhookCommand,
) -> Result<(), DomainError> {
    match command {
        WebhookCommand::Add {
            url,
            events,
            expiring_days,
            org,
            output,
        } => {
            let created = authority.create_webhook(
                Actor::Operator,
                NewWebhook {
                    url: &url,
                    events: &events,
                    expiring_days,
                    org: org.as_deref(),
                },
            )?;
            if output.json() {
                let mut shown = webhook_json(&created.webhook);
                shown["secret"] = serde_json::json!(created.secret.as_str());
                super::output::print_json(&shown);
            } else {
                println!("{}", created.secret.as_str());
                eprintln!(
                    "added webhook {} for {}; the line above is its signing secret, shown \
                     this once: give it to the receiver, which checks X-Tokend-Signature-256 \
                     with it",
                    created.webhook.id, created.webhook.url
                );
            }
        }
        WebhookCommand::List { output } => {
            let webhooks = authority.webhooks_in_reach(Actor::Operator)?;
            output.list(&webhooks, webhook_json, || table(&webhooks));
        }
        WebhookCommand::Show { id, output } => {
            let webhook = authority.webhook_in_reach(Actor::Operator, &id)?;
            output.show(
                webhook_json(&webhook),
                &[
                    ("id", webhook.id.clone()),
                    ("url", webhook.url.clone()),
                    ("events", joined(&webhook.events)),
                    (
                        "expiring_days",
                        webhook
                            .expiring_days
                            .map(|d| d.to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "org",
                        webhook
                            .org_name
                            .clone()
                            .unwrap_or_else(|| "(every org)".into()),
                    ),
                    ("created_at", format_time(webhook.created_at)),
                    ("created_by", webhook.created_by.clone()),
                ],
            );
        }
        WebhookCommand::Remove { id } => {
            authority.delete_webhook(Actor::Operator, &id)?;
            eprintln!("removed webhook {id}");
        }
        WebhookCommand::Deliveries { id, output } => {
            let deliveries = authority.webhook_deliveries(Actor::Operator, &id)?;
            output.list(&deliveries, webhook_delivery_json, || {
                let mut table = Table::new(&[
                    "ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "HTTP", "ERROR",
                ]);
                for delivery in &deliveries {
                    let shown = webhook_delivery_json(delivery);
                    table.row(vec![
                        delivery.id.clone(),
                        delivery.event_type.clone(),
                        shown["status"].as_str().unwrap_or_default().to_string(),
                        delivery.attempts.to_string(),
                        format_time(delivery.created_at),
                        delivery
                            .last_status
                            .map(|s| s.to_string())
                            .unwrap_or_default(),
                        or_dash(delivery.last_error.as_deref()),
                    ]);
                }
                table
            });
        }
    }
    Ok(())
}

fn table(webhooks: &[WebhookRecord]) -> Table {
    let mut table = Table::new(&["ID", "URL", "EVENTS", "DAYS", "ORG", "CREATED"]);
    for webhook in webhooks {
        table.row(vec![
            webhook.id.clone(),
            webhook.url.clone(),
            joined(&webhook.events),
            webhook
                .expiring_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            webhook
                .org_name
                .clone()
                .unwrap_or_else(|| "(every org)".into()),
            format_time(webhook.created_at),
        ]);
    }
    table
}
