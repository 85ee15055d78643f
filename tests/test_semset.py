"""ipclab.mechanisms.semset against the kernel: values, atomic multi-operations, SEM_UNDO, timeouts, semctl, errors."""

import os
import pickle
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import proctools
import pytest
import sysv_ipc

from ipclab import inventory, procs, registry, semset
from ipclab.core.errors import BadArgument, LimitReached, ObjectGone, WaitTimeout

import workers_semset as w



def _wait_until(predicate, timeout=20.0):
    """True once *predicate* holds (a generous bound on a loaded machine); False at the deadline."""
    return proctools.until(predicate, timeout)


@pytest.fixture(scope="module")
def peek(tmp_path_factory):
    from ipclab.core import cbuild
    if not cbuild.have_gcc():
        pytest.skip("gcc not installed")
    return cbuild.build_file("semset_peek.c")


# -- the object is the kernel's ---------------------------------------------------------
def test_create_sets_values_mode_and_registers():
    with semset.create(4, values=[3, 0, 7, 1], note="t") as s:
        assert s.getall() == [3, 0, 7, 1]
        assert [s.getval(i) for i in range(4)] == [3, 0, 7, 1]
        row = inventory.sysv_row("sem", s.id)
        assert row["nsems"] == 4 and row["perms"] & 0o777 == 0o600
        assert row["key"] & 0xFFFFFFFF == s.key and s.key == s.stat().key
        entries = [e for e in registry.current().entries() if e["kind"] == "sysv_sem" and e["id"] == s.id]
        assert entries and entries[0]["key"] == s.key
        assert any(r["id"] == s.id for r in inventory.course_objects(registry.current().id))
    assert inventory.sysv_row("sem", s.id) is None
    assert not [e for e in registry.current().entries() if e["kind"] == "sysv_sem" and e["id"] == s.id]


def test_ipcs_shows_the_values():
    if shutil.which("ipcs") is None:
        pytest.skip("ipcs not installed")
    with semset.create(3, values=[5, 0, 2]) as s:
        s.setval(1, 9)
        out = subprocess.run(["ipcs", "-s", "-i", str(s.id)], capture_output=True, text=True, check=True).stdout
        values = [int(m[1]) for m in re.finditer(r"^(?:\d+)\s+(\d+)\s+\d+\s+\d+\s+\d+\s*$", out, re.M)]
        assert values == [5, 9, 2]
        assert "nsems = 3" in out and "0600" in out


def test_c_program_sees_and_changes_the_same_set(peek):
    with semset.create(3, values=[1, 4, 0]) as s:
        out = subprocess.run([str(peek), str(s.id)], capture_output=True, text=True, check=True).stdout
        assert f"key=0x{s.key:08x} nsems=3 mode=0600" in out
        assert re.findall(r"value=(\d+)", out) == ["1", "4", "0"]
        subprocess.run([str(peek), str(s.id), "2", "6"], capture_output=True, check=True)
        assert s.getall() == [1, 4, 6]


def test_sysv_ipc_sees_only_semaphore_0_of_a_set():
    with semset.create(3, values=[2, 5, 8]) as s:
        other = sysv_ipc.Semaphore(s.key)  # opens without complaint...
        assert other.id == s.id
        assert other.value == 2  # ...but only ever sees semaphore 0
        other.release()
        assert s.getall() == [3, 5, 8]


def test_sysv_ipc_shows_high_keys_as_negative():
    for _ in range(32):
        key = 0x9C000000 + secrets.randbelow(0x01000000)
        try:
            s = semset.create(1, values=[1], key=key)
            break
        except FileExistsError:
            continue
    with s:
        assert s.key == key and s.stat().key == key
        assert sysv_ipc.Semaphore(key).key == key - 2**32  # negative in sysv_ipc
        assert semset.open_key(key).id == s.id


