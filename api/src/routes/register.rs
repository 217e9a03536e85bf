//! POST /register (RFC 7591): parse the JSON metadata (refused at once when registration is
//! off), let the clients actor check and propose it, answer 201 with the registration. The
//! rules live in `crate::oauth::registration`.

use actix_web::{web, HttpResponse};

use crate::actors::Register;
use crate::app::AppState;
use crate::error::OAuthError;
use crate::oauth::registration::RegistrationRequest;
use crate::oauth::registration_management;
use crate::oauth::Error;

pub async fn register(
    app: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let request = RegistrationRequest::parse(&body, &app.config.registration)?;
    let now = app.clock.now();
    let registered = app
        .clients
        .send(Register { request, now })
        .await
        .map_err(|_| Error::Internal)??;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(registration_management::answer(
            &registered,
            &app.config.issuer,
        )?))
}
