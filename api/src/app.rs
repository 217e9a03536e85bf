//! The shared state of the HTTP layer and the route table.

use actix::{Actor, Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse};

use mcpauth_client_metadata::ClientMetadataResolver;

use crate::actors::{ClientsActor, CodesActor, ConfigActor, SessionsActor};
use crate::clock::SharedClock;
use crate::cluster::Cluster;
use crate::error::PageError;
use crate::oauth::TokenService;
use crate::routes;
use crate::sealer::Sealer;
use crate::server_config::ServerConfig;
use crate::signer_cache::SignerCache;
use crate::upstream::Upstreams;

/// What every route can reach: read views (the applied state machine, the cached signer) and
/// the actors that write through Raft.
pub struct AppState {
    pub config: ServerConfig,
    /// The one clock of the node's routes: they read the time here and pass it down, so a
    /// test can pin it.
    pub clock: SharedClock,
    pub cluster: Cluster,
    pub signer: SignerCache,
    pub clients: Addr<ClientsActor>,
    pub codes: Addr<CodesActor>,
    pub sessions: Addr<SessionsActor>,
    pub config_actor: Addr<ConfigActor>,
    /// Unseals provider secrets and derives per-login upstream values.
    pub sealer: Sealer,
    /// Clients of the organisation's identity providers.
    pub upstreams: Upstreams,
    /// Set once this node has seen the cluster's signing key, admin user and settings (its
    /// start-up bootstrap succeeded). Until then it must not answer OAuth requests: without
    /// the configured resources it would judge them differently.
    pub bootstrapped: Arc<AtomicBool>,
    /// Resolves client_id URLs (client ID metadata documents); one per node, its cache shared.
    pub client_metadata: Arc<ClientMetadataResolver>,
}

impl AppState {
    /// The state of one HTTP worker: the node's shared handles, and clients, codes and sessions
    /// actors of its own. They hold no state, so one per worker costs nothing and saves two
    /// thread hand-offs per request (a route talks to an actor on its own thread). Call it on
    /// the worker's thread (inside the `HttpServer` factory).
    pub fn for_worker(node: &NodeContext) -> Self {
        let tokens = TokenService::new(
            node.cluster.clone(),
            node.signer.clone(),
            node.config.clone(),
        );
        Self {
            clients: ClientsActor::new(node.cluster.clone(), node.config.registration.clone())
                .start(),
            codes: CodesActor::new(node.cluster.clone(), tokens, node.config.code_ttl).start(),
            sessions: SessionsActor::new(node.cluster.clone(), node.config.session_ttl).start(),
            config_actor: node.config_actor.clone(),
            config: node.config.clone(),
            clock: node.clock.clone(),
            cluster: node.cluster.clone(),
            signer: node.signer.clone(),
            sealer: node.sealer.clone(),
            upstreams: node.upstreams.clone(),
            bootstrapped: node.bootstrapped.clone(),
            client_metadata: node.client_metadata.clone(),
        }
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped.load(Ordering::Acquire)
    }
}

/// What every HTTP worker of a node shares (cloneable handles); see [`AppState::for_worker`].
#[derive(Clone)]
pub struct NodeContext {
    pub config: ServerConfig,
    pub clock: SharedClock,
    pub cluster: Cluster,
    pub signer: SignerCache,
    pub sealer: Sealer,
    pub upstreams: Upstreams,
    /// One per node: it runs the purge schedule.
    pub config_actor: Addr<ConfigActor>,
    pub bootstrapped: Arc<AtomicBool>,
    pub client_metadata: Arc<ClientMetadataResolver>,
}

/// The public application of one worker: the routes behind the bootstrap gate. The node's
/// server and the in-process route tests build the same thing.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .wrap(actix_web::middleware::from_fn(bootstrap_gate))
        .configure(configure)
}

/// Middleware: until the node is bootstrapped, every route but the health checks answers 503.
pub async fn bootstrap_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let open = req.path() == "/healthz"
        || req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|app| app.is_bootstrapped());
    if open {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let response = HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "1"))
        .content_type("text/plain")
        .body("starting: waiting for the cluster\n");
    Ok(req.into_response(response).map_into_right_body())
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
    .service(cors_resource(
        "/revoke",
        web::post().to(routes::revoke::revoke),
    ))
    // Server to server (resource servers): no CORS.
    .service(web::resource("/introspect").route(web::post().to(routes::introspect::introspect)))
    .service(
        web::resource("/register/{client_id}")
            .route(web::get().to(routes::client_configuration::read))
            .route(web::put().to(routes::client_configuration::update))
            .route(web::delete().to(routes::client_configuration::delete)),
    )
    .service(web::resource("/authorize").route(web::get().to(routes::authorize::authorize)))
    .service(web::resource("/consent").route(web::post().to(routes::authorize::consent)))
    .service(
        web::resource("/login")
            .route(web::get().to(routes::login::login_page))
            .route(web::post().to(routes::login::login)),
    )
    .service(web::resource("/logout").route(web::post().to(routes::login::logout)))
    .service(
        web::resource("/login/{provider}")
            .route(web::get().to(routes::upstream::start))
            .route(web::post().to(routes::upstream::directory_login)),
    )
    .service(
        web::resource("/login/{provider}/callback")
            .route(web::get().to(routes::upstream::callback)),
    )
    .service(
        web::resource("/saml/{provider}/acs").route(web::post().to(routes::upstream::saml_acs)),
    )
    .service(
        web::resource("/saml/{provider}/metadata")
            .route(web::get().to(routes::upstream::saml_metadata)),
    )
    .service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)));
}
