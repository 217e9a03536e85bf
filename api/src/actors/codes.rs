use actix::prelude::*;
use mcpauth_state::{Command, Outcome, Session, UnixTime};

use crate::cluster::Cluster;
use crate::oauth::authorize::ValidRequest;
use crate::oauth::{ClientCredentials, Error, GrantRequest, IssuedTokens, TokenService};
use crate::secrets;

/// Codes and grants: issues authorization codes, and runs the token flow (a code redeemed or a
/// refresh token rotated, then signed). Who wins a race is decided in the state machine, never
/// here.
pub struct CodesActor {
    cluster: Cluster,
    tokens: TokenService,
    /// Lifetime of an authorization code, in seconds.
    code_ttl: u64,
}

impl CodesActor {
    pub fn new(cluster: Cluster, tokens: TokenService, code_ttl: u64) -> Self {
        Self {
            cluster,
            tokens,
            code_ttl,
        }
    }
}

impl Actor for CodesActor {
    type Context = Context<Self>;
}

/// Issue a code for a validated request and a signed-in person; answers the code, which only
/// the client will hold in clear.
#[derive(Message)]
#[rtype(result = "Result<String, Error>")]
pub struct IssueCode {
    pub request: ValidRequest,
    pub session: Session,
    pub now: UnixTime,
}

impl Handler<IssueCode> for CodesActor {
    type Result = ResponseFuture<Result<String, Error>>;

    fn handle(&mut self, msg: IssueCode, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        let ttl = self.code_ttl;
        Box::pin(async move {
            let code = secrets::new_secret();
            let record = msg.request.code_record(&code, &msg.session, msg.now, ttl);
            match cluster.propose(Command::IssueCode { code: record }).await? {
                Outcome::Done => Ok(code),
                Outcome::Refused(refusal) => Err(Error::CodeNotIssued(refusal)),
                other => {
                    tracing::error!(?other, "unexpected outcome for a new code");
                    Err(Error::Internal)
                }
            }
        })
    }
}

/// A token request: the client's credentials and the grant, at `now`.
#[derive(Message)]
#[rtype(result = "Result<IssuedTokens, Error>")]
pub struct Exchange {
    pub credentials: ClientCredentials,
    pub grant: GrantRequest,
    pub now: UnixTime,
}

impl Handler<Exchange> for CodesActor {
    type Result = ResponseFuture<Result<IssuedTokens, Error>>;

    fn handle(&mut self, msg: Exchange, _: &mut Context<Self>) -> Self::Result {
        let tokens = self.tokens.clone();
        Box::pin(async move { tokens.exchange(&msg.credentials, msg.grant, msg.now).await })
    }
}
