#!/usr/bin/env bash
# scripts/bench.d/store_rate.sh: dedupe decisions per second against a single redis-server and a
# three-master Redis Cluster, in one run on the same fingerprints (examples/store_rate.rs), plus
# Redis memory per article. Starts private servers on free loopback ports and removes them.
# All nodes and the client share this machine's CPUs: on a small machine the cluster figure
# understates a deployment where each master has its own host.
# Usage: scripts/bench.d/store_rate.sh [COUNT] [WINDOW]   (defaults 20000, 64)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
COUNT="${1:-20000}"
WINDOW="${2:-64}"
say() { echo "==> [store_rate $(date +%H:%M:%S)] $*" >&2; }
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "store_rate.sh: $tool missing (scripts/setup installs it)" >&2; exit 1; }
done

say "building examples/store_rate (release)"
cargo build --release --locked --example store_rate
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/store_rate"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Free ports from the kernel; each cluster node also gets its own bus port.
read -r -a PORTS <<<"$(python3 -c '
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
')"
SINGLE="${PORTS[0]}"
NODES=("${PORTS[1]}" "${PORTS[2]}" "${PORTS[3]}")
BUSES=("${PORTS[4]}" "${PORTS[5]}" "${PORTS[6]}")

common=(--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$WORK")
redis-server --port "$SINGLE" "${common[@]}" >"$WORK/single.log" 2>&1 &
PIDS+=("$!")
for i in 0 1 2; do
  redis-server --port "${NODES[$i]}" --cluster-enabled yes --cluster-port "${BUSES[$i]}" \
    --cluster-config-file "$WORK/nodes-${NODES[$i]}.conf" "${common[@]}" >"$WORK/node-$i.log" 2>&1 &
  PIDS+=("$!")
done
for port in "$SINGLE" "${NODES[@]}"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create "${NODES[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >"$WORK/create.log"
for port in "${NODES[@]}"; do
  for _ in $(seq 300); do
    redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && break
    sleep 0.1
  done
done
say "single redis-server :$SINGLE, cluster masters :${NODES[*]} ($(nproc) CPUs shared by all and the client)"

CLUSTER_URLS="$(printf 'redis://127.0.0.1:%s,' "${NODES[@]}")"
"$BIN" --count "$COUNT" --window "$WINDOW" --single "redis://127.0.0.1:$SINGLE" --cluster "${CLUSTER_URLS%,}"
