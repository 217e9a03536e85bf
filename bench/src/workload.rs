//! The runner: set up a client and the people who use it, then run one workload at one
//! concurrency for a fixed time after a warm-up, and measure it.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use hdrhistogram::Histogram;
use jsonwebtoken::jwk::JwkSet;
use url::Url;

use crate::browser::FlowConfig;
use crate::cpu;
use crate::discovery;
use crate::error::BenchError;
use crate::form::Credentials;
use crate::http;
use crate::oauth::{self, RegistrationRequest};
use crate::record::{Machine, Record};
use crate::verify::Verifier;
use crate::worker::{new_person, worker, Endpoints, Person, Shared, Window};

/// Latencies are recorded in microseconds up to this (longer ones saturate).
const MAX_LATENCY_US: u64 = 300_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Each worker keeps one rotating refresh-token chain.
    Refresh,
    /// Authorization-code flows with PKCE for a signed-in user who already consented.
    Login,
    /// Dynamic client registrations.
    Register,
    /// Access-token validation against the JWKS, as a resource server does (client side).
    Verify,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Refresh => "refresh",
            Workload::Login => "login",
            Workload::Register => "register",
            Workload::Verify => "verify",
        }
    }
}

/// Everything a run is told.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: String,
    pub targets: Vec<String>,
    pub label: String,
    pub server_pids: Vec<u32>,
    pub resource: Option<String>,
    pub scope: String,
    pub prompt: Option<String>,
    pub credentials: Credentials,
    pub redirect_uri: String,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub signin_concurrency: usize,
}

/// Set up once for a run, then measured at each workload and concurrency.
pub struct Runner {
    shared: Arc<Shared>,
    people: Vec<Person>,
    machine: Machine,
    clock_ticks: f64,
}

/// `endpoint` as served by `target`: the issuer's prefix swapped for the target's.
fn rebase(endpoint: &str, issuer: &str, target: &str) -> String {
    match endpoint.strip_prefix(issuer) {
        Some(rest) => format!("{}{rest}", target.trim_end_matches('/')),
        None => endpoint.to_string(),
    }
}

impl Runner {
    /// Discover the server and register the benchmark's client.
    pub async fn setup(settings: Settings) -> Result<Runner, BenchError> {
        let http = http::client(settings.timeout)?;
        let metadata = discovery::discover(&http, &settings.issuer).await?;
        let registration_endpoint = metadata
            .registration_endpoint
            .clone()
            .ok_or(BenchError::MissingEndpoint("registration_endpoint"))?;
        let registration = RegistrationRequest::new(&settings.redirect_uri, &settings.scope);
        let client = oauth::register(&http, &registration_endpoint, &registration)
            .await
            .map_err(BenchError::setup("client registration"))?;
        let redirect_uri =
            Url::parse(&settings.redirect_uri).map_err(|source| BenchError::Url {
                url: settings.redirect_uri.clone(),
                source,
            })?;
        let flow = FlowConfig {
            client_id: client.client_id.clone(),
            redirect_uri,
            scope: settings.scope.clone(),
            resource: settings.resource.clone(),
            prompt: settings.prompt.clone(),
            issuer: metadata.issuer.clone(),
            credentials: settings.credentials.clone(),
        };
        let home = Endpoints {
            authorize: metadata.authorization_endpoint.clone(),
            token: metadata.token_endpoint.clone(),
            registration: registration_endpoint,
        };
        let targets = if settings.targets.is_empty() {
            vec![home.clone()]
        } else {
            settings
                .targets
                .iter()
                .map(|t| Endpoints {
                    authorize: rebase(&home.authorize, &metadata.issuer, t),
                    token: rebase(&home.token, &metadata.issuer, t),
                    registration: rebase(&home.registration, &metadata.issuer, t),
                })
                .collect()
        };
        eprintln!(
            "bench: {} registered client {} (token endpoint auth {}), {} target(s)",
            metadata.issuer,
            client.client_id,
            client.auth_method,
            targets.len()
        );
        Ok(Runner {
            shared: Arc::new(Shared {
                settings,
                metadata,
                client,
                flow,
                registration,
                home,
                targets,
                next_target: AtomicUsize::new(0),
            }),
            people: Vec::new(),
            machine: Machine::current(),
            clock_ticks: cpu::clock_ticks(),
        })
    }

