#!/usr/bin/env bash
# The whole check, as CI runs it: set up, prove the generated code fresh, build, typecheck, lint,
# check each package's published shape, run the examples from packed tarballs, run every test
# against a real MySQL, and run the chaos harness (and prove its checker can fail).
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

# Faults against the real database: a 60-second chaos run must find no violation, and runs whose
# workers ignore self-fencing, or lose the incarnation condition of every statement, must find some
# (the checker can fail).
export HELIX_CHAOS_MYSQL_URL=${HELIX_CHAOS_MYSQL_URL:-$HELIX_TEST_MYSQL_URL}
node bench/chaos.mjs --seconds 60 --seed 7 || status=1
unsafe=$(mktemp)
for mode in no-fencing no-incarnation; do
  if node bench/chaos.mjs --seconds 30 --seed 7 --no-db-restart --unsafe "$mode" >"$unsafe" 2>&1; then
    cat "$unsafe"
    echo "chaos: the run with unsafe workers ($mode) found no violation; the checker cannot fail" >&2
    status=1
  else
    grep -E "^\| (overlapping ownership|ledger: two)|^chaos:" "$unsafe" | sed "s/^/unsafe run, $mode (expected to fail): /"
  fi
done
rm -f "$unsafe"

node scripts/test-summary.mjs
exit "$status"
