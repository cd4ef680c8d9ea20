#!/usr/bin/env bash
# The local stack: MariaDB, the tansu Kafka broker, the DevServer, FcgiApp, the Poller and nginx,
# each a plain process under scripts/supervise.sh, state in .run/.
#   stack.sh up      start what is not running; exit 0 once every component is ready (scripts/probe.sh)
#   stack.sh down    stop everything this checkout started
#   stack.sh status  each component's own readiness and its supervisor; exit 1 unless all are ready
#   stack.sh supervised  exit 0 if every component's supervisor runs (whatever their health)
#   stack.sh run     up, then stay in the foreground until Ctrl-C, then down
set -euo pipefail

# shellcheck source=scripts/stack-env.sh
source "$(dirname "$0")/stack-env.sh"

PROBE="$REPO/scripts/probe.sh"
# In start order (probe.sh's order): nginx comes before FcgiApp, whose readiness is asked through it.
mapfile -t COMPONENTS < <("$PROBE" names)

say() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# BUILD_CONFIGURATION=release runs the optimised binaries (make bench); debug is what make build makes.
BUILD_CONFIGURATION="${BUILD_CONFIGURATION:-debug}"
bin_dir() { (cd "$REPO" && swift build -c "$BUILD_CONFIGURATION" --show-bin-path); }

