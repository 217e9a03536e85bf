//! The shared state of the HTTP layer and the route table.

use actix::Addr;
use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse};

use crate::actors::{ClientsActor, CodesActor, ConfigActor, SessionsActor};
use crate::cluster::Cluster;
use crate::error::PageError;
use crate::routes;
use crate::server_config::ServerConfig;
use crate::signer_cache::SignerCache;

/// What every route can reach: read views (the applied state machine, the cached signer) and
/// the actors that write through Raft.
pub struct AppState {
    pub config: ServerConfig,
    pub cluster: Cluster,
    pub signer: SignerCache,
    pub clients: Addr<ClientsActor>,
    pub codes: Addr<CodesActor>,
    pub sessions: Addr<SessionsActor>,
    pub config_actor: Addr<ConfigActor>,
}

/// CORS for the endpoints browser-based MCP clients call from scripts (never /authorize or
/// the pages): any origin, no credentials, and the MCP-Protocol-Version header.
fn cors() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Access-Control-Allow-Origin", "*"))
        .add(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        .add((
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, MCP-Protocol-Version",
        ))
        .add(("Access-Control-Max-Age", "600"))
}

async fn preflight() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// A resource with CORS headers and an unauthenticated OPTIONS answer.
fn cors_resource(path: &str, route: actix_web::Route) -> impl HttpServiceFactory {
    web::resource(path)
        .wrap(cors())
        .route(web::method(Method::OPTIONS).to(preflight))
        .route(route)
}

/// Malformed query strings and forms on the browser routes get a readable page, not plain text.
fn malformed_page(err: impl std::fmt::Display) -> actix_web::Error {
    tracing::debug!(error = %err, "malformed browser request");
    PageError::bad_request(
        "Invalid request",
        "The request was malformed. Start the sign-in again from your application.",
    )
    .into()
}

/// Register every route of the OAuth server.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| malformed_page(e)))
        .app_data(web::FormConfig::default().error_handler(|e, _| malformed_page(e)));
    cfg.service(cors_resource(
        "/.well-known/oauth-authorization-server",
        web::get().to(routes::metadata::authorization_server),
    ))
    .service(cors_resource(
        "/.well-known/openid-configuration",
        web::get().to(routes::metadata::authorization_server),
    ))
    .service(cors_resource(
        "/jwks.json",
        web::get().to(routes::jwks::jwks),
    ))
    .service(cors_resource(
        "/register",
        web::post().to(routes::register::register),
    ))
    .service(cors_resource(
        "/token",
        web::post().to(routes::token::token),
    ))
    .service(web::resource("/authorize").route(web::get().to(routes::authorize::authorize)))
    .service(web::resource("/consent").route(web::post().to(routes::authorize::consent)))
    .service(
        web::resource("/login")
            .route(web::get().to(routes::login::login_page))
            .route(web::post().to(routes::login::login)),
    )
    .service(web::resource("/logout").route(web::post().to(routes::login::logout)))
    .service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)));
}
