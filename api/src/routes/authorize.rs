//! The authorization endpoint (OAuth 2.1 §4.1, RFC 7636, RFC 8707, RFC 9207) and the consent
//! form it shows.
//!
//! The request is carried through login and consent as its own parameters (the login page's
//! `return_to`, the consent form's hidden fields) and validated again at every step, so no
//! half-finished flow is ever stored and any node can continue it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mcpauth_state::{AuthCode, Client, Consent, Grant, Outcome, Session, State};
use serde::Deserialize;
use url::Url;

use super::cookies;
use crate::actors::{ConsentTo, IssueCode};
use crate::app::AppState;
use crate::error::{ErrorCode, PageError};
use crate::pages::{self, ConsentPage};
use crate::{clock, redirect_uri, resource, secrets};

/// The parameters of an authorization request, as sent. A parameter sent twice makes the
/// request malformed (OAuth 2.1 §3.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub prompt: Option<String>,
}

impl AuthorizeParams {
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("resource", &self.resource),
            ("prompt", &self.prompt),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// `/authorize?…` with these parameters: where login sends the browser back to.
    pub fn authorize_path(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            query.append_pair(k, v);
        }
        format!("/authorize?{}", query.finish())
    }
}

/// A request that passed every check.
#[derive(Debug)]
pub struct ValidRequest {
    pub client: Client,
    /// The redirect URI to send the browser to.
    pub redirect_target: String,
    /// The redirect_uri parameter as sent ("" when omitted): the token request must repeat it.
    pub redirect_uri_param: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub audience: String,
    pub code_challenge: String,
    pub prompt: Vec<String>,
}

/// Why a request cannot proceed: before the redirect URI is trusted only a page may answer;
/// after, the error goes back to the client.
#[derive(Debug)]
pub enum AuthorizeFailure {
    Page(PageError),
    Redirect {
        target: String,
        state: Option<String>,
        code: ErrorCode,
        description: String,
    },
}

