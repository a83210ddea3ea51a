#!/usr/bin/env bash
# Packs @helix/db and @helix/lock as they would be published, installs the tarballs with npm into a
# project outside the workspace, and runs examples/lock-only there (ESM and CommonJS).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
pnpm --filter @helix/db --filter @helix/lock exec pnpm pack --pack-destination "$tmp" >/dev/null
cp examples/lock-only/index.mjs examples/lock-only/index.cjs examples/lock-only/package.json "$tmp/"
cd "$tmp"
npm install --no-audit --no-fund --loglevel=error ./helix-db-*.tgz ./helix-lock-*.tgz >/dev/null
test ! -e node_modules/@helix/cluster || { echo "pack-smoke: @helix/lock pulled in more than @helix/db" >&2; exit 1; }
HELIX_MYSQL_URL=${HELIX_MYSQL_URL:-mysql://root@127.0.0.1:3306/helix_example} npm start --silent
