#!/usr/bin/env bash
# The whole check, as CI runs it: set up, prove the generated code fresh, build, typecheck, lint,
# build the API reference, check each package's published shape, check the alerting rules and
# dashboard in deploy/, then on MariaDB and on TiDB (built and started by scripts/tidb.sh) run the
# examples from packed tarballs, every test against the real server and a 60-second chaos run; prove
# the chaos checker can fail; and kill every mutant of the SQL that decides safety.
# Tests use HELIX_TEST_MYSQL_URL for MariaDB when set, else the local server that setup.sh made
# sure of; HELIX_TEST_TIDB_URL for TiDB when set, else the local TiDB that tidb.sh starts (and
# builds, the first time). HELIX_TEST_TIDB=0 leaves TiDB out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/sqlc.sh check
pnpm build
pnpm typecheck
# Every source file as Prettier writes it (`pnpm format` rewrites them), and linted, harness included.
pnpm format:check
pnpm lint
# The API reference builds from the TSDoc: every public symbol documented, every link resolved.
pnpm run docs
pnpm check:exports
bash scripts/check-deploy.sh
# The README's figures are the benchmark report's own.
node scripts/check-readme-figures.mjs
node scripts/check-cycles.mjs
# One word per concept: the retired ones stay out of code and docs.
node scripts/check-words.mjs

mariadb=${HELIX_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/}
tidb=${HELIX_TEST_TIDB_URL:-}
started_tidb=""
# Stopped at the end only if this run started it; trapped before the start, so that a start that
# fails after launching the server stops it too.
stop_tidb() { if [ -n "$started_tidb" ]; then bash scripts/tidb.sh stop; fi; }
trap stop_tidb EXIT
if [ -z "$tidb" ] && [ "${HELIX_TEST_TIDB:-1}" != 0 ]; then
  bash scripts/tidb.sh status >/dev/null 2>&1 || started_tidb=yes
  bash scripts/tidb.sh start
  tidb=mysql://root@127.0.0.1:${HELIX_TIDB_PORT:-4000}/
fi

rm -rf packages/*/reports apps/*/reports
status=0
# on_engine <name> <server URL>: the examples, the suite (its results in
# reports/jest-<name>.json) and a 60-second chaos run, which must find no violation and settle.
on_engine() {
  local engine=$1 server=$2 one_at_a_time=()
  # On TiDB the packages' suites run one at a time: one tidb-server on this machine's 2 cores, with
  # several suites' processes beside it, answers too slowly for the tests bounded in time.
  if [ "$engine" = tidb ]; then one_at_a_time=(--concurrency=1); fi
  echo "== $engine: examples, tests, chaos (${server})"
  HELIX_MYSQL_URL="${server}helix_example" bash scripts/examples.sh || status=1
  # --continue: every package's suite runs, and reports, whatever another's outcome.
  HELIX_TEST_MYSQL_URL=$server HELIX_TEST_REPORT=jest-$engine pnpm test --filter '!@helix/sqlc-gen-ts' --continue "${one_at_a_time[@]}" || status=1
  HELIX_CHAOS_MYSQL_URL=$server node bench/chaos.mjs --seconds 60 --seed 7 || status=1
}
on_engine mariadb "$mariadb"
if [ -n "$tidb" ]; then on_engine tidb "$tidb"; fi
# The tests that use no database, once.
HELIX_TEST_REPORT=jest pnpm test --filter @helix/sqlc-gen-ts || status=1

# Runs with unsafe workers must find the violation each one injects, so that the checker is shown
# to fail for the right reason: self-fencing ignored (a paused worker goes on working) shows as
# overlapping ownership; units of work written without the partition fence, as the ledger's
# generation going back; statements without their incarnation condition (the stale process of a
# reused node id), as two processes at one generation in the ledger. Each run has only the fault
# that exposes its bug, and must finish its report and exit 1: a crash or a timeout does not count.
# Whether the fault hits at the right moment depends on timing on a busy machine, so a run that
# finds nothing is followed by one with another seed; both finding nothing fails.
unsafe=$(mktemp)
while IFS='|' read -r mode faults check; do
  found=""
  for seed in 7 8; do
    code=0
    HELIX_CHAOS_MYSQL_URL=$mariadb timeout 300 node bench/chaos.mjs --seconds 30 --seed "$seed" --no-db-restart \
      --unsafe "$mode" --faults "$faults" >"$unsafe" 2>&1 </dev/null || code=$?
    count=$(grep -F "| $check | " "$unsafe" | grep -oE '[0-9]+ \|$' | grep -oE '^[0-9]+' || true)
    if [ "$code" = 1 ] && [ "${count:-0}" -gt 0 ] && grep -qE "^chaos: [1-9][0-9]* violation\(s\)" "$unsafe"; then
      found=$seed
      break
    fi
  done
  if [ -z "$found" ]; then
    cat "$unsafe"
    echo "chaos: the runs with unsafe workers ($mode, $faults faults, seeds 7 and 8) did not report \"$check\"; the checker is not shown to catch it" >&2
    status=1
  else
    grep -E "^\| (overlapping ownership|ledger: )|^chaos:" "$unsafe" | sed "s/^/unsafe run, $mode, $faults faults, seed $found (must report $check): /"
  fi
done <<'CONTROLS'
no-fencing|pause-worker|overlapping ownership (two owners at one moment)
no-ledger-fence|pause-worker|ledger: a partition's generation going back
no-incarnation|reuse-worker|ledger: two processes at one generation
CONTROLS
rm -f "$unsafe"

# Every one-clause mutant of the statements that decide leases, fences, liveness and hand-offs is
# killed by the query and clause tests or listed as equivalent with its reason (docs/mutation-sql.md).
# The statements' text is the same on both engines (TiDB refuses only the shared fence, which it is
# never sent), so one run on MariaDB decides.
HELIX_TEST_MYSQL_URL=$mariadb node scripts/mutate-sql.mjs || status=1

node scripts/test-summary.mjs || status=1
exit "$status"
