//! The session and CSRF cookies of the browser routes.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use mcpauth_state::{Digest, Session};

use crate::app::AppState;
use crate::cluster::ProposeError;
use crate::secrets;

pub const SESSION_COOKIE: &str = "mcpauth_session";
pub const CSRF_COOKIE: &str = "mcpauth_csrf";

/// The live session the browser presents, if any. A session just created through another
/// node is waited for, so a login followed by a request to another node behind the load
/// balancer does not ask the person to sign in again.
pub async fn current_session(
    req: &HttpRequest,
    app: &AppState,
) -> Result<Option<Session>, ProposeError> {
    let Some(digest) = session_digest(req) else {
        return Ok(None);
    };
    app.cluster
        .sync_if_missing(|s| s.session(&digest).is_some())
        .await?;
    let now = app.clock.now();
    Ok(app.cluster.read(|s| {
        s.session(&digest)
            .filter(|session| session.expires_at > now)
            // A session through an identity provider that was switched off has ended.
            .filter(|session| s.federation().provider_allows(&session.subject))
            .cloned()
    }))
}

pub fn session_digest(req: &HttpRequest) -> Option<Digest> {
    req.cookie(SESSION_COOKIE)
        .map(|c| secrets::digest(c.value()))
}

pub fn session_cookie(app: &AppState, id: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.secure_cookies())
        .max_age(actix_web::cookie::time::Duration::seconds(
            app.config.session_ttl as i64,
        ))
        .finish()
}

pub fn expired_session_cookie(app: &AppState) -> Cookie<'static> {
    let mut cookie = session_cookie(app, String::new());
    cookie.make_removal();
    cookie
}

/// The double-submit CSRF token: the browser's existing one, or a new one with the cookie to set.
pub fn csrf_token(req: &HttpRequest, app: &AppState) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req.cookie(CSRF_COOKIE) {
        if existing.value().len() == 43 {
            return (existing.value().to_owned(), None);
        }
    }
    let token = secrets::new_secret();
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.secure_cookies())
        .finish();
    (token, Some(cookie))
}

/// A posted form's CSRF field must equal the browser's CSRF cookie.
pub fn csrf_ok(req: &HttpRequest, presented: &str) -> bool {
    req.cookie(CSRF_COOKIE)
        .map(|c| secrets::secrets_equal(c.value().as_bytes(), presented.as_bytes()))
        .unwrap_or(false)
        && !presented.is_empty()
}
