//! The one place the API reads the wall clock. Everything below takes time as an argument.

use mcpauth_state::UnixTime;

pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
