//! The node's handle on the replicated state: propose a command through Raft (forwarding it to
//! the leader when this node is a follower) and read the local state machine, with a barrier
//! against the leader when a read misses something another node may just have written.

use std::time::{Duration, Instant};

use mcpauth_raft::{
    ClusterClient, ForwardError, ForwardRefusal, Forwarder, Proposer, Raft, StateView,
};
use mcpauth_state::{Command, Outcome, State};
use tokio::sync::broadcast;

/// How long a write may look for a leader before the caller is told the cluster is unavailable.
const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// How long one forwarding attempt may wait for the leader's answer before it is retried.
const FORWARD_ATTEMPT: Duration = Duration::from_secs(2);
/// A leader that has not heard from a majority for this long is cut off: it must not accept
/// writes that cannot commit (heartbeats go out every 100 ms).
const QUORUM_SILENCE_MS: u64 = 1_000;
/// How long a follower waits to apply what the leader already committed.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    /// No leader is known, or this node cannot reach it: the caller answers 503.
    #[error("the cluster has no reachable leader ({0})")]
    Unavailable(String),
    /// Raft stopped on this node (storage failure or shutdown).
    #[error("raft is not running on this node: {0}")]
    Fatal(String),
}

enum Route {
    Local,
    LeaderWithoutQuorum,
    Forward(String),
    NoLeader,
}