/// Check an authorization request against the registered client and the cluster settings.
pub fn validate(
    params: &AuthorizeParams,
    state: &State,
    scopes_supported: &[String],
) -> Result<ValidRequest, AuthorizeFailure> {
    let page =
        |title: &str, detail: String| AuthorizeFailure::Page(PageError::bad_request(title, detail));
    let client_id = params.client_id.as_deref().ok_or_else(|| {
        page(
            "Invalid sign-in request",
            "The request names no client (client_id is missing).".into(),
        )
    })?;
    let client = state.client(client_id).cloned().ok_or_else(|| {
        page(
            "Unknown application",
            "This application is not registered here (unknown client_id). Restart the sign-in from your application so it can register again.".into(),
        )
    })?;
    let registered = &client.metadata.redirect_uris;
    let redirect_target = match params.redirect_uri.as_deref() {
        Some(requested) => {
            if !registered
                .iter()
                .any(|r| redirect_uri::matches(r, requested))
            {
                return Err(page(
                    "Invalid redirect URI",
                    "The redirect_uri does not match any URI this application registered; for your safety you were not sent there.".into(),
                ));
            }
            requested.to_owned()
        }
        None if registered.len() == 1 => registered[0].clone(),
        None => {
            return Err(page(
                "Invalid sign-in request",
                "redirect_uri is required: this application registered several.".into(),
            ))
        }
    };
    let redirect = |code: ErrorCode, description: &str| AuthorizeFailure::Redirect {
        target: redirect_target.clone(),
        state: params.state.clone(),
        code,
        description: description.to_owned(),
    };
    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "response_type is required",
            ))
        }
        Some(_) => {
            return Err(redirect(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ))
        }
    }
    if !client.metadata.response_types.iter().any(|r| r == "code") {
        return Err(redirect(
            ErrorCode::UnauthorizedClient,
            "client did not register response_type code",
        ));
    }
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, _) => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "PKCE is required: code_challenge is missing",
            ))
        }
        (Some(_), Some("S256")) => params.code_challenge.clone().unwrap_or_default(),
        (Some(_), None | Some("plain")) => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(redirect(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method; use S256",
            ))
        }
    };
    if !secrets::is_valid_s256_challenge(&code_challenge) {
        return Err(redirect(
            ErrorCode::InvalidRequest,
            "code_challenge is not a valid S256 challenge",
        ));
    }
    let audience = resource::resolve(params.resource.as_deref(), &state.settings().resources)
        .map_err(|e| redirect(ErrorCode::InvalidTarget, &e.to_string()))?;
    let requested_scope = params
        .scope
        .clone()
        .or_else(|| client.metadata.scope.clone())
        .unwrap_or_default();
    let mut scopes: Vec<String> = Vec::new();
    for scope in requested_scope.split_whitespace() {
        if !scopes_supported.iter().any(|s| s == scope) {
            return Err(redirect(
                ErrorCode::InvalidScope,
                &format!("unknown scope '{scope}'"),
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    let prompt: Vec<String> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(redirect(
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined",
        ));
    }
    Ok(ValidRequest {
        client,
        redirect_target,
        redirect_uri_param: params.redirect_uri.clone().unwrap_or_default(),
        state: params.state.clone(),
        scopes,
        audience,
        code_challenge,
        prompt,
    })
}

/// The client's redirect URI with our answer and `iss` (RFC 9207) appended.
fn client_redirect(
    target: &str,
    answer: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    let Ok(mut url) = Url::parse(target) else {
        return target.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in answer {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

fn redirect_response(status: StatusCode, location: &str) -> HttpResponse {
    pages::with_page_headers(HttpResponse::build(status))
        .insert_header(("Location", location))
        .finish()
}

fn failure_response(failure: AuthorizeFailure, status: StatusCode, issuer: &str) -> HttpResponse {
    match failure {
        AuthorizeFailure::Page(page) => actix_web::ResponseError::error_response(&page),
        AuthorizeFailure::Redirect {
            target,
            state,
            code,
            description,
        } => {
            let location = client_redirect(
                &target,
                &[
                    ("error", code.as_str()),
                    ("error_description", &description),
                ],
                state.as_deref(),
                issuer,
            );
            redirect_response(status, &location)
        }
    }
}

fn parse_params(query: &str) -> Result<AuthorizeParams, PageError> {
    serde_urlencoded::from_str(query).map_err(|_| {
        PageError::bad_request(
            "Invalid sign-in request",
            "The authorization request is malformed (a parameter is repeated or not text).",
        )
    })
}

/// A client registered through another node a moment ago must be known here too.
async fn sync_client(
    app: &AppState,
    params: &AuthorizeParams,
) -> Result<(), crate::cluster::ProposeError> {
    match params.client_id.as_deref() {
        Some(id) => {
            app.cluster
                .sync_if_missing(|s| s.client(id).is_some())
                .await
        }
        None => Ok(()),
    }
}

/// GET /authorize
pub async fn authorize(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let issuer = app.config.issuer.as_str();
    let params = match parse_params(req.query_string()) {
        Ok(p) => p,
        Err(page) => return actix_web::ResponseError::error_response(&page),
    };
    if let Err(e) = sync_client(&app, &params).await {
        return actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()));
    }
    let valid = match app
        .cluster
        .read(|s| validate(&params, s, &app.config.scopes_supported))
    {
        Ok(v) => v,
        Err(failure) => return failure_response(failure, StatusCode::FOUND, issuer),
    };
    let wants = |p: &str| valid.prompt.iter().any(|x| x == p);
    let session = match cookies::current_session(&req, &app).await {
        Ok(session) => session.filter(|_| !wants("login")),
        Err(e) => {
            return actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()))
        }
    };
    let Some(session) = session else {
        if wants("none") {
            return failure_response(
                redirect_failure(
                    &valid,
                    ErrorCode::LoginRequired,
                    "the user is not signed in",
                ),
                StatusCode::FOUND,
                issuer,
            );
        }
        let mut params = params;
        // After the login, do not ask for it again.
        params.prompt = params
            .prompt
            .map(|p| {
                p.split_whitespace()
                    .filter(|x| *x != "login")
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|p| !p.is_empty());
        // With exactly one identity provider and no local accounts there is nothing to choose.
        let target = match super::login::login_options(&app) {
            (false, providers) if providers.len() == 1 => format!("/login/{}?", providers[0].0),
            _ => String::from("/login?"),
        };
        let start = target.len();
        let mut login = url::form_urlencoded::Serializer::for_suffix(target, start);
        login.append_pair("return_to", &params.authorize_path());
        return redirect_response(StatusCode::FOUND, &login.finish());
    };
    let consented = app.cluster.read(|s| {
        s.consent(&session.subject, &valid.client.client_id)
            .map(|c| valid.scopes.iter().all(|scope| c.scopes.contains(scope)))
            .unwrap_or(false)
    });
    if consented && !wants("consent") {
        return issue_code(&app, &valid, &session, StatusCode::FOUND).await;
    }
    if wants("none") {
        return failure_response(
            redirect_failure(
                &valid,
                ErrorCode::ConsentRequired,
                "the user has not consented",
            ),
            StatusCode::FOUND,
            issuer,
        );
    }
    let (csrf, cookie) = cookies::csrf_token(&req, &app);
    let redirect_host = Url::parse(&valid.redirect_target)
        .ok()
        .map(|u| match u.host_str() {
            Some(host) => host.to_owned(),
            None => format!("{}:", u.scheme()),
        })
        .unwrap_or_default();
    let client_name = valid
        .client
        .metadata
        .client_name
        .clone()
        .unwrap_or_else(|| valid.client.client_id.clone());
    let mut pairs = params.pairs();
    pairs.retain(|(k, _)| *k != "prompt");
    let mut response = pages::html(
        StatusCode::OK,
        &ConsentPage {
            csrf: &csrf,
            client_name: &client_name,
            username: &session.username,
            resource: &valid.audience,
            redirect_host: &redirect_host,
            scopes: valid.scopes.iter().map(String::as_str).collect(),
            hidden: pairs,
        },
    );
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

fn redirect_failure(valid: &ValidRequest, code: ErrorCode, description: &str) -> AuthorizeFailure {
    AuthorizeFailure::Redirect {
        target: valid.redirect_target.clone(),
        state: valid.state.clone(),
        code,
        description: description.to_owned(),
    }
}

/// Store a new code and send the browser back to the client with it.
async fn issue_code(
    app: &AppState,
    valid: &ValidRequest,
    session: &Session,
    status: StatusCode,
) -> HttpResponse {
    let now = clock::now();
    let code = secrets::new_secret();
    let record = AuthCode {
        digest: secrets::digest(&code),
        grant: Grant {
            client_id: valid.client.client_id.clone(),
            subject: session.subject.clone(),
            scope: valid.scopes.join(" "),
            resource: valid.audience.clone(),
            auth_time: session.created_at,
        },
        redirect_uri: valid.redirect_uri_param.clone(),
        code_challenge: valid.code_challenge.clone(),
        expires_at: now + app.config.code_ttl,
        redeemed_into: None,
    };
    match app.codes.send(IssueCode(record)).await {
        Ok(Ok(Outcome::Done)) => {
            let location = client_redirect(
                &valid.redirect_target,
                &[("code", &code)],
                valid.state.as_deref(),
                &app.config.issuer,
            );
            redirect_response(status, &location)
        }
        Ok(Ok(Outcome::Refused(refusal))) => failure_response(
            redirect_failure(valid, ErrorCode::InvalidRequest, &refusal.to_string()),
            status,
            &app.config.issuer,
        ),
        Ok(Err(e)) => {
            actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()))
        }
        _ => actix_web::ResponseError::error_response(&PageError::internal()),
    }
}

/// The consent form as posted: the decision, the CSRF token and the original request.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(flatten)]
    params: AuthorizeParams,
}

