//! Client authentication at the token endpoint (OAuth 2.1 §2.4): `none`, `client_secret_basic`
//! and `client_secret_post`, parsed at the boundary into [`ClientCredentials`] and judged
//! against the registered client without IO.
//!
//! The Basic header comes from an actix extractor ([`BasicHeader`]); the form's `client_id` and
//! `client_secret` from the token request. [`ClientCredentials::resolve`] combines the two and
//! refuses a request that uses two methods at once.

use std::convert::Infallible;
use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcpauth_state::Client;

use super::error::{ClientAuthFailure, Error};
use crate::secrets;

/// The `Authorization: Basic` header of a request, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicHeader {
    Absent,
    /// Present but not `base64(id:secret)`.
    Malformed,
    Present {
        client_id: String,
        secret: String,
    },
}

impl BasicHeader {
    pub fn from_request(req: &HttpRequest) -> Self {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Self::parse(value)
    }

    /// Read a header value; anything but the Basic scheme counts as absent.
    pub fn parse(value: Option<&str>) -> Self {
        let Some(encoded) = value.and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        }) else {
            return BasicHeader::Absent;
        };
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((id, secret)) => BasicHeader::Present {
                client_id: form_decode(id),
                secret: form_decode(secret),
            },
            None => BasicHeader::Malformed,
        }
    }
}

/// The header is read whatever it holds; what it means is decided with the form's fields.
impl FromRequest for BasicHeader {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(BasicHeader::from_request(req)))
    }
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The `client_id` and `client_secret` members of a token request's form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostedClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// How a client says who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// A public client names itself.
    None {
        client_id: String,
    },
    SecretBasic {
        client_id: String,
        secret: String,
    },
    SecretPost {
        client_id: String,
        secret: String,
    },
}

impl ClientCredentials {
    /// Combine the Basic header and the form's members into one method.
    pub fn resolve(basic: BasicHeader, posted: PostedClient) -> Result<Self, Error> {
        let plain = |failure| Error::Client {
            failure,
            via_basic: false,
        };
        match basic {
            BasicHeader::Malformed => Err(plain(ClientAuthFailure::MalformedBasic)),
            BasicHeader::Present { client_id, secret } => {
                if posted.client_secret.is_some() {
                    return Err(Error::TwoAuthMethods);
                }
                if posted.client_id.is_some_and(|body_id| body_id != client_id) {
                    return Err(plain(ClientAuthFailure::IdMismatch));
                }
                Ok(ClientCredentials::SecretBasic { client_id, secret })
            }
            BasicHeader::Absent => {
                let client_id = posted.client_id.ok_or(plain(ClientAuthFailure::Missing))?;
                Ok(match posted.client_secret {
                    Some(secret) => ClientCredentials::SecretPost { client_id, secret },
                    None => ClientCredentials::None { client_id },
                })
            }
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            ClientCredentials::None { client_id }
            | ClientCredentials::SecretBasic { client_id, .. }
            | ClientCredentials::SecretPost { client_id, .. } => client_id,
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            ClientCredentials::None { .. } => None,
            ClientCredentials::SecretBasic { secret, .. }
            | ClientCredentials::SecretPost { secret, .. } => Some(secret),
        }
    }

