"""Figures for notebook 07's litmus tests (results come from :mod:`ipclab.experiments.litmus`).

Only draws: it reads the results' fields and methods and imports no experiment. In the course
style (:mod:`ipclab.presentation.plots.style`): Okabe-Ito colours, one hatch per outcome so
the bars read in grey too, units on the axes, and an alt-text sentence (:func:`alt_text`).
"""

from ipclab.presentation.plots import style

__all__ = ["outcomes", "alt_text", "OUTCOMES"]

OUTCOMES = ("00", "01", "10", "11")


@style.styled
def outcomes(results, title="Litmus tests: how often each outcome occurred"):
    """One panel per test; per variant, four bars (one per outcome) in occurrences per million iterations.

    The y axis is symmetric-log so that 0, a few and a million fit on one axis; the number
    printed over the forbidden outcome's bar is its raw count.
    """
    tests = list(dict.fromkeys(r.test for r in results))
    fig, axes = style.subplots(1, len(tests), figsize=(5.6 * len(tests), 4.6), squeeze=False, sharey=True)
    axes = list(axes[0])
    for ax, test in zip(axes, tests):
        rows = [r for r in results if r.test == test]
        width = 0.2
        for k, outcome in enumerate(OUTCOMES):
            xs = [i + (k - 1.5) * width for i in range(len(rows))]
            per_m = [1e6 * r.counts[outcome] / r.iterations for r in rows]
            forbidden = outcome == rows[0].forbidden
            ax.bar(xs, per_m, width=width, **style.bar(k),
                   label=rows[0].label(outcome) + ("  (forbidden by SC)" if forbidden else ""))
            if forbidden:
                for x, r in zip(xs, rows):
                    ax.annotate(f"{r.counts[outcome]:,}", (x, max(1e6 * r.counts[outcome] / r.iterations, 0.05)),
                                xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8, rotation=90)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_ylim(0, 3e6)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r.variant for r in rows])
        ax.set_title(f"{test}: {rows[0].title}, {iterations_said(rows)}", fontsize=10)
    source = results[0].source if results else ""
    if source != "live":
        title += f"\n({source}, {results[0].machine})"
    return style.finish(fig, axes, title=title, alt=alt_text(results),
                        xlabel="how the accesses are written (C11 variant)",
                        ylabel="occurrences per million iterations (symlog)",
                        loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)


def alt_text(results):
    """The figure in words: for each test and variant, how often the forbidden outcome occurred."""
    parts = []
    for test in dict.fromkeys(r.test for r in results):
        rows = [r for r in results if r.test == test]
        seen = ", ".join(f"{r.variant} {r.forbidden_count:,}" for r in rows)
        parts.append(f"{test} ({rows[0].title}), forbidden outcome {rows[0].label(rows[0].forbidden)} "
                     f"out of {iterations_said(rows)} per variant: {seen}.")
    return "Bar chart of litmus-test outcomes. " + " ".join(parts)


def iterations_said(rows):
    """How many iterations the variants ran: one number, or the range (a time-bounded run)."""
    lo, hi = min(r.iterations for r in rows), max(r.iterations for r in rows)
    return f"{hi:,} iterations each" if lo == hi else f"{lo:,} to {hi:,} iterations"
