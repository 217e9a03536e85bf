use actix::prelude::*;
use mcpauth_state::{Command, Outcome, UnixTime};

use crate::cluster::Cluster;
use crate::oauth::registration::{self, Registered, RegistrationRequest};
use crate::oauth::Error;

/// Registers clients (RFC 7591): checks the metadata against the cluster's settings, chooses
/// the identifiers and proposes the registration.
pub struct ClientsActor {
    pub(super) cluster: Cluster,
}

impl ClientsActor {
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster }
    }
}

impl Actor for ClientsActor {
    type Context = Context<Self>;
}

/// Register a client from its request, at `now`.
#[derive(Message)]
#[rtype(result = "Result<Registered, Error>")]
pub struct Register {
    pub request: RegistrationRequest,
    pub now: UnixTime,
}

impl Handler<Register> for ClientsActor {
    type Result = ResponseFuture<Result<Registered, Error>>;

    fn handle(&mut self, msg: Register, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            let allowed = cluster.read(|s| s.settings().allowed_redirect_schemes.clone());
            let registered =
                Registered::new(registration::validate(msg.request, &allowed)?, msg.now);
            let outcome = cluster
                .propose(Command::RegisterClient {
                    client: registered.client.clone(),
                })
                .await?;
            if outcome != Outcome::Done {
                tracing::error!(?outcome, "registration refused by the state machine");
                return Err(Error::Internal);
            }
            tracing::info!(client_id = %registered.client.client_id, method = %registered.client.metadata.token_endpoint_auth_method, "client registered");
            Ok(registered)
        })
    }
}
