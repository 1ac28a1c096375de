#!/usr/bin/env bash
# User-space instructions per relayed ICE batch (one node, 100 in flight), counted by
# callgrind: repeatable whatever else the machine is doing, where CPU seconds on this
# 2-vCPU VM drift by half from one hour to the next. The server runs under valgrind for
# two lengths of the same load; the difference over the difference in messages leaves out
# start-up and warm-up. SHA-256's share is reported apart: valgrind hides the SHA
# extensions, so it runs in software here and not in the real server.
#
# With CLUSTER=1, the same over two cluster nodes and Redis (`load relay --cluster`;
# build with `--features cluster`): the instructions of both nodes, summed.
#
#   cargo build --release --bin pqcall && cargo build --release -p pqcall-tools
#   bash benches/relay-instructions.sh [target/release/pqcall] [another build ...]
set -eu
mode=""
[ "${CLUSTER:-}" = 1 ] && mode="--cluster"
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cat > "$out/wrap.sh" <<'WRAP'
#!/bin/sh
# Runs "$@" under callgrind in its own session, so that the load tool's kill of this
# shell leaves valgrind to be stopped with SIGTERM, on which it writes its counts.
setsid valgrind --tool=callgrind --callgrind-out-file="$CG_OUT.%p" "$@" 2>/dev/null &
wait
WRAP
chmod +x "$out/wrap.sh"
# The count of the first function matching $3 in every process of run $1 (one node, or
# both), self ($2 = no) or with its callees ($2 = yes).
cost() {
  for f in "$1".*; do
    callgrind_annotate --inclusive="$2" "$f" 2>/dev/null | awk -v p="$3" '$0 ~ p {gsub(",", "", $1); print $1; exit}'
  done | awk '{s += $1} END {print s + 0}'
}
# Over every process of a run, less the calibration of quanta's clock (governor's rate
# limiter makes one at start-up): under valgrind it loops for as long as the clock takes
# to settle, a different count every run.
total() {
  all=$(cat "$1".* | awk '/^summary/ {s += $2} END {print s}')
  echo $((all - $(cost "$1" yes 'quanta::Clock as core::default::Default>::default')))
}
sha() { cost "$1" no compress256; }
for bin in "${@:-target/release/pqcall}"; do
  for n in 1000 3000; do
    export CG_OUT="$out/$(basename "$bin").$n"
    target/release/load relay --ice $mode --count "$n" --in-flight 100 --server "$out/wrap.sh $bin" >/dev/null 2>&1 || true
    pkill -TERM -f "callgrind-out-file=$CG_OUT" || true
    while pgrep -f "callgrind-out-file=$CG_OUT" >/dev/null; do sleep 1; done
  done
  a="$out/$(basename "$bin").1000"; b="$out/$(basename "$bin").3000"
  all=$(( ($(total "$b") - $(total "$a")) / 2000 ))
  s=$(( ($(sha "$b") - $(sha "$a")) / 2000 ))
  echo "$bin: $all instructions per message, $((all - s)) without SHA-256"
  callgrind_annotate --inclusive=no "$b".* 2>/dev/null | sed -n '/file:function/,$p' | sed -n 3,14p | cut -c1-120
done
