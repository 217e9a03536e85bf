use actix::prelude::*;
use mcpauth_state::{Command, Consent, Digest, Outcome, Session, UnixTime};

use crate::cluster::{Cluster, ProposeError};
use crate::{passwords, secrets};

/// Logs people in and out and records their consents.
pub struct SessionsActor {
    cluster: Cluster,
}

impl SessionsActor {
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster }
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
    pub ttl: u64,
}

impl Handler<Login> for SessionsActor {
    type Result = ResponseFuture<Result<String, LoginError>>;

    fn handle(&mut self, msg: Login, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            let user = cluster.read(|s| s.user(&msg.username).cloned());
            let stored = user
                .as_ref()
                .filter(|u| !u.disabled)
                .map(|u| u.password_hash.clone());
            let password = msg.password;
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
                expires_at: msg.now.saturating_add(msg.ttl),
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

#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct ConsentTo(pub Consent);

impl Handler<ConsentTo> for SessionsActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: ConsentTo, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            cluster
                .propose(Command::GrantConsent { consent: msg.0 })
                .await
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
