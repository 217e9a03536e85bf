#!/usr/bin/env bash
# The one test command (README; .ci/run calls it). Installs what the tests need on a fresh
# machine, builds mcpauth, and runs every test: unit and storage tests, the integration tests
# against the real binary, and the end-to-end tests with the official Python MCP SDK (one
# node, and three behind HAProxy).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# the real load balancer of the cluster end-to-end test (run in the foreground by the test;
# the system service is left as the package installs it)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
# `ip`, to put 10.0.0.1 and 169.254.169.254 on lo for the metadata-document SSRF test
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || need_apt+=(iproute2)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test: installing ${need_apt[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

echo "== identity providers for the federated-login tests (slapd, pysaml2 IdP, oidc-provider)" >&2
# Installed before the tests run, never from parallel tests (apt and npm take locks).
bash tests/idp/ldap/install.sh
bash tests/idp/saml/install.sh
bash tests/idp/oidc/install.sh

# The previous release (0.1) from git, for the rolling-upgrade tests; before this version's
# build, which then replaces target/release/mcpauth.
bash scripts/build-previous-release.sh

echo "== build (release)" >&2
cargo build --release --locked

echo "== cargo tests (unit, storage suite, integration against target/release/mcpauth)" >&2
MCPAUTH_BIN="$ROOT/target/release/mcpauth" MCPAUTH_PREVIOUS_BIN="$ROOT/target/upgrade/mcpauth-0.1" \
    cargo test --workspace --locked -- --test-threads 4

echo "== end-to-end with the official MCP clients (Python SDK, TypeScript SDKs, Inspector, conformance suite)" >&2
MCPAUTH_BIN="$ROOT/target/release/mcpauth" bash tests/e2e/run.sh
