//! Group commit of client writes, with a bound on every proposal.
//!
//! openraft 0.9 waits for each log append to be flushed before it takes the next client write
//! (see `RaftCore::append_to_log`), so one command per log entry means one fsync per command.
//! The [`Proposer`] instead gathers the commands that arrive while a write is in flight and
//! proposes them as one `Command::Batch` entry: one append, one flush, one replication round for
//! all of them (see `crate::gather`). A lone command is proposed as itself. apply() judges the
//! commands of a batch in order, exactly as if each were its own entry.
//!
//! One proposal is in flight at a time (measured: more gave smaller entries and more work per
//! write), so a proposal that is never answered would stop every write of this node. openraft
//! 0.9 does leave some unanswered: a leader cut off from its followers appends entries that
//! cannot commit, and when it rejoins and is sent a snapshot past them, those entries are purged
//! without an answer (only entries it truncates are answered). So a proposal is answered
//! [`ForwardRefusal::NotCommitted`] as soon as it can no longer be known to commit: this node's
//! term or role changed, it has not heard from a majority for a while, or [`PROPOSAL_DEADLINE`]
//! passed. Such a write may still commit later (under the next leader): its outcome is unknown,
//! and the caller learns it from the attempt tag if it applies (see `crate::attempts`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpauth_state::{Command, FormatVersion};
use openraft::ServerState;
use tokio::sync::{mpsc, oneshot};

use crate::forward::{write_locally, ForwardRefusal, ForwardReply, Forwarded};
use crate::gather::Gathered;
use crate::state_view::StateView;
use crate::type_config::Raft;

/// The most commands in one entry (bounds an entry's size and a batch's latency).
pub const MAX_BATCH: usize = 256;
/// How long one proposal may wait for its commit before it is answered as not committed. A
/// commit takes milliseconds; this only bounds the cases no other check catches.
pub const PROPOSAL_DEADLINE: Duration = Duration::from_secs(2);
/// A leader that has not heard from a majority for this long cannot commit what it proposed
/// (heartbeats go out every 100 ms).
pub const QUORUM_SILENCE: Duration = Duration::from_millis(1_000);
/// How often a waiting proposal looks at this node's Raft metrics besides their changes.
const WATCH_EVERY: Duration = Duration::from_millis(100);

type Waiter = (Command, oneshot::Sender<ForwardReply>);

/// Cheap to clone. Start it on the Raft runtime.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<Waiter>,
    /// When the proposal in flight was made, if one is.
    in_flight_since: Arc<Mutex<Option<Instant>>>,
    view: StateView,
}

