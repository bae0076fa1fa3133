#!/usr/bin/env bash
# RTMS load benchmark: N streams from the simulator on loopback (50 L16 audio messages/s each,
# plus 2 transcripts/s), received by three clients in turn, each in its own process:
#
#   rust    the crate's client (client::connect per stream, consuming Items)
#   floor   the same WebSocket crate (tokio-websockets 0.12.3), the same handshakes and
#           keep-alive echoes, media frames only counted (the cost of the sockets alone)
#   node    benches/peers/node-rtms/client.js: ws, JSON.parse, Buffer.from(base64), as Zoom's
#           samples are written
#
#   benches/rtms_load/run.sh
#   TLS=1 benches/rtms_load/run.sh        # the same over wss://, as in production
#
# TLS=1: every socket is wss:// on loopback, rustls (ring provider, TLS 1.3 negotiated) on both
# ends, with the throw-away test CA and its leaf certificate for 127.0.0.1 (tests/support/tls,
# whose key is public on purpose). The simulator process accepts TLS on a port of its own, on
# its one thread, and hands each connection to the simulator (Simulator::serve_connection):
# the signalling URL in the hooks file and the media URLs of the signalling answer are
# wss://127.0.0.1:<that port>/..., and the encryption counts in the simulator's CPU figures
# (sim us, sim%). The crate's client trusts the CA with Options::with_root_certificate (its
# host policy allows 127.0.0.1 but no ws://), the floor with a rustls connector of the same
# roots and provider, Node with NODE_EXTRA_CA_CERTS (a PEM of the CA; client.js unchanged,
# as Zoom's samples are). Compare with a run without TLS at the same N for what TLS costs.
#
# For each N of RAMP, each client still passing gets a fresh simulator (benches/rtms_load/main.rs
# `sim`, one thread, pinned to SIM_CPU) and runs pinned to CLIENT_CPU; once every stream
# delivers audio it measures WARMUP + DURATION seconds (see main.rs). A client passes a step when
# every stream delivers, nothing is lagged (dropped) or failed, at least 98 % of the expected
# messages arrive (N x 52 per second: a simulator that cannot keep up shows here), and the
# audio delivery latency p99 (receive time minus the scheduled send time) is under P99_MS
# (the floor client reads the timestamp without parsing the frame: its latency is the
# simulator's and the sockets' share, the floor under every client's). A failed step is run
# again (RETRIES, 1: on a machine shared with other work one burst of it can fail a step; both
# rows are kept); a client that still fails is not run at a larger N.
#
# Knobs (environment): TLS (0; 1: wss://, above), RAMP ("250 500 750 1000 1500 2000 3000 5000"), WARMUP (2 s), DURATION (10 s),
# P99_MS (50), CLIENTS ("rust floor node"), SIM_CPU (0) and CLIENT_CPU (1) (PIN=0: no taskset),
# CLIENT_THREADS (1: the Rust clients' tokio worker threads), QUEUE_CAPACITY (the crate client's
# item queue per stream, Options::with_queue_capacity; default the crate's, 1024), KEEP_ALIVE (5 s: the simulator's
# keep-alive interval; an unanswered one is a failed check, counted in "sim FAIL"),
# CONNECT_TIMEOUT (60 s), CONNECT_CONCURRENCY (256 handshakes at a time), KEEP_LOGS=1,
# RESULTS_OUT (a file to copy the table to, and the raw rows to RESULTS_OUT.tsv),
# RTMS_LOAD_BIN (a prebuilt benchmark binary: skip the build).
#
# Every run stops by itself: each client exits after its window (or CONNECT_TIMEOUT + WARMUP +
# DURATION + 30 s, `timeout`), the simulator's streams end after CONNECT_TIMEOUT + WARMUP +
# DURATION + 5 s of audio and it is stopped by its PID as soon as the client is done (SIGTERM,
# SIGKILL after 5 s).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

RAMP="${RAMP:-250 500 750 1000 1500 2000 3000 5000}"
WARMUP="${WARMUP:-2}"
DURATION="${DURATION:-10}"
P99_MS="${P99_MS:-50}"
CLIENTS="${CLIENTS:-rust floor node}"
PIN="${PIN:-1}"
SIM_CPU="${SIM_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
QUEUE_CAPACITY="${QUEUE_CAPACITY:-1024}"
KEEP_ALIVE="${KEEP_ALIVE:-5}"
CONNECT_TIMEOUT="${CONNECT_TIMEOUT:-60}"
CONNECT_CONCURRENCY="${CONNECT_CONCURRENCY:-256}"
KEEP_LOGS="${KEEP_LOGS:-0}"
RETRIES="${RETRIES:-1}"
TLS="${TLS:-0}"

