//! Group commit for the log: one thread that flushes sled and then acknowledges every append
//! that was written before the flush began.
//!
//! openraft 0.9 calls `append` once per client write, one write at a time. If `append` itself
//! waited for an fsync, the leader could commit at most one write per fsync. Instead `append`
//! writes its batch (visible to readers at once, as openraft requires) and queues its
//! [`LogFlushed`] callback here. This thread takes every callback queued so far, flushes sled
//! once, and only then acknowledges them, in order. An acknowledged entry is therefore always on
//! disk (DESIGN.md, invariant 3), and a burst of writes shares one fsync.
//!
//! Why a plain thread: sled's flush blocks, and it must never run on an async executor (a stalled
//! executor delays heartbeats and triggers elections). sled's log is a single ordered log for all
//! trees, so a flush makes durable everything written before it started, whichever call wrote it.

use std::sync::mpsc;
use std::thread;

use openraft::storage::LogFlushed;

use crate::type_config::TypeConfig;

/// Owned by the [`crate::LogStore`]. Dropping it stops the thread after it has drained and
/// acknowledged what was queued, and waits for that, so the database is closed once the store
/// is gone (a node restarted in the same process can then reopen it).
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Flusher {
    /// Start the flusher thread for `db`.
    pub(crate) fn start(db: sled::Db) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let thread = thread::Builder::new()
            .name("mcpauth-log-flush".into())
            .spawn(move || run(db, rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Acknowledge `callback` once everything written so far is durable.
    ///
    /// If the thread is gone (it only stops when this is dropped, or if it panicked), the
    /// callback is answered with an error rather than lost.
    pub(crate) fn submit(&self, callback: LogFlushed<TypeConfig>) {
        let Some(tx) = &self.tx else {
            callback.log_io_completed(Err(std::io::Error::other("log flusher stopped")));
            return;
        };
        if let Err(mpsc::SendError(callback)) = tx.send(callback) {
            tracing::error!("log flusher thread is gone; failing the log IO");
            callback.log_io_completed(Err(std::io::Error::other("log flusher stopped")));
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop once the queue is drained.
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("log flusher thread panicked");
            }
        }
    }
}

fn run(db: sled::Db, rx: mpsc::Receiver<LogFlushed<TypeConfig>>) {
    let mut pending = Vec::new();
    // Block for the first callback, then take every one already queued: they were all
    // submitted after their writes, so one flush started now covers them all.
    while let Ok(first) = rx.recv() {
        pending.push(first);
        pending.extend(rx.try_iter());
        let result = db.flush();
        match &result {
            Ok(bytes) => tracing::trace!(acks = pending.len(), bytes, "log flushed"),
            Err(e) => tracing::error!(error = %e, acks = pending.len(), "log flush failed"),
        }
        for callback in pending.drain(..) {
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            callback.log_io_completed(outcome);
        }
    }
    tracing::debug!("log flusher stopped");
}
