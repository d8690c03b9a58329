#!/usr/bin/env bash
# Idempotent installer for a fresh Debian/Ubuntu machine that already has Node 20+.
# Installs only the missing system packages, then `npm ci` only when dependencies are stale.
# Safe to run repeatedly, non-interactively (CI runs it as root with no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

# Runtime tools (ffmpeg for media, postgresql for the PG backend and tests,
# pocketsphinx/sox for offline speech-to-text) plus the toolchain better-sqlite3
# needs when no prebuilt binary matches.
PACKAGES=(ffmpeg postgresql pocketsphinx pocketsphinx-en-us sox python3 make g++)

if ! command -v node >/dev/null 2>&1; then
  echo "install.sh: Node.js 20+ is required but 'node' is not on PATH" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Node.js 20+ is required (found $(node -v))" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg-query fails for never-seen packages and reports e.g. "deinstall ok config-files"
  # for removed ones, so only the exact "installed" status counts.
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [ "$status" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)  # -n: fail instead of prompting when no stdin is available
  else
    echo "install.sh: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install.sh: system packages already present"
fi

# npm ci wipes node_modules, so skip it when the installed tree matches the lockfile
# (npm writes node_modules/.package-lock.json after every successful install).
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install.sh: running npm ci"
  npm ci --no-audit --no-fund --loglevel=warn
else
  echo "install.sh: node_modules up to date"
fi