alive() {  # alive NAME: the supervisor runs
  local f="$RUN_DIR/$1.supervisor.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

start() {  # start NAME COMMAND…
  local name="$1"; shift
  if alive "$name"; then return 0; fi
  say "starting $name"
  nohup setsid "$REPO/scripts/supervise.sh" "$name" "$LOG/$name.log" "$@" </dev/null >/dev/null 2>&1 &
  echo $! >"$RUN_DIR/$name.supervisor.pid"
}

wait_for() {  # wait_for DESCRIPTION SECONDS COMMAND…
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what not ready after ${seconds}s (see $LOG/)"
    sleep 0.2
  done
}

# ready NAME: wait for the component's readiness probe (its own deadline), or stop naming the error.
ready() {
  local out
  out="$("$PROBE" wait "$1")" || die "$out (see $LOG/$1.log)"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

mysql_root() { env -u MYSQL_HOST mariadb --protocol=socket --socket="$MARIADB_SOCK" -uroot "$@"; }

# MARK: - components

up_mariadb() {
  mkdir -p "$MARIADB_DIR"
  if [ ! -d "$MARIADB_DIR/data/mysql" ]; then
    say "initializing MariaDB data directory"
    mariadb-install-db --user=root --datadir="$MARIADB_DIR/data" --auth-root-authentication-method=normal \
      >"$LOG/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $LOG/mariadb-install.log)"
  fi
  # The server settings Debian's package runs with (/etc/mysql/mariadb.conf.d/50-server.cnf:
  # utf8mb4, utf8mb4_general_ci), given explicitly because --no-defaults keeps /etc/mysql's paths
  # out; nothing of ours chooses a collation, so the tests run on what a host's server has.
  start mariadb mariadbd --no-defaults --user=root --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCK" \
    --pid-file="$MARIADB_DIR/mariadbd.pid" --port="$MYSQL_PORT" --bind-address="$MYSQL_HOST" \
    --log-error="$LOG/mariadb-error.log" --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
  ready mariadb
  # The install creates anonymous ''@localhost users that shadow 'u'@'%': drop them, and create
  # the app user for both names 127.0.0.1 resolves to.
  mysql_root <<SQL
CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;
DELETE FROM mysql.global_priv WHERE User = '';
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'localhost' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'127.0.0.1' IDENTIFIED BY '$MYSQL_PASSWORD';
CREATE USER IF NOT EXISTS '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';
GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';
-- Dev/test only: integration tests create and drop scratch schemas named outpaint_it_*.
GRANT ALL PRIVILEGES ON \`outpaint\_it\_%\`.* TO '$MYSQL_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`outpaint\_it\_%\`.* TO '$MYSQL_USER'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
  # Dev only: the host's tables and demo rows (production already has them).
  mysql_root "$MYSQL_DATABASE" <"$REPO/sql/dev/host_schema.sql"
  mysql_root "$MYSQL_DATABASE" <"$REPO/sql/dev/demo_data.sql"
  (cd "$REPO" && "$BIN/outpainting-poller" migrate --directory "$REPO/sql/migrations") >>"$LOG/migrate.log" 2>&1 \
    || die "migrations failed (see $LOG/migrate.log)"
}

# Memory-only broker: (re)create the topics; "already exists" is fine. Also run by the supervisor
# after every broker restart (the restarted broker has lost them).
ensure_topics() {
  local t deadline=$((SECONDS + 30))
  # …-baseline: the original design's consumer in `make bench` (bench/), never used otherwise.
  # A broker that has just opened its port may refuse the first creates: repeat until its metadata
  # lists the topic (the broker's readiness probe).
  until "$PROBE" check broker >/dev/null; do
    for t in "$KAFKA_TOPIC" "$KAFKA_DLT_TOPIC" "$KAFKA_TOPIC-baseline"; do
      "$TOOLS/tansu" topic create --broker "tcp://$BROKER_HOST:$BROKER_PORT" --partitions "$KAFKA_TOPIC_PARTITIONS" \
        "$t" >>"$LOG/broker-topics.log" 2>&1 || true
    done
    [ $SECONDS -lt $deadline ] || { say "topics not created within 30 s (see $LOG/broker-topics.log)"; return 1; }
    "$PROBE" check broker >/dev/null || sleep 0.5
  done
}

up_broker() {
  [ -x "$TOOLS/tansu" ] || die "tansu broker missing: run scripts/setup.sh"
  BEFORE_RESTART="$REPO/scripts/stack.sh stop-kafka-clients" AFTER_START="$REPO/scripts/stack.sh ensure-topics" start broker "$TOOLS/tansu" broker --listener-url "tcp://$BROKER_HOST:$BROKER_PORT" \
    --advertised-listener-url "tcp://$BROKER_HOST:$BROKER_PORT"
  wait_for "Kafka broker port" 30 port_open "$BROKER_HOST" "$BROKER_PORT"
  ensure_topics
  ready broker
}

up_devserver() {
  start devserver "$BIN/outpainting-devserver"
  ready devserver
}

up_fcgi() {
  start fcgi "$BIN/outpainting-fcgi"
  ready fcgi
}

# A second FcgiApp in trusted-param login mode, behind nginx's second server (auth_request).
up_fcgi_trusted() {
  LOGIN_MODE=trusted-param FCGI_LISTEN="$RUN_DIR/fcgi-trusted.sock" FCGI_WORKERS="${FCGI_TRUSTED_WORKERS:-4}" \
    start fcgi-trusted "$BIN/outpainting-fcgi"
  ready fcgi-trusted
}

up_poller() {
  start poller "$BIN/outpainting-poller"
  ready poller
}

up_nginx() {
  local prefix="$RUN_DIR/nginx" user_directive=""
  mkdir -p "$prefix/conf" "$prefix/tmp" "$prefix/logs"
  [ "$(id -u)" -eq 0 ] && user_directive="user root;"
  cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$prefix/conf/"
  sed -e "s|@RUN@|$RUN_DIR|g" -e "s|@REPO@|$REPO|g" -e "s|@NGINX_HOST@|$NGINX_HOST|g" \
      -e "s|@NGINX_PORT@|$NGINX_PORT|g" -e "s|@NGINX_TRUSTED_PORT@|$NGINX_TRUSTED_PORT|g" \
      -e "s|@NGINX_BASELINE_PORT@|$NGINX_BASELINE_PORT|g" \
      -e "s|@USER_DIRECTIVE@|$user_directive|g" \
      -e "s|@DEVSERVER_HOST@|$DEVSERVER_HOST|g" -e "s|@DEVSERVER_PORT@|$DEVSERVER_PORT|g" \
      "$REPO/nginx/local-stack.conf.template" >"$prefix/conf/nginx.conf"
  sed -e "s|fastcgi_pass outpainting_fcgi;|fastcgi_pass outpainting_fcgi_trusted;|" \
      -e "s|REPLACE_WITH_TRUSTED_PARAM_SECRET|$TRUSTED_PARAM_SECRET|" \
      "$REPO/nginx/outpainting-trusted.conf" >"$prefix/conf/outpainting-trusted.local.conf"
  sed -e "s|fastcgi_pass outpainting_fcgi;|fastcgi_pass outpainting_baseline;|" \
      "$REPO/nginx/outpainting.conf" >"$prefix/conf/outpainting-baseline.local.conf"
  nginx -t -q -p "$prefix" -c conf/nginx.conf 2>>"$LOG/nginx-error.log" || die "nginx config invalid (see $LOG/nginx-error.log)"
  start nginx nginx -p "$prefix" -c conf/nginx.conf
  ready nginx
}

cmd_up() {
  mkdir -p "$LOG"
  command -v mariadbd >/dev/null || die "MariaDB missing: run scripts/setup.sh"
  BIN="$(bin_dir)"
  [ -x "$BIN/outpainting-fcgi" ] || die "binaries missing in $BIN: run 'swift build -c $BUILD_CONFIGURATION' (make build for debug)"
  up_mariadb
  up_broker
  up_devserver
  up_nginx
  up_fcgi
  up_fcgi_trusted
  up_poller
  # Each was ready once; all of them together, now (one may have failed while a later one started).
  for c in "${COMPONENTS[@]}"; do ready "$c"; done
  say "all ready"
}

cmd_down() {
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done
}

stop_component() {  # stop_component NAME: stop one component and its supervisor
  local c="$1" f pid
  {
    f="$RUN_DIR/$c.supervisor.pid"
    [ -f "$f" ] || return 0
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $c"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        say "$c did not stop in 15 s; killing it"
        [ -f "$RUN_DIR/$c.pid" ] && kill -KILL "$(cat "$RUN_DIR/$c.pid")" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$f" "$RUN_DIR/$c.pid"
  }
}

# Each component's own health (its readiness probe), beside its supervisor's state.
cmd_status() {
  local c rc=0 health
  for c in "${COMPONENTS[@]}"; do
    if health="$("$PROBE" check "$c")"; then health="ready"; else rc=1; health="NOT READY: $health"; fi
    if alive "$c"; then
      printf '%-13s %-32s pid %s\n' "$c" "$health" "$(cat "$RUN_DIR/$c.pid" 2>/dev/null || echo '-')"
    else
      printf '%-13s %-32s no supervisor\n' "$c" "$health"; rc=1
    fi
  done
  return $rc
}

banner() {
  cat <<TXT

  Local stack is up.
    nginx (the host's front door)   http://$NGINX_HOST:$NGINX_PORT/
    create a task                   curl -s -b 'SESSION=dev-user-1' -H 'Content-Type: application/json' \\
                                      -d '{"pictureId":1,"parameters":{"xScale":1.5,"yScale":1.5}}' \\
                                      http://$NGINX_HOST:$NGINX_PORT/api/picture/out_painting/create_task
    follow it                       curl -s -b 'SESSION=dev-user-1' \\
                                      'http://$NGINX_HOST:$NGINX_PORT/api/picture/out_painting/get_task?taskId=<taskId>'
    DevServer (fake DashScope)      http://$DEVSERVER_HOST:$DEVSERVER_PORT/_sim/stats
    MariaDB                         mariadb -h$MYSQL_HOST -P$MYSQL_PORT -u$MYSQL_USER -p$MYSQL_PASSWORD $MYSQL_DATABASE
    Kafka broker                    $KAFKA_BOOTSTRAP_SERVERS (topic $KAFKA_TOPIC)
    logs                            $LOG/
TXT
}

case "${1:-}" in
  up) cmd_up ;;
  admin)
    # The admin CLI with the stack's environment: scripts/stack.sh admin tasks --status RUNNING
    shift
    exec "$(bin_dir)/outpainting" "$@" ;;
  exec-poller)
    # An extra Poller instance with the stack's environment (tests of several instances).
    exec "$(bin_dir)/outpainting-poller" ;;
  ensure-topics)
    wait_for "Kafka broker port" 30 port_open "$BROKER_HOST" "$BROKER_PORT"
    ensure_topics ;;
  stop-kafka-clients)
    # The broker died and comes back empty. librdkafka clients that reconnect to it keep stale
    # state (ENVIRONMENT.md: crashes, "delivered" messages that are gone), and a consumer that
    # rejoins and leaves the new broker's group can wedge it for everyone. So the clients stop
    # before the new broker starts; their supervisors start them again with fresh state.
    for c in poller fcgi fcgi-trusted; do
      if [ -f "$RUN_DIR/$c.pid" ]; then
        echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) stack: broker died; restarting Kafka client $c" | tee -a "$LOG/supervisor.log"
        # The Poller's work is durable in MySQL (at-least-once): no graceful leave is needed.
        if [ "$c" = poller ]; then kill -KILL "$(cat "$RUN_DIR/$c.pid")" 2>/dev/null || true
        else kill -TERM "$(cat "$RUN_DIR/$c.pid")" 2>/dev/null || true; fi
      fi
    done ;;
  down) cmd_down ;;
  stop)
    # stop NAME: one component (make bench stops the Poller while the baseline runs; `up` restarts it).
    stop_component "${2:?component name}" ;;
  status) cmd_status ;;
  supervised)
    for c in "${COMPONENTS[@]}"; do alive "$c" || exit 1; done ;;
  run)
    cmd_up
    banner
    trap 'echo; cmd_down; exit 0' INT TERM
    say "Ctrl-C stops the stack"
    while :; do sleep 1; done
    ;;
  *) echo "usage: $0 up|down|status|supervised|run|admin|stop NAME" >&2; exit 2 ;;
esac
