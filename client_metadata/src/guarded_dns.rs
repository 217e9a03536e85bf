//! The DNS resolver reqwest uses for client metadata fetches: it resolves once, drops every
//! refused address, and hands reqwest only the addresses that passed. reqwest connects to what
//! this returns and never resolves the name again, so a name cannot pass the check with one
//! answer and connect with another (DNS rebinding).
//!
//! IP-literal URLs never reach a resolver (the connector parses them itself); the fetcher
//! checks those before sending anything.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address_policy::refused_reason;
use crate::{ClientMetadataConfig, ClientMetadataError, HostLookup};

/// A refusal decided during name resolution, carried through reqwest's error chain so that the
/// fetcher can report it as it is.
#[derive(Debug)]
pub(crate) struct ResolveRefusal(pub(crate) ClientMetadataError);

impl std::fmt::Display for ResolveRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ResolveRefusal {}

pub(crate) struct GuardedResolver {
    lookup: Arc<dyn HostLookup>,
    config: Arc<ClientMetadataConfig>,
}

impl GuardedResolver {
    pub(crate) fn new(lookup: Arc<dyn HostLookup>, config: Arc<ClientMetadataConfig>) -> Self {
        Self { lookup, config }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allowed = self.config.is_allowed_host(&host);
        let lookup = self.lookup.lookup(&host);
        Box::pin(async move {
            let refuse = |error: ClientMetadataError| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(ResolveRefusal(error))
            };
            let ips = lookup.await.map_err(|error| {
                tracing::debug!(%host, %error, "client metadata host did not resolve");
                refuse(ClientMetadataError::Unresolvable { host: host.clone() })
            })?;
            if ips.is_empty() {
                return Err(refuse(ClientMetadataError::Unresolvable { host }));
            }
            let mut first_reason = None;
            let mut usable = Vec::new();
            for ip in ips {
                match refused_reason(ip) {
                    Some(reason) if !allowed => {
                        first_reason.get_or_insert(reason);
                    }
                    _ => usable.push(SocketAddr::new(ip, 0)),
                }
            }
            if usable.is_empty() {
                let reason = first_reason.unwrap_or("no usable address");
                return Err(refuse(ClientMetadataError::AddressRefused { host, reason }));
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}
