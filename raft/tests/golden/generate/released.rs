// The generator of the golden fixtures of a released format (1 and 2), kept for the record.
// It was built as `raft/examples/golden.rs` in a checkout of the release that wrote the format
// and run there; its output is checked in under raft/tests/golden/format<N>/:
//
//   git worktree add /tmp/release 16e20ff          # format 2 (0.1); 1d5d02b for format 1
//   cp raft/tests/golden/generate/released.rs /tmp/release/raft/examples/golden.rs
//   cp raft/tests/golden/sample_format*.rs /tmp/release/raft/examples/
//   cd /tmp/release && cargo run -p mcpauth-raft --example golden -- 2 OUT_DIR
//
// For format 1 (that release has no federation types), delete the two lines marked
// "format 2 only" and use `sample_format1()` for `commands`.
//
// Writes, for the sample's commands applied in order from an empty state:
//   entries.bin   bincode Vec<Vec<u8>>: each the exact bytes the log store keeps for an entry
//                 (bincode of openraft's Entry): a blank entry, a membership entry, then one
//                 entry per command at log indexes 3, 4, ...
//   outcomes.bin  bincode Vec<Vec<u8>>: each the body a leader answers a forwarded write with
//                 (bincode of ForwardReply), one per command
//   snapshot.bin  the snapshot's data bytes of the final state

use std::collections::BTreeSet;

use mcpauth_raft::openraft::{CommittedLeaderId, LogId};
use mcpauth_raft::{Entry, EntryPayload, ForwardReply, Forwarded, Membership};
use mcpauth_state::*;

include!("sample_format1.rs");
include!("sample_format2.rs"); // format 2 only

fn main() {
    let mut args = std::env::args().skip(1);
    let format: u32 = args.next().expect("format").parse().expect("a number");
    let out = std::path::PathBuf::from(args.next().expect("output directory"));
    let commands = sample_format2(); // format 2 only: sample_format1() for format 1

    let log_id = |index: u64| LogId::new(CommittedLeaderId::new(1, 1), index);
    let mut entries = vec![
        Entry {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(2),
            payload: EntryPayload::Membership(Membership::new(
                vec![BTreeSet::from([1, 2, 3])],
                None,
            )),
        },
    ];
    let mut state = State::default();
    let mut outcomes = Vec::new();
    for (i, command) in commands.into_iter().enumerate() {
        let index = i as u64 + 3;
        let outcome = state.apply(&command);
        outcomes.push(
            encode(&ForwardReply::Ok(Forwarded {
                log_index: index,
                outcome,
            }))
            .unwrap(),
        );
        entries.push(Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(command),
        });
    }
    let entries: Vec<Vec<u8>> = entries.iter().map(|e| encode(e).unwrap()).collect();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("entries.bin"), encode(&entries).unwrap()).unwrap();
    std::fs::write(out.join("outcomes.bin"), encode(&outcomes).unwrap()).unwrap();
    // The snapshot data as those releases wrote it: bincode((format: u32, state)).
    std::fs::write(out.join("snapshot.bin"), encode(&(format, &state)).unwrap()).unwrap();
}
