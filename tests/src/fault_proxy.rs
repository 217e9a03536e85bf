//! A userspace TCP proxy that cuts the network between cluster nodes.
//!
//! One listener per node j, on j's advertised `raft` address, forwards to j's `raft_listen`.
//! Every node binds its outgoing internal connections to its own loopback IP, 127.0.0.(10+i), so
//! the proxy knows who connects from the source address. A connection from any other address (the
//! test itself, the `mcpauth cluster` CLI) is never cut.
//!
//! [`FaultProxy::partition`] splits the nodes into groups: a connection between two groups is
//! refused (accepted and closed at once), or with [`FaultProxy::partition_blackhole`] accepted and
//! never answered, as when packets are lost; connections already open across groups are closed.
//! [`FaultProxy::cut_one_way`] refuses one direction only, and [`FaultProxy::mute_replies`] lets
//! requests through and drops their answers (the work is done, the sender never hears of it).
//! [`FaultProxy::heal`] lets everything through again.
//!
//! The proxy runs on its own runtime, so a test that blocks its own thread does not stall it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The loopback IP of node `id` (its HTTP, raft and raft_listen addresses all use it).
pub fn node_ip(id: u64) -> Ipv4Addr {
    assert!(
        (1..=200).contains(&id),
        "node ids 1..=200 map to 127.0.0.(10+id)"
    );
    Ipv4Addr::new(127, 0, 0, 10 + id as u8)
}

/// The node a source address belongs to, if it is one of the nodes' IPs.
pub fn node_of(ip: IpAddr) -> Option<u64> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (o[0] == 127 && o[1] == 0 && o[2] == 0 && o[3] > 10 && o[3] <= 210)
                .then(|| u64::from(o[3] - 10))
        }
        IpAddr::V6(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Accept, then close at once: the peer sees a reset or EOF.
    Refuse,
    /// Accept and hold without forwarding a byte, until healed.
    Blackhole,
}

#[derive(Default)]
struct Topology {
    /// None: no partition. Some: a node talks only to nodes of its own group; a node in no group
    /// is alone.
    groups: Option<Vec<Vec<u64>>>,
    /// Connections cut in one direction only: (from, to).
    one_way: Vec<(u64, u64)>,
    /// Connections whose requests go through and whose answers are lost: (from, to).
    muted: Vec<(u64, u64)>,
    cut: Option<Cut>,
}

impl Topology {
    fn muted(&self, from: Option<u64>, to: u64) -> bool {
        from.is_some_and(|from| self.muted.contains(&(from, to)))
    }

    fn allowed(&self, from: Option<u64>, to: u64) -> bool {
        let Some(from) = from else {
            return true;
        };
        if from == to {
            return true;
        }
        if self.one_way.contains(&(from, to)) {
            return false;
        }
        let Some(groups) = &self.groups else {
            return true;
        };
        groups
            .iter()
            .any(|group| group.contains(&from) && group.contains(&to))
    }
}

struct Connection {
    from: Option<u64>,
    to: u64,
    /// Whether its answers are being dropped (fixed when it was opened).
    muted: bool,
    task: AbortHandle,
}

/// Counters, for the report of a test.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProxyStats {
    pub forwarded: u64,
    pub refused: u64,
    pub blackholed: u64,
    pub closed_by_partition: u64,
    /// Bytes of answers dropped on muted connections.
    pub muted_bytes: u64,
}

#[derive(Default)]
struct Shared {
    topology: Mutex<Topology>,
    connections: Mutex<HashMap<u64, Connection>>,
    next_id: AtomicU64,
    forwarded: AtomicU64,
    refused: AtomicU64,
    blackholed: AtomicU64,
    closed_by_partition: AtomicU64,
    muted_bytes: AtomicU64,
    /// Woken when the topology changes (blackholed connections wait on it).
    changed: tokio::sync::Notify,
}

impl Shared {
    fn allowed(&self, from: Option<u64>, to: u64) -> bool {
        self.topology.lock().unwrap().allowed(from, to)
    }

    fn cut(&self) -> Cut {
        self.topology.lock().unwrap().cut.unwrap_or(Cut::Refuse)
    }

    /// Close every open connection the topology no longer allows, or whose muting changed.
    fn close_forbidden(&self) {
        let topology = self.topology.lock().unwrap();
        let mut connections = self.connections.lock().unwrap();
        connections.retain(|_, c| {
            if topology.allowed(c.from, c.to) && topology.muted(c.from, c.to) == c.muted {
                true
            } else {
                c.task.abort();
                self.closed_by_partition.fetch_add(1, Ordering::Relaxed);
                false
            }
        });
    }
}

pub struct FaultProxy {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

impl Default for FaultProxy {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultProxy {
    pub fn new() -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        FaultProxy {
            runtime: Some(runtime),
            shared: Arc::new(Shared::default()),
        }
    }

    /// Listen on `listen` (node `to`'s advertised raft address) and forward to `target` (its
    /// raft_listen). The port is bound before this returns.
    pub fn add_route(&self, to: u64, listen: SocketAddr, target: SocketAddr) {
        let listener = std::net::TcpListener::bind(listen)
            .unwrap_or_else(|e| panic!("proxy cannot listen on {listen}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = self.shared.clone();
        let runtime = self.runtime.as_ref().expect("runtime");
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((inbound, peer)) = listener.accept().await else {
                    continue;
                };
                let from = node_of(peer.ip());
                let shared = shared.clone();
                tokio::spawn(handle(shared, inbound, from, to, target));
            }
        });
    }

