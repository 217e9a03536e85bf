#!/usr/bin/env bash
# End-to-end tests of mcpauth with the official Python MCP SDK.
#   tests/e2e/run.sh [pytest args...]
# Creates .venv-e2e at the repository root when missing (or when requirements.txt changed),
# then runs pytest on tests/e2e. Uses $MCPAUTH_BIN, default target/release/mcpauth; when
# that default is missing it is built with `cargo build --release`.
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

if [ -z "${MCPAUTH_BIN:-}" ] && [ ! -x "$ROOT/target/release/mcpauth" ]; then
    echo "e2e: building target/release/mcpauth" >&2
    (cd "$ROOT" && cargo build --release)
fi

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest "$HERE" -v -p no:cacheprovider "$@"
