#!/usr/bin/env bash
# User-space instructions per relayed ICE batch (one node, 100 in flight), counted by
# callgrind: repeatable whatever else the machine is doing, where CPU seconds on this
# 2-vCPU VM drift by half from one hour to the next. The server runs under valgrind for
# two lengths of the same load; the difference over the difference in messages leaves out
# start-up and warm-up. SHA-256's share is reported apart: valgrind hides the SHA
# extensions, so it runs in software here and not in the real server.
#
#   cargo build --release --bin pqcall && cargo build --release -p pqcall-tools
#   bash benches/relay-instructions.sh [target/release/pqcall] [another build ...]
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cat > "$out/wrap.sh" <<'WRAP'
#!/bin/sh
# Runs "$@" under callgrind in its own session, so that the load tool's kill of this
# shell leaves valgrind to be stopped with SIGTERM, on which it writes its counts.
setsid valgrind --tool=callgrind --callgrind-out-file="$CG_OUT" "$@" 2>/dev/null &
wait
WRAP
chmod +x "$out/wrap.sh"
total() { grep -m1 '^summary' "$1" | awk '{print $2}'; }
sha() { callgrind_annotate --inclusive=no "$1" 2>/dev/null | awk '/compress256/ {gsub(",", "", $1); print $1; exit}'; }
for bin in "${@:-target/release/pqcall}"; do
  for n in 1000 3000; do
    export CG_OUT="$out/$(basename "$bin").$n"
    target/release/load relay --ice --count "$n" --in-flight 100 --server "$out/wrap.sh $bin" >/dev/null 2>&1 || true
    pkill -TERM -f "callgrind-out-file=$CG_OUT" || true
    for _ in $(seq 1 120); do [ -s "$CG_OUT" ] && break; sleep 1; done
  done
  a="$out/$(basename "$bin").1000"; b="$out/$(basename "$bin").3000"
  all=$(( ($(total "$b") - $(total "$a")) / 2000 ))
  s=$(( ($(sha "$b") - $(sha "$a")) / 2000 ))
  echo "$bin: $all instructions per message, $((all - s)) without SHA-256"
  callgrind_annotate --inclusive=no "$b" 2>/dev/null | sed -n '/file:function/,$p' | sed -n 3,14p | cut -c1-120
done
