"""Worker functions for notebook 00 (19.0 overview): one tiny live demo per mechanism.

Each is a few lines on purpose: the point is which kernel object carries the data, and
which C call does it (named in the comments). Defined in :mod:`ipclab.experiments.overview_demos`;
taught in ``notebooks/00_overview.ipynb``.
"""

import ctypes
import mmap
import os
import signal

import posix_ipc
import sysv_ipc

from ipclab.core import objects

#: A C ``long`` in this module's memory: after fork, parent and child see it at the same
#: virtual address, yet each has its own copy (copy-on-write pages).
COUNTER = ctypes.c_long(42)


def change_counter(value):
    """In the child: overwrite COUNTER; return (address, value seen by the child)."""
    COUNTER.value = value
    return ctypes.addressof(COUNTER), COUNTER.value


def write_to_fd(fd, data):
    """Write *data* to an inherited file descriptor (a pipe's write end)."""
    os.write(fd, data)  # C: write(fd, data, len)
    os.close(fd)


def send_on_socket(sock, data):
    """Send *data* on an inherited UNIX socket (one end of a socketpair)."""
    sock.sendall(data)  # C: send(fd, data, len, 0)
    sock.close()


def send_sysv_message(key, text, mtype):
    """Open a System V queue by its key alone and send one typed message."""
    q = sysv_ipc.MessageQueue(key)  # C: msqid = msgget(key, 0)
    q.send(text, block=False, type=mtype)  # C: msgsnd(msqid, &msg, len, IPC_NOWAIT)


def write_shared_memory(name, text):
    """Open a POSIX shared memory object by name, map it, write *text* at offset 0."""
    shm = posix_ipc.SharedMemory(name)  # C: fd = shm_open(name, O_RDWR, 0)
    with mmap.mmap(shm.fd, shm.size) as m:  # C: p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
        m[: len(text)] = text  # C: memcpy(p, text, len)
    shm.close_fd()  # C: close(fd); munmap(p, size)


def post_semaphore(name):
    """Open a POSIX named semaphore and post it once (V)."""
    sem = posix_ipc.Semaphore(name)  # C: sem = sem_open(name, 0)
    sem.release()  # C: sem_post(sem)
    sem.close()  # C: sem_close(sem)


def wait_for_signal(ready_name, timeout):
    """Block SIGUSR1, say 'ready' through a semaphore, then wait for the signal (with a timeout)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # C: sigprocmask(SIG_BLOCK, ...)
    post_semaphore(ready_name)
    info = signal.sigtimedwait({signal.SIGUSR1}, timeout)  # C: sigtimedwait(&set, &info, &ts)
    if info is None:
        return "no signal before the timeout"
    sender = "my parent" if info.si_pid == os.getppid() else f"pid {info.si_pid}"
    return f"got {signal.Signals(info.si_signo).name} from {sender}"


def create_and_leave(tag):
    """Create a POSIX shm object and a System V queue, then exit *without* removing them."""
    shm = objects.create_posix_shm(4096, tag=tag)
    q = objects.create_sysv_msg(note=tag)
    shm.close_fd()
    return shm.name, q.key, q.id


def try_open(kind, ident):
    """Worker, run as another user (:func:`ipclab.core.asuser.run_as_other`): open and write our object.

    Returns ``"was denied"`` or ``"could write"``: what the kernel let that user do.
    """
    try:
        if kind == "posix_shm":
            shm = posix_ipc.SharedMemory(ident)          # C: shm_open(name, O_RDWR, 0)
            with mmap.mmap(shm.fd, shm.size) as m:
                m[:5] = b"owned"
            shm.close_fd()
        else:
            q = sysv_ipc.MessageQueue(ident)             # C: msgget(key, 0)
            q.send(b"owned", block=False)                # C: msgsnd(id, &msg, 5, IPC_NOWAIT)
    except (posix_ipc.PermissionsError, sysv_ipc.PermissionsError, PermissionError):
        return "was denied"
    return "could write"


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["COUNTER", "change_counter", "write_to_fd", "send_on_socket", "send_sysv_message",
           "write_shared_memory", "post_semaphore", "wait_for_signal", "create_and_leave", "try_open"]
