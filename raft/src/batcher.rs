//! Group commit of client writes.
//!
//! openraft 0.9 waits for each log append to be flushed before it takes the next client write
//! (see `RaftCore::append_to_log`), so one command per log entry means one fsync per command.
//! The [`Proposer`] instead gathers the commands that arrive while a write is in flight and
//! proposes them as one `Command::Batch` entry: one append, one flush, one replication round for
//! all of them. A lone command is proposed as itself. apply() judges the commands of a batch in
//! order, exactly as if each were its own entry.

use mcpauth_state::{Command, Outcome};
use tokio::sync::{mpsc, oneshot};

use crate::forward::{write_locally, ForwardRefusal, ForwardReply, Forwarded};
use crate::type_config::Raft;

/// The most commands in one entry (bounds an entry's size and a batch's latency).
pub const MAX_BATCH: usize = 256;

type Waiter = (Command, oneshot::Sender<ForwardReply>);

/// Cheap to clone. Start it on the Raft runtime.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<Waiter>,
}

impl Proposer {
    /// Spawn the batching task on the current tokio runtime.
    pub fn start(raft: Raft) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft, rx));
        Self { tx }
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

async fn run(raft: Raft, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    let mut waiters: Vec<oneshot::Sender<ForwardReply>> = Vec::with_capacity(MAX_BATCH);
    let mut commands: Vec<Command> = Vec::with_capacity(MAX_BATCH);
    while let Some((command, waiter)) = rx.recv().await {
        commands.push(command);
        waiters.push(waiter);
        while commands.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok((command, waiter)) => {
                    commands.push(command);
                    waiters.push(waiter);
                }
                Err(_) => break,
            }
        }
        let proposal = if commands.len() == 1 {
            commands.pop().unwrap_or(Command::Batch(Vec::new()))
        } else {
            Command::Batch(std::mem::take(&mut commands))
        };
        let batched = matches!(proposal, Command::Batch(_));
        let reply = write_locally(&raft, proposal).await;
        match reply {
            Ok(Forwarded {
                log_index,
                outcome: Outcome::Batch(outcomes),
            }) if batched => {
                for (waiter, outcome) in waiters.drain(..).zip(outcomes) {
                    let _ = waiter.send(Ok(Forwarded { log_index, outcome }));
                }
            }
            other => {
                for waiter in waiters.drain(..) {
                    let _ = waiter.send(other.clone());
                }
            }
        }
        commands.clear();
        waiters.clear();
    }
}
