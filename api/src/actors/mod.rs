//! The actix actors that front the Raft log on each node, one per aggregate: clients
//! (registration), codes (codes and the token grants), sessions (login with password
//! verification off the HTTP workers, logout, consent) and config (bootstrap, the purge
//! schedule).
//!
//! Actors hold no authoritative state (a panic only loses a mailbox): each does its
//! aggregate's checks, proposes the command through Raft and reads the outcome; reads come from
//! the applied state machine. Handlers that await a write return a `ResponseFuture`, so a
//! mailbox keeps flowing while writes commit.

mod clients;
mod codes;
mod config;
mod key_rotation;
mod metadata_clients;
mod sessions;

pub use clients::{ClientsActor, Register};
pub use codes::{CodesActor, Exchange, IssueCode};
pub use config::{Bootstrap, BootstrapReport, ConfigActor};
pub use key_rotation::KeyRotationActor;
pub use metadata_clients::AdmitMetadataClient;
pub use sessions::{
    ConsentError, Federate, Login, LoginError, Logout, RecordConsent, SessionsActor,
};
