#!/usr/bin/env bash
# The whole service against Node.js: the `connect` example (webhooks over axum, the crate's RTMS
# client per stream) against a Node.js service written the way Zoom's RTMS samples are
# (benches/peers/node-rtms/webhook.js: `http` webhook server with the x-zm-signature check, `ws`,
# JSON.parse, Buffer.from(data, 'base64')), each driven by the `simulate` example in turn, on the
# same run: the simulator POSTs a signed `meeting.rtms_started` per stream, the client connects,
# the simulator plays the audio (50 L16 messages of 20 ms per second per stream, and
# transcripts), checks the client's conduct and ends every stream. Goal (issue 15): `connect`
# costs at most half of Node per audio message (node/connect >= 2).
#
#   bash benches/connect_vs_node/run.sh
#
# For each client of CLIENTS: the client starts pinned to CLIENT_CPU (taskset) and listens on a
# free loopback port (HOST=127.0.0.1, PORT); once it listens and has idled 1 s, its CPU time (user + system, from
# /proc/<pid>/stat) and RSS are read (the baseline); then `simulate --scenario SCENARIO
# --streams STREAMS --frames FRAMES --observe OBSERVE` runs pinned to SIM_CPU until it has
# finished every stream (its report: `sent` lines, `ok`/`FAIL` checks). Before the client is
# stopped (SIGTERM, SIGKILL after 10 s) its CPU time and peak RSS (VmHWM) are read again.
#
# Figures per client: audio messages received (the sum of the client's `ended ... audio_frames=`
# lines; the simulator's `sent` lines give what it sent, and the audio digests are compared when
# the client prints them), CPU µs per audio message (user + system over the whole run, connects,
# webhooks, transcripts and keep-alives included, divided by the audio messages received), RSS
# per stream (VmHWM at the end minus the idle VmRSS, divided by STREAMS), the simulator's checks
# (ok, protocol FAIL, advice FAIL, its exit status). Then node/connect for both.
#
# Note: `connect` hashes every audio payload (SHA-256, for its `audio_sha256`); the Node peer only
# decodes and counts unless NODE_AUDIO_SHA256=1 (the samples do not hash): the default compares
# `connect` with the extra work against Node without it.
#
# Knobs (environment): STREAMS (300), FRAMES (1500 audio messages of 20 ms per stream: 30 s),
# SCENARIO (happy), OBSERVE (5 s: how long the simulator watches for a reconnect after the end),
# CLIENTS ("connect node"), PIN (1; 0: no taskset), SIM_CPU (0), CLIENT_CPU (1),
# NODE_AUDIO_SHA256 (0), SIM_TIMEOUT (seconds for one simulator run: FRAMES / 50 + OBSERVE +
# 300), KEEP_LOGS=1 (keep the logs' directory), RESULTS_OUT (a file to copy the table to, the raw
# rows to RESULTS_OUT.tsv), CONNECT_BIN + SIMULATE_BIN (prebuilt examples: skip the build).
#
# Every run stops by itself: the simulator under `timeout` (SIM_TIMEOUT), the client stopped by
# its PID once the simulator is done; an exit or Ctrl-C stops both and removes the logs.
# Exits 1 when a client died, received nothing, or failed a protocol check.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

STREAMS="${STREAMS:-300}"
FRAMES="${FRAMES:-1500}"
SCENARIO="${SCENARIO:-happy}"
OBSERVE="${OBSERVE:-5}"
CLIENTS="${CLIENTS:-connect node}"
PIN="${PIN:-1}"
SIM_CPU="${SIM_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
NODE_AUDIO_SHA256="${NODE_AUDIO_SHA256:-0}"
SIM_TIMEOUT="${SIM_TIMEOUT:-$(( FRAMES / 50 + OBSERVE + 300 ))}"
KEEP_LOGS="${KEEP_LOGS:-0}"

