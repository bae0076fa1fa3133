# Sourced by the benchmark scripts (benches/load/run.sh, benches/rtms_load/run.sh).
#
# stop_pid PID SIGNAL TENTHS: sends SIGNAL to PID (a child of the calling shell), waits up to
# TENTHS tenths of a second for it to exit, then kills it. A blank PID does nothing.
stop_pid() {
    local pid="$1" signal="$2" tenths="$3"
    [ -n "$pid" ] || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$tenths"); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
