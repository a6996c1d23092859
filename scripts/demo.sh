#!/usr/bin/env bash
# The main job (`npm run demo`): installs what is missing, brings the local stack up and runs the
# whole Lambda architecture end to end on two accelerated event days:
#   synthetic prices + simulated users → Kafka → stream (Redis) and ingest (Parquet) →
#   pipeline for day 1 (batch, data-quality gate, reconcile) → merged portfolio of a few users.
# Every run uses fresh topics (prefix demo-<stamp>.) and its own lake, so the numbers are the same
# each time; earlier demo runs are cleaned up. The stack is left running.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cli() { node bin/run.js "$@"; }
step() { printf '\n== %s\n' "$*"; }

DAY1=2026-11-23
DAY2=2026-11-24
stamp="$(date -u +%Y%m%d%H%M%S)"
export CRYPTOLAMBDA_TOPIC_PREFIX="demo-${stamp}."
export CRYPTOLAMBDA_LAKE_DIR="$root/.cryptolambda/demo/demo-${stamp}/lake"

step "1/8 local stack (Kafka KRaft + Redis) and the demo's topics (prefix ${CRYPTOLAMBDA_TOPIC_PREFIX})"
cli stack up
node scripts/demo-reset.mjs

step "2/8 synthetic prices: 3 symbols, one tick every 2 s of event time over ${DAY1} and ${DAY2}"
cli produce prices --source synthetic --seed 7 --start "${DAY1}T00:00:00Z" --step 2s --rate 0 --count 260100

step "3/8 simulated users: 300 users buying, selling, staking, spending and earning rewards"
cli simulate --seed 7 --users 300 --rate 0.05

step "4/8 speed layer: stream everything into Redis (exits once caught up)"
cli stream --from-beginning --exit-when-idle 5s --metrics-every 5s

step "5/8 batch layer: ingest Kafka into the Parquet raw zone"
cli ingest

step "6/8 pipeline for ${DAY1}: sensor → ingest → batch → data-quality gate → reconcile → retire"
cli pipeline run --date "$DAY1" --sensor-timeout 60s

step "7/8 reconcile ${DAY1}: batch facts vs the speed layer's end-of-day state"
cli reconcile --date "$DAY1"

step "8/8 merged portfolios (batch up to ${DAY1} + speed-layer delta of ${DAY2} + live prices)"
for u in u000001 u000002 u000003; do cli portfolio "$u"; done
cli top --by pnl --limit 5

# The export line is printed with %q quoting so it pastes into any POSIX shell as is (a checkout
# path with spaces included). Every suggestion below works on what the demo built: correlations are
# not suggested, because a correlation needs at least three built days and the demo builds one.
printf '\nDone. Everything above ran on the local stack under the topic prefix %s\n' "${CRYPTOLAMBDA_TOPIC_PREFIX}"
printf 'Look next (same environment; paste this line first):\n'
printf '  export CRYPTOLAMBDA_TOPIC_PREFIX=%q CRYPTOLAMBDA_LAKE_DIR=%q\n' "${CRYPTOLAMBDA_TOPIC_PREFIX}" "${CRYPTOLAMBDA_LAKE_DIR}"
cat <<HINT
  node bin/run.js ticker                      # live Ink ticker over the speed layer
  node bin/run.js ohlcv BTCUSDT --interval 5m # the last 60 candles, Redis + warehouse merged
  node bin/run.js rewards u000001             # cashback owed vs paid, tiers
  node bin/run.js top --by spend --days 1     # the day's biggest card spenders
  node bin/run.js topics tail tier.changes --limit 5   # decoded records (dlq: rejects + reasons)
  node bin/run.js pipeline status
The stack stays up; stop it with: node bin/run.js stack down
HINT