# Shared by the simulator (it signs the webhooks and checks the handshakes) and the clients.
export ZOOM_SECRET_TOKEN="connbench-secret-token"
export ZOOM_CLIENT_ID="connbench-client-id"
export ZOOM_CLIENT_SECRET="connbench-client-secret"

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/connect-vs-node.XXXXXX")"
RESULTS="$LOGDIR/results.tsv"
: >"$RESULTS"
SIM_PID=""
CLIENT_PID=""

# shellcheck source=../stop-pid.sh
. "$ROOT/benches/stop-pid.sh"

cleanup() {
    local sim="$SIM_PID" client="$CLIENT_PID"
    SIM_PID=""
    CLIENT_PID=""
    stop_pid "$sim" TERM 50
    stop_pid "$client" TERM 100
    if [ "$KEEP_LOGS" = 1 ]; then
        echo "logs kept in $LOGDIR"
    else
        rm -rf "$LOGDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The taskset prefix of each process (none with PIN=0, or without taskset or 2 cores): a plain
# command prefix, so `$!` of a backgrounded client is the client's own PID.
SIM_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    SIM_PIN=(taskset -c "$SIM_CPU")
    CLIENT_PIN=(taskset -c "$CLIENT_CPU")
fi

# --- build -----------------------------------------------------------------------------------
if [ -n "${CONNECT_BIN:-}" ] && [ -n "${SIMULATE_BIN:-}" ]; then
    echo "== using prebuilt $CONNECT_BIN and $SIMULATE_BIN"
else
    echo "== building (cargo build --release --example connect --example simulate --features axum,client,simulator)"
    built="$(cargo build --release --example connect --example simulate \
        --features axum,client,simulator --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')"
    CONNECT_BIN="$(grep '/examples/connect$' <<<"$built" | tail -n 1 || true)"
    SIMULATE_BIN="$(grep '/examples/simulate$' <<<"$built" | tail -n 1 || true)"
fi
for bin in "$CONNECT_BIN" "$SIMULATE_BIN"; do
    [ -x "$bin" ] || { echo "not an executable: '$bin'" >&2; exit 1; }
done

case " $CLIENTS " in
*" node "*)
    echo "== npm ci (benches/peers/node-rtms)"
    (cd benches/peers/node-rtms && npm ci --no-audit --no-fund --loglevel=error)
    ;;
esac

CLK_TCK="$(getconf CLK_TCK)"

# cpu_us PID: user + system CPU time of the process (all its threads, live and ended), µs.
# /proc/<pid>/stat fields 14 and 15, counted after the command name (which may hold spaces).
cpu_us() {
    local rest
    rest="$(sed 's/^.*) //' "/proc/$1/stat")"
    awk -v tck="$CLK_TCK" '{ printf "%d %d\n", $12 * 1e6 / tck, $13 * 1e6 / tck }' <<<"$rest"
}

