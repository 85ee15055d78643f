"""Figures of notebook 05 (memory-mapped files), drawn from the results of :mod:`ipclab.mmap_demos`.

Nothing is measured here: each function takes the rows an experiment returned and returns
a matplotlib ``Figure``.
"""

import matplotlib.pyplot as plt


def faults(profiles, title="Lazy loading: what touching pages of a mapping costs"):
    """Faults (minor, major) and resident KiB against pages touched, one line per profile.

    *profiles* maps a label (e.g. ``"cold, no advice"``) to the rows of
    :func:`ipclab.mapping.fault_profile`.
    """
    fig, (ax_min, ax_maj, ax_rss) = plt.subplots(1, 3, figsize=(13, 3.8))
    for label, rows in profiles.items():
        x = [r["pages"] for r in rows]
        ax_min.plot(x, [r["minor"] for r in rows], marker="o", label=label)
        ax_maj.plot(x, [r["major"] for r in rows], marker="o", label=label)
        ax_rss.plot(x, [r["rss_kib"] / 1024 for r in rows], marker="o", label=label)
    for ax, what in ((ax_min, "minor faults"), (ax_maj, "major faults (disk reads)"),
                     (ax_rss, "Rss of the mapping (MiB)")):
        ax.set_xlabel("pages touched (4 KiB each)")
        ax.set_title(what)
        ax.grid(alpha=0.3)
    ax_maj.set_yscale("symlog", linthresh=1)  # 0, 1 and thousands on one axis
    ax_maj.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def read_vs_mmap(rows, title="read() versus mmap (best of the repeats; higher is better)"):
    """Bars of MiB/s per method, one panel per access pattern, cold and warm page cache side by side."""
    patterns = list(dict.fromkeys(r["pattern"] for r in rows))
    caches = list(dict.fromkeys(r["cache"] for r in rows))
    fig, axes = plt.subplots(1, len(patterns), figsize=(5.5 * len(patterns), 3.8), squeeze=False)
    for ax, pattern in zip(axes[0], patterns):
        sub = [r for r in rows if r["pattern"] == pattern]
        methods = list(dict.fromkeys(r["method"] for r in sub))
        width = 0.8 / len(methods)
        for k, method in enumerate(methods):
            ys = [next(r["mib_s"] for r in sub if r["method"] == method and r["cache"] == c) for c in caches]
            xs = [i + k * width for i in range(len(caches))]
            bars = ax.bar(xs, ys, width, label=method)
            ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(caches))],
                      [f"{c} cache" for c in caches])
        ax.set_ylabel("MiB/s")
        ax.set_title(f"{pattern} access")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def images(before, after, bands=(), title="An image file processed in place by several processes"):
    """The image before and after, side by side (grey levels); *bands*: rows done by each process."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, img, what in ((axes[0], before, "before"), (axes[1], after, "after (read back from the file)")):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(what)
        ax.axis("off")
    start = 0
    for k, rows in enumerate(bands):
        axes[1].axhline(start - 0.5, color="red", lw=1)
        axes[1].text(4, start + rows / 2, f"process {k + 1}", color="red", va="center", fontsize=9)
        start += rows
    fig.suptitle(title)
    fig.tight_layout()
    return fig
