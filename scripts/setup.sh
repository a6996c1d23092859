#!/usr/bin/env bash
# Installs whatever is missing for cryptolambda on a fresh Debian machine, then builds:
# Java 17 + Maven (to fetch the pinned Kafka jars), redis-server, prometheus + pushgateway, chromium,
# npm dependencies, Kafka jars.
# Idempotent and quick when everything is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  say "Node.js >= 20.19 is required (found $(node --version 2>/dev/null || echo none))"; exit 1
fi

if ! command -v java >/dev/null 2>&1; then say "installing Java 17"; apt_install openjdk-17-jre-headless; fi
if ! command -v mvn >/dev/null 2>&1; then say "installing Maven"; apt_install maven; fi
if ! command -v redis-server >/dev/null 2>&1; then say "installing redis-server"; apt_install redis-server; fi
# tmux drives the ticker's 80x24 terminal test (test/ui/ticker/tmux.int.test.ts).
if ! command -v tmux >/dev/null 2>&1; then say "installing tmux"; apt_install tmux; fi
# Metrics tests: promtool + a real Prometheus server and a Pushgateway (Debian's packages; the
# tests start their own on free loopback ports, never the packaged services).
if ! command -v promtool >/dev/null 2>&1; then say "installing prometheus"; apt_install prometheus; fi
if ! command -v prometheus-pushgateway >/dev/null 2>&1; then
  say "installing prometheus-pushgateway"; apt_install prometheus-pushgateway
fi
# Dashboard tests: Debian's chromium, driven headless by playwright-core (never a browser download).
if ! command -v chromium >/dev/null 2>&1; then say "installing chromium"; apt_install chromium; fi

# Debian's redis-server package starts a system Redis on 6379; cryptolambda runs its own on 16379
# and never touches that one.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/fetch-kafka.sh

say "building"
npm run --silent build >/dev/null
say "ready"
