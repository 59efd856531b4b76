#!/usr/bin/env bash
# Installs what a fresh Debian 12 / Ubuntu machine lacks, then builds:
# the native addon and exec helper (node-gyp), the TypeScript (tsc), and
# the C test fixtures. Run as root from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libseccomp-dev gcc-multilib make g++ python3 util-linux file nginx golang-go authbind curl rsyslog chromium openssl bubblewrap strace wrk; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (apt-get install nodejs, or your distribution's node 20)" >&2
  exit 1
fi
npm ci --no-audit --no-fund
npm run build
# nginx is installed for the tests only: keep Debian's own instance from
# holding port 80.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
