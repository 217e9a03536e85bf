//! A token request, parsed at the boundary into the grant it asks for: a [`TokenRequest`] has
//! every required parameter present and well formed, and the rest of the flow matches on the
//! grant instead of reading optional form fields.
//!
//! The grant type is judged first (a malformed form or an unsupported grant is refused at
//! once), but a grant's own missing or malformed parameters are answered only after the client
//! authenticated ([`GrantRequest::parameters`]): a caller that is not a client learns nothing
//! about its request but `invalid_client`.

use mcpauth_state::Command;

use super::client_auth::PostedClient;
use super::error::Error;
use super::grant::authorization_code::{self, AuthorizationCode};
use super::grant::refresh_token::{self, RefreshToken};
use super::grant::{Attempt, TokenForm};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode(AuthorizationCode),
    RefreshToken(RefreshToken),
}

/// The grant a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequest {
    /// A supported `grant_type`, as on the wire (and as a client registers it).
    pub grant_type: &'static str,
    /// The grant with its parameters, or why they are missing or malformed.
    pub parameters: Result<TokenRequest, Error>,
}

impl TokenRequest {
    /// Parse an `application/x-www-form-urlencoded` body into the grant and the client's own
    /// members (judged with the Basic header by `ClientCredentials::resolve`).
    pub fn parse(body: &[u8]) -> Result<(GrantRequest, PostedClient), Error> {
        let form: TokenForm = serde_urlencoded::from_bytes(body).map_err(|_| Error::Malformed)?;
        let grant = match form.grant_type.as_deref() {
            None => return Err(Error::Missing("grant_type")),
            Some(authorization_code::GRANT_TYPE) => GrantRequest {
                grant_type: authorization_code::GRANT_TYPE,
                parameters: AuthorizationCode::from_form(&form).map(Self::AuthorizationCode),
            },
            Some(refresh_token::GRANT_TYPE) => GrantRequest {
                grant_type: refresh_token::GRANT_TYPE,
                parameters: RefreshToken::from_form(&form).map(Self::RefreshToken),
            },
            Some(other) => return Err(Error::UnsupportedGrantType(other.to_owned())),
        };
        let client = PostedClient {
            client_id: form.client_id,
            client_secret: form.client_secret,
        };
        Ok((grant, client))
    }

    /// The command that attempts this grant.
    pub fn command(&self, at: &Attempt<'_>) -> Result<Command, Error> {
        match self {
            TokenRequest::AuthorizationCode(grant) => grant.command(at),
            TokenRequest::RefreshToken(grant) => grant.command(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, Error> {
        TokenRequest::parse(body.as_bytes()).and_then(|(grant, _)| grant.parameters)
    }

    const VERIFIER: &str = "0123456789012345678901234567890123456789abc";

    #[test]
    fn each_grant_gets_its_parameters_checked() {
        assert_eq!(parse("code=x"), Err(Error::Missing("grant_type")));
        assert_eq!(
            parse("grant_type=password"),
            Err(Error::UnsupportedGrantType("password".into()))
        );
        assert_eq!(
            parse("grant_type=authorization_code"),
            Err(Error::Missing("code"))
        );
        assert_eq!(
            parse("grant_type=authorization_code&code=c"),
            Err(Error::MissingVerifier)
        );
        assert_eq!(
            parse("grant_type=authorization_code&code=c&code_verifier=short"),
            Err(Error::InvalidVerifier)
        );
        assert_eq!(
            parse("grant_type=refresh_token"),
            Err(Error::Missing("refresh_token"))
        );
        assert_eq!(
            parse("grant_type=refresh_token&refresh_token=a&refresh_token=b"),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn a_well_formed_request_is_typed() {
        let (grant, client) = TokenRequest::parse(
            format!("grant_type=authorization_code&code=c&code_verifier={VERIFIER}&client_id=me&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb").as_bytes(),
        )
        .unwrap();
        assert_eq!(grant.grant_type, "authorization_code");
        assert_eq!(
            grant.parameters.unwrap(),
            TokenRequest::AuthorizationCode(AuthorizationCode {
                code: "c".into(),
                redirect_uri: Some("http://127.0.0.1/cb".into()),
                code_verifier: VERIFIER.into(),
                resource: None,
            })
        );
        assert_eq!(client.client_id.as_deref(), Some("me"));
        let refresh = parse("grant_type=refresh_token&refresh_token=r&scope=+").unwrap();
        assert_eq!(
            refresh,
            TokenRequest::RefreshToken(RefreshToken {
                refresh_token: "r".into(),
                scope: None,
                resource: None,
            }),
            "a blank scope asks for no narrowing"
        );
    }
}
