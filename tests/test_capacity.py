"""ipclab.core.capacity: sampled per-user holdings, the stored per-student peak, and the class plan.

The sampling tests create real objects as a uid of their own (a forked child that setuid()s,
as root), so other processes of the machine cannot change what is counted. The record test
checks that the stored measurement is fresh and consistent with the course it measured.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from ipclab.core import capacity

ROOT = Path(__file__).resolve().parent.parent
SPARE_UID = 54321  # a uid that owns nothing on a test machine; the child becomes it
MAX_AGE_DAYS = 180


def _holder(ready_w, done_r):
    """Child: become SPARE_UID, create a 3-semaphore set, a queue and 64 KiB in /dev/shm, wait, remove."""
    import posix_ipc
    import sysv_ipc
    os.setgid(SPARE_UID)
    os.setuid(SPARE_UID)
    sem = sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX, mode=0o600)  # one-semaphore set (sysv_ipc's only kind)
    msg = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX, mode=0o600)
    shm = posix_ipc.SharedMemory(f"/ipclabcap{os.getpid()}", posix_ipc.O_CREX, mode=0o600, size=65536)
    try:
        os.posix_fallocate(shm.fd, 0, 65536)
        os.write(ready_w, b"x")
        os.read(done_r, 1)
    finally:
        shm.close_fd()
        shm.unlink()
        sem.remove()
        msg.remove()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the objects are created as a spare uid")
def test_sample_and_peak_count_a_users_real_objects():
    before = capacity.sample(SPARE_UID)
    assert before == capacity.Demand(tasks=0), f"uid {SPARE_UID} is not spare here: {before}"
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    with capacity.PeakRecorder(SPARE_UID, interval=0.01) as rec:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _holder(ready_w, done_r)
                code = 0
            finally:
                os._exit(code)
        try:
            assert os.read(ready_r, 1) == b"x"
            now = capacity.sample(SPARE_UID)
            deadline = time.monotonic() + 10
            while rec.samples < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            os.write(done_w, b"x")
            _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (now.sem_sets, now.sems, now.msg_queues) == (1, 1, 1)
    assert now.devshm_bytes >= 65536 and now.tasks == 1
    assert rec.peak.sem_sets == 1 and rec.peak.devshm_bytes >= 65536
    assert capacity.sample(SPARE_UID) == capacity.Demand(), "the child removed everything it made"


LIMITS = {"semmsl": 32000, "semmns": 1000, "semopm": 500, "semmni": 100, "msgmni": 32000, "shmmni": 4096,
          "queues_max": 256, "devshm_size": 64 * 2**20, "rlimit_msgqueue": 819200, "rlimit_nproc": None,
          "pid_max": 32768, "threads_max": 100000}


def _record(**peak):
    return {"peak": capacity.Demand(**peak), "date": "2026-01-01", "commit": "0" * 40}


def test_plan_says_what_holds_and_gives_the_exact_lines_for_what_does_not():
    rec = _record(sem_sets=3, sems=6, msg_queues=2, devshm_bytes=2 * 2**20, tasks=30, mq_bytes=200000)
    rows = {r.limit.split(" ")[0]: r for r in capacity.plan(40, rec, LIMITS, in_use=capacity.Demand())}
    # 40 students x 3 sets x 1.5 = 180 sets > SEMMNI 100: fails, and the fix raises it to 180
    assert not rows["SEMMNI"].ok and rows["SEMMNI"].demand == 180
    assert 'sysctl -w kernel.sem="32000 1000 500 180"' in rows["SEMMNI"].fix
    assert rows["SEMMNS"].ok and rows["SEMMNS"].demand == 360  # 40 x 6 x 1.5 < 1000
    # /dev/shm: 40 x 2 MiB x 1.5 = 120 MiB > 64 MiB
    assert not rows["/dev/shm"].ok
    assert "mount -o remount,size=120M /dev/shm" in rows["/dev/shm"].fix
    # RLIMIT_MSGQUEUE is per student: 200000 x 1.5 = 300000 <= 819200 whatever the class size
    assert rows["RLIMIT_MSGQUEUE"].ok and rows["RLIMIT_MSGQUEUE"].demand == 300000
    assert rows["RLIMIT_NPROC"].ok  # unlimited
    text = capacity.format_plan(40, list(rows.values()), rec)
    assert "does NOT hold" in text and "FAIL  SEMMNI" in text


def test_plan_counts_what_is_already_in_use():
    rec = _record(sem_sets=1)
    used = capacity.Demand(sem_sets=96)
    (semmni,) = [r for r in capacity.plan(3, rec, LIMITS, in_use=used) if r.limit.startswith("SEMMNI")]
    assert semmni.demand == 96 + 5 and not semmni.ok  # 3 x 1 x 1.5 = 4.5 -> 5; 101 > 100


def test_plan_rejects_a_bad_class_size():
    with pytest.raises(capacity.BadArgument, match="number of students"):
        capacity.plan(0, _record(), LIMITS)


def test_the_stored_per_student_peak_is_fresh_and_consistent():
    """The peak `doctor --class` uses was measured on this course, recently, and adds up."""
    rec = capacity.load_record()
    age = (datetime.date.today() - datetime.date.fromisoformat(rec["date"])).days
    assert age <= MAX_AGE_DAYS, (f"the per-student peak is {age} days old: re-measure with "
                                 "`sudo python bench/classroom.py --users 1 --record`")
    known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", rec["commit"] + "^{commit}"],
                           capture_output=True).returncode == 0
    if (ROOT / ".git").exists():
        assert known, f"the record's commit {rec['commit']} is not in this repository's history"
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(rec["notebooks"]) == notebooks, "the record does not cover exactly the course's notebooks"
    assert not rec.get("incomplete"), (f"notebooks {rec['incomplete']} failed part-way while the peak was "
                                       "measured, so it is a floor: fix them, then re-measure with "
                                       "`sudo python bench/classroom.py --users 1 --record`")
    per_nb = [capacity.Demand(**d) for d in rec["notebooks"].values()]
    top = capacity.Demand()
    for d in per_nb:
        top = top.peak(d)
    assert rec["peak"] == top, "the stored peak is not the maximum over the notebooks"
    # what the course teaches, it creates: semaphore sets, System V queues, POSIX segments, workers
    assert top.sem_sets >= 1 and top.msg_queues >= 1 and top.devshm_bytes > 0 and top.tasks > 1
    if known:
        changed = subprocess.run(["git", "-C", str(ROOT), "diff", "--name-only", rec["commit"], "--",
                                  "notebooks/py"], capture_output=True, text=True).stdout.split()
        if changed:
            warnings.warn(f"notebooks changed since the peak was measured ({', '.join(changed)}): "
                          "re-measure with `sudo python bench/classroom.py --users 1 --record`")


def test_doctor_class_on_the_command_line():
    run = lambda *a: subprocess.run([sys.executable, "-m", "ipclab", "doctor", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    r = run("--class", "3", "--json")
    rows = json.loads(r.stdout)
    assert r.returncode == (0 if all(x["ok"] for x in rows) else 1)
    assert {x["limit"].split(" ")[0] for x in rows} >= {"SEMMNI", "SEMMNS", "MSGMNI", "/dev/shm", "RLIMIT_MSGQUEUE"}
    assert all(x["ok"] or x["fix"] for x in rows), "every limit that does not hold says how to fix it"
    r = run("--class", "0")
    assert r.returncode == 1 and "number of students" in r.stderr
