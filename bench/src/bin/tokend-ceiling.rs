//! The benchmark's ceiling: a bare server on tokend's HTTP engine and
//! threading (one single-threaded runtime per worker, all accepting from one
//! socket, HTTP/1.1 keep-alive, `TCP_NODELAY`) that answers every request
//! with a fixed JSON body the size of an exchange's answer. What tokend
//! reaches is read as a share of what this reaches in the same run. With
//! `--tls-cert` and `--tls-key` it speaks TLS with tokend's own rustls
//! settings (`tokend::http::tls`), so that the cost of TLS itself is
//! measured apart from tokend's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokend::http::tls::{Tls, TlsFiles};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9099")]
    listen: SocketAddr,
    /// Worker threads, as `tokend serve --workers`.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Speak TLS with this certificate (PEM), as tokend's --tls-cert.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// About the size of a token endpoint's answer (an ES256 JWT and its
/// metadata).
fn body() -> Bytes {
    let token = "x".repeat(560);
    Bytes::from(format!(
        r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":1800,"scope":"tokend:token.manage_own"}}"#
    ))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(
            Tls::load(TlsFiles { cert, key })
                .map_err(std::io::Error::other)?
                .config(),
        ),
        _ => None,
    };
    let socket = std::net::TcpListener::bind(args.listen)?;
    socket.set_nonblocking(true)?;
    let body = body();
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|_| {
            let socket = socket.try_clone()?;
            let body = body.clone();
            let tls = tls.clone();
            Ok(std::thread::spawn(move || serve(socket, body, tls)))
        })
        .collect::<std::io::Result<_>>()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("ceiling listening on {scheme}://{}", socket.local_addr()?);
    for worker in workers {
        if let Ok(Err(e)) = worker.join() {
            eprintln!("ceiling: a worker failed: {e}");
        }
    }
    Ok(())
}

fn serve(
    socket: std::net::TcpListener,
    body: Bytes,
    tls: Option<Arc<ServerConfig>>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::from_std(socket)?;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            let tls = tls.clone();
            tokio::task::spawn_local(async move {
                match tls {
                    None => answer(stream, body).await,
                    Some(config) => {
                        if let Ok(stream) = TlsAcceptor::from(config).accept(stream).await {
                            answer(stream, body).await;
                        }
                    }
                }
            });
        }
    })
}

async fn answer<S>(stream: S, body: Bytes)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let service = service_fn(move |_request| {
        let answer = hyper::Response::builder()
            .header("Content-Type", "application/json")
            .header("Cache-Control", "no-store")
            .body(Full::new(body.clone()));
        async move { Ok::<_, Infallible>(answer.unwrap_or_default()) }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
