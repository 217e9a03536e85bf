//! The HTML pages (login, consent, error): plain forms that work without JavaScript, rendered
//! from compile-time checked templates, and served with headers that forbid framing and caching.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub client_name: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Whether the local username/password form is shown.
    pub local_login: bool,
    /// The enabled identity providers: (id, display name, link with return_to).
    pub providers: Vec<ProviderLink>,
}

/// A sign-in button for one identity provider.
pub struct ProviderLink {
    pub id: String,
    pub name: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "directory_login.html")]
pub struct DirectoryLoginPage<'a> {
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub provider_id: &'a str,
    pub provider_name: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub resource: &'a str,
    pub redirect_host: &'a str,
    /// For a client ID metadata document: the host of its client_id URL, which vouches for
    /// the (self-asserted) name.
    pub document_host: Option<&'a str>,
    /// Every redirect URI of the metadata document is loopback: anyone can publish such a
    /// document, so the page warns.
    pub localhost_only: bool,
    pub scopes: Vec<&'a str>,
    /// The authorization request's parameters, carried through the form unchanged and
    /// validated again when it is posted.
    pub hidden: Vec<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
}

/// Content-Security-Policy of every page: no scripts at all, no framing.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

pub fn html(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => with_page_headers(HttpResponse::build(status)).body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            with_page_headers(HttpResponse::InternalServerError()).body("internal error")
        }
    }
}

pub fn error_page(status: StatusCode, title: &str, detail: &str) -> HttpResponse {
    html(status, &ErrorPage { title, detail })
}

/// Headers for every HTML response and every redirect from the browser routes.
pub fn with_page_headers(
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    builder
}
