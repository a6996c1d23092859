#!/usr/bin/env bash
# Fetch the Kafka broker jars pinned in stack/kafka-pom.xml from Maven Central into the cache dir,
# once. Idempotent: a `.complete` marker is written only after every jar is in place, so an
# interrupted fetch is simply redone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pom="$root/stack/kafka-pom.xml"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
cache="${CRYPTOLAMBDA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptolambda}"
dest="$cache/kafka-$version/libs"
[ -f "$dest/.complete" ] && exit 0

if ! command -v java >/dev/null 2>&1; then
  echo "fetch-kafka: Java 17+ is required (apt-get install openjdk-17-jre-headless)" >&2; exit 1
fi
if ! command -v mvn >/dev/null 2>&1; then
  echo "fetch-kafka: installing Maven to resolve the pinned jars" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq maven >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq maven >/dev/null; fi
fi

echo "fetch-kafka: fetching Kafka $version jars from Maven Central into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >&2
ls "$tmp"/kafka_2.13-"$version".jar >/dev/null
rm -rf "$dest"
mv "$tmp" "$dest"
touch "$dest/.complete"
echo "fetch-kafka: $(ls "$dest" | grep -c '\.jar$') jars ready" >&2
