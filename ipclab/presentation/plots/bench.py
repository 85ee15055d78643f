"""Figures for the measured IPC ranking (results come from :mod:`ipclab.bench.runner`; no measuring here)."""

import matplotlib.pyplot as plt

from ipclab.bench import catalog
from ipclab.core.units import human

__all__ = ["bandwidth", "latency", "histogram", "ring_depth"]

# Colours and markers come from the one table of mechanisms (Okabe-Ito, a colour per chapter row,
# a marker per mechanism); line style by family, so two series differ in at least two ways.
_ROW_COLOR = catalog.ROW_COLOURS
_LINE = {"POSIX": "-", "System V": "--", "file": "-.", "socket": ":", "stream": "-"}


_size_label = human


def bandwidth(records, indicative=None, title="Throughput between two processes (median, bars: min-max)"):
    """GB/s against message size, log-log, one line per mechanism; the chapter's values as dotted lines."""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    rows = [r for r in records if r["kind"] == "throughput" and not r["skipped"]]
    for mech in dict.fromkeys(r["mechanism"] for r in rows):
        pts = sorted((r for r in rows if r["mechanism"] == mech), key=lambda r: r["size"])
        xs, ys = [r["size"] for r in pts], [r["gbps"] for r in pts]
        err = [[r["gbps"] - r["gbps_min"] for r in pts], [r["gbps_max"] - r["gbps"] for r in pts]]
        ax.errorbar(xs, ys, yerr=err, fmt=catalog.marker(mech) + _LINE.get(pts[0]["family"], "-"), ms=4,
                    capsize=2, color=catalog.colour(mech), label=mech)
    copies = sorted((r for r in records if r["kind"] == "memcpy"), key=lambda r: r["size"])
    if copies:
        ax.plot([r["size"] for r in copies], [r["gbps"] for r in copies], "k:", lw=2,
                label="memcpy (this machine)")
    if indicative is None:
        from ipclab.bench.runner import INDICATIVE_GBPS as indicative
    if rows or copies:
        x_right = max([r["size"] for r in rows + copies])
        by_value = {}
        for key, (name, gbps) in indicative.items():
            by_value.setdefault(gbps, []).append((key, name))
        for gbps, rows_ in by_value.items():
            color = _ROW_COLOR.get(rows_[0][0], "grey")
            ax.axhline(gbps, color=color, lw=0.8, ls=(0, (1, 3)), alpha=0.8)
            ax.annotate(f"chapter: {', '.join(n for _, n in rows_)} ~{gbps:g}", (x_right, gbps),
                        xytext=(4, 0), textcoords="offset points", fontsize=7, va="center",
                        color=color, annotation_clip=False)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    sizes = sorted({r["size"] for r in rows + copies})
    ax.set_xticks(sizes)
    ax.set_xticklabels([_size_label(s) for s in sizes])
    ax.set_xlabel("message size")
    ax.set_ylabel("GB/s (10^9 bytes/s, received and checked)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.subplots_adjust(right=0.78)  # room for the chapter's labels
    fig.ipclab_alt_text = ("Log-log chart of throughput (GB/s) against message size, one line per mechanism: "
                           + "; ".join(f"{r['mechanism']} {_size_label(r['size'])} {r['gbps']:.2f} GB/s" for r in rows)
                           + (". A dotted black line is memcpy on this machine" if copies else "")
                           + ". Dotted horizontal lines mark the chapter's indicative values.")
    return fig


def latency(records, title="Ping-pong round trip (bar: median, line up to p99)"):
    """One bar per (mechanism, pinning): the median round trip, a thin line up to the p99."""
    rows = [r for r in records if r["kind"] == "latency"]
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.38 * max(1, len(rows))))
    labels = [f"{r['mechanism']} ({r['pin']})" for r in rows]
    ys = range(len(rows))
    ax.barh(ys, [r["median_us"] for r in rows], color=[catalog.colour(r["mechanism"]) for r in rows],
            alpha=0.8)
    for y, r in zip(ys, rows):
        ax.plot([r["median_us"], r["p99_us"]], [y, y], color="black", lw=1)
        ax.plot(r["p99_us"], y, "|", color="black", ms=10)
        ax.annotate(f"{r['median_us']:.1f} / {r['p99_us']:.0f} us", (r["p99_us"], y), xytext=(5, 0),
                    textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    # linear from 0: a bar's length must be proportional to its value (a log axis would cut the bars)
    ax.set_xlim(0, 1.3 * max([r["p99_us"] for r in rows] + [1.0]))
    ax.set_xlabel("microseconds per round trip: bar = median, line to p99")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.ipclab_alt_text = ("Horizontal bars of the median ping-pong round trip, with a line up to the 99th percentile: "
                           + "; ".join(f"{lab} median {r['median_us']:.1f} us, p99 {r['p99_us']:.0f} us"
                                       for lab, r in zip(labels, rows)) + ".")
    return fig


def histogram(record, ax=None):
    """The distribution of one latency record's round trips (log bins): shows bimodality."""
    import numpy as np
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3))
    else:
        fig = ax.figure
    edges = np.array(record["edges_us"])
    ax.stairs(record["hist"], edges, fill=True, alpha=0.6, color=catalog.colour(record["mechanism"]))
    ax.axvline(record["median_us"], color="black", lw=1, label=f"median {record['median_us']:.1f} us")
    ax.axvline(record["p99_us"], color="black", lw=1, ls="--", label=f"p99 {record['p99_us']:.0f} us")
    ax.set_xscale("log")
    ax.set_xlabel("round trip (us, log bins)")
    ax.set_ylabel("round trips")
    ax.set_title(f"{record['mechanism']} ping-pong, {record['pin']}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.ipclab_alt_text = (f"Histogram (log bins) of {record['mechanism']}'s ping-pong round trips, {record['pin']}: "
                           f"median {record['median_us']:.1f} us (solid line), 99th percentile "
                           f"{record['p99_us']:.0f} us (dashed line).")
    return fig


