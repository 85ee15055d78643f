"""Figures for notebook 01's race experiments, in the course style (:mod:`.style`).

Results come from :mod:`ipclab.experiments.race`, :mod:`ipclab.experiments.lock_cost` and
:mod:`ipclab.experiments.atomicity`; nothing is measured here. Every figure carries an
alt-text sentence (``fig.ipclab_alt_text``) built from the numbers it shows, and every
label says what the run found (a bar is called "exact" only if its count was exact).
"""

import matplotlib.pyplot as plt

from ipclab.presentation.plots import style

__all__ = ["lost_updates", "timeline", "lock_cost", "torn_reads"]


@style.styled
def lost_updates(results, title="counter++ without a lock: share of the updates lost"):
    """Lost updates (% of n*m) against processes, one line per (m, window), and the (n-1)/n line."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ns = sorted({r.n_procs for r in results})
    # a wide pale band under the data, so a measured line lying on it does not hide it
    ax.plot(ns, [100 * (n - 1) / n for n in ns], color=style.WAIT, linewidth=9, alpha=0.6, marker="",
            linestyle="-", solid_capstyle="round", zorder=1, label="(n-1)/n: every round in lock step")
    parts = []
    for i, (m, window) in enumerate(sorted({(r.m, r.window) for r in results})):
        rows = sorted((r for r in results if (r.m, r.window) == (m, window)), key=lambda r: r.n_procs)
        how = f"window {window * 1e3:g} ms" if window else "no window"
        ys = [100 * r.lost / r.expected for r in rows]
        ax.plot([r.n_procs for r in rows], ys, label=f"m = {m} each, {how}", **style.series(i))
        parts.append(f"{how} (m = {m}): " + ", ".join(f"n={r.n_procs} {y:.0f}%" for r, y in zip(rows, ys)))
    ax.set_xticks(ns)
    ax.set_ylim(bottom=0, top=100)
    alt = ("Line chart of the share of increments lost against the number of processes. "
           + "; ".join(parts) + ". A wide pale band under the lines marks (n-1)/n.")
    return style.finish(fig, ax, title=title, xlabel="processes (n)", ylabel="lost updates (% of n*m)",
                        alt=alt, loc="upper left")


@style.styled
def timeline(updates, max_updates=24):
    """One row per process, one bar per read-modify-write from its load to its store.

    The x axis is the *order* of the load and store events (by their CLOCK_MONOTONIC stamps),
    not their duration: a loaded machine stretches some sleeps, never the order. Lost
    updates are vermillion, hatched, with an x at their store; counted ones bluish green.
    """
    ups = sorted(updates, key=lambda u: u.t_load)[:max_updates]
    events = sorted([(u.t_load, 0, id(u)) for u in ups] + [(u.t_store, 1, id(u)) for u in ups])
    rank = {(kind, key): k for k, (_, kind, key) in enumerate(events)}
    procs = sorted({u.proc for u in ups})
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.9 * len(procs)))
    for u in ups:
        x0, x1 = rank[(0, id(u))], rank[(1, id(u))]
        ax.barh(u.proc, x1 - x0, left=x0, height=0.35, color=style.BAD if u.lost else style.GOOD,
                hatch="//" if u.lost else "", edgecolor="black", linewidth=0.5)
        ax.text((x0 + x1) / 2, u.proc + 0.32, f"{u.read}→{u.wrote}", fontsize=8, ha="center")
        if u.lost:
            ax.plot(x1, u.proc, "x", color="black", ms=10, mew=2)
    ax.set_yticks(procs, [f"process {p}" for p in procs])
    ax.set_ylim(min(procs) - 0.6, max(procs) + 0.7)
    ax.invert_yaxis()
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(facecolor=style.GOOD, edgecolor="black", label="counted"),
                       Patch(facecolor=style.BAD, hatch="//", edgecolor="black", label="lost (× at its store)")],
              loc="upper left", bbox_to_anchor=(1.01, 1))
    lost = sum(u.lost for u in ups)
    alt = (f"Timeline of the first {len(ups)} read-modify-writes of {len(procs)} processes, one row per "
           f"process, each bar from a load to its store; {lost} of them are marked lost (hatched, with an x).")
    return style.finish(fig, ax, title=f"What really happened: first {len(ups)} read-modify-writes, {lost} lost",
                        xlabel="load and store events in time order (rank, not seconds)", ylabel="process",
                        alt=alt, legend=False)


def _count_label(r):
    return "exact" if r.lost == 0 else f"{r.lost:,} lost"


@style.styled
def lock_cost(pairs, futex=None, title="The cost of the lock, and whether the kernel was entered"):
    """Left: µs per increment without and with the semaphore (each bar says if its count was exact).

    Right, for the locked runs: voluntary context switches per 1000 increments (a process
    slept in the kernel) and, when *futex* (``{(n, lock): calls}`` from strace, whole runs)
    is given, the futex calls the lock added (locked run minus unlocked run) per 1000
    increments. *pairs* is ``[(unlocked, locked)]`` :class:`~ipclab.experiments.lock_cost.LockRun`.
    """
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    x = list(range(len(pairs)))
    for k, (which, label) in enumerate(((0, "no lock"), (1, "POSIX semaphore around the increment"))):
        runs = [p[which] for p in pairs]
        xs = [i + (k - 0.5) * 0.38 for i in x]
        bars = ax.bar(xs, [r.us_per_increment for r in runs], width=0.38, label=label, **style.bar(k))
        ax.bar_label(bars, [f"{r.us_per_increment:.2f}\n{_count_label(r)}" for r in runs], fontsize=8)
    locked = [b for _, b in pairs]
    series = [("voluntary context switches", [1000 * r.switches_per_increment for r in locked])]
    if futex and all(futex.get((r.n_procs, lk)) is not None for r in locked for lk in (False, True)):
        series.append(("futex calls added by the lock (strace -f)",
                       [1000 * (futex[(r.n_procs, True)] - futex[(r.n_procs, False)]) / r.expected for r in locked]))
    w = 0.8 / len(series)
    for k, (label, ys) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * w for i in x]
        bars = ax2.bar(xs, ys, width=w, label=label, **style.bar(k + 2))
        ax2.bar_label(bars, [f"{v:.2f}" for v in ys], fontsize=8)
    for a in (ax, ax2):
        a.set_xticks(x, [f"n = {a_.n_procs}" for a_, _ in pairs])
        a.margins(y=0.3)
        a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
    ax.set_title("time per increment (wall clock / n*m)")
    ax.set_ylabel("µs per increment")
    ax2.set_title("entries into the kernel, locked runs")
    ax2.set_ylabel("per 1000 increments")
    parts = []
    for (a_, b_), *vals in zip(pairs, *[ys for _, ys in series]):
        parts.append(f"n={a_.n_procs}: {a_.us_per_increment:.2f} µs without the lock ({_count_label(a_)}), "
                     f"{b_.us_per_increment:.2f} µs with it ({_count_label(b_)}); per 1000 locked increments "
                     + ", ".join(f"{v:.2f} {lbl}" for (lbl, _), v in zip(series, vals)))
    alt = "Two bar charts. " + "; ".join(parts) + "."
    return style.finish(fig, [ax, ax2], title=title, xlabel="processes incrementing one counter",
                        alt=alt, legend=False)


@style.styled
def torn_reads(results, title="Torn reads: loads that saw a value no store wrote"):
    """One horizontal bar per access path: torn loads per million, with the raw counts written."""
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.6 * len(results)))
    ys = list(range(len(results)))
    for y, r in zip(ys, results):
        ax.barh(y, r.per_million, **style.bar(0 if r.torn else 2))
        ax.annotate(f"{r.torn:,} of {r.reads:,} loads", (r.per_million, y), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(ys, [r.method for r in results])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.35 * max([r.per_million for r in results] + [1.0]))
    alt = ("Horizontal bar chart of torn reads per million loads by the writer's access path: "
           + "; ".join(f"{r.method} {r.torn:,} torn of {r.reads:,}" for r in results) + ".")
    return style.finish(fig, ax, title=title, xlabel="torn loads per million loads",
                        ylabel="how the writer stores", alt=alt, legend=False)
