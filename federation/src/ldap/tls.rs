//! TLS to the directory: our own rustls configuration on ring, trusting the CA given in
//! `ca_pem`, or the system's trust store without it.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::UpstreamError;

/// A rustls client configuration on the ring provider trusting exactly the CAs in `ca_pem`,
/// or, without it, the system's trust store (where company CAs are usually installed).
pub(super) fn tls_config(ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, UpstreamError> {
    let misconfigured = |what: String| UpstreamError::Misconfigured(format!("ca_pem: {what}"));
    let roots = match ca_pem.filter(|pem| !pem.trim().is_empty()) {
        Some(pem) => roots_from_pem(pem).map_err(misconfigured)?,
        None => system_roots()?,
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| UpstreamError::Misconfigured(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The system's trusted CAs; none at all is a misconfiguration (give ca_pem).
///
/// Read from disk once per process: the store is a few hundred files, and reading it on every
/// login would block an HTTP worker each time.
fn system_roots() -> Result<RootCertStore, UpstreamError> {
    static SYSTEM_ROOTS: std::sync::OnceLock<RootCertStore> = std::sync::OnceLock::new();
    let roots = SYSTEM_ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    });
    if roots.is_empty() {
        return Err(UpstreamError::Misconfigured(
            "no ca_pem given and no CA certificates found in the system trust store: give the PEM of the CA that signed the directory's certificate".into(),
        ));
    }
    Ok(roots.clone())
}

fn roots_from_pem(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("unreadable PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate ({e})"))?;
    }
    if roots.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(roots)
}
