"""Workers for tests/test_asuser.py: they run as the other user (ipclab.core.asuser.run_as_other)."""

import mmap
import os

import posix_ipc
import sysv_ipc


def credentials():
    """(uid, gid, supplementary groups) as this process sees them."""
    return os.getuid(), os.getgid(), os.getgroups()


def write_posix_shm(name, data):
    """True if this user could open *name* read-write and write *data*; False if denied."""
    try:
        shm = posix_ipc.SharedMemory(name)
    except posix_ipc.PermissionsError:
        return False
    with mmap.mmap(shm.fd, shm.size) as m:
        m[:len(data)] = data
    shm.close_fd()
    return True


def send_sysv(key, data):
    """True if this user could send *data* to the System V queue *key*; False if denied."""
    try:
        sysv_ipc.MessageQueue(key).send(data, block=False)
    except sysv_ipc.PermissionsError:
        return False
    return True
