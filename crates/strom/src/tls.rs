//! The TLS listener (OCPP security profiles 2 and 3; 1.6 security whitepaper §2.2–2.3, 2.0.1
//! A00.FR.3xx–4xx): TLS 1.2 and 1.3 only, with rustls; a client certificate, when the station
//! presents one, verified against the configured client CA and handed to the gateway as the
//! connection's `Transport`, whose CN and O the gateway checks against the station; the server's
//! certificate and key, and the client CA, read again on SIGHUP without a restart.
//!
//! Connections come from the same `GatedListener` as plain ones, so a client that opens a
//! connection and says nothing holds a handshake place only until `handshake_timeout`; the TLS
//! handshake and then the HTTP request head must each arrive within it too.

use crate::config::TlsSettings;
use crate::listener::{Gated, GatedListener, Limits};
use anyhow::{bail, Context, Result};
use axum::Router;
use csms_core::security::{ClientCertificate, Transport};
use csms_metrics::CounterVec;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

/// The server configuration in use, replaced whole on reload; a connection takes the one current
/// when it is accepted.
pub struct TlsConfig {
    settings: TlsSettings,
    current: RwLock<Arc<ServerConfig>>,
    pub metrics: Arc<TlsMetrics>,
}

/// What the TLS listener counts, for `/metrics`.
#[derive(Debug, Default)]
pub struct TlsMetrics {
    /// Failed TLS handshakes by reason.
    failed: CounterVec,
    /// Reloads by result (ok, failed).
    reloads: CounterVec,
    /// When the server certificate in use expires (Unix seconds).
    not_after: AtomicI64,
}

impl TlsMetrics {
    pub fn render(&self, out: &mut String) {
        self.failed.render(
            out,
            "strom_tls_handshakes_failed_total",
            "TLS handshakes that failed, by reason: incompatible (e.g. TLS below 1.2, no common cipher suite), bad_certificate (a client certificate that is expired, of another CA, or otherwise invalid), timeout, other.",
        );
        self.reloads.render(
            out,
            "strom_tls_reloads_total",
            "Reloads of the TLS certificate, key and client CA on SIGHUP, by result (ok, failed: the old ones stay in use).",
        );
        csms_metrics::render_gauge(
            out,
            "strom_tls_certificate_not_after_seconds",
            "When the TLS listener's server certificate expires, as a Unix timestamp.",
            &[(Vec::new(), self.not_after.load(Ordering::Relaxed) as f64)],
        );
    }
}

impl TlsConfig {
    /// Reads the certificate, key and client CA; an error says which file is wrong and how.
    pub fn load(settings: TlsSettings) -> Result<Arc<TlsConfig>> {
        let (config, not_after) = server_config(&settings)?;
        let metrics = Arc::new(TlsMetrics::default());
        metrics.not_after.store(not_after, Ordering::Relaxed);
        Ok(Arc::new(TlsConfig { settings, current: RwLock::new(config), metrics }))
    }

    fn current(&self) -> Arc<ServerConfig> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again; on success new connections use them, on failure the old ones stay.
    pub fn reload(&self) -> Result<()> {
        let loaded = server_config(&self.settings);
        let result = if loaded.is_ok() { "ok" } else { "failed" };
        self.metrics.reloads.inc(&[("result", result)]);
        let (config, not_after) = loaded?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        self.metrics.not_after.store(not_after, Ordering::Relaxed);
        Ok(())
    }

    /// Reloads on every SIGHUP until `shutdown`.
    #[cfg(unix)]
    pub fn reload_on_hangup(self: &Arc<Self>, shutdown: CancellationToken) -> Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        let tls = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    received = hangups.recv() => if received.is_none() { return },
                }
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate, key and client CA reloaded"),
                    Err(e) => tracing::error!(
                        error = format!("{e:#}"),
                        "TLS reload failed; the previous certificate stays in use"
                    ),
                }
            }
        });
        Ok(())
    }
}

