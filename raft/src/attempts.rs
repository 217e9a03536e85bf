//! Outcomes of tagged commands as this node applies them.
//!
//! A follower forwards a write to the leader inside `Command::Tagged { attempt, .. }`. If the
//! leader's answer is lost, the follower still learns the outcome: it applies the same entry
//! (apply() is deterministic, so it gets the same Outcome) and finds its attempt id here.
//! Nothing is stored: outcomes go to whoever is listening at that moment.

use mcpauth_state::{Command, Outcome};
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Attempts {
    tx: broadcast::Sender<(u64, Outcome)>,
}

impl Default for Attempts {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self { tx }
    }
}

impl Attempts {
    /// Called by apply() for every command with its outcome.
    pub(crate) fn publish(&self, command: &Command, outcome: &Outcome) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        match (command, outcome) {
            (Command::Tagged { attempt, .. }, outcome) => {
                let _ = self.tx.send((*attempt, outcome.clone()));
            }
            (Command::Batch(commands), Outcome::Batch(outcomes)) => {
                for (command, outcome) in commands.iter().zip(outcomes) {
                    self.publish(command, outcome);
                }
            }
            _ => {}
        }
    }

    /// Listen for applied attempts (subscribe before proposing).
    pub fn subscribe(&self) -> broadcast::Receiver<(u64, Outcome)> {
        self.tx.subscribe()
    }
}
