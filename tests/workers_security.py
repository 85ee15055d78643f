"""Workers for the isolation tests: become another user, then try to use someone's objects."""

import mmap
import os

import posix_ipc
import sysv_ipc

NOBODY = 65534


def become(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)  # C: setuid(uid)


def _attempt(action):
    try:
        action()
    except (posix_ipc.PermissionsError, sysv_ipc.PermissionsError, PermissionError) as e:
        return "denied"
    except (posix_ipc.ExistentialError, sysv_ipc.ExistentialError):
        return "missing"
    return "allowed"


def probe(uid, kind, ident):
    """As *uid*: try to open, read, write and remove the object; return {action: verdict}."""
    become(uid)
    out = {}
    if kind == "posix_shm":
        def rw():
            shm = posix_ipc.SharedMemory(ident)
            with mmap.mmap(shm.fd, 0) as m:
                m[:3] = b"bad"
        out["open+write"] = _attempt(rw)
        out["read"] = _attempt(lambda: posix_ipc.SharedMemory(ident, read_only=True))
        out["remove"] = _attempt(lambda: posix_ipc.unlink_shared_memory(ident))
    elif kind == "posix_sem":
        out["open+post"] = _attempt(lambda: posix_ipc.Semaphore(ident).release())
        out["remove"] = _attempt(lambda: posix_ipc.unlink_semaphore(ident))
    elif kind == "posix_mq":
        out["open+send"] = _attempt(lambda: posix_ipc.MessageQueue(ident).send(b"bad", timeout=0))
        out["read"] = _attempt(lambda: posix_ipc.MessageQueue(ident, read=True, write=False))
        out["remove"] = _attempt(lambda: posix_ipc.unlink_message_queue(ident))
    elif kind == "sysv_shm":
        out["attach+write"] = _attempt(lambda: sysv_ipc.SharedMemory(ident).write(b"bad"))
        out["read"] = _attempt(lambda: sysv_ipc.attach(sysv_ipc.SharedMemory(ident).id, flags=sysv_ipc.SHM_RDONLY))
        out["remove"] = _attempt(lambda: sysv_ipc.remove_shared_memory(sysv_ipc.SharedMemory(ident).id))
    elif kind == "sysv_sem":
        out["open+post"] = _attempt(lambda: sysv_ipc.Semaphore(ident).release())
        out["remove"] = _attempt(lambda: sysv_ipc.Semaphore(ident).remove())
    elif kind == "sysv_msg":
        out["open+send"] = _attempt(lambda: sysv_ipc.MessageQueue(ident).send(b"bad", block=False))
        out["read"] = _attempt(lambda: sysv_ipc.MessageQueue(ident).receive(block=False))
        out["remove"] = _attempt(lambda: sysv_ipc.MessageQueue(ident).remove())
    return out


def leave_objects_as(uid, state_dir):
    """As *uid*, in its own state dir: create course objects and exit without removing them."""
    become(uid)
    os.environ["IPCLAB_STATE_DIR"] = state_dir
    os.environ.pop("IPCLAB_RUN_ID", None)
    from ipclab import objects, registry
    registry._run = None
    shm = objects.create_posix_shm(4096, tag="nobody")
    q = objects.create_sysv_msg(note="nobody")
    return shm.name, q.id, registry.current().id


def clean_as(uid, state_dir, all_=False):
    """As *uid*: run `ipclab clean` with its own state dir; return the exit code."""
    become(uid)
    os.environ["IPCLAB_STATE_DIR"] = state_dir
    os.environ.pop("IPCLAB_RUN_ID", None)
    from ipclab import registry
    from ipclab.tooling import cli
    registry._run = None
    return cli.main(["clean"] + (["--live"] if all_ else []))


def workload_as(uid, state_dir, rounds):
    """As *uid*: create and remove objects repeatedly; return what course_objects showed of others."""
    become(uid)
    os.environ["IPCLAB_STATE_DIR"] = state_dir
    os.environ.pop("IPCLAB_RUN_ID", None)
    from ipclab import inventory, objects, registry
    registry._run = None
    foreign = 0
    for _ in range(rounds):
        with objects.posix_shm(4096, tag="w"), objects.sysv_sem(1), objects.sysv_msg(), objects.posix_sem(0):
            foreign += sum(1 for r in inventory.course_objects() if r["uid"] != uid)
    return foreign
