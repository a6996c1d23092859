#!/usr/bin/env bash
# The one test command (README, .ci/run): set-up, lint + format check, type check, then every
# test — unit tests and integration tests against the real local Kafka and Redis, which the test
# global setup starts if they are not already running (and stops again afterwards).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh
echo "[test] lint + format (biome)" >&2
npx --no-install biome check .
echo "[test] type check" >&2
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install tsc -p web/tsconfig.json
echo "[test] vitest (unit + integration)" >&2
mkdir -p .cryptolambda
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json=.cryptolambda/test-results.json "$@" || status=$?
# One plain closing line, whatever the reporter printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(".cryptolambda/test-results.json", "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) process.exit(1);
' || status=1
exit $status
