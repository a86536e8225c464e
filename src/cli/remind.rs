//! `tokend remind`: one run of the e-mail reminders and leaked tokens'
//! notices (for a systemd timer, instead of the runs inside `tokend
//! serve`), or a digest of an org's tokens that expire soon; and the relay
//! settings both share.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::domain::{Authority, DomainError};
use crate::mail::SmtpMailer;

/// Where mail goes, as `serve` and `remind` take it. The relay's URL may
/// hold its credentials, so it is read from the environment
/// (`TOKEND_SMTP_URL`) or a file, never from the command line, where every
/// user of the machine sees it in the process list.
#[derive(Args, Clone)]
pub(super) struct MailArgs {
    /// A file holding the SMTP relay's URL (smtp://host:25,
    /// smtp://host:587?tls=starttls or smtps://host:465, with optional
    /// user:password@); or set TOKEND_SMTP_URL.
    #[arg(long, env = "TOKEND_SMTP_URL_FILE", value_name = "PATH")]
    pub(super) smtp_url_file: Option<PathBuf>,
    /// The sender of reminders.
    #[arg(long, env = "TOKEND_MAIL_FROM", default_value = "tokend@localhost")]
    pub(super) mail_from: String,
    /// A certificate authority (PEM) to trust for the relay's TLS, besides the system's.
    #[arg(long, env = "TOKEND_SMTP_CA")]
    pub(super) smtp_ca: Option<PathBuf>,
}

impl MailArgs {
    /// The mailer, or None when no relay is configured.
    pub(super) fn mailer(&self) -> Result<Option<SmtpMailer>, String> {
        let url = match (&self.smtp_url_file, std::env::var("TOKEND_SMTP_URL")) {
            (Some(_), Ok(_)) => {
                return Err("set TOKEND_SMTP_URL or --smtp-url-file, not both".into());
            }
            (Some(path), Err(_)) => std::fs::read_to_string(path)
                .map_err(|e| format!("--smtp-url-file {}: {e}", path.display()))?
                .trim()
                .to_string(),
            (None, Ok(url)) => url,
            (None, Err(std::env::VarError::NotPresent)) => return Ok(None),
            (None, Err(e)) => return Err(format!("TOKEND_SMTP_URL: {e}")),
        };
        let url = &url;
        let ca = match &self.smtp_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("TOKEND_SMTP_CA {}: {e}", path.display()))?,
            ),
            None => None,
        };
        SmtpMailer::new(url, &self.mail_from, ca.as_deref()).map(Some)
    }
}

#[derive(Args)]
pub(super) struct RemindArgs {
    /// Send the reminders (and leaked tokens' notices) that are due, once,
    /// and exit.
    #[arg(long, required_unless_present = "digest")]
    once: bool,
    /// Mail a digest of this org's tokens that expire soon instead.
    #[arg(long, value_name = "ORG", conflicts_with = "once", requires = "to")]
    digest: Option<String>,
    /// With --digest: how far ahead to look.
    #[arg(long, default_value = "14days", value_parser = humantime::parse_duration)]
    within: Duration,
    /// With --digest: where it goes.
    #[arg(long, value_name = "EMAIL")]
    to: Option<String>,
    #[command(flatten)]
    mail: MailArgs,
}

pub(super) fn remind(authority: &mut Authority, args: RemindArgs) -> Result<(), DomainError> {
    let mailer = args
        .mail
        .mailer()
        .map_err(DomainError::Invalid)?
        .ok_or_else(|| {
            DomainError::Invalid("no SMTP relay: set TOKEND_SMTP_URL or --smtp-url-file".into())
        })?;
    if let (Some(org), Some(to)) = (&args.digest, &args.to) {
        let listed = authority.send_expiry_digest(org, args.within, to, &mailer)?;
        eprintln!("sent a digest of {listed} tokens of {org} to {to}");
        return Ok(());
    }
    let reminders = authority.send_due_reminders(&mailer)?;
    eprintln!(
        "reminders: {} sent, {} to be tried again, {} given up",
        reminders.sent, reminders.deferred, reminders.given_up
    );
    let notices = authority.send_due_leak_notices(&mailer)?;
    if notices.sent + notices.deferred + notices.given_up > 0 {
        eprintln!(
            "leak notices: {} sent, {} to be tried again, {} given up",
            notices.sent, notices.deferred, notices.given_up
        );
    }
    if reminders.deferred + reminders.given_up + notices.deferred + notices.given_up > 0 {
        return Err(DomainError::Unavailable(
            "some mails could not be sent".into(),
        ));
    }
    Ok(())
}