/// POST /consent
pub async fn consent(req: HttpRequest, app: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let issuer = app.config.issuer.as_str();
    let form: ConsentForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return actix_web::ResponseError::error_response(&PageError::bad_request(
                "Invalid form",
                "The consent form was malformed.",
            ))
        }
    };
    if !cookies::csrf_ok(&req, &form.csrf) {
        return actix_web::ResponseError::error_response(&PageError::bad_request(
            "Form expired",
            "This form is no longer valid (the security token did not match). Start the sign-in again from your application.",
        ));
    }
    if let Err(e) = sync_client(&app, &form.params).await {
        return actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()));
    }
    let valid = match app
        .cluster
        .read(|s| validate(&form.params, s, &app.config.scopes_supported))
    {
        Ok(v) => v,
        Err(failure) => return failure_response(failure, StatusCode::SEE_OTHER, issuer),
    };
    let session = match cookies::current_session(&req, &app).await {
        Ok(session) => session,
        Err(e) => {
            return actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()))
        }
    };
    let Some(session) = session else {
        return actix_web::ResponseError::error_response(&PageError::bad_request(
            "Session expired",
            "You are no longer signed in. Start the sign-in again from your application.",
        ));
    };
    match form.decision.as_str() {
        "allow" => {}
        "deny" => {
            return failure_response(
                redirect_failure(
                    &valid,
                    ErrorCode::AccessDenied,
                    "the user denied the request",
                ),
                StatusCode::SEE_OTHER,
                issuer,
            )
        }
        _ => {
            return actix_web::ResponseError::error_response(&PageError::bad_request(
                "Invalid form",
                "The consent form carried no decision.",
            ))
        }
    }
    let grant = ConsentTo(Consent {
        subject: session.subject.clone(),
        client_id: valid.client.client_id.clone(),
        scopes: valid.scopes.clone(),
        granted_at: clock::now(),
    });
    match app.sessions.send(grant).await {
        Ok(Ok(Outcome::Done)) => issue_code(&app, &valid, &session, StatusCode::SEE_OTHER).await,
        Ok(Ok(other)) => {
            tracing::warn!(?other, "consent refused");
            actix_web::ResponseError::error_response(&PageError::bad_request(
                "Consent not recorded",
                "The application is no longer registered.",
            ))
        }
        Ok(Err(e)) => {
            actix_web::ResponseError::error_response(&PageError::unavailable(e.to_string()))
        }
        Err(_) => actix_web::ResponseError::error_response(&PageError::internal()),
    }
}
