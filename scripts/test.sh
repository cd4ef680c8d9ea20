#!/usr/bin/env bash
# make test: bring the local stack up (if it is not already), run every test — unit tests and the
# integration tests against real nginx, MariaDB, the Kafka broker and the DevServer — and stop what
# this run started. The last line printed is Swift's test summary.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests find the stack (and its readiness probes) where stack.sh puts it.
# shellcheck source=scripts/stack-env.sh
source scripts/stack-env.sh

mkdir -p .run
results=.run/test-output.log
started=0
scripts/stack.sh supervised || started=1
finish() {
  rc=$?
  if [ "$rc" -ne 0 ] && [ -d .run/log ]; then
    echo "---- last lines of the stack's logs (.run/log) ----"
    for f in .run/log/*.log; do echo "== $f"; tail -n 15 "$f"; done
  fi
  if [ "$started" -eq 1 ]; then scripts/stack.sh down >.run/stack-down.log 2>&1 || cat .run/stack-down.log; fi
  # Repeat the summary so the run ends with it (the stack's shutdown printed after it).
  [ -f "$results" ] && grep -E "Test run with .* (passed|failed)" "$results" | tail -n 1
  exit "$rc"
}
trap finish EXIT

scripts/stack.sh up
rm -f "$results"
# `make test` has built the tests; a plain run of this script builds what is missing.
OUTPAINTING_INTEGRATION=1 swift test 2>&1 | tee "$results"
