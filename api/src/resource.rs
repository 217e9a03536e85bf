//! RFC 8707 resource indicators: which MCP server a token is for.
//!
//! Clients disagree on how they spell the MCP server's URL, so a requested resource is matched
//! to a configured one leniently in two ways only, both seen in the field:
//! - a trailing slash after an origin (`https://host/` vs `https://host`): SDKs add it;
//! - a query string (`https://host/mcp?utm_source=plugin`): Claude Code sends the URL it was
//!   configured with, query included, and a query never names another MCP server here unless
//!   the operator configured one with a query (then that one must be named exactly).
//!
//! Anything else unknown is refused (`invalid_target`). The audience put in tokens is the
//! resource exactly as the operator configured it, which is what the MCP server compares.
//!
//! With no resource configured (trial mode) any valid resource is accepted as named, and a
//! request naming none gets the issuer as its audience: the token is well formed, and no MCP
//! server will take a token whose `aud` is the authorization server itself.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("resource must be an absolute URI without a fragment")]
    Invalid,
    #[error("resource is not served by this authorization server")]
    Unknown,
    #[error("resource is required: this server protects several resources")]
    Ambiguous,
}

/// The comparable form of a resource URI.
pub fn canonical(resource: &str) -> Result<String, ResourceError> {
    let url = parse(resource)?;
    Ok(canonical_url(&url))
}

fn parse(resource: &str) -> Result<Url, ResourceError> {
    let url = Url::parse(resource).map_err(|_| ResourceError::Invalid)?;
    if url.fragment().is_some() || url.cannot_be_a_base() {
        return Err(ResourceError::Invalid);
    }
    Ok(url)
}

fn canonical_url(url: &Url) -> String {
    let mut s = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        s.pop();
    }
    s
}

/// mcpauth's own admin API as an RFC 8707 resource: tokens for it (`aud` = this) are what the
/// admin API accepts. Always served, whatever resources are configured.
pub fn admin_audience(issuer: &str) -> String {
    format!("{}/api/v1", issuer.trim_end_matches('/'))
}

/// The configured resources and the admin API: what a token request may name.
pub fn with_admin_audience(configured: &[String], issuer: &str) -> Vec<String> {
    let mut resources = configured.to_vec();
    if !resources.is_empty() {
        resources.push(admin_audience(issuer));
    }
    resources
}

/// Decide the audience for a request that named `requested` (or nothing), given the configured
/// resources and, for trial mode, the issuer. Naming the admin API is always accepted.
pub fn resolve(
    requested: Option<&str>,
    configured: &[String],
    issuer: &str,
) -> Result<String, ResourceError> {
    let admin = admin_audience(issuer);
    if requested.is_some_and(|r| canonical(r).is_ok_and(|c| Ok(c) == canonical(&admin))) {
        return Ok(admin);
    }
    match (requested, configured) {
        (Some(requested), configured) => named(requested, configured),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Ok(issuer.to_owned()),
        (None, _) => Err(ResourceError::Ambiguous),
    }
}

/// The audience for a request that named `requested`: in trial mode (nothing configured) the
/// resource as named, else the configured resource it names.
pub fn named(requested: &str, configured: &[String]) -> Result<String, ResourceError> {
    if configured.is_empty() {
        return canonical(requested);
    }
    matching(requested, configured)
}