/// The outcome of `attempt` if this node has applied it already (without waiting).
fn seen(applied: &mut broadcast::Receiver<(u64, Outcome)>, attempt: u64) -> Option<Outcome> {
    loop {
        match applied.try_recv() {
            Ok((id, outcome)) if id == attempt => return Some(outcome),
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// Wait until this node applies `attempt`; None if the channel closed.
async fn wait_for(
    applied: &mut broadcast::Receiver<(u64, Outcome)>,
    attempt: u64,
) -> Option<Outcome> {
    loop {
        match applied.recv().await {
            Ok((id, outcome)) if id == attempt => return Some(outcome),
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

#[derive(Clone)]
pub struct Cluster {
    raft: Raft,
    view: StateView,
    client: ClusterClient,
    proposer: Proposer,
    forwarder: Forwarder,
}

impl Cluster {
    pub fn new(
        raft: Raft,
        view: StateView,
        client: ClusterClient,
        proposer: Proposer,
        forwarder: Forwarder,
    ) -> Self {
        Self {
            raft,
            view,
            client,
            proposer,
            forwarder,
        }
    }

    /// The group-commit proposer (forwarded writes go through it on the leader).
    pub fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn view(&self) -> &StateView {
        &self.view
    }

    pub fn client(&self) -> &ClusterClient {
        &self.client
    }

    /// Propose a command and wait until it is committed on a majority, flushed, and applied
    /// (on the leader, and on this node too). A follower forwards it to the leader.
    ///
    /// The command travels tagged with a random attempt id. When an answer is lost (the leader
    /// crashed, a connection broke, the leader was cut off), the same tagged command is proposed
    /// again: apply() answers a retried attempt as the first time, so a retry never doubles or
    /// revokes anything. Meanwhile this node watches its own applied entries for the attempt,
    /// so a write that was carried out is reported as done even if no answer ever came back.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ProposeError> {
        let kind = command.kind();
        let attempt: u64 = rand::random();
        let command = Command::Tagged {
            attempt,
            command: Box::new(command),
        };
        let mut applied = self.view.applied_attempts();
        let deadline = Instant::now() + WRITE_DEADLINE;
        let mut backoff = Duration::from_millis(20);
        let mut last_problem = String::from("no leader elected");
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.route() {
                Route::Local => {
                    match tokio::time::timeout(remaining, self.proposer.write(command.clone()))
                        .await
                    {
                        Ok(Ok(done)) => return Ok(done.outcome),
                        Ok(Err(ForwardRefusal::Fatal(e))) => {
                            tracing::error!(kind, error = %e, "raft fatal error");
                            return Err(ProposeError::Fatal(e));
                        }
                        Ok(Err(ForwardRefusal::NotLeader { .. })) => {}
                        Err(_) => last_problem = "not committed in time".into(),
                    }
                }
                Route::LeaderWithoutQuorum => {
                    last_problem = "this node leads but has not heard from a majority".into();
                }
                Route::Forward(addr) => {
                    let timeout = remaining
                        .min(FORWARD_ATTEMPT)
                        .max(Duration::from_millis(100));
                    match self
                        .forwarder
                        .forward(&addr, command.clone(), timeout)
                        .await
                    {
                        Ok(done) => {
                            // Committed whatever happens next; if this node lags, a later
                            // read here waits for the entry through sync_if_missing.
                            if !self.catch_up(done.log_index).await {
                                tracing::debug!(
                                    kind,
                                    index = done.log_index,
                                    "not yet applied here"
                                );
                            }
                            return Ok(done.outcome);
                        }
                        Err(ForwardError::Refused(ForwardRefusal::Fatal(e))) => {
                            last_problem = format!("leader at {addr}: {e}");
                        }
                        Err(e) => {
                            tracing::debug!(kind, error = %e, "forwarding failed; retrying");
                            last_problem = e.to_string();
                        }
                    }
                }
                Route::NoLeader => {}
            }
            if let Some(outcome) = seen(&mut applied, attempt) {
                return Ok(outcome);
            }
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(kind, problem = %last_problem, "write not confirmed: no reachable leader");
                return Err(ProposeError::Unavailable(last_problem));
            }
            // Wait before retrying, unless the attempt shows up applied here meanwhile.
            let pause = backoff.min(deadline - now);
            if let Ok(Some(outcome)) =
                tokio::time::timeout(pause, wait_for(&mut applied, attempt)).await
            {
                return Ok(outcome);
            }
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// Where a write should go now, from this node's Raft metrics.
    fn route(&self) -> Route {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        match m.current_leader {
            Some(leader) if leader == m.id => match m.millis_since_quorum_ack {
                Some(ms) if ms > QUORUM_SILENCE_MS => Route::LeaderWithoutQuorum,
                _ => Route::Local,
            },
            Some(leader) => match m.membership_config.membership().get_node(&leader) {
                Some(node) => Route::Forward(node.addr.clone()),
                None => Route::NoLeader,
            },
            None => Route::NoLeader,
        }
    }

    /// Wait (bounded) until this node has applied `index`, so what a caller just wrote through
    /// the leader is visible to its next read here. Answers whether it got there.
    async fn catch_up(&self, index: u64) -> bool {
        matches!(
            tokio::time::timeout(CATCH_UP_DEADLINE, self.view.wait_applied(index)).await,
            Ok(Ok(()))
        )
    }

    /// Read the local state machine (only what has been applied on this node).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.view.read(f)
    }

    /// Make sure `present` holds, if the cluster says so: when it does not hold locally, ask
    /// the leader how far the log is committed and wait until this node has applied that far.
    /// A registration, session or token written through another node a moment ago is then
    /// visible here. Errors only when the leader cannot be asked.
    pub async fn sync_if_missing(
        &self,
        present: impl Fn(&State) -> bool,
    ) -> Result<(), ProposeError> {
        if self.read(&present) {
            return Ok(());
        }
        let index = self.read_index().await?;
        if self.catch_up(index).await {
            Ok(())
        } else {
            // Answering "unknown" from a node that lags would be wrong: say it cannot answer.
            Err(ProposeError::Unavailable(format!(
                "this node has not applied the log up to {index} yet"
            )))
        }
    }

    /// The leader's commit index for a linearizable read (the leader answers for itself).
    pub async fn read_index(&self) -> Result<u64, ProposeError> {
        match mcpauth_raft::read_index_locally(&self.raft).await {
            Ok(index) => Ok(index),
            Err(ForwardRefusal::NotLeader {
                leader_addr: Some(addr),
                ..
            }) => self
                .client
                .read_index(&addr, Duration::from_secs(1))
                .await
                .map_err(|e| ProposeError::Unavailable(e.to_string())),
            Err(ForwardRefusal::NotLeader { .. }) => {
                Err(ProposeError::Unavailable("no leader elected".into()))
            }
            Err(ForwardRefusal::Fatal(e)) => Err(ProposeError::Fatal(e)),
        }
    }

    /// Whether this node can serve current reads: a leader answers a read index, and this node
    /// applies up to it within a moment (a follower that receives no log fails this).
    pub async fn readiness(&self) -> Result<(u64, u64), ProposeError> {
        let index = self.read_index().await?;
        let reached =
            tokio::time::timeout(Duration::from_millis(500), self.view.wait_applied(index)).await;
        let applied = *self.view.applied_index().borrow();
        match reached {
            Ok(Ok(())) => Ok((applied, index)),
            _ => Err(ProposeError::Unavailable(format!(
                "catching up: applied {applied} of {index}"
            ))),
        }
    }
}
