"""Isolation on a shared server: another user can neither use nor remove your course objects.

The tests run as root in CI; a forked child drops to uid 65534 (nobody) with setuid(), as a
second student on the same JupyterHub would be.
"""

import os
import shutil
import tempfile

import posix_ipc
import pytest

import workers_security as ws
from ipclab import inventory, objects, procs, registry

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as a second user (uid 65534)")

CASES = {
    "posix_shm": lambda: objects.posix_shm(4096, tag="iso"),
    "posix_sem": lambda: objects.posix_sem(1, tag="iso"),
    "posix_mq": lambda: objects.posix_mq(tag="iso"),
    "sysv_shm": lambda: objects.sysv_shm(4096),
    "sysv_sem": lambda: objects.sysv_sem(1),
    "sysv_msg": lambda: objects.sysv_msg(),
}


@pytest.mark.parametrize("kind", CASES)
def test_other_user_cannot_touch_a_0600_object(kind):
    with CASES[kind]() as obj:
        ident = obj.name if kind.startswith("posix") else obj.key
        verdicts = procs.run(ws.probe, [(ws.NOBODY, kind, ident)], start_method="fork", timeout=20)[0]
        assert verdicts and set(verdicts.values()) == {"denied"}, verdicts
        # and the object is intact for its owner
        if kind == "posix_mq":  # listed only where /dev/mqueue is mounted: open it by name instead
            posix_ipc.MessageQueue(ident).close()
        else:
            assert any((r["name"] or r["key"]) == ident or r["key"] == ident for r in inventory.course_objects())


def test_0666_really_lets_another_user_in():
    """The control experiment: without it the test above could pass for the wrong reason."""
    with objects.sysv_msg(mode=0o666) as q:
        verdicts = procs.run(ws.probe, [(ws.NOBODY, "sysv_msg", q.key)], start_method="fork", timeout=20)[0]
        assert verdicts["open+send"] == "allowed"


@pytest.fixture
def state_dirs():
    """make(uid): a fresh registry folder owned by *uid*; all removed after the test."""
    made = []

    def make(uid):
        d = tempfile.mkdtemp(prefix=f"ipclab-{'nobody' if uid else 'root'}-")
        os.chown(d, uid, uid)
        made.append(d)
        return d
    yield make
    for d in made:
        shutil.rmtree(d, ignore_errors=True)


def test_clean_never_touches_another_users_objects(state_dirs):
    d = state_dirs(ws.NOBODY)
    try:
        # nobody's run dies leaving two objects; root's suite has live objects meanwhile
        name, qid, _ = procs.run(ws.leave_objects_as, [(ws.NOBODY, d)], start_method="fork", timeout=20)[0]
        with objects.posix_shm(4096, tag="mine") as mine, objects.sysv_msg() as myq:
            # root cleans (its own registry): nobody's dead run is not root's to remove
            code = procs.run(ws.clean_as, [(0, str(registry.state_dir()))], start_method="fork", timeout=30)[0]
            assert code == 0
            assert os.path.exists("/dev/shm" + name) and inventory.sysv_row("msg", qid)
            # nobody cleans, even with --all: its own objects go, never root's
            assert procs.run(ws.clean_as, [(ws.NOBODY, d, True)], start_method="fork", timeout=30)[0] == 0
            assert not os.path.exists("/dev/shm" + name) and inventory.sysv_row("msg", qid) is None
            assert os.path.exists("/dev/shm" + mine.name) and inventory.sysv_row("msg", myq.id)
    finally:
        for r in inventory.list_objects():
            if r["uid"] == ws.NOBODY and r["ours"]:
                inventory.remove_rows([r])


def test_two_users_at_once_do_not_collide(state_dirs):
    dirs = [state_dirs(ws.NOBODY), state_dirs(0)]
    foreign = procs.run(ws.workload_as, [(ws.NOBODY, dirs[0], 30), (0, dirs[1], 30)],
                        start_method="fork", timeout=60)
    assert foreign == [0, 0]  # neither ever saw the other's objects as its own
    assert not [r for r in inventory.list_objects() if r["ours"] and r["uid"] == ws.NOBODY]
