#!/usr/bin/env bash
# Builds the previous release of mcpauth (0.1, storage format 2) from git, for the upgrade
# tests (tests/tests/it/upgrade.rs): target/upgrade/mcpauth-0.1. Its sources come from this
# repository's history (the commit below); it shares target/ so that the dependencies, the same
# versions as today's, are compiled once. Skips the build when the binary is there already.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# The last commit of 0.1: the release that wrote storage format 2.
PREVIOUS=16e20ff
OUT="$ROOT/target/upgrade/mcpauth-0.1"
if [ -x "$OUT" ]; then
    exit 0
fi
if ! git cat-file -e "$PREVIOUS^{commit}" 2>/dev/null; then
    echo "build-previous-release: commit $PREVIOUS is not in this clone's history;" \
         "the upgrade tests need it (clone without --depth, or git fetch --unshallow)" >&2
    exit 1
fi
SRC="$ROOT/target/upgrade/src"
rm -rf "$SRC"
mkdir -p "$SRC"
git archive "$PREVIOUS" | tar -x -C "$SRC"
echo "== build the previous release ($PREVIOUS) for the upgrade tests" >&2
# Same target directory: only mcpauth's own crates are compiled again. The binary it leaves at
# target/release/mcpauth is copied away, and the build of this version that follows replaces it.
(cd "$SRC" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --locked -p mcpauth)
cp "$ROOT/target/release/mcpauth" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
rm -rf "$SRC"