def test_open_key_and_ipc_private_and_excl(tmp_path):
    with semset.create(2, values=[1, 2]) as s:
        opened = semset.open_key(s.key)
        assert opened.id == s.id and opened.nsems == 2 and not opened.owner
        with pytest.raises(FileExistsError):
            semset.create(2, key=s.key)  # IPC_CREAT | IPC_EXCL refuses an existing key
        with pytest.raises(BadArgument):
            semset.open_key(s.key, nsems=3)  # the set has fewer semaphores
    with pytest.raises(FileNotFoundError):
        semset.open_key(s.key)
    with semset.create(1, key=semset.IPC_PRIVATE) as a, semset.create(1, key=semset.IPC_PRIVATE) as b:
        assert a.id != b.id and a.stat().key == 0 == b.stat().key


def test_ftok(tmp_path):
    f = tmp_path / "keyfile"
    f.write_text("x")
    k1, k2 = semset.ftok(f, 1), semset.ftok(f, 2)
    assert k1 == semset.ftok(str(f), 1) and k1 != k2
    assert (k1 >> 24) == 1 and (k2 >> 24) == 2  # the project id is the key's top byte
    assert k1 & 0xFFFF == os.stat(f).st_ino & 0xFFFF
    with pytest.raises(FileNotFoundError):
        semset.ftok(tmp_path / "missing", 1)
    with pytest.raises(BadArgument):
        semset.ftok(f, 0)


# -- semop: atomic, all or nothing -------------------------------------------------------------
def test_multi_op_is_all_or_nothing():
    with semset.create(3, values=[1, 0, 2]) as s:
        with pytest.raises(semset.WouldBlock):
            s.op([(0, -1, 0), (1, -1, 0), (2, -1, 0)], timeout=0)
        assert s.getall() == [1, 0, 2]  # nothing was taken from 0 or 2
        with pytest.raises(semset.WouldBlock):
            s.op([(0, -1, semset.IPC_NOWAIT), (1, -1, semset.IPC_NOWAIT)])
        assert s.getall() == [1, 0, 2]
        s.op([(0, -1, 0), (2, -2, 0)], timeout=1)
        assert s.getall() == [0, 0, 0]
        s.op((1, 3))  # a single operation, flags default to 0
        assert s.getall() == [0, 3, 0]


def test_multi_op_atomic_under_contention():
    """Workers shuttle units 0 -> 1 -> 0 in single semops; GETALL never sees a unit in flight."""
    total = 3
    with semset.create(2, values=[total, 0]) as s:
        with procs.start(w.shuttle, n=3, args=(s, 400), start_method="fork", timeout=120) as g:
            sums = set()
            while any(c.process.is_alive() for c in g.children):
                sums.add(sum(s.getall()))
            g.join()
        assert sums == {total}
        assert s.getall() == [total, 0]


def test_waiting_op_completes_when_posted(start_method):
    with semset.create(2, values=[0, 0]) as s:
        with procs.start(w.wait_op, [(s.id, [(0, -1, 0), (1, -1, 0)], 30)],
                         start_method=start_method, timeout=60) as g:
            assert _wait_until(lambda: s.ncnt(0) == 1)
            s.release(0)  # half of what it needs: it must keep waiting
            time.sleep(0.2)
            assert s.getall() == [1, 0]
            s.release(1)
            assert g.join() == ["done"]
        assert s.getall() == [0, 0]
        assert s.pid(0) == g.pids[0] and s.pid(1) == g.pids[0]


def test_set_pickles_as_its_id(start_method):
    with semset.create(2, values=[0, 0]) as s:
        clone = pickle.loads(pickle.dumps(s))
        assert clone.id == s.id and not clone.owner
        pids = procs.run(w.v_once, [(s, 1)], start_method=start_method, timeout=60)
        assert s.getall() == [0, 1] and s.pid(1) == pids[0]


