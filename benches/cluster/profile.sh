#!/usr/bin/env bash
# Where two cluster nodes' CPU goes while they relay 3.3 KB ICE batches (the caller's
# POSTs on node 1, the callee's stream on node 2, one Redis): `perf record` with DWARF
# call graphs on both node processes at once, folded and drawn as one flame graph.
#
#   cargo build --release --features cluster --bin pqcall && cargo build --release -p pqcall-tools
#   cargo install inferno
#   bash benches/cluster/profile.sh [in-flight] [name]
set -eu
cd "$(dirname "$0")/../.."
inflight=${1:-100}
name=${2:-cluster-relay}
out=docs/profiles
tmp=$(mktemp -d)
# In a session of its own: the load tool ends its process group when it is done.
setsid target/release/load relay --ice --cluster --count 60000 --in-flight "$inflight" > "$out/$name-bench.txt" 2>&1 &
load=$!
# Both nodes are up once two servers with the load tool's prefix run.
pids=""
for _ in $(seq 100); do
  pids=$(pgrep -f "redis-prefix pqcall-load-$load " | paste -sd, || true)
  [ "$(echo "$pids" | tr ',' '\n' | grep -c .)" -ge 2 ] && break
  sleep 0.1
done
sleep 2 # past the warm-up
perf record -F 499 --call-graph dwarf,16384 -p "$pids" -o "$tmp/perf.data" -- sleep 5 2>/dev/null
wait "$load" || true
cat "$out/$name-bench.txt"
perf report -i "$tmp/perf.data" --no-children -g none --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 > "$out/$name-by-object.txt"
perf report -i "$tmp/perf.data" --no-children -g none --sort sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 > "$out/$name-by-symbol.txt"
{ perf script -i "$tmp/perf.data" 2>/dev/null || true; } | inferno-collapse-perf > "$tmp/folded"
inferno-flamegraph --title "two pqcall nodes relaying 3.3 KB ICE batches through Redis, $inflight in flight (perf, DWARF call graphs)" \
  --width 1600 --minwidth 0.5 < "$tmp/folded" > "$out/$name-cpu.svg"
cp "$tmp/folded" "/tmp/$name.folded"
echo "wrote $out/$name-cpu.svg, $out/$name-by-object.txt, $out/$name-by-symbol.txt (folded stacks in /tmp/$name.folded)"
