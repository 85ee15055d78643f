"""Figures for notebook 02 (System V semaphores), drawn from :mod:`ipclab.sysv_demos` results.

Nothing is measured here: each function takes what an experiment returned and returns a
matplotlib ``Figure``.
"""

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

WAIT, WORK, HOLD, EAT, BAD = "#d9d9d9", "#4c72b0", "#dd8452", "#55a868", "#c44e52"


def counting_timeline(result, ax=None):
    """One row per worker: grey while it waits for a slot (P blocks), blue while inside."""
    fig, ax = _axes(ax, (8, 0.45 * result["workers"] + 1.4))
    for r in result["rows"]:
        y = r["worker"]
        ax.barh(y, r["entered"] - r["asked"], left=r["asked"], color=WAIT, edgecolor="none")
        ax.barh(y, r["left"] - r["entered"], left=r["entered"], color=WORK, edgecolor="none")
    ax.set_yticks(range(result["workers"]), [f"worker {r['worker']}" for r in result["rows"]])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since start")
    ax.set_title(f"Counting semaphore with {result['slots']} units: "
                 f"at most {result['max_inside']} workers inside at once")
    ax.legend(handles=[Patch(color=WAIT, label="waiting in P"), Patch(color=WORK, label="inside (holds a unit)")],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
    return fig


def dining(results, axes=None):
    """Side by side, one panel per run of :func:`ipclab.sysv_demos.dining`: who held, ate, timed out, when."""
    results = list(results)
    if axes is None:
        fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 0.5 * results[0]["n"] + 1.8),
                                 squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, run in zip(axes, results):
        for i, r in enumerate(run["results"]):
            _philosopher_row(ax, i, r["events"])
        ax.set_yticks(range(run["n"]), [f"philosopher {i}" for i in range(run["n"])])
        ax.invert_yaxis()
        ax.set_xlabel("seconds since start")
        how = "both forks in one atomic semop" if run["atomic"] else "left fork, then right fork"
        verdict = f"deadlock, caught by the {run['wait']:g} s timeout" if run["deadlock"] else f"{run['meals']} meals eaten"
        ax.set_title(f"{how}:\n{verdict}", fontsize="medium")
    fig.legend(handles=[Patch(color=WAIT, label="hungry, waiting"), Patch(color=HOLD, label="holds one fork"),
                        Patch(color=EAT, label="eating (two forks)"), Patch(color=BAD, label="timed out")],
               loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def _philosopher_row(ax, y, events):
    """Colour the spans between a philosopher's events: hungry -> left -> eat -> think."""
    colour = {"hungry": WAIT, "left": HOLD, "eat": EAT}
    for (t, what), (t_next, _) in zip(events, events[1:]):
        if what in colour:
            ax.barh(y, t_next - t, left=t, color=colour[what], edgecolor="none")
    for t, what in events:
        if what == "timeout":
            ax.plot([t], [y], marker="X", color=BAD, markersize=11, linestyle="none")


def undo(results, ax=None):
    """The mutex's value seen by the parent over time, one line per run, with the SIGKILL marked."""
    fig, ax = _axes(ax, (8, 3.2))
    for r, style in zip(results, ("-", "--")):
        t, v = zip(*r["samples"])
        label = ("with" if r["undo"] else "without") + f" SEM_UNDO: waiters {', '.join(sorted(set(r['outcomes'])))}"
        ax.step(t, v, where="post", linestyle=style, linewidth=2, label=label,
                color=EAT if r["undo"] else BAD)
        ax.axvline(r["killed_at"], color="black", linewidth=0.8, linestyle=":")
    ax.annotate("holder SIGKILLed", (results[0]["killed_at"], 0.5), xytext=(6, 0), textcoords="offset points",
                fontsize="small")
    ax.set_yticks([0, 1], ["0 (taken)", "1 (free)"])
    ax.set_ylim(-0.2, 1.3)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("semaphore value")
    ax.set_title("A process dies holding the mutex")
    ax.legend(loc="center right", fontsize="small", framealpha=1)
    fig.tight_layout()
    return fig


def _axes(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
