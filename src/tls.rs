//! HTTPS: the server's certificate and the TLS handshake of each connection (rustls with
//! ring, TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`, RFC 7301).
//!
//! A certificate comes from `--tls-cert`/`--tls-key` (PEM files), or is made at start
//! by `--tls-self-signed` (rcgen) for the bind address, `localhost` and the loopback
//! addresses. Its SHA-256 fingerprint is what a person compares with the one their
//! browser shows before accepting a self-signed certificate.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::error::StartError;

/// The server side of TLS: the acceptor and the certificate it presents.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    /// The leaf certificate (DER).
    leaf: CertificateDer<'static>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key stays out of `Debug`: only the certificate's fingerprint.
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The TLS `config` asks for: `None` when it serves plain HTTP.
    pub fn from_config(config: &Config) -> Result<Option<Tls>, StartError> {
        match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
            (None, None, false) => Ok(None),
            (Some(_), _, true) => Err(StartError::Config(
                "--tls-self-signed and --tls-cert exclude each other".into(),
            )),
            (Some(cert), Some(key), false) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect())
                    .map_err(|e| StartError::Key(format!("--tls-cert {}: {e}", cert.display())))?;
                if chain.is_empty() {
                    let why = format!("--tls-cert {}: no certificate in it", cert.display());
                    return Err(StartError::Key(why));
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| StartError::Key(format!("--tls-key {}: {e}", key.display())))?;
                Tls::new(chain, key).map(Some)
            }
            (None, None, true) => {
                let (chain, key) = self_signed(config.bind.ip())?;
                Tls::new(chain, key).map(Some)
            }
            _ => Err(StartError::Config(
                "--tls-cert and --tls-key go together".into(),
            )),
        }
    }

    /// TLS with this certificate chain (leaf first) and key.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls, StartError> {
        let leaf = chain
            .first()
            .cloned()
            .ok_or_else(|| StartError::Key("--tls-cert holds no certificate".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StartError::Key(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| StartError::Key(format!("TLS certificate and key: {e}")))?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            leaf,
        })
    }

    /// The leaf certificate (DER), for clients that pin it.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.leaf
    }

    /// The SHA-256 fingerprint of the leaf certificate, as browsers show it
    /// (`AB:CD:…`, 32 bytes).
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.leaf.as_ref());
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// A certificate for `bind` (unless it is the unspecified address), `localhost`,
/// `127.0.0.1` and `::1`, with a new P-256 key. Browsers reaching the server by another
/// address also warn that the name differs: the fingerprint is what to compare.
fn self_signed(
    bind: IpAddr,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), StartError> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".into(), "::1".into()];
    if !bind.is_unspecified() && !bind.is_loopback() {
        names.push(bind.to_string());
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| StartError::Key(format!("--tls-self-signed: {e}")))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| StartError::Key(format!("--tls-self-signed: {e}")))?;
    Ok((vec![made.cert.der().clone()], key))
}