    /// Split the nodes into `groups`; connections between groups are refused, and those open
    /// are closed.
    pub fn partition(&self, groups: &[&[u64]]) {
        self.set(groups, Cut::Refuse);
    }

    /// As [`partition`](Self::partition), but new connections between groups are accepted and
    /// never answered (the sender waits for its own timeout).
    pub fn partition_blackhole(&self, groups: &[&[u64]]) {
        self.set(groups, Cut::Blackhole);
    }

    /// Refuse the connections node `from` opens to node `to` (and close those open), leaving the
    /// other direction alone: e.g. a leader that cannot replicate to a follower that can still
    /// reach it. Adds to any partition in place; [`heal`](Self::heal) removes it.
    pub fn cut_one_way(&self, from: u64, to: u64) {
        {
            let mut topology = self.shared.topology.lock().unwrap();
            topology.one_way.push((from, to));
            topology.cut.get_or_insert(Cut::Refuse);
        }
        self.shared.close_forbidden();
        self.shared.changed.notify_waiters();
    }

    /// Let the requests node `from` sends to node `to` through, and drop their answers: the
    /// request is carried out, the sender never learns it (open connections are closed first).
    pub fn mute_replies(&self, from: u64, to: u64) {
        self.shared.topology.lock().unwrap().muted.push((from, to));
        self.shared.close_forbidden();
    }

    fn set(&self, groups: &[&[u64]], cut: Cut) {
        {
            let mut topology = self.shared.topology.lock().unwrap();
            topology.groups = Some(groups.iter().map(|g| g.to_vec()).collect());
            topology.cut = Some(cut);
        }
        self.shared.close_forbidden();
        self.shared.changed.notify_waiters();
    }

    /// Let every connection through again.
    pub fn heal(&self) {
        *self.shared.topology.lock().unwrap() = Topology::default();
        // Muted connections are closed, so new ones answer again.
        self.shared.close_forbidden();
        // Blackholed connections are closed, so their senders reconnect.
        self.shared.changed.notify_waiters();
    }

    /// Whether a connection from node `from` to node `to` would go through now.
    pub fn allowed(&self, from: u64, to: u64) -> bool {
        self.shared.allowed(Some(from), to)
    }

    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            forwarded: s.forwarded.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            blackholed: s.blackholed.load(Ordering::Relaxed),
            closed_by_partition: s.closed_by_partition.load(Ordering::Relaxed),
            muted_bytes: s.muted_bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    mut inbound: TcpStream,
    from: Option<u64>,
    to: u64,
    target: SocketAddr,
) {
    // Created before the check, so a change right after it still wakes a blackholed socket.
    let changed = shared.changed.notified();
    if !shared.allowed(from, to) {
        match shared.cut() {
            Cut::Refuse => {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                // Reset rather than a polite FIN: SO_LINGER 0.
                let _ = inbound.set_zero_linger();
                drop(inbound);
            }
            Cut::Blackhole => {
                shared.blackholed.fetch_add(1, Ordering::Relaxed);
                // Hold the socket and read nothing until the topology changes (heal or a new
                // partition): then close it, the sender's request is lost either way.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(120), changed).await;
                drop(inbound);
            }
        }
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let muted = shared.topology.lock().unwrap().muted(from, to);
    let forward = {
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                shared.forwarded.fetch_add(1, Ordering::Relaxed);
                if muted {
                    let (mut from_reader, _from_writer) = inbound.split();
                    let (mut to_reader, mut to_writer) = outbound.split();
                    let up = tokio::io::copy(&mut from_reader, &mut to_writer);
                    let down = async {
                        let mut buf = [0u8; 8192];
                        while let Ok(n @ 1..) = to_reader.read(&mut buf).await {
                            shared.muted_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                } else {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            }
            shared.connections.lock().unwrap().remove(&id);
        })
    };
    shared.connections.lock().unwrap().insert(
        id,
        Connection {
            from,
            to,
            muted,
            task: forward.abort_handle(),
        },
    );
    if forward.is_finished() {
        shared.connections.lock().unwrap().remove(&id);
    }
    // A partition set between the check above and the registration still closes it.
    if !shared.allowed(from, to) {
        shared.close_forbidden();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_decide_who_talks() {
        let mut t = Topology::default();
        assert!(t.allowed(Some(1), 2));
        t.groups = Some(vec![vec![1], vec![2, 3]]);
        assert!(!t.allowed(Some(1), 2));
        assert!(t.allowed(Some(2), 3));
        assert!(t.allowed(Some(1), 1));
        assert!(t.allowed(None, 1), "the test and the CLI are never cut");
        assert!(!t.allowed(Some(4), 2), "a node in no group is alone");
    }

    #[test]
    fn one_way_cuts_one_direction() {
        let t = Topology {
            one_way: vec![(1, 2)],
            ..Default::default()
        };
        assert!(!t.allowed(Some(1), 2));
        assert!(t.allowed(Some(2), 1));
        assert!(t.allowed(Some(1), 3));
    }

    #[test]
    fn source_ips_name_nodes() {
        assert_eq!(node_of("127.0.0.11".parse().unwrap()), Some(1));
        assert_eq!(node_of("127.0.0.14".parse().unwrap()), Some(4));
        assert_eq!(node_of("127.0.0.1".parse().unwrap()), None);
        assert_eq!(node_ip(3), Ipv4Addr::new(127, 0, 0, 13));
    }
}
