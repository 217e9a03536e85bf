//! POST /introspect (RFC 7662): parse the token and the confidential client's credentials,
//! let the domain judge the token with this node's time, answer its JSON. The rules live in
//! `crate::oauth::introspection`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::app::AppState;
use crate::error::OAuthError;
use crate::oauth::introspection::Introspector;
use crate::oauth::presented_token::PresentedToken;
use crate::oauth::{BasicHeader, ClientCredentials};

pub async fn introspect(
    app: web::Data<AppState>,
    basic: BasicHeader,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let (presented, posted) = PresentedToken::parse(&body)?;
    let credentials = ClientCredentials::resolve(basic, posted)?;
    let introspector = Introspector {
        cluster: &app.cluster,
        issuer: &app.config.issuer,
    };
    let answer = introspector
        .introspect(&credentials, &presented, app.clock.now())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}
