//! Golden fixtures: bytes written by every storage format, checked in, decoded by this binary.
//!
//! `golden/format<N>/` holds what format N's release stored and sent for the same sample of
//! commands (`golden/sample_format<N>.rs`): log entries as the log store keeps them, a leader's
//! answers to forwarded writes, and the snapshot of the final state. Formats 1 and 2 were
//! written by those releases themselves (`golden/generate/released.rs`); formats 3 and 4 by
//! `cargo run -p mcpauth-raft --example golden` of their time.
//!
//! A sample is written with the frozen types of the format it was recorded in (struct literals
//! with every field, `include!`d into a module that brings that format's names into scope) and
//! converted to today's model; only the newest format's sample uses the model itself.
//!
//! Each format's bytes must decode to the sample's commands in today's model, re-applying them
//! must give the outcomes and the state that release recorded, and where this binary still
//! writes a format (2 while a 0.1 node is a member, 3), it must write those exact bytes. A type
//! changed in place instead of in a new format fails here.

use std::path::Path;

use mcpauth_raft::{decode_forward_reply, encode_forward_reply, Entry, EntryPayload};
use mcpauth_state::format::{self, FormatVersion, NEWEST};
use mcpauth_state::*;

/// The samples of formats 1 and 2 in format 2's frozen types (format 1 is its prefix).
mod frozen_v2 {
    use mcpauth_state::format::v2::*;
    include!("golden/sample_format1.rs");
    include!("golden/sample_format2.rs");
    pub fn format1() -> Vec<Command> {
        sample_format1()
    }
    pub fn format2() -> Vec<Command> {
        sample_format2()
    }
}

/// The sample of format 3 in format 3's frozen types.
mod frozen_v3 {
    use mcpauth_state::format::v3::*;
    include!("golden/sample_format1.rs");
    include!("golden/sample_format2.rs");
    include!("golden/sample_format3.rs");
    pub fn format3() -> Vec<Command> {
        sample_format3()
    }
}

/// The sample of format 4 in format 4's frozen types; format 2's sample, which it starts
/// from, is converted to them through the model.
mod frozen_v4 {
    use mcpauth_state::format::v4::*;
    include!("golden/sample_format4.rs");
    fn earlier_commands() -> Vec<Command> {
        super::earlier_commands()
            .into_iter()
            .map(|c| Command::try_from(c).expect("format 2's commands are format 4's"))
            .collect()
    }
    pub fn format4() -> Vec<Command> {
        sample_format4()
    }
    pub fn additions() -> Vec<Command> {
        sample_format4_additions()
    }
}

/// Format 2's sample in today's model: what every later format's sample starts from.
fn earlier_commands() -> Vec<Command> {
    frozen_v2::format2()
        .into_iter()
        .map(Command::from)
        .collect()
}

/// Every command of format 4's sample in the model, without its version raise.
fn format4_commands() -> Vec<Command> {
    let mut commands = earlier_commands();
    commands.extend(frozen_v4::additions().into_iter().map(Command::from));
    commands
}

include!("golden/sample_format5.rs");

/// One format's fixture files.
struct Fixture {
    entries: Vec<Vec<u8>>,
    outcomes: Vec<Vec<u8>>,
    snapshot: Vec<u8>,
}

fn fixture(format: FormatVersion) -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/format{format}"));
    let read = |name: &str| {
        std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
    };
    Fixture {
        entries: decode(&read("entries.bin")).expect("entries.bin is a list of entries"),
        outcomes: decode(&read("outcomes.bin")).expect("outcomes.bin is a list of answers"),
        snapshot: read("snapshot.bin"),
    }
}

fn sample(format: FormatVersion) -> Vec<Command> {
    match format {
        1 => frozen_v2::format1().into_iter().map(Into::into).collect(),
        2 => earlier_commands(),
        3 => frozen_v3::format3().into_iter().map(Into::into).collect(),
        4 => frozen_v4::format4().into_iter().map(Into::into).collect(),
        5 => sample_format5(),
        other => panic!("no sample for format {other}"),
    }
}

