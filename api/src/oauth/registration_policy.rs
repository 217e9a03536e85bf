//! The operator's registration policy: whether dynamic client registration (RFC 7591) is open
//! at all, and which redirect URIs a registration may carry beyond the general rules.
//!
//! The patterns are regular expressions (the `regex` crate's syntax), each anchored at both
//! ends by us, so `https://app\.example/cb` cannot be satisfied by
//! `https://evil.example/?https://app.example/cb`. Every redirect URI of a registration must
//! match one pattern. They are compiled once, at start-up, where a bad pattern is an error.
//! They are node-local settings: every node of a cluster reads the same file.

use regex::Regex;
use serde::Deserialize;

/// Whether `/register` is served (config key `registration`: "open" or "off").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone may register (what MCP clients without a pre-registration need).
    #[default]
    Open,
    /// `/register` answers 403 and discovery omits `registration_endpoint`.
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("registration_redirect_patterns: {pattern:?} is not a valid regular expression: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// One redirect pattern: as written, and compiled anchored.
#[derive(Debug, Clone)]
struct Pattern {
    written: String,
    anchored: Regex,
}

#[derive(Debug, Clone, Default)]
pub struct RegistrationPolicy {
    pub mode: RegistrationMode,
    /// Empty: no restriction beyond the general redirect URI rules.
    patterns: Vec<Pattern>,
}

impl RegistrationPolicy {
    /// Compile the patterns (each anchored); the first bad one is the error.
    pub fn new(mode: RegistrationMode, patterns: &[String]) -> Result<Self, PatternError> {
        let patterns = patterns
            .iter()
            .map(|written| {
                Regex::new(&format!("^(?:{written})$"))
                    .map(|anchored| Pattern {
                        written: written.clone(),
                        anchored,
                    })
                    .map_err(|e| PatternError {
                        pattern: written.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { mode, patterns })
    }

    pub fn is_open(&self) -> bool {
        self.mode == RegistrationMode::Open
    }

    /// Whether a registration may carry `uri`: every URI when no pattern is configured, else
    /// a URI one pattern matches whole.
    pub fn permits_redirect(&self, uri: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.anchored.is_match(uri))
    }

    /// The patterns as written (for logs and the admin's eyes).
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.written.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> RegistrationPolicy {
        let owned: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        RegistrationPolicy::new(RegistrationMode::Open, &owned).unwrap()
    }

    #[test]
    fn no_pattern_permits_everything() {
        assert!(policy(&[]).permits_redirect("cursor://anysphere.cursor-mcp/oauth/callback"));
    }

    #[test]
    fn patterns_are_anchored_at_both_ends() {
        let p = policy(&[
            r"https://app\.example/cb",
            r"http://127\.0\.0\.1(:\d+)?/callback",
        ]);
        assert!(p.permits_redirect("https://app.example/cb"));
        assert!(p.permits_redirect("http://127.0.0.1:5000/callback"));
        assert!(p.permits_redirect("http://127.0.0.1/callback"));
        for bad in [
            "https://evil.example/?https://app.example/cb",
            "https://app.example/cb/../evil",
            "https://app.example/cbx",
            "xhttps://app.example/cb",
            "http://127.0.0.1:5000/callback/more",
        ] {
            assert!(!p.permits_redirect(bad), "{bad}");
        }
    }

    #[test]
    fn an_alternation_stays_inside_the_anchors() {
        // Without the group, `^a|b$` would let anything starting with "a" through.
        let p = policy(&[r"https://a\.example/cb|https://b\.example/cb"]);
        assert!(p.permits_redirect("https://b.example/cb"));
        assert!(!p.permits_redirect("https://a.example/cb.evil.example"));
    }

    #[test]
    fn a_bad_pattern_is_named_in_the_error() {
        let err = RegistrationPolicy::new(
            RegistrationMode::Open,
            &[r"https://ok\.example/".into(), "https://(unclosed".into()],
        )
        .unwrap_err();
        assert_eq!(err.pattern, "https://(unclosed");
        assert!(
            err.to_string().contains("not a valid regular expression"),
            "{err}"
        );
    }
}
