//! The clients actor's second job: record a client that signs in by a client ID metadata
//! document (`Command::PutClient`) when it is new or its document changed. The decision is
//! `oauth::metadata_client::admission`, against this node's applied state.

use actix::prelude::*;
use mcpauth_state::{Client, Command, Outcome};

use super::ClientsActor;
use crate::oauth::metadata_client::{admission, Admission, MetadataClientError};

/// Make sure the state holds `candidate` (built from the document just resolved).
#[derive(Message)]
#[rtype(result = "Result<(), MetadataClientError>")]
pub struct AdmitMetadataClient {
    pub candidate: Client,
}

impl Handler<AdmitMetadataClient> for ClientsActor {
    type Result = ResponseFuture<Result<(), MetadataClientError>>;

    fn handle(&mut self, msg: AdmitMetadataClient, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        Box::pin(async move {
            let id = msg.candidate.client_id.clone();
            let decided =
                cluster.read(|s| admission(s.client(&id), msg.candidate, s.cluster_version()))?;
            let Admission::Record(client) = decided else {
                return Ok(());
            };
            let outcome = cluster
                .propose(Command::PutClient { client: *client })
                .await
                .map_err(|e| MetadataClientError::Unavailable(e.to_string()))?;
            if outcome != Outcome::Done {
                tracing::error!(
                    ?outcome,
                    "metadata document client refused by the state machine"
                );
                return Err(MetadataClientError::Internal);
            }
            tracing::info!(client_id = %id, "metadata document client recorded");
            Ok(())
        })
    }
}
