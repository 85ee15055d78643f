"""Litmus tests over shared memory: counts add up, forbidden outcomes never appear where C11 forbids them."""

import platform

import pytest

from ipclab.core import cbuild
from ipclab.core.errors import BadArgument
from ipclab.experiments import litmus

needs_gcc = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed")
ITERATIONS = 200_000


@needs_gcc
@pytest.mark.parametrize("test", sorted(litmus.TESTS))
@pytest.mark.parametrize("variant", litmus.VARIANTS)
def test_counts_add_up_and_forbidden_outcomes_stay_forbidden(test, variant):
    r = litmus.run(test, variant, iterations=ITERATIONS, batch=5_000)
    assert (r.test, r.variant, r.iterations, r.source) == (test, variant, ITERATIONS, "live")
    assert sorted(r.counts) == ["00", "01", "10", "11"] and sum(r.counts.values()) == ITERATIONS
    if not litmus.c11_allows(test, variant):
        assert r.forbidden_count == 0, f"{test}/{variant}: C11 forbids {r.forbidden}, seen {r.forbidden_count}"
    if platform.machine() == "x86_64" and not litmus.x86_allows(test, variant):
        assert r.forbidden_count == 0  # x86-TSO keeps store-store and load-load order


@needs_gcc
def test_seq_cst_never_shows_store_buffering_over_many_runs():
    runs = [litmus.run("SB", "seq_cst", iterations=ITERATIONS) for _ in range(5)]
    assert [r.forbidden_count for r in runs] == [0] * 5
    assert all(sum(r.counts.values()) == ITERATIONS for r in runs)


@needs_gcc
def test_an_iteration_count_that_is_not_a_multiple_of_the_batch():
    r = litmus.run("MP", "acq_rel", iterations=12_345, batch=1_000)
    assert sum(r.counts.values()) == 12_345


@needs_gcc
def test_a_time_bounded_run_adds_its_chunks_and_stops_at_its_deadline():
    full = litmus.run_for("MP", "acq_rel", iterations=30_000, seconds=60, chunk=7_000)
    assert full.iterations == 30_000 and sum(full.counts.values()) == 30_000  # 7k x 4 + 2k
    assert full.forbidden_count == 0
    cut = litmus.run_for("SB", "seq_cst", iterations=10_000_000, seconds=0, chunk=5_000)
    assert cut.iterations == 5_000 and sum(cut.counts.values()) == 5_000  # one chunk, then the deadline
    assert cut.forbidden_count == 0


def test_bad_arguments():
    with pytest.raises(BadArgument, match="not one of"):
        litmus.c11_allows("IRIW", "plain")
    with pytest.raises(BadArgument, match="variant"):
        litmus.x86_allows("SB", "sloppy")
    with pytest.raises(BadArgument, match="iterations"):
        litmus.run("SB", "plain", iterations=0)
    with pytest.raises(BadArgument, match="chunk"):
        litmus.run_for("SB", "plain", chunk=0)


def test_what_the_models_allow():
    assert [litmus.c11_allows("SB", v) for v in litmus.VARIANTS] == [True, True, True, False, False]
    assert [litmus.c11_allows("MP", v) for v in litmus.VARIANTS] == [True, True, False, False, False]
    assert not any(litmus.x86_allows("MP", v) for v in litmus.VARIANTS)


def test_the_recorded_run_is_complete_and_consistent():
    rs = litmus.recorded()
    assert {(r.test, r.variant) for r in rs} == {(t, v) for t in litmus.TESTS for v in litmus.VARIANTS}
    for r in rs:
        assert sum(r.counts.values()) == r.iterations >= 1_000_000 and r.source.startswith("recorded on")
        if not litmus.c11_allows(r.test, r.variant):
            assert r.forbidden_count == 0


def test_run_or_recorded_without_gcc(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert all(r.source.startswith("recorded") for r in litmus.run_or_recorded())


def test_plot_and_alt_text():
    import matplotlib
    matplotlib.use("Agg")
    from ipclab.presentation.plots import litmus as plot
    rs = litmus.recorded()
    from ipclab.presentation.plots import style
    fig = plot.outcomes(rs)
    assert len(fig.axes) == 2 and "occurrences per million" in fig.axes[0].get_ylabel()
    assert style.problems(fig) == []
    text = plot.alt_text(rs)
    assert fig.ipclab_alt_text == text and "seq_cst 0" in text and "SB (store buffering)" in text
    import matplotlib.pyplot as plt
    plt.close(fig)
