#!/usr/bin/env bash
# Redis's own instructions per relayed ICE batch across two cluster nodes (100 in
# flight), counted by callgrind: repeatable whatever else the machine is doing, where
# Redis's CPU seconds on this 2-vCPU VM drift by a third within minutes. Redis's time per
# event is what caps a cluster's relay throughput (BENCHMARKS.md, "Across cluster nodes").
#
# A private redis-server (Debian's, on port $PORT, default 6391, nothing saved) runs
# under valgrind for two lengths of the same load (`load relay --ice --cluster`, the
# nodes and the tool pointed at it by PQCALL_LOAD_REDIS); the difference over the
# difference in events leaves out start-up and warm-up. Both lengths pass the log's
# window of 1,000 events by more than an eighth, so both include its eviction.
#
#   cargo build --release --features cluster --bin pqcall && cargo build --release -p pqcall-tools
#   bash benches/cluster/redis-instructions.sh [target/release/pqcall] [another build ...]
set -eu
cd "$(dirname "$0")/../.."
port=${PORT:-6391}
out=$(mktemp -d)
for bin in "${@:-target/release/pqcall}"; do
  name=$(basename "$bin")
  for n in 2000 6000; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$name.$n" \
      redis-server --port "$port" --save '' --appendonly no >"$out/valgrind.log" 2>&1 &
    vg=$!
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.5; done
    PQCALL_LOAD_REDIS="redis://127.0.0.1:$port" target/release/load relay --ice --cluster \
      --count "$n" --in-flight 100 --server "$bin" >"$out/$name.$n.txt" 2>&1
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$vg" || true
  done
  total() { awk '/^summary/ {print $2}' "$1"; }
  per=$((($(total "$out/$name.6000") - $(total "$out/$name.2000")) / 4000))
  echo "$bin: $per Redis instructions per relayed event"
  grep -h 'Redis per message' "$out/$name.6000.txt" || true
done
