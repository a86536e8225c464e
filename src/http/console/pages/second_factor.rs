//! The second factor's pages: the login's second step, the enrolment page
//! (a QR code of the `otpauth://` URI and the secret as text, confirmed
//! with a code), the recovery codes shown once, and turning it off.

use maud::{html, Markup, PreEscaped};

use super::{csrf, layout, Page};
use crate::domain::{Enrolment, SecondFactorStatus};

/// The login's second step: the code, for a password that was right.
pub fn login_code(error: Option<&str>, handle: &str, next: &str) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.card method="post" action="/console/login/code" {
                input type="hidden" name="next" value=(next);
                input type="hidden" name="login" value=(handle);
                label for="code" { "Code from your authenticator app" }
                input id="code" name="code" type="text" required autofocus
                    inputmode="numeric" autocomplete="one-time-code" spellcheck="false";
                button type="submit" { "Log in" }
                p.hint { "Lost the app? A recovery code works here too, once." }
            }
        },
    )
}

/// Where the caller's second factor stands, and what can be done: begin,
/// confirm a pending enrolment (with its QR code), or turn it off.
pub fn second_factor(
    page: &Page,
    status: &SecondFactorStatus,
    pending: Option<(&Enrolment, &str)>,
    error: Option<&str>,
) -> Markup {
    layout(
        "Two-factor login",
        Some(page),
        html! {
            h1 { "Two-factor login" }
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            @if status.required && !status.enrolled {
                p.warning role="status" {
                    "Your organization requires a second factor. Set it up to go on."
                }
            }
            @if status.enrolled {
                div.card {
                    p { "A second factor is set up: every login asks for a code from your authenticator app." }
                    p.hint { (status.recovery_codes_left) " of 10 recovery codes left." }
                }
                @if status.required {
                    p.hint { "Your organization requires it, so it cannot be turned off here; an administrator can reset it." }
                } @else {
                    form.card method="post" action="/console/2fa/disable" {
                        (csrf(page))
                        label for="code" { "Current code, to turn it off" }
                        input id="code" name="code" type="text" required
                            inputmode="numeric" autocomplete="one-time-code" spellcheck="false";
                        button.danger type="submit" { "Turn off" }
                    }
                }
            } @else if let Some((enrolment, qr)) = pending {
                div.card {
                    p { "Scan this code with an authenticator app, or type the key into it." }
                    figure.qr aria-label="QR code of the authenticator key" { (PreEscaped(qr)) }
                    label for="secret" { "Key" }
                    div.row.secret {
                        input id="secret" type="text" readonly value=(enrolment.secret)
                            spellcheck="false" autocomplete="off";
                        button type="button" data-copy="secret" { "Copy" }
                    }
                    p.hint { "Time-based, 6 digits, every 30 seconds." }
                }
                form.card method="post" action="/console/2fa/confirm" {
                    (csrf(page))
                    label for="code" { "Code the app shows now" }
                    input id="code" name="code" type="text" required autofocus
                        inputmode="numeric" autocomplete="one-time-code" spellcheck="false";
                    button type="submit" { "Confirm" }
                }
            } @else {
                form.card method="post" action="/console/2fa" {
                    (csrf(page))
                    p { "Protect your password logins with a code from an authenticator app." }
                    button type="submit" { "Set up" }
                }
            }
        },
    )
}

/// The recovery codes, this once.
pub fn recovery_codes(page: &Page, codes: &[String]) -> Markup {
    layout(
        "Recovery codes",
        Some(page),
        html! {
            h1 { "Two-factor login is on" }
            div.card.secret {
                p.warning { "Keep these recovery codes somewhere safe: each logs you in once without the app. They are not shown again." }
                label for="recovery" { "Recovery codes" }
                textarea #recovery .codes readonly rows=(codes.len()) spellcheck="false" autocomplete="off" {
                    (codes.join("\n"))
                }
                div.row {
                    button type="button" data-copy="recovery" { "Copy" }
                    button type="button" data-download="recovery" data-filename="tokend-recovery-codes.txt" { "Download" }
                }
            }
            a href="/console/tokens" { "On to the console" }
        },
    )
}
