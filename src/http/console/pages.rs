//! The console's pages, as maud templates: checked when tokend is
//! compiled, escaped by construction. No inline script or style: the
//! stylesheet and the script are the two assets in this directory. Times
//! are written in UTC inside `<time datetime=…>`; the script shows them in
//! the browser's zone, with UTC on hover.

mod admin;
mod second_factor;
mod tokens;

pub use admin::*;
pub use second_factor::*;
pub use tokens::*;

use maud::{html, Markup, DOCTYPE};

use crate::domain::{format_time, Caller, Right, TokenScope};

/// What every signed-in page shows: who is signed in, the navigation, and
/// the session's CSRF token for its forms.
pub struct Page {
    user: String,
    org: String,
    csrf: String,
    approves_devices: bool,
    manages_tokens: bool,
    reads_audit: bool,
    /// A session that may only enrol a second factor: no other page.
    enrol_only: bool,
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
            enrol_only: false,
        }
    }

    /// The page of a session that may only enrol a second factor.
    pub fn enrolling(caller: &Caller, jwt: &str, enrol_only: bool) -> Page {
        Page {
            enrol_only,
            ..Page::new(caller, jwt)
        }
    }
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
                    @if let Some(page) = page.filter(|p| p.enrol_only) {
                        nav aria-label="Main" {
                            a href="/console/2fa" { "Two-factor login" }
                        }
                        form.logout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(page.csrf);
                            span.who { (page.user) "@" (page.org) }
                            button type="submit" { "Log out" }
                        }
                    } @else if let Some(page) = page {
                        nav aria-label="Main" {
                            a href="/console/tokens" { "API tokens" }
                            a href="/console/account" { "Roles and rights" }
                            a href="/console/policy" { "Token policy" }
                            a href="/console/2fa" { "Two-factor login" }
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
