//! Validation of a client ID metadata document's body (pure: bytes in, client or refusal out).
//!
//! The rules (draft-ietf-oauth-client-id-metadata-document §4, §4.1, RFC 7591 §2):
//! - a JSON object whose `client_id` equals the URL byte for byte;
//! - `redirect_uris`: a non-empty array of strings (their shape is the api's to judge);
//! - no `client_secret` / `client_secret_expires_at`, no private key material in `jwks`, not
//!   both `jwks` and `jwks_uri`;
//! - `grant_types` (default `["authorization_code"]`) must include `authorization_code`;
//!   unknown grant types are ignored; `response_types` (default `["code"]`) must include `code`;
//! - authentication: `token_endpoint_auth_method` and, as ChatGPT publishes it,
//!   `token_endpoint_auth_methods_supported`. A shared-secret method anywhere is refused (§4.1);
//!   `none` among them, or neither field present, gives a public client; anything else (only
//!   `private_key_jwt`, say) is refused. RFC 7591's default `client_secret_basic` cannot apply
//!   to a document that has no secret, so an absent method means `none`.

use serde_json::{Map, Value};

use crate::{ClientIdUrl, ClientMetadataError, ResolvedClient, Source, AUTH_METHOD_NONE};

const SHARED_SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];
/// JWK members that carry private or symmetric key material (RFC 7517, RFC 7518 §6).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Validate `body` as the document of `url`, and say which copy it is.
pub fn validate_document(
    url: &ClientIdUrl,
    body: &[u8],
    source: Source,
) -> Result<ResolvedClient, ClientMetadataError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ClientMetadataError::NotJson)?;
    let Value::Object(doc) = value else {
        return Err(ClientMetadataError::NotAnObject);
    };
    match doc.get("client_id") {
        Some(Value::String(id)) if id.as_bytes() == url.as_str().as_bytes() => {}
        _ => return Err(ClientMetadataError::ClientIdMismatch),
    }
    for field in ["client_secret", "client_secret_expires_at"] {
        if doc.contains_key(field) {
            return Err(ClientMetadataError::ForbiddenField { field });
        }
    }
    check_keys(&doc)?;
    let redirect_uris = redirect_uris(&doc)?;
    let grant_types = served_grant_types(&doc)?;
    check_response_types(&doc)?;
    let token_endpoint_auth_method = auth_method(&doc)?;
    let localhost_only = redirect_uris.iter().all(|uri| is_loopback_uri(uri));
    Ok(ResolvedClient {
        client_id: url.as_str().to_owned(),
        client_name: optional_string(&doc, "client_name")?,
        client_uri: optional_string(&doc, "client_uri")?,
        logo_uri: optional_string(&doc, "logo_uri")?,
        redirect_uris,
        grant_types,
        token_endpoint_auth_method,
        scope: optional_string(&doc, "scope")?,
        application_type: optional_string(&doc, "application_type")?,
        source,
        localhost_only,
    })
}

fn optional_string(
    doc: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ClientMetadataError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ClientMetadataError::WrongFieldType { field }),
    }
}

/// A list of strings, `None` when the field is absent.
fn optional_string_list(
    doc: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Vec<String>>, ClientMetadataError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ClientMetadataError::WrongFieldType { field }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ClientMetadataError::WrongFieldType { field }),
    }
}

fn redirect_uris(doc: &Map<String, Value>) -> Result<Vec<String>, ClientMetadataError> {
    let uris = match optional_string_list(doc, "redirect_uris") {
        Ok(Some(uris)) => uris,
        Ok(None) | Err(_) => return Err(ClientMetadataError::MissingRedirectUris),
    };
    if uris.is_empty() || uris.iter().any(|uri| uri.trim().is_empty()) {
        return Err(ClientMetadataError::MissingRedirectUris);
    }
    Ok(uris)
}

fn served_grant_types(doc: &Map<String, Value>) -> Result<Vec<String>, ClientMetadataError> {
    let listed = optional_string_list(doc, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    if !listed.iter().any(|g| g == "authorization_code") {
        return Err(ClientMetadataError::NoAuthorizationCodeGrant);
    }
    let mut served = vec!["authorization_code".to_owned()];
    if listed.iter().any(|g| g == "refresh_token") {
        served.push("refresh_token".to_owned());
    }
    Ok(served)
}

fn check_response_types(doc: &Map<String, Value>) -> Result<(), ClientMetadataError> {
    match optional_string_list(doc, "response_types")? {
        Some(types) if !types.iter().any(|t| t == "code") => {
            Err(ClientMetadataError::NoCodeResponseType)
        }
        _ => Ok(()),
    }
}

fn auth_method(doc: &Map<String, Value>) -> Result<&'static str, ClientMetadataError> {
    let mut methods = Vec::new();
    if let Some(method) = optional_string(doc, "token_endpoint_auth_method")? {
        methods.push(method);
    }
    if let Some(listed) = optional_string_list(doc, "token_endpoint_auth_methods_supported")? {
        methods.extend(listed);
    }
    if methods
        .iter()
        .any(|m| SHARED_SECRET_METHODS.contains(&m.as_str()))
    {
        return Err(ClientMetadataError::SharedSecretAuthMethod);
    }
    if methods.is_empty() || methods.iter().any(|m| m == AUTH_METHOD_NONE) {
        Ok(AUTH_METHOD_NONE)
    } else {
        Err(ClientMetadataError::UnsupportedAuthMethod)
    }
}

