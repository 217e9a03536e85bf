//! The token endpoint (OAuth 2.1 §3.2): authorization_code and refresh_token grants, with
//! client authentication by none, client_secret_basic or client_secret_post.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mcpauth_state::{Claims, Client, FamilyId, Grant, Outcome};
use serde::{Deserialize, Serialize};

use crate::actors::{RedeemCode, RotateRefresh};
use crate::app::AppState;
use crate::error::{ErrorCode, OAuthError};
use crate::signer::AccessClaims;
use crate::{clock, resource, secrets};

#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse<'a> {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: &'a str,
}

/// The client's credentials as presented: from the Basic header or the form.
struct Presented {
    client_id: String,
    secret: Option<String>,
    via_basic: bool,
}

fn presented_credentials(req: &HttpRequest, form: &TokenRequest) -> Result<Presented, OAuthError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
        let id = form_decode(id);
        if form.client_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if form
            .client_id
            .as_deref()
            .is_some_and(|body_id| body_id != id)
        {
            return Err(OAuthError::invalid_client(
                "client_id differs from the authenticated client",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(form_decode(secret)),
            via_basic: true,
        });
    }
    let client_id = form.client_id.clone().ok_or_else(|| {
        OAuthError::invalid_client("client authentication is required (client_id is missing)")
    })?;
    Ok(Presented {
        client_id,
        secret: form.client_secret.clone(),
        via_basic: false,
    })
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn authenticate(app: &AppState, presented: &Presented) -> Result<Client, OAuthError> {
    app.cluster
        .sync_if_missing(|s| s.client(&presented.client_id).is_some())
        .await
        .map_err(|e| OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string()))?;
    let fail = |description: &str| {
        let mut e = OAuthError::invalid_client(description);
        e.basic_challenge = presented.via_basic;
        e
    };
    let client = app
        .cluster
        .read(|s| s.client(&presented.client_id).cloned())
        .ok_or_else(|| fail("unknown client; register again"))?;
    match (&client.secret_digest, presented.secret.as_deref()) {
        (None, None) | (None, Some("")) => Ok(client),
        (None, Some(_)) => Err(fail("this client is public and has no secret")),
        (Some(_), None) => Err(fail(
            "client authentication failed: no client secret presented",
        )),
        (Some(expected), Some(secret)) => {
            if secrets::secrets_equal(expected, &secrets::digest(secret)) {
                Ok(client)
            } else {
                Err(fail("client authentication failed"))
            }
        }
    }
}

/// POST /token
pub async fn token(
    req: HttpRequest,
    app: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let form: TokenRequest = serde_urlencoded::from_bytes(&body).map_err(|_| {
        OAuthError::invalid_request("malformed request: a parameter is repeated or not text")
    })?;
    let grant_type = form
        .grant_type
        .clone()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type '{grant_type}' is not supported"),
        ));
    }
    let presented = presented_credentials(&req, &form)?;
    let client = authenticate(&app, &presented).await?;
    if !client.metadata.grant_types.contains(&grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            format!("this client did not register the {grant_type} grant"),
        ));
    }
    let now = clock::now();
    let resources = app.cluster.read(|s| s.settings().resources.clone());
    let requested_audience = match form.resource.as_deref() {
        Some(r) => Some(
            resource::resolve(Some(r), &resources)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidTarget, e.to_string()))?,
        ),
        None => None,
    };
    let refresh_token = secrets::new_secret();
    let refresh_digest = secrets::digest(&refresh_token);
    let idle_expires_at = now + app.config.refresh_idle_ttl;
    let outcome = if grant_type == "authorization_code" {
        let code = form
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
        let verifier = form
            .code_verifier
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
        if !secrets::is_valid_verifier(verifier) {
            return Err(OAuthError::invalid_request(
                "code_verifier must be 43 to 128 unreserved characters",
            ));
        }
        app.codes
            .send(RedeemCode {
                digest: secrets::digest(code),
                client_id: client.client_id.clone(),
                redirect_uri: form.redirect_uri.clone().unwrap_or_default(),
                verifier_challenge: secrets::pkce_challenge(verifier),
                resource: requested_audience,
                now,
                refresh_digest,
                refresh_idle_expires_at: idle_expires_at,
            })
            .await
    } else {
        let presented_token = form
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
        app.codes
            .send(RotateRefresh {
                presented: secrets::digest(presented_token),
                client_id: client.client_id.clone(),
                resource: requested_audience,
                scope: form.scope.clone().filter(|s| !s.trim().is_empty()),
                next: refresh_digest,
                now,
                idle_expires_at,
            })
            .await
    };
    let outcome = outcome
        .map_err(|_| OAuthError::server_error())?
        .map_err(|e| OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string()))?;
    let (family, grant, claims) = match outcome {
        Outcome::Granted {
            family,
            grant,
            claims,
        } => (family, grant, claims),
        Outcome::Refused(refusal) => {
            tracing::info!(client_id = %client.client_id, grant_type, %refusal, "token request refused");
            return Err(OAuthError::from(&refusal));
        }
        other => {
            tracing::error!(?other, "unexpected outcome for a token request");
            return Err(OAuthError::server_error());
        }
    };
    let claims = match claims {
        // apply() judged the provider and read the claims (cluster version 3).
        Some(claims) => claims,
        // A decision under format 2 rules (a cluster not yet upgraded): check here, as 0.1 does.
        None => {
            let (allowed, claims) = app.cluster.read(|s| {
                let federation = s.federation();
                (
                    federation.provider_allows(&grant.subject),
                    federation
                        .profile(&grant.subject)
                        .map(|p| Claims {
                            email: p.email.clone(),
                            name: p.name.clone(),
                            groups: p.groups.clone(),
                        })
                        .unwrap_or_default(),
                )
            });
            if !allowed {
                // The family moved on in apply(), but its new tokens are never handed out:
                // access through a provider that was switched off ends here.
                tracing::info!(client_id = %client.client_id, grant_type, "token request refused: identity provider switched off");
                return Err(OAuthError::new(
                    ErrorCode::InvalidGrant,
                    "the identity provider this grant came from is switched off",
                ));
            }
            claims
        }
    };
    let issue_refresh = client
        .metadata
        .grant_types
        .iter()
        .any(|g| g == "refresh_token");
    respond(
        &app,
        &grant,
        &claims,
        family,
        now,
        issue_refresh.then_some(refresh_token),
    )
}

fn respond(
    app: &AppState,
    grant: &Grant,
    claims: &Claims,
    family: FamilyId,
    now: u64,
    refresh_token: Option<String>,
) -> Result<HttpResponse, OAuthError> {
    let signer = app.signer.signer(&app.cluster).map_err(|e| {
        tracing::error!(error = %e, "no signer");
        OAuthError::server_error()
    })?;
    let jti = secrets::new_id();
    let access_token = signer
        .sign(&AccessClaims {
            iss: &app.config.issuer,
            sub: &grant.subject,
            aud: &grant.resource,
            client_id: &grant.client_id,
            scope: &grant.scope,
            iat: now,
            exp: now + app.config.access_token_ttl,
            auth_time: grant.auth_time,
            jti: &jti,
            email: claims.email.as_deref(),
            name: claims.name.as_deref(),
            groups: Some(claims.groups.as_slice()).filter(|g| !g.is_empty()),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "signing failed");
            OAuthError::server_error()
        })?;
    tracing::debug!(family, client_id = %grant.client_id, "tokens issued");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: app.config.access_token_ttl,
            refresh_token,
            scope: &grant.scope,
        }))
}
