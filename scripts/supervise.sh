#!/usr/bin/env bash
# supervise.sh NAME LOGFILE COMMAND [ARGS…]
# Runs COMMAND and restarts it whenever it dies (logging each restart), as systemd's Restart=always
# would in production. SIGTERM/SIGINT stop the supervisor and, gracefully, the component.
# Writes the component's pid to $RUN_DIR/NAME.pid. If AFTER_START is set, it runs (in the
# background) after every start with SUPERVISE_RESTARTS set to the number of restarts so far,
# e.g. to re-create a memory-only broker's topics; BEFORE_RESTART, if set, runs (and is waited
# for) before each restart.
set -u
name="$1"; log="$2"; shift 2
run_dir="${RUN_DIR:?RUN_DIR must be set}"
child=""
stopping=0

stop() {
  stopping=1
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; fi
}
trap stop TERM INT

restarts=0
while :; do
  "$@" >>"$log" 2>&1 &
  child=$!
  echo "$child" >"$run_dir/$name.pid"
  if [ -n "${AFTER_START:-}" ]; then (sleep 0.2; SUPERVISE_RESTARTS=$restarts $AFTER_START) >>"$log" 2>&1 & fi
  wait "$child"
  rc=$?
  if [ "$stopping" -eq 1 ]; then
    # `wait` returns as soon as the trap runs; wait again for the component itself to finish.
    wait "$child" 2>/dev/null
    rm -f "$run_dir/$name.pid"
    exit 0
  fi
  restarts=$((restarts + 1))
  if [ -n "${BEFORE_RESTART:-}" ]; then $BEFORE_RESTART >>"$log" 2>&1; fi
  msg="$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: $name (pid $child) exited with status $rc; restart #$restarts in 1 s"
  echo "$msg" >>"$log"
  echo "$msg" >>"$run_dir/log/supervisor.log"
  sleep 1
done
