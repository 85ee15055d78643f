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
    """One row per process: a bar from each load to its store; lost updates in red with an x."""
    ups = updates[:max_updates]
    procs = sorted({u.proc for u in ups})
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.9 * len(procs)))
    for u in ups:
        color = "tab:red" if u.lost else "tab:green"
        ax.plot([u.t_load * 1e3, u.t_store * 1e3], [u.proc, u.proc], color=color, lw=7,
                solid_capstyle="butt", alpha=0.75)
        ax.text(u.t_load * 1e3, u.proc + 0.22, f"{u.read}→{u.wrote}", fontsize=7)
        if u.lost:
            ax.plot(u.t_store * 1e3, u.proc, "x", color="black", ms=9, mew=2)
    ax.set_yticks(procs)
    ax.set_yticklabels([f"process {p}" for p in procs])
    ax.set_ylim(min(procs) - 0.6, max(procs) + 0.7)
    ax.invert_yaxis()
    ax.set_xlabel("time since the first load (ms)   bar: load … store;  red ×: update overwritten (lost)")
    lost = sum(u.lost for u in ups)
    ax.set_title(f"what really happened: first {len(ups)} read-modify-writes, {lost} lost")
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
