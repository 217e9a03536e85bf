#!/usr/bin/env bash
# Self-test of the SAML test IdP without mcpauth (selftest.py is the SP). Ends with
# "N passed, N failed"; exit code 0 only when all checks pass.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
"$HERE/install.sh"
export PYTHONDONTWRITEBYTECODE=1
exec "$ROOT/.venv-idp-saml/bin/python" "$HERE/selftest.py" "$@"
