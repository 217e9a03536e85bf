//! Group forwarding: a follower sends the writes it receives to the leader in batches.
//!
//! Each write forwarded on its own costs an HTTP request to the leader. The [`Forwarder`] gathers
//! the writes that arrive while earlier batches are on their way (at most [`IN_FLIGHT`] batches
//! at once) and sends them as one `Command::Batch`; the leader's proposer splices the batch, whole,
//! into the entry it proposes next, and the answer is split back per write (`crate::gather`).

use std::sync::Arc;
use std::time::Duration;

use mcpauth_state::Command;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::batcher::MAX_BATCH;
use crate::forward::{ClusterClient, ForwardError, ForwardRefusal, Forwarded};
use crate::gather::Gathered;
use crate::state_view::StateView;

/// Batches on their way to the leader at once.
pub const IN_FLIGHT: usize = 4;

struct Pending {
    addr: String,
    command: Command,
    timeout: Duration,
    reply: oneshot::Sender<Result<Forwarded, ForwardError>>,
}

/// Cheap to clone. Start it on the Raft runtime.
#[derive(Clone)]
pub struct Forwarder {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Forwarder {
    /// Writes are sent in the cluster version `view` shows, so a leader of an older release
    /// can read them.
    pub fn start(client: ClusterClient, view: StateView) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(client, view, rx));
        Self { tx }
    }

    /// Forward `command` to the leader at `addr`, batched with other writes going there.
    pub async fn forward(
        &self,
        addr: &str,
        command: Command,
        timeout: Duration,
    ) -> Result<Forwarded, ForwardError> {
        let (reply, rx) = oneshot::channel();
        let stopped = || ForwardError::NotSent {
            addr: addr.to_owned(),
            reason: "the forwarder stopped".into(),
        };
        self.tx
            .send(Pending {
                addr: addr.to_owned(),
                command,
                timeout,
                reply,
            })
            .map_err(|_| stopped())?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run(client: ClusterClient, view: StateView, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a free slot first: writes arriving meanwhile join this batch.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) if p.addr == batch[0].addr => batch.push(p),
                Ok(p) => {
                    // The leader changed under us: send that one on its own.
                    let client = client.clone();
                    let view = view.clone();
                    tokio::spawn(async move { send(&client, &view, vec![p]).await });
                }
                Err(_) => break,
            }
        }
        let (client, view) = (client.clone(), view.clone());
        tokio::spawn(async move {
            send(&client, &view, batch).await;
            drop(permit);
        });
    }
}

async fn send(client: &ClusterClient, view: &StateView, batch: Vec<Pending>) {
    let Some(addr) = batch.first().map(|p| p.addr.clone()) else {
        return;
    };
    let timeout = batch.iter().map(|p| p.timeout).max().unwrap_or_default();
    let mut gathered = Gathered::default();
    for p in batch {
        gathered.push(p.reply, p.command);
    }
    let (proposal, split) = gathered.into_proposal();
    match client
        .forward(&addr, proposal, view.cluster_version(), timeout)
        .await
    {
        Ok(Forwarded { log_index, outcome }) => match split.split(outcome) {
            Ok(answers) => {
                for (reply, outcome) in answers {
                    let _ = reply.send(Ok(Forwarded { log_index, outcome }));
                }
            }
            Err(replies) => {
                let e = ForwardError::Refused(ForwardRefusal::Fatal(
                    "the leader answered a batch with the wrong number of outcomes".into(),
                ));
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        },
        Err(e) => {
            for reply in split.waiters() {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}
