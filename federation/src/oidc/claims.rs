//! The person's claims, from the ID token and, where it lacks one we map, from the UserInfo
//! endpoint (OpenID Connect Core §5.3, §5.4: a provider that issues an access token may keep
//! profile claims out of the ID token), mapped to our subject, email, name and groups.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Claims;
use crate::config::ClaimMap;
use crate::{Identity, UpstreamError};

/// Claims by name (any name: standard or not), as JSON values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ClaimSet(HashMap<String, Value>);

impl ClaimSet {
    /// The claims of a verified ID token: every extra claim, and the standard ones we read.
    pub(super) fn of_id_token(claims: &Claims) -> Self {
        let mut all = claims.additional_claims().0.clone();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                all.entry(name.to_owned()).or_insert(value);
            }
        };
        let text = |v: Option<String>| v.map(Value::String);
        put("sub", text(Some(claims.subject().as_str().to_owned())));
        put("email", text(claims.email().map(|e| e.as_str().to_owned())));
        put("email_verified", claims.email_verified().map(Value::Bool));
        put(
            "name",
            text(
                claims
                    .name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str().to_owned()),
            ),
        );
        put(
            "preferred_username",
            text(claims.preferred_username().map(|u| u.as_str().to_owned())),
        );
        Self(all)
    }

    fn get(&self, name: &str) -> Option<Value> {
        self.0.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The ID token's `sub`.
    pub(super) fn sub(&self) -> Option<String> {
        as_text(self.get("sub"))
    }

    /// Whether a claim we map (subject, email, name, groups) is missing: then the UserInfo
    /// endpoint may have it.
    pub(super) fn lacks_any(&self, map: &ClaimMap) -> bool {
        [&map.subject, &map.email, &map.name, &map.groups]
            .into_iter()
            .any(|name| self.get(name).is_none())
    }

    /// Add what the UserInfo endpoint says and the ID token did not. Its `sub` must be the ID
    /// token's (§5.3.2: otherwise the answer must not be used, it may be about someone else).
    /// The ID token wins where both speak. An email taken from UserInfo takes its
    /// `email_verified` from there too: a verdict is about the address it came with.
    pub(super) fn fill_from_userinfo(
        &mut self,
        userinfo: Map<String, Value>,
    ) -> Result<(), UpstreamError> {
        let ours = self.sub();
        let theirs = userinfo.get("sub").and_then(Value::as_str);
        if ours.is_none() || theirs != ours.as_deref() {
            return Err(UpstreamError::Invalid(
                "the provider's UserInfo answer is about someone else (its sub is not the ID \
                 token's)"
                    .into(),
            ));
        }
        let email_from_userinfo = self.get("email").is_none() && userinfo.contains_key("email");
        if email_from_userinfo {
            self.0.remove("email_verified");
        }
        for (name, value) in userinfo {
            if value.is_null() || (name == "email_verified" && !email_from_userinfo) {
                continue;
            }
            self.0.entry(name).or_insert(value);
        }
        Ok(())
    }
}

