use actix::prelude::*;
use mcpauth_state::{AuthCode, Command, Digest, Outcome, UnixTime};

use crate::cluster::{Cluster, ProposeError};

/// Issues and redeems authorization codes and rotates refresh tokens. Who wins a race is
/// decided in the state machine, never here.
pub struct CodesActor {
    cluster: Cluster,
}

impl CodesActor {
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster }
    }

    fn propose(&self, command: Command) -> ResponseFuture<Result<Outcome, ProposeError>> {
        let cluster = self.cluster.clone();
        Box::pin(async move { cluster.propose(command).await })
    }
}

impl Actor for CodesActor {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct IssueCode(pub AuthCode);

impl Handler<IssueCode> for CodesActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: IssueCode, _: &mut Context<Self>) -> Self::Result {
        self.propose(Command::IssueCode { code: msg.0 })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct RedeemCode {
    pub digest: Digest,
    pub client_id: String,
    pub redirect_uri: String,
    pub verifier_challenge: String,
    pub resource: Option<String>,
    pub now: UnixTime,
    pub refresh_digest: Digest,
    pub refresh_idle_expires_at: UnixTime,
}

impl Handler<RedeemCode> for CodesActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: RedeemCode, _: &mut Context<Self>) -> Self::Result {
        self.propose(Command::RedeemCode {
            digest: msg.digest,
            client_id: msg.client_id,
            redirect_uri: msg.redirect_uri,
            verifier_challenge: msg.verifier_challenge,
            resource: msg.resource,
            now: msg.now,
            refresh_digest: msg.refresh_digest,
            refresh_idle_expires_at: msg.refresh_idle_expires_at,
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct RotateRefresh {
    pub presented: Digest,
    pub client_id: String,
    pub resource: Option<String>,
    pub scope: Option<String>,
    pub next: Digest,
    pub now: UnixTime,
    pub idle_expires_at: UnixTime,
}

impl Handler<RotateRefresh> for CodesActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;
    fn handle(&mut self, msg: RotateRefresh, _: &mut Context<Self>) -> Self::Result {
        self.propose(Command::RotateRefresh {
            presented: msg.presented,
            client_id: msg.client_id,
            resource: msg.resource,
            scope: msg.scope,
            next: msg.next,
            now: msg.now,
            idle_expires_at: msg.idle_expires_at,
        })
    }
}
