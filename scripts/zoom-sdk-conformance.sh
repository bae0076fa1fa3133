#!/usr/bin/env bash
# Zoom's own RTMS SDK (PyPI `rtms`, a closed native library for linux-x64 and darwin-arm64)
# as an outside client of the crate's simulator. On demand only, never in CI: it installs
# Zoom's binary into a virtual environment under target/; nothing of it is a dependency of the
# crate. Loopback only.
#
#   scripts/zoom-sdk-conformance.sh                      # happy:2500 (50 s), then drop-media
#   scripts/zoom-sdk-conformance.sh faults duplicate:500 silence keep-alive-pause
#
# Each argument is a scenario of examples/simulate.rs, optionally with `:FRAMES` (audio
# messages of 20 ms; FRAMES, 250, otherwise). For each one, in a fresh run directory
# target/zoom-sdk-runs/NAME (app.log, the SDK's own logs/, simulate.out and simulate.err):
# benches/peers/zoom-sdk/app.py (the Python quickstart of the SDK's README, plus an audio hash)
# is started, the script waits until its webhook port accepts connections, runs
# `simulate --webhook http://127.0.0.1:PORT/webhook --scenario NAME --frames N --observe S`
# against it, stops it (SIGTERM, SIGKILL after 5 s), and prints the simulator's output, the
# app's own lines, what the SDK sent (its handshakes, ready ack and keep-alive replies, from
# its log) and one summary line:
#
#   summary scenario=happy frames=2500 exit=0 ok=16 FAIL=0 (advice 0) audio=match sent=2500 received=2500
#
# (`exit` is the simulator's: 1 when a protocol check failed; a failed advice check, tagged
# `[advice]`, is counted in FAIL and in `advice` but does not change it.)
# `audio=match` when, for every stream, the simulator's `sent ... audio_sha256=` equals the
# SHA-256 of the audio payload bytes the app received, in order (its last `received ...` line
# for the stream; none: no bytes). Exits 0 when every simulator run exited 0 and every audio
# hash matched.
#
# The quickstart calls leave() in its webhook handler on `meeting.rtms_stopped`; when that
# webhook arrives while the SDK's poll thread is delivering the stream's end, rtms 1.1.0
# deadlocks (the handler holds the GIL and waits for the client's lock, the poll thread holds
# that lock and waits for the GIL): the webhook is never answered (`FAIL webhook_ack`), later
# webhooks neither (the SDK's webhook server handles one request at a time), and SIGTERM no
# longer stops the app (the script's SIGKILL does).
#
# The SDK reads its settings from the environment: ZM_RTMS_PORT and ZM_RTMS_PATH (its webhook
# server, which the SDK binds to 0.0.0.0; only 127.0.0.1 is ever sent to), ZM_RTMS_CLIENT and
# ZM_RTMS_SECRET (set here from ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, the simulator's names;
# demo values when unset), ZM_RTMS_LOG_LEVEL (info). It writes its native log to ./logs/ of
# its working directory (the run directory here). It accepts the simulator's plain ws:// URLs
# as they are (its log shows them converted to `wtcp://`).
#
# Knobs (environment): RTMS_VERSION (the pinned `rtms`, 1.1.0), PYTHON (python3; the SDK needs
# 3.10 to 3.13), VENV (target/zoom-sdk-venv), FRAMES (250), OBSERVE (the simulator's --observe,
# 30 s), SIMULATE_BIN (a prebuilt simulate example: skip the build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=benches/stop-pid.sh
source benches/stop-pid.sh

RTMS_VERSION="${RTMS_VERSION:-1.1.0}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-target/zoom-sdk-venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
FRAMES="${FRAMES:-250}"
OBSERVE="${OBSERVE:-30}"
WEBHOOK_PATH=/webhook
APP="$ROOT/benches/peers/zoom-sdk/app.py"

if [ "$#" -eq 0 ]; then
    set -- happy:2500 drop-media
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Darwin-arm64) ;;
    *) echo "zoom-sdk-conformance: Zoom's rtms wheels exist for linux-x64 and darwin-arm64 only" >&2; exit 2 ;;
esac

export ZOOM_SECRET_TOKEN="${ZOOM_SECRET_TOKEN:-zoom-sdk-conformance-secret-token}"
export ZOOM_CLIENT_ID="${ZOOM_CLIENT_ID:-zoom-sdk-conformance-client-id}"
export ZOOM_CLIENT_SECRET="${ZOOM_CLIENT_SECRET:-zoom-sdk-conformance-client-secret}"
export ZM_RTMS_CLIENT="$ZOOM_CLIENT_ID"
export ZM_RTMS_SECRET="$ZOOM_CLIENT_SECRET"
export ZM_RTMS_PATH="$WEBHOOK_PATH"
export ZM_RTMS_LOG_LEVEL="${ZM_RTMS_LOG_LEVEL:-info}"

# --- the SDK, once --------------------------------------------------------------------------
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('rtms') != '$RTMS_VERSION')" 2>/dev/null; then
    echo "== pip install rtms==$RTMS_VERSION into $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "rtms==$RTMS_VERSION"
fi
echo "== rtms $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("rtms"))') (${VENV#"$ROOT"/})"

# --- the simulator, once --------------------------------------------------------------------
if [ -n "${SIMULATE_BIN:-}" ]; then
    SIM="$SIMULATE_BIN"
else
    echo "== cargo build --example simulate --features simulator"
    cargo build --quiet --example simulate --features simulator
    # A copy: a build of another tree in a shared CARGO_TARGET_DIR must not swap it mid-run.
    mkdir -p "$ROOT/target/zoom-sdk-runs"
    cp "${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/simulate" "$ROOT/target/zoom-sdk-runs/simulate"
    SIM="$ROOT/target/zoom-sdk-runs/simulate"
