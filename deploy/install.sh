#!/usr/bin/env bash
# make install PREFIX=/usr/local [DESTDIR=…]: release binaries, migrations, nginx snippets, docs and
# systemd units (with ExecStart under PREFIX). Creating the user, /etc/outpainting/outpainting.env
# and enabling the units is left to the operator (docs/operations.md, "Deploy").
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}" DESTDIR="${DESTDIR:-}"
SYSTEMD_DIR="${SYSTEMD_DIR:-$PREFIX/lib/systemd/system}"
cd "$REPO"
swift build -c release --product outpainting-fcgi
swift build -c release --product outpainting-poller
swift build -c release --product outpainting
BIN="$(swift build -c release --show-bin-path)"
install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/share/outpainting/sql/migrations" "$DESTDIR$PREFIX/share/outpainting/nginx" \
  "$DESTDIR$PREFIX/share/outpainting/docs" "$DESTDIR$SYSTEMD_DIR"
install -m 0755 "$BIN/outpainting-fcgi" "$BIN/outpainting-poller" "$BIN/outpainting" "$DESTDIR$PREFIX/bin/"
install -m 0644 sql/migrations/*.sql "$DESTDIR$PREFIX/share/outpainting/sql/migrations/"
install -m 0644 nginx/outpainting.conf nginx/outpainting-trusted.conf nginx/outpainting-upstream.conf "$DESTDIR$PREFIX/share/outpainting/nginx/"
install -m 0644 docs/*.md deploy/outpainting.env.example "$DESTDIR$PREFIX/share/outpainting/docs/"
for unit in deploy/systemd/*; do
  sed "s|@PREFIX@|$PREFIX|g" "$unit" >"$DESTDIR$SYSTEMD_DIR/$(basename "$unit")"
  chmod 0644 "$DESTDIR$SYSTEMD_DIR/$(basename "$unit")"
done
echo "installed into $DESTDIR$PREFIX (units in $DESTDIR$SYSTEMD_DIR)"