/// The format an entry of `written` decodes as: formats 1 and 2 share one enum, so both read
/// as 2 (the format this binary writes for them).
fn read_as(written: FormatVersion) -> FormatVersion {
    written.max(format::BASELINE)
}

/// Decode `format`'s fixture and check it against the sample, re-applied by today's apply().
fn check_decodes(format: FormatVersion) {
    let fixture = fixture(format);
    let commands = sample(format);
    assert_eq!(
        fixture.entries.len(),
        commands.len() + 2,
        "format {format}: entry count"
    );
    assert_eq!(
        fixture.outcomes.len(),
        commands.len(),
        "format {format}: answer count"
    );

    let entries: Vec<Entry> = fixture
        .entries
        .iter()
        .map(|bytes| decode(bytes).unwrap_or_else(|e| panic!("format {format} entry: {e}")))
        .collect();
    assert!(matches!(entries[0].payload, EntryPayload::Blank));
    assert!(matches!(entries[1].payload, EntryPayload::Membership(_)));

    let mut state = State::default();
    for (i, (entry, expected)) in entries[2..].iter().zip(&commands).enumerate() {
        let EntryPayload::Normal(versioned) = &entry.payload else {
            panic!("format {format}: entry {i} is not a command");
        };
        assert_eq!(
            versioned.format,
            read_as(format),
            "format {format}: entry {i}'s format"
        );
        assert_eq!(&versioned.command, expected, "format {format}: entry {i}");
        assert_eq!(entry.log_id.index, i as u64 + 3);

        let outcome = state.apply(&versioned.command);
        if format == 1 {
            // Answers cross only between live members, and no node of the first release can be
            // one: 0.1 already changed its answers in place (PurgeCounts grew three fields), so
            // that release's answers are kept in the fixture as a record, not read.
            continue;
        }
        let recorded = decode_forward_reply(&fixture.outcomes[i])
            .unwrap_or_else(|e| panic!("format {format} answer {i}: {e}"))
            .unwrap_or_else(|e| panic!("format {format} answer {i} is a refusal: {e}"));
        assert_eq!(recorded.log_index, i as u64 + 3);
        assert_eq!(
            recorded.outcome,
            outcome,
            "format {format}: answer {i} ({})",
            versioned.command.kind()
        );
    }
    let snapshot = format::decode_snapshot(&fixture.snapshot)
        .unwrap_or_else(|e| panic!("format {format} snapshot: {e}"));
    assert_eq!(format::snapshot_format(&fixture.snapshot), Some(format));
    assert_eq!(
        snapshot, state,
        "format {format}: the snapshot that release took is the state today's apply() reaches"
    );
}

/// Encode `format`'s sample as this binary writes it in that format and compare byte for byte.
fn check_writes(format: FormatVersion) {
    let fixture = fixture(format);
    let entries: Vec<Entry> = fixture.entries.iter().map(|b| decode(b).unwrap()).collect();
    // The sample's commands as built in code, not the decoded ones: a type changed in place
    // (fields reordered, say) would encode its decoded values back to the same bytes.
    let mut commands = sample(format).into_iter();
    let mut state = State::default();
    for (i, entry) in entries.iter().enumerate() {
        let EntryPayload::Normal(versioned) = &entry.payload else {
            continue;
        };
        let command = commands.next().expect("as many commands as entries");
        let mut rewritten = entry.clone();
        rewritten.payload = EntryPayload::Normal(VersionedCommand::new(format, command));
        assert_eq!(
            encode(&rewritten).unwrap(),
            fixture.entries[i],
            "format {format}: entry {i} ({}) is not written as that release wrote it",
            versioned.command.kind()
        );
        let outcome = state.apply(&versioned.command);
        let reply = Ok(mcpauth_raft::Forwarded {
            log_index: entry.log_id.index,
            outcome,
        });
        assert_eq!(
            encode_forward_reply(reply, format).unwrap(),
            fixture.outcomes[i - 2],
            "format {format}: answer {} is not written as that release wrote it",
            i - 2
        );
    }
    assert_eq!(
        format::encode_snapshot(&state).unwrap(),
        fixture.snapshot,
        "format {format}: snapshot"
    );
}

#[test]
fn format_1_written_by_the_first_release_decodes() {
    check_decodes(1);
}

