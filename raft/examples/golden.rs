//! Writes the golden fixtures of the newest storage format (raft/tests/golden/format<N>/):
//! the sample's commands applied in order from an empty state, as log entries, forwarded
//! answers and a snapshot, exactly as this binary stores and sends them.
//!
//! ```sh
//! cargo run -p mcpauth-raft --example golden -- raft/tests/golden/format5
//! ```
//!
//! Run it once, when a format is new, and check the output in; never regenerate the fixtures
//! of a format that was released (that would hide the very change the tests exist to catch).
//! The released formats' fixtures were written by their own releases
//! (raft/tests/golden/generate/released.rs).

use std::collections::BTreeSet;

use mcpauth_raft::openraft::{CommittedLeaderId, LogId};
use mcpauth_raft::{encode_forward_reply, Entry, EntryPayload, Forwarded, Membership};
use mcpauth_state::format::NEWEST;
use mcpauth_state::*;

/// Format 2's sample in its frozen types (see raft/tests/golden.rs).
mod frozen_v2 {
    use mcpauth_state::format::v2::*;
    include!("../tests/golden/sample_format1.rs");
    include!("../tests/golden/sample_format2.rs");
    pub fn format2() -> Vec<Command> {
        sample_format2()
    }
}

/// Format 4's sample in its frozen types (see raft/tests/golden.rs).
mod frozen_v4 {
    use mcpauth_state::format::v4::*;
    include!("../tests/golden/sample_format4.rs");
    fn earlier_commands() -> Vec<Command> {
        super::earlier_commands()
            .into_iter()
            .map(|c| Command::try_from(c).expect("format 2's commands are format 4's"))
            .collect()
    }
    pub fn additions() -> Vec<Command> {
        sample_format4_additions()
    }
}

fn earlier_commands() -> Vec<Command> {
    frozen_v2::format2()
        .into_iter()
        .map(Command::from)
        .collect()
}

fn format4_commands() -> Vec<Command> {
    let mut commands = earlier_commands();
    commands.extend(frozen_v4::additions().into_iter().map(Command::from));
    commands
}

include!("../tests/golden/sample_format5.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).ok_or("output directory")?);
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
    for (i, command) in sample_format5().into_iter().enumerate() {
        let index = i as u64 + 3;
        let outcome = state.apply(&command);
        let reply = Ok(Forwarded {
            log_index: index,
            outcome,
        });
        outcomes.push(encode_forward_reply(reply, NEWEST)?);
        entries.push(Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(VersionedCommand::new(NEWEST, command)),
        });
    }
    let entries = entries.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("entries.bin"), encode(&entries)?)?;
    std::fs::write(out.join("outcomes.bin"), encode(&outcomes)?)?;
    std::fs::write(out.join("snapshot.bin"), format::encode_snapshot(&state)?)?;
    Ok(())
}