export ZOOM_CLIENT_ID="rtms-load-client-id"
export ZOOM_CLIENT_SECRET="rtms-load-client-secret"

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/rtms-load.XXXXXX")"
RESULTS="$LOGDIR/results.tsv"
: >"$RESULTS"
SIM_PID=""

# With TLS: `--tls` for every Rust role, and the CA as PEM for Node (NODE_EXTRA_CA_CERTS).
TLS_ARGS=()
NODE_CA=()
if [ "$TLS" = 1 ]; then
    TLS_ARGS=(--tls)
    {
        echo "-----BEGIN CERTIFICATE-----"
        base64 -w 64 "$ROOT/tests/support/tls/ca.der"
        echo "-----END CERTIFICATE-----"
    } >"$LOGDIR/ca.pem"
    NODE_CA=(NODE_EXTRA_CA_CERTS="$LOGDIR/ca.pem")
fi

# shellcheck source=../stop-pid.sh
. "$ROOT/benches/stop-pid.sh"

# SIGTERM, SIGKILL after 5 s.
stop_sim() {
    local pid="$SIM_PID"
    SIM_PID=""
    stop_pid "$pid" TERM 50
}

cleanup() {
    stop_sim
    if [ "$KEEP_LOGS" = 1 ]; then
        echo "logs kept in $LOGDIR"
    else
        rm -rf "$LOGDIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The taskset prefix of each process (none with PIN=0, or without taskset or 2 cores): a plain
# command prefix, so `$!` of a backgrounded simulator is the simulator's own PID.
SIM_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    SIM_PIN=(taskset -c "$SIM_CPU")
    CLIENT_PIN=(taskset -c "$CLIENT_CPU")
fi

# --- build ---------------------------------------------------------------------------------
if [ -n "${RTMS_LOAD_BIN:-}" ]; then
    BIN="$RTMS_LOAD_BIN"
    echo "== using prebuilt $BIN"
else
    echo "== building (cargo bench --no-run --bench rtms_load --features simulator,client)"
    BIN="$(cargo bench --no-run --bench rtms_load --features simulator,client \
        --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*rtms_load[^"]*\)".*/\1/p' | tail -n 1)"
    [ -x "$BIN" ] || { echo "no rtms_load executable built" >&2; exit 1; }
fi

case " $CLIENTS " in
*" node "*)
    echo "== npm ci (benches/peers/node-rtms)"
    (cd benches/peers/node-rtms && npm ci --no-audit --no-fund --loglevel=error)
    ;;
esac

