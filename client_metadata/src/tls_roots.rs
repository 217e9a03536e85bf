//! The TLS configuration of fetches: the system's trusted CAs plus `extra_ca_file` /
//! `extra_ca_pem`, on rustls with ring, HTTP/1.1 only.
//!
//! A minimal container may have no system trust store; then the Mozilla roots shipped in
//! `webpki-roots` stand in, so public documents still verify (a warning says so).

use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::{ClientMetadataConfig, ClientMetadataConfigError};

pub(crate) fn tls_config(
    config: &ClientMetadataConfig,
) -> Result<ClientConfig, ClientMetadataConfigError> {
    let mut roots = system_roots().clone();
    if let Some(path) = &config.extra_ca_file {
        let shown = path.display().to_string();
        let pem =
            std::fs::read_to_string(path).map_err(|e| ClientMetadataConfigError::ExtraCa {
                path: shown.clone(),
                reason: format!("unreadable ({e})"),
            })?;
        add_pem(&mut roots, &pem).map_err(|reason| ClientMetadataConfigError::ExtraCa {
            path: shown,
            reason,
        })?;
    }
    if let Some(pem) = &config.extra_ca_pem {
        add_pem(&mut roots, pem).map_err(|reason| ClientMetadataConfigError::ExtraCa {
            path: "(extra_ca_pem)".into(),
            reason,
        })?;
    }
    let mut tls =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientMetadataConfigError::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Read once per process: the store is a few hundred files.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if roots.is_empty() {
            tracing::warn!(
                "no CA certificates in the system trust store: client metadata fetches trust the built-in Mozilla roots"
            );
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

fn add_pem(roots: &mut RootCertStore, pem: &str) -> Result<(), String> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("unreadable PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate ({e})"))?;
        added += 1;
    }
    if added == 0 {
        return Err("no certificate found".into());
    }
    Ok(())
}
