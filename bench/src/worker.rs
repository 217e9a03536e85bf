//! One worker: a person who keeps doing one operation until the measurement ends, timing
//! each, counting errors by kind, and signing in again when the server lost their session or
//! token chain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::browser::{self, FlowConfig};
use crate::discovery::Metadata;
use crate::error::{BenchError, OpError};
use crate::http;
use crate::oauth::{self, RegisteredClient, RegistrationRequest};
use crate::verify::Verifier;
use crate::workload::{Settings, Workload};

/// After a failed operation a worker waits this long, so a server that refuses everything
/// at once (connection refused) is not spun against.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// The endpoints of one node (or of the issuer itself).
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) authorize: String,
    pub(crate) token: String,
    pub(crate) registration: String,
}

/// What every worker shares.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) metadata: Metadata,
    pub(crate) client: RegisteredClient,
    pub(crate) flow: FlowConfig,
    pub(crate) registration: RegistrationRequest,
    /// The issuer's own endpoints: sign-ins go there.
    pub(crate) home: Endpoints,
    /// Operations are spread over these, round robin.
    pub(crate) targets: Vec<Endpoints>,
    pub(crate) next_target: AtomicUsize,
}

impl Shared {
    pub(crate) fn target(&self) -> &Endpoints {
        let i = self.next_target.fetch_add(1, Ordering::Relaxed) % self.targets.len();
        &self.targets[i]
    }
}

/// A person using the client: their own browser (cookie jar, connections) and token chain.
pub(crate) struct Person {
    pub(crate) http: reqwest::Client,
    pub(crate) refresh_token: Option<String>,
    pub(crate) access_token: Option<String>,
    /// The server asked this person to sign in again (their session is gone).
    pub(crate) session_lost: bool,
}

/// The measured phase of one measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

pub(crate) struct WorkerResult {
    pub(crate) person: Person,
    pub(crate) histogram: Histogram<u64>,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) examples: BTreeMap<String, String>,
}

/// A new browser that signs in (login and consent pages as needed) and redeems the code.
pub(crate) async fn new_person(shared: Arc<Shared>) -> Result<(Person, String), BenchError> {
    let http = http::client(shared.settings.timeout)?;
    let tokens = sign_in(&shared, &http)
        .await
        .map_err(BenchError::setup("sign-in"))?;
    let described = tokens.describe();
    Ok((
        Person {
            http,
            refresh_token: tokens.refresh_token,
            access_token: Some(tokens.access_token),
            session_lost: false,
        },
        described,
    ))
}

/// Sign in through the issuer's own pages and redeem the code there.
async fn sign_in(shared: &Shared, http: &reqwest::Client) -> Result<oauth::Tokens, OpError> {
    let code = browser::sign_in(http, &shared.flow, &shared.home.authorize).await?;
    oauth::exchange_code(
        http,
        &shared.home.token,
        &shared.client,
        &code.code,
        &code.verifier,
        shared.flow.redirect_uri.as_str(),
        shared.settings.resource.as_deref(),
    )
    .await
}

pub(crate) async fn worker(
    shared: Arc<Shared>,
    mut person: Person,
    mut histogram: Histogram<u64>,
    workload: Workload,
    window: Window,
    verifier: Option<Arc<(Verifier, String)>>,
) -> WorkerResult {
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut examples: BTreeMap<String, String> = BTreeMap::new();
    let mut count = |e: &OpError, at: Instant, prefix: &str| {
        if at >= window.start && at <= window.end {
            let kind = format!("{prefix}{}", e.kind());
            examples
                .entry(kind.clone())
                .or_insert_with(|| e.to_string());
            *errors.entry(kind).or_default() += 1;
        }
    };
    loop {
        // a refresh chain or a session lost to an error: sign in again (not timed as an
        // operation; its errors are counted)
        if (workload == Workload::Refresh && person.refresh_token.is_none())
            || (workload == Workload::Login && person.session_lost)
        {
            match sign_in(&shared, &person.http).await {
                Ok(tokens) if workload == Workload::Login || tokens.refresh_token.is_some() => {
                    person.refresh_token = tokens.refresh_token;
                    person.session_lost = false;
                }
                Ok(_) => {
                    let e = OpError::protocol("no refresh token", "the sign-in issued none");
                    count(&e, Instant::now(), "sign-in: ");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
                Err(e) => {
                    count(&e, Instant::now(), "sign-in: ");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            }
            if Instant::now() >= window.end {
                break;
            }
            continue;
        }
        let start = Instant::now();
        if start >= window.end {
            break;
        }
        let outcome = match workload {
            Workload::Refresh => refresh_op(&shared, &mut person).await,
            Workload::Login => login_op(&shared, &person).await,
            Workload::Register => register_op(&shared, &person).await,
            Workload::Verify => match &verifier {
                Some(v) => {
                    let result = v.0.verify(&v.1);
                    // a resource server's validation is CPU work: let the other workers run
                    tokio::task::yield_now().await;
                    result
                }
                None => Err(OpError::protocol("verify", "no verifier")),
            },
        };
        let end = Instant::now();
        let counted = start >= window.start && end <= window.end;
        match outcome {
            Ok(()) => {
                if counted {
                    let us =
                        u64::try_from(end.duration_since(start).as_micros()).unwrap_or(u64::MAX);
                    histogram.saturating_record(us.max(1));
                }
            }
            Err(e) => {
                if counted {
                    count(&e, end, "");
                }
                // an OAuth refusal of a refresh means the chain is gone (rotated, revoked)
                if workload == Workload::Refresh && e.oauth_code().is_some() {
                    person.refresh_token = None;
                }
                // a login page instead of a code: the session is gone
                if workload == Workload::Login && e.needs_interaction() {
                    person.session_lost = true;
                }
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    WorkerResult {
        person,
        histogram,
        errors,
        examples,
    }
}

async fn refresh_op(shared: &Shared, person: &mut Person) -> Result<(), OpError> {
    let Some(current) = person.refresh_token.as_deref() else {
        return Err(OpError::protocol("no refresh token", "chain lost"));
    };
    let tokens = oauth::refresh(
        &person.http,
        &shared.target().token,
        &shared.client,
        current,
        shared.settings.resource.as_deref(),
    )
    .await?;
    if let Some(next) = tokens.refresh_token {
        person.refresh_token = Some(next);
    }
    person.access_token = Some(tokens.access_token);
    Ok(())
}

async fn login_op(shared: &Shared, person: &Person) -> Result<(), OpError> {
    let target = shared.target();
    let code = browser::authorize_again(&person.http, &shared.flow, &target.authorize).await?;
    oauth::exchange_code(
        &person.http,
        &target.token,
        &shared.client,
        &code.code,
        &code.verifier,
        shared.flow.redirect_uri.as_str(),
        shared.settings.resource.as_deref(),
    )
    .await
    .map(|_| ())
}

async fn register_op(shared: &Shared, person: &Person) -> Result<(), OpError> {
    oauth::register(
        &person.http,
        &shared.target().registration,
        &shared.registration,
    )
    .await
    .map(|_| ())
}