# -- SEM_UNDO ---------------------------------------------------------------------------------
@pytest.mark.parametrize("undo", [True, False])
def test_sem_undo_after_sigkill(undo):
    with semset.create(2, values=[1, 0]) as s:
        g = procs.start(w.take_and_hold, [(s, 0, undo, 1)], start_method="fork", timeout=60)
        try:
            s.acquire(1, timeout=20)  # the victim holds sem 0 now
            assert s.getval(0) == 0
        finally:
            g.kill()  # SIGKILL: no finally, no release runs in the victim
        assert g.children[0].process.exitcode == -9
        if undo:
            assert s.getval(0) == 1  # the kernel gave the unit back
            s.acquire(0, timeout=5)
        else:
            assert s.getval(0) == 0
            with pytest.raises(WaitTimeout):
                s.acquire(0, timeout=0.3)


def test_setval_clears_undo():
    """SETVAL resets every process's undo record for that semaphore (semctl(2))."""
    with semset.create(1, values=[2]) as s:
        g = procs.start(w.take_and_hold, [(s, 0, True, 0)], start_method="fork", timeout=60)
        try:
            assert _wait_until(lambda: s.pid(0) == g.pids[0] and s.getval(0) == 2)
            s.setval(0, 5)
        finally:
            g.kill()
        assert s.getval(0) == 5  # nothing undone: the victim's -1 was forgotten


# -- timeouts ---------------------------------------------------------------------------------
def test_timed_wait_on_empty_semaphore_returns_within_timeout():
    with semset.create(1, values=[0]) as s:
        t0 = time.monotonic()
        with pytest.raises(WaitTimeout, match="waited 0.5 s"):
            s.acquire(0, timeout=0.5)
        elapsed = time.monotonic() - t0
        assert 0.45 <= elapsed < 10  # never blocks for ever (sysv_ipc's wheel would)
        t0 = time.monotonic()
        with pytest.raises(WaitTimeout):
            s.op([(0, -1, 0)], timeout=0.2)
        assert time.monotonic() - t0 < 10
        assert s.getval(0) == 0 and s.ncnt(0) == 0  # the timed-out waiter left the queue


def test_wait_zero_times_out_then_succeeds():
    with semset.create(1, values=[1]) as s:
        with pytest.raises(WaitTimeout):
            s.wait_zero(0, timeout=0.2)
        s.acquire(0, timeout=1)
        s.wait_zero(0, timeout=1)  # already zero: returns at once


# -- semctl commands --------------------------------------------------------------------------
def test_getncnt_getzcnt_count_waiters():
    with semset.create(2, values=[0, 1]) as s:
        args = [(s.id, [(0, -1, 0)], 30), (s.id, [(0, -1, 0)], 30), (s.id, [(1, 0, 0)], 30)]
        with procs.start(w.wait_op, args, start_method="fork", timeout=60) as g:
            assert _wait_until(lambda: (s.ncnt(0), s.zcnt(1)) == (2, 1))
            assert (s.zcnt(0), s.ncnt(1)) == (0, 0)
            s.op([(0, 2, 0), (1, -1, 0)], timeout=1)
            assert g.join() == ["done", "done", "done"]
        assert (s.ncnt(0), s.zcnt(1)) == (0, 0)


def test_stat_otime_ctime_and_getpid():
    with semset.create(2, values=[0, 0]) as s:
        st = s.stat()
        assert st.nsems == 2 and st.mode == 0o600 and st.uid == os.getuid() and st.cuid == os.getuid()
        assert st.otime == 0 and st.ctime > 0  # no semop yet
        assert s.pid(0) == 0
        s.release(0)
        assert s.stat().otime > 0 and s.pid(0) == os.getpid() and s.pid(1) == 0


def test_ipc_rmid_wakes_waiters_with_object_gone():
    with semset.create(1, values=[0]) as s:
        with procs.start(w.wait_op, [(s.id, [(0, -1, 0)], 30)], start_method="fork", timeout=60) as g:
            assert _wait_until(lambda: s.ncnt(0) == 1)
            s.remove()
            assert g.join() == ["gone"]
        assert s.removed and inventory.sysv_row("sem", s.id) is None
        s.remove()  # idempotent


