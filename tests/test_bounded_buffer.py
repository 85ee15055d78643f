"""The bounded-buffer derivation (notebook 01b): the notebook's own worker cells, run on real processes.

Deterministic claims only: the correct version never loses, duplicates or garbles an item (under
every start method); the mutex-first version is detected as a deadlock by its timed waits and
leaves no object and no process behind; the counting is exact; bad input says what is wrong.
"""

import re
from pathlib import Path

import pytest

from ipclab.core.errors import BadArgument, IpclabError
from ipclab.experiments import bounded_buffer as bb
from ipclab.mechanisms import ccell

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "py" / "01b_bounded_buffer.py"


def _cell(name):
    """The source of the notebook's ``%%worker NAME`` cell (the magic line removed)."""
    import jupytext
    for cell in jupytext.read(NOTEBOOK).cells:
        lines = cell.source.splitlines()
        if cell.cell_type == "code" and lines and lines[0].strip() == f"%%worker {name}":
            return "\n".join(lines[1:]) + "\n"
    raise AssertionError(f"no %%worker {name} cell in {NOTEBOOK.name}")


def _module(name, test_name=None):
    """Write the notebook's cell *name* as a worker module (as %%worker does); return its name."""
    test_name = test_name or f"t_{name}"
    ccell.write_worker(test_name, _cell(name))
    return test_name


def _nothing_left(result):
    """No segment or semaphore in /dev/shm, no registry entry, no live worker (checked by bb.run)."""
    assert result.leftovers == []


def test_the_correct_version_never_loses_an_item(start_method):
    mod = _module("bb5_correct")
    r = bb.run(mod, start_method=start_method, producers=2, consumers=2, items=30, capacity=4,
               window=0.001, wait_timeout=20.0)
    assert sorted(r.received) == sorted(r.produced) and len(r.produced) == 60
    assert (r.lost, r.duplicated, r.garbled, r.deadlock, r.ok) == (0, 0, 0, False, True)
    _nothing_left(r)


def test_the_correct_version_keeps_each_producers_order_with_one_consumer():
    r = bb.run(_module("bb5_correct"), producers=3, consumers=1, items=20, capacity=2, wait_timeout=20.0)
    assert r.ok
    for p in range(3):
        mine = [x for x in r.received if x // 1000 == p + 1]
        assert mine == sorted(mine) == [1000 * (p + 1) + k for k in range(20)]


def test_the_wrong_order_is_a_deadlock_detected_by_timeout_and_leaves_nothing(start_method):
    mod = _module("bb4_wrong_order")
    r = bb.run(mod, start_method=start_method, items=20, capacity=2, consumer_delay=0.01,
               wait_timeout=1.0, deadline=60.0)
    assert r.deadlock and r.lost > 0
    assert r.seconds < 30, "detected by the 1 s waits, not by the 60 s deadline"
    assert all(w["outcome"] == "stuck" for w in r.workers)
    assert any("mutex.wait()" in m for m in r.stuck), r.stuck
    assert all(re.search(r"waited 1 s in (empty|full|mutex)\.wait\(\)", m) for m in r.stuck)
    _nothing_left(r)  # and the autouse leak check of conftest.py checks /dev/shm and the registry


def test_a_worker_that_never_returns_is_killed_at_the_deadline():
    spin = ("def producer(ring, items):\n    while True:\n        pass\n\n\n"
            "def consumer(ring, count):\n    pass\n")
    ccell.write_worker("t_bb_spin", spin)
    r = bb.run("t_bb_spin", items=3, wait_timeout=1.0, deadline=3.0)
    assert r.deadlock and [w["outcome"] for w in r.workers] == ["killed at the deadline", "finished"]
    _nothing_left(r)


def test_a_worker_that_raises_shows_its_traceback_and_leaves_nothing():
    bad = ("def producer(ring, items):\n    for item in items:\n        ring.slot[ring.capacity] = item\n\n\n"
           "def consumer(ring, count):\n    pass\n")
    ccell.write_worker("t_bb_bad", bad)
    with pytest.raises(IpclabError, match=r"(?s)producer 0 of t_bb_bad raised IndexError.*outside the ring"):
        bb.run("t_bb_bad", items=3)


def test_counting_is_exact():
    cfg = bb.Config(items=4)
    r = bb.Result("m", cfg, [1000, 1001, 1002, 1003], [1000, 1000, 1000, 0, 1003], [], 0.0)
    assert (r.lost, r.duplicated, r.garbled, r.damaged, r.deadlock) == (2, 2, 1, True, False)
    assert r.verdicts()[0] == "every item received exactly once: no"
    ok = bb.Result("m", cfg, [1000, 1001], [1001, 1000], [{"stuck": ""}], 0.0)
    assert ok.ok and ok.verdicts() == ["every item received exactly once: yes",
                                       "a wait timed out (deadlock detected): no",
                                       "left behind (objects, processes): nothing"]


def test_items_and_shares():
    cfg = bb.Config(producers=2, consumers=3, items=5)
    assert bb.items_of(cfg) == [[1000, 1001, 1002, 1003, 1004], [2000, 2001, 2002, 2003, 2004]]
    assert bb._counts(cfg) == [4, 3, 3]


@pytest.mark.parametrize("change, message", [
    ({"items": 0}, "items"), ({"capacity": 0}, "capacity"), ({"producers": 17}, "producers"),
    ({"window": 2}, "window"), ({"wait_timeout": 100}, "wait_timeout"),
])
def test_bad_configs_say_what_is_wrong(change, message):
    with pytest.raises(BadArgument, match=message):
        bb.run(_module("bb5_correct"), **change)


def test_a_module_without_both_roles_is_refused():
    ccell.write_worker("t_bb_half", "def producer(ring, items):\n    pass\n")
    with pytest.raises(BadArgument, match="lacks consumer"):
        bb.run("t_bb_half")
    with pytest.raises(BadArgument, match="run its %%worker cell first"):
        bb.run("t_bb_no_such_module")


def test_every_version_of_the_notebook_is_a_module_with_both_roles():
    for name in ("bb1_nosync", "bb2_full", "bb3_nomutex", "bb4_wrong_order", "bb5_correct", "bb_mine"):
        assert bb._module_name(_module(name)) == f"t_{name}"



def test_a_child_runs_the_cells_code_even_if_it_cannot_import_it(tmp_path):
    """Under spawn the child imports the cell's module by name; where it cannot (the cell folder
    was swept by another process, or is not on the child's path), the source the parent read
    at the start of the run is used, so the child runs the code the cell showed."""
    import importlib
    import sys
    (tmp_path / "t_bb_elsewhere.py").write_text(_cell("bb5_correct"))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("t_bb_elsewhere")
    finally:
        sys.path.remove(str(tmp_path))  # spawn children start with the parent's sys.path: not there
    try:
        r = bb.run("t_bb_elsewhere", start_method="spawn", producers=2, consumers=2, items=10, wait_timeout=20.0)
        assert r.ok
        (tmp_path / "t_bb_elsewhere.py").unlink()  # no file, no source: the child's error is shown
        with pytest.raises(IpclabError, match="No module named 't_bb_elsewhere'"):
            bb.run("t_bb_elsewhere", start_method="spawn", items=3)
    finally:
        sys.modules.pop("t_bb_elsewhere", None)
