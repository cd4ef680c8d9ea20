#!/usr/bin/env bash
# measure-readiness.sh [ROUNDS] [COMPONENT…]: how long each component of a running local stack
# (`make up`) takes to be ready again after kill -9, measured from the restarted process's start to
# its readiness probe passing (scripts/probe.sh), so the supervisor's back-off is not counted.
# MariaDB is killed under a write load, so that it has a redo log to replay, as in the fault tests.
# COLD=1 drops the kernel's page cache before each restart (as root), as on a machine just booted.
# The figures size the deadlines in probe.sh. Not part of make test (it kills the stack's parts).
set -euo pipefail
# shellcheck source=scripts/stack-env.sh
source "$(dirname "$0")/stack-env.sh"
PROBE="$REPO/scripts/probe.sh"
rounds="${1:-5}"; shift || true
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(mariadb broker devserver fcgi poller)

now() { echo "$EPOCHREALTIME"; }
pid_of() { cat "$RUN_DIR/$1.pid" 2>/dev/null || true; }
mysql_root() { env -u MYSQL_HOST mariadb --protocol=socket --socket="$MARIADB_SOCK" -uroot "$@"; }

write_load() {  # rows with payloads, committed in a loop, until killed
  mysql_root -e "CREATE DATABASE IF NOT EXISTS outpaint_it_load;
                 CREATE TABLE IF NOT EXISTS outpaint_it_load.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(2000))" || return
  while :; do
    mysql_root outpaint_it_load -e "INSERT INTO t (v) SELECT REPEAT('x', 2000) FROM seq_1_to_2000" 2>/dev/null || sleep 0.2
  done
}

for c in "${components[@]}"; do
  times=()
  for ((r = 1; r <= rounds; r++)); do
    "$PROBE" wait "$c" >/dev/null || { echo "$c not ready before round $r" >&2; exit 1; }
    load=""
    if [ "$c" = mariadb ]; then write_load & load=$!; sleep 2; fi  # let the load dirty the buffer pool
    old="$(pid_of "$c")"
    kill -KILL "$old"
    [ -z "$load" ] || { kill "$load" 2>/dev/null; wait "$load" 2>/dev/null || true; }
    if [ "${COLD:-0}" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
    until new="$(pid_of "$c")"; [ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null; do sleep 0.01; done
    started="$(now)"
    "$PROBE" wait "$c" >/dev/null || { echo "$c did not come back in round $r" >&2; exit 1; }
    times+=("$(awk -v a="$started" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')")
  done
  printf '%-10s after kill -9, ready in (s): %s\n' "$c" "${times[*]}"
done
mysql_root -e "DROP DATABASE IF EXISTS outpaint_it_load" 2>/dev/null || true
