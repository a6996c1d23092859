#!/usr/bin/env bash
# `npm run bench`: set-up, the local stack, then every benchmark in bench/ and one summary table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
node bin/run.js stack up >/dev/null
npx --no-install tsc -p bench/tsconfig.json
node .cryptolambda/bench/bench/run-all.js "$@"
