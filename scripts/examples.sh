#!/usr/bin/env bash
# Packs the published packages as npm would publish them, installs each example from the tarballs
# into a project outside the workspace, and runs it:
#   lock-only  @helix/db and @helix/lock alone (ESM and CommonJS);
#   embedded   a coordinator and a worker in one process, from @helix/coordinator;
#   worker     a worker on @helix/cluster alone, joining a cluster run by `helix serve`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
service=""
cleanup() {
  if [ -n "$service" ]; then kill "$service" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$root"
export HELIX_MYSQL_URL=${HELIX_MYSQL_URL:-mysql://root@127.0.0.1:3306/helix_example}
pnpm --filter @helix/db --filter @helix/lock --filter @helix/cluster --filter @helix/coordinator \
  exec pnpm pack --pack-destination "$tmp/packs" >/dev/null
tarball() { ls "$tmp"/packs/helix-"$1"-*.tgz; }

# install <example> <package>...: a project of its own with the example's files and the tarballs.
install() {
  local example=$1
  shift
  mkdir -p "$tmp/$example"
  cp examples/"$example"/* "$tmp/$example/"
  local tarballs=()
  for package in "$@"; do tarballs+=("$(tarball "$package")"); done
  (cd "$tmp/$example" && npm install --no-audit --no-fund --loglevel=error "${tarballs[@]}" >/dev/null)
}

echo "examples: lock-only"
install lock-only db lock
test ! -e "$tmp/lock-only/node_modules/@helix/cluster" || { echo "examples: @helix/lock pulled in more than @helix/db" >&2; exit 1; }
(cd "$tmp/lock-only" && npm start --silent)

echo "examples: embedded"
install embedded db lock cluster coordinator
(cd "$tmp/embedded" && npm start --silent)

echo "examples: worker, with the standalone service"
install worker db lock cluster
test ! -e "$tmp/worker/node_modules/@helix/coordinator" || { echo "examples: @helix/cluster pulled in the coordinator" >&2; exit 1; }
helix() { node apps/coordinator/dist/cli.js "$@"; }
helix migrate >/dev/null
helix tasklist put jobs reports 4 --cluster example-service >/dev/null
HELIX_CLUSTERS=example-service HELIX_HTTP_PORT=0 HELIX_LOG_LEVEL=warn node apps/coordinator/dist/cli.js serve &
service=$!
(cd "$tmp/worker" && npm start --silent)
kill -TERM "$service"
wait "$service"
service=""
echo "examples: all ran"
