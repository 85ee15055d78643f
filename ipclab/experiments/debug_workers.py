"""Workers of notebook 06's /proc demos: processes that hold a mapping or a segment, and an ABBA deadlock.

Why a module: notebook 06 looks at these processes from outside (``/proc/PID/maps``,
``nattch``, ``semctl(GETNCNT)``, ``strace -p``, a Python stack on ``SIGUSR1``) while they
hold or wait; they run in children started by :mod:`ipclab.core.procs`, so they must be
importable by every start method. :func:`await_posts` is the parent's side: it waits for
their "ready" posts and stops early when one of them died.

Defined in :mod:`ipclab.experiments.debug_workers`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import faulthandler
import mmap
import signal
import time

import posix_ipc
import sysv_ipc


def hold_mapping(name, size, touch_pages, ready_name, done_name, timeout):
    """Map POSIX shm *name*, write one byte in each of its first *touch_pages* pages, post
    *ready_name*, then hold the mapping until *done_name* is posted (or *timeout*)."""
    shm = posix_ipc.SharedMemory(name)  # C: fd = shm_open(name, O_RDWR, 0)
    m = mmap.mmap(shm.fd, size)  # C: p = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm.close_fd()  # the mapping stays valid without the fd
    page = mmap.PAGESIZE
    for i in range(touch_pages):
        m[i * page] = 1  # first touch of a page: a page fault maps it (no system call)
    ready, done = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(done_name)
    ready.release()
    try:
        done.acquire(timeout)
    finally:
        ready.close()
        done.close()
        m.close()  # C: munmap(p, size)
    return touch_pages


def hold_sysv_shm(shmid, ready_name, done_name, timeout):
    """Attach System V segment *shmid* (nattch + 1), post *ready_name*, hold until *done_name*."""
    seg = sysv_ipc.attach(shmid)  # C: p = shmat(shmid, NULL, 0)
    ready, done = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(done_name)
    ready.release()
    try:
        done.acquire(timeout)
    finally:
        ready.close()
        done.close()
        seg.detach()  # C: shmdt(p)


def take_two(first_name, second_name, ready_name, go_name, timeout):
    """Lock *first*, say so, wait for the go, then lock *second*: two of these in opposite
    order are the classic ABBA deadlock. ``kill -USR1 PID`` prints this worker's Python stack."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a Python stack on demand
    first, second = posix_ipc.Semaphore(first_name), posix_ipc.Semaphore(second_name)
    ready, go = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(go_name)
    first.acquire(timeout)  # C: sem_timedwait(first, &deadline)
    ready.release()
    go.acquire(timeout)
    second.acquire(timeout)  # blocks for ever if the other worker holds it and waits for ours
    second.release()
    first.release()
    return "got both"


def take_two_sysv(sems, first, second, timeout):
    """The same ABBA pair on a System V set *sems* of 4: locks 0 and 1, 'ready' 2, 'go' 3.

    Takes lock *first*, adds 1 to 'ready', waits for 'go', then takes lock *second*.
    Blocked in ``semtimedop``, it is visible to ``semctl(GETNCNT)`` and ``ipcs -s -i``.
    """
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sems.acquire(first, timeout=timeout)  # C: semtimedop(id, {first, -1, 0}, 1, &ts)
    sems.release(2)
    sems.acquire(3, timeout=timeout)
    sems.acquire(second, timeout=timeout)  # the deadlock: the other worker holds it
    sems.release(second)
    sems.release(first)
    return "got both"


def await_posts(sem, count, group, timeout):
    """Take *count* posts of POSIX semaphore *sem*, giving up early if a worker of *group* died.

    Without this, a worker that fails before posting makes the parent wait its full timeout.
    """
    from ipclab.core.errors import WaitTimeout
    deadline = time.monotonic() + timeout
    for i in range(count):
        while True:
            try:
                sem.acquire(0.2)  # C: sem_timedwait(sem, now + 0.2 s)
                break
            except posix_ipc.BusyError:
                dead = [c.name for c in group.children if c.process.exitcode is not None]
                if dead or time.monotonic() > deadline:
                    group.join()  # raises the dead worker's error, or kills them all
                    raise WaitTimeout(f"{count - i} post(s) of {sem.name} never came "
                                      f"(workers ended: {dead or 'none'}, waited {timeout:g} s)")


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["hold_mapping", "hold_sysv_shm", "take_two", "take_two_sysv", "await_posts"]
