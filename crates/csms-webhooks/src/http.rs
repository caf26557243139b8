//! One POST to a webhook endpoint: HTTP/1.1 over TCP, or over TLS (rustls, the endpoint's
//! certificate checked against `Settings::ca_file`), within the timeout.

use crate::Settings;
use csms_store::StoredEvent;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as the `x-strom-signature` header
/// carries it.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts events; shared by every worker.
pub struct Client {
    timeout: Duration,
    /// For `https`; why there is none otherwise.
    tls: Result<tokio_rustls::TlsConnector, String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("timeout", &self.timeout).field("tls", &self.tls.is_ok()).finish()
    }
}

impl Client {
    pub fn new(settings: &Settings) -> Client {
        Client { timeout: settings.timeout, tls: tls_connector(settings.ca_file.as_deref()) }
    }

    /// Posts `event` to `url`; the HTTP status, or why there is none.
    pub async fn post(&self, url: &str, secret: &str, event: &StoredEvent, attempt: u32) -> Result<u16, String> {
        match tokio::time::timeout(self.timeout, self.post_now(url, secret, event, attempt)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }

    async fn post_now(&self, url: &str, secret: &str, event: &StoredEvent, attempt: u32) -> Result<u16, String> {
        let target = Target::parse(url)?;
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("could not connect to {}:{}: {e}", target.host, target.port))?;
        let _ = tcp.set_nodelay(true);
        let request = hyper::Request::post(&target.path)
            .header("host", &target.authority)
            .header("content-type", "application/json")
            .header("user-agent", concat!("Strom/", env!("CARGO_PKG_VERSION")))
            .header("x-strom-event", &event.kind)
            .header("x-strom-event-id", event.id.to_string())
            .header("x-strom-delivery-attempt", attempt.to_string())
            .header("x-strom-signature", signature(secret, event.json.as_bytes()))
            .body(Full::new(Bytes::from(event.json.clone())))
            .map_err(|e| format!("could not build the request: {e}"))?;
        if target.tls {
            let connector = self.tls.as_ref().map_err(Clone::clone)?;
            let name = ServerName::try_from(target.host.clone()).map_err(|e| format!("bad host name: {e}"))?;
            let stream = connector.connect(name, tcp).await.map_err(|e| format!("TLS handshake failed: {e}"))?;
            send(stream, request).await
        } else {
            send(tcp, request).await
        }
    }
}

async fn send<S>(stream: S, request: hyper::Request<Full<Bytes>>) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| format!("the request failed: {e}"))?;
    let status = response.status().as_u16();
    // The body is read (and dropped) so the connection ends cleanly.
    let _ = response.into_body().collect().await;
    Ok(status)
}

fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector, String> {
    let path = ca_file.ok_or("https endpoints need webhook_ca_file")?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|e| format!("the certificates in {} could not be read: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(format!("no usable certificate in {}", path.display()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Where a URL (checked by `csms_core::webhooks::check_url`) points.
#[derive(Debug, PartialEq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// `host[:port]` as written, for the Host header.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(format!("{url:?} is no http or https URL")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let path = path.split('#').next().unwrap_or_default();
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or("bad IPv6 host")?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("bad port {p:?}"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(Target { tls, host: host.to_string(), port, authority: authority.to_string(), path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart() {
        let t = Target::parse("http://127.0.0.1:9000/hooks/a?x=1#frag").expect("parsed");
        assert_eq!(
            t,
            Target {
                tls: false,
                host: "127.0.0.1".into(),
                port: 9000,
                authority: "127.0.0.1:9000".into(),
                path: "/hooks/a?x=1".into()
            }
        );
        let t = Target::parse("https://example.com").expect("parsed");
        assert_eq!((t.tls, t.port, t.path.as_str()), (true, 443, "/"));
        let t = Target::parse("http://[::1]:81?q").expect("parsed");
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("::1", 81, "/?q"));
        assert!(Target::parse("http://h:99999/").is_err());
        assert!(Target::parse("ftp://h/").is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
