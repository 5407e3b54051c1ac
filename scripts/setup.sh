#!/usr/bin/env bash
# Installs what rachel-fleet's tests, lab and demo need on a fresh Debian machine:
# Debian packages (systemd-nspawn and debootstrap for the lab's booted Debian hosts,
# OpenSSH client, git, curl, chromium, shellcheck) and the npm dependencies. Idempotent. The lab's
# Debian base image itself is built by the first `npm run lab -- up` (lab/baseImage.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
[ -x /usr/bin/systemd-nspawn ] || missing+=(systemd-container)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v git >/dev/null || missing+=(git)
command -v curl >/dev/null || missing+=(curl)
command -v nsenter >/dev/null || missing+=(util-linux)
# npm test lints the on-host lifecycle (lifecycle/lifecycle.sh) with it.
command -v shellcheck >/dev/null || missing+=(shellcheck)
# The console's browser tests drive Debian's chromium (puppeteer-core downloads no browser).
command -v chromium >/dev/null || missing+=(chromium)
# The team-backend tests run Debian's PostgreSQL as the Pulumi state backend.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need Debian packages ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# bun ships its binary through a postinstall step; make sure it is really there.
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
  (cd node_modules/bun && node install.js)
fi
node_modules/.bin/bun --version >/dev/null || { echo "setup: bun from the npm package 'bun' does not run" >&2; exit 1; }
