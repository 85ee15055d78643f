"""Figures for notebook 02 (System V semaphores), drawn from :mod:`ipclab.experiments.sysv_demos` results.

Nothing is measured here: each function takes what an experiment returned and returns a
matplotlib ``Figure`` in the course style (:mod:`.style`: Okabe-Ito colours, and a hatch
for every filled state so the figure reads in grey too), with an alt-text sentence built
from the run (``fig.ipclab_alt_text``).
"""

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from ipclab.presentation.plots import style

__all__ = ["counting_timeline", "dining", "undo", "late_meals"]

WAIT, WORK, HOLD, EAT, BAD = style.WAIT, style.OKABE_ITO["blue"], style.OKABE_ITO["orange"], style.GOOD, style.BAD
HATCH = {WAIT: "", WORK: "..", HOLD: "//", EAT: "xx"}


def _patch(colour, label):
    return Patch(facecolor=colour, hatch=HATCH.get(colour, ""), edgecolor="black", linewidth=0.5, label=label)


def late_meals(run):
    """Philosophers of a one-at-a-time run who ate after the first timeout (a fork came back by SEM_UNDO)."""
    timeouts = [t for r in run["results"] for t, what in r["events"] if what == "timeout"]
    if not timeouts:
        return []
    first = min(timeouts)
    return [i for i, r in enumerate(run["results"]) if any(w == "eat" and t > first for t, w in r["events"])]


@style.styled
def counting_timeline(result, ax=None):
    """One row per worker: grey while it waits for a slot (P blocks), blue dotted while inside."""
    fig, ax = _axes(ax, (8, 0.45 * result["workers"] + 1.6))
    for r in result["rows"]:
        y = r["worker"]
        ax.barh(y, r["entered"] - r["asked"], left=r["asked"], color=WAIT, edgecolor="black", linewidth=0.3)
        ax.barh(y, r["left"] - r["entered"], left=r["entered"], color=WORK, hatch=HATCH[WORK],
                edgecolor="black", linewidth=0.3)
    ax.set_yticks(range(result["workers"]), [f"worker {r['worker']}" for r in result["rows"]])
    ax.invert_yaxis()
    ax.legend(handles=[_patch(WAIT, "waiting in P"), _patch(WORK, "inside (holds a unit)")],
              loc="upper left", bbox_to_anchor=(1.01, 1))
    end = max(r["left"] for r in result["rows"])
    alt = (f"Timeline of {result['workers']} workers sharing a counting semaphore of {result['slots']} units: "
           f"each row shows a wait then a stay inside; at most {result['max_inside']} rows are inside at "
           f"any moment; the last worker leaves at {end:.2f} s.")
    return style.finish(fig, ax, title=f"Counting semaphore with {result['slots']} units: "
                        f"at most {result['max_inside']} workers inside at once",
                        xlabel="seconds since start", ylabel="worker", alt=alt, legend=False)


@style.styled
def dining(results, axes=None):
    """Side by side, one panel per run of :func:`ipclab.experiments.sysv_demos.dining`: who held, ate, timed out, when."""
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
        ax.set_ylabel("philosopher")
        how = "both forks in one atomic semop" if run["atomic"] else "left fork, then right fork"
        verdict = f"deadlock, caught by the {run['wait']:g} s timeout" if run["deadlock"] else f"{run['meals']} meals eaten"
        ax.set_title(f"{how}:\n{verdict}", fontsize="medium")
    fig.legend(handles=[_patch(WAIT, "hungry, waiting"), _patch(HOLD, "holds one fork"),
                        _patch(EAT, "eating (two forks)"),
                        plt.Line2D([], [], marker="X", color=BAD, linestyle="none", markersize=9, label="timed out")],
               loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.ipclab_alt_text = " ".join(_dining_alt(run) for run in results)
    return fig


def _dining_alt(run):
    how = "both forks in one atomic semop" if run["atomic"] else "left fork, then right fork"
    timeouts = sum(any(w == "timeout" for _, w in r["events"]) for r in run["results"])
    holding = sum(any(w == "left" for _, w in r["events"]) for r in run["results"])
    text = (f"Timeline of {run['n']} philosophers, {how}: {run['meals']} meals eaten, {timeouts} timed out, "
            f"{holding} held a single fork at some point.")
    late = late_meals(run)
    if late:
        text += f" After the first timeout, philosopher(s) {', '.join(map(str, late))} ate."
    return text


def _philosopher_row(ax, y, events):
    """Colour the spans between a philosopher's events: hungry -> left -> eat -> think."""
    colour = {"hungry": WAIT, "left": HOLD, "eat": EAT}
    for (t, what), (t_next, _) in zip(events, events[1:]):
        if what in colour:
            ax.barh(y, t_next - t, left=t, color=colour[what], hatch=HATCH[colour[what]],
                    edgecolor="black", linewidth=0.3)
    for t, what in events:
        if what == "timeout":
            ax.plot([t], [y], marker="X", color=BAD, markersize=11, linestyle="none")


@style.styled
def undo(results, ax=None):
    """The mutex's value seen by the parent over time, one line per run, with the SIGKILL marked."""
    fig, ax = _axes(ax, (8, 3.2))
    for r, ls in zip(results, ("-", "--")):
        t, v = zip(*r["samples"])
        label = ("with" if r["undo"] else "without") + f" SEM_UNDO: waiters {', '.join(sorted(set(r['outcomes'])))}"
        ax.step(t, v, where="post", linestyle=ls, linewidth=2, marker="", label=label,
                color=EAT if r["undo"] else BAD)
        ax.axvline(r["killed_at"], color="black", linewidth=0.8, linestyle=":")
    ax.annotate("holder SIGKILLed", (results[0]["killed_at"], 0.5), xytext=(6, 0), textcoords="offset points",
                fontsize="small")
    ax.set_yticks([0, 1], ["0 (taken)", "1 (free)"])
    ax.set_ylim(-0.2, 1.3)
    alt = "Step chart of the mutex's value after its holder is killed. " + " ".join(
        f"{'With' if r['undo'] else 'Without'} SEM_UNDO the value ends at {r['value_after']} and the waiters "
        f"{', '.join(sorted(set(r['outcomes'])))}." for r in results)
    return style.finish(fig, ax, title="A process dies holding the mutex", xlabel="seconds since start",
                        ylabel="semaphore value", alt=alt, loc="center right", framealpha=1)


def _axes(ax, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
