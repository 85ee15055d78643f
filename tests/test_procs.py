"""ipclab.core.procs: real children under every start method; crashes, hangs, kills, interrupts."""

import os
import signal
import threading
import time

import pytest

import proctools
import workers
from ipclab import inventory, procs
from ipclab.core.errors import BadArgument, ChildError, ChildTimeout


alive = proctools.alive


until = proctools.until


def _pids_in(path, n):
    return path.exists() and len(path.read_text().split()) >= n


def test_results_in_order(start_method):
    assert procs.run(workers.square, [(i,) for i in range(5)], start_method=start_method) == [0, 1, 4, 9, 16]


def test_output_relayed_with_prefix(start_method, capsys):
    procs.run(workers.chatty, [(1,), (2,)], start_method=start_method)
    out, err = capsys.readouterr()
    assert "[chatty-0] hello 1" in out and "[chatty-1] hello 2" in out
    assert "[chatty-0] oops 1" in err


def test_child_exception_reraised_with_traceback(start_method):
    with pytest.raises(ChildError) as info:
        procs.run(workers.boom, n=1, args=("no such thing",), start_method=start_method)
    err = info.value
    assert isinstance(err.__cause__, ValueError) and str(err.__cause__) == "no such thing"
    assert "workers.py" in err.child_traceback and "raise ValueError" in err.child_traceback
    assert "boom-0" in str(err)


def test_timeout_kills_and_reaps_everyone(start_method, tmp_path):
    pidfile = tmp_path / "pids"
    t0 = time.monotonic()
    # 10 s: long enough for three spawned interpreters to start on a loaded machine and write
    # their pids, far below their 60 s sleep
    with pytest.raises(ChildTimeout) as info:
        procs.run(workers.sleeper, n=3, args=(60, str(pidfile)), start_method=start_method, timeout=10)
    assert time.monotonic() - t0 < 40
    assert "still running" in str(info.value)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 3 and not any(alive(p) for p in pids)


def test_sigkilled_child_is_reported(start_method):
    with pytest.raises(ChildError, match="killed by SIGKILL") as info:
        procs.run(workers.suicide, n=1, start_method=start_method)
    assert "about to die" in str(info.value)


def test_one_failure_stops_the_others(tmp_path):
    t0 = time.monotonic()
    group = procs.start(workers.sleeper, [(60, str(tmp_path / "p"))] * 2, start_method="fork", timeout=30)
    victim = group.pids[0]
    assert until(lambda: _pids_in(tmp_path / "p", 2))  # both are running their function
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(ChildError, match="killed by SIGKILL"):
        group.join()
    assert time.monotonic() - t0 < 10
    assert not any(alive(p) for p in group.pids)


def test_grandchildren_are_killed_too(tmp_path):
    pidfile = tmp_path / "grandchild"
    with pytest.raises(ChildTimeout):
        procs.run(workers.spawn_grandchild_and_hang, n=1, args=(str(pidfile),), start_method="fork", timeout=2)
    grandchild = int(pidfile.read_text())
    assert until(lambda: not alive(grandchild))


def test_keyboard_interrupt_kills_children(tmp_path):
    pidfile = tmp_path / "pids"
    # Ctrl-C as a kernel or a terminal delivers it: SIGINT raising KeyboardInterrupt. (An xdist
    # worker ignores SIGINT, so that Ctrl-C stops only the controller: Python's handler is put
    # back for this test.)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            procs.run(workers.sleeper, n=2, args=(60, str(pidfile)), start_method="fork", timeout=30)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert pids and not any(alive(p) for p in pids)


@pytest.mark.parametrize("kind", ["posix_shm", "sysv_sem", "sysv_msg"])
def test_objects_of_a_crashed_child_are_removed(kind, start_method):
    with pytest.raises(ChildError):
        procs.run(workers.create_and_crash, n=1, args=(kind,), start_method=start_method)
    run_id = os.environ["IPCLAB_RUN_ID"]
    assert [r for r in inventory.course_objects(run_id) if r["kind"] == kind] == []


def test_unpicklable_result_is_a_clear_error():
    with pytest.raises(ChildError, match="cannot be pickled|pickle"):
        procs.run(workers.unpicklable, n=1, start_method="fork")


def test_bad_arguments_are_explained():
    with pytest.raises(BadArgument, match="start method"):
        procs.run(workers.square, n=1, args=(1,), start_method="threads")
    with pytest.raises(BadArgument, match="positive"):
        procs.run(workers.square, n=1, args=(1,), timeout=0)
    with pytest.raises(BadArgument, match="n >= 1"):
        procs.run(workers.square, n=0)


def test_function_from_main_is_refused():
    def local():
        return 1
    local.__module__ = "__main__"
    with pytest.raises(BadArgument, match="module"):
        procs.run(local, n=1)


def test_current_worker_inside_child():
    from ipclab.core.procs import current_worker
    assert current_worker() is None
    assert procs.run(workers.whoami, n=2, start_method="spawn") == [(0, "whoami-0"), (1, "whoami-1")]


def test_outcomes_let_survivors_finish(tmp_path):
    group = procs.start(workers.sleeper, [(0.2,), (60, str(tmp_path / "p"))], start_method="fork", timeout=30)
    assert until(lambda: _pids_in(tmp_path / "p", 1))
    os.kill(group.pids[1], signal.SIGKILL)
    assert group.join(fail_fast=False, raise_errors=False) == [("ok", None), ("killed", "SIGKILL")]


def test_outcomes_mark_the_timed_out():
    group = procs.start(workers.sleeper, [(0.1,), (60,)], start_method="fork", timeout=2)
    assert group.join(fail_fast=False, raise_errors=False) == [("ok", None), ("timeout", None)]
