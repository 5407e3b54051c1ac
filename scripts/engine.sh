#!/usr/bin/env bash
# scripts/engine.sh — make the pinned Pulumi engine available (run as `npm run engine`).
#
# The official Pulumi CLI download is not reachable from our machines, so the engine is
# built from Pulumi's own Go modules, fetched with the ordinary Go client from the
# configured Go module proxy, into a per-user cache keyed by the pinned versions:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/rachel-fleet/engine/pulumi-<v>-cmd-<v>/bin
#     pulumi                         CLI, github.com/pulumi/pulumi/pkg/v3 (pinned below)
#     pulumi-language-nodejs         Node.js language host (see LANGHOST below)
#     pulumi-resource-pulumi-nodejs  our launcher for @pulumi/pulumi's dynamic-provider
#   and installs the command provider plugin into $PULUMI_HOME when it can be built.
#
# Usage:
#   bash scripts/engine.sh                      # build if needed, print what is used
#   export PATH="$(bash scripts/engine.sh --print-path):$PATH"
#   bash scripts/engine.sh --without-command    # command provider missing = warning only
#
# Exit status: 0 all pieces ready; 1 engine (CLI / language host / launcher) unavailable;
# 3 engine ready but the command provider plugin is missing (bin dir is still printed).
#
# Env: RACHEL_FLEET_ENGINE_CACHE (cache root), RACHEL_FLEET_LANGHOST (v3.137.0|v3.68.0),
#      RACHEL_FLEET_ENGINE_WITHOUT_COMMAND=1 (same as --without-command), PULUMI_HOME.
set -euo pipefail

PULUMI_VERSION=v3.259.0
COMMAND_VERSION=v1.2.1
CLI_PKG=github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
CLIPBOARD_REPLACE='github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e'

# pulumi-command has no provider/ tags: pseudo-version at the v1.2.1 commit 7f3eb6f3b77c.
COMMAND_MODULE=github.com/pulumi/pulumi-command/provider
COMMAND_MODVER=v0.0.0-20260303235922-7f3eb6f3b77c
COMMAND_PKG=$COMMAND_MODULE/cmd/pulumi-resource-command
COMMAND_VERSION_VAR=$COMMAND_MODULE/pkg/version.Version

# Node.js language host. The proxy serves no build of it at v3.259.0 (403 at the release
# commit). Newest one that builds: the host module at the v3.137.0 release commit. The
# checksum database here does not answer for that pseudo-version, so it is excluded from
# it (GONOSUMDB) and its hashes are pinned below instead (go refuses any other content).
# Alternative: v3.68.0, the last sdk/v3 release that still contained the host (checked by
# the checksum database). Both ran preview/up of a dynamic resource under CLI v3.259.0.
LANGHOST=${RACHEL_FLEET_LANGHOST:-v3.137.0}
case "$LANGHOST" in
  v3.137.0)
    LH_MODULE=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
    LH_MODVER=v3.0.0-20241017230213-fd07f42c6116
    LH_PKG=$LH_MODULE
    LH_EXTRA_REQUIRE=$'\tgithub.com/pulumi/pulumi/pkg/v3 v3.137.0\n\tgithub.com/pulumi/pulumi/sdk/v3 v3.137.0'
    LH_PINNED_SUM="$LH_MODULE $LH_MODVER h1:IUj759O+4d63fg7OJcaaShBofyHKCQ0o9L/79qM/Y0M=
$LH_MODULE $LH_MODVER/go.mod h1:G48ddTbWm5bSDnMUfgudLKSdG1R/3pBzqosz4VMFkUI="
    LH_NOSUMDB=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs ;;
  v3.68.0)
    LH_MODULE=github.com/pulumi/pulumi/sdk/v3
    LH_MODVER=v3.68.0
    LH_PKG=$LH_MODULE/nodejs/cmd/pulumi-language-nodejs
    LH_EXTRA_REQUIRE=''
    LH_PINNED_SUM=''
    LH_NOSUMDB='' ;;
  *) echo "engine: ERROR: RACHEL_FLEET_LANGHOST=$LANGHOST is not supported (use v3.137.0 or v3.68.0)" >&2; exit 1 ;;
