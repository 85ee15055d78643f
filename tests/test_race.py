"""ipclab.experiments.race: lost updates without a lock and never with it, the trace, the explorer, the widgets."""

import time

import pytest

from ipclab import race
from ipclab.core.errors import BadArgument


def test_lost_updates_without_lock(start_method):
    r = race.count(2, 200, lock=False, start_method=start_method, timeout=60)
    assert r.expected == 400
    assert 0 < r.lost < r.expected      # the designed window makes the loss certain


def test_never_lost_with_lock(start_method):
    r = race.count(3, 40, lock=True, start_method=start_method, timeout=60)
    assert r.final == r.expected == 120 and r.lost == 0


def test_one_process_loses_nothing():
    assert race.count(1, 50, start_method="fork").lost == 0


def test_trace_marks_exactly_the_lost_updates():
    r = race.count(3, 30, trace=True, start_method="fork")
    ups = race.analyse(r)
    assert len(ups) == 90
    assert race.lost_in_trace(ups) == r.lost > 0
    tags = {u.tag: u for u in ups}
    for u in ups:
        assert u.wrote == u.read + 1
        assert u.t_load <= u.t_store
        if u.read_from:                 # every read saw a write that really stored that value
            assert tags[u.read_from].wrote == u.read
        else:
            assert u.read == 0
        if u.lost:
            assert u.overwritten_by in tags


def test_trace_with_lock_loses_nothing_and_windows_do_not_overlap():
    r = race.count(2, 20, lock=True, trace=True, start_method="fork")
    ups = sorted(race.analyse(r), key=lambda u: u.t_load)
    assert race.lost_in_trace(ups) == 0
    assert [u.wrote for u in ups] == list(range(1, 41))
    assert all(a.t_store <= b.t_load for a, b in zip(ups, ups[1:]))


def test_analyse_needs_a_trace():
    with pytest.raises(BadArgument):
        race.analyse(race.count(1, 2, start_method="fork"))


def test_count_rejects_bad_arguments():
    for kw in ({"n_procs": 0}, {"m": 0}, {"window": -1}):
        with pytest.raises(BadArgument):
            race.count(**kw)


# -- the explorer -------------------------------------------------------------
def test_explorer_lost_update_on_purpose(start_method):
    with race.Explorer(2, 1, start_method=start_method, timeout=30) as ex:
        steps = ex.run("A:load B:load A:add B:add A:store B:store")
        assert [(s.who, s.op, s.register, s.shared) for s in steps] == [
            ("A", "load", 0, 0), ("B", "load", 0, 0), ("A", "add", 1, 0),
            ("B", "add", 1, 0), ("A", "store", 1, 1), ("B", "store", 1, 1)]
        assert ex.finished and ex.shared == 1


def test_explorer_serial_schedule_is_exact():
    with race.Explorer(2, 2, start_method="fork") as ex:
        ex.run("A A A A A A B B B B B B")
        assert ex.shared == 4


@pytest.mark.parametrize("seed", range(4))
def test_explorer_matches_the_paper_answer(seed):
    sched = race.random_schedule(3, 2, seed)
    with race.Explorer(3, 2, start_method="fork") as ex:
        ex.run(sched)
        assert ex.finished
        assert ex.shared == race.paper_final(sched, 3, 2)


def test_random_schedule_is_seeded_and_complete():
    a, b = race.random_schedule(2, 3, 7), race.random_schedule(2, 3, 7)
    assert a == b
    steps = race.parse_schedule(a)
    assert len(steps) == 18
    for p in "AB":
        assert [op for who, op in steps if who == p] == list(race.OPS) * 3


def test_explorer_refuses_out_of_order_and_unknown_steps():
    with race.Explorer(2, 1, start_method="fork") as ex:
        with pytest.raises(BadArgument, match="next step is load"):
            ex.step("A", "store")
        with pytest.raises(BadArgument):
            ex.step("C")
        ex.run("A A A")
        with pytest.raises(BadArgument, match="finished"):
            ex.step("A")
    with pytest.raises(BadArgument):
        race.parse_schedule("A:jump")


# -- widgets (no browser) ----------------------------------------------------
def test_counter_controls_callback():
    from ipclab.presentation.widgets import race as wr
    ui = wr.CounterControls()
    ui.n.value, ui.m.value, ui.lock.value = 2, 30, True
    r = ui.run()
    assert r.lost == 0 and "with the lock: exact" in ui.out.value
    ui.lock.value = False
    r = ui.run()
    assert r.lost > 0 and "lost updates: yes" in ui.out.value


def test_explorer_ui_clicks_reveal_replay_reset():
    from ipclab.presentation.widgets import race as wr
    ui = wr.ExplorerUI(processes=2, increments=1)
    assert ui.explorer is None                 # nothing created until the first click
    for who in "ABABAB":
        ui.click(who)
    assert "shared counter = 1" in ui.status.value
    assert ui.click("A") is None and "finished" in ui.status.value
    ui.guess.value = 2
    assert ui.reveal() == 1 and "wrong" in ui.status.value and "1 lost" in ui.status.value
    assert ui.explorer is None                 # closed after the reveal
    ui.replay(5)
    assert ui.explorer.finished
    assert ui.explorer.shared == race.paper_final(race.random_schedule(2, 1, 5))
    ui.reset()
    assert ui.explorer is None


def test_explorer_ui_reveal_before_the_end():
    from ipclab.presentation.widgets import race as wr
    ui = wr.ExplorerUI()
    ui.click("A")
    assert ui.reveal() is None and "not finished" in ui.status.value
    ui.close()


def student_step_locked(word, lock, window):
    """A student's counter++ as in notebook 01's %%worker cell: under the lock."""
    lock.acquire(10)
    value = word.value
    time.sleep(window)
    word.value = value + 1
    lock.release()


def student_step_ignores_lock(word, lock, window):
    """The "break it yourself" version: the lock is passed in and never taken."""
    value = word.value
    time.sleep(window)
    word.value = value + 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_count_runs_a_students_step(method):
    """race.count(step=...) runs the student's own increment in every worker, any start method."""
    r = race.count(2, 50, lock=True, step=student_step_locked, start_method=method)
    assert r.final == r.expected == 100


def test_a_step_that_ignores_the_lock_loses_updates():
    r = race.count(2, 100, lock=True, step=student_step_ignores_lock, start_method="fork")
    assert r.lost > 0


def test_a_step_cannot_be_traced():
    with pytest.raises(BadArgument):
        race.count(2, 5, step=student_step_locked, trace=True)
