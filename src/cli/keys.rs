//! `tokend key` (or `keys`): rotate the signing keys, list them and show
//! one (ids, dates and what each does now; never a private key), and
//! reseal them under a new key file.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::output::{Output, Table};
use crate::domain::{format_time, Authority, DomainError, KeyRotation, SigningKeyInfo};
use crate::key_file::KeyFile;
use crate::shapes::{key_json, key_state};

#[derive(Subcommand)]
pub(super) enum KeyCommand {
    /// Add a new key pair (ES256 for access tokens, RS256 for ID tokens):
    /// published in the JWKS at once, signing after a delay longer than the
    /// JWKS max-age, so verifiers hold it before its first token. Older
    /// keys keep verifying what they signed.
    Rotate {
        /// How long the new keys are published before they sign; longer
        /// than TOKEND_JWKS_MAX_AGE.
        #[arg(long, env = "TOKEND_KEY_PUBLISH_DELAY", default_value = "10m",
              value_parser = humantime::parse_duration, conflicts_with = "now")]
        delay: Duration,
        /// For a key that leaked: the new keys sign at once and every older
        /// key stops verifying now; tokens they signed are refused.
        #[arg(long)]
        now: bool,
        /// With --now, for a key file that is lost for good: make a new
        /// key file FILE (mode 0600, never over an existing file) and seal
        /// the new keys under it; the old keys, which nothing can open any
        /// more, retire at once. Then point TOKEND_KEY_FILE at FILE.
        #[arg(long, value_name = "FILE", requires = "now")]
        new_key_file: Option<PathBuf>,
    },
    /// Make a new key file FILE (mode 0600, never over an existing file)
    /// and reseal every private signing key under its key, in one write;
    /// then point TOKEND_KEY_FILE at FILE and restart tokend. A server
    /// still running keeps the keys it holds until then.
    Reseal {
        /// The new key file.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
    /// List the signing keys: KID, ALGORITHM, CREATED, SIGNS FROM,
    /// REPLACED, STATE (signs, published, verifies or retired).
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show one signing key.
    Show {
        /// Its key id (kid), as `key list` and the JWKS show it.
        kid: String,
        #[command(flatten)]
        output: Output,
    },
}

pub(super) fn key(authority: &mut Authority, command: KeyCommand) -> Result<(), DomainError> {
    match command {
        KeyCommand::Reseal { new_key_file } => {
            let report = authority.reseal_signing_keys(&KeyFile::new(&new_key_file))?;
            println!("{}", report.to);
            eprintln!(
                "resealed {} signing keys (sealed under {}) and {} second-factor secrets (and {} webhook \
                 secrets) under the key-encryption key {} of the new key file {}.\nNow set TOKEND_KEY_FILE={} (in /etc/default/tokend for \
                 the service) and restart tokend; a server still running keeps the keys it \
                 holds until then. Back the new key file up apart from the database; the old \
                 one opens no key any more.",
                report.keys,
                report.from.join(", "),
                report.second_factors,
                report.webhook_secrets,
                report.to,
                new_key_file.display(),
                new_key_file.display()
            );
        }
        KeyCommand::Rotate {
            delay,
            now,
            new_key_file,
        } => {
            let rotation = if now {
                KeyRotation::AtOnce
            } else {
                KeyRotation::Published(delay)
            };
            let keys = match &new_key_file {
                Some(file) => {
                    let (keys, kek) =
                        authority.replace_signing_keys_under_new_kek(&KeyFile::new(file))?;
                    eprintln!(
                        "made the key file {} (key-encryption key {kek}); set TOKEND_KEY_FILE={} \
                         and restart tokend",
                        file.display(),
                        file.display()
                    );
                    keys
                }
                None => authority.rotate_signing_keys(rotation)?,
            };
            for key in keys {
                println!("{}", key.kid);
                if now {
                    eprintln!("new {} key {} signs from now on", key.algorithm, key.kid);
                } else {
                    eprintln!(
                        "new {} key {} is published and signs from {}",
                        key.algorithm,
                        key.kid,
                        format_time(key.activates_at)
                    );
                }
            }
            if now {
                eprintln!("every older key stopped verifying: the tokens it signed are refused");
            }
        }
        KeyCommand::List { output } => {
            let keys = authority.signing_keys()?;
            output.list(&keys, key_json, || {
                let mut table = Table::new(&[
                    "KID",
                    "ALGORITHM",
                    "CREATED",
                    "SIGNS FROM",
                    "REPLACED",
                    "STATE",
                ]);
                for key in &keys {
                    table.row(vec![
                        key.kid.clone(),
                        key.algorithm.clone(),
                        format_time(key.created_at),
                        format_time(key.activates_at),
                        key.replaced_at.map_or_else(String::new, format_time),
                        key_state(key).into(),
                    ]);
                }
                table
            });
        }
        KeyCommand::Show { kid, output } => {
            let key = authority
                .signing_keys()?
                .into_iter()
                .find(|key| key.kid == kid)
                .ok_or_else(|| DomainError::NotFound(format!("no signing key {kid:?}")))?;
            output.show(key_json(&key), &fields(&key));
        }
    }
    Ok(())
}

fn fields(key: &SigningKeyInfo) -> Vec<(&'static str, String)> {
    vec![
        ("kid", key.kid.clone()),
        ("algorithm", key.algorithm.clone()),
        ("created", format_time(key.created_at)),
        ("signs from", format_time(key.activates_at)),
        (
            "replaced",
            key.replaced_at.map_or_else(String::new, format_time),
        ),
        ("state", key_state(key).into()),
    ]
}
