#!/usr/bin/env bash
# Packs the published packages as npm would publish them, installs each example from the tarballs
# into a project outside the workspace, and runs it:
#   lock-only  @helix/db and @helix/lock alone (ESM and CommonJS);
#   databases-transfer  a transfer in a @databases/mysql transaction, fenced by a lease on the
#              @databases pool, and a paused holder refused (@helix/databases-mysql);
#   embedded   a coordinator and a worker in one process, from @helix/coordinator;
#   service    @helix/service from its tarball: `helix --version`, `helix migrate`, `helix status`;
#   worker     a worker on @helix/cluster alone, joining a cluster run by that `helix serve`.
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
pnpm --filter @helix/db --filter @helix/lock --filter @helix/cluster --filter @helix/coordinator --filter @helix/service \
  --filter @helix/databases-mysql \
  exec pnpm pack --pack-destination "$tmp/packs" >/dev/null
tarball() { ls "$tmp"/packs/helix-"$1"-*.tgz; }

# install <example> <package>...: a project of its own with the example's files (if it has any)
# and the tarballs.
install() {
  local example=$1
  shift
  mkdir -p "$tmp/$example"
  if [ -d examples/"$example" ]; then cp examples/"$example"/* "$tmp/$example/"; fi
  local tarballs=()
  for package in "$@"; do tarballs+=("$(tarball "$package")"); done
  (cd "$tmp/$example" && npm install --no-audit --no-fund --loglevel=error "${tarballs[@]}" >/dev/null)
}

echo "examples: lock-only"
install lock-only db lock
test ! -e "$tmp/lock-only/node_modules/@helix/cluster" || { echo "examples: @helix/lock pulled in more than @helix/db" >&2; exit 1; }
(cd "$tmp/lock-only" && npm start --silent)

echo "examples: databases-transfer"
install databases-transfer db lock databases-mysql
(cd "$tmp/databases-transfer" && npm start --silent)

echo "examples: embedded"
install embedded db lock cluster coordinator
(cd "$tmp/embedded" && npm start --silent)

echo "examples: the service, installed from its tarball"
# The library packages are not on a registry here, so their tarballs are installed alongside.
install service db lock cluster coordinator service
helix() { (cd "$tmp/service" && npx --no-install helix "$@"); }
version=$(helix --version)
[ "$version" = "$(node -p 'require("./apps/coordinator/package.json").version')" ] || { echo "examples: helix --version printed '$version'" >&2; exit 1; }
echo "helix $version"
# The systemd unit, pointed at this install: systemd-analyze must find nothing to say about it.
sed "s#/opt/helix#$tmp/service#g" deploy/helix.service >"$tmp/helix.service"
problems=$(systemd-analyze verify "$tmp/helix.service" 2>&1) || true
[ -z "$problems" ] || { echo "examples: deploy/helix.service: $problems" >&2; exit 1; }
helix migrate
helix tasklist put jobs reports 4 --cluster example-service
# Started by its installed executable rather than through npx, so that SIGTERM reaches it.
HELIX_CLUSTERS=example-service HELIX_HTTP_PORT=0 HELIX_LOG_LEVEL=warn "$tmp/service/node_modules/.bin/helix" serve &
service=$!

echo "examples: worker, with that service"
install worker db lock cluster
test ! -e "$tmp/worker/node_modules/@helix/coordinator" || { echo "examples: @helix/cluster pulled in the coordinator" >&2; exit 1; }
(cd "$tmp/worker" && npm start --silent)
helix status --cluster example-service
kill -TERM "$service"
wait "$service"
service=""
echo "examples: all ran"
