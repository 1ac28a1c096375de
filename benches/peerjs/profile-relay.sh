#!/usr/bin/env bash
# Where pqcall's CPU goes while it relays 3.3 KB ICE batches with 100 in flight: `perf
# record` with DWARF call graphs on the server process, folded and drawn as a flame graph.
#
#   cargo build --profile profiling --bin pqcall && cargo install inferno
#   (cd benches/peerjs && npm ci) && bash benches/peerjs/profile-relay.sh [count] [name]
set -eu
cd "$(dirname "$0")"
count=${1:-20000}
name=${2:-relay}
out=../../docs/profiles
data=$(mktemp -d)/perf.data
node relay.mjs --pqcall ../../target/profiling/pqcall --count "$count" --perf "$data" | tee "$out/$name-bench.txt"
perf report -i "$data" --no-children -g none --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 > "$out/$name-by-object.txt"
perf report -i "$data" --no-children -g none --sort sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 > "$out/$name-by-symbol.txt"
{ perf script -i "$data" 2>/dev/null || true; } | inferno-collapse-perf > "$data.folded"
inferno-flamegraph --title "pqcall relaying 3.3 KB ICE batches, 100 in flight (perf, DWARF call graphs)" --width 1600 --minwidth 0.5 < "$data.folded" > "$out/$name-cpu.svg"
python3 categorize.py "$data.folded" | tee "$out/$name-by-activity.txt"
echo "wrote $out/$name-cpu.svg, $out/$name-by-object.txt, $out/$name-by-symbol.txt"
