//! The commands raft/ builds around the domain's commands: the attempt tag, the batch of group
//! commit, and the no-op write that proves the write path. Built here and nowhere else in this
//! crate, so that a change of the log's payload type (a versioned wrapper around `Command`)
//! changes one file.

use mcpauth_state::{Command, Outcome};

/// `command` labelled with the proposing node's attempt id (see `crate::attempts`).
pub(crate) fn tagged(attempt: u64, command: Command) -> Command {
    Command::Tagged {
        attempt,
        command: Box::new(command),
    }
}

/// Several commands in one log entry, applied in order (never nested: see [`open`]).
pub(crate) fn batch(commands: Vec<Command>) -> Command {
    Command::Batch(commands)
}

/// A write that changes nothing: an empty batch. Committing it proves that this node's writes
/// reach a leader that can commit.
pub(crate) fn no_op() -> Command {
    Command::Batch(Vec::new())
}

/// A batch's commands, or the lone command.
// Lives for one match, moved at once: boxing the command would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Opened {
    Batch(Vec<Command>),
    One(Command),
}

/// Open a batch up (a follower's forwarded batch is spliced into the leader's, never nested).
pub(crate) fn open(command: Command) -> Opened {
    match command {
        Command::Batch(items) => Opened::Batch(items),
        command => Opened::One(command),
    }
}

/// The outcomes of a batch, or None when the outcome is not a batch's.
pub(crate) fn batch_outcomes(outcome: Outcome) -> Option<Vec<Outcome>> {
    match outcome {
        Outcome::Batch(outcomes) => Some(outcomes),
        _ => None,
    }
}

/// The outcome a batch of `outcomes` is answered with.
pub(crate) fn batch_outcome(outcomes: Vec<Outcome>) -> Outcome {
    Outcome::Batch(outcomes)
}
