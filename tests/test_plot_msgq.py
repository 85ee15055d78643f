"""Notebook 03's worker-pool figure is in the course style (issue 17).

Okabe-Ito colours, a different marker and line style per series, a title, axis labels with
units, a legend naming only what is drawn, and an alt-text sentence built from the run's
numbers. Fake results: nothing is measured.
"""

import matplotlib

matplotlib.use("Agg")

from ipclab.presentation.plots import msgq as msgq_plots  # noqa: E402
from ipclab.presentation.plots import style  # noqa: E402


def _curve():
    rates = {"cpu": [416, 772, 1004, 474], "io": [759, 1345, 2546, 4834]}
    return [{"work": w, "workers": n, "tasks": 120, "per_second": p, "per_worker": [120 // n] * n}
            for w, ps in rates.items() for n, p in zip((1, 2, 4, 8), ps)]


def test_pool_figure_is_in_course_style_with_alt_text():
    fig = msgq_plots.pool_throughput(_curve(), cpus=2)
    assert style.problems(fig) == []
    alt = style.alt_text(fig)
    assert "2 usable CPUs" in alt
    assert "4 workers 1004/s (2.4x)" in alt and "8 workers 4834/s (6.4x)" in alt and "1 worker 416/s" in alt
    ax, ax2 = fig.axes
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert len(lines) == 2
    assert {ln.get_color().upper() for ln in lines} <= {c.upper() for c in style.PALETTE}
    assert lines[0].get_marker() != lines[1].get_marker()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
    legend = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert legend == [msgq_plots.LABELS["cpu"], msgq_plots.LABELS["io"], "perfect scaling"]
    assert "(x)" in ax2.get_ylabel() and "per second" in ax.get_ylabel()


def test_pool_figure_defaults_to_the_cpus_this_process_may_use():
    fig = msgq_plots.pool_throughput(_curve())
    n = msgq_plots.usable_cpus()
    assert f"at {n} usable CPU" in style.alt_text(fig)
