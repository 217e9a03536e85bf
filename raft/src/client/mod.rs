//! The Raft client: how the rest of the node writes to and reads from the replicated state.
//!
//! A write is proposed through the local [`Proposer`] when this node leads, or forwarded to the
//! leader through the [`Forwarder`] when it follows ([`Leadership`] says which). It travels
//! tagged with a random attempt id: when an answer is lost (the leader crashed, a connection
//! broke, the leader lost its term) the same tagged command is proposed again, and apply()
//! answers a retried attempt as the first time, so a retry never doubles or revokes anything.
//! Meanwhile this node watches its own applied entries for the attempt, so a write that was
//! carried out is reported as done even if no answer ever came back. Every wait is bounded:
//! [`WRITE_DEADLINE`] for the whole write, [`FORWARD_ATTEMPT`] for one forward, and the
//! proposer's own deadline for one proposal.
//!
//! Reads come from the local state machine; [`RaftClient::sync_if_missing`] puts a read-index
//! barrier in front of a read that misses something another node may just have written.

mod attempt;
mod error;
mod health;
mod route;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpauth_state::{Command, Outcome, State};

pub use error::ProposeError;
pub use health::STALL;
pub use route::Leadership;

use crate::envelope;
use crate::forward::{ClusterClient, ForwardError, ForwardRefusal};
use crate::type_config::{NodeId, Raft};
use crate::{Forwarder, Proposer, StateView};
use attempt::AttemptWatch;
use health::WriteHealth;

/// How long a write may look for a leader before the caller is told the cluster is unavailable.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// How long one forwarding attempt may wait for the leader's answer before it is retried.
pub const FORWARD_ATTEMPT: Duration = Duration::from_secs(2);
/// How long a follower waits to apply what the leader already committed.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(2);
/// How long readiness gives a no-op write to prove the write path.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// What `/readyz` reports of a ready node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub leader: Option<NodeId>,
    pub applied: u64,
    pub committed: u64,
}

/// Cheap to clone; one per node, shared by the actors and the internal routes.
#[derive(Clone)]
pub struct RaftClient {
    raft: Raft,
    view: StateView,
    client: ClusterClient,
    proposer: Proposer,
    forwarder: Forwarder,
    health: WriteHealth,
    /// Held while the members or the cluster version change, on the leader: the cluster version
    /// is never raised past what a node being added reads (`cluster_version`, `membership`).
    changes: Arc<tokio::sync::Mutex<()>>,
}

