# The local stack's environment: addresses, ports and the settings the stack runs the programs
# with. Sourced by stack.sh, probe.sh and test.sh, so every script (and the tests, which inherit it
# from test.sh) agrees on where each component is. Each value can be overridden by the environment.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The local stack's defaults (DevServer, sk-local-dev, these ports) apply only in this profile;
# without it every program refuses to start and names what a deployment must set.
export OUTPAINTING_PROFILE="${OUTPAINTING_PROFILE:-dev}"
RUN_DIR="${RUN_DIR:-$REPO/.run}"
export RUN_DIR
TOOLS="${OUTPAINTING_TOOLS:-/opt/outpainting-dev}"

# Local addresses (override by environment).
export NGINX_HOST="${NGINX_HOST:-127.0.0.1}" NGINX_PORT="${NGINX_PORT:-8080}" NGINX_TRUSTED_PORT="${NGINX_TRUSTED_PORT:-8081}"
# make bench only: the original design's responder (bench/) behind the same snippet.
export NGINX_BASELINE_PORT="${NGINX_BASELINE_PORT:-8082}"
export MYSQL_HOST="${MYSQL_HOST:-127.0.0.1}" MYSQL_PORT="${MYSQL_PORT:-3307}"
export MYSQL_DATABASE="${MYSQL_DATABASE:-image_host}" MYSQL_USER="${MYSQL_USER:-outpaint}" MYSQL_PASSWORD="${MYSQL_PASSWORD:-outpaint}"
export BROKER_HOST="${BROKER_HOST:-127.0.0.1}" BROKER_PORT="${BROKER_PORT:-19092}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-$BROKER_HOST:$BROKER_PORT}"
export KAFKA_TOPIC="${KAFKA_TOPIC:-outpainting-task}" KAFKA_TOPIC_PARTITIONS="${KAFKA_TOPIC_PARTITIONS:-4}"
export DEVSERVER_HOST="${DEVSERVER_HOST:-127.0.0.1}" DEVSERVER_PORT="${DEVSERVER_PORT:-8089}"
export DASHSCOPE_BASE_URL="${DASHSCOPE_BASE_URL:-http://$DEVSERVER_HOST:$DEVSERVER_PORT/api/v1}"
export DASHSCOPE_API_KEY="${DASHSCOPE_API_KEY:-sk-local-dev}" DEVSERVER_API_KEY="${DEVSERVER_API_KEY:-sk-local-dev}"
export DASHSCOPE_QUERY_TIMEOUT_MS="${DASHSCOPE_QUERY_TIMEOUT_MS:-3000}" DASHSCOPE_CREATE_TIMEOUT_MS="${DASHSCOPE_CREATE_TIMEOUT_MS:-5000}"
# Lost create answers are settled within seconds locally (production: 20 s after sending, and
# "not accepted" 120 s after); UNKNOWN must last 8 s instead of 10 minutes to be final.
export POLLER_SUBMISSION_ANSWER_WAIT_S="${POLLER_SUBMISSION_ANSWER_WAIT_S:-8}" POLLER_SUBMISSION_SETTLE_S="${POLLER_SUBMISSION_SETTLE_S:-5}"
# Pollers and FcgiApp stop trusting a sweep 3 s after its last success (production: 5 s).
export POLLER_SWEEP_STALE_MS="${POLLER_SWEEP_STALE_MS:-3000}"
export UNKNOWN_CONFIRM_S="${UNKNOWN_CONFIRM_S:-8}" POLLER_UNKNOWN_RECHECK_MS="${POLLER_UNKNOWN_RECHECK_MS:-2000}"
export LOGIN_URL="${LOGIN_URL:-http://$DEVSERVER_HOST:$DEVSERVER_PORT/api/user/get/login}"
export FCGI_LISTEN="${FCGI_LISTEN:-$RUN_DIR/fcgi.sock}"
# The test broker joins a group in ~1 s with these (its default 45 s session makes joins take 23 s).
export KAFKA_CONSUMER_SESSION_TIMEOUT_MS="${KAFKA_CONSUMER_SESSION_TIMEOUT_MS:-2000}"
export KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS="${KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS:-500}"
export KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS="${KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS:-6000}"
# Completion events: the DevServer plays EventBridge and posts "task finished" to FcgiApp via nginx.
export HINT_PATH="${HINT_PATH:-/api/outpainting/dashscope-event}" HINT_TOKEN="${HINT_TOKEN:-local-dev-hint-token-0123456789}"
export DEVSERVER_EVENT_URL="${DEVSERVER_EVENT_URL-http://$NGINX_HOST:$NGINX_PORT$HINT_PATH}" DEVSERVER_EVENT_TOKEN="$HINT_TOKEN"
# Trusted-param mode (the stack's second FcgiApp): the secret its nginx server passes.
export TRUSTED_PARAM_SECRET="${TRUSTED_PARAM_SECRET:-local-dev-trusted-param-secret}"
export KAFKA_DLT_TOPIC="${KAFKA_DLT_TOPIC:-$KAFKA_TOPIC-dlt}"
# Find orphaned tasks (produce failed, message lost, follower gone) within seconds locally;
# production defaults are 15 s / 10 s / 120 s.
export POLLER_RECONCILE_INTERVAL_S="${POLLER_RECONCILE_INTERVAL_S:-3}" POLLER_ORPHAN_UNCLAIMED_S="${POLLER_ORPHAN_UNCLAIMED_S:-5}"
export POLLER_ORPHAN_STALE_S="${POLLER_ORPHAN_STALE_S:-30}"
# The test broker (tansu) sometimes never completes a consumer-group join after it restarts: a
# Poller left without partitions this long re-creates its consumer. Off in production.
export POLLER_REJOIN_WITHOUT_ASSIGNMENT_S="${POLLER_REJOIN_WITHOUT_ASSIGNMENT_S:-10}"
export POLLER_METRICS_ADDRESS="${POLLER_METRICS_ADDRESS-127.0.0.1:9400}"
LOG="$RUN_DIR/log"
MARIADB_DIR="$RUN_DIR/mariadb"
MARIADB_SOCK="$RUN_DIR/mariadb.sock"
