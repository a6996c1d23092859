#!/usr/bin/env bash
# `npm run chaos`: fault injection against the local stack (loopback only), outside `npm test`.
# Each scenario injects one fault, recovers the way docs/runbook.md says, and ends with the counts
# (events produced / in Kafka / in the raw zone / covered by the speed layer in Redis) and, where
# the scenario builds a day, a reconcile of it that must be clean. Bounded: every command runs
# under `timeout`, the data set is fixed (seeded), the whole run takes a few minutes.
# It kills and restarts THIS checkout's own stack processes (the pids `stack up` recorded).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
case "${CRYPTOLAMBDA_KAFKA_BROKERS:-127.0.0.1:19092}" in 127.*|localhost:*) ;; *) echo "chaos: loopback broker only" >&2; exit 2 ;; esac
case "${CRYPTOLAMBDA_REDIS_URL:-redis://127.0.0.1:16379/0}" in redis://127.*|redis://localhost*) ;; *) echo "chaos: loopback Redis only" >&2; exit 2 ;; esac

npm run build >/dev/null || { echo "chaos: build failed" >&2; exit 1; }
cli() { timeout "${T:-180}" node bin/run.js "$@"; }
state="${CRYPTOLAMBDA_STATE_DIR:-$root/.cryptolambda}"
pid_of() { node -p "require('$state/run/$1.json').pid"; }
stamp="$(date -u +%Y%m%d%H%M%S)"
base="$state/chaos/$stamp"
mkdir -p "$base"
export CRYPTOLAMBDA_TOPIC_PREFIX="chaos-${stamp}."
export CRYPTOLAMBDA_LAKE_DIR="$base/lake"
DAY1=2026-11-23
RESULTS="$base/results.txt"
: >"$RESULTS"
failures=0
counts() { node scripts/chaos/counts.mjs; }
field() { node -e "process.stdout.write(String(JSON.parse(process.argv[1])[process.argv[2]]))" "$1" "$2"; }
report() { # name, verdict, detail
  printf '%-22s %-4s %s\n' "$1" "$2" "$3" | tee -a "$RESULTS"
  [ "$2" = ok ] || failures=$((failures + 1))
}
stream_idle() { cli stream --exit-when-idle 3s --metrics-every 60s "$@" >/dev/null 2>>"$base/stream.err"; }
reconcile_clean() { cli reconcile --date "$DAY1" --json >"$base/reconcile.json" 2>/dev/null; }
recon_fields() { node -e "const r=require('$base/reconcile.json');const s=r.summary;process.stdout.write(s.clean+' users '+s.users+' fields '+s.fieldsMatched+' mismatched '+s.fieldsMismatched)"; }
check_layers() { # name, expect reconcile (yes/no), extra detail
  local c k s z d
  c="$(counts)"; k="$(field "$c" inKafka)"; s="$(field "$c" speedOffsets)"; z="$(field "$c" rawZoneRows)"; d="$(field "$c" deadLetters)"
  local verdict=ok rec=""
  [ "$s" = "$k" ] || verdict=FAIL
  if [ "$2" = yes ]; then
    if reconcile_clean; then rec="reconcile clean ($(recon_fields))"; else verdict=FAIL; rec="reconcile NOT clean ($(recon_fields))"; fi
  fi
  report "$1" "$verdict" "in=$IN kafka=$k rawZone=$z redis(speed offsets)=$s dlq=$d $rec ${3:-}"
}

echo "chaos: prefix $CRYPTOLAMBDA_TOPIC_PREFIX, lake $CRYPTOLAMBDA_LAKE_DIR" >&2
cli stack up >/dev/null || { echo "chaos: stack up failed" >&2; exit 1; }

# Data: 30 h of synthetic prices (a tick every 10 s, one trade per symbol per tick: 3 x 10,800 trades)
# and 100 simulated users. (10,800 trades were 10 h only: the pipeline sensor never saw day 1 end.)
P="$(cli produce prices --source synthetic --seed 7 --start "${DAY1}T00:00:00Z" --step 10s --rate 0 --count 32400 --json)" || { echo "chaos: produce failed" >&2; exit 1; }
S="$(cli simulate --seed 7 --users 100 --rate 0.05 --json)" || { echo "chaos: simulate failed" >&2; exit 1; }
IN=$(( $(field "$P" produced) + $(field "$S" events) ))
echo "chaos: produced $IN events" >&2
stream_idle --from-beginning
cli ingest >/dev/null
cli batch --date "$DAY1" >/dev/null
check_layers "baseline" yes

# 1. kill -9 of a stream worker mid-run; a new one resumes from the last checkpoint.
node bin/run.js stream --from-beginning --checkpoint-interval 200ms >/dev/null 2>&1 &
w=$!; sleep 2.5; kill -9 "$w" 2>/dev/null; wait "$w" 2>/dev/null
stream_idle --session-timeout 6s
check_layers "kill9-stream" yes