fn check_keys(doc: &Map<String, Value>) -> Result<(), ClientMetadataError> {
    let jwks = doc.get("jwks").filter(|v| !v.is_null());
    if jwks.is_some() && doc.get("jwks_uri").is_some_and(|v| !v.is_null()) {
        return Err(ClientMetadataError::KeyMaterial);
    }
    let Some(jwks) = jwks else { return Ok(()) };
    let keys = match jwks.get("keys") {
        Some(Value::Array(keys)) => keys,
        _ => return Err(ClientMetadataError::WrongFieldType { field: "jwks" }),
    };
    let private = keys.iter().any(|key| {
        key.as_object()
            .is_some_and(|jwk| PRIVATE_JWK_MEMBERS.iter().any(|m| jwk.contains_key(*m)))
    });
    if private {
        return Err(ClientMetadataError::KeyMaterial);
    }
    Ok(())
}

/// `http(s)://localhost`, `127.0.0.0/8` or `[::1]`, any port.
fn is_loopback_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if url.scheme() != "http" && url.scheme() != "https" {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://client.example/oauth/client.json";

    fn url() -> ClientIdUrl {
        ClientIdUrl::parse(URL).expect("a client_id URL")
    }

    fn check(doc: Value) -> Result<ResolvedClient, ClientMetadataError> {
        validate_document(&url(), doc.to_string().as_bytes(), Source::Fetched)
    }

    fn good() -> Value {
        json!({
            "client_id": URL,
            "client_name": "Example (beta)",
            "redirect_uris": ["https://client.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none"
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut doc = good();
        doc[field] = value;
        doc
    }

    fn without(field: &str) -> Value {
        let mut doc = good();
        if let Some(o) = doc.as_object_mut() {
            o.remove(field);
        }
        doc
    }

    #[test]
    fn a_good_document_is_a_public_client() {
        let client = check(good()).expect("accepted");
        assert_eq!(client.client_id, URL);
        assert_eq!(client.client_name.as_deref(), Some("Example (beta)"));
        assert_eq!(client.redirect_uris, ["https://client.example/cb"]);
        assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(client.token_endpoint_auth_method, "none");
        assert_eq!(client.source, Source::Fetched);
        assert!(!client.localhost_only);
        assert!(client.allows_refresh_token());
        assert_eq!(client.application_type, None);
        let native = check(with("application_type", json!("native"))).expect("accepted");
        assert_eq!(native.application_type.as_deref(), Some("native"));
    }

    #[test]
    fn the_client_id_must_match_byte_for_byte() {
        for other in [
            json!("https://client.example/oauth/client.json/"),
            json!("https://CLIENT.example/oauth/client.json"),
            json!("https://client.example:443/oauth/client.json"),
            json!("https://client.example/oauth/other.json"),
            json!(null),
            json!(42),
        ] {
            assert_eq!(
                check(with("client_id", other)),
                Err(ClientMetadataError::ClientIdMismatch)
            );
        }
        assert_eq!(
            check(without("client_id")),
            Err(ClientMetadataError::ClientIdMismatch)
        );
    }

    #[test]
    fn not_json_or_not_an_object_is_refused() {
        let url = url();
        assert_eq!(
            validate_document(&url, b"<html>hi</html>", Source::Fetched),
            Err(ClientMetadataError::NotJson)
        );
        assert_eq!(
            validate_document(&url, b"[1,2]", Source::Fetched),
            Err(ClientMetadataError::NotAnObject)
        );
    }

    #[test]
    fn redirect_uris_must_be_a_non_empty_list_of_strings() {
        for bad in [
            json!([]),
            json!("https://a/cb"),
            json!([1]),
            json!([""]),
            json!(null),
        ] {
            assert_eq!(
                check(with("redirect_uris", bad)),
                Err(ClientMetadataError::MissingRedirectUris)
            );
        }
        assert_eq!(
            check(without("redirect_uris")),
            Err(ClientMetadataError::MissingRedirectUris)
        );
    }

    #[test]
    fn secrets_are_refused() {
        for field in ["client_secret", "client_secret_expires_at"] {
            assert_eq!(
                check(with(field, json!("x"))),
                Err(ClientMetadataError::ForbiddenField { field })
            );
        }
    }

    #[test]
    fn unknown_grant_types_are_ignored_but_authorization_code_is_required() {
        let claude_like = with(
            "grant_types",
            json!([
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ]),
        );
        let client = check(claude_like).expect("accepted");
        assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);

        let code_only = check(without("grant_types")).expect("default grant");
        assert_eq!(code_only.grant_types, ["authorization_code"]);
        assert!(!code_only.allows_refresh_token());

        assert_eq!(
            check(with(
                "grant_types",
                json!(["refresh_token", "client_credentials"])
            )),
            Err(ClientMetadataError::NoAuthorizationCodeGrant)
        );
        assert_eq!(
            check(with("response_types", json!(["token"]))),
            Err(ClientMetadataError::NoCodeResponseType)
        );
    }

    #[test]
    fn auth_methods_resolve_to_none_or_are_refused() {
        // ChatGPT: prefers private_key_jwt, also allows none
        let mut chatgpt = with("token_endpoint_auth_method", json!("private_key_jwt"));
        chatgpt["token_endpoint_auth_methods_supported"] = json!(["none", "private_key_jwt"]);
        chatgpt["jwks_uri"] = json!("https://client.example/jwks.json");
        assert_eq!(
            check(chatgpt).map(|c| c.token_endpoint_auth_method),
            Ok("none")
        );
        // only the plural, as chatgpt.com also served it
        let mut plural = without("token_endpoint_auth_method");
        plural["token_endpoint_auth_methods_supported"] = json!(["none", "private_key_jwt"]);
        assert!(check(plural).is_ok());
        // neither field: none, not RFC 7591's client_secret_basic
        assert!(check(without("token_endpoint_auth_method")).is_ok());

        assert_eq!(
            check(with("token_endpoint_auth_method", json!("private_key_jwt"))),
            Err(ClientMetadataError::UnsupportedAuthMethod)
        );
        for secret in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
        ] {
            assert_eq!(
                check(with("token_endpoint_auth_method", json!(secret))),
                Err(ClientMetadataError::SharedSecretAuthMethod)
            );
        }
        let mut mixed = good();
        mixed["token_endpoint_auth_methods_supported"] = json!(["none", "client_secret_basic"]);
        assert_eq!(
            check(mixed),
            Err(ClientMetadataError::SharedSecretAuthMethod)
        );
    }

    #[test]
    fn private_keys_and_double_key_sets_are_refused() {
        let public = json!({"keys": [{"kty": "RSA", "n": "abc", "e": "AQAB"}]});
        assert!(check(with("jwks", public.clone())).is_ok());
        let private = json!({"keys": [{"kty": "RSA", "n": "abc", "e": "AQAB", "d": "secret"}]});
        assert_eq!(
            check(with("jwks", private)),
            Err(ClientMetadataError::KeyMaterial)
        );
        let symmetric = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(
            check(with("jwks", symmetric)),
            Err(ClientMetadataError::KeyMaterial)
        );
        let mut both = with("jwks", public);
        both["jwks_uri"] = json!("https://client.example/jwks.json");
        assert_eq!(check(both), Err(ClientMetadataError::KeyMaterial));
    }

    #[test]
    fn wrong_types_of_display_fields_are_refused() {
        assert_eq!(
            check(with("client_name", json!(["x"]))),
            Err(ClientMetadataError::WrongFieldType {
                field: "client_name"
            })
        );
    }

    #[test]
    fn localhost_only_when_every_redirect_is_loopback() {
        let local = with(
            "redirect_uris",
            json!([
                "http://127.0.0.1/callback",
                "http://localhost:8080/cb",
                "http://[::1]/cb"
            ]),
        );
        assert!(check(local).expect("accepted").localhost_only);
        let mixed = with(
            "redirect_uris",
            json!(["http://127.0.0.1/callback", "https://client.example/cb"]),
        );
        assert!(!check(mixed).expect("accepted").localhost_only);
        let private_use = with("redirect_uris", json!(["cursor://anysphere/cb"]));
        assert!(!check(private_use).expect("accepted").localhost_only);
    }

    #[test]
    fn refusals_do_not_echo_the_document() {
        let mut doc = with("client_id", json!("https://evil.example/SECRET-MARKER"));
        doc["client_name"] = json!("SECRET-MARKER");
        let message = check(doc).expect_err("refused").to_string();
        assert!(!message.contains("SECRET-MARKER"), "{message}");
    }
}
