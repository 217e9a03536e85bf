use actix::prelude::*;
use mcpauth_state::{Client, Command, Outcome};

use crate::cluster::{Cluster, ProposeError};

/// Registers clients (RFC 7591).
pub struct ClientsActor {
    cluster: Cluster,
}

impl ClientsActor {
    pub fn new(cluster: Cluster) -> Self {
        Self { cluster }
    }
}

impl Actor for ClientsActor {
    type Context = Context<Self>;
}

/// Register a validated client; its id and secret digest were chosen by the route.
#[derive(Message)]
#[rtype(result = "Result<Outcome, ProposeError>")]
pub struct Register(pub Client);

impl Handler<Register> for ClientsActor {
    type Result = ResponseFuture<Result<Outcome, ProposeError>>;

    fn handle(&mut self, msg: Register, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            cluster
                .propose(Command::RegisterClient { client: msg.0 })
                .await
        })
    }
}
