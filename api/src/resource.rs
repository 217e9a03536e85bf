//! RFC 8707 resource indicators: which MCP server a token is for.
//!
//! Clients disagree on a trailing slash after an origin (`https://host/` vs `https://host`), so
//! comparison is slash-insensitive at the root path only. The audience put in tokens is the
//! resource exactly as the operator configured it, which is what the MCP server compares.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("resource must be an absolute URI without a fragment")]
    Invalid,
    #[error("resource is not served by this authorization server")]
    Unknown,
    #[error("resource is required: this server protects several resources")]
    Ambiguous,
    #[error("resource is required: no default resource is configured")]
    Missing,
}

/// The comparable form of a resource URI.
pub fn canonical(resource: &str) -> Result<String, ResourceError> {
    let url = Url::parse(resource).map_err(|_| ResourceError::Invalid)?;
    if url.fragment().is_some() || url.cannot_be_a_base() {
        return Err(ResourceError::Invalid);
    }
    let mut s = url.to_string();
    if url.path() == "/" && url.query().is_none() {
        s.pop();
    }
    Ok(s)
}

/// Decide the audience for a request that named `requested` (or nothing), given the configured
/// resources. With none configured (trial mode) any valid resource is accepted as named.
pub fn resolve(requested: Option<&str>, configured: &[String]) -> Result<String, ResourceError> {
    match (requested, configured) {
        (Some(requested), []) => canonical(requested),
        (Some(requested), configured) => {
            let wanted = canonical(requested)?;
            configured
                .iter()
                .find(|r| canonical(r).as_deref() == Ok(wanted.as_str()))
                .cloned()
                .ok_or(ResourceError::Unknown)
        }
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(ResourceError::Missing),
        (None, _) => Err(ResourceError::Ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            resolve(Some("https://mcp.example"), &one).unwrap(),
            "https://mcp.example/"
        );
        assert_eq!(resolve(None, &one).unwrap(), "https://mcp.example/");
        assert_eq!(
            resolve(Some("https://evil.example"), &one),
            Err(ResourceError::Unknown)
        );
        let two = vec![
            "https://a.example/mcp".to_owned(),
            "https://b.example/mcp".to_owned(),
        ];
        assert_eq!(resolve(None, &two), Err(ResourceError::Ambiguous));
        assert_eq!(
            resolve(Some("https://b.example/mcp"), &two).unwrap(),
            "https://b.example/mcp"
        );
        assert_eq!(resolve(None, &[]), Err(ResourceError::Missing));
        assert_eq!(
            resolve(Some("https://any.example/"), &[]).unwrap(),
            "https://any.example"
        );
    }
}