# 2. kill -9 of the broker while a worker runs; the stack comes back, the worker recovers or exits.
node bin/run.js stream --from-beginning >/dev/null 2>"$base/broker-worker.err" &
w=$!; sleep 2.5
kill -9 "$(pid_of kafka)"; sleep 3
t0=$(date +%s); cli stack up >/dev/null; up=$(( $(date +%s) - t0 ))
( sleep 90; kill -TERM "$w" 2>/dev/null ) & guard=$!
kill -TERM "$w" 2>/dev/null; wait "$w"; wcode=$?; kill "$guard" 2>/dev/null
stream_idle
check_layers "kill9-broker" yes "(broker back in ${up}s; worker exit ${wcode} on SIGTERM)"

# 3. kill -9 of Redis (AOF fsync every second: up to the last second of checkpoints lost). The
#    worker must leave the group and exit non-zero within seconds, not stay half alive.
node bin/run.js stream --from-beginning --checkpoint-interval 200ms >/dev/null 2>"$base/redis-worker.err" &
w=$!; sleep 2.5
kill -9 "$(pid_of redis)"; t0=$(date +%s)
( sleep 60; kill -9 "$w" 2>/dev/null ) & guard=$!
wait "$w"; wcode=$?; took=$(( $(date +%s) - t0 )); kill "$guard" 2>/dev/null
cli stack up >/dev/null
stream_idle
v="worker exit ${wcode} after ${took}s"
[ "$wcode" -ne 0 ] && [ "$took" -le 30 ] || v="$v (EXPECTED non-zero within 30 s)"
check_layers "kill9-redis" yes "($v)"

# 4. SIGSTOP of one of two workers past its session timeout (6 s), then SIGCONT.
node scripts/chaos/inject.mjs reset >/dev/null
node bin/run.js stream --session-timeout 6s --checkpoint-interval 200ms --exit-when-idle 8s >/dev/null 2>&1 &
a=$!
node bin/run.js stream --session-timeout 6s --checkpoint-interval 200ms --exit-when-idle 8s >/dev/null 2>&1 &
b=$!; sleep 2
kill -STOP "$a"; sleep 9; kill -CONT "$a"
( sleep 120; kill -9 "$a" "$b" 2>/dev/null ) & guard=$!
wait "$a"; ca=$?; wait "$b"; cb=$?; kill "$guard" 2>/dev/null
stream_idle
check_layers "sigstop-worker" yes "(workers exit $ca/$cb)"

# 5. kill -9 of ingest (fresh lake), then of batch and of pipeline run; each re-run completes.
export CRYPTOLAMBDA_LAKE_DIR="$base/lake-kill"
node bin/run.js ingest --json >/dev/null 2>&1 & i=$!; sleep 1.2; kill -9 "$i" 2>/dev/null; wait "$i" 2>/dev/null
cli ingest >/dev/null
c="$(counts)"
[ "$(field "$c" ingestedOffsets)" = "$(field "$c" inKafka)" ] && v=ok || v=FAIL
report "kill9-ingest" "$v" "in=$IN kafka=$(field "$c" inKafka) ingested offsets=$(field "$c" ingestedOffsets) rawZone=$(field "$c" rawZoneRows)"
node bin/run.js batch --date "$DAY1" >/dev/null 2>&1 & i=$!; sleep 1.5; kill -9 "$i" 2>/dev/null; wait "$i" 2>/dev/null
cli batch --date "$DAY1" >/dev/null
check_layers "kill9-batch" yes
export CRYPTOLAMBDA_LAKE_DIR="$base/lake-pipeline"
node bin/run.js pipeline run --date "$DAY1" --sensor-timeout 30s >/dev/null 2>&1 & i=$!; sleep 4; kill -9 "$i" 2>/dev/null; wait "$i" 2>/dev/null
cli pipeline run --date "$DAY1" --sensor-timeout 30s >/dev/null 2>"$base/pipeline.err"; pc=$?
check_layers "kill9-pipeline" yes "(re-run exit $pc)"
export CRYPTOLAMBDA_LAKE_DIR="$base/lake"

# 6. Bad input: a record at the broker's limit on raw.prices and 30 malformed transactions. Both
#    layers move past them; each is dead-lettered (bounded envelope) by ingest and by stream.
before="$(field "$(counts)" deadLetters)"
node scripts/chaos/inject.mjs pill >/dev/null && node scripts/chaos/inject.mjs bad 30 >/dev/null
IN_BAD=31
cli ingest >/dev/null; ic=$?
stream_idle; sc=$?
c="$(counts)"; after="$(field "$c" deadLetters)"
v=ok; { [ $ic -eq 0 ] && [ $sc -eq 0 ] && [ $((after - before)) -eq $((2 * IN_BAD)) ] && [ "$(field "$c" speedOffsets)" = "$(field "$c" inKafka)" ]; } || v=FAIL
reconcile_clean || v=FAIL
report "bad-input+pill" "$v" "injected=$IN_BAD kafka=$(field "$c" inKafka) rawZone=$(field "$c" rawZoneRows) redis=$(field "$c" speedOffsets) dlq +$((after - before)) ingest exit $ic stream exit $sc reconcile $(recon_fields)"

