#!/usr/bin/env bash
# Capacity run (issue #4): 500 concurrent clients through nginx for 30 s while the DevServer
# answers every DashScope call after 2 s. Mix: 90 % get_task (a final task, a running task, an
# unknown id), 10 % create_task. Checks that every answer is HTTP 200 with the host's envelope,
# watches FcgiApp's RSS and nginx's error log. Needs the local stack (make up).
#   CONNECTIONS=500 DURATION=30s LATENCY_MS=2000 bench/capacity.sh
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
RUN_DIR="${RUN_DIR:-$REPO/.run}"
NGINX="http://${NGINX_HOST:-127.0.0.1}:${NGINX_PORT:-8080}"
DEVSERVER="http://${DEVSERVER_HOST:-127.0.0.1}:${DEVSERVER_PORT:-8089}"
CONNECTIONS="${CONNECTIONS:-500}" DURATION="${DURATION:-30s}" LATENCY_MS="${LATENCY_MS:-2000}"
OUT="${OUT:-$REPO/bench/results/capacity.json}"
mkdir -p "$(dirname "$OUT")"

sql() { env -u MYSQL_HOST mariadb --protocol=socket --socket="$RUN_DIR/mariadb.sock" -uroot -N "${MYSQL_DATABASE:-image_host}" -e "$1"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

user=$((RANDOM * 1000 + 900000000)) final_pic=$((user + 1)) running_pic=$((user + 2)) create_pic=$((user + 3))
sql "INSERT INTO user (id, userAccount, userRole) VALUES ($user, 'capacity-$user', 'user');
     INSERT INTO picture (id, url, name, userId) VALUES
       ($final_pic, '$DEVSERVER/images/f.png?sim_duration_ms=200', 'capacity', $user),
       ($running_pic, '$DEVSERVER/images/r.png?sim_duration_ms=3600000', 'capacity', $user),
       ($create_pic, '$DEVSERVER/images/c.png?sim_duration_ms=1000', 'capacity', $user);"
COOKIE="SESSION=dev-user-$user"
create() { curl -fsS -b "$COOKIE" -H 'Content-Type: application/json' -d "{\"pictureId\":$1}" "$NGINX/api/picture/out_painting/create_task"; }
FINAL_TASK="$(create "$final_pic" | json_field '["data"]["output"]["taskId"]')"
RUNNING_TASK="$(create "$running_pic" | json_field '["data"]["output"]["taskId"]')"
for _ in $(seq 1 100); do
  status="$(curl -fsS -b "$COOKIE" "$NGINX/api/picture/out_painting/get_task?taskId=$FINAL_TASK" | json_field '["data"]["output"]["taskStatus"]')"
  [ "$status" = SUCCEEDED ] && break
  sleep 0.2
done
[ "$status" = SUCCEEDED ] || { echo "capacity: the setup task did not finish" >&2; exit 1; }

restore="$(curl -fsS "$DEVSERVER/_sim/config")"
curl -fsS -X POST -H 'Content-Type: application/json' -d "{\"latency_ms\":$LATENCY_MS}" "$DEVSERVER/_sim/config" >/dev/null
trap 'curl -fsS -X POST -H "Content-Type: application/json" -d "$restore" "$DEVSERVER/_sim/config" >/dev/null || true' EXIT

fcgi_pid="$(cat "$RUN_DIR/fcgi.pid")"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
errors_before="$(wc -l <"$RUN_DIR/log/nginx-error.log")"
rss_before="$(rss_kb "$fcgi_pid")"
( peak=0; while kill -0 "$fcgi_pid" 2>/dev/null; do r="$(rss_kb "$fcgi_pid")"; [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$RUN_DIR/capacity-peak-rss"; sleep 0.5; done ) &
sampler=$!

echo "capacity: $CONNECTIONS connections for $DURATION through nginx, DashScope latency ${LATENCY_MS} ms"
result="$(COOKIE="$COOKIE" FINAL_TASK="$FINAL_TASK" RUNNING_TASK="$RUNNING_TASK" PICTURE="$create_pic" \
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 30s -s "$REPO/bench/capacity.lua" "$NGINX" | tee /dev/stderr | grep '^CAPACITY ' | cut -d' ' -f2-)"
kill "$sampler" 2>/dev/null || true
rss_after="$(rss_kb "$fcgi_pid")"
peak="$(cat "$RUN_DIR/capacity-peak-rss")"
nginx_errors="$(tail -n +"$((errors_before + 1))" "$RUN_DIR/log/nginx-error.log" | grep -c -E '\[(warn|error|crit|alert|emerg)\]' || true)"
alive=yes; [ "$(cat "$RUN_DIR/fcgi.pid")" = "$fcgi_pid" ] || alive="no (restarted)"

python3 - "$OUT" <<PY
import json, sys
r = json.loads('''$result''')
r.update({"connections": $CONNECTIONS, "duration": "$DURATION", "dashscope_latency_ms": $LATENCY_MS,
          "fcgi_rss_kb_before": $rss_before, "fcgi_rss_kb_peak": $peak, "fcgi_rss_kb_after": $rss_after,
          "nginx_error_log_lines": $nginx_errors, "fcgi_same_process": "$alive" == "yes"})
json.dump(r, open(sys.argv[1], "w"), indent=2)
print(json.dumps(r, indent=2))
PY
