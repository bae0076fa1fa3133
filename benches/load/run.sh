#!/usr/bin/env bash
# Load benchmark: the axum example (as benches/load/server.rs, with the knobs below) vs. a
# Node.js (express) server written the way Zoom's RTMS brief shows, same load, same run, loopback
# only. See benches/load/loadgen.rs.
#
#   benches/load/run.sh
#
# Rows (in this order):
#   rust-2s    benches/load/server.rs, handler takes HANDLER_DELAY_MS (2000) per event
#   node-2s    benches/peers/node/server.js, same 2 s async work, signature verified
#   rust-0ms   benches/load/server.rs with no delay (reference: ack latency must not depend on
#              the handler)                                   [skip with NO_BASELINE=1]
#   node-2s-noverify   the Node server without signature checks [only with NODE_NOVERIFY=1]
#
# Knobs (environment): CONCURRENCY (64 connections, one request in flight each), DURATION (10 s
# measured), WARMUP (2 s, not measured), LOADGEN_THREADS (1), HANDLER_DELAY_MS (2000),
# DISPATCH_WORKERS / DISPATCH_QUEUE_CAPACITY (65536 / 65536: the dispatcher must hold
# rate x 2 s events in flight, or it answers 503 by design), WAIT_FOR_BUILD (seconds to keep
# retrying the server's build, 0), KEEP_LOGS=1 (keep server logs), SERVER_BIN + LOADGEN_BIN
# (prebuilt binaries: skip the build).
#
# Every run stops by itself: the load generator runs WARMUP + DURATION seconds; each server is
# then given HANDLER_DELAY_MS + 2 s to finish the work it acknowledged (the script checks that
# every acknowledged event was processed) and is stopped by its own PID (SIGINT, SIGKILL after
# 10 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

CONCURRENCY="${CONCURRENCY:-64}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
LOADGEN_THREADS="${LOADGEN_THREADS:-1}"
HANDLER_DELAY_MS="${HANDLER_DELAY_MS:-2000}"
DISPATCH_WORKERS="${DISPATCH_WORKERS:-65536}"
DISPATCH_QUEUE_CAPACITY="${DISPATCH_QUEUE_CAPACITY:-65536}"
WAIT_FOR_BUILD="${WAIT_FOR_BUILD:-0}"
NO_BASELINE="${NO_BASELINE:-0}"
NODE_NOVERIFY="${NODE_NOVERIFY:-0}"
KEEP_LOGS="${KEEP_LOGS:-0}"

export ZOOM_SECRET_TOKEN="load-bench-secret-token"
export ZOOM_CLIENT_ID="load-bench-client-id"
export ZOOM_CLIENT_SECRET="load-bench-client-secret"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/rtms-load.XXXXXX")"
RESULTS="$LOGDIR/results.tsv"
: >"$RESULTS"
SERVER_PID=""

# shellcheck source=../stop-pid.sh
. "$ROOT/benches/stop-pid.sh"

# SIGINT (graceful: the server finishes what it acknowledged), SIGKILL after 10 s.
stop_server() {
    local pid="$SERVER_PID"
    SERVER_PID=""
    stop_pid "$pid" INT 100
}

