//! The browser routes of federated login (see [`crate::upstream`] for the whole flow). They
//! keep HTTP, cookies and the replicated steps; what the upstream protocol decides is asked of
//! [`crate::upstream::Upstreams`] (begin a login, finish it, password login).
//!
//! The upstream `state` (SAML: RelayState) is random, single-use (consumed in apply()), bound
//! to the pending authorization (`return_to`) and to the browser that started it (a cookie
//! whose digest the pending login holds), and expires after [`UPSTREAM_LOGIN_TTL`]. It lives in
//! the replicated state, so the provider may send the person back to any node.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use mcpauth_state::{Command, Outcome, PendingUpstream, Profile, Refusal, Session};
use serde::Deserialize;

use super::cookies;
use super::login::{back_to_form, form_error, LoginForm};
use crate::actors::Federate;
use crate::app::AppState;
use crate::cluster::ProposeError;
use crate::error::PageError;
use crate::pages::{self, DirectoryLoginPage};
use crate::secrets;
use crate::upstream::{Answer, Begin, Identity, Upstream, UpstreamError};

/// How long a person may take at their provider.
pub const UPSTREAM_LOGIN_TTL: u64 = 600;
/// The longest `/authorize?...` request a login returns to (real clients send well under 2 KiB).
pub const MAX_RETURN_TO: usize = 4096;
/// The cookies binding pending upstream logins to the browser that started them: one per login
/// (named after its state), so sign-ins started in parallel tabs do not undo each other.
pub const UPSTREAM_COOKIE: &str = "mcpauth_upstream";

/// The binding cookie's name for the login whose upstream state is `state`.
pub fn binding_cookie_name(state: &str) -> String {
    let digest = secrets::digest(state);
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{UPSTREAM_COOKIE}_{tag}")
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    return_to: Option<String>,
    error: Option<String>,
}

/// Only a path back into our own authorization endpoint is an acceptable return target.
pub fn checked_return_to(return_to: Option<&str>) -> Result<&str, PageError> {
    match return_to {
        // The length cap bounds what an unauthenticated start writes to the replicated state.
        Some(r) if r.starts_with("/authorize?") && !r.contains('\\') && r.len() <= MAX_RETURN_TO => {
            Ok(r)
        }
        _ => Err(PageError::bad_request(
            "Invalid sign-in request",
            "Sign in by starting from your application; this page was opened without a valid request.",
        )),
    }
}

fn failed(detail: impl Into<String>) -> PageError {
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "Sign-in failed".into(),
        detail: detail.into(),
    }
}

fn upstream_failed(provider: &Upstream, e: &UpstreamError) -> PageError {
    tracing::info!(provider = %provider.id(), error = %e, "upstream login failed");
    let status = match e {
        UpstreamError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::Misconfigured(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::BAD_REQUEST,
    };
    PageError {
        status,
        title: "Sign-in failed".into(),
        detail: format!(
            "Signing in with {} did not succeed: {e}. Nothing was issued; start again from your application.",
            provider.display_name()
        ),
    }
}

fn propose_failed(e: ProposeError) -> PageError {
    PageError::unavailable(e.to_string())
}

/// Propose a federated-login step through the sessions actor; a cluster that cannot commit
/// is a 503 page, a lost actor an internal error.
async fn federate(app: &AppState, command: Command) -> Result<Outcome, PageError> {
    match app.sessions.send(Federate(command)).await {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(e)) => Err(propose_failed(e)),
        Err(_) => Err(PageError::internal()),
    }
}

/// An outcome a step cannot have: logged, and an internal error for the person.
fn unexpected(step: &'static str, outcome: Outcome) -> PageError {
    tracing::error!(?outcome, step, "unexpected outcome");
    PageError::internal()
}

/// An enabled provider of this name, from the replicated state.
fn provider_named(app: &AppState, id: &str) -> Result<Upstream, PageError> {
    let provider = app
        .cluster
        .read(|s| s.federation().provider(id).cloned())
        .filter(|p| p.enabled)
        .ok_or_else(|| {
            PageError::bad_request(
                "Unknown sign-in method",
                "This sign-in method does not exist or is switched off.",
            )
        })?;
    let id = provider.id.clone();
    Upstream::of(provider).map_err(|e| {
        tracing::error!(provider = %id, error = %e, "stored provider unreadable");
        PageError::internal()
    })
}

fn binding_cookie(app: &AppState, name: String, value: String) -> Cookie<'static> {
    let secure = app.config.secure_cookies();
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        // A SAML IdP on another site posts back cross-site: only SameSite=None (https) is sent.
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(
            UPSTREAM_LOGIN_TTL as i64,
        ))
        .finish()
}

fn redirect(location: &str) -> HttpResponse {
    pages::with_page_headers(HttpResponse::SeeOther())
        .insert_header(("Location", location))
        .finish()
}

