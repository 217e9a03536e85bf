//! Name resolution for fetches, behind a small trait.
//!
//! Production uses the system resolver. The trait exists so that a deployment (or a test) can
//! say where a name points without touching the system's DNS; whatever it answers still goes
//! through the refused-address check, and the connection goes to exactly the addresses it
//! returned (see `guarded_dns`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// The addresses of a host name.
pub type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves host names to addresses (one call per fetch).
pub trait HostLookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver (getaddrinfo, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}
