"""Figures of notebook 05 (memory-mapped files), drawn from the results of :mod:`ipclab.experiments.mmap_demos`.

Nothing is measured here: each function takes the rows an experiment returned and returns
a matplotlib ``Figure``.
"""

import matplotlib.pyplot as plt

from ipclab.presentation.plots import style

__all__ = ["faults", "read_vs_mmap", "images"]


@style.styled
def faults(profiles, title="Lazy loading: page faults to touch every page of a 32 MiB mapping"):
    """Minor and major faults per profile at the largest page count, as labelled bars.

    *profiles* maps a label (e.g. ``"cold, no advice"``) to the rows of
    :func:`ipclab.experiments.mmap_demos.fault_profile`. Why bars at one count and not lines
    against pages touched: the line chart put three profiles on top of each other (their
    minor-fault counts are equal) and hid them. Each bar carries its exact count; the y axis
    is symmetric-log (linear between 0 and 1, logarithmic above) so that 0, 1 and 8192
    faults fit on one axis, and says so.
    """
    labels = list(profiles)
    last = {k: rows[-1] for k, rows in profiles.items()}
    touched = {r["pages"] for r in last.values()}
    fig, ax = style.subplots(figsize=(8.5, 4.2))
    width = 0.38
    for k, (kind, what) in enumerate((("minor", "minor faults (page already in the page cache)"),
                                       ("major", "major faults (the process waited for the disk)"))):
        xs = [i + (k - 0.5) * width for i in range(len(labels))]
        ys = [last[lab][kind] for lab in labels]
        bars = ax.bar(xs, ys, width=width, label=what, **style.bar(k))
        ax.bar_label(bars, labels=[f"{y:,}" for y in ys], padding=2, fontsize=8)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(0, 4 * max(max(r["minor"], r["major"]) for r in last.values()) + 10)
    ax.set_xticks(range(len(labels)), labels, rotation=12)
    pages = touched.pop() if len(touched) == 1 else max(touched)
    parts = [f"{lab}: {last[lab]['minor']} minor and {last[lab]['major']} major" for lab in labels]
    style.finish(fig, ax, title=title, xlabel=f"profile ({pages} pages touched, one byte each)",
                 ylabel="faults (symmetric log scale)", loc="upper left",
                 alt=(f"Bar chart of the page faults needed to touch {pages} pages of a mapped file, "
                      f"per profile: " + "; ".join(parts) + "."))
    fig.tight_layout()
    return fig


def _ms(row):
    return row["seconds"] * 1e3


def _counters(row):
    io = "" if row.get("read_bytes") is None else f", {row['read_bytes'] / 2**20:.1f} MiB from disk"
    return f"{_ms(row):.2f} ms\n{row['minor']} minor, {row['major']} major faults{io}"


@style.styled
def read_vs_mmap(sequential, random, title="read() against mmap: time per pass (best of the repeats; shorter is better)"):
    """Four panels of horizontal bars: sequential and random access, cold and warm page cache.

    *sequential*: rows of :func:`ipclab.experiments.random_reads.sequential`; *random*: the
    ``rows`` of :func:`ipclab.experiments.random_reads.random_reads`. Each bar is labelled
    with its time and what the kernel counted for that run (faults, bytes read from disk),
    so the reason for each difference is on the figure. Each panel has its own linear axis:
    cold and warm times differ by orders of magnitude.
    """
    panels = [("sequential scan, cold cache", [r for r in sequential if r["cache"] == "cold"]),
              ("sequential scan, warm cache", [r for r in sequential if r["cache"] == "warm"]),
              ("random 64-byte reads, cold cache", [r for r in random if r["cache"] == "cold"]),
              ("random 64-byte reads, warm cache", [r for r in random if r["cache"] == "warm"])]
    fig, axes = style.subplots(2, 2, figsize=(14, 6.8))
    axes = [ax for row in axes for ax in row]
    alt = []
    for ax, (name, rows) in zip(axes, panels):
        ys = list(range(len(rows)))[::-1]
        for i, (y, r) in enumerate(zip(ys, rows)):
            ax.barh(y, _ms(r), height=0.6, **style.bar(i))
            ax.annotate(_counters(r), (_ms(r), y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7.5)
        ax.set_yticks(ys, [r["method"] for r in rows])
        ax.set_xlim(0, max(_ms(r) for r in rows) * 2.3)
        ax.set_title(name)
        alt.append(f"{name}: " + ", ".join(f"{r['method']} {_ms(r):.2f} ms" for r in rows))
    style.finish(fig, axes, title=title, xlabel="time per pass (ms)", ylabel="method", legend=False,
                 alt="Four bar charts of the time one pass took. " + "; ".join(alt) + ".")
    fig.tight_layout()
    return fig


@style.styled
def images(before, after, bands=(), title="An image file processed in place by several processes"):
    """The image before and after, side by side (grey levels); *bands*: rows done by each process."""
    fig, axes = style.subplots(1, 2, figsize=(8, 4))
    for ax, img, what in ((axes[0], before, "before"), (axes[1], after, "after (read back from the file)")):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(what)
        ax.axis("off")
    start = 0
    mark = style.OKABE_ITO["orange"]
    for k, rows in enumerate(bands):
        axes[1].axhline(start - 0.5, color=mark, lw=1.5, linestyle="--")
        axes[1].text(4, start + rows / 2, f"process {k + 1}", color=mark, va="center", fontsize=9,
                     fontweight="bold")
        start += rows
    fig.suptitle(title)
    fig.ipclab_alt_text = (f"Two grey-level images of {before.shape[0]} by {before.shape[1]} pixels: the original, "
                           f"and the same file after {len(bands)} processes each inverted a horizontal band "
                           f"({', '.join(str(b) for b in bands)} rows), so light and dark are swapped.")
    fig.tight_layout()
    return fig
