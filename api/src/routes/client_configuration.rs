//! GET, PUT, DELETE /register/{client_id} (RFC 7592): read the registration access token
//! from the Authorization header, let the domain read, replace or delete the registration,
//! answer. The rules live in `crate::oauth::registration_management`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::AppState;
use crate::error::OAuthError;
use crate::oauth::registration_management::{ClientConfiguration, RegistrationToken};

fn token(req: &HttpRequest) -> RegistrationToken {
    RegistrationToken::parse(
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

fn endpoint(app: &AppState) -> ClientConfiguration<'_> {
    ClientConfiguration {
        cluster: &app.cluster,
        issuer: &app.config.issuer,
        policy: &app.config.registration,
    }
}

fn registration(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

pub async fn read(
    app: web::Data<AppState>,
    req: HttpRequest,
    client_id: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    let body = endpoint(&app).read(&client_id, &token(&req)).await?;
    Ok(registration(body))
}

pub async fn update(
    app: web::Data<AppState>,
    req: HttpRequest,
    client_id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let body = endpoint(&app)
        .update(&client_id, &token(&req), &body)
        .await?;
    Ok(registration(body))
}

pub async fn delete(
    app: web::Data<AppState>,
    req: HttpRequest,
    client_id: web::Path<String>,
) -> Result<HttpResponse, OAuthError> {
    endpoint(&app).delete(&client_id, &token(&req)).await?;
    Ok(HttpResponse::NoContent().finish())
}
