#!/usr/bin/env bash
# Checks the operations kit in deploy/: the Prometheus alerting rules are valid (promtool check
# rules) and pass their unit tests (promtool test rules: each alert fires on the series it is for
# and on no other), and the Grafana dashboard is valid JSON with its `datasource` and `cluster`
# variables. Needs promtool (Debian's `prometheus` package). That the rules and the dashboard name
# only metrics the service exports is apps/coordinator/test/deploy.test.ts's job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v promtool >/dev/null; then
  echo "check-deploy: promtool not found (apt-get install prometheus)" >&2
  exit 1
fi

promtool check rules deploy/prometheus/helix-alerts.yml
promtool test rules deploy/prometheus/helix-alerts.test.yml

node - deploy/grafana/helix-dashboard.json <<'JS'
const { readFileSync } = require("node:fs");
const file = process.argv[2];
let dashboard;
try {
  dashboard = JSON.parse(readFileSync(file, "utf8"));
} catch (error) {
  console.error(`check-deploy: ${file} is not valid JSON: ${error.message}`);
  process.exit(1);
}
const variables = (dashboard.templating?.list ?? []).map((v) => v.name);
const missing = ["datasource", "cluster"].filter((name) => !variables.includes(name));
if (missing.length > 0 || !Array.isArray(dashboard.panels) || dashboard.panels.length === 0) {
  console.error(`check-deploy: ${file} lacks panels or the variables ${missing.join(", ")}`);
  process.exit(1);
}
console.log(`${file}: valid JSON, ${dashboard.panels.length} panels, variables ${variables.join(", ")}`);
JS