# status_kib PID FIELD: a field of /proc/<pid>/status (VmRSS, VmHWM), KiB.
status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# free_port: a loopback port nothing listens on (a connection to it is refused).
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# --- one client --------------------------------------------------------------------------------
# run_client KIND: appends a row to $RESULTS; returns 1 when the client did not pass.
run_client() {
    local kind="$1"
    local dir="$LOGDIR/$kind"
    mkdir -p "$dir"
    echo "== $kind: $STREAMS streams x $FRAMES audio messages, scenario $SCENARIO (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    # A free loopback port (`connect` prints the port it was given, not the one bound, so
    # PORT=0 cannot be used); a client that cannot bind it is started again on another.
    local port="" attempt
    for attempt in 1 2 3 4 5; do
        port="$(free_port)" || { echo "   no free port found" >&2; return 1; }
        case "$kind" in
        connect)
            HOST=127.0.0.1 PORT="$port" ZOOM_RTMS_TEST_HOST=127.0.0.1 \
                "${CLIENT_PIN[@]}" "$CONNECT_BIN" >"$dir/client.out" 2>"$dir/client.err" &
            ;;
        node)
            HOST=127.0.0.1 PORT="$port" AUDIO_SHA256="$NODE_AUDIO_SHA256" \
                "${CLIENT_PIN[@]}" node benches/peers/node-rtms/webhook.js \
                >"$dir/client.out" 2>"$dir/client.err" &
            ;;
        *)
            echo "unknown client $kind (CLIENTS: connect, node)" >&2
            return 1
            ;;
        esac
        CLIENT_PID=$!
        # Its `listening on http://HOST:PORT/webhook` line (30 s at most).
        local listening=0
        for _ in $(seq 1 300); do
            if grep -q '^listening on http://' "$dir/client.err"; then listening=1; break; fi
            kill -0 "$CLIENT_PID" 2>/dev/null || break
            sleep 0.1
        done
        [ "$listening" = 1 ] && break
        echo "   $kind did not start listening on port $port (attempt $attempt): $(tail -n 2 "$dir/client.err" | tr '\n' ' ')"
        stop_pid "$CLIENT_PID" TERM 100
        CLIENT_PID=""
        port=""
    done
    if [ -z "$port" ]; then
        printf '%s\tNO-RESULT\n' "$kind" >>"$RESULTS"
        return 1
    fi
    sleep 1
    local user0 sys0 rss0
    read -r user0 sys0 < <(cpu_us "$CLIENT_PID")
    rss0="$(status_kib "$CLIENT_PID" VmRSS)"

    local t0 t1 sim_status=0
    t0="$(date +%s.%N)"
    "${SIM_PIN[@]}" timeout -k 5 "$SIM_TIMEOUT" "$SIMULATE_BIN" \
        --webhook "http://127.0.0.1:$port/webhook" --scenario "$SCENARIO" \
        --streams "$STREAMS" --frames "$FRAMES" --observe "$OBSERVE" \
        >"$dir/sim.out" 2>"$dir/sim.err" &
    SIM_PID=$!
    wait "$SIM_PID" || sim_status=$?
    SIM_PID=""
    t1="$(date +%s.%N)"

    local alive=1 user1=0 sys1=0 hwm1=0
    if kill -0 "$CLIENT_PID" 2>/dev/null; then
        read -r user1 sys1 < <(cpu_us "$CLIENT_PID")
        hwm1="$(status_kib "$CLIENT_PID" VmHWM)"
    else
        alive=0
    fi
    stop_pid "$CLIENT_PID" TERM 100
    CLIENT_PID=""

    # The client's `ended` lines against the simulator's `sent` lines and checks.
    local row
    row="$(awk -v kind="$kind" -v streams="$STREAMS" -v alive="$alive" -v simst="$sim_status" \
        -v user="$(( user1 - user0 ))" -v sys="$(( sys1 - sys0 ))" -v rss0="$rss0" -v hwm="$hwm1" \
        -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" '
        function field(name,   i, kv) {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
            return ""
        }
        FILENAME ~ /sim.out$/ && $1 == "sent" {
            s = field("stream"); sent += field("audio_frames"); sentsha[s] = field("audio_sha256")
        }
        FILENAME ~ /sim.out$/ && $1 == "ok" { ok++ }
        FILENAME ~ /sim.out$/ && $1 == "FAIL" { if ($0 ~ /\[protocol\]/) pfail++; else afail++ }
        FILENAME ~ /client.out$/ && $1 == "ended" {
            ended++; s = field("stream"); recv += field("audio_frames"); trans += field("transcripts")
            sha = field("audio_sha256"); if (sha != "") { hashed++; gotsha[s] = sha }
        }
        FILENAME ~ /client.out$/ && $1 == "connected" { connected++ }
        FILENAME ~ /client.out$/ && $1 == "failed" { failed++ }
        END {
            for (s in gotsha) if (gotsha[s] == sentsha[s]) same++
            cpu = user + sys
            pass = (alive == 1 && simst == 0 && pfail == 0 && recv > 0 && failed == 0)
            # kind streams ended connected failed sent recv transcripts cpu_us_per_msg sys_us_per_msg
            # rss_kib_per_stream ok pfail afail simstatus secs digests_same digests_checked pass
            # cpu_us user_us rss0 hwm
            printf "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%.1f\t%d\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n",
                kind, streams, ended, connected, failed, sent, recv, trans,
                (recv > 0 ? cpu / recv : 0), (recv > 0 ? sys / recv : 0),
                (hwm - rss0) / (streams > 0 ? streams : 1), ok, pfail, afail, simst, secs,
                same, hashed, (pass ? "pass" : "FAIL"), cpu, user, rss0, hwm
        }' "$dir/sim.out" "$dir/client.out")"
    echo "$row" >>"$RESULTS"
    echo "   $row"
    if [ "$alive" = 0 ]; then echo "   $kind died during the run: $(tail -n 3 "$dir/client.err" | tr '\n' ' ')"; fi
    grep -m 3 '^FAIL' "$dir/sim.out" | sed 's/^/   sim: /' || true
    grep -m 3 -v '^simulate: serving' "$dir/sim.err" | sed 's/^/   sim stderr: /' || true
    case "$row" in
    *$'\t'pass$'\t'*) return 0 ;;
    *) return 1 ;;
    esac
}

