#!/usr/bin/env bash
# Readiness of each component of the local stack: the one definition used by `stack.sh up` and
# `status`, by the supervisor after every restart, and by the integration tests.
#   probe.sh check NAME            one attempt: exit 0 if ready, else print why (one line) and exit 1
#   probe.sh wait NAME [SECONDS]   until ready or the deadline (default: the component's own, below);
#                                  on failure prints "NAME not ready after Ns: <last error>" and exits 1
#   probe.sh deadline NAME         the component's readiness deadline in seconds
#   probe.sh check-all             every component at once (in parallel): exit 0 if all are ready, else
#                                  print each one that is not (one line each) and exit 1
#   probe.sh names                 the components, in start order
# Ready means the component does its job, not that its process exists:
#   mariadb       answers SELECT 1
#   broker        answers a metadata request that lists the task topic
#   devserver     answers /healthz
#   nginx         serves the demo page
#   fcgi          answers /outpainting/healthz through nginx, which runs SELECT 1 on a worker's connection
#   fcgi-trusted  the same through nginx's trusted-param server
#   poller        /healthz is 200 and it owns at least one partition
set -uo pipefail

# shellcheck source=scripts/stack-env.sh
source "$(dirname "$0")/stack-env.sh"

NAMES=(mariadb broker devserver nginx fcgi fcgi-trusted poller)

# Deadlines: the supervisor's longest back-off (30 s: a component may be between restarts when a
# wait begins) plus ten times the slowest readiness measured on this 2-core machine kind with
# scripts/measure-readiness.sh (after kill -9, from the new process's start; COLD=1 drops the page
# cache first), rounded up. Measured 2026-12-04:
#   mariadb     0.24–0.26 s warm; 0.51–0.74 s cold with ~5,200 redo pages to replay after a write load
#   broker      0.27–1.28 s (listening, then the topics re-created)
#   devserver, fcgi   0.05–0.26 s
#   poller      1.1–1.4 s (group rejoin); up to 13 s after a broker restart (the rejoin watchdog)
deadline() {
  case "$1" in
    mariadb) echo 40 ;;
    broker) echo 45 ;;
    devserver | nginx | fcgi | fcgi-trusted) echo 35 ;;
    poller) echo 60 ;;
    *) echo "unknown component: $1" >&2; return 2 ;;
  esac
}

# Prints nothing and succeeds when ready; prints the reason and fails otherwise.
check() {
  local out
  case "$1" in
    mariadb)
      out="$(env -u MYSQL_HOST timeout 5 mariadb --protocol=socket --socket="$MARIADB_SOCK" -uroot \
               --connect-timeout=2 -N -e 'SELECT 1' 2>&1)"
      [ "$out" = "1" ] || { echo "SELECT 1: ${out:-no answer}" | head -n 1; return 1; } ;;
    broker)
      out="$(timeout 5 kcat -L -b "$KAFKA_BOOTSTRAP_SERVERS" -m 3 2>&1)"
      if ! grep -q "topic \"$KAFKA_TOPIC\" with [1-9][0-9]* partitions" <<<"$out"; then
        if grep -q "broker" <<<"$out"; then echo "metadata answered, but topic $KAFKA_TOPIC is missing"
        else echo "metadata request: $(grep -m1 -iE 'error|fail' <<<"$out" || echo "${out:-no answer}" | head -n 1)"; fi
        return 1
      fi ;;
    devserver) http_ok "http://$DEVSERVER_HOST:$DEVSERVER_PORT/healthz" ;;
    nginx) http_ok "http://$NGINX_HOST:$NGINX_PORT/" ;;
    fcgi) http_ok "http://$NGINX_HOST:$NGINX_PORT/outpainting/healthz" '"status":"ok"' ;;
    fcgi-trusted) http_ok "http://$NGINX_HOST:$NGINX_TRUSTED_PORT/outpainting/healthz" '"status":"ok"' ;;
    poller)
      [ -n "$POLLER_METRICS_ADDRESS" ] || { echo "POLLER_METRICS_ADDRESS is empty: no /healthz to ask"; return 1; }
      http_ok "http://$POLLER_METRICS_ADDRESS/healthz" '"status":"ok"' || return 1
      grep -q '"partitions":[1-9]' <<<"$BODY" || { echo "healthy but owns no partition yet: $BODY"; return 1; } ;;
    *) echo "unknown component: $1"; return 2 ;;
  esac
}

# http_ok URL [EXPECTED]: HTTP 200 (and the body contains EXPECTED); the body is left in BODY.
http_ok() {
  local status
  BODY="$(curl -sS -m 3 -w '\n%{http_code}' "$1" 2>&1)"
  status="${BODY##*$'\n'}"; BODY="${BODY%$'\n'*}"
  if [ "$status" != "200" ]; then
    if [ "$status" = "000" ]; then echo "GET $1: ${BODY:-no answer}" | head -n 1
    else echo "GET $1: HTTP $status $(head -c 200 <<<"$BODY" | tr '\n' ' ')"; fi
    return 1
  fi
  [ -z "${2:-}" ] || grep -qF "$2" <<<"$BODY" || { echo "GET $1: unexpected answer $(head -c 200 <<<"$BODY")"; return 1; }
}

wait_ready() {
  local name="$1" seconds="${2:-}" started=$SECONDS last
  [ -n "$seconds" ] || seconds="$(deadline "$name")" || return 2
  while :; do
    if last="$(check "$name")"; then return 0; fi
    if [ $((SECONDS - started)) -ge "$seconds" ]; then
      echo "$name not ready after ${seconds}s: ${last:-no answer}"
      return 1
    fi
    sleep 0.2  # the probe's poll interval
  done
}

check_all() {
  local name dir rc=0
  dir="$(mktemp -d)"
  for name in "${NAMES[@]}"; do
    ( if out="$(check "$name")"; then :; else echo "$name not ready: $out" >"$dir/$name"; fi ) &
  done
  wait
  for name in "${NAMES[@]}"; do
    if [ -s "$dir/$name" ]; then cat "$dir/$name"; rc=1; fi
  done
  rm -rf "$dir"
  return $rc
}

case "${1:-}" in
  check) check "${2:?component}" ;;
  check-all) check_all ;;
  wait) wait_ready "${2:?component}" "${3:-}" ;;
  deadline) deadline "${2:?component}" ;;
  names) printf '%s\n' "${NAMES[@]}" ;;
  *) echo "usage: $0 check|wait|deadline NAME | names" >&2; exit 2 ;;
esac
