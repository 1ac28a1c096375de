#!/usr/bin/env bash
# Where the CPU goes while browser calls are set up: a system-wide `perf` profile with
# call graphs (the server, Chromium's processes and threads, Node, the kernel) during
# `bench/call-setup.mjs`, folded and drawn as a flame graph (one tower per thread name),
# plus a flat table by thread. Debian's Chromium has no symbols: its frames are addresses,
# so the flame graph attributes Chromium's time to threads, not to functions.
#
#   cargo build --release --bin pqcall && cargo install inferno
#   bash web/bench/profile-call-setup.sh [calls]     # writes docs/profiles/call-setup-*
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-40}
out=../docs/profiles
data=$(mktemp -d)/perf.data
export PQCALL_BIN=${PQCALL_BIN:-../target/release/pqcall}
perf record -a -g -F 999 -o "$data" -- node bench/call-setup.mjs "$calls" | tee "$out/call-setup-bench.txt"
perf report -i "$data" --no-children -g none --sort comm --stdio 2>/dev/null | grep -v '^$' | head -40 > "$out/call-setup-by-thread.txt"
perf script -i "$data" 2>/dev/null | inferno-collapse-perf --all > "$data.folded"
inferno-flamegraph --title "CPU while $calls browser calls are set up (perf -a -g)" --width 1600 --minwidth 1 < "$data.folded" > "$out/call-setup-cpu.svg"
echo "wrote $out/call-setup-cpu.svg, $out/call-setup-by-thread.txt, $out/call-setup-bench.txt"
