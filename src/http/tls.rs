//! TLS settings: the server's certificate and key, read from PEM files,
//! and what rustls is told to speak — TLS 1.2 and 1.3 with the modern
//! suites only, ALPN `http/1.1`, session resumption by cache and by
//! ticket — the reload that a SIGHUP asks for, and what to warn of a
//! certificate that expired or expires soon. The handshake itself runs in
//! the transport, under its limits.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring::{self as provider, cipher_suite};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};
use x509_cert::der::Decode;

use crate::domain::format_time;

/// Sessions remembered for resumption by id (TLS 1.2 clients that do not
/// take tickets); some 100 bytes each.
const SESSION_CACHE: usize = 4096;
/// How long before its expiry a certificate is warned of: time for an
/// admin without automation to have one issued.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Where the certificate chain and its private key are read from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The TLS settings of a running server; the certificate can be replaced
/// while it serves.
pub struct Tls {
    files: TlsFiles,
    certificate: Arc<Reloadable>,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Reads the files and checks that the key belongs to the certificate.
    /// Errors name the file and what is wrong with it, never its content.
    pub fn load(files: TlsFiles) -> Result<Tls, String> {
        let provider = Arc::new(modern_provider());
        let loaded = load_certificate(&files, &provider)?;
        let certificate = Arc::new(Reloadable {
            current: RwLock::new(loaded),
        });
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS settings: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certificate) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = true;
        // Resumption: TLS 1.3 and most TLS 1.2 clients by ticket (stateless,
        // under keys that rotate every few hours), the rest by session id.
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        config.ticketer =
            provider::Ticketer::new().map_err(|e| format!("TLS session tickets: {e}"))?;
        Ok(Tls {
            files,
            certificate,
            config: Arc::new(config),
        })
    }

    /// Reads the files again; new handshakes get the new certificate, those
    /// done keep theirs. On any error the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let loaded = load_certificate(&self.files, self.config.crypto_provider())?;
        *self
            .certificate
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }

    /// The SHA-256 fingerprint of the certificate in use.
    pub fn fingerprint(&self) -> String {
        let current = self.certificate.get();
        current
            .cert
            .first()
            .map_or_else(String::new, |der| fingerprint(der))
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// When the certificate in use expires (its `notAfter`), in seconds
    /// since the epoch.
    pub fn not_after(&self) -> Option<i64> {
        let current = self.certificate.get();
        let certificate = x509_cert::Certificate::from_der(current.cert.first()?).ok()?;
        let not_after = certificate.tbs_certificate.validity.not_after;
        i64::try_from(not_after.to_unix_duration().as_secs()).ok()
    }

    /// What to warn at `now` of the certificate in use: that it expired,
    /// or expires within `EXPIRY_WARNING_DAYS`; None while it has longer.
    pub fn expiry_warning(&self, now: i64) -> Option<String> {
        expiry_warning(&self.files.cert, self.not_after()?, now)
    }

    /// The rustls settings; the benchmark's bare server uses them too.
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

/// What to warn at `now` of the certificate in `path`, which expires at
/// `not_after`.
fn expiry_warning(path: &Path, not_after: i64, now: i64) -> Option<String> {
    let path = path.display();
    let at = format_time(not_after);
    let replace = "replace the certificate and key files and send tokend SIGHUP";
    if not_after <= now {
        return Some(format!(
            "tokend: the TLS certificate {path} expired at {at}: clients refuse it; {replace}"
        ));
    }
    let days = (not_after - now) / 86_400;
    (days < EXPIRY_WARNING_DAYS).then(|| {
        format!("tokend: the TLS certificate {path} expires at {at}, in {days} days; {replace}")
    })
}

/// A certificate's SHA-256 fingerprint as `openssl x509 -fingerprint`
/// writes it: upper-case hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut text = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02X}");
    }
    text
}

/// The certificate every handshake is answered with, replaced on reload.
#[derive(Debug)]
struct Reloadable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloadable {
    fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// ring, with the AEAD suites with forward secrecy only: TLS 1.3's three,
/// and for TLS 1.2 ECDHE with ECDSA or RSA and AES-GCM or
/// ChaCha20-Poly1305. (rustls has no CBC, RC4, 3DES or static-RSA suites
/// to leave out; listing them here keeps the choice in one visible place.)
///
/// In this order, the server's: AES-128-GCM first. Its 128-bit strength
/// matches the key exchange's (X25519, P-256), so AES-256 adds nothing an
/// attacker could not get more cheaply by breaking the key exchange; and
/// its key schedule hashes with SHA-256, which CPUs do in hardware, where
/// AES-256-GCM's SHA-384 took an eighth of a full handshake's CPU.
///
/// rustls marks ring's provider deprecated because ring has no
/// post-quantum key exchange; the provider that has one (aws-lc-rs) is a
/// C library built with cmake, which the air-gapped build does without.
/// Key exchange is X25519, P-256 or P-384.
#[allow(deprecated)]
fn modern_provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..provider::default_provider()
    }
}

fn load_certificate(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let chain = read_chain(&files.cert)?;
    let key = read_key(&files.key)?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "TOKEND_TLS_KEY {} is not the key of the certificate in TOKEND_TLS_CERT {}",
            files.key.display(),
            files.cert.display()
        ),
        e => format!(
            "TOKEND_TLS_CERT {} / TOKEND_TLS_KEY {}: {e}",
            files.cert.display(),
            files.key.display()
        ),
    })?;
    Ok(Arc::new(certified))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let problem = |why: String| format!("TOKEND_TLS_CERT {}: {why}", path.display());
    let bytes = std::fs::read(path).map_err(|e| problem(format!("cannot read it: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(problem(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    // The end-entity certificate must parse: a chain of garbage between
    // the right PEM lines would fail only at the first handshake.
    rustls::server::ParsedCertificate::try_from(&chain[0])
        .map_err(|e| problem(format!("the first certificate is not valid X.509: {e}")))?;
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let problem = |why: &str| format!("TOKEND_TLS_KEY {}: {why}", path.display());
    let bytes = std::fs::read(path).map_err(|e| problem(&format!("cannot read it: {e}")))?;
    // The parser's own error could quote the file; only its kind is said.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => problem(
            "holds no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC: -----BEGIN … PRIVATE KEY-----)",
        ),
        _ => problem("not a readable PEM private key"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn a_certificate_is_warned_of_within_30_days_and_once_expired() {
        let path = Path::new("/etc/tokend/cert.pem");
        let not_after = 1_800_000_000;
        assert_eq!(expiry_warning(path, not_after, not_after - 30 * DAY), None);
        let soon = expiry_warning(path, not_after, not_after - 30 * DAY + 1).unwrap();
        assert!(soon.contains("/etc/tokend/cert.pem"), "{soon}");
        assert!(
            soon.contains("expires at 2027-01-15T08:00:00Z, in 29 days"),
            "{soon}"
        );
        let last = expiry_warning(path, not_after, not_after - 1).unwrap();
        assert!(last.contains("in 0 days"), "{last}");
        for now in [not_after, not_after + 365 * DAY] {
            let expired = expiry_warning(path, not_after, now).unwrap();
            assert!(
                expired.contains("expired at 2027-01-15T08:00:00Z: clients refuse it"),
                "{expired}"
            );
        }
    }
}
