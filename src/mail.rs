//! Outgoing mail through an SMTP relay, the only code that knows SMTP
//! (lettre). `TOKEND_SMTP_URL` names the relay: `smtp://host[:port]`
//! (plain, port 25), `smtp://host[:port]?tls=starttls` (STARTTLS required,
//! port 587), `smtps://host[:port]` (TLS from the start, port 465), with
//! optional `user:password@` credentials. Certificates are checked against
//! the system's roots, or a private CA given in PEM.

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use percent_encoding::percent_decode_str;

use crate::domain::{Mail, Mailer};

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct SmtpMailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl SmtpMailer {
    /// A mailer for the relay `url`, sending as `from`; `ca_pem` adds a
    /// certificate authority to trust (an on-prem relay's own).
    pub fn new(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<SmtpMailer, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("TOKEND_SMTP_URL: {e}"))?;
        let host = parsed
            .host_str()
            .ok_or("TOKEND_SMTP_URL names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let mut starttls = false;
        for (key, value) in parsed.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") => starttls = true,
                ("tls", "none") => starttls = false,
                _ => {
                    return Err(format!(
                    "TOKEND_SMTP_URL: unknown parameter {key}={value} (tls=starttls or tls=none)"
                ))
                }
            }
        }
        let tls_parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some(pem) = ca_pem {
                let ca = Certificate::from_pem(pem).map_err(|e| format!("TOKEND_SMTP_CA: {e}"))?;
                builder = builder.add_root_certificate(ca);
            }
            builder.build().map_err(|e| format!("TLS: {e}"))
        };
        let (tls, default_port) = match parsed.scheme() {
            "smtp" if starttls => (Tls::Required(tls_parameters()?), 587),
            "smtp" => (Tls::None, 25),
            "smtps" => (Tls::Wrapper(tls_parameters()?), 465),
            other => {
                return Err(format!(
                    "TOKEND_SMTP_URL: scheme {other:?} is neither smtp nor smtps"
                ))
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(host.as_str())
            .port(parsed.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if !parsed.username().is_empty() {
            let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
            builder = builder.credentials(Credentials::new(
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            ));
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("TOKEND_MAIL_FROM {from:?}: {e}"))?;
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
        })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: &Mail) -> Result<(), String> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| format!("recipient {:?}: {e}", mail.to))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| format!("message: {e}"))?;
        self.transport
            .send(&message)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