impl RaftClient {
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
            health: WriteHealth::default(),
            changes: Arc::default(),
        }
    }

    /// The group-commit proposer (forwarded writes go through it on the leader).
    pub fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    /// The Raft handle, for start-up (initialise) and the Raft RPCs.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn view(&self) -> &StateView {
        &self.view
    }

    pub fn client(&self) -> &ClusterClient {
        &self.client
    }

    /// Taken before changing the members or the cluster version.
    pub(crate) async fn changing_members(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// Who leads now, as this node knows it.
    pub fn leadership(&self) -> Leadership {
        Leadership::of(&self.raft)
    }

    /// Propose a command and wait until it is committed on a majority, flushed, and applied
    /// (on the leader, and on this node too). A follower forwards it to the leader. See the
    /// module docs for retries and for what an error means.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ProposeError> {
        let kind = command.kind();
        // Refused here, not by the log store: an entry that cannot be encoded there stops Raft.
        mcpauth_state::format::check_writable(&command, self.view.cluster_version())
            .map_err(|e| ProposeError::NotYetWritable(e.to_string()))?;
        let ticket = self.health.begin();
        let result = self.propose_within(command, WRITE_DEADLINE).await;
        match &result {
            Ok(_) => ticket.committed(),
            Err(e) => {
                tracing::warn!(kind, error = %e, "write not confirmed");
                ticket.failed(&e.to_string());
            }
        }
        result
    }

    async fn propose_within(
        &self,
        command: Command,
        within: Duration,
    ) -> Result<Outcome, ProposeError> {
        let kind = command.kind();
        let attempt: u64 = rand::random();
        let command = envelope::tagged(attempt, command);
        let mut applied = AttemptWatch::new(&self.view, attempt);
        let deadline = Instant::now() + within;
        let mut backoff = Duration::from_millis(20);
        let mut last_problem = String::from("no leader elected");
        // Whether some attempt may have been acted on: then a failure's outcome is unknown.
        let mut maybe_done = false;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.leadership() {
                Leadership::Me { .. } => {
                    match tokio::time::timeout(remaining, self.proposer.write(command.clone()))
                        .await
                    {
                        Ok(Ok(done)) => return Ok(done.outcome),
                        Ok(Err(ForwardRefusal::Fatal(e))) => {
                            tracing::error!(kind, error = %e, "raft fatal error");
                            return Err(ProposeError::Fatal(e));
                        }
                        // Refused before anything was appended: nothing can commit.
                        Ok(Err(ForwardRefusal::NotLeader { .. })) => {}
                        Ok(Err(ForwardRefusal::NotCommitted(why))) => {
                            maybe_done = true;
                            last_problem = why;
                        }
                        Err(_) => {
                            maybe_done = true;
                            last_problem = "not committed in time".into();
                        }
                    }
                }
                Leadership::MeWithoutQuorum { silent_ms, .. } => {
                    last_problem = format!(
                        "this node leads but has not heard from a majority for {silent_ms} ms"
                    );
                }
                Leadership::Other { addr, .. } => {
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
                        Err(e @ ForwardError::NotSent { .. })
                        | Err(e @ ForwardError::Refused(ForwardRefusal::NotLeader { .. })) => {
                            tracing::debug!(kind, error = %e, "forwarding refused; retrying");
                            last_problem = e.to_string();
                        }
                        Err(e) => {
                            tracing::debug!(kind, error = %e, "forwarding failed; retrying");
                            maybe_done = true;
                            last_problem = e.to_string();
                        }
                    }
                }
                Leadership::Unknown { .. } => {}
            }
            if let Some(outcome) = applied.seen() {
                return Ok(outcome);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(if maybe_done {
                    ProposeError::OutcomeUnknown(last_problem)
                } else {
                    ProposeError::Unavailable(last_problem)
                });
            }
            // Wait before retrying, unless the attempt shows up applied here meanwhile.
            let pause = backoff.min(deadline - now);
            if let Some(outcome) = applied.wait(pause).await {
                return Ok(outcome);
            }
            backoff = (backoff * 2).min(Duration::from_millis(500));
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
        match crate::read_index_locally(&self.raft).await {
            Ok(index) => Ok(index),
            Err(ForwardRefusal::NotLeader {
                leader_addr: Some(addr),
                ..
            }) => self
                .client
                .read_index(&addr, Duration::from_secs(1))
                .await
                .map_err(|e| ProposeError::Unavailable(e.to_string())),
            Err(ForwardRefusal::NotLeader { .. }) | Err(ForwardRefusal::NotCommitted(_)) => {
                Err(ProposeError::Unavailable("no leader elected".into()))
            }
            Err(ForwardRefusal::Fatal(e)) => Err(ProposeError::Fatal(e)),
        }
    }

    /// Whether this node can serve now: a leader answers a read index (so this node is on the
    /// majority side) and this node applies up to it within a moment; and its writes commit.
    /// Knowing a leader is not enough for the second: the leader's proposal in flight must not
    /// be stalled, and when this node's writes have failed or stalled lately, a no-op write
    /// must commit now (see `health`).
    pub async fn readiness(&self) -> Result<Readiness, ProposeError> {
        let committed = self.read_index().await?;
        let reached = tokio::time::timeout(
            Duration::from_millis(500),
            self.view.wait_applied(committed),
        )
        .await;
        let applied = *self.view.applied_index().borrow();
        if !matches!(reached, Ok(Ok(()))) {
            return Err(ProposeError::Unavailable(format!(
                "catching up: applied {applied} of {committed}"
            )));
        }
        let leadership = self.leadership();
        if leadership.is_me() {
            if let Some(waited) = self.proposer.in_flight_for().filter(|w| *w > STALL) {
                return Err(ProposeError::Unavailable(format!(
                    "this leader's proposal has waited {} ms for its commit",
                    waited.as_millis()
                )));
            }
        }
        if let Some(doubt) = self.health.doubt() {
            let ticket = self.health.begin();
            match self.propose_within(envelope::no_op(), PROBE_DEADLINE).await {
                Ok(_) => ticket.committed(),
                Err(e) => {
                    ticket.failed(&e.to_string());
                    return Err(ProposeError::Unavailable(format!(
                        "{doubt}, and a test write did not commit: {e}"
                    )));
                }
            }
        }
        Ok(Readiness {
            leader: self.leadership().leader_id(),
            applied,
            committed,
        })
    }
}
