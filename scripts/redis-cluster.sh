#!/usr/bin/env bash
# A real 3-master Redis Cluster on loopback, from Debian's redis-server (cluster mode) and redis-cli
# (--cluster create), for the cluster integration test and for trying the speed layer on a cluster.
#
#   scripts/redis-cluster.sh start <first-port> <dir>   # nodes on first-port .. first-port+2
#   scripts/redis-cluster.sh stop  <first-port> <dir>
#
# Prints the cluster URL (CRYPTOLAMBDA_REDIS_URL) on start. Each node keeps its pid, log, cluster
# config and no persistence under <dir>/<port>; stop shuts down exactly these nodes (by port).
set -euo pipefail
cmd="${1:?usage: redis-cluster.sh start|stop <first-port> <dir>}"
first="${2:?first port}"
dir="${3:?state dir}"
ports=("$first" "$((first + 1))" "$((first + 2))")

command -v redis-server >/dev/null || { echo "redis-cluster: redis-server not found (scripts/setup.sh installs it)" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cluster: redis-cli not found (Debian package redis-tools)" >&2; exit 1; }

case "$cmd" in
  start)
    start_node() {
      rm -f "$dir/$1/nodes.conf"
      redis-server --port "$1" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/$1/nodes.conf" \
        --cluster-node-timeout 2000 --save '' --appendonly no --dir "$dir/$1" --daemonize yes \
        --pidfile "$dir/$1/redis.pid" --logfile "$dir/$1/redis.log" || true
    }
    answers() { for _ in $(seq 1 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
    for p in "${ports[@]}"; do
      mkdir -p "$dir/$p"
      if redis-cli -p "$p" ping >/dev/null 2>&1; then continue; fi
      start_node "$p"
    done
    for p in "${ports[@]}"; do
      for attempt in 1 2 3 4 5; do
        answers "$p" && break
        # On a shared machine the node's port or its bus port (+10000) can be held for a moment by
        # another process's ephemeral client port (32768-60999 on Linux): the node exits at once with
        # "bind: Address already in use". Such a port is released within seconds: start it again.
        echo "redis-cluster: node $p is not up (attempt $attempt): $(tail -n 1 "$dir/$p/redis.log" 2>/dev/null)" >&2
        sleep 1
        start_node "$p"
      done
      answers "$p" || { echo "redis-cluster: node $p did not start; see $dir/$p/redis.log" >&2; exit 1; }
    done
    if ! redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'; then
      # A fresh set of nodes: assign the 16384 slots to the three masters (no replicas).
      for p in "${ports[@]}"; do redis-cli -p "$p" flushall >/dev/null; redis-cli -p "$p" cluster reset hard >/dev/null; done
      redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
        { cat "$dir/create.log" >&2; exit 1; }
    fi
    for _ in $(seq 1 100); do
      ok=1
      for p in "${ports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0; done
      [ "$ok" = 1 ] && break
      sleep 0.1
    done
    [ "$ok" = 1 ] || { echo "redis-cluster: cluster did not reach state ok" >&2; exit 1; }
    url=""
    for p in "${ports[@]}"; do url="${url:+$url,}redis://127.0.0.1:$p"; done
    echo "$url"
    ;;
  stop)
    for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
    ;;
  *) echo "usage: redis-cluster.sh start|stop <first-port> <dir>" >&2; exit 2 ;;
esac
