//! LDAP / Active Directory: bind as the service account, search the user, bind as the user,
//! read the groups. (Being written.)

use super::config::LdapConfigSpec;
use super::{Identity, OutboundLimits, UpstreamError};

/// Check `username` and `password` against the directory and read who they are.
pub async fn authenticate(
    config: &LdapConfigSpec,
    bind_password: Option<&str>,
    username: &str,
    password: &str,
    limits: OutboundLimits,
) -> Result<Identity, UpstreamError> {
    let _ = (config, bind_password, username, password, limits);
    Err(UpstreamError::Misconfigured("LDAP is not built yet".into()))
}
