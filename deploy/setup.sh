#!/usr/bin/env bash
# Installs everything frugal needs on Debian 12 and builds it.
# Idempotent: packages already present are not fetched again, and nothing
# touches the network when everything is installed. Run as root.
#   deploy/setup.sh            install + build (build/)
#   deploy/setup.sh --no-build install only
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
[ "${1:-}" = "--no-build" ] && build=0

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PKGS=(
  build-essential pkg-config meson ninja-build
  libuv1-dev libcurl4-openssl-dev libmbedtls-dev
  libh2o-dev libwslay-dev libssl-dev zlib1g-dev
  liblmdb-dev lmdb-utils libjansson-dev libexpat1-dev libinih-dev libcmocka-dev
  python3 python3-pip ca-certificates curl procps
  chromium valgrind systemd
)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js: any node >= 18 with npm will do (the machine image may ship its own).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]} (run as root to install them)"; exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages: all present"
fi

# Python test tools: boto3, botocore, the aws CLI (v1) and moto's server.
if python3 -c 'import boto3, botocore, moto.server, awscli' >/dev/null 2>&1; then
  log "python tools: present"
else
  log "installing python test tools with pip"
  python3 -m pip install --quiet boto3 'moto[server]' awscli \
    || python3 -m pip install --quiet --break-system-packages boto3 'moto[server]' awscli
fi

# npm packages, pinned by the committed lock files.
for dir in web tests/e2e; do
  if [ -f "$dir/package-lock.json" ] && ! (cd "$dir" && npm ls --omit=dev >/dev/null 2>&1); then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

if [ "$build" = 1 ]; then
  if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=debugoptimized -Dwerror=true >/dev/null
  fi
  log "building (build/)"
  ninja -C build
fi
log "done"
