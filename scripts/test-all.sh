#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: `npm test`.
# Sets up what it needs (Debian packages, npm deps, the pinned engine), then runs
# unit tests (mocked engine), lab integration tests (booted Debian hosts: systemd, sshd,
# git, bun) and the end-to-end tests (real Pulumi engine against the lab, a VPS
# provisioned through cloud-init), and the bench smoke run.
# A suite that cannot run its real component fails; nothing is skipped.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh || exit 1
# What the checkout looks like before the suites: they must leave it so (no file of the
# repository written, nothing new outside .gitignore).
checkout_before=$(git status --porcelain 2>/dev/null)
counts=$(mktemp)
export TEST_COUNTS_FILE=$counts
status=0
run() {
  echo; echo "=== $1"
  shift
  "$@" || status=1
}
# Pulumi runs the program transpiled without a type check (boot/transpile.js): the type check is here.
run "type check (tsc)" npx tsc --noEmit -p .
run "unit tests (mocked engine)" npx mocha --config test/.mocharc.unit.json
run "lab integration tests (booted Debian hosts: systemd, sshd, git, bun)" npx mocha --config test/.mocharc.lab.json
if [ -f test/.mocharc.e2e.json ]; then
  # Exit 3 = engine ready without the command provider plugin: the suites then use stepRunner ssh2 and say so.
  run "engine" bash scripts/engine.sh --without-command
  run "end-to-end tests (real Pulumi engine)" npx mocha --config test/.mocharc.e2e.json
fi

checkout_after=$(git status --porcelain 2>/dev/null)
if [ "$checkout_before" != "$checkout_after" ]; then
  echo; echo "=== the checkout"; echo "the suites changed files of the repository (or left new ones):"
  diff <(echo "$checkout_before") <(echo "$checkout_after") | sed -n 's/^> /  /p'
  status=1
fi

read -r passed failed < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$counts")
rm -f "$counts"
echo
echo "all suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
