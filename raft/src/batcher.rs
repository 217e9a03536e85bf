//! Group commit of client writes.
//!
//! openraft 0.9 waits for each log append to be flushed before it takes the next client write
//! (see `RaftCore::append_to_log`), so one command per log entry means one fsync per command.
//! The [`Proposer`] instead gathers the commands that arrive while a write is in flight and
//! proposes them as one `Command::Batch` entry: one append, one flush, one replication round for
//! all of them. A lone command is proposed as itself. apply() judges the commands of a batch in
//! order, exactly as if each were its own entry.

use mcpauth_state::{Command, FormatVersion, Outcome};
use tokio::sync::{mpsc, oneshot};

use crate::forward::{write_locally, ForwardRefusal, ForwardReply, Forwarded};
use crate::state_view::StateView;
use crate::type_config::Raft;

/// The most commands in one entry (bounds an entry's size and a batch's latency).
pub const MAX_BATCH: usize = 256;

type Waiter = (Command, oneshot::Sender<ForwardReply>);

/// Cheap to clone. Start it on the Raft runtime.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<Waiter>,
    view: StateView,
}

impl Proposer {
    /// Spawn the batching task on the current tokio runtime. Entries are written in the
    /// cluster version `view` shows at the time of each proposal.
    pub fn start(raft: Raft, view: StateView) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, view.clone(), rx));
        Self { tx, view }
    }

    /// The storage format this node writes now: the cluster version.
    pub fn format(&self) -> FormatVersion {
        self.view.cluster_version()
    }

    /// Commit `command` through the local Raft (this node must lead; otherwise the answer is
    /// `NotLeader` with the leader to forward to).
    pub async fn write(&self, command: Command) -> ForwardReply {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((command, tx)).is_err() {
            return Err(ForwardRefusal::Fatal("the proposer stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(ForwardRefusal::Fatal("the proposer stopped".into())))
    }
}

/// Who gets which outcomes of a proposed batch: a lone command takes one, a batch forwarded
/// by a follower takes as many as it carried (answered as `Outcome::Batch`).
enum Share {
    One(oneshot::Sender<ForwardReply>),
    Many(oneshot::Sender<ForwardReply>, usize),
}

async fn run(raft: Raft, view: StateView, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    let mut shares: Vec<Share> = Vec::with_capacity(MAX_BATCH);
    let mut commands: Vec<Command> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some((command, waiter)) = next.take() {
            // A follower's batch is opened up, so batches never nest.
            match command {
                Command::Batch(items) => {
                    shares.push(Share::Many(waiter, items.len()));
                    commands.extend(items);
                }
                command => {
                    shares.push(Share::One(waiter));
                    commands.push(command);
                }
            }
            if commands.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let lone = commands.len() == 1 && matches!(shares.first(), Some(Share::One(_)));
        let proposal = if lone {
            commands.pop().unwrap_or(Command::Batch(Vec::new()))
        } else {
            Command::Batch(std::mem::take(&mut commands))
        };
        let reply = write_locally(&raft, proposal, view.cluster_version()).await;
        match reply {
            Ok(Forwarded { log_index, outcome }) if lone => {
                for share in shares.drain(..) {
                    if let Share::One(waiter) = share {
                        let _ = waiter.send(Ok(Forwarded {
                            log_index,
                            outcome: outcome.clone(),
                        }));
                    }
                }
            }
            Ok(Forwarded {
                log_index,
                outcome: Outcome::Batch(outcomes),
            }) => {
                let mut outcomes = outcomes.into_iter();
                for share in shares.drain(..) {
                    let (waiter, outcome) = match share {
                        Share::One(waiter) => (
                            waiter,
                            outcomes.next().unwrap_or(Outcome::Batch(Vec::new())),
                        ),
                        Share::Many(waiter, n) => {
                            (waiter, Outcome::Batch(outcomes.by_ref().take(n).collect()))
                        }
                    };
                    let _ = waiter.send(Ok(Forwarded { log_index, outcome }));
                }
            }
            other => {
                let other = other.and_then(|_| {
                    Err(ForwardRefusal::Fatal(
                        "a batch was answered with a lone outcome".into(),
                    ))
                });
                for share in shares.drain(..) {
                    let (Share::One(waiter) | Share::Many(waiter, _)) = share;
                    let _ = waiter.send(other.clone());
                }
            }
        }
        commands.clear();
    }
}
