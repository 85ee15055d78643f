"""The experiments of notebook 02 (ipclab.experiments.sysv_demos): each one's lesson holds on real processes."""

import pytest

from ipclab import sysv_demos as d


def test_counter_race_needs_the_semaphore():
    racy = d.counter_race(workers=4, increments=2000, lock=False)
    locked = d.counter_race(workers=4, increments=2000, lock=True)
    assert racy["lost"] > 0 and racy["got"] < racy["expected"]
    assert locked["got"] == locked["expected"] == 8000 and locked["lost"] == 0


def test_max_overlap():
    rows = [{"entered": 0, "left": 2}, {"entered": 1, "left": 3}, {"entered": 2, "left": 4}, {"entered": 5, "left": 6}]
    assert d.max_overlap(rows) == 2  # 0-2 ends as 2-4 begins
    assert d.max_overlap(rows[3:]) == 1


def test_counting_timeline_never_exceeds_slots(start_method):
    r = d.counting_timeline(workers=4, slots=2, work=0.15, start_method=start_method)
    assert r["max_inside"] == 2
    for row in r["rows"]:
        assert row["asked"] <= row["entered"] < row["left"]
    one = d.counting_timeline(workers=3, slots=1, work=0.05)
    assert one["max_inside"] == 1


def test_dining_one_at_a_time_deadlocks_and_is_detected():
    r = d.dining(n=4, meals=2, atomic=False, wait=1.0)
    assert r["deadlock"]
    assert any(x["outcome"].startswith("stuck: holding fork") for x in r["results"])
    assert [(row["value"], row["ncnt"]) for row in r["stuck_view"]] == [(0, 1)] * 4


def test_dining_atomic_everyone_eats():
    r = d.dining(n=5, meals=3, atomic=True, wait=10.0)
    assert not r["deadlock"] and r["meals"] == 15
    for x in r["results"]:
        kinds = [k for _, k in x["events"]]
        assert kinds.count("eat") == 3 and "timeout" not in kinds


@pytest.mark.parametrize("undo", [False, True])
def test_undo_experiment(undo):
    r = d.undo_experiment(undo, waiters=2, wait=1.0)
    assert r["value_held"] == 0 and r["victim_exitcode"] == -9
    if undo:
        assert r["outcomes"] == ["got it", "got it"] and r["value_after"] == 1
    else:
        assert r["outcomes"] == ["timed out", "timed out"] and r["value_after"] == 0


def test_zero_barrier_counts_and_releases_zero_waiters():
    r = d.zero_barrier(waiters=3)
    assert (r["before"]["value"], r["before"]["zcnt"]) == (1, 3)
    assert (r["after"]["value"], r["after"]["zcnt"]) == (0, 0)
    assert all(t >= r["opened_at"] for t in r["released_at"])


def test_init_race_one_creator_everyone_sees_the_initial_value():
    r = d.init_race(processes=4, value=3)
    assert sorted(r["roles"]) == ["created", "opened", "opened", "opened"]
    assert r["values"] == [3, 3, 3, 3]


def test_plots_draw_the_results():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ipclab.presentation.plots import semaphores as plots

    timeline = d.counting_timeline(workers=3, slots=2, work=0.05)
    fig = plots.counting_timeline(timeline)
    assert len(fig.axes[0].patches) == 2 * 3  # a waiting bar and a working bar per worker
    runs = [d.dining(n=3, meals=1, atomic=False, wait=0.5), d.dining(n=3, meals=1, atomic=True, wait=5)]
    fig2 = plots.dining(runs)
    assert len(fig2.axes) == 2 and "deadlock" in fig2.axes[0].get_title()
    assert "3 meals" in fig2.axes[1].get_title()
    fig3 = plots.undo([d.undo_experiment(False, waiters=1, wait=0.3), d.undo_experiment(True, waiters=1, wait=0.3)])
    assert len(fig3.axes[0].get_lines()) >= 2
    plt.close("all")


def test_dining_widget_callback_headless():
    import matplotlib
    matplotlib.use("Agg")
    from ipclab.presentation.widgets import semaphores as widgets

    fig, line = widgets.run_dining(n=3, atomic=True, wait=5.0, meals=1)
    assert line == "atomic semop: all philosophers ate (3 meals)"
    fig, line = widgets.run_dining(n=3, atomic=False, barrier=True, wait=0.5, meals=1)
    assert line.startswith("one-at-a-time: deadlock detected after 0.5 s timeout")
    box = widgets.dining_explorer()
    assert len(box.children) == 6