/// GET /login/{provider}: send the person to their provider (or show the directory form).
pub async fn start(
    req: HttpRequest,
    app: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, PageError> {
    let return_to = checked_return_to(query.return_to.as_deref())?.to_owned();
    let provider = provider_named(&app, &path)?;
    let (location, state, request_id) = match app.upstreams.begin_login(&provider).await {
        Ok(Begin::Redirect {
            location,
            state,
            request_id,
        }) => (location, state, request_id),
        Ok(Begin::PasswordForm) => {
            return Ok(directory_page(
                &req,
                &app,
                &provider,
                &return_to,
                query.error.as_deref(),
            ))
        }
        Err(e) => return Err(upstream_failed(&provider, &e)),
    };
    let browser = secrets::new_secret();
    let now = app.clock.now();
    let pending = PendingUpstream {
        provider_id: provider.id().to_owned(),
        return_to,
        browser_digest: secrets::digest(&browser),
        request_id,
        created_at: now,
        expires_at: now + UPSTREAM_LOGIN_TTL,
        consumed_by: None,
    };
    let begin = Command::BeginUpstreamLogin {
        state_digest: secrets::digest(&state),
        pending,
    };
    match federate(&app, begin).await? {
        Outcome::Done => {}
        Outcome::Refused(Refusal::TooManyPendingLogins) => {
            tracing::warn!("upstream login refused: too many pending");
            return Err(PageError::unavailable(
                "too many sign-ins are in progress; try again in a few minutes",
            ));
        }
        other => return Err(unexpected("begin upstream login", other)),
    }
    let mut response = redirect(&location);
    let _ = response.add_cookie(&binding_cookie(&app, binding_cookie_name(&state), browser));
    Ok(response)
}

/// Consume the pending login `state` names, for `provider`, from this browser.
async fn consume(
    req: &HttpRequest,
    app: &AppState,
    provider: &Upstream,
    state: Option<&str>,
) -> Result<PendingUpstream, PageError> {
    let state = state
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or_else(|| {
            failed("The identity provider sent you back without the sign-in's state.")
        })?;
    let consume = Command::ConsumeUpstreamState {
        state_digest: secrets::digest(state),
        provider_id: provider.id().to_owned(),
        consumer: secrets::digest(&secrets::new_secret()),
        now: app.clock.now(),
    };
    let pending = match federate(app, consume).await? {
        Outcome::Upstream(pending) => pending,
        Outcome::Refused(refusal) => {
            tracing::info!(provider = %provider.id(), %refusal, "upstream callback refused");
            let detail = match refusal {
                Refusal::UpstreamStateExpired => "The sign-in took more than 10 minutes.",
                Refusal::UpstreamStateUsed => "This sign-in was already completed.",
                Refusal::UpstreamStateMismatch => {
                    "This answer belongs to a sign-in with another provider."
                }
                _ => "This sign-in is unknown or already finished.",
            };
            return Err(failed(format!(
                "{detail} Start again from your application."
            )));
        }
        other => return Err(unexpected("consume upstream state", other)),
    };
    let from_this_browser = req
        .cookie(&binding_cookie_name(state))
        .map(|c| secrets::secrets_equal(&secrets::digest(c.value()), &pending.browser_digest))
        .unwrap_or(false);
    if !from_this_browser {
        tracing::warn!(
            provider = %provider.id(),
            cookie_present = req.cookie(&binding_cookie_name(state)).is_some(),
            "upstream callback from another browser"
        );
        return Err(failed(
            "This sign-in was started in another browser (or its cookie expired). Start again from your application.",
        ));
    }
    Ok(pending)
}

/// Start our session for the person the provider vouched for, and go back to /authorize.
async fn sign_in(
    req: &HttpRequest,
    app: &AppState,
    provider: &Upstream,
    identity: Identity,
    return_to: &str,
    state: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let now = app.clock.now();
    let subject = identity.our_subject(provider.id());
    let session_id = secrets::new_secret();
    let session = Session {
        id_digest: secrets::digest(&session_id),
        subject: subject.clone(),
        username: identity.display_username(),
        created_at: now,
        expires_at: now.saturating_add(app.config.session_ttl),
        identity_provider: Some(provider.id().to_owned()),
        source: crate::routes::source_address(req),
    };
    let profile = Profile {
        subject,
        provider_id: provider.id().to_owned(),
        email: identity.email,
        name: identity.name,
        groups: identity.groups,
        updated_at: now,
    };
    let command = Command::CreateFederatedSession {
        session,
        profile,
        replaces: cookies::session_digest(req),
    };
    match federate(app, command).await? {
        Outcome::Done => {}
        other => return Err(unexpected("create federated session", other)),
    }
    tracing::info!(provider = %provider.id(), "federated sign-in");
    let mut response = redirect(return_to);
    let _ = response.add_cookie(&cookies::session_cookie(app, session_id));
    if let Some(state) = state {
        let mut spent = binding_cookie(app, binding_cookie_name(state), String::new());
        spent.make_removal();
        let _ = response.add_cookie(&spent);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

/// GET /login/{provider}/callback: the OpenID Connect or OAuth 2.0 provider sends the person back.
pub async fn callback(
    req: HttpRequest,
    app: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, PageError> {
    let provider = provider_named(&app, &path)?;
    let pending = consume(&req, &app, &provider, query.state.as_deref()).await?;
    let answer = Answer::Redirect {
        state: query.state.as_deref().unwrap_or_default(),
        code: query.code.as_deref(),
        error: query.error.as_deref(),
        error_description: query.error_description.as_deref(),
        iss: query.iss.as_deref(),
    };
    let finished = app
        .upstreams
        .finish_login(&provider, answer)
        .await
        .map_err(|e| upstream_failed(&provider, &e))?;
    sign_in(
        &req,
        &app,
        &provider,
        finished.identity,
        &pending.return_to,
        query.state.as_deref(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// POST /saml/{provider}/acs: the IdP posts the signed assertion (HTTP-POST binding).
pub async fn saml_acs(
    req: HttpRequest,
    app: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<SamlPost>,
) -> Result<HttpResponse, PageError> {
    let provider = provider_named(&app, &path)?;
    if provider.config.kind() != "saml" {
        return Err(failed("This sign-in method does not use SAML."));
    }
    let pending = consume(&req, &app, &provider, form.relay_state.as_deref()).await?;
    let now = app.clock.now();
    let answer = Answer::SamlPost {
        response: form.saml_response.as_deref(),
        expected_request_id: pending.request_id.as_deref().unwrap_or_default(),
        now,
    };
    let finished = app
        .upstreams
        .finish_login(&provider, answer)
        .await
        .map_err(|e| upstream_failed(&provider, &e))?;
    let Some(assertion) = finished.assertion else {
        return Err(PageError::internal());
    };
    let record = Command::RecordAssertion {
        provider_id: provider.id().to_owned(),
        assertion_id: assertion.id,
        expires_at: assertion.expires_at,
        consumer: secrets::digest(&secrets::new_secret()),
        now,
    };
    match federate(&app, record).await? {
        Outcome::Done => {}
        Outcome::Refused(Refusal::AssertionReplayed) => {
            return Err(upstream_failed(
                &provider,
                &UpstreamError::Invalid("this assertion was already used".into()),
            ))
        }
        other => return Err(unexpected("record assertion", other)),
    }
    sign_in(
        &req,
        &app,
        &provider,
        finished.identity,
        &pending.return_to,
        form.relay_state.as_deref(),
    )
    .await
}

/// GET /saml/{provider}/metadata: our SP metadata for the IdP to import.
pub async fn saml_metadata(
    app: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let provider = provider_named(&app, &path)?;
    let metadata = app.upstreams.sp_metadata(&provider).ok_or_else(|| {
        PageError::bad_request(
            "Not a SAML provider",
            "This sign-in method does not use SAML.",
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(metadata))
}

fn directory_page(
    req: &HttpRequest,
    app: &AppState,
    provider: &Upstream,
    return_to: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (csrf, cookie) = cookies::csrf_token(req, app);
    let error = form_error(error);
    let mut response = pages::html(
        StatusCode::OK,
        &DirectoryLoginPage {
            csrf: &csrf,
            return_to,
            provider_id: provider.id(),
            provider_name: provider.display_name(),
            error,
        },
    );
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

fn back_to_directory(provider: &str, return_to: &str, error: &str) -> HttpResponse {
    back_to_form(&format!("/login/{provider}"), return_to, error)
}

/// POST /login/{provider}: a directory (LDAP) username and password.
pub async fn directory_login(
    req: HttpRequest,
    app: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let return_to = checked_return_to(form.return_to.as_deref())?.to_owned();
    let provider = provider_named(&app, &path)?;
    if !provider.takes_password() {
        return Err(failed("This sign-in method has no password form."));
    }
    if !cookies::csrf_ok(&req, &form.csrf) {
        return Ok(back_to_directory(provider.id(), &return_to, "csrf"));
    }
    let login = app
        .upstreams
        .password_login(&provider, &form.username, &form.password)
        .await;
    match login {
        Ok(identity) => sign_in(&req, &app, &provider, identity, &return_to, None).await,
        Err(UpstreamError::BadCredentials) => {
            tracing::info!(provider = %provider.id(), "directory login refused: invalid credentials");
            Ok(back_to_directory(provider.id(), &return_to, "invalid"))
        }
        Err(e) => Err(upstream_failed(&provider, &e)),
    }
}