/// A rustls server configuration from the files, and its certificate's expiry.
fn server_config(settings: &TlsSettings) -> Result<(Arc<ServerConfig>, i64)> {
    // ring: builds with a C compiler alone (aws-lc-rs needs cmake); its TLS 1.2 suites include
    // the ECDHE-ECDSA AES-GCM ones OCPP requires (CHECKLIST §3.1). The TLS_RSA_* suites without
    // forward secrecy are not offered: rustls has none (ARCHITECTURE.md).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&settings.cert)?;
    let not_after = expiry(&chain[0]).with_context(|| format!("reading {}", settings.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&settings.key)
        .with_context(|| format!("reading the private key in {}", settings.key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(path)? {
                roots.add(certificate).with_context(|| format!("a CA certificate in {}", path.display()))?;
            }
            // Stations of profile 2 present no certificate on the same listener; the gateway
            // holds each station to its profile.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .with_context(|| format!("client CA {}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).with_context(|| {
        format!("{} and {} do not make a usable pair", settings.cert.display(), settings.key.display())
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), not_after))
}

fn certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>> {
    let certificates: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .with_context(|| format!("reading certificates in {}", path.display()))?;
    if certificates.is_empty() {
        bail!("no PEM certificate in {}", path.display());
    }
    Ok(certificates)
}

fn expiry(certificate: &CertificateDer<'_>) -> Result<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).context("not an X.509 certificate")?;
    Ok(parsed.validity().not_after.timestamp())
}

/// What a verified client certificate says about its holder; `None` when it cannot be read
/// (rustls verified it, so that does not happen in practice).
fn client_certificate(certificate: &CertificateDer<'_>) -> Option<ClientCertificate> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    let subject = parsed.subject();
    let common_name = subject.iter_common_name().next().and_then(|v| v.as_str().ok()).map(str::to_string);
    let organization = subject.iter_organization().next().and_then(|v| v.as_str().ok()).map(str::to_string);
    Some(ClientCertificate { common_name, organization })
}

/// Serves `app` over TLS on `listener` until `shutdown`: each connection's TLS handshake, then
/// HTTP/1.1 with upgrades, with the connection's `Transport` in every request's extensions.
pub async fn serve(
    listener: GatedListener,
    app: Router,
    tls: Arc<TlsConfig>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let mut listener = listener;
    loop {
        let (io, addr) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
        };
        let (app, config, metrics, shutdown) = (app.clone(), tls.current(), tls.metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Some((stream, transport)) = handshake(io, config, &metrics, limits.handshake_timeout).await {
                serve_connection(stream, app, transport, limits.handshake_timeout, shutdown).await;
            } else {
                tracing::debug!(%addr, "TLS handshake failed");
            }
        });
    }
}

type TlsStream = tokio_rustls::server::TlsStream<Gated>;

async fn handshake(
    io: Gated,
    config: Arc<ServerConfig>,
    metrics: &TlsMetrics,
    timeout: std::time::Duration,
) -> Option<(TlsStream, Transport)> {
    let accepted = tokio::time::timeout(timeout, tokio_rustls::TlsAcceptor::from(config).accept(io)).await;
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            metrics.failed.inc(&[("reason", failure_reason(&e))]);
            return None;
        }
        Err(_) => {
            metrics.failed.inc(&[("reason", "timeout")]);
            return None;
        }
    };
    let client_certificate =
        stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).and_then(client_certificate);
    Some((stream, Transport { tls: true, client_certificate }))
}

/// The metric's reason for a failed handshake.
fn failure_reason(error: &std::io::Error) -> &'static str {
    match error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::PeerIncompatible(_)) => "incompatible",
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => "bad_certificate",
        _ if error.kind() == std::io::ErrorKind::TimedOut => "timeout",
        _ => "other",
    }
}

async fn serve_connection(
    stream: TlsStream,
    app: Router,
    transport: Transport,
    header_timeout: std::time::Duration,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(transport.clone());
        app.clone().call(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "TLS connection ended with an error");
    }
}
