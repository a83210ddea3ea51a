#!/usr/bin/env bash
# Runs the pinned sqlc from the repository root, installing it with `go install` when missing.
#   scripts/sqlc.sh generate   rebuild packages/db/src/generated from the SQL
#   scripts/sqlc.sh check      fail when sqlc rejects a query or the generated code is stale
#   scripts/sqlc.sh version    install sqlc if needed and print its version
set -euo pipefail
SQLC_VERSION=v1.31.1
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sqlc_bin() {
  local gobin
  gobin=$(go env GOPATH 2>/dev/null)/bin
  for candidate in "$(command -v sqlc 2>/dev/null || true)" "$gobin/sqlc"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$("$candidate" version 2>/dev/null)" = "$SQLC_VERSION" ]; then
      echo "$candidate"
      return
    fi
  done
  command -v go >/dev/null || { echo "sqlc $SQLC_VERSION is needed and Go is not installed to build it" >&2; exit 1; }
  echo "installing sqlc $SQLC_VERSION with go install (compiles C code; takes a few minutes once)" >&2
  go install "github.com/sqlc-dev/sqlc/cmd/sqlc@$SQLC_VERSION" >&2
  echo "$gobin/sqlc"
}

sqlc=$(sqlc_bin)
if [ "${1:-}" = version ]; then
  echo "sqlc $("$sqlc" version) at $sqlc"
  exit 0
fi
# The plugin is TypeScript; sqlc runs its build output, rebuilt here when missing or older than its source.
plugin=packages/sqlc-gen-ts
if [ ! -f "$plugin/dist/main.js" ] || [ -n "$(find "$plugin/src" -newer "$plugin/dist/main.js" -print -quit)" ]; then
  pnpm --filter @helix/sqlc-gen-ts build >/dev/null
fi
case "${1:-}" in
  generate) "$sqlc" generate ;;
  check)
    "$sqlc" compile
    if ! "$sqlc" diff; then
      echo "packages/db/src/generated is stale: run 'pnpm generate' and commit the result" >&2
      exit 1
    fi ;;
  *) echo "usage: scripts/sqlc.sh generate|check|version" >&2; exit 2 ;;
esac
