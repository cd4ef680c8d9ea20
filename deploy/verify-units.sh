#!/usr/bin/env bash
# Checks the systemd units with `systemd-analyze verify` (run by the tests): @PREFIX@ points at a
# scratch prefix whose bin/ links to this checkout's built binaries.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not available: skipped"; exit 0; }
BIN="${BIN:-$(cd "$REPO" && swift build --show-bin-path)}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/prefix/bin" "$scratch/units"
for b in outpainting-fcgi outpainting-poller outpainting; do ln -s "$BIN/$b" "$scratch/prefix/bin/$b"; done
for unit in "$REPO"/deploy/systemd/*; do
  sed "s|@PREFIX@|$scratch/prefix|g" "$unit" >"$scratch/units/$(basename "$unit")"
done
# Debian's systemd-analyze reports units it cannot fully load with a non-zero status and a message.
systemd-analyze verify "$scratch"/units/* 2>&1 | tee "$scratch/out"
! grep -q . "$scratch/out"
