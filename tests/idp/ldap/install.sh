#!/usr/bin/env bash
# Install the OpenLDAP server + client tools needed by tests/idp/ldap/run.
# Idempotent and non-interactive; a quick no-op when everything is present.
# Must run as root (or with sudo available) on Debian/Ubuntu.
#
# The Debian slapd postinst normally configures a system directory and starts a
# system slapd on port 389. We never use that instance: while installing we put
# a temporary /usr/sbin/policy-rc.d in place (unless one already exists) so the
# service is not started, and if it got started anyway we stop it again.
set -euo pipefail

need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v slapadd >/dev/null 2>&1 || [ -x /usr/sbin/slapadd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v ldapwhoami >/dev/null 2>&1 || need+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install.sh: need root to install: ${need[*]}" >&2; exit 1
  fi
fi

# The system instance (if any) is identified by its pid file; our test
# instances (tests/idp/ldap/run) keep their pid files in their own DIR.
sys_slapd_running() {
  [ -s /run/slapd/slapd.pid ] && $SUDO kill -0 "$(cat /run/slapd/slapd.pid)" 2>/dev/null
}
was_running=0
if sys_slapd_running; then was_running=1; fi
installing_slapd=0
case " ${need[*]} " in *" slapd "*) installing_slapd=1 ;; esac

created_policy=0
cleanup() {
  if [ "$created_policy" -eq 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary, from mcpauth tests/idp/ldap/install.sh\nexit 101\n' \
    | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"; then
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

# We never use the system slapd. If this install started it anyway (no
# policy-rc.d honoured), stop it; on systemd hosts also keep it from starting
# at boot.
if [ "$installing_slapd" -eq 1 ]; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable slapd >/dev/null 2>&1 || true
    if [ "$was_running" -eq 0 ]; then $SUDO systemctl stop slapd >/dev/null 2>&1 || true; fi
  fi
  if [ "$was_running" -eq 0 ] && sys_slapd_running; then
    if command -v service >/dev/null 2>&1; then $SUDO service slapd stop >/dev/null 2>&1 || true; fi
    if sys_slapd_running; then $SUDO kill -TERM "$(cat /run/slapd/slapd.pid)" 2>/dev/null || true; fi
  fi
fi
