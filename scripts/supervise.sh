#!/usr/bin/env bash
# supervise.sh NAME LOGFILE COMMAND [ARGS…]
# Runs COMMAND and restarts it whenever it dies, as systemd's Restart=always would in production:
# with back-off (1 s, doubling to 30 s; back to 1 s once the component has been ready for 60 s),
# each restart logged with the exit status. After every start it waits for the component's
# readiness probe (scripts/probe.sh) and logs when it became ready, or that it did not.
# SIGTERM/SIGINT stop the supervisor and, gracefully, the component.
# Writes the component's pid to $RUN_DIR/NAME.pid. If AFTER_START is set, it runs (in the
# background) after every start with SUPERVISE_RESTARTS set to the number of restarts so far,
# e.g. to re-create a memory-only broker's topics; BEFORE_RESTART, if set, runs (and is waited
# for) before each restart.
set -u
name="$1"; log="$2"; shift 2
run_dir="${RUN_DIR:?RUN_DIR must be set}"
probe="$(dirname "$0")/probe.sh"
ready_file="$run_dir/$name.ready"
child=""
pause=""
stopping=0

BACKOFF_FIRST_S=1
BACKOFF_MAX_S=30
HEALTHY_RESET_S=60

note() {  # a line for the component's log and the stack's supervisor log
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: $*"
  echo "$line" >>"$log"
  echo "$line" >>"$run_dir/log/supervisor.log"
}

stop() {
  stopping=1
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi
  if [ -n "$pause" ]; then kill "$pause" 2>/dev/null; fi
}
trap stop TERM INT

# Waits for the probe after a start (in the background): writes the time it became ready.
watch_ready() {
  local pid="$1" restarts="$2" started=$EPOCHREALTIME out
  out="$("$probe" wait "$name")"
  if [ $? -eq 0 ]; then
    date +%s >"$ready_file"
    note "$name (pid $pid) ready after $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s (start #$((restarts + 1)))"
  elif kill -0 "$pid" 2>/dev/null; then
    note "$out (pid $pid still running)"
  fi
}

stop_watcher() { pkill -P "$watcher" 2>/dev/null; kill "$watcher" 2>/dev/null; }

describe_exit() {  # bash's wait status → words
  local rc="$1"
  if [ "$rc" -gt 128 ]; then echo "status $rc (killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
  else echo "status $rc"; fi
}

restarts=0
delay=$BACKOFF_FIRST_S
while :; do
  rm -f "$ready_file"
  "$@" >>"$log" 2>&1 &
  child=$!
  echo "$child" >"$run_dir/$name.pid"
  if [ -n "${AFTER_START:-}" ]; then (SUPERVISE_RESTARTS=$restarts $AFTER_START) >>"$log" 2>&1 & fi
  watch_ready "$child" "$restarts" &
  watcher=$!
  wait "$child"
  rc=$?
  if [ "$stopping" -eq 1 ]; then
    # `wait` returns as soon as the trap runs; wait again for the component itself to finish.
    wait "$child" 2>/dev/null
    stop_watcher
    rm -f "$run_dir/$name.pid" "$ready_file"
    exit 0
  fi
  stop_watcher
  # Back-off: a component that was ready for a minute starts again from the first delay; one that
  # keeps dying waits twice as long each time, up to the maximum.
  if [ -f "$ready_file" ] && [ $(( $(date +%s) - $(cat "$ready_file") )) -ge $HEALTHY_RESET_S ]; then
    delay=$BACKOFF_FIRST_S
  fi
  restarts=$((restarts + 1))
  if [ -n "${BEFORE_RESTART:-}" ]; then $BEFORE_RESTART >>"$log" 2>&1; fi
  note "$name (pid $child) exited with $(describe_exit "$rc"); restart #$restarts in $delay s"
  sleep "$delay" &
  pause=$!
  wait "$pause"
  pause=""
  [ "$stopping" -eq 1 ] && { rm -f "$run_dir/$name.pid" "$ready_file"; exit 0; }
  delay=$((delay * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : delay * 2))
done