    /// Judge these credentials against the client registered under their id (`None`: no such
    /// client). The secret is compared in constant time, as digests.
    pub fn authenticate(&self, registered: Option<Client>) -> Result<Client, Error> {
        let fail = |failure| Error::Client {
            failure,
            via_basic: matches!(self, ClientCredentials::SecretBasic { .. }),
        };
        let client = registered.ok_or(fail(ClientAuthFailure::UnknownClient))?;
        match (&client.secret_digest, self.secret()) {
            // An empty secret from a public client is no secret (some clients always send one).
            (None, None) | (None, Some("")) => Ok(client),
            (None, Some(_)) => Err(fail(ClientAuthFailure::SecretForPublicClient)),
            (Some(_), None) => Err(fail(ClientAuthFailure::NoSecret)),
            (Some(expected), Some(secret)) => {
                if secrets::secrets_equal(expected, &secrets::digest(secret)) {
                    Ok(client)
                } else {
                    Err(fail(ClientAuthFailure::WrongSecret))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_state::ClientMetadata;

    fn client(secret: Option<&str>) -> Client {
        Client {
            disabled: false,
            last_used_at: None,
            client_id: "c1".into(),
            secret_digest: secret.map(secrets::digest),
            metadata: ClientMetadata::default(),
            issued_at: 0,
            first_login_at: None,
            registration_token_digest: None,
            origin: mcpauth_state::ClientOrigin::Registered,
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn posted(id: Option<&str>, secret: Option<&str>) -> PostedClient {
        PostedClient {
            client_id: id.map(str::to_owned),
            client_secret: secret.map(str::to_owned),
        }
    }

    fn failure(e: Error) -> (ClientAuthFailure, bool) {
        match e {
            Error::Client { failure, via_basic } => (failure, via_basic),
            other => panic!("not a client failure: {other:?}"),
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(
            BasicHeader::parse(Some(&basic("a%3Ab", "s+t%25"))),
            BasicHeader::Present {
                client_id: "a:b".into(),
                secret: "s t%".into()
            }
        );
        assert_eq!(BasicHeader::parse(Some("Bearer x")), BasicHeader::Absent);
        assert_eq!(BasicHeader::parse(None), BasicHeader::Absent);
        assert_eq!(
            BasicHeader::parse(Some("Basic !!!")),
            BasicHeader::Malformed
        );
        assert_eq!(
            BasicHeader::parse(Some(&format!("Basic {}", STANDARD.encode("nocolon")))),
            BasicHeader::Malformed
        );
    }

    #[test]
    fn one_method_at_a_time() {
        let header = BasicHeader::parse(Some(&basic("c1", "s")));
        assert_eq!(
            ClientCredentials::resolve(header.clone(), posted(None, Some("s"))),
            Err(Error::TwoAuthMethods)
        );
        let e = ClientCredentials::resolve(header.clone(), posted(Some("c2"), None)).unwrap_err();
        assert_eq!(failure(e), (ClientAuthFailure::IdMismatch, false));
        assert_eq!(
            ClientCredentials::resolve(header, posted(Some("c1"), None)),
            Ok(ClientCredentials::SecretBasic {
                client_id: "c1".into(),
                secret: "s".into()
            })
        );
        let e = ClientCredentials::resolve(BasicHeader::Absent, posted(None, None)).unwrap_err();
        assert_eq!(failure(e), (ClientAuthFailure::Missing, false));
        assert_eq!(
            ClientCredentials::resolve(BasicHeader::Absent, posted(Some("c1"), Some("s"))),
            Ok(ClientCredentials::SecretPost {
                client_id: "c1".into(),
                secret: "s".into()
            })
        );
    }

    #[test]
    fn secrets_are_judged_against_the_registration() {
        let none = ClientCredentials::None {
            client_id: "c1".into(),
        };
        let post = |s: &str| ClientCredentials::SecretPost {
            client_id: "c1".into(),
            secret: s.into(),
        };
        let via_basic = ClientCredentials::SecretBasic {
            client_id: "c1".into(),
            secret: "wrong".into(),
        };
        assert!(none.authenticate(Some(client(None))).is_ok());
        assert!(post("").authenticate(Some(client(None))).is_ok());
        assert!(post("right")
            .authenticate(Some(client(Some("right"))))
            .is_ok());
        let cases = [
            (
                none.authenticate(None),
                ClientAuthFailure::UnknownClient,
                false,
            ),
            (
                post("x").authenticate(Some(client(None))),
                ClientAuthFailure::SecretForPublicClient,
                false,
            ),
            (
                none.authenticate(Some(client(Some("right")))),
                ClientAuthFailure::NoSecret,
                false,
            ),
            (
                post("wrong").authenticate(Some(client(Some("right")))),
                ClientAuthFailure::WrongSecret,
                false,
            ),
            (
                via_basic.authenticate(Some(client(Some("right")))),
                ClientAuthFailure::WrongSecret,
                true,
            ),
        ];
        for (result, expected, challenge) in cases {
            assert_eq!(failure(result.unwrap_err()), (expected, challenge));
        }
    }
}
