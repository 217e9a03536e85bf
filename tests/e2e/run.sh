#!/usr/bin/env bash
# End-to-end tests of mcpauth with the official MCP clients (Python SDK, TypeScript SDK v2 and v1,
# the Inspector v2 CLI, the conformance suite).
#   tests/e2e/run.sh [pytest args...]
# Creates .venv-e2e at the repository root when missing (or when requirements.txt changed),
# installs Debian's chromium when /usr/bin/chromium is missing (as root) and the upstream OIDC
# provider fixture (tests/idp/oidc/install.sh) and the Node.js clients (tests/e2e/clients/install.sh),
# then runs pytest on tests/e2e. Uses
# $MCPAUTH_BIN, default target/release/mcpauth; when that default is missing it is built with
# `cargo build --release`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/.venv-e2e"
REQ="$HERE/requirements.txt"
PYTHON="${PYTHON:-python3}"

stamp_of() { sha256sum "$REQ" | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$(stamp_of)" ]; then
    echo "e2e: preparing $VENV" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # keep the venv out of git status even without a .gitignore entry
    echo '*' > "$VENV/.gitignore"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    stamp_of > "$VENV/.requirements.sha256"
fi

# headless Chromium for test_browser_federated.py: Debian's package, driven by Playwright through
# executable_path (Playwright's own browser download is never used)
CHROMIUM="${E2E_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "e2e: installing chromium" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "e2e: $CHROMIUM is missing (apt-get install chromium): test_browser_federated.py will fail" >&2
    fi
fi

# the upstream OpenID Connect provider of the federated-login tests (npm ci; a no-op once installed)
bash "$ROOT/tests/idp/oidc/install.sh"
# the Node.js MCP clients (TypeScript SDK v2 and v1, Inspector v2, conformance suite) and Node 22
bash "$HERE/clients/install.sh"

if [ -z "${MCPAUTH_BIN:-}" ] && [ ! -x "$ROOT/target/release/mcpauth" ]; then
    echo "e2e: building target/release/mcpauth" >&2
    (cd "$ROOT" && cargo build --release)
fi

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest "$HERE" -v -p no:cacheprovider "$@"
