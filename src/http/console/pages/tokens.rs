//! The pages about one's own API tokens: the list, the generate form, the
//! secret shown once, and the confirmation before a revocation.

use maud::{html, Markup};

use super::{csrf, expiry, layout, scope_chips, time, Page};
use crate::domain::ApiTokenListing;

/// One lifetime the generate form offers.
pub struct Lifetime {
    pub value: &'static str,
    pub label: &'static str,
    pub default: bool,
}

/// A service role the user holds, with the permissions it may be narrowed
/// to.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub struct ServiceRoleChoice {
    pub service: String,
    pub role: String,
    pub permissions: Vec<String>,
}

/// What the generate form offers.
pub struct GenerateForm<'a> {
    pub error: Option<&'a str>,
    pub lifetimes: Vec<Lifetime>,
    pub max_ttl: String,
    pub org_roles: Vec<String>,
    pub service_roles: Vec<ServiceRoleChoice>,
    pub reminder_leads: &'static [(&'static str, &'static str)],
    pub has_email: bool,
    pub request_id: String,
    /// The org's policy requires every new token to be bound to networks.
    pub networks_required: bool,
}

pub fn tokens(
    page: &Page,
    tokens: &[ApiTokenListing],
    total: u64,
    page_number: u32,
    now: i64,
    may_create: bool,
    inactive: bool,
) -> Markup {
    let state = if inactive { "&state=inactive" } else { "" };
    layout(
        "API tokens",
        Some(page),
        html! {
            div.heading {
                h1 { "My account › API tokens" }
                @if may_create {
                    a.button href="/console/tokens/new" { "Generate a new API token" }
                }
            }
            p.hint {
                "An API token is shown once, when it is made; afterwards only its name. "
                "Automation exchanges it for short-lived access tokens."
            }
            nav.tabs aria-label="Token state" {
                a href="/console/tokens" aria-current=[(!inactive).then_some("page")] { "Active" }
                a href="/console/tokens?state=inactive" aria-current=[inactive.then_some("page")] { "Expired and revoked" }
            }
            @if tokens.is_empty() {
                p.empty {
                    @if inactive { "No expired or revoked tokens." } @else { "No API tokens yet." }
                }
            } @else {
                table {
                    caption.visually-hidden { "Your API tokens" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Scopes" }
                            th scope="col" { "Created" }
                            th scope="col" { "Last used" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Networks" }
                            th scope="col" { "Status" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for token in tokens {
                            (token_row(page, token, now))
                        }
                    }
                }
                @if u64::from(page_number) * 50 < total {
                    a href={ "/console/tokens?page=" (page_number + 1) (state) } { "Next page" }
                }
            }
        },
    )
}

fn token_row(page: &Page, token: &ApiTokenListing, now: i64) -> Markup {
    let status = token.status(now);
    html! {
        tr {
            td data-label="Name" { strong { (token.name) } }
            td data-label="Scopes" { (scope_chips(&token.scope)) }
            td data-label="Created" { (time(token.created_at)) }
            td data-label="Last used" {
                @match (token.last_used_at, &token.last_used_ip) {
                    (Some(at), Some(ip)) => { (time(at)) " from " (ip) }
                    (Some(at), None) => { (time(at)) }
                    (None, _) => { span.muted { "never used" } }
                }
            }
            td data-label="Expires" { (expiry(token.expires_at, now)) }
            td data-label="Networks" { (networks(&token.bound_cidrs)) }
            td data-label="Status" { span class={ "status " (status) } { (status) } }
            td {
                @if status == "active" {
                    div.actions {
                    form method="post" action={ "/console/tokens/" (token.id) "/regenerate" } {
                        (csrf(page))
                        button type="submit" data-confirm={ "Regenerate \u{201c}" (token.name) "\u{201d}? Its current secret stops working at once." } {
                            "Regenerate"
                        }
                    }
                    a.danger href={ "/console/tokens/" (token.id) "/revoke" } { "Revoke" }
                    }
                }
            }
        }
    }
}

/// The networks a token may be exchanged from, or "any network".
pub fn networks(cidrs: &[String]) -> Markup {
    html! {
        @if cidrs.is_empty() {
            span.muted { "any network" }
        } @else {
            @for (n, cidr) in cidrs.iter().enumerate() {
                @if n > 0 { ", " }
                code { (cidr) }
            }
        }
    }
}

/// Which of the generate form's fields a refusal is about, from the
/// API's words, so that it is shown beside that field.
fn field_of(error: &str) -> &'static str {
    let error = error.to_ascii_lowercase();
    if error.contains("token name") || error.contains("name must") {
        "name"
    } else if error.contains("ttl") || error.contains("never expire") || error.contains("lifetime")
    {
        "ttl"
    } else if error.contains("bound_cidrs") || error.contains("network") {
        "networks"
    } else if error.contains("reminder") || error.contains("e-mail") {
        "reminder"
    } else if error.contains("role") || error.contains("scope") || error.contains("permission") {
        "scope"
    } else {
        "form"
    }
}

/// The refusal, if it is about `field`: shown there, and named by the
/// control it concerns (`aria-describedby`).
fn error_at(form: &GenerateForm<'_>, field: &str) -> Markup {
    html! {
        @if let Some(error) = form.error.filter(|e| field_of(e) == field) {
            p.error id={ (field) "-error" } role="alert" { (error) }
        }
    }
}

pub fn generate(page: &Page, form: &GenerateForm<'_>) -> Markup {
    let described = |field: &str| {
        form.error
            .filter(|e| field_of(e) == field)
            .map(|_| format!("{field}-error"))
    };
    layout(
        "Generate a new API token",
        Some(page),
        html! {
            h1 { "Generate a new API token" }
            (error_at(form, "form"))
            form.card method="post" action="/console/tokens" {
                (csrf(page))
                input type="hidden" name="request" value=(form.request_id);
                label for="name" { "Token name" }
                input id="name" name="name" type="text" required maxlength="128"
                    aria-describedby=[described("name")] aria-invalid=[described("name").map(|_| "true")];
                (error_at(form, "name"))
                fieldset aria-describedby=[described("ttl")] {
                    legend { "Token TTL" }
                    (error_at(form, "ttl"))
                    @for lifetime in &form.lifetimes {
                        label.choice {
                            input type="radio" name="ttl" value=(lifetime.value) checked[lifetime.default];
                            (lifetime.label)
                        }
                    }
                    label.choice {
                        input type="radio" name="ttl" value="custom";
                        "Custom: "
                        input name="ttl_custom" type="text" aria-label="Custom lifetime, such as 45d or 12h" placeholder="45d";
                    }
                    p.hint { "Your organization allows at most " (form.max_ttl) "." }
                }
                fieldset aria-describedby=[described("scope")] {
                    legend { "Define scopes" }
                    (error_at(form, "scope"))
                    label.choice {
                        input type="radio" name="scope" value="all" checked;
                        "All roles (whatever you hold at each use)"
                    }
                    label.choice {
                        input type="radio" name="scope" value="roles";
                        "Only the roles ticked below"
                    }
                    @if !form.org_roles.is_empty() {
                        h2 { "Organization roles" }
                        @for role in &form.org_roles {
                            label.choice {
                                input type="checkbox" name="org_role" value=(role);
                                (role)
                            }
                        }
                    }
                    @if !form.service_roles.is_empty() {
                        h2 { "Service roles" }
                        p.hint { "Tick a role for all of its permissions, or some of its permissions to narrow it." }
                        @for choice in &form.service_roles {
                            @let qualified = format!("{}/{}", choice.service, choice.role);
                            div.service-role {
                                label.choice {
                                    input type="checkbox" name="service_role" value=(qualified);
                                    (choice.service) " › " (choice.role)
                                }
                                @if choice.permissions.len() > 1 {
                                    div.permissions {
                                        @for permission in &choice.permissions {
                                            label.choice {
                                                input type="checkbox" name="permission" value={ (qualified) "|" (permission) };
                                                (permission)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                fieldset aria-describedby=[described("networks")] {
                    legend { "Networks" }
                    (error_at(form, "networks"))
                    label for="bound_cidrs" { "Only exchange from these networks" }
                    textarea id="bound_cidrs" name="bound_cidrs" rows="3"
                        placeholder="192.0.2.0/24\n2001:db8::/32"
                        required[form.networks_required]
                        aria-invalid=[described("networks").map(|_| "true")] {}
                    p.hint {
                        "CIDRs or addresses, one a line or comma-separated. "
                        @if form.networks_required {
                            "Your organization requires a binding."
                        } @else {
                            "Empty: any network."
                        }
                    }
                }
                fieldset {
                    legend { "OpenID" }
                    label.choice {
                        input type="checkbox" name="openid";
                        "Also return an OpenID ID token with the user's details"
                    }
                }
                fieldset aria-describedby=[described("reminder")] {
                    legend { "Email preferences" }
                    (error_at(form, "reminder"))
                    @if form.has_email {
                        label for="remind_before" { "Send me a reminder before it expires" }
                        select id="remind_before" name="remind_before" {
                            option value="" { "No reminder" }
                            @for (value, label) in form.reminder_leads {
                                option value=(value) { (label) }
                            }
                        }
                    } @else {
                        p.hint { "Reminders go to your e-mail address, and you have none on record." }
                    }
                }
                button type="submit" { "Generate" }
                a href="/console/tokens" { "Cancel" }
            }
        },
    )
}

pub fn secret(page: &Page, name: &str, secret: &str, expires_at: Option<i64>) -> Markup {
    layout(
        "Your new API token",
        Some(page),
        html! {
            h1 { "Generated token" }
            div.card.secret {
                p { "API token " strong { (name) } " was generated"
                    @if let Some(at) = expires_at { ", valid until " (time(at)) } "." }
                p.warning role="alert" {
                    "Copy this token and keep it safe. It is not shown again: "
                    "tokend keeps only a digest of it."
                }
                label for="secret" { "Token" }
                input id="secret" type="text" readonly value=(secret) spellcheck="false" autocomplete="off";
                div.row {
                    button type="button" data-copy="secret" { "Copy" }
                    button type="button" data-download="secret" data-filename={ (name) ".token" } { "Download" }
                    a.button href="/console/tokens" { "I have saved it" }
                }
            }
        },
    )
}

pub fn secret_gone(page: &Page) -> Markup {
    layout(
        "Secret no longer shown",
        Some(page),
        html! {
            h1 { "This secret is no longer shown" }
            p { "A token's secret is shown once, when it is made. If it was lost, regenerate or revoke the token." }
            a.button href="/console/tokens" { "Back to API tokens" }
        },
    )
}

pub fn confirm_revoke(page: &Page, token: &ApiTokenListing) -> Markup {
    layout(
        "Revoke an API token",
        Some(page),
        html! {
            h1 { "Revoke \u{201c}" (token.name) "\u{201d}?" }
            p { "Automation using it stops at its next exchange. This cannot be undone." }
            form.card method="post" action={ "/console/tokens/" (token.id) "/revoke" } {
                (csrf(page))
                button.danger type="submit" { "Revoke " (token.name) }
                a href="/console/tokens" { "Cancel" }
            }
        },
    )
}
