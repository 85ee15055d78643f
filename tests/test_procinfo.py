"""ipclab.core.procinfo (/proc readers) and the workers of notebook 06 (ipclab.experiments.debug_workers, .race_window, .trace_demos)."""

import json
import mmap
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import posix_ipc
import pytest

import workers
from ipclab import inventory, objects, procinfo, procs, registry, semset
from ipclab import debug_workers, race_window
from ipclab.core.errors import BadArgument, ChildError, WaitTimeout

PAGE = mmap.PAGESIZE
KB = PAGE // 1024

SMAPS = """\
7f0000000000-7f0000100000 rw-s 00000000 00:1b 2259                       /dev/shm/ipl0-abcd1234-maps-b2f900
Size:               1024 kB
Rss:                 256 kB
Pss:                 128 kB
Shared_Clean:          0 kB
Shared_Dirty:        256 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
THPeligible:    0
VmFlags: rd wr sh mr mw me ms
7f0000200000-7f0000201000 rw-s 00000000 00:01 32781                      /SYSV1c837816 (deleted)
Size:                  4 kB
Rss:                   0 kB
VmFlags: rd wr sh mr mw me ms
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
7f0000300000-7f0000301000 r--p 00000000 00:00 0 
Size:                  4 kB
"""


def test_parse_smaps_text():
    ms = procinfo.parse_smaps(SMAPS)
    assert len(ms) == 4
    shm, sysv, stack, anon = ms
    assert (shm.start, shm.size, shm.perms, shm.inode) == (0x7F0000000000, 1024 * 1024, "rw-s", 2259)
    assert shm.shared and not stack.shared
    assert shm.counts == {"Size": 1024, "Rss": 256, "Pss": 128, "Shared_Clean": 0, "Shared_Dirty": 256,
                          "Private_Clean": 0, "Private_Dirty": 0, "THPeligible": 0}
    assert shm.vmflags.split()[2] == "sh"
    assert sysv.path == "/SYSV1c837816 (deleted)"
    assert procinfo.find(ms, procinfo.sysv_shm_fragment(0x1C837816)) == [sysv]
    assert stack.path == "[stack]" and anon.path == ""


def test_parse_maps_line_rejects_garbage():
    with pytest.raises(BadArgument):
        procinfo.parse_maps_line("Rss: 4 kB")


def test_bad_pid():
    with pytest.raises(BadArgument):
        procinfo.maps(-1)
    with pytest.raises(BadArgument):
        procinfo.state("1")


def test_gone_process_reads_as_none():
    p = subprocess.Popen(["true"])
    p.wait(timeout=10)
    assert procinfo.maps(p.pid) is None
    assert procinfo.smaps(p.pid) is None
    assert procinfo.state(p.pid) is None
    assert procinfo.fds(p.pid) is None
    assert procinfo.blocked_in(p.pid) is None


def test_own_posix_mapping_rss_and_holders():
    with objects.posix_shm(16 * PAGE, tag="self") as shm:
        with mmap.mmap(shm.fd, 16 * PAGE) as m:
            for i in range(3):
                m[i * PAGE] = 1
            [mine] = procinfo.find(procinfo.smaps("self"), shm.name)
            assert mine.perms == "rw-s" and mine.size == 16 * PAGE
            assert mine.counts["Rss"] == 3 * KB
            assert mine.counts["Private_Dirty"] + mine.counts["Private_Clean"] == 3 * KB  # mapped once
            held = procinfo.holders(shm.name)
            assert (os.getpid(), "mapped") in held
            assert (os.getpid(), f"fd {shm.fd}") in held
            assert procinfo.fds("self")[shm.fd] == "/dev/shm" + shm.name
        assert procinfo.find(procinfo.maps("self"), shm.name) == []


def test_sysv_segment_shows_as_deleted_sysv_key():
    with objects.sysv_shm(PAGE) as seg:  # sysv_ipc attaches on creation
        frag = procinfo.sysv_shm_fragment(seg.key)
        [m] = procinfo.find(procinfo.maps("self"), frag)
        assert m.path.endswith("(deleted)") and m.shared
        assert (os.getpid(), "mapped") in procinfo.holders(frag)


def test_two_workers_shared_and_private_pages(start_method):
    size = 16 * PAGE
    with objects.posix_shm(size, tag="maps") as shm, objects.posix_sem(0, tag="ready") as ready, \
            objects.posix_sem(0, tag="done") as done:
        group = procs.start(debug_workers.hold_mapping, [(shm.name, size, 4, ready.name, done.name, 30),
                                              (shm.name, size, 16, ready.name, done.name, 30)],
                            start_method=start_method, timeout=60)
        try:
            debug_workers.await_posts(ready, 2, group, timeout=30)
            a, b = (procinfo.find(procinfo.smaps(pid), shm.name)[0] for pid in group.pids)
        finally:
            done.release()
            done.release()
        assert group.join() == [4, 16]
    assert (a.counts["Rss"], b.counts["Rss"]) == (4 * KB, 16 * KB)
    assert a.counts["Shared_Dirty"] + a.counts["Shared_Clean"] == 4 * KB
    assert b.counts["Private_Dirty"] + b.counts["Private_Clean"] == 12 * KB
    assert a.counts["Pss"] == 2 * KB