# --- one step: one client at N streams --------------------------------------------------------
# run_step CLIENT N ATTEMPT; appends a row to $RESULTS; returns 1 when the client failed the step.
run_step() {
    local kind="$1" n="$2"
    local dir="$LOGDIR/$kind-$n-$3"
    mkdir -p "$dir"
    local seconds=$(( CONNECT_TIMEOUT + WARMUP + DURATION + 5 ))
    local load
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== $kind, $n streams (load average $load)"
    "${SIM_PIN[@]}" "$BIN" sim --streams "$n" --seconds "$seconds" --hooks "$dir/hooks" \
        --keep-alive "$KEEP_ALIVE" "${TLS_ARGS[@]}" >"$dir/sim.out" 2>"$dir/sim.err" &
    SIM_PID=$!
    local limit=$(( CONNECT_TIMEOUT + WARMUP + DURATION + 30 ))
    local status=0
    case "$kind" in
    rust | floor)
        local role=client extra=(--queue-capacity "$QUEUE_CAPACITY")
        [ "$kind" = floor ] && role=floor extra=()
        "${CLIENT_PIN[@]}" timeout -s KILL "$limit" "$BIN" "$role" --hooks "$dir/hooks" \
            --streams "$n" --warmup "$WARMUP" --duration "$DURATION" \
            --threads "$CLIENT_THREADS" --connect-timeout "$CONNECT_TIMEOUT" \
            --connect-concurrency "$CONNECT_CONCURRENCY" --label "$kind" "${extra[@]}" "${TLS_ARGS[@]}" \
            >"$dir/client.out" 2>"$dir/client.err" || status=$?
        ;;
    node)
        env "${NODE_CA[@]}" HOOKS="$dir/hooks" STREAMS="$n" WARMUP="$WARMUP" DURATION="$DURATION" \
            CONNECT_TIMEOUT="$CONNECT_TIMEOUT" CONNECT_CONCURRENCY="$CONNECT_CONCURRENCY" \
            LABEL=node "${CLIENT_PIN[@]}" timeout -s KILL "$limit" \
            node --max-old-space-size=8192 benches/peers/node-rtms/client.js \
            >"$dir/client.out" 2>"$dir/client.err" || status=$?
        ;;
    esac
    stop_sim
    local result
    result="$(grep '^RESULT' "$dir/client.out" | tail -n 1 || true)"
    if [ -z "$result" ]; then
        echo "   $kind: no result (exit $status); $(tail -n 3 "$dir/client.err" | tr '\n' ' ')"
        printf '%s\t%s\tNO-RESULT\n' "$kind" "$n" >>"$RESULTS"
        return 1
    fi
    # One row: the client's figures and the simulator's CPU over the same window.
    local row
    row="$(awk -F'\t' -v result="$result" -v p99max="$P99_MS" -v load="$load" '
        BEGIN {
            split(result, r, "\t")
            label = r[2]; n = r[3]; ready = r[4]; w0 = r[5]; w1 = r[6]
            audio = r[7]; transcripts = r[8]; user = r[10]; sys = r[11]
            rss0 = r[12]; rss1 = r[13]; p50 = r[14]; p99 = r[15]; max = r[16]
            lagged = r[17]; failed = r[18]; cliwait = r[19]
        }
        $1 == "SAMPLE" {
            # The samples nearest the window, inside it.
            if ($2 >= w0 && first == "") { first = $0 }
            if ($2 <= w1) { last = $0 }
            fails = $7
        }
        END {
            secs = (w1 - w0) / 1000
            msgs = audio + transcripts
            expected = n * 52 * secs
            cpu = user + sys
            split(first, a, "\t"); split(last, b, "\t")
            simcpu = (b[3] + b[4]) - (a[3] + a[4])
            simmsgs = (b[5] + b[6]) - (a[5] + a[6])
            simsecs = (b[2] - a[2]) / 1000
            simwait = b[8] - a[8]
            ok = (ready == n && lagged == 0 && failed == 0 && msgs >= 0.98 * expected && p99 >= 0 && p99 < p99max)
            printf "%s\t%d\t%d\t%d\t%.3f\t%d\t%.2f\t%.2f\t%.0f\t%d\t%d\t%d\t%.2f\t%.2f\t%.1f\t%d\t%.1f\t%.2f\t%.0f\t%s\t%s\t%.1f\t%.1f\n",
                label, n, ready, msgs, msgs / (expected > 0 ? expected : 1), lagged + failed,
                cpu / (msgs > 0 ? msgs : 1), sys / (msgs > 0 ? msgs : 1),
                100 * sys / (cpu > 0 ? cpu : 1), p50, p99, max,
                (rss1 - rss0) / (n > 0 ? n : 1), 100 * cpu / 1e6 / (secs > 0 ? secs : 1),
                (simmsgs > 0 ? simcpu / simmsgs : 0), fails,
                (simsecs > 0 ? 100 * simcpu / 1e6 / simsecs : 0), secs, simmsgs, (ok ? "pass" : "FAIL"), load,
                100 * cliwait / 1e6 / (secs > 0 ? secs : 1), (simsecs > 0 ? 100 * simwait / 1e6 / simsecs : 0)
        }' "$dir/sim.out")"
    echo "$row" >>"$RESULTS"
    echo "   $row"
    case "$row" in
    *$'\t'pass$'\t'*) return 0 ;;
    *) return 1 ;;
    esac
}

