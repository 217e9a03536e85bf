//! Reading the Raft log out of sled.
//!
//! openraft gives every replication task its own reader, so [`LogReader`] holds only the sled
//! trees (cheap clones of shared handles) and none of the writer's machinery.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::{ErrorSubject, ErrorVerb, OptionalSend, RaftLogReader};

use crate::blocking::{io_error, run_blocking};
use crate::type_config::{Entry, StorageError, TypeConfig};

/// Key of the log entry at `index`: big-endian, so sled's byte order is log order.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Decode a stored log entry.
pub(crate) fn decode_entry(bytes: &[u8]) -> Result<Entry, StorageError> {
    mcpauth_state::decode(bytes).map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, &*e))
}

/// A reader of the log tree; what `RaftLogStorage::get_log_reader` hands out.
#[derive(Clone)]
pub struct LogReader {
    logs: sled::Tree,
}

impl LogReader {
    pub(crate) fn new(logs: sled::Tree) -> Self {
        Self { logs }
    }

    /// The entries with index in `[start, end)` (`end` `None`: to the end of the log), blocking.
    pub(crate) fn read_range(
        logs: &sled::Tree,
        start: u64,
        end: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        let iter = match end {
            Some(end) if end <= start => return Ok(Vec::new()),
            Some(end) => logs.range(index_key(start)..index_key(end)),
            None => logs.range(index_key(start)..),
        };
        let mut entries = Vec::new();
        for item in iter {
            let (_, value) = item.map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            entries.push(decode_entry(&value)?);
        }
        Ok(entries)
    }
}

/// `[start, end)` of a range of log indexes; `end` is `None` when unbounded.
fn half_open<RB: RangeBounds<u64>>(range: &RB) -> (u64, Option<u64>) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.checked_add(1),
        Bound::Excluded(&e) => Some(e),
        Bound::Unbounded => None,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = half_open(&range);
        let logs = self.logs.clone();
        run_blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            Self::read_range(&logs, start, end)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::half_open;

    #[test]
    fn ranges_become_half_open() {
        assert_eq!(half_open(&(3..7)), (3, Some(7)));
        assert_eq!(half_open(&(3..=7)), (3, Some(8)));
        assert_eq!(half_open(&(..)), (0, None));
        assert_eq!(half_open(&(5..)), (5, None));
        assert_eq!(half_open(&(..=u64::MAX)), (0, None));
    }
}
