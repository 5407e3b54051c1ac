#!/usr/bin/env bash
# The main job on the local lab fleet, from a fresh machine: `npm run demo`.
# Sets up Debian packages, npm deps and the pinned engine, then runs scripts/demo.ts:
# a 10-host lab, a real rollout 10% → 50% → 100% with `pulumi up`, a bad release
# that is rolled back and halts the rollout, and the lab torn down.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bin=$(bash scripts/engine.sh --print-path --without-command)
export PATH="$bin:$PATH"
exec node_modules/.bin/ts-node --transpile-only scripts/demo.ts "$@"
