//! The admins' pages: every user's tokens, the audit trail, the token
//! policy, service accounts, and the device approval page.

use maud::{html, Markup};

use super::{csrf, expiry, layout, scope_chips, time, Page};
use crate::domain::audit::EventPage;
use crate::domain::records::ServiceAccount;
use crate::domain::{ApiTokenListing, DeviceRequest, PolicyView};

pub fn service_accounts(
    page: &Page,
    accounts: &[ServiceAccount],
    total: u64,
    roles: &[String],
) -> Markup {
    layout(
        "Service accounts",
        Some(page),
        html! {
            h1 { "Service accounts" }
            p.hint { "API-only identities that receive their token through the device flow. "
                "Approve a client's request on " a href="/console/device" { "Approve a device" } "." }
            @if accounts.is_empty() {
                p.empty { "No service accounts." }
            } @else {
                table {
                    caption.visually-hidden { "Service accounts" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Organization" }
                            th scope="col" { "Software" }
                            th scope="col" { "Role" }
                            th scope="col" { "State" }
                            th scope="col" { "Registered" }
                            @if !roles.is_empty() { th scope="col" { span.visually-hidden { "Actions" } } }
                        }
                    }
                    tbody {
                        @for account in accounts {
                            tr {
                                td data-label="Name" { strong { (account.name) } }
                                td data-label="Organization" { (account.org_name) }
                                td data-label="Software" { code { (account.software_id) }
                                    @if let Some(version) = &account.software_version { " " (version) } }
                                td data-label="Role" { @for role in &account.roles { span.chip { (role) } } }
                                td data-label="State" { (account.status.as_str()) }
                                td data-label="Registered" { (time(account.created_at)) }
                                @if !roles.is_empty() {
                                    td { div.actions {
                                        form method="post" action={ "/console/service-accounts/" (account.id) "/role" } {
                                            (csrf(page))
                                            label.visually-hidden for={ "role-" (account.id) } { "Role of " (account.name) }
                                            select id={ "role-" (account.id) } name="role" {
                                                option value="" { "no role" }
                                                @for role in roles {
                                                    option value=(role) selected[account.roles.contains(role)] { (role) }
                                                }
                                            }
                                            button type="submit" { "Set role" }
                                        }
                                        form method="post" action={ "/console/service-accounts/" (account.id) "/revoke" } {
                                            (csrf(page))
                                            button type="submit" data-confirm={ "Revoke the access of " (account.name) "? Its client must be granted again." } { "Revoke access" }
                                        }
                                        form method="post" action={ "/console/service-accounts/" (account.id) "/delete" } {
                                            (csrf(page))
                                            button.danger type="submit" data-confirm={ "Delete " (account.name) "? This cannot be undone." } { "Delete" }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
                p.hint { (total) " in all" }
            }
        },
    )
}

pub fn policy(
    page: &Page,
    org: &PolicyView,
    default: &PolicyView,
    may_change: bool,
    provider: bool,
    error: Option<&str>,
) -> Markup {
    let org_name = org.org.as_ref().map_or("", |o| o.name.as_str());
    layout(
        "Token policy",
        Some(page),
        html! {
            h1 { "Token lifetime policy" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            p.hint { "What a new API token may be. A field left empty is inherited; an organization's policy may only be stricter than the provider's default, and the stricter of the two is in force." }
            (policy_card(page, &format!("In force for {org_name}"), org, may_change && !provider, "org"))
            (policy_card(page, "The provider's default, for every organization", default, may_change && provider, "default"))
        },
    )
}

fn policy_card(page: &Page, title: &str, view: &PolicyView, editable: bool, scope: &str) -> Markup {
    let effective = &view.effective;
    let own = &view.own;
    html! {
        section.card {
            h2 { (title) }
            dl {
                dt { "Default lifetime" } dd { (effective.default_ttl) }
                dt { "Longest lifetime" } dd { (effective.max_ttl) }
                dt { "Tokens that never expire" } dd { @if effective.allow_never { "allowed" } @else { "not allowed" } }
                dt { "Revoked when unused for" } dd { (effective.max_idle.as_deref().unwrap_or("never")) }
                dt { "Second factor required of" } dd { (effective.second_factor.name()) }
                dt { "Longest rotation grace" } dd { (effective.max_rotation_grace) }
                dt { "Network binding" } dd { @if effective.require_bound_cidrs { "required for new tokens" } @else { "optional" } }
            }
            @if editable {
                form method="post" action="/console/policy" {
                    (csrf(page))
                    input type="hidden" name="scope" value=(scope);
                    label for={ (scope) "-default" } { "Default lifetime" }
                    input id={ (scope) "-default" } name="default_ttl" type="text" value=(own.default_ttl.as_deref().unwrap_or("")) placeholder="inherited";
                    label for={ (scope) "-max" } { "Longest lifetime" }
                    input id={ (scope) "-max" } name="max_ttl" type="text" value=(own.max_ttl.as_deref().unwrap_or("")) placeholder="inherited";
                    label for={ (scope) "-never" } { "Tokens that never expire" }
                    select id={ (scope) "-never" } name="allow_never" {
                        option value="" selected[own.allow_never.is_none()] { "inherited" }
                        option value="yes" selected[own.allow_never == Some(true)] { "allowed" }
                        option value="no" selected[own.allow_never == Some(false)] { "not allowed" }
                    }
                    label for={ (scope) "-idle" } { "Revoke when unused for" }
                    input id={ (scope) "-idle" } name="max_idle" type="text" value=(own.max_idle.as_deref().unwrap_or("")) placeholder="inherited, or none";
                    label for={ (scope) "-second-factor" } { "Second factor required of" }
                    select id={ (scope) "-second-factor" } name="second_factor" {
                        option value="" selected[own.second_factor.is_none()] { "inherited" }
                        @for rule in ["nobody", "admins", "everyone"] {
                            option value=(rule) selected[own.second_factor.as_deref() == Some(rule)] { (rule) }
                        }
                    }
                    label for={ (scope) "-grace" } { "Longest rotation grace" }
                    input id={ (scope) "-grace" } name="max_rotation_grace" type="text" value=(own.max_rotation_grace.as_deref().unwrap_or("")) placeholder="inherited, or 0";
                    label for={ (scope) "-bound-cidrs" } { "Network binding" }
                    select id={ (scope) "-bound-cidrs" } name="require_bound_cidrs" {
                        option value="" selected[own.require_bound_cidrs.is_none()] { "inherited" }
                        option value="yes" selected[own.require_bound_cidrs == Some(true)] { "required for new tokens" }
                        option value="no" selected[own.require_bound_cidrs == Some(false)] { "optional" }
                    }
                    button type="submit" { "Save" }
                }
            }
        }
    }
}

/// The audit page's filter, as the page shows it back.
pub struct AuditFilter {
    pub kind: String,
    pub actor: String,
    pub since: String,
    pub until: String,
}

impl AuditFilter {
    fn query(&self) -> String {
        let mut query = String::new();
        for (name, value) in [
            ("type", &self.kind),
            ("actor", &self.actor),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.is_empty() {
                query.push_str(&format!("&{name}={}", super::super::url_encode(value)));
            }
        }
        query
    }
}

pub fn audit(page: &Page, events: &EventPage, filter: &AuditFilter) -> Markup {
    layout(
        "Audit trail",
        Some(page),
        html! {
            h1 { "Audit trail" }
            form.filters method="get" action="/console/audit" {
                label for="type" { "Type" }
                input id="type" name="type" type="text" value=(filter.kind) placeholder="token.revoke";
                label for="actor" { "Actor id" }
                input id="actor" name="actor" type="text" value=(filter.actor);
                label for="since" { "Since" }
                input id="since" name="since" type="text" value=(filter.since) placeholder="2026-12-01T00:00:00Z";
                label for="until" { "Until" }
                input id="until" name="until" type="text" value=(filter.until);
                button type="submit" { "Filter" }
            }
            @if events.events.is_empty() {
                p.empty { "No events match." }
            } @else {
                table {
                    caption.visually-hidden { "Audit events, newest first" }
                    thead {
                        tr {
                            th scope="col" { "When" }
                            th scope="col" { "Type" }
                            th scope="col" { "Actor" }
                            th scope="col" { "Target" }
                            th scope="col" { "Outcome" }
                            th scope="col" { "From" }
                        }
                    }
                    tbody {
                        @for (_, event) in &events.events {
                            tr {
                                td data-label="When" { (time(event.at_ms / 1000)) }
                                td data-label="Type" { code { (event.kind) } }
                                td data-label="Actor" { (event.actor_name.as_deref().unwrap_or("-")) }
                                td data-label="Target" {
                                    (event.target_type.as_deref().unwrap_or(""))
                                    @if let Some(name) = &event.target_name { " " strong { (name) } }
                                }
                                td data-label="Outcome" { (event.outcome) }
                                td data-label="From" { (event.client_ip.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if let Some(cursor) = events.next_cursor {
                    a href={ "/console/audit?cursor=" (cursor) (filter.query()) } { "Older events" }
                }
            }
        },
    )
}

/// The inventory's filter, as the page shows it back.
pub struct InventoryFilter<'a> {
    pub owner: &'a str,
    pub name: &'a str,
    /// Expired and revoked tokens rather than live ones.
    pub inactive: bool,
    pub sort: &'a str,
    /// The provider sees every org, and the org column.
    pub every_org: bool,
}

pub fn inventory(
    page: &Page,
    tokens: &[ApiTokenListing],
    total: u64,
    page_number: u32,
    now: i64,
    filter: InventoryFilter<'_>,
) -> Markup {
    layout(
        "All API tokens",
        Some(page),
        html! {
            h1 { "All API tokens" }
            p.hint { "Every user's tokens"
                @if filter.every_org { " in every organization" } @else { " in your organization" }
                ": names only, never secrets." }
            form.filters method="get" action="/console/inventory" {
                label for="owner" { "Owner" }
                input id="owner" name="owner" type="text" value=(filter.owner) placeholder="user name";
                label for="name" { "Name contains" }
                input id="name" name="name" type="text" value=(filter.name);
                label for="state" { "State" }
                select id="state" name="state" {
                    option value="" { "active" }
                    option value="inactive" selected[filter.inactive] { "expired and revoked" }
                }
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    @for (value, label) in [("", "created"), ("expires", "expiry"), ("last_used", "last use"), ("name", "name"), ("owner", "owner")] {
                        option value=(value) selected[filter.sort == value] { (label) }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if tokens.is_empty() {
                p.empty { "No tokens match." }
            } @else {
                form method="post" action="/console/inventory/revoke" {
                    (csrf(page))
                    table {
                        caption.visually-hidden { "Every user's API tokens" }
                        thead {
                            tr {
                                th scope="col" { span.visually-hidden { "Select" } }
                                th scope="col" { "Owner" }
                                @if filter.every_org { th scope="col" { "Organization" } }
                                th scope="col" { "Name" }
                                th scope="col" { "Scopes" }
                                th scope="col" { "Last used" }
                                th scope="col" { "Expires" }
                                th scope="col" { "Networks" }
                                th scope="col" { "Status" }
                            }
                        }
                        tbody {
                            @for token in tokens {
                                tr {
                                    td {
                                        input type="checkbox" name="token" value=(token.id)
                                            id={ "t-" (token.id) }
                                            aria-label={ "Select " (token.name) " of " (token.owner_name) };
                                    }
                                    td data-label="Owner" { (token.owner_name) }
                                    @if filter.every_org { td data-label="Organization" { (token.org_name) } }
                                    td data-label="Name" { label for={ "t-" (token.id) } { strong { (token.name) } } }
                                    td data-label="Scopes" { (scope_chips(&token.scope)) }
                                    td data-label="Last used" {
                                        @match token.last_used_at {
                                            Some(at) => { (time(at)) }
                                            None => { span.muted { "never used" } }
                                        }
                                    }
                                    td data-label="Expires" { (expiry(token.expires_at, now)) }
                                    td data-label="Networks" { (super::networks(&token.bound_cidrs)) }
                                    td data-label="Status" { @let status = token.status(now); span class={ "status " (status) } { (status) } }
                                }
                            }
                        }
                    }
                    div.row {
                        button.danger type="submit" { "Revoke selected" }
                        span.hint { (total) " in all" }
                    }
                }
                @if u64::from(page_number) * 50 < total {
                    a href={ "/console/inventory?page=" (page_number + 1) "&owner=" (super::super::url_encode(filter.owner)) "&name=" (super::super::url_encode(filter.name)) "&sort=" (filter.sort) @if filter.inactive { "&state=inactive" } } { "Next page" }
                }
            }
        },
    )
}

pub fn confirm_revoke_selected(page: &Page, tokens: &[ApiTokenListing]) -> Markup {
    layout(
        "Revoke API tokens",
        Some(page),
        html! {
            h1 { "Revoke " (tokens.len()) " API tokens?" }
            p { "Automation using them stops at its next exchange. This cannot be undone." }
            ul {
                @for token in tokens { li { strong { (token.name) } " of " (token.owner_name) "@" (token.org_name) } }
            }
            form.card method="post" action="/console/inventory/revoke" {
                (csrf(page))
                input type="hidden" name="confirmed" value="yes";
                @for token in tokens { input type="hidden" name="token" value=(token.id); }
                button.danger type="submit" { "Revoke them" }
                a href="/console/inventory" { "Cancel" }
            }
        },
    )
}

pub fn device_entry(page: &Page, error: Option<&str>, code: &str) -> Markup {
    layout(
        "Approve a device",
        Some(page),
        html! {
            h1 { "Approve a device" }
            p { "A service account's client shows a code such as " code { "BCDF-GHJK" } ". Type it to see what asks for access." }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="get" action="/console/device" {
                label for="user_code" { "Code" }
                input id="user_code" name="user_code" type="text" value=(code) required autocomplete="off" spellcheck="false";
                button type="submit" { "Look up" }
            }
        },
    )
}

pub fn device_approve(page: &Page, found: &DeviceRequest, roles: &[String]) -> Markup {
    let account = &found.account;
    layout(
        "Approve a device",
        Some(page),
        html! {
            h1 { "Grant access to " (account.name) "?" }
            dl.card {
                dt { "Service account" } dd { (account.name) "@" (account.org_name) }
                dt { "Software" } dd { code { (account.software_id) }
                    @if let Some(version) = &account.software_version { " " (version) } }
                @if let Some(uri) = &account.client_uri { dt { "Client" } dd { (uri) } }
                dt { "Code" } dd { code { (found.user_code) } }
                dt { "Request expires" } dd { (time(found.expires_at)) }
            }
            form.card method="post" action="/console/device" {
                (csrf(page))
                input type="hidden" name="user_code" value=(found.user_code);
                label for="role" { "Role it holds once granted" }
                select id="role" name="role" {
                    @for role in roles {
                        option value=(role) selected[account.roles.contains(role)] { (role) }
                    }
                }
                div.row {
                    button type="submit" name="decision" value="grant" { "Grant" }
                    button.danger type="submit" name="decision" value="deny" { "Deny" }
                }
            }
        },
    )
}

pub fn device_done(page: &Page, decided: &DeviceRequest, granted: bool) -> Markup {
    let name = &decided.account.name;
    layout(
        "Device approval",
        Some(page),
        html! {
            @if granted {
                h1 { "Access granted to " (name) }
                p { "Its client receives its API token at its next poll." }
            } @else {
                h1 { "Access denied to " (name) }
                p { "Its client is told so at its next poll." }
            }
            a.button href="/console/device" { "Approve another device" }
        },
    )
}
