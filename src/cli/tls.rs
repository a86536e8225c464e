//! `tokend tls self-signed`: a certificate and key for a lab without a CA,
//! for `TOKEND_TLS_CERT` and `TOKEND_TLS_KEY`. Nothing here opens a
//! database.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use clap::{Args, Subcommand};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

use crate::domain::format_time;
use crate::http::tls::fingerprint;

#[derive(Subcommand)]
pub(super) enum TlsCommand {
    /// Write a self-signed certificate (ECDSA P-256) and its key for a lab
    /// without a CA; clients trust the certificate itself. Never overwrites.
    SelfSigned(SelfSignedArgs),
}

#[derive(Args)]
pub(super) struct SelfSignedArgs {
    /// A DNS name or IP address clients reach tokend at (repeatable; the
    /// first also names the subject).
    #[arg(long = "host", required = true)]
    hosts: Vec<String>,
    /// Where to write the certificate (PEM); must not exist.
    #[arg(long)]
    cert: PathBuf,
    /// Where to write the private key (PEM, PKCS#8, mode 0600); must not exist.
    #[arg(long)]
    key: PathBuf,
    /// Days the certificate is valid.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
}

/// Valid from a little before now: a client whose clock is behind by
/// minutes would otherwise refuse a certificate made a moment ago.
const BACKDATE: Duration = Duration::from_secs(3600);

pub(super) fn tls(command: TlsCommand) -> Result<(), String> {
    match command {
        TlsCommand::SelfSigned(args) => self_signed(args),
    }
}

fn self_signed(args: SelfSignedArgs) -> Result<(), String> {
    if args.cert == args.key {
        return Err("--cert and --key must be different files".into());
    }
    let mut params = CertificateParams::new(args.hosts.clone())
        .map_err(|e| format!("--host: not a DNS name or IP address: {e}"))?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, args.hosts[0].as_str());
    subject.push(DnType::OrganizationName, "tokend self-signed");
    params.distinguished_name = subject;
    // A server certificate that is its own trust anchor: not a CA, so a
    // client that trusts it trusts nothing else it might sign.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?;
    let from = now.saturating_sub(BACKDATE);
    let until = now + Duration::from_secs(u64::from(args.days) * 86_400);
    params.not_before = offset_time(from)?;
    params.not_after = offset_time(until)?;

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("cannot generate a key: {e}"))?;
    let certificate = params
        .self_signed(&key)
        .map_err(|e| format!("cannot make the certificate: {e}"))?;

    // Both files are claimed before either is written: an existing file is
    // never replaced, and a refusal leaves nothing behind.
    let mut cert_file = create_new(&args.cert, 0o644, "--cert")?;
    let mut key_file = match create_new(&args.key, 0o600, "--key") {
        Ok(file) => file,
        Err(e) => {
            let _ = std::fs::remove_file(&args.cert);
            return Err(e);
        }
    };
    let written = key_file
        .write_all(pem("PRIVATE KEY", &key.serialize_der()).as_bytes())
        .and_then(|()| key_file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", args.key.display()))
        .and_then(|()| {
            cert_file
                .write_all(pem("CERTIFICATE", certificate.der()).as_bytes())
                .and_then(|()| cert_file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", args.cert.display()))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&args.cert);
        let _ = std::fs::remove_file(&args.key);
        return Err(e);
    }
    println!(
        "certificate {} for {}, valid until {}",
        args.cert.display(),
        args.hosts.join(", "),
        format_time(until.as_secs() as i64)
    );
    println!("key {} (mode 0600)", args.key.display());
    println!("SHA-256 fingerprint {}", fingerprint(certificate.der()));
    Ok(())
}

fn offset_time(since_epoch: Duration) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(since_epoch.as_secs() as i64)
        .map_err(|_| "the validity period is out of range".to_string())
}

fn create_new(path: &Path, mode: u32, flag: &str) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{flag} {} exists; it is never overwritten (remove it, or name another file)",
                path.display()
            ),
            _ => format!("{flag} {}: cannot create it: {e}", path.display()),
        })
}

/// RFC 7468 text: base64 in lines of 64 between the label's lines.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}