#[test]
fn format_2_written_by_0_1_decodes() {
    check_decodes(2);
}

#[test]
fn format_3_decodes() {
    check_decodes(3);
}

#[test]
fn format_4_decodes() {
    check_decodes(4);
}

#[test]
fn format_5_decodes() {
    check_decodes(5);
}

#[test]
fn format_2_is_written_exactly_as_0_1_wrote_it() {
    check_writes(2);
}

#[test]
fn format_3_is_written_exactly_as_its_fixture() {
    check_writes(3);
}

#[test]
fn format_4_is_written_exactly_as_its_fixture() {
    check_writes(4);
}

#[test]
fn format_5_is_written_exactly_as_its_fixture() {
    assert_eq!(NEWEST, 5, "a new format needs its own fixture and test");
    check_writes(5);
}

#[test]
fn an_entry_of_a_newer_format_is_refused_with_a_clear_message() {
    // A format-4 entry with its format number raised to one this binary does not read.
    let fixture = fixture(NEWEST);
    let mut bytes = fixture.entries[3].clone();
    // Entry: log id (term u64, node u64, index u64), payload variant u32 (1 = Normal), then the
    // envelope: variant u32 (21 = Framed), format u32.
    let at = 8 + 8 + 8 + 4 + 4;
    assert_eq!(bytes[at..at + 4], NEWEST.to_le_bytes());
    bytes[at..at + 4].copy_from_slice(&(NEWEST + 1).to_le_bytes());
    let error = decode::<Entry>(&bytes).expect_err("a newer entry must not decode");
    let message = error.to_string();
    assert!(
        message.contains(&format!("storage format {}", NEWEST + 1)) && message.contains("newer"),
        "unclear: {message}"
    );
    // What a node checks to stop rather than refuse the entry as corrupt.
    assert_eq!(format::FormatError::newer_in(&message), Some(NEWEST + 1));
    bytes[at..at + 4].copy_from_slice(&NEWEST.to_le_bytes());
    bytes.truncate(bytes.len() - 1);
    let corrupt = decode::<Entry>(&bytes).expect_err("a truncated entry must not decode");
    assert_eq!(format::FormatError::newer_in(&corrupt.to_string()), None);

    let mut snapshot = fixture.snapshot.clone();
    snapshot[..4].copy_from_slice(&9u32.to_le_bytes());
    let error = format::decode_snapshot(&snapshot).expect_err("a format-9 snapshot");
    assert!(error.to_string().contains("storage format 9"), "{error}");
}

#[test]
fn a_command_format_2_cannot_express_is_not_written_in_it() {
    let versioned = VersionedCommand::new(2, Command::SetClusterVersion { version: 3 });
    let error = encode(&versioned).expect_err("format 2 has no SetClusterVersion");
    assert!(error.to_string().contains("SetClusterVersion"), "{error}");
}

#[test]
fn a_command_format_3_cannot_express_is_not_written_in_it() {
    let versioned = VersionedCommand::new(
        3,
        Command::DeleteClient {
            client_id: "app".to_owned(),
        },
    );
    let error = encode(&versioned).expect_err("format 3 has no DeleteClient");
    assert!(error.to_string().contains("DeleteClient"), "{error}");
}

#[test]
fn a_command_format_4_cannot_express_is_not_written_in_it() {
    let versioned = VersionedCommand::new(
        4,
        Command::SetClientDisabled {
            client_id: "app".to_owned(),
            disabled: true,
        },
    );
    let error = encode(&versioned).expect_err("format 4 has no SetClientDisabled");
    assert!(error.to_string().contains("SetClientDisabled"), "{error}");
    // Nor inside a batch, nor an administration answer.
    let batch = VersionedCommand::new(
        4,
        Command::Batch(vec![Command::RecordAudit {
            context: AuditContext::default(),
            outcome: AuditOutcome::Success,
        }]),
    );
    assert!(encode(&batch).is_err());
    assert!(mcpauth_raft::encode_forward_reply(
        Ok(mcpauth_raft::Forwarded {
            log_index: 1,
            outcome: Outcome::Revoked(RevokeCounts::default()),
        }),
        4
    )
    .is_err());
}
