//! TLS for the IRC connection (port 6697 on most networks), with rustls.
//!
//! Servers are checked against the usual public certificate authorities
//! (webpki-roots), plus any given in a PEM file: a private network's CA, or
//! a test server's own certificate.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// How the connection is encrypted.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// A PEM file of certificates to trust besides the public authorities.
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    /// The connector for this setting; an error says which file is wrong.
    pub fn connector(&self) -> Result<TlsConnector, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read tls_ca_file {}: {e}", path.display()))?;
            let mut added = 0;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    format!(
                        "tls_ca_file {} is not PEM certificates: {e}",
                        path.display()
                    )
                })?;
                roots.add(cert).map_err(|e| {
                    format!(
                        "tls_ca_file {} holds a bad certificate: {e}",
                        path.display()
                    )
                })?;
                added += 1;
            }
            if added == 0 {
                return Err(format!(
                    "tls_ca_file {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
                    path.display()
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConnector::from(Arc::new(config)))
    }

    /// Does the handshake on `tcp` with `host`, checking its certificate.
    pub async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let connector = self.connector()?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("`{host}` is not a host name TLS can check: {e}"))?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {host} failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_not_pem_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("writes");
        let err = Tls {
            ca_file: Some(path.clone()),
        }
        .connector()
        .err()
        .expect("refused");
        assert!(err.contains("holds no certificate"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        let missing = Tls {
            ca_file: Some(dir.path().join("missing.pem")),
        };
        let err = missing.connector().err().expect("refused");
        assert!(err.contains("cannot read tls_ca_file"), "{err}");
    }

    #[test]
    fn the_public_authorities_are_enough_without_a_file() {
        assert!(Tls::default().connector().is_ok());
    }
}