    /// Make sure `n` people have signed in (new ones sign in concurrently, before any timing).
    async fn ensure_people(&mut self, n: usize) -> Result<(), BenchError> {
        if self.people.len() >= n {
            return Ok(());
        }
        let missing = n - self.people.len();
        eprintln!("bench: signing in {missing} more user session(s)");
        let started = Instant::now();
        let shared = self.shared.clone();
        let results: Vec<Result<(Person, String), BenchError>> = futures::stream::iter(0..missing)
            .map(|_| new_person(shared.clone()))
            .buffer_unordered(self.shared.settings.signin_concurrency.max(1))
            .collect()
            .await;
        for person in results {
            let (person, described) = person?;
            if self.people.is_empty() {
                eprintln!("bench: first sign-in issued {described}");
            }
            self.people.push(person);
        }
        eprintln!(
            "bench: signed in {missing} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Run `workload` with `concurrency` workers and measure it.
    pub async fn measure(
        &mut self,
        workload: Workload,
        concurrency: usize,
    ) -> Result<Record, BenchError> {
        let concurrency = concurrency.max(1);
        let verifier = match workload {
            Workload::Verify => Some(self.verify_setup().await?),
            _ => None,
        };
        let people = match workload {
            Workload::Refresh | Workload::Login => {
                self.ensure_people(concurrency).await?;
                if workload == Workload::Refresh
                    && self.people[..concurrency]
                        .iter()
                        .all(|p| p.refresh_token.is_none())
                {
                    return Err(BenchError::Invalid(
                        "the server issued no refresh token (does the scope ask for offline_access?)"
                            .into(),
                    ));
                }
                self.people.drain(..concurrency).collect::<Vec<_>>()
            }
            // these need no session: fresh browsers
            Workload::Register | Workload::Verify => (0..concurrency)
                .map(|_| {
                    Ok(Person {
                        http: http::client(self.shared.settings.timeout)?,
                        refresh_token: None,
                        access_token: None,
                        session_lost: false,
                    })
                })
                .collect::<Result<Vec<_>, BenchError>>()?,
        };
        let load_before = crate::record::load_average();
        let settings = &self.shared.settings;
        let start = Instant::now() + settings.warmup;
        let window = Window {
            start,
            end: start + settings.duration,
        };
        let pids = settings.server_pids.clone();
        let sampler = tokio::spawn(async move {
            tokio::time::sleep_until(window.start.into()).await;
            let server0 = cpu::total_ticks(&pids);
            let self0 = cpu::ticks("self");
            let wall0 = SystemTime::now();
            tokio::time::sleep_until(window.end.into()).await;
            let server1 = cpu::total_ticks(&pids);
            let self1 = cpu::ticks("self");
            let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
            (delta(server0, server1), delta(self0, self1), wall0)
        });
        let mut handles = Vec::with_capacity(people.len());
        for person in people {
            handles.push(tokio::spawn(worker(
                self.shared.clone(),
                person,
                new_histogram()?,
                workload,
                window,
                verifier.clone(),
            )));
        }
        let mut histogram = new_histogram()?;
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        let mut examples: BTreeMap<String, String> = BTreeMap::new();
        for handle in handles {
            let result = handle.await.map_err(BenchError::Join)?;
            histogram
                .add(&result.histogram)
                .map_err(|e| BenchError::Invalid(format!("merging histograms: {e:?}")))?;
            for (kind, n) in result.errors {
                *errors.entry(kind).or_default() += n;
            }
            for (kind, example) in result.examples {
                examples.entry(kind).or_insert(example);
            }
            if matches!(workload, Workload::Refresh | Workload::Login) {
                self.people.push(result.person);
            }
        }
        let (server_ticks, self_ticks, wall0) = sampler.await.map_err(BenchError::Join)?;
        for (kind, example) in &examples {
            eprintln!("bench: error {kind}, e.g. {example}");
        }
        let mut record = self.record(
            workload,
            concurrency,
            &histogram,
            errors,
            server_ticks,
            self_ticks,
            wall0,
        );
        record.load_before = load_before;
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        workload: Workload,
        concurrency: usize,
        histogram: &Histogram<u64>,
        errors: BTreeMap<String, u64>,
        server_ticks: Option<u64>,
        self_ticks: Option<u64>,
        wall0: SystemTime,
    ) -> Record {
        let settings = &self.shared.settings;
        let duration_s = settings.duration.as_secs_f64();
        let ops = histogram.len();
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |quantile: f64| {
            if ops == 0 {
                0.0
            } else {
                ms(histogram.value_at_quantile(quantile))
            }
        };
        let per_op = |ticks: Option<u64>| {
            let seconds = ticks? as f64 / self.clock_ticks;
            (ops > 0).then(|| seconds * 1000.0 / ops as f64)
        };
        let server_cpu_s = if settings.server_pids.is_empty() {
            None
        } else {
            server_ticks.map(|t| t as f64 / self.clock_ticks)
        };
        Record {
            label: settings.label.clone(),
            workload: workload.name().to_string(),
            concurrency,
            duration_s,
            ops,
            ops_per_s: ops as f64 / duration_s,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: if ops == 0 { 0.0 } else { ms(histogram.max()) },
            mean_ms: if ops == 0 {
                0.0
            } else {
                histogram.mean() / 1000.0
            },
            errors: errors.values().sum(),
            errors_by_kind: errors,
            server_cpu_s,
            server_cpu_ms_per_op: server_cpu_s.and_then(|_| per_op(server_ticks)),
            bench_cpu_ms_per_op: per_op(self_ticks),
            issuer: self.shared.metadata.issuer.clone(),
            targets: if settings.targets.is_empty() {
                vec![settings.issuer.clone()]
            } else {
                settings.targets.clone()
            },
            server_pids: settings.server_pids.clone(),
            machine: self.machine.clone(),
            started_at: wall0
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            load_before: None,
        }
    }

    /// The JWKS, parsed once, and one access token to validate again and again.
    async fn verify_setup(&mut self) -> Result<Arc<(Verifier, String)>, BenchError> {
        let jwks_uri = self
            .shared
            .metadata
            .jwks_uri
            .clone()
            .ok_or(BenchError::MissingEndpoint("jwks_uri"))?;
        self.ensure_people(1).await?;
        let token = self
            .people
            .iter()
            .find_map(|p| p.access_token.clone())
            .ok_or_else(|| BenchError::Jwks("no access token was issued".into()))?;
        let http = http::client(self.shared.settings.timeout)?;
        let response = http
            .get(&jwks_uri)
            .send()
            .await
            .map_err(|e| BenchError::setup("fetching the JWKS")(e.into()))?;
        let jwks: JwkSet = http::json(response)
            .await
            .map_err(BenchError::setup("fetching the JWKS"))?;
        let verifier = Verifier::new(
            &jwks,
            &self.shared.metadata.issuer,
            self.shared.settings.resource.as_deref(),
        )?;
        verifier
            .verify(&token)
            .map_err(BenchError::setup("validating the access token"))?;
        Ok(Arc::new((verifier, token)))
    }
}

fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| BenchError::Invalid(format!("histogram: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebase_swaps_the_issuer_for_the_target() {
        assert_eq!(
            rebase(
                "http://127.0.0.1:8081/token",
                "http://127.0.0.1:8081",
                "http://127.0.0.1:8083"
            ),
            "http://127.0.0.1:8083/token"
        );
        assert_eq!(
            rebase(
                "https://other.example/token",
                "http://127.0.0.1:8081",
                "http://127.0.0.1:8083/"
            ),
            "https://other.example/token"
        );
    }
}