echo "machine: $(nproc) cores, shared with other work: $(uptime)"
echo "transport: $([ "$TLS" = 1 ] && echo "wss:// (rustls, test CA on loopback)" || echo "ws:// (plain)")"
echo "pinning: $([ "${#SIM_PIN[@]}" -gt 0 ] && echo "simulator on CPU $SIM_CPU, client on CPU $CLIENT_CPU" || echo none)"
declare -A passing
for kind in $CLIENTS; do passing[$kind]=1; done
for n in $RAMP; do
    any=0
    for kind in $CLIENTS; do
        [ "${passing[$kind]}" = 1 ] || continue
        any=1
        ok=0
        for attempt in $(seq 0 "$RETRIES"); do
            if run_step "$kind" "$n" "$attempt"; then ok=1; break; fi
            if [ "$attempt" -lt "$RETRIES" ]; then echo "   $kind at $n failed: once more"; fi
        done
        [ "$ok" = 1 ] || passing[$kind]=0
    done
    [ "$any" = 1 ] || break
done
echo "after: $(uptime)"

# --- table -----------------------------------------------------------------------------------
echo
echo "== results ($([ "$TLS" = 1 ] && echo wss || echo ws)): ${DURATION} s measured after ${WARMUP} s warm-up per step; 52 messages/s per stream" \
    "(50 audio + 2 transcripts); p99 goal < ${P99_MS} ms; $(nproc) cores"
cat <<'LEGEND'
columns: msgs (audio + transcripts received in the window), deliv (msgs / N x 52 x window),
lag (items lagged + streams failed), cpu us / sys us (client CPU, user + system / system only,
per message), sys% (the kernel's share), p50/p99/max (audio delivery latency, ms: receive
time - scheduled send time; the floor's is the simulator's and the sockets' share), RSS KiB/s (RSS growth per stream), cli% (client CPU, % of one core), cliwt% /
simwt% (time the client's / simulator's threads waited for a CPU, % of the window: other
work on the machine), sim us (simulator CPU per message sent), sim% (simulator CPU, % of one
core), simFL (simulator checks failed: keep-alive echoes, ready acks, handshakes)
LEGEND
awk -F'\t' '
    BEGIN {
        printf "%-6s %6s %6s %9s %6s %4s %7s %7s %5s %5s %5s %5s %9s %6s %6s %7s %6s %6s %5s %-4s\n",
            "client", "N", "ready", "msgs", "deliv", "lag", "cpu us", "sys us", "sys%",
            "p50", "p99", "max", "RSS KiB/s", "cli%", "cliwt%", "sim us", "sim%", "simwt%", "simFL", "ok"
    }
    NF < 20 { printf "%-6s %6s  no result\n", $1, $2; next }
    {
        printf "%-6s %6d %6d %9d %6.3f %4d %7.2f %7.2f %5.0f %5d %5d %5d %9.1f %6.1f %6.1f %7.1f %6.1f %6.1f %5d %-4s\n",
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $22, $15, $17, $23, $16, $20
        if ($20 == "pass" && $2 > best[$1]) best[$1] = $2
        cpu[$1, $2] = $7; sys[$1, $2] = $8
        if ($20 == "pass") passed[$1, $2] = 1
        ns[$2] = 1
    }
    END {
        print ""
        for (k in best) printf "largest N passing: %-6s %d\n", k, best[k]
        print ""
        for (n in ns) {
            if (cpu["rust", n] > 0 && cpu["floor", n] > 0)
                printf "N=%d: rust/floor CPU per message %.2fx (goal <= 1.15x)", n, cpu["rust", n] / cpu["floor", n]
            if (cpu["rust", n] > 0 && cpu["node", n] > 0)
                printf "; node/rust %.2fx (goal >= 2x)", cpu["node", n] / cpu["rust", n]
            if (cpu["rust", n] > 0 && cpu["floor", n] > 0)
                printf "; kernel share rust %.2f of %.2f us, floor %.2f of %.2f us\n", sys["rust", n], cpu["rust", n], sys["floor", n], cpu["floor", n]
        }
        if (best["rust"] > 0) {
            n = best["rust"]
            printf "\nextrapolation (client alone, one core at 100 %%, 52 msg/s per stream): rust %d, floor %d, node %d streams\n",
                1e6 / (52 * cpu["rust", n]), (cpu["floor", n] > 0 ? 1e6 / (52 * cpu["floor", n]) : 0),
                (cpu["node", n] > 0 ? 1e6 / (52 * cpu["node", n]) : 0)
        }
    }' "$RESULTS" | tee "$LOGDIR/table.txt"
if [ -n "${RESULTS_OUT:-}" ]; then cp "$LOGDIR/table.txt" "$RESULTS_OUT"; cp "$RESULTS" "$RESULTS_OUT.tsv"; fi