def ring_depth(records, title="64 B messages through a shared-memory ring"):
    """Messages per second against ring depth: a handshake per message vs per quarter ring."""
    fig, ax = plt.subplots(figsize=(7, 4))
    rows = [r for r in records if r["kind"] == "ring_depth" and not r["skipped"]]
    one = sorted((r for r in rows if r["batch"] == 1), key=lambda r: r["slots"])
    many = sorted((r for r in rows if r["batch"] > 1 or r["slots"] < 4), key=lambda r: r["slots"])
    for pts, style, label in ((one, "o-", "one semaphore handshake per message"),
                              (many, "s-", "one handshake per quarter ring (batch = slots/4)")):
        if pts:
            ax.errorbar([r["slots"] for r in pts], [r["msgs_per_s"] for r in pts],
                        yerr=[[r["msgs_per_s"] * (1 - r["gbps_min"] / r["gbps"]) for r in pts],
                              [r["msgs_per_s"] * (r["gbps_max"] / r["gbps"] - 1) for r in pts]],
                        fmt=style, capsize=2, label=label)
    others = [r for r in records if r["kind"] in ("throughput",) and not r["skipped"]
              and r["mechanism"] in ("pipe", "unix") and r["size"] == (rows[0]["size"] if rows else 64)]
    for r in others:
        ax.axhline(r["msgs_per_s"], color=catalog.colour(r["mechanism"]), ls=":",
                   label=f"{r['mechanism']} (same size)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    depths = sorted({r["slots"] for r in rows})
    ax.set_xticks(depths)
    ax.set_xticklabels([str(d) for d in depths])
    ax.set_xlabel("ring depth (slots)")
    ax.set_ylabel("messages per second (received, checked)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.ipclab_alt_text = ("Log-log chart of 64-byte messages per second against ring depth: "
                           + "; ".join(f"{r['slots']} slots, handshake every {r['batch']}: {r['msgs_per_s']:,.0f}/s"
                                       for r in rows)
                           + "".join(f"; {r['mechanism']} (dotted line): {r['msgs_per_s']:,.0f}/s" for r in others) + ".")
    return fig