impl Proposer {
    /// Spawn the batching task on the current tokio runtime. Entries are written in the
    /// cluster version `view` shows at the time of each proposal.
    pub fn start(raft: Raft, view: StateView) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight_since = Arc::new(Mutex::new(None));
        tokio::spawn(run(raft, view.clone(), rx, in_flight_since.clone()));
        Self {
            tx,
            in_flight_since,
            view,
        }
    }

    /// The storage format this node writes now: the cluster version.
    pub fn format(&self) -> FormatVersion {
        self.view.cluster_version()
    }

    /// Commit `command` through the local Raft (this node must lead; otherwise the answer is
    /// `NotLeader` with the leader to forward to). Answered within about [`PROPOSAL_DEADLINE`]
    /// of being proposed.
    pub async fn write(&self, command: Command) -> ForwardReply {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((command, tx)).is_err() {
            return Err(ForwardRefusal::Fatal("the proposer stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err(ForwardRefusal::Fatal("the proposer stopped".into())))
    }

    /// How long the proposal in flight has been waiting for its commit (None: none is).
    pub fn in_flight_for(&self) -> Option<Duration> {
        let since = *self
            .in_flight_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        since.map(|t| t.elapsed())
    }
}

async fn run(
    raft: Raft,
    view: StateView,
    mut rx: mpsc::UnboundedReceiver<Waiter>,
    in_flight_since: Arc<Mutex<Option<Instant>>>,
) {
    let set_in_flight = |value: Option<Instant>| {
        *in_flight_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = value;
    };
    while let Some(first) = rx.recv().await {
        let mut gathered = Gathered::default();
        let mut next = Some(first);
        while let Some((command, waiter)) = next.take() {
            gathered.push(waiter, command);
            if gathered.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let (proposal, split) = gathered.into_proposal();
        set_in_flight(Some(Instant::now()));
        let reply = propose_bounded(&raft, proposal, view.cluster_version()).await;
        set_in_flight(None);
        match reply {
            Ok(Forwarded { log_index, outcome }) => match split.split(outcome) {
                Ok(answers) => {
                    for (waiter, outcome) in answers {
                        let _ = waiter.send(Ok(Forwarded { log_index, outcome }));
                    }
                }
                Err(waiters) => {
                    tracing::error!(log_index, "a proposal was answered with the wrong shape");
                    for waiter in waiters {
                        let _ = waiter.send(Err(ForwardRefusal::Fatal(
                            "a batch was answered with the wrong outcomes".into(),
                        )));
                    }
                }
            },
            Err(refusal) => {
                for waiter in split.waiters() {
                    let _ = waiter.send(Err(refusal.clone()));
                }
            }
        }
    }
}

/// Why a proposal can no longer be known to commit, from this node's metrics; None while it
/// still can.
fn hopeless(raft: &Raft, term: u64) -> Option<String> {
    let metrics = raft.metrics();
    let m = metrics.borrow();
    if m.current_term != term {
        return Some(format!("the term changed ({term} to {})", m.current_term));
    }
    if m.state != ServerState::Leader {
        return Some(format!("this node stopped leading (now {:?})", m.state));
    }
    match m.millis_since_quorum_ack {
        Some(ms) if ms > QUORUM_SILENCE.as_millis() as u64 => Some(format!(
            "this node has not heard from a majority for {ms} ms"
        )),
        _ => None,
    }
}

/// `client_write`, answered [`ForwardRefusal::NotCommitted`] once it can no longer be known to
/// commit (see the module docs). The write itself is dropped then, not cancelled: openraft keeps
/// the entry, and it commits or not as Raft decides.
async fn propose_bounded(raft: &Raft, proposal: Command, format: FormatVersion) -> ForwardReply {
    let term = {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        (m.state == ServerState::Leader).then_some(m.current_term)
    };
    let write = write_locally(raft, proposal, format);
    let Some(term) = term else {
        // Not the leader: openraft answers at once (ForwardToLeader), bounded all the same.
        return match tokio::time::timeout(PROPOSAL_DEADLINE, write).await {
            Ok(reply) => reply,
            Err(_) => Err(ForwardRefusal::NotCommitted(
                "no answer in time from a node that does not lead".into(),
            )),
        };
    };
    tokio::pin!(write);
    let deadline = tokio::time::sleep(PROPOSAL_DEADLINE);
    tokio::pin!(deadline);
    let mut metrics = raft.metrics();
    let mut tick = tokio::time::interval(WATCH_EVERY);
    loop {
        tokio::select! {
            reply = &mut write => return reply,
            _ = &mut deadline => {
                tracing::warn!(term, "a proposal was not committed in time; moving on");
                return Err(ForwardRefusal::NotCommitted(format!(
                    "not committed within {PROPOSAL_DEADLINE:?}"
                )));
            }
            changed = metrics.changed() => {
                if changed.is_err() {
                    return Err(ForwardRefusal::Fatal("raft stopped".into()));
                }
            }
            _ = tick.tick() => {}
        }
        if let Some(why) = hopeless(raft, term) {
            tracing::info!(term, reason = %why, "a proposal can no longer be known to commit; moving on");
            return Err(ForwardRefusal::NotCommitted(why));
        }
    }
}