# 7. Records deleted from Kafka before the layers read them (retention on a lagging reader).
cli produce prices --source synthetic --seed 8 --start "2026-11-24T06:00:00Z" --step 10s --rate 0 --count 600 >/dev/null
del="$(field "$(node scripts/chaos/inject.mjs delete-ahead 60)" deletedUpTo)"
cli ingest >/dev/null 2>"$base/gap-ingest.err"; g1=$?
stream_idle; g2=$?
cli ingest --accept-gap >/dev/null 2>>"$base/gap-ingest.err"; g3=$?
stream_idle --accept-gap; g4=$?
c="$(counts)"
v=ok; { [ $g1 -eq 10 ] && [ $g2 -eq 10 ] && [ $g3 -eq 0 ] && [ $g4 -eq 0 ] && [ "$(field "$c" rawZoneGaps)" -gt 0 ] && [ "$(field "$c" speedGaps)" -gt 0 ]; } || v=FAIL
lost="$(cli pipeline status --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s).lostOffsets)))')"
report "gap" "$v" "deleted=$del ingest exit $g1 stream exit $g2; accepted: ingest $g3 stream $g4; raw-zone gaps $(field "$c" rawZoneGaps) (lost offsets $lost) speed gaps $(field "$c" speedGaps); kafka=$(field "$c" inKafka) redis=$(field "$c" speedOffsets)"

# 8. Redis wiped after retention, then bootstrap: the raw zone covers the whole log, Kafka deletes
#    everything it covered, Redis loses the keyspace. A plain stream must refuse (exit 10: the logs
#    no longer start at 0); `stream --bootstrap-from-batch` rebuilds from the build of day 1 and the
#    raw zone, then day 2 is built and reconciled against the rebuilt speed layer.
DAY2=2026-11-24
# Day 2 activity of the simulated users (half of it ingested before retention, half only in Kafka):
# buys on top of the positions the batch snapshot of day 1 carries.
day2() { node -e '
  const [from, n] = [Number(process.argv[1]), Number(process.argv[2])];
  for (let i = from; i < from + n; i++) console.log(JSON.stringify({ eventId: `chaos-d2-${i}`, userId: `u${String(1 + (i % 100)).padStart(6, "0")}`,
    type: "buy", asset: "BTC", quantity: "0.001", price: "43000.5", fee: "0.25", feeAsset: "USD", eventTime: Date.parse("2026-11-24T08:00:00Z") + i * 7000 }));' "$1" "$2" >"$base/day2-$1.jsonl"
  cli produce transactions --file "$base/day2-$1.jsonl" >/dev/null 2>>"$base/bootstrap.err"; }
day2 0 150
cli ingest >/dev/null 2>>"$base/bootstrap.err"
day2 150 150
cdel="$(field "$(node scripts/chaos/inject.mjs delete-covered)" deleted)"
node scripts/chaos/inject.mjs reset >/dev/null
stream_idle; b1=$?
t0=$(date +%s)
cli stream --bootstrap-from-batch --force --exit-when-idle 3s --metrics-every 60s --json >"$base/bootstrap.json" 2>>"$base/bootstrap.err"; b2=$?
took=$(( $(date +%s) - t0 ))
seeded="$(node -e "const r=require('$base/bootstrap.json');process.stdout.write(r.bootstrap.users+' users, '+r.bootstrap.userEvents+' user events, '+r.bootstrap.prices+' prices from the lake')" 2>/dev/null)"
cli ingest >/dev/null 2>>"$base/bootstrap.err"   # the day-2 buys that only Kafka had
cli batch --date "$DAY2" >/dev/null 2>>"$base/bootstrap.err"; b3=$?
cli reconcile --date "$DAY2" --json >"$base/reconcile.json" 2>/dev/null; b4=$?
c="$(counts)"
v=ok; { [ $b1 -eq 10 ] && [ $b2 -eq 0 ] && [ $b3 -eq 0 ] && [ $b4 -eq 0 ] && [ "$(field "$c" speedOffsets)" = "$(field "$c" kafkaEnds)" ]; } || v=FAIL
[ "$(node -e "process.stdout.write(String(require('$base/reconcile.json').summary.users))")" -ge 90 ] || v=FAIL
report "wipe+bootstrap" "$v" "day-2 buys=300 (150 only in Kafka); deleted=$cdel; plain stream exit $b1; bootstrap exit $b2 in ${took}s ($seeded); kafka=$(field "$c" inKafka) ends=$(field "$c" kafkaEnds) redis=$(field "$c" speedOffsets); batch $DAY2 exit $b3; reconcile $DAY2 $(recon_fields)"

echo "--- chaos results ($RESULTS)"
cat "$RESULTS"
[ "$failures" -eq 0 ] && echo "chaos: all scenarios passed" || echo "chaos: $failures scenario(s) FAILED"
exit $(( failures > 0 ))