cleanup() {
    stop_server
    if [ "$KEEP_LOGS" = 1 ]; then
        echo "logs kept in $LOGDIR"
    else
        rm -rf "$LOGDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for_port() {
    local port="$1" pid="$2"
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || { echo "server exited before listening" >&2; return 1; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server did not listen on $port within 30 s" >&2
    return 1
}

# --- build ---------------------------------------------------------------------------------
# SERVER_BIN / LOADGEN_BIN: use prebuilt binaries instead of building (both must be set).
if [ -n "${SERVER_BIN:-}" ] && [ -n "${LOADGEN_BIN:-}" ]; then
    echo "== using prebuilt $SERVER_BIN and $LOADGEN_BIN"
else
    echo "== building (release)"
    deadline=$(( $(date +%s) + WAIT_FOR_BUILD ))
    until cargo build --release --example load-server --features axum; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "benches/load/server.rs does not build (set WAIT_FOR_BUILD=600 to keep polling)" >&2
            exit 1
        fi
        echo "benches/load/server.rs not ready yet; retrying in 15 s" >&2
        sleep 15
    done
    cargo build --release --example loadgen
    SERVER_BIN="$TARGET_DIR/release/examples/load-server"
    LOADGEN_BIN="$TARGET_DIR/release/examples/loadgen"
fi

echo "== npm ci (benches/peers/node)"
(cd benches/peers/node && npm ci --no-audit --no-fund --loglevel=error)

# --- one row -------------------------------------------------------------------------------
# run_row LABEL DELAY_MS -- command...
run_row() {
    local label="$1" delay_ms="$2"
    shift 3
    local port
    port="$(free_port)"
    echo "== $label on 127.0.0.1:$port ($(uptime | sed 's/.*load average/load average/'))"
    PORT="$port" HANDLER_DELAY_MS="$delay_ms" "$@" >"$LOGDIR/$label.out" 2>"$LOGDIR/$label.err" &
    SERVER_PID=$!
    wait_for_port "$port" "$SERVER_PID"
    "$LOADGEN_BIN" --url "http://127.0.0.1:$port/webhook" --secret "$ZOOM_SECRET_TOKEN" \
        --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
        --threads "$LOADGEN_THREADS" --label "$label" | tee "$LOGDIR/$label.load"
    grep '^RESULT' "$LOGDIR/$label.load" | cut -f2- >>"$RESULTS"
    # Let every acknowledged event finish its simulated work, then stop the server.
    sleep $(( delay_ms / 1000 + 2 ))
    stop_server
    local acked processed
    acked="$(grep '^RESULT' "$LOGDIR/$label.load" | cut -f15)"
    processed="$(grep -c '^processed ' "$LOGDIR/$label.out" || true)"
    echo "   $label: acknowledged $acked, processed $processed"
}

export DISPATCH_WORKERS DISPATCH_QUEUE_CAPACITY
NODE=(node benches/peers/node/server.js)

echo "machine: $(nproc) cores, shared with other work: $(uptime)"
run_row rust-2s "$HANDLER_DELAY_MS" -- "$SERVER_BIN"
run_row node-2s "$HANDLER_DELAY_MS" -- "${NODE[@]}"
if [ "$NO_BASELINE" != 1 ]; then
    run_row rust-0ms 0 -- "$SERVER_BIN"
fi
if [ "$NODE_NOVERIFY" = 1 ]; then
    VERIFY=0 run_row node-2s-noverify "$HANDLER_DELAY_MS" -- "${NODE[@]}"
fi
echo "after: $(uptime)"

# --- table ---------------------------------------------------------------------------------
echo
echo "== results: concurrency $CONCURRENCY, ${DURATION} s measured after ${WARMUP} s warm-up," \
    "loadgen threads $LOADGEN_THREADS, $(nproc) cores shared by server and load generator"
awk -F'\t' '
    BEGIN {
        printf "%-18s %10s %9s %9s %9s %9s %7s %7s\n", "target", "2xx req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx", "errors"
    }
    {
        printf "%-18s %10d %9.3f %9.3f %9.3f %9.3f %7d %7d\n", $1, $9, $10, $11, $12, $13, $4 + $5, $6
        rps[$1] = $9; p99[$1] = $12
    }
    END {
        if (rps["node-2s"] > 0 && p99["rust-2s"] > 0) {
            printf "\nrust-2s / node-2s: throughput %.2fx (goal >= 4x), p99 %.3f ms vs %.3f ms (goal: lower)\n",
                rps["rust-2s"] / rps["node-2s"], p99["rust-2s"], p99["node-2s"]
        }
        if (p99["rust-0ms"] > 0) {
            printf "rust p99 with a 2 s handler vs none: %.3f ms vs %.3f ms\n", p99["rust-2s"], p99["rust-0ms"]
        }
    }' "$RESULTS"
