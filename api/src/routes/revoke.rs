//! POST /revoke (RFC 7009): parse the token and the client's credentials, let the domain
//! revoke it with this node's time, answer 200 with no body. The rules live in
//! `crate::oauth::revocation`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::app::AppState;
use crate::error::OAuthError;
use crate::oauth::presented_token::PresentedToken;
use crate::oauth::revocation::Revocation;
use crate::oauth::{BasicHeader, ClientCredentials};

pub async fn revoke(
    app: web::Data<AppState>,
    basic: BasicHeader,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let (presented, posted) = PresentedToken::parse(&body)?;
    let credentials = ClientCredentials::resolve(basic, posted)?;
    let revocation = Revocation {
        cluster: &app.cluster,
    };
    revocation
        .revoke(&credentials, &presented, app.clock.now())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
