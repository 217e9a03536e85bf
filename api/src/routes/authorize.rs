//! GET /authorize and POST /consent: the HTTP side of the authorization request. The rules
//! (which requests are valid, when to sign in, ask consent or issue a code) live in
//! `crate::oauth::authorize`; here are the redirects, the pages and the cookies.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use mcpauth_state::{ClientOrigin, Session};
use serde::Deserialize;
use url::Url;

use super::cookies;
use crate::actors::{ConsentError, IssueCode, RecordConsent};
use crate::app::AppState;
use crate::error::PageError;
use crate::oauth::authorize::{
    self, AuthorizeError, AuthorizeParams, Next, Untrusted, ValidRequest,
};
use crate::oauth::metadata_client;
use crate::oauth::Error;
use crate::pages::{self, ConsentPage};

/// The page for a request whose redirect URI cannot be trusted (or that names no client).
pub(super) fn untrusted_page(reason: Untrusted) -> PageError {
    let (title, detail) = match reason {
        Untrusted::Malformed => ("Invalid sign-in request", "The authorization request is malformed (a parameter is repeated or not text)."),
        Untrusted::NoClientId => ("Invalid sign-in request", "The request names no client (client_id is missing)."),
        Untrusted::UnknownClient => ("Unknown application", "This application is not registered here (unknown client_id). Restart the sign-in from your application so it can register again."),
        Untrusted::RedirectNotRegistered => ("Invalid redirect URI", "The redirect_uri does not match any URI this application registered; for your safety you were not sent there."),
        Untrusted::RedirectRequired => ("Invalid sign-in request", "redirect_uri is required: this application registered several."),
    };
    PageError::bad_request(title, detail)
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

/// A refusal: a page before the redirect URI is trusted, a redirect to the client after.
fn failure_response(failure: AuthorizeError, status: StatusCode, issuer: &str) -> HttpResponse {
    match failure {
        AuthorizeError::Untrusted(reason) => untrusted_page(reason).error_response(),
        AuthorizeError::Redirect {
            target,
            state,
            error,
        } => {
            let description = error.to_string();
            let answer = [
                ("error", error.code().as_str()),
                ("error_description", description.as_str()),
            ];
            let location = client_redirect(&target, &answer, state.as_deref(), issuer);
            redirect_response(status, &location)
        }
    }
}

/// Validate the request against this node's state; a client registered through another node a
/// moment ago is waited for. A refusal sent to the client uses `status` (302, or 303 after a
/// form).
async fn validate(
    app: &AppState,
    params: &AuthorizeParams,
    status: StatusCode,
) -> Result<ValidRequest, HttpResponse> {
    super::metadata_document::admit(app, params).await?;
    if let Some(id) = params.client_id.as_deref() {
        if let Err(e) = app
            .cluster
            .sync_if_missing(|s| s.client(id).is_some())
            .await
        {
            return Err(PageError::unavailable(e.to_string()).error_response());
        }
    }
    app.cluster
        .read(|s| authorize::validate(params, s, &app.config))
        .map_err(|failure| failure_response(failure, status, &app.config.issuer))
}

/// GET /authorize
pub async fn authorize(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let issuer = app.config.issuer.as_str();
    let params = match authorize::parse(req.query_string()) {
        Ok(p) => p,
        Err(failure) => return failure_response(failure, StatusCode::FOUND, issuer),
    };
    let valid = match validate(&app, &params, StatusCode::FOUND).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let session = match cookies::current_session(&req, &app).await {
        Ok(session) => session.filter(|_| !valid.wants("login")),
        Err(e) => return PageError::unavailable(e.to_string()).error_response(),
    };
    let consented = session
        .as_ref()
        .is_some_and(|session| app.cluster.read(|s| valid.consented(s, session)));
    match (valid.next(session.is_some(), consented), session) {
        (Err(failure), _) => failure_response(failure, StatusCode::FOUND, issuer),
        (Ok(Next::IssueCode), Some(session)) => {
            issue_code(&app, valid, session, StatusCode::FOUND).await
        }
        (Ok(Next::AskConsent), Some(session)) => {
            consent_page(&req, &app, &params, &valid, &session)
        }
        // next() asks for a code or consent only for a signed-in browser.
        (Ok(Next::SignIn), _) | (Ok(_), None) => sign_in(&app, params),
    }
}

/// To the login page (or straight to the only identity provider), coming back here after.
fn sign_in(app: &AppState, params: AuthorizeParams) -> HttpResponse {
    let return_to = params.after_login().authorize_path();
    // With exactly one identity provider and no local accounts there is nothing to choose.
    let target = match super::login::login_options(app) {
        (false, providers) if providers.len() == 1 => format!("/login/{}?", providers[0].0),
        _ => String::from("/login?"),
    };
    let start = target.len();
    let mut login = url::form_urlencoded::Serializer::for_suffix(target, start);
    login.append_pair("return_to", &return_to);
    redirect_response(StatusCode::FOUND, &login.finish())
}

fn consent_page(
    req: &HttpRequest,
    app: &AppState,
    params: &AuthorizeParams,
    valid: &ValidRequest,
    session: &Session,
) -> HttpResponse {
    let (csrf, cookie) = cookies::csrf_token(req, app);
    let redirect_host = Url::parse(&valid.redirect_target)
        .ok()
        .map(|u| match u.host_str() {
            Some(host) => host.to_owned(),
            None => format!("{}:", u.scheme()),
        })
        .unwrap_or_default();
    let client = &valid.client;
    let client_name = client
        .metadata
        .client_name
        .as_deref()
        .unwrap_or(&client.client_id);
    // A metadata document's name is the client's own word: show whose URL vouches for it.
    let document_host = (client.origin == ClientOrigin::MetadataDocument)
        .then(|| Url::parse(&client.client_id).ok())
        .flatten()
        .and_then(|u| u.host_str().map(str::to_owned));
    let mut hidden = params.pairs();
    hidden.retain(|(k, _)| *k != "prompt");
    let mut response = pages::html(
        StatusCode::OK,
        &ConsentPage {
            csrf: &csrf,
            client_name,
            username: &session.username,
            resource: &valid.audience,
            redirect_host: &redirect_host,
            document_host: document_host.as_deref(),
            localhost_only: metadata_client::localhost_only(client),
            scopes: valid.scopes.iter().map(String::as_str).collect(),
            hidden,
        },
    );
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Store a new code and send the browser back to the client with it.
async fn issue_code(
    app: &AppState,
    valid: ValidRequest,
    session: Session,
    status: StatusCode,
) -> HttpResponse {
    let issuer = &app.config.issuer;
    let (target, state) = (valid.redirect_target.clone(), valid.state.clone());
    let now = app.clock.now();
    let issued = app
        .codes
        .send(IssueCode {
            request: valid.clone(),
            session,
            now,
        })
        .await;
    match issued.map_err(|_| Error::Internal).and_then(|r| r) {
        Ok(code) => {
            let location = client_redirect(&target, &[("code", &code)], state.as_deref(), issuer);
            redirect_response(status, &location)
        }
        Err(error @ Error::CodeNotIssued(_)) => {
            failure_response(valid.refuse(error), status, issuer)
        }
        Err(Error::Unavailable(e)) => PageError::unavailable(e).error_response(),
        Err(_) => PageError::internal().error_response(),
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
    let Ok(form) = serde_urlencoded::from_bytes::<ConsentForm>(&body) else {
        return PageError::bad_request("Invalid form", "The consent form was malformed.")
            .error_response();
    };
    if !cookies::csrf_ok(&req, &form.csrf) {
        return PageError::bad_request(
            "Form expired",
            "This form is no longer valid (the security token did not match). Start the sign-in again from your application.",
        )
        .error_response();
    }
    let valid = match validate(&app, &form.params, StatusCode::SEE_OTHER).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let session = match cookies::current_session(&req, &app).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return PageError::bad_request(
                "Session expired",
                "You are no longer signed in. Start the sign-in again from your application.",
            )
            .error_response()
        }
        Err(e) => return PageError::unavailable(e.to_string()).error_response(),
    };
    match form.decision.as_str() {
        "allow" => {}
        "deny" => {
            return failure_response(
                valid.refuse(Error::AccessDenied),
                StatusCode::SEE_OTHER,
                issuer,
            )
        }
        _ => {
            return PageError::bad_request("Invalid form", "The consent form carried no decision.")
                .error_response()
        }
    }
    let now = app.clock.now();
    let record = RecordConsent {
        session: session.clone(),
        request: valid.clone(),
        now,
    };
    match app.sessions.send(record).await {
        Ok(Ok(())) => issue_code(&app, valid, session, StatusCode::SEE_OTHER).await,
        Ok(Err(ConsentError::Refused(other))) => {
            tracing::warn!(?other, "consent refused");
            PageError::bad_request(
                "Consent not recorded",
                "The application is no longer registered.",
            )
            .error_response()
        }
        Ok(Err(ConsentError::Propose(e))) => PageError::unavailable(e.to_string()).error_response(),
        Err(_) => PageError::internal().error_response(),
    }
}
