//! The admin API (`/api/v1/`): sessions and grants, clients, users, keys, the audit trail and
//! the runtime configuration, for people with the `admin` or `auditor` role (and for
//! automation with the cluster secret on the internal address). [`caller`] says who is
//! calling; each resource's handlers are thin over the state machine's commands, and every
//! change is an audited command, so the trail records who did what on every node.

pub mod caller;
pub mod error;

pub use caller::{AdminCaller, Via};
pub use error::AdminApiError;
