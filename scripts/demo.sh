#!/usr/bin/env bash
# The main job: installs what is missing, brings the local stack up and runs the end-to-end demo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cli() { node bin/run.js "$@"; }

echo "== 1/2 local stack (Kafka KRaft + Redis)"
cli stack up
echo "== 2/2 smoke run through Kafka and Redis"
cli stack check --count 10000
cli stack status
echo
echo "The stack stays up. Stop it with: node bin/run.js stack down"