esac

PRINT_PATH=0
WITHOUT_COMMAND=${RACHEL_FLEET_ENGINE_WITHOUT_COMMAND:-0}
for arg in "$@"; do
  case "$arg" in
    --print-path) PRINT_PATH=1 ;;
    --without-command) WITHOUT_COMMAND=1 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "engine: ERROR: unknown argument '$arg' (see --help)" >&2; exit 1 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RACHEL_FLEET_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rachel-fleet/engine}/pulumi-$PULUMI_VERSION-cmd-$COMMAND_VERSION
BIN=$CACHE/bin
PHOME=${PULUMI_HOME:-$HOME/.pulumi}
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

# Progress/diagnostics go to stderr; the summary goes to stdout (or nowhere with --print-path).
say()  { echo "engine: $*" >&2; }
die()  { echo "engine: ERROR: $*" >&2; exit 1; }
info() { [ "$PRINT_PATH" = 1 ] || echo "$*"; }
lock() { if command -v flock >/dev/null; then flock "$1" || die "cannot lock $CACHE/.lock"; fi; }  # serialise builds
redact() { sed -E 's#[a-z]+://[^/ ]+#<goproxy>#g'; }  # keep proxy host names out of logs
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

find_go() {
  GO=$(command -v go || true)
  [ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
  [ -n "$GO" ] || die "no Go toolchain found (need go >= 1.25.11 on PATH or /usr/local/go) to build $1"
  local v; v=$("$GO" env GOVERSION)
  if ! printf '%s\n' go1.25.11 "$v" | sort -V -C; then
    die "$GO is $v; building $1 needs go >= 1.25.11 (GOTOOLCHAIN=local: no toolchain download)"
  fi
}

# go_module_build NAME DIR GOMOD_TEXT PKG LDFLAGS OUT [PINNED_SUM] [NOSUMDB]
# Generates DIR/go.mod (+ tools.go), resolves with `go mod tidy`, builds PKG to OUT.
# Returns 1 (after showing the log tail) when the build fails.
go_module_build() {
  local name=$1 dir=$2 gomod=$3 pkg=$4 ldflags=$5 out=$6 sum=${7:-} nosumdb=${8:-}
  local log=$dir/build.log t0; t0=$(date +%s)
  rm -rf "$dir"; mkdir -p "$dir"
  printf '%s\n' "$gomod" > "$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > "$dir/tools.go"
  [ -z "$sum" ] || printf '%s\n' "$sum" > "$dir/go.sum"
  say "building $name (log: $log) ..."
  local nosum; nosum=$(printf '%s,%s' "$nosumdb" "${GONOSUMDB:-}" | sed 's/^,//; s/,$//')
  if ! ( cd "$dir" && export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GONOSUMDB="$nosum" &&
         "$GO" mod tidy && "$GO" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$out.tmp" "$pkg" \
       ) 2>&1 | redact > "$log"; then
    tail -n 15 "$log" | sed 's/^/    /' >&2
    return 1
  fi
  mv -f "$out.tmp" "$out"
  say "built $name in $(elapsed "$t0")"
}

write_launcher() {
  # Dynamic providers: the engine starts this with cwd = project dir (Pulumi.yaml); for
  # Automation API inline programs cwd is a temp dir, hence RACHEL_FLEET_ROOT.
  local f=$BIN/pulumi-resource-pulumi-nodejs
  local body='#!/bin/sh
# rachel-fleet launcher: run @pulumi/pulumi dynamic-provider from the project node_modules.
rel=node_modules/@pulumi/pulumi/cmd/dynamic-provider
d=$PWD; while [ "$d" != / ] && [ ! -e "$d/$rel" ]; do d=$(dirname "$d"); done
[ -e "$d/$rel" ] || d=${RACHEL_FLEET_ROOT:-}
[ -n "$d" ] && [ -e "$d/$rel" ] || { echo "pulumi-resource-pulumi-nodejs: no $rel above $PWD; set RACHEL_FLEET_ROOT to the project dir" >&2; exit 1; }
exec node "$d/$rel" "$@"'
  if [ ! -x "$f" ] || [ "$(cat "$f")" != "$body" ]; then
    printf '%s\n' "$body" > "$f.tmp" && chmod 755 "$f.tmp" && mv -f "$f.tmp" "$f"
  fi
}

# --- 1. Engine: CLI + language host + dynamic-provider launcher -------------------------
SOURCE=""
if amb=$(command -v pulumi 2>/dev/null) && [ "$(pulumi version 2>/dev/null)" = "$PULUMI_VERSION" ] &&
   command -v pulumi-language-nodejs >/dev/null && command -v pulumi-resource-pulumi-nodejs >/dev/null; then
  BIN=$(cd "$(dirname "$amb")" && pwd -P)
  SOURCE="already on PATH"
else
  mkdir -p "$BIN"
  exec 9> "$CACHE/.lock"
  lock 9
  CLI_STAMP="cli $PULUMI_VERSION"
  LH_STAMP="langhost $LANGHOST $LH_MODULE@$LH_MODVER"
  built=0
  if [ ! -x "$BIN/pulumi" ] || [ "$(cat "$BIN/.pulumi.stamp" 2>/dev/null)" != "$CLI_STAMP" ]; then
    find_go "the Pulumi CLI $PULUMI_VERSION"
    go_module_build "pulumi CLI $PULUMI_VERSION (cold: ~4 min on 2 cores)" "$CACHE/build/cli" \
"module rachelfleet.local/engine/cli

go 1.25.11

require github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION

replace $CLIPBOARD_REPLACE" \
      "$CLI_PKG" "-X $VERSION_VAR=$PULUMI_VERSION" "$BIN/pulumi" ||
      die "could not build the pulumi CLI $PULUMI_VERSION from the Go module proxy; see $CACHE/build/cli/build.log"
    echo "$CLI_STAMP" > "$BIN/.pulumi.stamp"; built=1
  fi
  if [ ! -x "$BIN/pulumi-language-nodejs" ] || [ "$(cat "$BIN/.pulumi-language-nodejs.stamp" 2>/dev/null)" != "$LH_STAMP" ]; then
    find_go "pulumi-language-nodejs $LANGHOST"
    go_module_build "pulumi-language-nodejs $LANGHOST" "$CACHE/build/langhost" \
"module rachelfleet.local/engine/langhost

go 1.25.11

require (
	$LH_MODULE $LH_MODVER
${LH_EXTRA_REQUIRE}
)

replace $CLIPBOARD_REPLACE" \
      "$LH_PKG" "-X $VERSION_VAR=$LANGHOST" "$BIN/pulumi-language-nodejs" "$LH_PINNED_SUM" "$LH_NOSUMDB" ||
      die "could not build pulumi-language-nodejs $LANGHOST ($LH_MODULE@$LH_MODVER) from the Go module proxy; see $CACHE/build/langhost/build.log"
    echo "$LH_STAMP" > "$BIN/.pulumi-language-nodejs.stamp"; built=1
  fi
  write_launcher
  [ "$("$BIN/pulumi" version)" = "$PULUMI_VERSION" ] ||
    die "$BIN/pulumi reports '$("$BIN/pulumi" version)', expected $PULUMI_VERSION; delete $CACHE and rerun"
  if [ "$built" = 1 ]; then SOURCE="built into cache"; else SOURCE="cached"; fi
fi

# --- 2. Command provider plugin v1.2.1 -> $PULUMI_HOME --------------------------------------
CMD_DIR=$PHOME/plugins/resource-command-$COMMAND_VERSION
CMD_STATUS="" CMD_ERROR=""
if [ -x "$CMD_DIR/pulumi-resource-command" ]; then
  CMD_STATUS="installed at $CMD_DIR"
else
  CMD_BIN=$CACHE/plugins/pulumi-resource-command-$COMMAND_VERSION
  if [ ! -x "$CMD_BIN" ]; then
    find_go "the command provider $COMMAND_VERSION"
    probe=$(mktemp -d)
    if dl=$(cd "$probe" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" mod download -json \
              "$COMMAND_MODULE@$COMMAND_MODVER" 2>&1); then
      rm -rf "$probe"
      mkdir -p "$CACHE/plugins"
      exec 9> "$CACHE/.lock"; lock 9
      go_module_build "command provider $COMMAND_VERSION" "$CACHE/build/command" \
"module rachelfleet.local/engine/command

go 1.25.11

require $COMMAND_MODULE $COMMAND_MODVER" \
        "$COMMAND_PKG" "-X $COMMAND_VERSION_VAR=$COMMAND_VERSION" "$CMD_BIN" ||
        CMD_ERROR="command provider $COMMAND_VERSION is MISSING: $COMMAND_MODULE@$COMMAND_MODVER downloaded but did not build; see $CACHE/build/command/build.log"
    else
      rm -rf "$probe"
      why=$(printf '%s\n' "$dl" | sed -n 's/.*"Error": "\(.*\)",\{0,1\}$/\1/p' | head -n 1 | sed 's/\\n.*//; s/\\t//g; s/\.*$//')
      CMD_ERROR="command provider $COMMAND_VERSION is MISSING: the Go module proxy does not serve $COMMAND_MODULE@$COMMAND_MODVER (the v1.2.1 commit) — $(printf '%s' "${why:-$dl}" | redact). remote.Command resources (@pulumi/command $COMMAND_VERSION) cannot run; nothing was installed into $PHOME."
    fi
  fi
  if [ -z "$CMD_ERROR" ]; then
    "$BIN/pulumi" plugin install resource command "$COMMAND_VERSION" --file "$CMD_BIN" >/dev/null 2>&1 ||
      die "pulumi plugin install resource command $COMMAND_VERSION --file $CMD_BIN failed"
    CMD_STATUS="installed at $CMD_DIR (from $CMD_BIN)"
  fi
fi
if amb_cmd=$(command -v pulumi-resource-command 2>/dev/null); then
  say "WARNING: $amb_cmd is on PATH; the engine prefers it over any installed command plugin (version unchecked)"
fi

# --- 3. Report ------------------------------------------------------------------------------
info "engine: $SOURCE: $BIN"
info "  pulumi                         $("$BIN/pulumi" version)  $BIN/pulumi"
LH_PATH=$BIN/pulumi-language-nodejs; [ -x "$LH_PATH" ] || LH_PATH=$(command -v pulumi-language-nodejs)
info "  pulumi-language-nodejs         $(cut -d' ' -f2- "$BIN/.pulumi-language-nodejs.stamp" 2>/dev/null || echo "(version unknown: not built by this script)")  $LH_PATH"
info "  pulumi-resource-pulumi-nodejs  launcher -> <project>/node_modules/@pulumi/pulumi/cmd/dynamic-provider"
info "  command provider $COMMAND_VERSION        ${CMD_STATUS:-MISSING (see error below)}"
info "  PULUMI_HOME                    $PHOME"
info "use:"
info "  export PATH=\"$BIN:\$PATH\""
info "  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_SKIP_UPDATE_CHECK=true"
info "  export RACHEL_FLEET_ROOT=\"$ROOT\"   # dynamic providers of Automation API inline programs"
if [ "$PRINT_PATH" = 1 ]; then echo "$BIN"; fi

if [ -n "$CMD_ERROR" ]; then
  if [ "$WITHOUT_COMMAND" = 1 ]; then
    say "WARNING (--without-command): $CMD_ERROR"
  else
    say "ERROR: $CMD_ERROR"
    say "(the engine above is usable for programs without remote.Command; pass --without-command to accept that)"
    exit 3
  fi
fi
