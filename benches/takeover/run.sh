#!/usr/bin/env bash
# How long a stream is without a connection when the replica holding it stops (SIGTERM: it
# hands its streams over) or dies (SIGKILL: its leases expire), measured from outside: two
# copies of the `connect` example sharing one Redis (REDIS_URL), driven by `simulate` (the
# fake Zoom counts the signalling connections and checks there are never two at once).
#
#   bash benches/takeover/run.sh            # both, with the defaults (lease TTL 10 s)
#   STREAMS=20 bash benches/takeover/run.sh
#
# Prints, per signal: `takeover signal=<TERM|KILL> streams=<n> held_by_stopped=<n> taken=<n>
# gap_max_s=<s> gap_mean_s=<s>`, the gap being from the signal to the other copy's
# `connected stream=<id>` line for each stream the stopped copy held. Loopback only; needs
# redis-server.
set -euo pipefail
cd "$(dirname "$0")/../.."
streams="${STREAMS:-5}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release --example connect --features axum,client,redis
cargo build --quiet --release --example simulate --features simulator
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done; }

export ZOOM_SECRET_TOKEN=bench-secret ZOOM_CLIENT_ID=bench-id ZOOM_CLIENT_SECRET=bench-client-secret
export ZOOM_RTMS_TEST_HOST=127.0.0.1

run() {
  local signal="$1"
  local rport; rport="$(free_port)"
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  pids+=($!)
  local redis_pid=$!
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$rport"
  local pa pb; pa="$(free_port)"; pb="$(free_port)"
  (echo "$BASHPID" >"$work/a.pid"; PORT="$pa" exec "$target/release/examples/connect" 2>"$work/a.err") | stamp >"$work/a.out" &
  (echo "$BASHPID" >"$work/b.pid"; PORT="$pb" exec "$target/release/examples/connect" 2>"$work/b.err") | stamp >"$work/b.out" &
  until [ -s "$work/a.pid" ] && [ -s "$work/b.pid" ]; do sleep 0.05; done
  local a_pid b_pid; a_pid="$(cat "$work/a.pid")"; b_pid="$(cat "$work/b.pid")"
  pids+=("$a_pid" "$b_pid")
  # 2500 audio messages: 50 s per stream, longer than the takeover.
  "$target/release/examples/simulate" --webhook "http://127.0.0.1:$pa/webhook" \
    --scenario happy --streams "$streams" --frames 2500 --observe 1 >"$work/sim.out" 2>&1 &
  local sim_pid=$!
  pids+=("$sim_pid")
  # Every stream connected, at A or at B (the Redis worker of either copy takes an event).
  local deadline=$((SECONDS + 120))
  until [ "$(cat "$work/a.out" "$work/b.out" | grep -c ' connected stream=' || true)" -ge "$streams" ]; do
    sleep 0.05
    [ "$SECONDS" -lt "$deadline" ] || { echo "the streams never connected" >&2; return 1; }
  done
  sleep 2
  # The streams A holds, which B must take over.
  awk '/ connected stream=/ { sub("stream=", "", $3); print $3 }' "$work/a.out" | sort -u >"$work/held"
  local held; held="$(wc -l <"$work/held")"
  local t0; t0="$(date +%s.%N)"
  kill "-$signal" "$a_pid"
  deadline=$((SECONDS + 120))
  while :; do
    local taken
    taken="$(awk -v t0="$t0" '/ connected stream=/ && $1 > t0 { sub("stream=", "", $3); print $3 }' "$work/b.out" | sort -u | comm -12 - "$work/held" | wc -l)"
    [ "$taken" -ge "$held" ] && break
    [ "$SECONDS" -lt "$deadline" ] || { echo "not every stream was taken over within 120 s" >&2; break; }
    sleep 0.05
  done
  awk -v t0="$t0" -v sig="$signal" -v held="$held" -v n="$streams" '
    FNR == NR { want[$1] = 1; next }
    / connected stream=/ && $1 > t0 { id = $3; sub("stream=", "", id); if ((id in want) && !(id in seen)) { seen[id] = 1; g = $1 - t0; if (g > max) max = g; sum += g; k++ } }
    END { printf "takeover signal=%s streams=%d held_by_stopped=%d taken=%d gap_max_s=%.2f gap_mean_s=%.2f\n", sig, n, held, k, max, (k ? sum / k : 0) }
  ' "$work/held" "$work/b.out"
  wait "$sim_pid" || true
  # The simulator posts every webhook to A: once A is gone, its rtms_stopped is refused
  # (`webhook_ack`), which Zoom, behind a load balancer, would send to B instead.
  printf 'simulator: one_signaling_connection ok=%s FAIL=%s; other FAILs (webhook_ack to the stopped copy left out): %s\n' \
    "$(grep -c '^ok one_signaling_connection' "$work/sim.out" || true)" \
    "$(grep -c '^FAIL one_signaling_connection' "$work/sim.out" || true)" \
    "$(grep -E '^FAIL|^stopped' "$work/sim.out" | grep -vc '^FAIL webhook_ack' || true)"
  kill -9 "$b_pid" "$redis_pid" 2>/dev/null || true
  rm -f "$work"/*.out "$work"/*.err "$work"/*.pid "$work/held"
}

run TERM
run KILL
