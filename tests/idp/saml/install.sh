#!/usr/bin/env bash
# Prepares the SAML IdP fixture: Debian's xmlsec1 (pysaml2 signs and verifies with it)
# and a venv at $REPO_ROOT/.venv-idp-saml with requirements.txt.
# Idempotent and quick when already done (stamp = sha256 of requirements.txt).
# All output goes to stderr.
set -euo pipefail
exec 1>&2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="$ROOT/.venv-idp-saml"
REQ="$HERE/requirements.txt"
PYTHON="${PYTHON:-python3}"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    fi
}

if ! command -v xmlsec1 >/dev/null 2>&1; then
    echo "idp-saml: apt-get install xmlsec1"
    apt_install xmlsec1
fi

if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "idp-saml: apt-get install python3-venv"
    apt_install python3-venv
fi

stamp_of() { sha256sum "$REQ" | cut -d' ' -f1; }

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$(stamp_of)" ]; then
    echo "idp-saml: preparing $VENV"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # keep the venv out of git status even without a .gitignore entry
    echo '*' > "$VENV/.gitignore"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    stamp_of > "$VENV/.requirements.sha256"
fi
