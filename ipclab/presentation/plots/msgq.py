"""Figures for notebook 03 (System V message queues): worker-pool throughput. No measuring here.

Takes the result dicts of :func:`ipclab.experiments.msgq_demos.pool_curve` and returns a
``Figure`` in the course style (:mod:`.style`: Okabe-Ito colours, each series with its own
marker and line style) with an alt-text sentence built from the run (``fig.ipclab_alt_text``).
"""

import os

import matplotlib.pyplot as plt

from ipclab.presentation.plots import style

__all__ = ["LABELS", "pool_throughput", "usable_cpus"]

LABELS = {"cpu": "CPU-bound tasks (a computing loop)", "io": "waiting tasks (a 1 ms sleep)",
          "square": "tiny tasks (one multiplication)"}


def usable_cpus():
    """The CPUs this process may run on (its affinity mask), which can be fewer than ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not Linux
        return os.cpu_count() or 1


def _workers(n):
    return f"{n} worker{'s' if n != 1 else ''}"


@style.styled
def pool_throughput(results, cpus=None):
    """Tasks per second against the number of workers, one line per kind of work.

    Left: tasks per second; right: speed-up over one worker, next to a dashed "perfect
    scaling" line. A dotted vertical line marks *cpus* (default: the CPUs this process may
    use), the most CPU-bound tasks that can compute at the same time.
    """
    cpus = cpus or usable_cpus()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    parts = []
    for i, work in enumerate(dict.fromkeys(r["work"] for r in results)):
        rows = sorted((r for r in results if r["work"] == work), key=lambda r: r["workers"])
        xs = [r["workers"] for r in rows]
        label = LABELS.get(work, work)
        ax.plot(xs, [r["per_second"] for r in rows], label=label, **style.series(i))
        base = rows[0]["per_second"] / rows[0]["workers"]
        ups = [r["per_second"] / base for r in rows]
        ax2.plot(xs, ups, label=label, **style.series(i))
        parts.append(f"{label}: " + ", ".join(f"{_workers(r['workers'])} {r['per_second']:.0f}/s ({u:.1f}x)"
                                             for r, u in zip(rows, ups)))
    top = max(r["workers"] for r in results)
    ax2.plot([1, top], [1, top], color=style.NEUTRAL, linestyle="--", linewidth=1, marker="",
             label="perfect scaling")
    for a in (ax, ax2):
        a.axvline(cpus, color=style.NEUTRAL, linestyle=":", linewidth=1)
        a.set_xscale("log", base=2)
        a.set_xticks(sorted({r["workers"] for r in results}))
        a.get_xaxis().set_major_formatter(plt.ScalarFormatter())
    ax.set_ylabel("tasks per second")
    ax.set_title("Worker pool throughput")
    ax2.set_yscale("log", base=2)
    ax2.get_yaxis().set_major_formatter(plt.ScalarFormatter())
    ax2.set_ylabel("speed-up over one worker (x)")
    ax2.set_title(f"Speed-up ({cpus} usable CPU{'s' if cpus != 1 else ''}: dotted line)")
    ax.legend(fontsize=8, loc="upper left")
    ax2.legend(fontsize=8, loc="upper left")
    alt = (f"Two line charts against the number of worker processes on one System V queue (log scale), "
           f"a dotted line at {cpus} usable CPU{'s' if cpus != 1 else ''}. Tasks per second and speed-up "
           "over one worker: " + "; ".join(parts) + ". A dashed line marks perfect scaling.")
    return style.finish(fig, [ax, ax2], title="A worker pool on one System V queue: throughput and speed-up",
                        xlabel="worker processes on one System V queue", alt=alt, legend=False)
