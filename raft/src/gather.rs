//! Gathering writes into one batch and splitting its outcome back to the writers: the one
//! batching step of the write path, shared by the follower's [`crate::Forwarder`] and the
//! leader's [`crate::Proposer`].
//!
//! Why both gather, and why that is still batching once: a follower gathers the writes that
//! arrive while its batches are on their way to the leader (one HTTP request for many writes),
//! and the leader gathers what arrives while its one proposal is being committed (one log
//! entry, one flush, one replication round for many writes). The leader never re-batches a
//! follower's batch: it splices it in whole, as it came, next to the other writes of that
//! entry, and answers it as a whole. Measured (README, "Performance"), both steps pay: the
//! first cut the forwarding cost, the second the flushes; proposing each forwarded batch as its
//! own entry, or three proposals in flight on the leader, gave smaller entries and more work per
//! write.

use mcpauth_state::{Command, Outcome};

use crate::envelope::{self, Opened};

enum Share<W> {
    /// A lone write: answered with one outcome.
    One(W),
    /// A batch (forwarded by a follower): answered with the batch of its `usize` outcomes.
    Many(W, usize),
}

impl<W> Share<W> {
    fn waiter(self) -> W {
        match self {
            Share::One(w) | Share::Many(w, _) => w,
        }
    }
}

/// Writes gathered for one proposal (or one forward), and who waits for which outcomes.
pub(crate) struct Gathered<W> {
    commands: Vec<Command>,
    shares: Vec<Share<W>>,
}

impl<W> Default for Gathered<W> {
    fn default() -> Self {
        Self {
            commands: Vec::new(),
            shares: Vec::new(),
        }
    }
}

impl<W> Gathered<W> {
    /// How many commands are gathered (a spliced batch counts its commands).
    pub(crate) fn len(&self) -> usize {
        self.commands.len()
    }

    /// Add a write. A batch is spliced in whole and answered as a batch.
    pub(crate) fn push(&mut self, waiter: W, command: Command) {
        match envelope::open(command) {
            Opened::Batch(items) => {
                self.shares.push(Share::Many(waiter, items.len()));
                self.commands.extend(items);
            }
            Opened::One(command) => {
                self.shares.push(Share::One(waiter));
                self.commands.push(command);
            }
        }
    }

    /// What to propose (a lone write as itself, so the common idle case costs nothing), and
    /// how to split its outcome.
    pub(crate) fn into_proposal(mut self) -> (Command, Split<W>) {
        let lone = self.commands.len() == 1 && matches!(self.shares.as_slice(), [Share::One(_)]);
        let count = self.commands.len();
        let proposal = match (lone, self.commands.pop()) {
            (true, Some(command)) => command,
            (_, last) => {
                self.commands.extend(last);
                envelope::batch(self.commands)
            }
        };
        (
            proposal,
            Split {
                shares: self.shares,
                lone,
                count,
            },
        )
    }
}

/// The waiters of one proposal, in order.
pub(crate) struct Split<W> {
    shares: Vec<Share<W>>,
    lone: bool,
    count: usize,
}

impl<W> Split<W> {
    /// Each waiter with its outcome, or every waiter back when the outcome does not fit what
    /// was proposed (a leader answering with the wrong shape: nobody gets a wrong outcome).
    pub(crate) fn split(self, outcome: Outcome) -> Result<Vec<(W, Outcome)>, Vec<W>> {
        if self.lone {
            return Ok(self
                .shares
                .into_iter()
                .map(|share| (share.waiter(), outcome.clone()))
                .collect());
        }
        let outcomes = match envelope::batch_outcomes(outcome) {
            Some(outcomes) if outcomes.len() == self.count => outcomes,
            _ => return Err(self.waiters()),
        };
        let mut outcomes = outcomes.into_iter();
        Ok(self
            .shares
            .into_iter()
            .map(|share| match share {
                Share::One(w) => {
                    let outcome = outcomes
                        .next()
                        .unwrap_or_else(|| envelope::batch_outcome(Vec::new()));
                    (w, outcome)
                }
                Share::Many(w, n) => (
                    w,
                    envelope::batch_outcome(outcomes.by_ref().take(n).collect()),
                ),
            })
            .collect())
    }

    /// Every waiter, to answer them all the same (a refusal, a lost answer).
    pub(crate) fn waiters(self) -> Vec<W> {
        self.shares.into_iter().map(Share::waiter).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_state::Refusal;

    fn cmd(i: u64) -> Command {
        envelope::tagged(i, envelope::no_op())
    }

    fn refused() -> Outcome {
        Outcome::Refused(Refusal::UnknownCode)
    }

    #[test]
    fn a_lone_write_is_proposed_as_itself() {
        let mut g = Gathered::default();
        g.push(1, cmd(7));
        let (proposal, split) = g.into_proposal();
        assert_eq!(proposal, cmd(7));
        assert_eq!(
            split.split(Outcome::Done).unwrap(),
            vec![(1, Outcome::Done)]
        );
    }

    #[test]
    fn a_forwarded_batch_is_spliced_in_whole_and_answered_as_a_batch() {
        let mut g = Gathered::default();
        g.push("local", cmd(1));
        g.push("follower", envelope::batch(vec![cmd(2), cmd(3)]));
        g.push("local2", cmd(4));
        let (proposal, split) = g.into_proposal();
        assert_eq!(
            proposal,
            envelope::batch(vec![cmd(1), cmd(2), cmd(3), cmd(4)]),
            "one flat batch, never nested"
        );
        let answered = split
            .split(Outcome::Batch(vec![
                Outcome::Done,
                refused(),
                Outcome::Done,
                refused(),
            ]))
            .unwrap();
        assert_eq!(
            answered,
            vec![
                ("local", Outcome::Done),
                ("follower", Outcome::Batch(vec![refused(), Outcome::Done])),
                ("local2", refused()),
            ]
        );
    }

    #[test]
    fn an_outcome_of_the_wrong_shape_answers_nobody_with_it() {
        let mut g = Gathered::default();
        g.push(1, cmd(1));
        g.push(2, cmd(2));
        let (_, split) = g.into_proposal();
        assert_eq!(
            split
                .split(Outcome::Batch(vec![Outcome::Done]))
                .unwrap_err(),
            vec![1, 2]
        );
        let mut g = Gathered::default();
        g.push(1, cmd(1));
        g.push(2, cmd(2));
        let (_, split) = g.into_proposal();
        assert_eq!(split.split(Outcome::Done).unwrap_err(), vec![1, 2]);
    }

    #[test]
    fn a_lone_no_op_batch_stays_a_batch() {
        let mut g = Gathered::default();
        g.push(1, envelope::no_op());
        let (proposal, split) = g.into_proposal();
        assert_eq!(proposal, envelope::no_op());
        assert_eq!(
            split.split(Outcome::Batch(Vec::new())).unwrap(),
            vec![(1, Outcome::Batch(Vec::new()))]
        );
    }
}
