"""Notebook 00's live ranking, drawn so that it claims no more than the run measured.

One panel per message size; one row per mechanism, fastest median at the top; a dot at
the median of the timed phases and a line from the slowest to the fastest phase; the
rank written on the left, shared ("3-5") where the ranges overlap
(:func:`ipclab.experiments.ranking.separated`). Mechanisms are named on the axis, so no
colour has to be told apart; tie groups are shaded in alternation. Nothing is measured here.
"""

import matplotlib.pyplot as plt
from matplotlib.ticker import LogLocator, NullFormatter

from ipclab.core.units import human
from ipclab.experiments.ranking import rank_label, separated
from ipclab.presentation.plots import style

__all__ = ["ranking"]


_size_label = human


@style.styled
def ranking(records, sizes=None, title="Live ranking: median and range of the timed phases"):
    """Dot-and-range plot of GB/s per mechanism, one panel per size, ranks only where separated."""
    sizes = sizes or sorted({r["size"] for r in records if r.get("kind") == "throughput"})
    tables = {s: separated(records, s) for s in sizes}
    n_rows = max(len(t) for t in tables.values())
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 0.9 + 0.36 * n_rows), squeeze=False)
    axes = list(axes[0])
    parts = []
    for ax, size in zip(axes, sizes):
        rows = tables[size]
        for y, row in enumerate(rows):
            if row["group"] % 2 == 0:
                ax.axhspan(y - 0.5, y + 0.5, color=style.WAIT, alpha=0.35, linewidth=0)
            ax.plot([row["gbps_min"], row["gbps_max"]], [y, y], color="black", linewidth=1.5, marker="|",
                    markersize=8, linestyle="-")
            ax.plot([row["gbps"]], [y], color=style.color(0), marker="o", linestyle="none", markersize=6)
        ax.set_yticks(range(len(rows)), [f"{rank_label(r):>5}  {r['mechanism']}" for r in rows],
                      fontfamily="monospace")
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_minor_formatter(NullFormatter())   # decades only: minor labels collide
        ax.set_title(f"{_size_label(size)} messages")
        ax.set_xlabel("GB/s (10^9 bytes/s, log scale)")
        ax.set_ylabel("rank  mechanism")
        groups = max((r["group"] for r in rows), default=0)
        parts.append(f"at {_size_label(size)}, {len(rows)} mechanisms fall into {groups} separated ranks: "
                     + ", ".join(f"{rank_label(r)} {r['mechanism']} {r['gbps']:.3g}" for r in rows))
    handles = [plt.Line2D([], [], color=style.color(0), marker="o", linestyle="none", label="median of the phases"),
               plt.Line2D([], [], color="black", marker="|", markersize=8, label="slowest to fastest phase")]
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False)
    alt = "Dot plot of throughput by mechanism, one panel per message size; " + "; ".join(parts) + "."
    style.finish(fig, axes, title=title, alt=alt, legend=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
