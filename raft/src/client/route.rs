//! Who leads, as this node knows it now: the one place that reads leadership out of openraft's
//! metrics. Writes are routed by it, the admin API relays to the leader by it, and the purge
//! schedule runs only where it says this node leads.

use openraft::ServerState;

use crate::batcher::QUORUM_SILENCE;
use crate::type_config::{NodeId, Raft};

/// This node's view of the leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leadership {
    /// This node leads and heard from a majority recently: its writes can commit.
    Me { id: NodeId },
    /// This node leads but has not heard from a majority for `silent_ms`: it is cut off, and
    /// what it proposes cannot commit.
    MeWithoutQuorum { id: NodeId, silent_ms: u64 },
    /// Another node leads; `addr` is its internal address.
    Other { id: NodeId, addr: String },
    /// No leader is known (an election is running), or the one named is not in the membership.
    Unknown { named: Option<NodeId> },
}

impl Leadership {
    /// Read it from `raft`'s metrics (the borrow is not held beyond this call).
    pub fn of(raft: &Raft) -> Leadership {
        let metrics = raft.metrics();
        let m = metrics.borrow();
        match m.current_leader {
            Some(leader) if leader == m.id && m.state == ServerState::Leader => {
                match m.millis_since_quorum_ack {
                    Some(ms) if ms > QUORUM_SILENCE.as_millis() as u64 => {
                        Leadership::MeWithoutQuorum {
                            id: m.id,
                            silent_ms: ms,
                        }
                    }
                    _ => Leadership::Me { id: m.id },
                }
            }
            Some(leader) if leader != m.id => {
                match m.membership_config.membership().get_node(&leader) {
                    Some(node) => Leadership::Other {
                        id: leader,
                        addr: node.addr.clone(),
                    },
                    None => Leadership::Unknown {
                        named: Some(leader),
                    },
                }
            }
            named => Leadership::Unknown { named },
        }
    }

    /// The leader's id, if one is known.
    pub fn leader_id(&self) -> Option<NodeId> {
        match self {
            Leadership::Me { id }
            | Leadership::MeWithoutQuorum { id, .. }
            | Leadership::Other { id, .. } => Some(*id),
            Leadership::Unknown { named } => *named,
        }
    }

    /// Whether this node leads (with or without a majority behind it).
    pub fn is_me(&self) -> bool {
        matches!(
            self,
            Leadership::Me { .. } | Leadership::MeWithoutQuorum { .. }
        )
    }
}
