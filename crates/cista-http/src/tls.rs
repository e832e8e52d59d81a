//! TLS serving with rustls: TLS 1.2 and 1.3 only, forward-secret AEAD suites only, and an
//! acceptor that records each connection's negotiated version and suite so the trust page can
//! report what is actually in use rather than what is configured.

use axum_server::accept::{Accept, NoDelayAcceptor};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ServerConfig, SupportedCipherSuite};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tower::Service;

/// Why TLS could not be set up. Each names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the TLS {what} file {path} does not exist; run `cista init` or set tls.{key}")]
    Missing {
        what: &'static str,
        key: &'static str,
        path: String,
    },
    #[error("the TLS {what} file {path} cannot be read: {problem}")]
    Unreadable {
        what: &'static str,
        path: String,
        problem: String,
    },
    #[error("the TLS setup is invalid: {0}")]
    Invalid(String),
}

/// Only ECDHE key exchange with AEAD ciphers: every suite is forward secret. rustls offers
/// nothing weaker, but the list is explicit so a future default cannot widen it silently.
fn allowed(suite: &SupportedCipherSuite) -> bool {
    matches!(
        suite.suite(),
        CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            | CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// What the server offers, for the trust page.
#[derive(Debug, Clone, Serialize)]
pub struct TlsSettings {
    pub versions: Vec<String>,
    pub cipher_suites: Vec<String>,
    pub key_exchange_groups: Vec<String>,
    #[serde(skip_serializing)]
    pub certificate_file: String,
    #[serde(skip)]
    config: Arc<ServerConfig>,
}

impl TlsSettings {
    /// Loads the certificate chain and key; refuses to continue without both.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, TlsError> {
        let certs = read_certs(cert_file)?;
        let key = read_key(key_file)?;
        Self::from_parts(certs, key, &cert_file.display().to_string())
    }

    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::Invalid(format!("certificate PEM: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| TlsError::Invalid(format!("key PEM: {e}")))?;
        Self::from_parts(certs, key, "(in memory)")
    }

    fn from_parts(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        cert_file: &str,
    ) -> Result<Self, TlsError> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider.cipher_suites.retain(allowed);
        let cipher_suites = provider
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        let key_exchange_groups = provider
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Invalid(format!("certificate and key do not fit: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            versions: vec!["TLS 1.3".to_owned(), "TLS 1.2".to_owned()],
            cipher_suites,
            key_exchange_groups,
            certificate_file: cert_file.to_owned(),
            config: Arc::new(config),
        })
    }

    pub fn rustls_config(&self) -> RustlsConfig {
        RustlsConfig::from_config(self.config.clone())
    }
}

fn read_file(path: &Path, what: &'static str, key: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            TlsError::Missing {
                what,
                key,
                path: path.display().to_string(),
            }
        } else {
            TlsError::Unreadable {
                what,
                path: path.display().to_string(),
                problem: e.to_string(),
            }
        }
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path, "certificate", "cert_file")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Unreadable {
            what: "certificate",
            path: path.display().to_string(),
            problem: format!("not PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Unreadable {
            what: "certificate",
            path: path.display().to_string(),
            problem: "it holds no certificate".to_owned(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_file(path, "key", "key_file")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Unreadable {
        what: "key",
        path: path.display().to_string(),
        problem: format!("it holds no private key: {e}"),
    })
}

/// The TLS parameters of one connection, added to each of its requests.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionTls {
    pub version: String,
    pub cipher_suite: String,
}

/// Counts of negotiated versions since start.
#[derive(Debug, Default)]
pub struct TlsStats {
    by_version: Mutex<BTreeMap<String, u64>>,
}

impl TlsStats {
    fn record(&self, version: &str) {
        let mut map = self
            .by_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry(version.to_owned()).or_default() += 1;
        metrics::counter!("cista_tls_handshakes_total", "version" => version.to_owned())
            .increment(1);
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_version
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

fn version_name(v: Option<rustls::ProtocolVersion>) -> String {
    match v {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    }
}

/// Wraps the rustls acceptor to record each connection's TLS parameters, and sets
/// `TCP_NODELAY` on each accepted socket (RFC 896's Nagle algorithm off). With it on, the
/// last small segment of a response written in several parts (a streamed body: the bundle,
/// a CSV, a long page) waited for the client's acknowledgement of the one before, which
/// Linux delays up to 40 ms: every streamed response on a kept-alive connection took 44 ms
/// where it took 2 (`curl` on the demo's `bundle.json`). Responses are written in whole
/// frames and TLS records, so segments stay full without Nagle.
#[derive(Debug, Clone)]
pub struct DetailedTlsAcceptor {
    inner: RustlsAcceptor<NoDelayAcceptor>,
    stats: Arc<TlsStats>,
}

impl DetailedTlsAcceptor {
    pub fn new(config: RustlsConfig, stats: Arc<TlsStats>) -> Self {
        Self {
            inner: RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new()),
            stats,
        }
    }
}

type AcceptFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

impl<S> Accept<TcpStream, S> for DetailedTlsAcceptor
where
    S: Send + 'static,
{
    type Stream = TlsStream<TcpStream>;
    type Service = WithConnectionTls<axum_server::tls::TlsService<S>>;
    type Future = AcceptFuture<(Self::Stream, Self::Service)>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let handshake = self.inner.accept(stream, service);
        let stats = self.stats.clone();
        Box::pin(async move {
            let (stream, service) = handshake.await?;
            let (_, connection) = stream.get_ref();
            let info = ConnectionTls {
                version: version_name(connection.protocol_version()),
                cipher_suite: connection
                    .negotiated_cipher_suite()
                    .map_or_else(|| "unknown".to_owned(), |s| format!("{:?}", s.suite())),
            };
            stats.record(&info.version);
            Ok((
                stream,
                WithConnectionTls {
                    inner: service,
                    info: Arc::new(info),
                },
            ))
        })
    }
}

/// Adds the connection's `ConnectionTls` to every request on it.
#[derive(Debug, Clone)]
pub struct WithConnectionTls<S> {
    inner: S,
    info: Arc<ConnectionTls>,
}

impl<S, B> Service<http::Request<B>> for WithConnectionTls<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.info.clone());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection the server accepts sends each write at once (`TCP_NODELAY`), after a
    /// whole TLS handshake with a real client.
    #[tokio::test]
    async fn accepted_connections_send_without_waiting_for_acknowledgements() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let settings =
            TlsSettings::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        let acceptor =
            DetailedTlsAcceptor::new(settings.rustls_config(), Arc::new(TlsStats::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert.der().clone()).unwrap();
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            let tcp = TcpStream::connect(address).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .unwrap()
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let (stream, _) = acceptor.accept(tcp, ()).await.unwrap();
        assert!(stream.get_ref().0.nodelay().unwrap());
        drop(client.await.unwrap());
    }
}
