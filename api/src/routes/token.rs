//! POST /token (OAuth 2.1 §3.2): parse the grant and the client's credentials, let the codes
//! actor run the grant with this node's time, answer. The grants live in `crate::oauth::grant`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::actors::Exchange;
use crate::app::AppState;
use crate::error::OAuthError;
use crate::oauth::{self, BasicHeader, ClientCredentials, TokenRequest};

pub async fn token(
    app: web::Data<AppState>,
    basic: BasicHeader,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let (grant, posted) = TokenRequest::parse(&body)?;
    let credentials = ClientCredentials::resolve(basic, posted)?;
    let now = app.clock.now();
    let exchange = Exchange {
        credentials,
        grant,
        now,
    };
    let tokens = app
        .codes
        .send(exchange)
        .await
        .map_err(|_| oauth::Error::Internal)??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(tokens))
}
