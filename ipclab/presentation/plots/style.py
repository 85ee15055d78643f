"""The one course figure style: a colour-blind-safe palette, series told apart twice, alt text.

Why one module: a reader who cannot tell two hues apart must still tell two series apart,
and a screen-reader user must be told what a figure shows. So every figure of the course

* takes its colours from the Okabe-Ito palette (Okabe & Ito, "Color Universal Design",
  2008; https://jfly.uni-koeln.de/color/), distinguishable with the common colour-vision
  deficiencies;
* also tells series apart by **marker and line style** (lines) or **hatch** (bars), so the
  figure reads in grey too: :func:`series` and :func:`bar` give the i-th series' keywords;
* has a title and axis labels with units (:func:`finish` refuses a figure without them);
* carries a sentence of **alt text** (``fig.ipclab_alt_text``) that the notebook prints
  under the figure (:func:`show`).

Use::

    from ipclab.presentation.plots import style

    @style.styled
    def my_plot(rows):
        fig, ax = style.subplots()
        for i, (label, xs, ys) in enumerate(rows):
            ax.plot(xs, ys, label=label, **style.series(i))
        style.finish(fig, ax, title="...", xlabel="message size (bytes)", ylabel="GB/s",
                     alt="Line chart of ...")
        return fig

and in the notebook ``style.show(fig)`` (``plt.show()`` then the alt text).
"""

import functools

import matplotlib.pyplot as plt
from cycler import cycler

__all__ = ["OKABE_ITO", "PALETTE", "MARKERS", "LINESTYLES", "HATCHES", "GOOD", "BAD", "WAIT", "NEUTRAL",
           "RC", "color", "series", "bar", "styled", "subplots", "finish", "alt_text", "show",
           "problems"]

#: The eight Okabe-Ito colours by name.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
#: Series order: dark and saturated first; yellow (poor on white) last.
PALETTE = [OKABE_ITO[k] for k in ("blue", "orange", "bluish green", "vermillion", "reddish purple",
                                  "sky blue", "black", "yellow")]
#: Markers and line styles paired with PALETTE, so series k differs from series j in at least two ways.
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1)), (0, (1, 1)), (0, (8, 2))]
HATCHES = ["", "//", "..", "xx", "\\\\", "oo", "++", "--"]

#: Meanings used across notebooks: a correct/expected outcome, a failure, waiting, a reference.
GOOD, BAD, WAIT, NEUTRAL = OKABE_ITO["bluish green"], OKABE_ITO["vermillion"], "#BBBBBB", "#555555"

RC = {
    "axes.prop_cycle": cycler(color=PALETTE) + cycler(marker=MARKERS) + cycler(linestyle=LINESTYLES),
    "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8, "xtick.labelsize": 9,
    "ytick.labelsize": 9, "axes.grid": True, "grid.alpha": 0.3, "lines.markersize": 5,
    "figure.dpi": 100, "savefig.dpi": 100, "hatch.linewidth": 0.8,
}


def color(i):
    """The i-th series colour (wraps after eight)."""
    return PALETTE[i % len(PALETTE)]


def series(i, *, line=True):
    """Keywords for the i-th line series: colour, marker and line style all differ from series j != i."""
    kw = {"color": color(i), "marker": MARKERS[i % len(MARKERS)]}
    if line:
        kw["linestyle"] = LINESTYLES[i % len(LINESTYLES)]
    else:
        kw["linestyle"] = "none"
    return kw


def bar(i):
    """Keywords for the i-th bar series: colour, hatch and a black edge (the hatch shows in grey)."""
    return {"color": color(i), "hatch": HATCHES[i % len(HATCHES)], "edgecolor": "black", "linewidth": 0.6}


def styled(fn):
    """Decorator: draw the figure inside the course's rc settings (palette, sizes, grid)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def subplots(*args, **kwargs):
    """``plt.subplots`` under the course style (for callers not decorated with :func:`styled`)."""
    with plt.rc_context(RC):
        return plt.subplots(*args, **kwargs)


def finish(fig, axes, *, title, alt, xlabel=None, ylabel=None, legend=True, suptitle=False, **legend_kw):
    """Set title and labels, draw the legend from labelled artists only, attach *alt* as alt text.

    *axes* is one Axes or a list; *xlabel*/*ylabel* apply to every axes given (a panel may set
    its own before). Raises ``ValueError`` if a title, label or alt text is missing, so a figure
    without them cannot ship.
    """
    axs = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    if not title or not alt:
        raise ValueError("every course figure needs a title and an alt-text sentence")
    if suptitle or len(axs) > 1:
        fig.suptitle(title)
    else:
        axs[0].set_title(title)
    for ax in axs:
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
        if legend:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                ax.legend(**legend_kw)
    fig.ipclab_alt_text = alt
    if not fig.get_constrained_layout():
        fig.tight_layout()
    bad = problems(fig)
    if bad:
        raise ValueError("figure not in course style: " + "; ".join(bad))
    return fig


def alt_text(fig):
    """The figure's alt-text sentence ('' if it has none)."""
    return getattr(fig, "ipclab_alt_text", "")


def show(fig):
    """Show the figure, then print its alt text (what a screen reader, or a colour-blind reader, needs)."""
    plt.show()
    text = alt_text(fig)
    if text:
        print("Figure:", text)


def problems(fig):
    """What keeps *fig* from the course style: axes without labels, no title, no alt text.

    A check for tests: an empty list means every visible axes has an x and y label (a
    categorical axis is labelled too, e.g. "worker"), the figure (or each axes) has a
    title, and the alt text is set.
    """
    out = []
    axs = [ax for ax in fig.get_axes() if ax.get_visible() and ax.axison]
    has_sup = bool(fig.get_suptitle()) if hasattr(fig, "get_suptitle") else bool(fig._suptitle and fig._suptitle.get_text())
    for k, ax in enumerate(axs):
        if not ax.get_xlabel():
            out.append(f"axes {k} has no x label")
        if not ax.get_ylabel():
            out.append(f"axes {k} has no y label")
        if not (ax.get_title() or has_sup):
            out.append(f"axes {k} has no title")
    if not alt_text(fig):
        out.append("no alt text")
    return out
