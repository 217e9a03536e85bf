//! A person signing in with a browser that runs no JavaScript: follow redirects, fill in and
//! submit each page's form, until the authorization server sends the browser back to the
//! client's redirect URI with a code (OAuth 2.1 §4.1, PKCE S256, RFC 9207 `iss`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::{OpError, INTERACTION_REQUIRED};
use crate::form::{self, Credentials, Method};
use crate::http;

/// More steps than any sign-in needs (authorize, login page, login, authorize again,
/// consent page, consent, callback): a loop is an error.
const MAX_STEPS: usize = 25;

/// What every authorization request of a run shares.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub client_id: String,
    pub redirect_uri: Url,
    pub scope: String,
    pub resource: Option<String>,
    /// `prompt` for the interactive sign-in (not for the repeated logins).
    pub prompt: Option<String>,
    pub issuer: String,
    pub credentials: Credentials,
}

/// A fresh PKCE pair and state for one authorization request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub url: Url,
    pub state: String,
    pub verifier: String,
}

/// An authorization code that came back to the redirect URI, with its verifier.
#[derive(Debug, Clone)]
pub struct Code {
    pub code: String,
    pub verifier: String,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 code challenge of a verifier (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl FlowConfig {
    /// A new authorization request URL at `endpoint` (prompt only when asked).
    pub fn request(&self, endpoint: &str, with_prompt: bool) -> Result<AuthRequest, OpError> {
        let verifier = random_b64(32);
        let state = random_b64(16);
        let mut url = Url::parse(endpoint)
            .map_err(|e| OpError::protocol("authorization endpoint", format!("{endpoint}: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", self.redirect_uri.as_str())
                .append_pair("code_challenge", &challenge(&verifier))
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", &state);
            if !self.scope.is_empty() {
                query.append_pair("scope", &self.scope);
            }
            if let Some(resource) = &self.resource {
                query.append_pair("resource", resource);
            }
            if let (true, Some(prompt)) = (with_prompt, &self.prompt) {
                query.append_pair("prompt", prompt);
            }
        }
        Ok(AuthRequest {
            url,
            state,
            verifier,
        })
    }

    /// Whether `location` is the client's redirect URI (any query).
    fn is_callback(&self, location: &Url) -> bool {
        location.scheme() == self.redirect_uri.scheme()
            && location.host_str() == self.redirect_uri.host_str()
            && location.port_or_known_default() == self.redirect_uri.port_or_known_default()
            && location.path() == self.redirect_uri.path()
    }

    /// Read the authorization response at the redirect URI: a code with our state (and the
    /// issuer's `iss` when it sends one), or the error it carries.
    fn callback(&self, location: &Url, request: &AuthRequest) -> Result<Code, OpError> {
        let mut code = None;
        let mut state = None;
        let mut iss = None;
        let mut error = None;
        let mut description = String::new();
        for (k, v) in location.query_pairs() {
            match k.as_ref() {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "iss" => iss = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                "error_description" => description = v.into_owned(),
                _ => {}
            }
        }
        if let Some(error) = error {
            return Err(OpError::Redirected { error, description });
        }
        if state.as_deref() != Some(request.state.as_str()) {
            return Err(OpError::protocol(
                "state mismatch",
                format!("sent {}, got {state:?}", request.state),
            ));
        }
        if let Some(iss) = iss {
            if iss != self.issuer {
                return Err(OpError::protocol(
                    "iss mismatch",
                    format!("expected {}, got {iss}", self.issuer),
                ));
            }
        }
        let code = code.ok_or_else(|| OpError::protocol("no code", location.to_string()))?;
        Ok(Code {
            code,
            verifier: request.verifier.clone(),
        })
    }
}

/// Where a 3xx answer points, resolved against the URL that answered.
fn location(response: &reqwest::Response) -> Result<Url, OpError> {
    let value = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| OpError::protocol("redirect without Location", response.url().as_str()))?;
    response
        .url()
        .join(value)
        .map_err(|e| OpError::protocol("bad Location", format!("{value}: {e}")))
}

/// Sign in from scratch: authorize, then whatever login and consent pages the server shows.
pub async fn sign_in(
    http: &reqwest::Client,
    flow: &FlowConfig,
    authorization_endpoint: &str,
) -> Result<Code, OpError> {
    let request = flow.request(authorization_endpoint, true)?;
    let mut next = http.get(request.url.clone());
    let mut password_sent = false;
    for _ in 0..MAX_STEPS {
        let response = next.send().await?;
        let status = response.status();
        if status.is_redirection() {
            let to = location(&response)?;
            if flow.is_callback(&to) {
                return flow.callback(&to, &request);
            }
            next = http.get(to);
            continue;
        }
        if status != StatusCode::OK {
            return Err(http::error_from(response).await);
        }
        let page_url = response.url().clone();
        let body = response.text().await?;
        let form = form::first_form(&body, &page_url, &flow.credentials)?.ok_or_else(|| {
            OpError::protocol(
                "page without a form",
                format!("{page_url}: {}", http::snippet(body.as_bytes())),
            )
        })?;
        if form.has_password && password_sent {
            return Err(OpError::protocol(
                "login refused",
                format!(
                    "the login form came back after the password was sent (wrong username or password?) at {page_url}"
                ),
            ));
        }
        password_sent |= form.has_password;
        next = match form.method {
            Method::Post => http.post(form.action).form(&form.fields),
            Method::Get => http.get(form.action).query(&form.fields),
        };
    }
    Err(OpError::protocol(
        "too many steps",
        format!("no redirect to the client after {MAX_STEPS} requests"),
    ))
}

/// Authorize with an existing session and consent: the answer must be a redirect straight to
/// the client with a code (no page).
pub async fn authorize_again(
    http: &reqwest::Client,
    flow: &FlowConfig,
    authorization_endpoint: &str,
) -> Result<Code, OpError> {
    let request = flow.request(authorization_endpoint, false)?;
    let response = http.get(request.url.clone()).send().await?;
    let status = response.status();
    if status.is_redirection() {
        let to = location(&response)?;
        if flow.is_callback(&to) {
            return flow.callback(&to, &request);
        }
        return Err(OpError::protocol(
            INTERACTION_REQUIRED,
            format!("redirected to {to}, not to the client"),
        ));
    }
    if status == StatusCode::OK {
        return Err(OpError::protocol(
            INTERACTION_REQUIRED,
            "a page instead of a redirect",
        ));
    }
    Err(http::error_from(response).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> FlowConfig {
        FlowConfig {
            client_id: "c1".into(),
            redirect_uri: Url::parse("http://127.0.0.1:53682/callback").expect("url"),
            scope: "openid offline_access".into(),
            resource: Some("http://127.0.0.1:3000/mcp".into()),
            prompt: Some("consent".into()),
            issuer: "http://127.0.0.1:8080".into(),
            credentials: Credentials {
                username: "u".into(),
                password: "p".into(),
            },
        }
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn request_carries_pkce_state_scope_resource_and_prompt() {
        let f = flow();
        let r = f
            .request("http://127.0.0.1:8080/authorize", true)
            .expect("request");
        let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge"], challenge(&r.verifier));
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], r.state);
        assert_eq!(q["scope"], "openid offline_access");
        assert_eq!(q["resource"], "http://127.0.0.1:3000/mcp");
        assert_eq!(q["prompt"], "consent");
        let again = f
            .request("http://127.0.0.1:8080/authorize", false)
            .expect("request");
        assert!(!again.url.query_pairs().any(|(k, _)| k == "prompt"));
    }

    #[test]
    fn callback_checks_state_and_iss() {
        let f = flow();
        let r = f
            .request("http://127.0.0.1:8080/authorize", false)
            .expect("request");
        let mut ok = f.redirect_uri.clone();
        ok.query_pairs_mut()
            .append_pair("code", "abc")
            .append_pair("state", &r.state)
            .append_pair("iss", "http://127.0.0.1:8080");
        assert!(f.is_callback(&ok));
        assert_eq!(f.callback(&ok, &r).expect("code").code, "abc");

        let mut wrong_iss = f.redirect_uri.clone();
        wrong_iss
            .query_pairs_mut()
            .append_pair("code", "abc")
            .append_pair("state", &r.state)
            .append_pair("iss", "http://evil");
        assert!(f.callback(&wrong_iss, &r).is_err());

        let mut wrong_state = f.redirect_uri.clone();
        wrong_state
            .query_pairs_mut()
            .append_pair("code", "abc")
            .append_pair("state", "nope");
        assert!(f.callback(&wrong_state, &r).is_err());

        let mut denied = f.redirect_uri.clone();
        denied
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &r.state);
        let e = f.callback(&denied, &r).expect_err("denied");
        assert_eq!(e.kind(), "redirect access_denied");
    }
}