/// The configured resource `requested` names: the same canonical URI, or failing that the same
/// once the request's query is dropped (only configured resources without a query match so).
fn matching(requested: &str, configured: &[String]) -> Result<String, ResourceError> {
    let url = parse(requested)?;
    let exact = canonical_url(&url);
    if let Some(found) = configured
        .iter()
        .find(|r| canonical(r).as_deref() == Ok(exact.as_str()))
    {
        return Ok(found.clone());
    }
    if url.query().is_none() {
        return Err(ResourceError::Unknown);
    }
    let mut without_query = url;
    without_query.set_query(None);
    let stripped = canonical_url(&without_query);
    configured
        .iter()
        .find(|r| parse(r).is_ok_and(|c| c.query().is_none() && canonical_url(&c) == stripped))
        .cloned()
        .ok_or(ResourceError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://auth.example";

    #[test]
    fn root_slash_is_insignificant_elsewhere_not() {
        assert_eq!(
            canonical("https://Host.example/").unwrap(),
            "https://host.example"
        );
        assert_eq!(
            canonical("https://host.example").unwrap(),
            "https://host.example"
        );
        assert_eq!(
            canonical("https://host.example:443/mcp").unwrap(),
            "https://host.example/mcp"
        );
        assert_ne!(
            canonical("https://h/mcp").unwrap(),
            canonical("https://h/mcp/").unwrap()
        );
        assert_eq!(canonical("https://h/#x"), Err(ResourceError::Invalid));
        assert_eq!(canonical("not a uri"), Err(ResourceError::Invalid));
    }

    #[test]
    fn resolution() {
        let one = vec!["https://mcp.example/".to_owned()];
        assert_eq!(
            resolve(Some("https://mcp.example"), &one, ISSUER).unwrap(),
            "https://mcp.example/"
        );
        assert_eq!(resolve(None, &one, ISSUER).unwrap(), "https://mcp.example/");
        assert_eq!(
            resolve(Some("https://evil.example"), &one, ISSUER),
            Err(ResourceError::Unknown)
        );
        let two = vec![
            "https://a.example/mcp".to_owned(),
            "https://b.example/mcp".to_owned(),
        ];
        assert_eq!(resolve(None, &two, ISSUER), Err(ResourceError::Ambiguous));
        assert_eq!(
            resolve(Some("https://b.example/mcp"), &two, ISSUER).unwrap(),
            "https://b.example/mcp"
        );
        assert_eq!(
            resolve(Some("https://any.example/"), &[], ISSUER).unwrap(),
            "https://any.example"
        );
    }

    #[test]
    fn the_admin_api_is_always_a_resource() {
        let one = vec!["https://mcp.example/".to_owned()];
        let admin = format!("{ISSUER}/api/v1");
        assert_eq!(resolve(Some(&admin), &one, ISSUER).unwrap(), admin);
        assert_eq!(resolve(Some(&admin), &[], ISSUER).unwrap(), admin);
        // Naming nothing still means the one configured resource, not the admin API.
        assert_eq!(resolve(None, &one, ISSUER).unwrap(), "https://mcp.example/");
        let resources = with_admin_audience(&one, ISSUER);
        assert_eq!(named(&admin, &resources).unwrap(), admin);
        assert!(with_admin_audience(&[], ISSUER).is_empty());
    }

    #[test]
    fn trial_mode_without_a_resource_is_for_the_issuer() {
        assert_eq!(resolve(None, &[], ISSUER).unwrap(), ISSUER);
        assert_eq!(
            resolve(Some("https://any.example/mcp?x=1"), &[], ISSUER).unwrap(),
            "https://any.example/mcp?x=1",
            "named: accepted as named"
        );
        assert_eq!(
            resolve(Some("nope"), &[], ISSUER),
            Err(ResourceError::Invalid)
        );
    }

    #[test]
    fn a_query_string_names_the_resource_without_it() {
        let one = vec!["https://mcp.example/mcp".to_owned()];
        assert_eq!(
            resolve(
                Some("https://mcp.example/mcp?utm_source=plugin"),
                &one,
                ISSUER
            )
            .unwrap(),
            "https://mcp.example/mcp"
        );
        let origin = vec!["https://mcp.example".to_owned()];
        assert_eq!(
            resolve(
                Some("https://mcp.example/?utm_source=plugin"),
                &origin,
                ISSUER
            )
            .unwrap(),
            "https://mcp.example",
            "query and root slash together"
        );
        // Only the query is forgiven: another path, host, port or scheme stays unknown.
        for other in [
            "https://mcp.example/mcp/?utm_source=plugin",
            "https://mcp.example/other?utm_source=plugin",
            "https://mcp.example:8443/mcp?utm_source=plugin",
            "http://mcp.example/mcp?utm_source=plugin",
            "https://evil.example/mcp?utm_source=plugin",
            "https://mcp.example/mcp?utm_source=plugin#frag",
        ] {
            assert!(resolve(Some(other), &one, ISSUER).is_err(), "{other}");
        }
    }

    #[test]
    fn a_configured_query_must_be_named_exactly() {
        let tenants = vec![
            "https://mcp.example/mcp?tenant=a".to_owned(),
            "https://mcp.example/mcp?tenant=b".to_owned(),
        ];
        assert_eq!(
            resolve(Some("https://mcp.example/mcp?tenant=b"), &tenants, ISSUER).unwrap(),
            "https://mcp.example/mcp?tenant=b"
        );
        assert_eq!(
            resolve(Some("https://mcp.example/mcp?tenant=c"), &tenants, ISSUER),
            Err(ResourceError::Unknown)
        );
        assert_eq!(
            resolve(Some("https://mcp.example/mcp"), &tenants, ISSUER),
            Err(ResourceError::Unknown)
        );
    }
}
