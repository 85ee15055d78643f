"""Kernel limits are hit on purpose: each gives an explained error, never a crash or a hang.

Small limits are made in a private mount namespace (``unshare -m``) so nothing else on the
machine sees them: a 1 MiB tmpfs over /dev/shm (Docker's 64 MiB, scaled down), /dev/mqueue
unmounted.
"""

import os
import resource
import shutil
import subprocess
import sys

import pytest

from ipclab import doctor, objects
from ipclab.core.errors import BadArgument, LimitReached

needs_unshare = pytest.mark.skipif(os.getuid() != 0 or not shutil.which("unshare"),
                                   reason="needs root and unshare(1) for a private mount namespace")


def in_namespace(shell_setup, code):
    script = f"{shell_setup} && exec {sys.executable} -c '{code}'"
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)


FULL_SHM = """
from ipclab import objects, inventory
from ipclab.core.errors import LimitReached
try:
    objects.create_posix_shm(4 * 2**20, tag="big")
except LimitReached as e:
    print("LIMIT", e)
import os
print("left", len(os.listdir("/dev/shm")))  # the private 1 MiB tmpfs
"""


@needs_unshare
def test_full_dev_shm_is_an_explained_error_not_sigbus():
    res = in_namespace("mount -t tmpfs -o size=1m tmpfs /dev/shm", FULL_SHM.replace("'", '"'))
    assert res.returncode == 0, res.stderr
    assert "LIMIT /dev/shm has no room for 4194304 bytes" in res.stdout and "--shm-size" in res.stdout
    assert "left 0" in res.stdout   # the half-made object was removed


DOCTOR_SMALL = """
from ipclab import doctor
print(doctor.format_report())
"""


@needs_unshare
def test_doctor_reports_small_shm_and_missing_mqueue():
    setup = "mount -t tmpfs -o size=1m tmpfs /dev/shm && (umount /dev/mqueue 2>/dev/null || true)"
    res = in_namespace(setup, DOCTOR_SMALL)
    assert res.returncode == 0, res.stderr
    assert "WARN  shm_size" in res.stdout and "--shm-size=1g" in res.stdout
    assert "WARN  mqueue_mounted" in res.stdout and "mount -t mqueue" in res.stdout


MQ_WITHOUT_MOUNT = """
from ipclab import objects
with objects.posix_mq(tag="nomount") as q:
    q.send(b"still works", timeout=1)
    print(q.receive(timeout=1)[0].decode())
"""


@needs_unshare
def test_posix_queues_work_without_the_mqueue_mount():
    res = in_namespace("(umount /dev/mqueue 2>/dev/null || true)", MQ_WITHOUT_MOUNT.replace("'", '"'))
    assert res.returncode == 0, res.stderr
    assert "still works" in res.stdout


def test_posix_mq_over_the_hard_limits_is_explained():
    with pytest.raises(LimitReached, match="msg_max"):
        objects.create_posix_mq(max_messages=10**6)
    with pytest.raises(LimitReached, match="msgsize_max"):
        objects.create_posix_mq(max_message_size=10**9)


RLIMIT_MQ = """
import resource
from ipclab import objects
from ipclab.core.errors import LimitReached
resource.setrlimit(resource.RLIMIT_MSGQUEUE, (20000, 20000))
made = []
try:
    for i in range(50):
        made.append(objects.create_posix_mq(max_messages=10, max_message_size=1024, tag="rl"))
except LimitReached as e:
    print("after", len(made), "queues:", e)
finally:
    for q in made:
        objects.remove_posix_mq(q)
"""


def test_rlimit_msgqueue_is_named_not_too_many_open_files():
    res = subprocess.run([sys.executable, "-c", RLIMIT_MQ], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "RLIMIT_MSGQUEUE" in res.stdout and "ulimit -q" in res.stdout
    assert "after 1 queues" in res.stdout   # 10 * 1024 bytes + overhead: the second does not fit


def test_semaphore_value_over_the_maximum_is_refused():
    import sysv_ipc
    with pytest.raises(BadArgument, match="SEMVMX"):
        objects.create_sysv_sem(sysv_ipc.SEMAPHORE_VALUE_MAX + 1)


def test_doctor_reads_the_limits_it_advises_on():
    for name in ("msgmax", "msgmnb", "semmsl", "semopm", "mq_msg_max", "mq_msgsize_max", "shm_size"):
        assert isinstance(doctor.check(name).value, int) and doctor.check(name).value > 0