fn as_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn as_list(value: Option<Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.into_iter().filter_map(|v| as_text(Some(v))).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The person, from their claims.
pub(super) fn identity_from(claims: &ClaimSet, map: &ClaimMap) -> Result<Identity, UpstreamError> {
    let subject = as_text(claims.get(&map.subject)).ok_or_else(|| {
        UpstreamError::Invalid(format!("the ID token has no {:?} claim", map.subject))
    })?;
    let mut email = as_text(claims.get(&map.email));
    let verified = claims.get("email_verified").and_then(|v| v.as_bool());
    if map.require_verified_email && email.is_some() && verified != Some(true) {
        return Err(UpstreamError::Denied(
            "the provider has not verified your email address".into(),
        ));
    }
    if verified == Some(false) {
        // Access tokens carry `email` for MCP servers to decide by: never one the provider
        // itself says is unverified (anyone could have typed it).
        email = None;
    }
    Ok(Identity {
        subject,
        username: as_text(claims.get("preferred_username")).or_else(|| email.clone()),
        email,
        name: as_text(claims.get(&map.name)),
        groups: as_list(claims.get(&map.groups)),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id_token(extra: Value) -> ClaimSet {
        let mut base = json!({
            "iss": "https://idp.example.test",
            "aud": ["mcpauth"],
            "exp": 2_000_000_000u64,
            "iat": 1_000_000_000u64,
            "sub": "u-1",
        });
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let claims: Claims = serde_json::from_value(base).expect("claims");
        ClaimSet::of_id_token(&claims)
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn an_email_the_provider_says_is_unverified_is_not_carried() {
        let claims = id_token(json!({"email": "ceo@example.test", "email_verified": false}));
        let identity = identity_from(&claims, &ClaimMap::default()).expect("login");
        assert_eq!(identity.subject, "u-1");
        assert_eq!(identity.email, None);
        assert_eq!(identity.username, None);
    }

    #[test]
    fn a_verified_email_or_one_without_a_verdict_is_carried() {
        for extra in [
            json!({"email": "ceo@example.test", "email_verified": true}),
            json!({"email": "ceo@example.test"}),
        ] {
            let identity = identity_from(&id_token(extra), &ClaimMap::default()).expect("login");
            assert_eq!(identity.email.as_deref(), Some("ceo@example.test"));
        }
    }

    #[test]
    fn userinfo_fills_what_the_id_token_lacks_and_never_overrides_it() {
        let mut claims = id_token(json!({"name": "From the ID token"}));
        assert!(claims.lacks_any(&ClaimMap::default()));
        claims
            .fill_from_userinfo(object(json!({
                "sub": "u-1",
                "name": "From UserInfo",
                "email": "ann@example.test",
                "email_verified": true,
                "groups": ["a", "b"],
                "preferred_username": "ann",
            })))
            .expect("same sub");
        assert!(!claims.lacks_any(&ClaimMap::default()));
        let identity = identity_from(&claims, &ClaimMap::default()).expect("login");
        assert_eq!(identity.name.as_deref(), Some("From the ID token"));
        assert_eq!(identity.email.as_deref(), Some("ann@example.test"));
        assert_eq!(identity.groups, ["a", "b"]);
        assert_eq!(identity.username.as_deref(), Some("ann"));
    }

    #[test]
    fn an_email_from_userinfo_comes_with_its_own_verdict() {
        // The ID token vouches for no address; UserInfo's says its own is unverified.
        let mut claims = id_token(json!({"email_verified": true}));
        claims
            .fill_from_userinfo(object(json!({
                "sub": "u-1", "email": "typed@example.test", "email_verified": false,
            })))
            .expect("same sub");
        let identity = identity_from(&claims, &ClaimMap::default()).expect("login");
        assert_eq!(identity.email, None);
        // UserInfo cannot unverify the ID token's own address.
        let mut claims = id_token(json!({"email": "ceo@example.test", "email_verified": true}));
        claims
            .fill_from_userinfo(object(json!({"sub": "u-1", "email_verified": false})))
            .expect("same sub");
        let identity = identity_from(&claims, &ClaimMap::default()).expect("login");
        assert_eq!(identity.email.as_deref(), Some("ceo@example.test"));
    }

    #[test]
    fn userinfo_about_someone_else_is_refused() {
        for userinfo in [
            json!({"sub": "u-2", "email": "other@example.test"}),
            json!({"email": "no-sub@example.test"}),
            json!({"sub": 1}),
        ] {
            let mut claims = id_token(json!({}));
            let refused = claims
                .fill_from_userinfo(object(userinfo.clone()))
                .expect_err("refused");
            assert!(
                matches!(&refused, UpstreamError::Invalid(m) if m.contains("someone else")),
                "{userinfo}: {refused:?}"
            );
            assert_eq!(claims, id_token(json!({})), "nothing was taken from it");
        }
    }
}
