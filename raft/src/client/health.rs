//! Whether this node's writes have been committing lately, for `/readyz`.
//!
//! Knowing a leader is not enough: the issue-9 outage had a leader that every node knew and a
//! write path that committed nothing. So the client notes, for every write, when it started and
//! whether it committed; readiness doubts the write path when a write has been waiting too long
//! or the last one to finish did not commit, and then proves it with a no-op write (see
//! `RaftClient::readiness`). An idle node with no doubt is not probed, so health checks add no
//! log entries to a healthy cluster.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A write waiting longer than this makes the write path doubtful (commits take milliseconds).
pub const STALL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Inner {
    next_ticket: u64,
    /// Writes not finished yet: ticket -> start.
    waiting: BTreeMap<u64, Instant>,
    /// Whether the last write to finish committed, and why not.
    last_failure: Option<String>,
}

#[derive(Clone, Default)]
pub(crate) struct WriteHealth {
    inner: Arc<Mutex<Inner>>,
}

/// One write in progress; it counts as waiting until it is finished or dropped.
pub(crate) struct Ticket {
    health: WriteHealth,
    id: u64,
}

impl WriteHealth {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn begin(&self) -> Ticket {
        let mut inner = self.lock();
        let id = inner.next_ticket;
        inner.next_ticket += 1;
        inner.waiting.insert(id, Instant::now());
        Ticket {
            health: self.clone(),
            id,
        }
    }

    /// Why the write path is in doubt, if it is.
    pub(crate) fn doubt(&self) -> Option<String> {
        let inner = self.lock();
        if let Some(waited) = inner.waiting.values().next().map(Instant::elapsed) {
            if waited > STALL {
                return Some(format!(
                    "a write has been waiting {} ms",
                    waited.as_millis()
                ));
            }
        }
        inner
            .last_failure
            .as_ref()
            .map(|why| format!("the last write was not confirmed ({why})"))
    }
}

impl Ticket {
    pub(crate) fn committed(self) {
        self.health.lock().last_failure = None;
    }

    pub(crate) fn failed(self, why: &str) {
        self.health.lock().last_failure = Some(why.to_owned());
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.health.lock().waiting.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_casts_doubt_until_one_commits() {
        let health = WriteHealth::default();
        assert_eq!(health.doubt(), None, "no write yet: no doubt");
        health.begin().failed("no answer");
        assert!(health.doubt().is_some_and(|d| d.contains("no answer")));
        health.begin().committed();
        assert_eq!(health.doubt(), None);
    }

    #[test]
    fn a_write_waiting_too_long_casts_doubt() {
        let health = WriteHealth::default();
        let ticket = health.begin();
        assert_eq!(health.doubt(), None, "a write that just started is no sign");
        health
            .lock()
            .waiting
            .insert(ticket.id, Instant::now() - STALL * 2);
        assert!(health.doubt().is_some_and(|d| d.contains("waiting")));
        drop(ticket);
        assert_eq!(
            health.doubt(),
            None,
            "a write given up is no longer waiting"
        );
    }
}
