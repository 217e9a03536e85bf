//! The integration tests: the real `mcpauth` binary (target/release/mcpauth, or
//! `MCPAUTH_BIN`) over real HTTP, with real identity providers and, for the upgrade tests, the
//! real previous release. One test binary, so the harness is compiled and linked once; cluster
//! tests take [`mcpauth_tests::gate::serial`] and run alone, lighter tests share the binary
//! (`mcpauth_tests::gate`).

mod authorize;
mod client_metadata;
mod cluster_bootstrap;
mod cluster_consistency;
mod cluster_failover;
mod cluster_heal;
mod cluster_membership;
mod cluster_partition;
mod cluster_security;
mod configured_clients;
mod discovery;
mod federation_cli;
mod federation_ldap_saml;
mod federation_oidc;
mod key_rotation;
mod newer_format;
mod refresh_policy;
mod registration;
mod restart;
mod revocation;
mod startup;
mod token;
mod upgrade;
mod users;
