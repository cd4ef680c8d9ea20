#!/usr/bin/env bash
# make test: bring the local stack up (if it is not already), run every test — unit tests and the
# integration tests against real nginx, MariaDB, the Kafka broker and the DevServer — and stop what
# this run started.
set -euo pipefail
cd "$(dirname "$0")/.."

started=0
scripts/stack.sh status >/dev/null 2>&1 || started=1
finish() {
  rc=$?
  if [ "$rc" -ne 0 ] && [ -d .run/log ]; then
    echo "---- last lines of the stack's logs (.run/log) ----"
    for f in .run/log/*.log; do echo "== $f"; tail -n 15 "$f"; done
  fi
  if [ "$started" -eq 1 ]; then scripts/stack.sh down; fi
  exit "$rc"
}
trap finish EXIT

scripts/stack.sh up
OUTPAINTING_INTEGRATION=1 swift test