echo "machine: $(nproc) cores, shared with other work: $(uptime)"
echo "pinning: $([ "${#SIM_PIN[@]}" -gt 0 ] && echo "simulator on CPU $SIM_CPU, client on CPU $CLIENT_CPU" || echo none)"
all_passed=1
for kind in $CLIENTS; do
    run_client "$kind" || all_passed=0
done
echo "after: $(uptime)"

# --- table -----------------------------------------------------------------------------------
echo
echo "== results: simulate --scenario $SCENARIO --streams $STREAMS --frames $FRAMES (50 audio messages/s per stream); $(nproc) cores"
cat <<'LEGEND'
columns: audio recv/sent (audio messages the client counted / the simulator sent), cpu us /
sys us (client CPU per audio message received, user + system / system only, over the whole run:
webhooks, connects, transcripts and keep-alives included), RSS KiB/stream ((VmHWM at the end -
idle VmRSS) / streams), checks (the simulator's: ok / protocol FAIL / advice FAIL, its exit
status), sha ok (streams whose audio digest matches the simulator's / digests printed), secs
(the simulator's wall time)
LEGEND
awk -F'\t' '
    BEGIN {
        printf "%-8s %7s %6s %17s %7s %7s %14s %16s %9s %6s %-4s\n", "client", "streams", "ended",
            "audio recv/sent", "cpu us", "sys us", "RSS KiB/stream", "checks ok/P/A/x", "sha ok", "secs", "ok"
    }
    NF < 19 { printf "%-8s  no result\n", $1; next }
    {
        printf "%-8s %7d %6d %8d/%-8d %7.2f %7.2f %14.1f %16s %9s %6.1f %-4s\n", $1, $2, $3, $7, $6,
            $9, $10, $11, $12 "/" $13 "/" $14 "/" $15, $17 "/" $18, $16, $19
        cpu[$1] = $9; rss[$1] = $11
    }
    END {
        if (cpu["connect"] > 0 && cpu["node"] > 0)
            printf "\nnode/connect: CPU per audio message %.2fx (goal >= 2: connect <= half of node), RSS per stream %.2fx\n",
                cpu["node"] / cpu["connect"], (rss["connect"] > 0 ? rss["node"] / rss["connect"] : 0)
    }' "$RESULTS" | tee "$LOGDIR/table.txt"
if [ -n "${RESULTS_OUT:-}" ]; then cp "$LOGDIR/table.txt" "$RESULTS_OUT"; cp "$RESULTS" "$RESULTS_OUT.tsv"; fi
[ "$all_passed" = 1 ]
