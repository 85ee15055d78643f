"""The C demos: notebook 07's (seqlock, robust mutex versus SEM_UNDO, process-shared condvar) and the C
beside the Python of notebooks 03-05, each run on kernel objects Python made; msgq.Record = C's sizeof."""

import re

import pytest

from ipclab.core import cbuild
from ipclab.experiments import pshared_demos

pytestmark = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed")


def test_seqlock_readers_never_see_a_torn_pair():
    r = pshared_demos.seqlock("seqlock", count=200_000)
    assert (r.mode, r.reads, r.torn) == ("seqlock", 200_000, 0)


def test_without_the_sequence_number_the_counts_are_consistent():
    r = pshared_demos.seqlock("none", count=200_000)
    assert r.reads == 200_000 and 0 <= r.torn <= r.reads and r.retries == 0


def test_robust_mutex_reports_the_dead_owner_sem_undo_does_not():
    r = pshared_demos.robust_vs_undo()
    assert r.mutex_died_by == "SIGKILL" and r.sem_died_by == "SIGKILL"
    assert r.mutex_eownerdead and r.mutex_found == (90, 0) and r.mutex_after == (90, 10)
    assert r.sem_found == (90, 0) and "EOWNERDEAD" not in r.sem_output


def test_process_shared_condition_variable_wakes_the_other_process():
    assert pshared_demos.condvar().startswith('woken: message = "written under the lock by pid')


# -- the C beside the Python of notebooks 02-05: each C demo runs on an object Python made ------------

@pytest.fixture
def course_path():
    from ipclab.core import objects
    with objects.course_file(4096, tag="cdemo") as path:
        yield path


def _c_demo(name, args, timeout=20):
    """Compile ipclab/c/demos/NAME.c as notebook cells do (ccell.run_c: -Werror, sanitizers) and run it."""
    import io
    import shlex

    from ipclab.mechanisms import ccell
    src = (cbuild.C_DIR / "demos" / f"{name}.c").read_text()
    return ccell.run_c(src, f"--name {name} --args {shlex.quote(args)} --timeout {timeout}", out=io.StringIO())


@pytest.mark.parametrize("flag, seen", [("", True), ("private", False)])
def test_c_updates_a_record_python_wrote_and_python_sees_it_without_msync(course_path, flag, seen):
    from ipclab.mechanisms import records
    with records.RecordStore.create(course_path, "<q16s", 3) as store:
        store.write(1, (41, b"from Python"))
        run = _c_demo("record_update", f"{course_path} 1 100 from-C {flag}".strip())
        assert run.outcome == "ok", run.copies[0].stderr
        assert 'C reads record 1:  value 41, label "from Python"' in run.stdout
        assert 'C wrote record 1: value 141, label "from-C"' in run.stdout
        assert store.read(1, locked=True) == ((141, b"from-C" + bytes(10)) if seen else (41, b"from Python" + bytes(5)))
        assert store.read(0) == (0, bytes(16)) and store.read(2) == (0, bytes(16))  # only record 1 changed


def test_c_record_update_refuses_a_file_that_is_not_a_store(course_path):
    with open(course_path, "wb") as f:
        f.write(bytes(200))
    run = _c_demo("record_update", f"{course_path} 0 1 x")
    assert run.outcome == "exit=1" and "not a store" in run.copies[0].stderr


def test_c_side_by_side_meets_each_errno_on_the_objects_python_made():
    import posix_ipc

    from ipclab.core import objects
    from ipclab.mechanisms import semset
    with objects.posix_sem(1, tag="cside") as psem, semset.create(1, values=[1], note="cside") as sv:
        run = _c_demo("sem_side_by_side", f"{psem.name} 0x{sv.key & 0xFFFFFFFF:08x}")
        assert run.outcome == "ok", run.copies[0].stderr
        out = run.stdout
        for call, errno_name in [("sem_trywait again", "EAGAIN"), ("sem_timedwait, SIGALRM", "EINTR"),
                                 ("sem_timedwait, called again", "ETIMEDOUT"), ("sem_open(name, 0) after", "ENOENT"),
                                 ("semop {0, -1, IPC_NOWAIT}", "EAGAIN"), ("semtimedop, SIGALRM", "EINTR"),
                                 ("semtimedop, called again", "EAGAIN"), ("the child's semtimedop", "EIDRM"),
                                 ("semop on the removed id", "EINVAL")]:
            line = next(x for x in out.splitlines() if x.strip().startswith(call))
            assert f"errno {errno_name} " in line, line
        assert "semctl(id, 0, SETVAL, arg) with arg.val = 1: 0" in out
        assert "our handle still works after the unlink" in out
        with pytest.raises(posix_ipc.ExistentialError):
            posix_ipc.Semaphore(psem.name)             # C unlinked Python's semaphore
        with pytest.raises(semset.ObjectGone):
            sv.getall()                                # and removed Python's set


def test_c_receiver_takes_python_records_and_meets_enomsg_e2big_msg_noerror_eidrm():
    import os
    import time

    from ipclab.core.errors import ObjectGone
    from ipclab.experiments import msgq_demos
    from ipclab.mechanisms import msgq
    log = msgq_demos.LOG_RECORD
    with msgq.queue() as q:
        for seq, level in enumerate([3, 1, 4]):
            msgq.send(q, log.pack(os.getpid(), seq, time.time(), f"level {level}"), type=level, timeout=5)
        msgq.send(q, bytes(100), type=9, timeout=5)
        run = _c_demo("msg_recv", str(q.id))
        assert run.outcome == "ok", run.copies[0].stderr
        out = run.stdout
        assert f"sizeof(struct log_record) = {log.size}\n" in out
        got = [(int(t), int(s)) for t, s in re.findall(r"bytes, type (\d+), seq (\d+)", out)]
        assert got == [(1, 1), (3, 0), (4, 2)]                       # most urgent first, whole records
        for call, errno_name in [("none left", "ENOMSG"), ("longer than msgsz", "E2BIG"),
                                 ("the child's msgrcv", "EIDRM"), ("msgsnd on the removed id", "EINVAL")]:
            line = next(x for x in out.splitlines() if call in x)
            assert f"errno {errno_name} " in line, line
        assert "still queued: 1 message(s)" in out
        assert f"MSG_NOERROR) -> {log.size} bytes (truncated); 0 queued" in out
        with pytest.raises(ObjectGone):
            msgq.state(q)                                             # C removed Python's queue


@pytest.mark.parametrize("layout, c_struct", [
    ("i pid; i seq; d time; 48s text", "int pid; int seq; double time; char text[48];"),
    ("i pid; d time; i seq; 48s text", "int pid; double time; int seq; char text[48];"),  # 68 without tail padding
    ("q n; c flag", "long long n; char flag;"),
    ("h a; c b", "short a; char b;"),
    ("c a; 3s b", "char a; char b[3];"),
])
def test_record_size_is_the_c_compilers_sizeof(layout, c_struct):
    import subprocess

    from ipclab.mechanisms import msgq
    exe = cbuild.build([f'#include <stdio.h>\nstruct s {{ {c_struct} }};\n'
                        'int main(void) { printf("%zu", sizeof(struct s)); return 0; }\n'], "sizeof_s")
    c_size = int(subprocess.run([str(exe)], capture_output=True, text=True, timeout=10, check=True).stdout)
    assert msgq.Record("s", layout).size == c_size
