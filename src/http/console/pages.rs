//! The console's pages, as maud templates: checked when tokend is
//! compiled, escaped by construction. No inline script or style: the
//! stylesheet and the script are the two assets in this directory. Times
//! are written in UTC inside `<time datetime=…>`; the script shows them in
//! the browser's zone, with UTC on hover.

use maud::{html, Markup, DOCTYPE};

use crate::domain::audit::EventPage;
use crate::domain::records::ServiceAccount;
use crate::domain::{
    format_time, ApiTokenListing, Caller, DeviceRequest, PolicyView, Right, TokenScope,
};

/// What every signed-in page shows: who is signed in, the navigation, and
/// the session's CSRF token for its forms.
pub struct Page {
    user: String,
    org: String,
    csrf: String,
    approves_devices: bool,
    manages_tokens: bool,
    reads_audit: bool,
}

impl Page {
    pub fn new(caller: &Caller, jwt: &str) -> Page {
        Page {
            user: caller.account.user_name.clone(),
            org: caller.account.org.name.clone(),
            csrf: super::csrf_token(jwt),
            approves_devices: caller.rights.contains(Right::UserManage),
            reads_audit: caller.rights.contains(Right::AuditView),
            manages_tokens: !caller.is_token_derived()
                && caller.rights.contains(Right::TokenManageAll),
        }
    }
}

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
}

fn layout(title: &str, page: Option<&Page>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tokend" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header.bar {
                    a.brand href="/console/" { "tokend" }
                    @if let Some(page) = page {
                        nav aria-label="Main" {
                            a href="/console/tokens" { "API tokens" }
                            a href="/console/account" { "Roles and rights" }
                            a href="/console/policy" { "Token policy" }
                            @if page.manages_tokens {
                                a href="/console/inventory" { "All tokens" }
                            }
                            @if page.reads_audit {
                                a href="/console/audit" { "Audit trail" }
                            }
                            @if page.approves_devices {
                                a href="/console/service-accounts" { "Service accounts" }
                                a href="/console/device" { "Approve a device" }
                            }
                        }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(page.csrf);
                            span.who { (page.user) "@" (page.org) }
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}

fn csrf(page: &Page) -> Markup {
    html! { input type="hidden" name="csrf" value=(page.csrf); }
}

pub fn login(error: Option<&str>, user: &str, org: &str, next: &str) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="post" action="/console/login" {
                input type="hidden" name="next" value=(next);
                label for="org" { "Organization" }
                input id="org" name="org" type="text" value=(org) required autocomplete="organization";
                label for="user" { "User" }
                input id="user" name="user" type="text" value=(user) required autocomplete="username";
                label for="password" { "Password" }
                input id="password" name="password" type="password" required autocomplete="current-password";
                button type="submit" { "Log in" }
                p.hint { "The provider's administrators log in to the organization " code { "System" } "." }
            }
        },
    )
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

fn scope_chips(scope: &TokenScope) -> Markup {
    html! {
        @match scope {
            TokenScope::AllRoles => { span.chip { "all roles" } }
            TokenScope::Roles { org_roles, service_roles } => {
                @for role in org_roles { span.chip { (role) } }
                @for role in service_roles {
                    span.chip.service { (role.service) "/" (role.role)
                        @if let Some(permissions) = &role.permissions {
                            " (" (permissions.join(", ")) ")"
                        }
                    }
                }
            }
        }
    }
}

fn time(at: i64) -> Markup {
    let utc = format_time(at);
    html! { time datetime=(utc) title=(utc) { (utc) } }
}

/// "in 12 days", amber within 30 days, red within 7; "never" marked.
fn expiry(expires_at: Option<i64>, now: i64) -> Markup {
    const DAY: i64 = 86_400;
    match expires_at {
        None => html! { span.never { "never" } },
        Some(at) if at <= now => html! { span.expired { "expired " (time(at)) } },
        Some(at) => {
            let left = at - now;
            let class = if left <= 7 * DAY {
                "soon red"
            } else if left <= 30 * DAY {
                "soon amber"
            } else {
                "later"
            };
            let words = if left < DAY {
                format!("in {} hours", (left / 3600).max(1))
            } else {
                format!("in {} days", left / DAY)
            };
            html! { span class=(class) title=(format_time(at)) { (words) } }
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

pub fn account(
    page: &Page,
    caller: &Caller,
    groups: &[String],
    sources: &[(String, Vec<String>)],
) -> Markup {
    let account = &caller.account;
    layout(
        "My roles and rights",
        Some(page),
        html! {
            h1 { "My account › Roles and rights" }
            p { (account.user_name) "@" (account.org.name)
                @if let Some(email) = &account.email { " · " (email) } }
            h2 { "Groups" }
            @if groups.is_empty() {
                p.muted { "No groups." }
            } @else {
                ul { @for group in groups { li { (group) } } }
            }
            h2 { "Roles" }
            p.hint {
                "Roles granted to you, or to a group you are in. "
                @if account.org.is_provider {
                    "The provider's organization is not capped by rights bundles."
                } @else {
                    "In this organization a role grants only what its rights bundles allow: the permissions below are what counts here."
                }
            }
            table {
                caption.visually-hidden { "Your roles" }
                thead { tr { th scope="col" { "Role" } th scope="col" { "Through" } th scope="col" { "Permissions in force" } } }
                tbody {
                    @for role in account.held_roles() {
                        @let name = role.qualified_name();
                        tr {
                            td data-label="Role" { (name) }
                            td data-label="Through" {
                                @for (_, hows) in sources.iter().filter(|(n, _)| *n == name) {
                                    (hows.join(", "))
                                }
                            }
                            td data-label="Permissions" {
                                @if role.permissions.is_empty() {
                                    span.muted { "none here" }
                                }
                                @for permission in &role.permissions { span.chip { (permission) } }
                            }
                        }
                    }
                }
            }
            h2 { "Rights in force" }
            p {
                @for right in caller.rights.iter() { span.chip { (right.name()) } }
            }
        },
    )
}

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
                query.push_str(&format!("&{name}={}", super::url_encode(value)));
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
                    a href={ "/console/inventory?page=" (page_number + 1) "&owner=" (super::url_encode(filter.owner)) "&name=" (super::url_encode(filter.name)) "&sort=" (filter.sort) @if filter.inactive { "&state=inactive" } } { "Next page" }
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

pub fn message(title: &str, message: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            h1 { (title) }
            p role="alert" { (message) }
            a href="/console/tokens" { "Back to the console" }
        },
    )
}