# -- errors -----------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with semset.create(2, values=[0, 0]) as s:
        with pytest.raises(BadArgument, match=r"index 2 is not in 0\.\.1"):
            s.getval(2)
        with pytest.raises(BadArgument, match="index"):
            s.op([(5, 1, 0)])
        with pytest.raises(BadArgument, match="SEMVMX"):
            s.setval(0, semset.SEMVMX + 1)
        with pytest.raises(BadArgument, match="SEMVMX"):
            s.setall([0, -1])
        with pytest.raises(BadArgument, match="2 values"):
            s.setall([1])
        s.setval(0, semset.SEMVMX)
        with pytest.raises(BadArgument, match="SEMVMX"):
            s.release(0)  # the kernel's ERANGE
        with pytest.raises(BadArgument, match="flags"):
            s.op([(0, 1, 0o7777)])
        with pytest.raises(BadArgument):
            s.op([])
        with pytest.raises(BadArgument):
            s.op([(0, -1)], timeout=-1)
    with pytest.raises(BadArgument):
        semset.create(0)
    with pytest.raises(BadArgument):
        semset.create(2, values=[1])
    with pytest.raises(LimitReached, match="SEMMSL"):
        semset.create(semset.limits().semmsl + 1)


def test_removed_set_raises_object_gone():
    s = semset.create(2, values=[1, 1])
    semid = s.id
    subprocess.run(["ipcrm", "-s", str(semid)], check=True)  # removed behind our back
    try:
        for call in (lambda: s.getval(0), s.getall, s.stat, lambda: s.op([(0, -1, 0)], timeout=1),
                     lambda: s.setval(0, 1)):
            with pytest.raises(ObjectGone, match=f"id {semid}"):
                call()
        with pytest.raises(ObjectGone):
            semset.attach(semid)
    finally:
        s.remove()


def test_limits_match_proc():
    lim = semset.limits()
    with open("/proc/sys/kernel/sem") as f:
        assert [lim.semmsl, lim.semmns, lim.semopm, lim.semmni] == [int(v) for v in f.read().split()]


def test_too_many_operations_is_semopm():
    with semset.create(1, values=[0]) as s:
        n = semset.limits().semopm + 1
        with pytest.raises(LimitReached, match="SEMOPM"):
            s.op([(0, 1, 0)] * n, timeout=0)
        assert s.getval(0) == 0


# -- the kernel's semantics, against a model ------------------------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


def _model(values, ops):
    """What semop(2) does with IPC_NOWAIT: apply in order; if any would block, change nothing."""
    vals = list(values)
    for index, delta, _ in ops:
        if (delta == 0 and vals[index] != 0) or vals[index] + delta < 0:
            return list(values), False
        vals[index] += delta
    return vals, True


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.integers(0, 3), min_size=3, max_size=3),
       ops=st.lists(st.tuples(st.integers(0, 2), st.integers(-3, 3), st.just(semset.IPC_NOWAIT)),
                    min_size=1, max_size=5))
def test_multi_op_matches_the_all_or_nothing_model(values, ops):
    with semset.create(3, values=values) as s:
        expected, ok = _model(values, ops)
        try:
            s.op(ops)
            done = True
        except semset.WouldBlock:
            done = False
        assert (s.getall(), done) == (expected, ok)


def test_prepared_op_is_the_same_semtimedop():
    with semset.create(2, values=[1, 0]) as s:
        move = s.prepare([(0, -1, 0), (1, +1, 0)], timeout=0.3)
        back = s.prepare([(1, -1, 0), (0, +1, 0)], timeout=0.3)
        for _ in range(50):
            move()
            assert s.getall() == [0, 1]
            back()
        with pytest.raises(WaitTimeout):
            back()  # sem 1 is empty now
        assert s.getall() == [1, 0]
        nowait = s.prepare([(1, -1, semset.IPC_NOWAIT)])
        with pytest.raises(semset.WouldBlock):
            nowait()
        with pytest.raises(BadArgument):
            s.prepare([(9, 1, 0)])
    with pytest.raises(ObjectGone):
        move()
