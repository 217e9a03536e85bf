//! Verification of our own access tokens (the ES256 JWTs [`crate::signer`] writes), for the
//! endpoints that must judge one: revocation (RFC 7009) and introspection (RFC 7662).
//!
//! Only what we sign is accepted: a compact JWS whose header says `alg: ES256` and
//! `typ: at+jwt` and names by `kid` one of the keys given (the replicated state's published
//! keys, so a token signed by a key that has been rotated out but not yet retired still
//! verifies). Expiry is the caller's judgement, made with the time it passes around; this
//! module reads no clock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mcpauth_state::{SigningKey, UnixTime};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::Deserialize;

/// Why a string is not an access token of ours. Callers answer all of these the same way
/// (RFC 7009 and RFC 7662 give no reasons); the variants are for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a compact JWS")]
    NotAJwt,
    #[error("the JOSE header is not ES256 at+jwt with a kid")]
    Header,
    #[error("signed with a key this cluster does not publish")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("the claims are not an access token's")]
    Claims,
}

/// The claims of a verified access token that revocation and introspection use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifiedAccessToken {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub jti: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

/// Verify `token` against `keys` (by its `kid`) and read its claims.
pub fn verify_access_token(
    token: &str,
    keys: &[SigningKey],
) -> Result<VerifiedAccessToken, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::NotAJwt);
    };
    let header: Header = decode_json(header).ok_or(VerifyError::Header)?;
    let kid = match (header.alg.as_str(), header.typ.as_deref(), header.kid) {
        ("ES256", Some("at+jwt"), Some(kid)) => kid,
        _ => return Err(VerifyError::Header),
    };
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.alg == "ES256")
        .ok_or(VerifyError::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| VerifyError::NotAJwt)?;
    // The signing input is the first two parts exactly as sent.
    let signed = &token[..header_and_payload_len(token)];
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.public_key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| VerifyError::Signature)?;
    decode_json(payload).ok_or(VerifyError::Claims)
}

/// The length of `header.payload` in a token already known to have three parts.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{AccessClaims, TokenSigner};
    use crate::Sealer;

    fn claims<'a>(jti: &'a str) -> AccessClaims<'a> {
        AccessClaims {
            iss: "http://127.0.0.1:8080",
            sub: "alice",
            aud: "https://mcp.example/mcp",
            client_id: "c1",
            scope: "mcp",
            iat: 100,
            exp: 3700,
            auth_time: 90,
            jti,
            email: None,
            name: None,
            groups: None,
        }
    }

    #[test]
    fn our_tokens_verify_and_others_do_not() {
        let sealer = Sealer::new(&[1u8; 32]).unwrap();
        let record = TokenSigner::generate(&sealer, 100, 100).unwrap();
        let other = TokenSigner::generate(&sealer, 100, 100).unwrap();
        let token = TokenSigner::load(&sealer, &record)
            .unwrap()
            .sign(&claims("j1"))
            .unwrap();
        let verified = verify_access_token(&token, std::slice::from_ref(&record)).unwrap();
        assert_eq!(verified.jti, "j1");
        assert_eq!(verified.client_id, "c1");
        assert_eq!(verified.exp, 3700);

        assert_eq!(
            verify_access_token(&token, std::slice::from_ref(&other)),
            Err(VerifyError::UnknownKey)
        );
        // The same kid with another key's public part: the signature fails.
        let mut impostor = other.clone();
        impostor.kid = record.kid.clone();
        assert_eq!(
            verify_access_token(&token, &[impostor]),
            Err(VerifyError::Signature)
        );
        // Claims changed after signing.
        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("j2")).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(
            verify_access_token(&forged, std::slice::from_ref(&record)),
            Err(VerifyError::Signature)
        );
        // alg none, and not a JWT at all.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"x"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(
            verify_access_token(&unsigned, std::slice::from_ref(&record)),
            Err(VerifyError::Header)
        );
        for junk in ["", "abc", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert!(verify_access_token(junk, std::slice::from_ref(&record)).is_err());
        }
    }
}
