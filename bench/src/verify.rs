//! What a resource server does with every request: validate the bearer JWT against the
//! authorization server's JWKS (signature, `iss`, `exp`, and `aud` when a resource is given).

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

use crate::error::{BenchError, OpError};

/// The keys of a JWKS, parsed once (as a resource server caches them), by `kid`.
pub struct Verifier {
    keys: HashMap<String, (DecodingKey, Validation)>,
}

impl Verifier {
    pub fn new(jwks: &JwkSet, issuer: &str, audience: Option<&str>) -> Result<Self, BenchError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => continue,
            };
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| BenchError::Jwks(format!("key {kid}: {e}")))?;
            let mut validation = Validation::new(alg);
            validation.set_issuer(&[issuer]);
            validation.set_required_spec_claims(&["exp", "iss"]);
            match audience {
                Some(aud) => validation.set_audience(&[aud]),
                None => validation.validate_aud = false,
            }
            keys.insert(kid, (key, validation));
        }
        if keys.is_empty() {
            return Err(BenchError::Jwks("no usable key with a kid".into()));
        }
        Ok(Verifier { keys })
    }

    /// Validate one token as a resource server would on every request.
    pub fn verify(&self, token: &str) -> Result<(), OpError> {
        let header =
            decode_header(token).map_err(|e| OpError::protocol("jwt header", e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| OpError::protocol("jwt header", "no kid"))?;
        let (key, validation) = self
            .keys
            .get(&kid)
            .ok_or_else(|| OpError::protocol("unknown kid", kid.clone()))?;
        decode::<serde_json::Value>(token, key, validation)
            .map(|_| ())
            .map_err(|e| OpError::protocol("jwt invalid", e.to_string()))
    }
}
