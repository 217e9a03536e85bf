#!/usr/bin/env bash
# Self-test for the LDAP fixture: starts tests/idp/ldap/run in a temp dir and
# checks binds, searches, StartTLS, LDAPS, group lookups and SIGTERM shutdown.
# Exit status 0 = all checks passed. Requires install.sh to have been run.
#   PORT=... TLS_PORT=... override the (random, free) ports.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PATH="$PATH:/usr/sbin:/sbin"

free_port() {
  local p
  for _ in $(seq 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
PORT="${PORT:-$(free_port)}"
TLS_PORT="${TLS_PORT:-$(free_port)}"
while [ "$TLS_PORT" = "$PORT" ]; do TLS_PORT="$(free_port)"; done

T="$(mktemp -d)"
DIR="$T/ldap"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT

fails=0
pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

BASE="dc=example,dc=test"
SVC="cn=mcpauth,ou=services,$BASE"
ALICE="uid=alice,ou=people,$BASE"
URL="ldap://127.0.0.1:$PORT"
SURL="ldaps://127.0.0.1:$TLS_PORT"

# ---- start -----------------------------------------------------------------
t0=$(now_ms)
"$HERE/run" --dir "$DIR" --port "$PORT" --tls-port "$TLS_PORT" >"$T/stdout" 2>"$T/stderr" &
PID=$!
while :; do
  if grep -qx READY "$T/stdout" 2>/dev/null; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "FAIL - run exited before READY"; cat "$T/stderr"; exit 1
  fi
  if [ $(( $(now_ms) - t0 )) -gt 10000 ]; then
    echo "FAIL - no READY within 10s"; cat "$T/stderr"; exit 1
  fi
  sleep 0.02
done
echo "ok   - READY after $(( $(now_ms) - t0 )) ms (ports $PORT/$TLS_PORT, dir $DIR)"
[ "$(cat "$T/stdout")" = "READY" ] && pass "stdout is exactly one READY line" || fail "stdout: $(cat "$T/stdout")"
for f in ca.pem slapd.conf slapd.pid; do [ -s "$DIR/$f" ] || fail "missing $DIR/$f"; done

export LDAPTLS_CACERT="$DIR/ca.pem" LDAPTLS_REQCERT=demand

# ---- service account bind + user search ------------------------------------
out=$(ldapsearch -x -H "$URL" -D "$SVC" -w service-secret -b "ou=people,$BASE" -LLL '(uid=alice)' cn mail memberOf userPassword 2>&1)
if grep -qx "mail: alice@example.test" <<<"$out" && grep -qx "cn: Alice Liddell" <<<"$out"; then
  pass "service bind + search (uid=alice) returns cn/mail"
else fail "service search: $out"; fi
grep -qi '^userPassword' <<<"$out" && fail "service account can read userPassword" || pass "userPassword not readable by service account"
if grep -qx "memberOf: cn=engineers,ou=groups,$BASE" <<<"$out" && grep -qx "memberOf: cn=admins,ou=groups,$BASE" <<<"$out"; then
  pass "memberOf on alice lists engineers + admins"
else fail "memberOf: $out"; fi

out=$(ldapsearch -x -H "$URL" -D "$SVC" -w service-secret -b "ou=people,$BASE" -LLL '(uid=nomail)' mail 2>&1)
if grep -qx "dn: uid=nomail,ou=people,$BASE" <<<"$out" && ! grep -q '^mail:' <<<"$out"; then
  pass "uid=nomail exists and has no mail"
else fail "nomail: $out"; fi

# ---- user binds ------------------------------------------------------------
out=$(ldapwhoami -x -H "$URL" -D "$ALICE" -w alice-password 2>&1)
[ "$out" = "dn:$ALICE" ] && pass "alice binds with right password" || fail "alice bind: $out"
ldapwhoami -x -H "$URL" -D "$ALICE" -w wrong-password >/dev/null 2>&1; rc=$?
[ "$rc" = 49 ] && pass "alice wrong password -> 49 invalidCredentials" || fail "alice wrong password rc=$rc"
for u in bob carol nomail; do
  ldapwhoami -x -H "$URL" -D "uid=$u,ou=people,$BASE" -w "$u-password" >/dev/null 2>&1 \
    && pass "$u binds" || fail "$u bind"
done
out=$(ldapsearch -x -H "$URL" -b "$BASE" -LLL '(uid=*)' dn 2>/dev/null)
[ -z "$out" ] && pass "anonymous search sees nothing" || fail "anonymous sees: $out"

# ---- TLS -------------------------------------------------------------------
out=$(ldapwhoami -x -ZZ -H "$URL" -D "$SVC" -w service-secret 2>&1)
[ "$out" = "dn:$SVC" ] && pass "StartTLS (-ZZ) with ca.pem" || fail "StartTLS: $out"
out=$(ldapwhoami -x -H "$SURL" -D "$SVC" -w service-secret 2>&1)
[ "$out" = "dn:$SVC" ] && pass "ldaps:// with ca.pem" || fail "ldaps: $out"
if env -u LDAPTLS_CACERT LDAPTLS_CACERT=/dev/null ldapwhoami -x -H "$SURL" >/dev/null 2>&1; then
  fail "ldaps accepted without trusting ca.pem"
else pass "ldaps rejected without ca.pem"; fi

# ---- groups ----------------------------------------------------------------
out=$(ldapsearch -x -H "$URL" -D "$SVC" -w service-secret -b "ou=groups,$BASE" -LLL \
      "(&(objectClass=groupOfNames)(member=$ALICE))" cn 2>&1)
if grep -qx "cn: engineers" <<<"$out" && grep -qx "cn: admins" <<<"$out" && [ "$(grep -c '^dn:' <<<"$out")" = 2 ]; then
  pass "group search by member returns engineers + admins"
else fail "group search: $out"; fi
out=$(ldapsearch -x -H "$URL" -D "$SVC" -w service-secret -b "ou=groups,$BASE" -LLL \
      "(&(objectClass=groupOfNames)(member=uid=carol,ou=people,$BASE))" cn 2>&1)
[ -z "$out" ] && pass "carol is in no group" || fail "carol groups: $out"

# ---- shutdown --------------------------------------------------------------
t1=$(now_ms)
kill -TERM "$PID"
while kill -0 "$PID" 2>/dev/null && [ $(( $(now_ms) - t1 )) -lt 3000 ]; do sleep 0.01; done
dt=$(( $(now_ms) - t1 ))
if kill -0 "$PID" 2>/dev/null; then fail "still running ${dt} ms after SIGTERM"
elif [ "$dt" -le 1000 ]; then pass "SIGTERM stopped slapd in ${dt} ms"
else fail "SIGTERM took ${dt} ms"; fi
wait "$PID" 2>/dev/null; PID=""

if [ "$fails" -eq 0 ]; then echo "ALL OK"; else echo "$fails check(s) FAILED"; exit 1; fi
