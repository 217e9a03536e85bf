//! ES256 access tokens (RFC 9068 JWT profile) signed with a cached key pair.
//!
//! The key pair is parsed once per signing key (not per token, which would cost more than the
//! signature itself), and the encoded JOSE header is precomputed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mcpauth_state::{SigningKey, UnixTime};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;

use crate::sealer::{SealError, Sealer};

/// Associated data for sealed signing keys.
pub const SIGNING_KEY_PURPOSE: &str = "mcpauth signing key v1";

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("signing key could not be unsealed: {0}")]
    Unseal(#[from] SealError),
    #[error("signing key is not a valid P-256 PKCS#8 key")]
    BadKey,
    #[error("signing failed")]
    Sign,
    #[error("claims could not be encoded")]
    Encode,
}

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Serialize)]
pub struct AccessClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub iat: UnixTime,
    pub exp: UnixTime,
    pub auth_time: UnixTime,
    pub jti: &'a str,
    /// From the profile of a federated subject (the identity provider's claims at login), so
    /// MCP servers can decide by email or group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<&'a [String]>,
}

pub struct TokenSigner {
    kid: String,
    key_pair: EcdsaKeyPair,
    encoded_header: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish()
    }
}

impl TokenSigner {
    /// Make a new P-256 key, returned as the record to propose (private part sealed): published
    /// from `now`, signing from `activates_at`.
    pub fn generate(
        sealer: &Sealer,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<SigningKey, SignerError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| SignerError::BadKey)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| SignerError::BadKey)?;
        let public_key = pair.public_key().as_ref().to_vec();
        Ok(SigningKey {
            kid: crate::secrets::new_id(),
            alg: "ES256".to_owned(),
            public_key,
            sealed_private_key: sealer.seal(SIGNING_KEY_PURPOSE, pkcs8.as_ref())?,
            created_at: now,
            activates_at,
            retires_at: None,
        })
    }

    /// Load a replicated key: unseal its private part and parse it once.
    pub fn load(sealer: &Sealer, key: &SigningKey) -> Result<Self, SignerError> {
        let pkcs8 = sealer.unseal(SIGNING_KEY_PURPOSE, &key.sealed_private_key)?;
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| SignerError::BadKey)?;
        let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid});
        Ok(Self {
            kid: key.kid.clone(),
            key_pair,
            encoded_header: URL_SAFE_NO_PAD.encode(header.to_string()),
            rng,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &AccessClaims<'_>) -> Result<String, SignerError> {
        let payload = serde_json::to_vec(claims).map_err(|_| SignerError::Encode)?;
        let mut token = String::with_capacity(self.encoded_header.len() + payload.len() * 2 + 90);
        token.push_str(&self.encoded_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = self
            .key_pair
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| SignerError::Sign)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }
}

/// The JWK (RFC 7517) of a signing key's public part.
pub fn public_jwk(key: &SigningKey) -> serde_json::Value {
    // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
    let (x, y) = match key.public_key.as_slice() {
        [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
        _ => (&[][..], &[][..]),
    };
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
        "kid": key.kid,
        "use": "sig",
        "alg": key.alg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_with_the_published_jwk() {
        let sealer = Sealer::new(&[1u8; 32]).unwrap();
        let record = TokenSigner::generate(&sealer, 100, 100).unwrap();
        let signer = TokenSigner::load(&sealer, &record).unwrap();
        let token = signer
            .sign(&AccessClaims {
                iss: "http://127.0.0.1:8080",
                sub: "alice",
                aud: "https://mcp.example/mcp",
                client_id: "c1",
                scope: "mcp",
                email: None,
                name: None,
                groups: None,
                iat: 4_000_000_000,
                exp: 4_000_003_600,
                auth_time: 4_000_000_000,
                jti: "j1",
            })
            .unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public_jwk(&record)).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["https://mcp.example/mcp"]);
        validation.set_issuer(&["http://127.0.0.1:8080"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(data.header.kid.as_deref(), Some(record.kid.as_str()));
        // A key sealed under another seal key cannot be loaded.
        let other = Sealer::new(&[2u8; 32]).unwrap();
        assert!(TokenSigner::load(&other, &record).is_err());
        // A tampered token fails.
        let mut tampered = token.clone();
        tampered.insert(tampered.find('.').unwrap() + 5, 'A');
        assert!(jsonwebtoken::decode::<serde_json::Value>(&tampered, &key, &validation).is_err());
    }
}
