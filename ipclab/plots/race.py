"""Figures for notebook 01's race experiments (results come from :mod:`ipclab.race`)."""

import matplotlib.pyplot as plt


def lost_updates(results, title="counter++ without a lock: updates lost"):
    """Lost updates (as a share of n*m) against the number of processes, one line per (m, window)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for m, window in sorted({(r.m, r.window) for r in results}):
        rows = sorted((r for r in results if (r.m, r.window) == (m, window)), key=lambda r: r.n_procs)
        how = f"window {window * 1e3:g} ms" if window else "no window"
        ax.plot([r.n_procs for r in rows], [100 * r.lost / r.expected for r in rows], "o-",
                label=f"m = {m} each, {how}")
    ax.set_xlabel("processes (n)")
    ax.set_ylabel("lost updates (% of n*m)")
    ax.set_xticks(sorted({r.n_procs for r in results}))
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def timeline(updates, max_updates=24):
    """One row per process, one bar per read-modify-write from its load to its store.

    The x axis is the *order* of the load and store events (by their CLOCK_MONOTONIC stamps),
    not their duration: a loaded machine stretches some sleeps, never the order. Lost updates
    are red with an x at their store.
    """
    ups = sorted(updates, key=lambda u: u.t_load)[:max_updates]
    events = sorted([(u.t_load, 0, id(u)) for u in ups] + [(u.t_store, 1, id(u)) for u in ups])
    rank = {(kind, key): k for k, (_, kind, key) in enumerate(events)}
    procs = sorted({u.proc for u in ups})
    fig, ax = plt.subplots(figsize=(10, 1.3 + 0.9 * len(procs)))
    for u in ups:
        x0, x1 = rank[(0, id(u))], rank[(1, id(u))]
        color = "tab:red" if u.lost else "tab:green"
        ax.plot([x0, x1], [u.proc, u.proc], color=color, lw=8, solid_capstyle="butt", alpha=0.75)
        ax.plot([x0], [u.proc], "|", color="black", ms=14)
        ax.text((x0 + x1) / 2, u.proc + 0.3, f"{u.read}→{u.wrote}", fontsize=8, ha="center")
        if u.lost:
            ax.plot(x1, u.proc, "x", color="black", ms=10, mew=2)
    ax.set_yticks(procs)
    ax.set_yticklabels([f"process {p}" for p in procs])
    ax.set_ylim(min(procs) - 0.6, max(procs) + 0.7)
    ax.invert_yaxis()
    ax.set_xlabel("load and store events in time order   (bar: load | … store;  red ×: this update was overwritten)")
    lost = sum(u.lost for u in ups)
    ax.set_title(f"what really happened: first {len(ups)} read-modify-writes, {lost} of them lost")
    fig.tight_layout()
    return fig


def lock_cost(pairs):
    """Time per increment without and with the lock; *pairs* is [(unlocked, locked) CountResult]."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = [f"n={a.n_procs}" for a, _ in pairs]
    x = range(len(pairs))
    no = [1e6 * a.elapsed / a.expected for a, _ in pairs]
    yes = [1e6 * b.elapsed / b.expected for _, b in pairs]
    ax.bar([i - 0.2 for i in x], no, width=0.4, label="no lock (wrong count)")
    ax.bar([i + 0.2 for i in x], yes, width=0.4, label="POSIX semaphore (exact)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels)
    ax.set_ylabel("µs per increment (wall clock / n*m)")
    ax.set_title("the cost of locking")
    ax.legend()
    fig.tight_layout()
    return fig