fi

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID SECONDS: succeeds once 127.0.0.1:PORT accepts a connection; fails when
# PID exits or SECONDS run out first.
wait_port() {
    local port="$1" pid="$2" tenths=$(( $3 * 10 ))
    for _ in $(seq 1 "$tenths"); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

RUNS="$ROOT/target/zoom-sdk-runs"
mkdir -p "$RUNS"
summaries=()
status=0
APP_PID=""
trap 'stop_pid "$APP_PID" TERM 50' EXIT

for arg in "$@"; do
    name="${arg%%:*}"
    frames="$FRAMES"
    if [ "$arg" != "$name" ]; then
        frames="${arg#*:}"
    fi
    dir="$RUNS/$name"
    rm -rf "$dir"
    mkdir -p "$dir/logs"
    port="$(free_port)"

    echo
    echo "== $name: $frames frames, app on 127.0.0.1:$port$WEBHOOK_PATH, run directory ${dir#"$ROOT"/}"
    (cd "$dir" && ZM_RTMS_PORT="$port" exec "$VENV/bin/python" -u "$APP") >"$dir/app.log" 2>&1 &
    APP_PID=$!
    if ! wait_port "$port" "$APP_PID" 30; then
        echo "the app did not listen on $port:"
        cat "$dir/app.log"
        stop_pid "$APP_PID" KILL 10
        APP_PID=""
        summaries+=("summary scenario=$name frames=$frames exit=none (the app did not start)")
        status=1
        continue
    fi

    # Every scenario ends by itself: the audio, at most 90 s of injected silence or pause, the
    # simulator's reconnect waits, the observation window; `timeout` is only a backstop.
    limit=$(( frames / 50 + OBSERVE + 300 ))
    set +e
    timeout "$limit" "$SIM" --webhook "http://127.0.0.1:$port$WEBHOOK_PATH" --scenario "$name" \
        --frames "$frames" --observe "$OBSERVE" >"$dir/simulate.out" 2>"$dir/simulate.err"
    code=$?
    set -e
    sleep 1 # the app's last callbacks
    stop_pid "$APP_PID" TERM 50
    APP_PID=""

    echo "-- simulator (exit $code)"
    cat "$dir/simulate.err" "$dir/simulate.out"
    echo "-- app"
    grep -E '^(webhook|left|received) |Error|Traceback|error' "$dir/app.log" || true
    echo "-- what the SDK sent (its log, ${dir#"$ROOT"/}/logs)"
    # The SDK logs each request it sends as pretty-printed JSON; one line each here.
    cat "$dir"/logs/*.log 2>/dev/null | "$VENV/bin/python" -c '
import re, sys
labels = {"send_signal_handshake, req:": "signalling handshake", "send data handshake:": "data handshake",
          "send_stream_ack:": "ready ack", "handle_keepalive_req, send resp:": "keep-alive response"}
pattern = "(" + "|".join(re.escape(k) for k in labels) + r")\s*(\{.*?\n\})"
counts = {}
for m in re.finditer(pattern, sys.stdin.read(), re.S):
    body = " ".join(m.group(2).split())
    # The handshake signature is a credential (an HMAC of the client secret): never printed.
    body = re.sub(r"(\"signature\" : )\"[^\"]*\"", "\\1\"<redacted>\"", body)
    shape = re.sub(r"(\"(?:sequence|timestamp)\" : )\d+", r"\1N", body)
    counts[shape] = counts.get(shape, 0) + 1
    if counts[shape] == 1:
        print(f"  {labels[m.group(1)]}: {body}")
for shape, n in counts.items():
    if n > 1:
        print(f"  ({n} of the shape {shape})")
' || true

    ok=$(grep -c '^ok ' "$dir/simulate.out" || true)
    fail=$(grep -c '^FAIL ' "$dir/simulate.out" || true)
    advice=$(grep -c '^FAIL .*\[advice\]' "$dir/simulate.out" || true)
    audio=match
    sent_total=0
    recv_total=0
    while read -r stream sent_frames sent_hash; do
        line=$(grep "^received stream=$stream " "$dir/app.log" | tail -n 1 || true)
        recv_frames=$(sed -n 's/.*audio_frames=\([0-9]*\).*/\1/p' <<<"$line")
        recv_hash=$(sed -n 's/.*audio_sha256=\([0-9a-f]*\).*/\1/p' <<<"$line")
        # No line: nothing received, the SHA-256 of no bytes.
        recv_hash="${recv_hash:-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855}"
        sent_total=$(( sent_total + sent_frames ))
        recv_total=$(( recv_total + ${recv_frames:-0} ))
        [ "$recv_hash" = "$sent_hash" ] || audio=MISMATCH
    done < <(sed -n 's/^sent stream=\([^ ]*\) audio_frames=\([0-9]*\) audio_sha256=\([0-9a-f]*\).*/\1 \2 \3/p' "$dir/simulate.out")
    [ "$sent_total" -gt 0 ] || audio=none
    summary="summary scenario=$name frames=$frames exit=$code ok=$ok FAIL=$fail (advice $advice) audio=$audio sent=$sent_total received=$recv_total"
    echo "$summary"
    summaries+=("$summary")
    if [ "$code" -ne 0 ] || [ "$audio" = MISMATCH ]; then
        status=1
    fi
done

echo
echo "== summaries (rtms $RTMS_VERSION)"
printf '%s\n' "${summaries[@]}"
exit "$status"
