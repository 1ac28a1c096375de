"""Plots the soak's server memory curve (from `load streams ... --rss-csv FILE`) into
docs/soak-rss.png.

    target/release/examples/load streams --streams 10000 --rate 200 --seconds 600 --rss-csv /tmp/soak.csv
    pip install matplotlib && python3 benches/plot_rss.py /tmp/soak.csv
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
xs = [float(r["seconds"]) / 60 for r in rows]
ys = [float(r["rss_mib"]) for r in rows]
fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
ax.plot(xs, ys, marker=".")
ax.set_xlabel("minutes since the 10,000 streams opened")
ax.set_ylabel("server RSS, MiB")
ax.set_ylim(0, max(ys) * 1.2)
ax.set_title("pqcall soak: 10k open SSE streams, events published throughout")
ax.grid(True, alpha=0.3)
fig.tight_layout()
fig.savefig("docs/soak-rss.png")
print("wrote docs/soak-rss.png")
