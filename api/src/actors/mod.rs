//! The actix actors that front the Raft log on each node, one per area of state.
//!
//! Actors hold no authoritative state (a panic only loses a mailbox): each message becomes a
//! command proposed through Raft, and reads come from the applied state machine. Handlers that
//! await a write return a `ResponseFuture`, so a mailbox keeps flowing while writes commit.

mod clients;
mod codes;
mod config;
mod sessions;

pub use clients::{ClientsActor, Register};
pub use codes::{CodesActor, IssueCode, RedeemCode, RotateRefresh};
pub use config::{Bootstrap, BootstrapReport, ConfigActor};
pub use sessions::{ConsentTo, Federate, Login, LoginError, Logout, SessionsActor};
