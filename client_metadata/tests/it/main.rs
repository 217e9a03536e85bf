//! Integration tests of the client metadata resolver against real https servers (a test CA
//! generated per run), real TLS and the real reqwest client. Offline; root not needed.

mod builtin;
mod cache;
mod fetch;
mod ssrf;
mod support;
