#!/usr/bin/env bash
# Installs the upstream OIDC provider's dependencies (oidc-provider 9.13.3 and the Node.js
# 22 it runs on, both pinned by package-lock.json) into tests/idp/oidc/node_modules with
# `npm ci`. Idempotent: a no-op when node_modules was installed from the same lock file
# (stamp: node_modules/.lock.sha256). Safe to call from several processes at once (flock).
# Needs npm (any version that reads lockfileVersion 3, npm >= 7); installs it with apt-get
# when missing and running as root on Debian/Ubuntu.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$HERE/../../../scripts/npm-ci-pinned.sh" "oidc idp" "$HERE" oidc-provider
