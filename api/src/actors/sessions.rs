use actix::prelude::*;
use mcpauth_state::{Command, Consent, Digest, Outcome, Session, UnixTime};

use crate::cluster::{Cluster, ProposeError};
use crate::oauth::authorize::ValidRequest;
use crate::{passwords, secrets};

/// Logs people in (the password is verified on the blocking pool, never on an HTTP worker) and
/// out, and records their consents.
pub struct SessionsActor {
    cluster: Cluster,
    /// Lifetime of a session, in seconds.
    session_ttl: u64,
}

impl SessionsActor {
    pub fn new(cluster: Cluster, session_ttl: u64) -> Self {
        Self {
            cluster,
            session_ttl,
        }
    }
}

impl Actor for SessionsActor {
    type Context = Context<Self>;
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("login could not be completed")]
    Internal,
}

/// Check a username and password; on success start a new session (replacing `replaces`) and
/// answer the new session id, which only the browser's cookie will hold in clear.
#[derive(Message)]
#[rtype(result = "Result<String, LoginError>")]
pub struct Login {
    pub username: String,
    pub password: String,
    pub replaces: Option<Digest>,
    pub now: UnixTime,
    /// Where the login came from (kept on the session).
    pub source: Option<String>,
}

impl Handler<Login> for SessionsActor {
    type Result = ResponseFuture<Result<String, LoginError>>;

    fn handle(&mut self, msg: Login, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        let ttl = self.session_ttl;
        Box::pin(async move {
            let user = cluster.read(|s| s.user(&msg.username).cloned());
            let stored = user
                .as_ref()
                .filter(|u| !u.disabled)
                .map(|u| u.password_hash.clone());
            let password = msg.password;
            // Argon2 takes tens of milliseconds of CPU: never on the worker that runs this actor.
            let verified = tokio::task::spawn_blocking(move || {
                passwords::verify(&password, stored.as_deref())
            })
            .await
            .map_err(|_| LoginError::Internal)?;
            let Some(user) = user.filter(|_| verified) else {
                return Err(LoginError::InvalidCredentials);
            };
            let session_id = secrets::new_secret();
            let session = Session {
                id_digest: secrets::digest(&session_id),
                subject: user.subject.clone(),
                username: user.username.clone(),
                created_at: msg.now,
                expires_at: msg.now.saturating_add(ttl),
                identity_provider: None,
                source: msg.source.clone(),
            };
            match cluster
                .propose(Command::CreateSession {
                    session,
                    replaces: msg.replaces,
                })
                .await?
            {
                Outcome::Done => Ok(session_id),
                other => {
                    tracing::error!(?other, "session creation refused");
                    Err(LoginError::Internal)
                }
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct Logout(pub Digest);

impl Handler<Logout> for SessionsActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: Logout, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            cluster
                .propose(Command::EndSession { id_digest: msg.0 })
                .await
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The state machine would not record it (the client is gone).
    #[error("consent not recorded: {0:?}")]
    Refused(Outcome),
    #[error(transparent)]
    Propose(#[from] ProposeError),
}

/// The signed-in person allows a validated request's client its scopes, at `now`.
#[derive(Message)]
#[rtype(result = "Result<(), ConsentError>")]
pub struct RecordConsent {
    pub session: Session,
    pub request: ValidRequest,
    pub now: UnixTime,
}

impl Handler<RecordConsent> for SessionsActor {
    type Result = ResponseFuture<Result<(), ConsentError>>;
    fn handle(&mut self, msg: RecordConsent, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            let consent = Consent {
                subject: msg.session.subject,
                client_id: msg.request.client.client_id,
                scopes: msg.request.scopes,
                granted_at: msg.now,
            };
            match cluster.propose(Command::GrantConsent { consent }).await? {
                Outcome::Done => Ok(()),
                other => Err(ConsentError::Refused(other)),
            }
        })
    }
}

/// A federated-login step (begin, consume, record an assertion, start the session): proposed
/// as is; apply() judges it.
#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct Federate(pub Command);

impl Handler<Federate> for SessionsActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: Federate, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move { cluster.propose(msg.0).await })
    }
}