def test_await_posts_stops_at_a_dead_worker():
    with objects.posix_sem(0, tag="ready") as ready:
        group = procs.start(workers.boom, [("no post",)], start_method="fork", timeout=250)
        with pytest.raises(ChildError, match="no post"):
            debug_workers.await_posts(ready, 1, group, timeout=200)


@pytest.mark.skipif(platform.machine() not in procinfo.SYSCALLS, reason="syscall numbers unknown here")
def test_blocked_in_and_wait_until_blocked():
    p = subprocess.Popen(["sleep", "30"])
    try:
        assert procinfo.wait_until_blocked(p.pid, calls=("clock_nanosleep", "nanosleep"), timeout=10)
        assert procinfo.state(p.pid) == "S"
        assert procinfo.blocked_in(p.pid) in ("clock_nanosleep", "nanosleep")
        assert procinfo.wchan(p.pid) not in ("",)  # a function name, or None where hidden
        with pytest.raises(WaitTimeout, match="did not block in futex"):
            procinfo.wait_until_blocked(p.pid, calls=("futex",), timeout=0.3)
    finally:
        p.kill()
        p.wait(timeout=10)
    with pytest.raises(WaitTimeout, match="ended"):
        procinfo.wait_until_blocked(p.pid, timeout=1)


def test_deadlocked_pair_seen_through_semctl_and_proc():
    with semset.create(4, values=[1, 1, 0, 0], note="abba") as sems:
        pair = procs.start(debug_workers.take_two_sysv, [(sems, 0, 1, 60), (sems, 1, 0, 60)],
                           start_method="fork", timeout=90)
        try:
            sems.acquire(2, n=2, timeout=30)
            sems.release(3, n=2)
            blocked = [procinfo.wait_until_blocked(pid, timeout=20) for pid in pair.pids]
            rows = sems.snapshot()
            snaps = [procinfo.snapshot(pid) for pid in pair.pids]
        finally:
            pair.kill()
    assert set(blocked) <= {"semtimedop", None}
    assert [r["value"] for r in rows[:2]] == [0, 0]
    assert [r["ncnt"] for r in rows[:2]] == [1, 1]
    assert {rows[0]["pid"], rows[1]["pid"]} == set(pair.pids)
    assert all(s["state"] == "S" for s in snaps)
    assert all(procinfo.state(pid) is None for pid in pair.pids)  # killed and reaped
    table = procinfo.format_snapshots(snaps)
    assert table.splitlines()[0].split()[:3] == ["pid", "state", "syscall"] and len(table.splitlines()) == 3


def test_race_experiment_invariants():
    one = race_window.race_experiment(1, 500, "none", start_method="fork", timeout=60)
    assert one == {"workers": 1, "n": 500, "window": "none", "pinned": False,
                   "expected": 500, "final": 500, "lost": 0}  # alone, nothing can be lost
    two = race_window.race_experiment(2, 50, "yield", pin=True, start_method="fork", timeout=60)
    assert 0 < two["final"] <= two["expected"] == 100 and two["lost"] == 100 - two["final"]


def test_crash_run_leaves_objects_that_clean_removes():
    state = tempfile.mkdtemp(prefix="ipclab-crash-")
    env = {k: v for k, v in os.environ.items() if k != registry.ENV_RUN}
    env[registry.ENV_STATE] = state
    try:
        p = subprocess.run([sys.executable, "-m", "ipclab.experiments.trace_demos", "crash"], env=env,
                           capture_output=True, text=True, timeout=60)
        left = json.loads(p.stdout)
        assert p.returncode == -signal.SIGKILL
        assert os.path.exists("/dev/shm" + left["posix_shm"])
        assert inventory.sysv_row("shm", left["sysv_shm"])["nattch"] == 0
        out = subprocess.run([sys.executable, "-m", "ipclab", "clean"], env=env, capture_output=True,
                             text=True, timeout=60).stdout
        assert "3 object(s) removed" in out
        assert not os.path.exists("/dev/shm" + left["posix_shm"])
        assert inventory.sysv_row("shm", left["sysv_shm"]) is None
        assert inventory.sysv_row("sem", left["sysv_sem"]) is None
    finally:
        for run_dir in Path(state).iterdir():
            registry.remove_run(registry.Run(run_dir.name, run_dir))
        shutil.rmtree(state, ignore_errors=True)


def test_trace_demos_cli_usage():
    p = subprocess.run([sys.executable, "-m", "ipclab.experiments.trace_demos", "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "usage" in p.stderr
