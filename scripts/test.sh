#!/usr/bin/env bash
# The whole check, as CI runs it: set up, prove the generated code fresh, build, typecheck, lint,
# check each package's published shape, run the examples from packed tarballs, and run
# every test against a real MySQL.
# Tests use HELIX_TEST_MYSQL_URL when set, else the local server that setup.sh made sure of.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/sqlc.sh check
pnpm build
pnpm typecheck
pnpm lint
pnpm check:exports
bash scripts/examples.sh
export HELIX_TEST_MYSQL_URL=${HELIX_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/}
rm -rf packages/*/reports apps/*/reports
status=0
pnpm test || status=$?
node scripts/test-summary.mjs
exit "$status"
