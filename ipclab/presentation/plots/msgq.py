"""Figures for notebook 03 (System V message queues): worker-pool throughput. No measuring here.

Takes the result dicts of :func:`ipclab.experiments.msgq_demos.pool_curve` and returns a ``Figure``.
"""

import os

import matplotlib.pyplot as plt

__all__ = ["LABELS", "pool_throughput"]

LABELS = {"cpu": "CPU-bound tasks (~1 ms of computing)", "io": "waiting tasks (~1 ms of sleep)",
          "square": "tiny tasks (one multiplication)"}


def pool_throughput(results, cpus=None):
    """Tasks per second against the number of workers, one line per kind of work.

    A dotted vertical line marks the machine's CPU count: past it, CPU-bound work cannot
    go faster, waiting work still can.
    """
    cpus = cpus or os.cpu_count()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for work in dict.fromkeys(r["work"] for r in results):
        rows = sorted((r for r in results if r["work"] == work), key=lambda r: r["workers"])
        xs = [r["workers"] for r in rows]
        ax.plot(xs, [r["per_second"] for r in rows], marker="o", label=LABELS.get(work, work))
        base = rows[0]["per_second"] / rows[0]["workers"]
        ax2.plot(xs, [r["per_second"] / base for r in rows], marker="o", label=LABELS.get(work, work))
    top = max(r["workers"] for r in results)
    ax2.plot([1, top], [1, top], color="grey", linestyle="--", linewidth=1, label="perfect scaling")
    for a in (ax, ax2):
        a.axvline(cpus, color="grey", linestyle=":", linewidth=1)
        a.set_xlabel("worker processes on one System V queue")
        a.set_xscale("log", base=2)
        a.set_xticks(sorted({r["workers"] for r in results}))
        a.get_xaxis().set_major_formatter(plt.ScalarFormatter())
        a.grid(alpha=0.3)
    ax.set_ylabel("tasks per second")
    ax.set_title("Worker pool throughput")
    ax2.set_yscale("log", base=2)
    ax2.get_yaxis().set_major_formatter(plt.ScalarFormatter())
    ax2.set_ylabel("speed-up over one worker")
    ax2.set_title(f"Speed-up ({cpus} CPUs: dotted line)")
    ax2.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
