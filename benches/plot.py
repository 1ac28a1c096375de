"""Plots relay latency CDFs from the load tool's CSV files into docs/relay-latency.png.

    target/release/load relay --count 5000 --csv /tmp/sse.csv
    target/release/load ws-relay --count 5000 --csv /tmp/ws.csv
    pip install matplotlib && python3 benches/plot.py /tmp/sse.csv /tmp/ws.csv
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
for path in sys.argv[1:]:
    rows = list(csv.DictReader(open(path)))
    xs = sorted(float(r["latency_us"]) for r in rows)
    n = len(xs)
    ys = [(i + 1) / n for i in range(n)]
    label = rows[0]["transport"]
    p50, p99 = xs[n // 2], xs[int(n * 0.99)]
    ax.plot(xs, ys, label=f"{label}: p50 {p50:.0f} µs, p99 {p99:.0f} µs")
ax.set_xscale("log")
ax.set_xlabel("one-way latency, µs (log scale)")
ax.set_ylabel("fraction of messages")
ax.set_title("Relay of a 5.1 KB offer on loopback, 2-core VM")
ax.grid(True, which="both", alpha=0.3)
ax.legend(loc="lower right")
fig.tight_layout()
fig.savefig("docs/relay-latency.png")
print("wrote docs/relay-latency.png")
