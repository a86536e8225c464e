//! The outgoing side of webhooks: one HTTPS POST per attempt, with hyper's
//! HTTP/1.1 client over tokio-rustls (rustls on ring, as the server side),
//! on a single-threaded runtime of the delivery thread's own. Certificates
//! are checked against the system's roots, plus the private CAs an admin
//! names (`TOKEND_WEBHOOK_CA_FILE`). A whole attempt (resolving, connecting,
//! the handshake, the answer's head) has one timeout; redirects are not
//! followed (a 3xx is a failed attempt, as GitHub has it). Errors name
//! what failed, never the URL's path or query, which may hold the
//! receiver's own secret.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

use crate::domain::{WebhookRequest, WebhookSender};

/// How long one attempt may take, from resolving the host to the head of
/// the answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct WebhookClient {
    connector: TlsConnector,
    runtime: tokio::runtime::Runtime,
}

impl WebhookClient {
    /// A client trusting the system's roots and the certificates in
    /// `extra_ca_pem` (one or more PEM certificates).
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<WebhookClient, String> {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped, as lettre does: a
        // private CA may be all a lab trusts.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(pem) = extra_ca_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("TOKEND_WEBHOOK_CA_FILE: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("TOKEND_WEBHOOK_CA_FILE: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("TOKEND_WEBHOOK_CA_FILE holds no PEM certificate".into());
            }
        }
        let provider = Arc::new(ring_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the webhook client: {e}"))?;
        Ok(WebhookClient {
            connector: TlsConnector::from(Arc::new(config)),
            runtime,
        })
    }

    async fn send(&self, request: &WebhookRequest<'_>) -> Result<u16, String> {
        let url = url::Url::parse(request.url).map_err(|e| format!("the URL: {e}"))?;
        let host = url.host().ok_or("the URL names no host")?;
        let port = url.port_or_known_default().unwrap_or(443);
        let (name, authority, address) = match host {
            url::Host::Domain(domain) => (
                ServerName::try_from(domain.to_string()).map_err(|e| format!("host: {e}"))?,
                domain.to_string(),
                None,
            ),
            url::Host::Ipv4(ip) => (
                ServerName::IpAddress(IpAddr::V4(ip).into()),
                ip.to_string(),
                Some(IpAddr::V4(ip)),
            ),
            url::Host::Ipv6(ip) => (
                ServerName::IpAddress(IpAddr::V6(ip).into()),
                format!("[{ip}]"),
                Some(IpAddr::V6(ip)),
            ),
        };
        let target = match address {
            Some(ip) => std::net::SocketAddr::new(ip, port),
            None => tokio::net::lookup_host((authority.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve {authority}: {e}"))?
                .next()
                .ok_or_else(|| format!("{authority} has no address"))?,
        };
        let tcp = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {authority}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let connection = tokio::spawn(connection);
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let host_header = match url.port() {
            Some(port) => format!("{authority}:{port}"),
            None => authority.clone(),
        };
        let mut builder = hyper::Request::post(path).header(hyper::header::HOST, host_header);
        for (name, value) in request.headers {
            builder = builder.header(*name, value.as_str());
        }
        let outgoing = builder
            .body(Full::new(Bytes::copy_from_slice(request.body)))
            .map_err(|e| format!("the request: {e}"))?;
        let answer = sender
            .send_request(outgoing)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = answer.status().as_u16();
        // The answer's body is not read: only its status counts.
        drop(answer);
        drop(sender);
        connection.abort();
        Ok(status)
    }
}

/// ring's default suites and key exchanges, as the server's TLS: rustls
/// marks ring's provider deprecated for its lack of a post-quantum key
/// exchange (see `http::tls`).
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl WebhookSender for WebhookClient {
    fn post(&self, request: &WebhookRequest<'_>) -> Result<u16, String> {
        self.runtime.block_on(async {
            match tokio::time::timeout(ATTEMPT_TIMEOUT, self.send(request)).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs())),
            }
        })
    }
}
