//! Who may run at the same time in the one integration-test binary.
//!
//! Every integration test is a module of one binary (`tests/tests/it/`), run on several test
//! threads. A cluster test (three or four nodes, a workload, SIGKILLs and partitions) fills the
//! two cores on its own and checks timings ("within a couple of seconds"), so it holds the gate
//! exclusively ([`serial`]); a test of one node or of a small cluster shares it with other such
//! tests. A [`Node`](crate::Node) and a [`TestCluster`](crate::cluster::TestCluster) take a
//! shared hold by themselves when their thread holds none.
//!
//! The gate is a fair read-write lock: once a cluster test waits, new shared holders queue
//! behind it. A second shared hold taken on a thread that already holds one would deadlock
//! behind a waiting writer, so holds are counted per thread and only the first one locks.
//! `#[tokio::test]` runs a test's body on its own thread (both flavours), which is where nodes
//! and clusters are started.

use std::cell::Cell;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::const_new(());

thread_local! {
    /// Holds of the gate alive on this thread.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// A hold of the gate; released when dropped.
pub struct Gate {
    _lock: Option<Lock>,
}

enum Lock {
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
}

impl Gate {
    fn held(lock: Option<Lock>) -> Self {
        HELD.with(|held| held.set(held.get() + 1));
        Self { _lock: lock }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        HELD.with(|held| held.set(held.get().saturating_sub(1)));
    }
}

/// Held by each cluster test for its whole run: one such test at a time, and no other test
/// beside it.
pub async fn serial() -> Gate {
    assert_eq!(
        HELD.with(Cell::get),
        0,
        "take serial() first in the test, before starting any node"
    );
    Gate::held(Some(Lock::Exclusive(GATE.write().await)))
}

/// A shared hold, unless this thread holds the gate already.
pub async fn shared() -> Gate {
    if HELD.with(Cell::get) > 0 {
        return Gate::held(None);
    }
    Gate::held(Some(Lock::Shared(GATE.read().await)))
}
