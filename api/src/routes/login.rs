//! The login form for local users, and logout.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::cookies;
use super::upstream::checked_return_to;
use crate::actors::{Login, LoginError, Logout};
use crate::app::AppState;
use crate::error::PageError;
use crate::oauth::authorize::AuthorizeParams;
use crate::pages::{self, LoginPage, ProviderLink};

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    error: Option<String>,
}

fn client_name_of(app: &AppState, return_to: &str) -> Option<String> {
    let query = return_to.split_once('?')?.1;
    let params: AuthorizeParams = serde_urlencoded::from_str(query).ok()?;
    let client_id = params.client_id?;
    app.cluster.read(|s| {
        s.client(&client_id).map(|c| {
            c.metadata
                .client_name
                .clone()
                .unwrap_or(c.client_id.clone())
        })
    })
}

/// Whether local accounts may sign in, and the enabled identity providers (id, display name).
pub fn login_options(app: &AppState) -> (bool, Vec<(String, String)>) {
    app.cluster.read(|s| {
        let federation = s.federation();
        let providers = federation
            .providers()
            .filter(|p| p.enabled)
            .map(|p| (p.id.clone(), p.display_name.clone()))
            .collect();
        (federation.login_settings().local_login, providers)
    })
}

/// GET /login
pub async fn login_page(
    req: HttpRequest,
    app: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let return_to = checked_return_to(query.return_to.as_deref())?;
    let (csrf, cookie) = cookies::csrf_token(&req, &app);
    let client_name = client_name_of(&app, return_to);
    let error = form_error(query.error.as_deref());
    let (local_login, enabled) = login_options(&app);
    let providers = enabled
        .into_iter()
        .map(|(id, name)| {
            let target = format!("/login/{id}?");
            let start = target.len();
            let mut href = url::form_urlencoded::Serializer::for_suffix(target, start);
            href.append_pair("return_to", return_to);
            ProviderLink {
                href: href.finish(),
                id,
                name,
            }
        })
        .collect();
    let mut response = pages::html(
        StatusCode::OK,
        &LoginPage {
            csrf: &csrf,
            return_to,
            client_name: client_name.as_deref(),
            error,
            local_login,
            providers,
        },
    );
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    Ok(response)
}

/// A posted username/password form: the local one, and a directory provider's.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub(crate) csrf: String,
    pub(crate) return_to: Option<String>,
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: String,
}

/// What a password form says for the `error` code it was sent back with.
pub(crate) fn form_error(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "invalid" => Some("Unknown username or wrong password."),
        "csrf" => Some("The form expired. Please try again."),
        _ => Some("Sign-in failed. Please try again."),
    }
}

/// Back to the password form at `form_path` (`/login` or `/login/{provider}`) with `error`.
pub(crate) fn back_to_form(form_path: &str, return_to: &str, error: &str) -> HttpResponse {
    let target = format!("{form_path}?");
    let start = target.len();
    let mut location = url::form_urlencoded::Serializer::for_suffix(target, start);
    location
        .append_pair("return_to", return_to)
        .append_pair("error", error);
    pages::with_page_headers(HttpResponse::SeeOther())
        .insert_header(("Location", location.finish()))
        .finish()
}

fn back_to_login(return_to: &str, error: &str) -> HttpResponse {
    back_to_form("/login", return_to, error)
}

/// POST /login: check the password, start a fresh session, and go back to the request.
pub async fn login(
    req: HttpRequest,
    app: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let return_to = checked_return_to(form.return_to.as_deref())?.to_owned();
    if !login_options(&app).0 {
        return Err(PageError::bad_request(
            "Local accounts are switched off",
            "Sign in with your organisation's identity provider instead.",
        ));
    }
    if !cookies::csrf_ok(&req, &form.csrf) {
        return Ok(back_to_login(&return_to, "csrf"));
    }
    if form.username.is_empty() || form.username.len() > 256 || form.password.len() > 1024 {
        return Ok(back_to_login(&return_to, "invalid"));
    }
    let login = Login {
        username: form.username,
        password: form.password,
        replaces: cookies::session_digest(&req),
        now: app.clock.now(),
        source: super::source_address(&req),
    };
    match app.sessions.send(login).await {
        Ok(Ok(session_id)) => {
            let mut response = pages::with_page_headers(HttpResponse::SeeOther())
                .insert_header(("Location", return_to))
                .finish();
            let _ = response.add_cookie(&cookies::session_cookie(&app, session_id));
            Ok(response)
        }
        Ok(Err(LoginError::InvalidCredentials)) => {
            tracing::info!("login refused: invalid credentials");
            Ok(back_to_login(&return_to, "invalid"))
        }
        Ok(Err(LoginError::Propose(e))) => Err(PageError::unavailable(e.to_string())),
        _ => Err(PageError::internal()),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// POST /logout: end the session everywhere.
pub async fn logout(
    req: HttpRequest,
    app: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, PageError> {
    if !cookies::csrf_ok(&req, &form.csrf) {
        return Err(PageError::bad_request(
            "Form expired",
            "The logout form is no longer valid.",
        ));
    }
    if let Some(digest) = cookies::session_digest(&req) {
        match app.sessions.send(Logout(digest)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(PageError::unavailable(e.to_string())),
            Err(_) => return Err(PageError::internal()),
        }
    }
    let mut response = pages::error_page(StatusCode::OK, "Signed out", "You are signed out.");
    let _ = response.add_cookie(&cookies::expired_session_cookie(&app));
    Ok(response)
}
