//! Running sled work off the async executors.
//!
//! sled calls block (page faults, fsync), and snapshot (de)serialization is CPU-bound. Run on a
//! tokio worker they would stall openraft's core and delay heartbeats, which looks like a dead
//! leader to the followers (DESIGN.md, "actix and openraft together"). Everything that touches
//! sled or encodes a whole state goes through [`run_blocking`].

use openraft::{AnyError, ErrorSubject, ErrorVerb, StorageIOError};

use crate::type_config::StorageError;

/// Run `work` on tokio's blocking pool and wait for it. A panic or cancellation of the blocking
/// task is reported as a storage error about `subject`, which stops Raft rather than guessing.
pub(crate) async fn run_blocking<T, F>(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    work: F,
) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(StorageIOError::new(subject, verb, AnyError::new(&join)).into()),
    }
}

/// A storage error with `source` as its cause.
pub(crate) fn io_error<E>(subject: ErrorSubject<u64>, verb: ErrorVerb, source: &E) -> StorageError
where
    E: std::error::Error + 'static,
{
    StorageIOError::new(subject, verb, AnyError::new(source)).into()
}
