use actix::prelude::*;
use mcpauth_state::{Command, Outcome, UnixTime};

use crate::cluster::Cluster;
use crate::oauth::registration::{self, Registered, RegistrationRequest};
use crate::oauth::registration_management;
use crate::oauth::registration_policy::RegistrationPolicy;
use crate::oauth::Error;

/// Registers clients (RFC 7591): checks the metadata against the cluster's settings and the
/// operator's registration policy, chooses the identifiers and proposes the registration.
pub struct ClientsActor {
    pub(super) cluster: Cluster,
    policy: RegistrationPolicy,
}

impl ClientsActor {
    pub fn new(cluster: Cluster, policy: RegistrationPolicy) -> Self {
        Self { cluster, policy }
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
        let policy = self.policy.clone();
        Box::pin(async move {
            let allowed = cluster.read(|s| s.settings().allowed_redirect_schemes.clone());
            let metadata = registration::validate(msg.request, &allowed, &policy)
                .inspect_err(|e| tracing::info!(error = %e, "registration refused"))?;
            let mut registered = Registered::new(metadata, msg.now);
            // RFC 7592: a registration access token, once the cluster can hold its digest.
            if cluster.read(|s| s.cluster_version()) >= registration_management::MANAGEMENT_FORMAT {
                registered = registered.with_registration_token();
            }
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
