"""The same three jobs done by both IPC families: the child side of notebook 04's demos.

Why a module: the notebook's cells show the parent side of each job (the code a student
reads and compares); these are the children, which must be importable so that fork,
forkserver and spawn can all run them. Each function exists twice, POSIX and System V,
written line for line alike so the difference is the API, not the logic.

Defined in :mod:`ipclab.experiments.posix_vs_sysv`; taught in notebook 04 (19.4 POSIX vs
System V). The benchmark's transports, which time the same families, are in
:mod:`ipclab.bench.transports`.
"""

import struct
import time

import posix_ipc
import sysv_ipc

from ipclab.core import objects
from ipclab.mechanisms import semset

__all__ = ["SLOT", "TIMEOUT", "COUNTER", "posix_consumer", "sysv_consumer", "posix_send_all",
           "sysv_send_all", "posix_take_and_exit", "sysv_take_and_exit", "posix_count", "sysv_count",
           "create_and_leave", "send_later_posix", "send_later_sysv"]

SLOT = 32          # bytes per handshake message
TIMEOUT = 5.0
COUNTER = struct.Struct("<q")


# -- job 1: shared memory + semaphore handshake ------------------------------------------------
def posix_consumer(shm_name, empty_name, full_name, count):
    """Take *count* messages out of a POSIX segment, one semaphore handshake each."""
    import mmap
    shm = posix_ipc.SharedMemory(shm_name)                 # C: shm_open(name, O_RDWR, 0)
    buf = mmap.mmap(shm.fd, SLOT)                          # C: mmap(NULL, SLOT, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm.close_fd()
    empty, full = posix_ipc.Semaphore(empty_name), posix_ipc.Semaphore(full_name)  # C: sem_open(name, 0)
    got = []
    for _ in range(count):
        full.acquire(TIMEOUT)                              # C: sem_timedwait(full, &ts)
        got.append(buf[:SLOT].rstrip(b"\0").decode())
        empty.release()                                    # C: sem_post(empty)
    buf.close()
    return got


def sysv_consumer(shm_key, semid, count):
    """The same with a System V segment and a set of two semaphores (0: empty, 1: full)."""
    shm = sysv_ipc.SharedMemory(shm_key)                   # C: shmget(key, 0, 0); shmat(id, NULL, 0)
    sems = semset.SemaphoreSet.attach(semid)
    got = []
    for _ in range(count):
        sems.acquire(1, timeout=TIMEOUT)                   # C: semtimedop(id, {1, -1, 0}, 1, &ts)
        got.append(shm.read(SLOT).rstrip(b"\0").decode())  # C: memcpy from the attached address
        sems.release(0)                                    # C: semop(id, {0, +1, 0}, 1)
    shm.detach()                                           # C: shmdt(addr)
    return got


# -- job 2: a message queue with priorities -------------------------------------------------------
def posix_send_all(name, items):
    """Send ``(text, priority)`` items to a POSIX queue, in the order given."""
    q = posix_ipc.MessageQueue(name)                       # C: mq_open(name, O_WRONLY)
    for text, prio in items:
        q.send(text.encode(), TIMEOUT, prio)               # C: mq_timedsend(q, text, len, prio, &ts)
    q.close()                                              # C: mq_close(q)
    return len(items)


def sysv_send_all(key, items):
    """Send ``(text, type)`` items to a System V queue, in the order given."""
    q = sysv_ipc.MessageQueue(key)                         # C: msgget(key, 0)
    for text, mtype in items:
        q.send(text.encode(), True, mtype)                 # C: msgsnd(id, &msg, len, 0)
    return len(items)


# -- job 3: a mutex ----------------------------------------------------------------------------
def posix_take_and_exit(sem_name):
    """Take the POSIX lock and end without releasing it (as a crash would)."""
    posix_ipc.Semaphore(sem_name).acquire(TIMEOUT)         # C: sem_timedwait
    return "held, exiting without sem_post"


def sysv_take_and_exit(semid):
    """Take the System V lock with SEM_UNDO and end without releasing it."""
    semset.SemaphoreSet.attach(semid).acquire(0, undo=True, timeout=TIMEOUT)  # C: semtimedop({0,-1,SEM_UNDO})
    return "held, exiting without semop(+1)"


def posix_count(shm_name, sem_name, m):
    """Add 1 to a shared counter *m* times, each under a POSIX named-semaphore lock."""
    import mmap
    shm = posix_ipc.SharedMemory(shm_name)
    buf = mmap.mmap(shm.fd, COUNTER.size)
    shm.close_fd()
    lock = posix_ipc.Semaphore(sem_name)
    for _ in range(m):
        lock.acquire(TIMEOUT)                              # C: sem_timedwait(lock)
        COUNTER.pack_into(buf, 0, COUNTER.unpack_from(buf, 0)[0] + 1)
        lock.release()                                     # C: sem_post(lock)
    buf.close()
    return m


def sysv_count(shm_key, semid, m):
    """The same under a System V semaphore with SEM_UNDO."""
    shm = sysv_ipc.SharedMemory(shm_key)
    view = memoryview(shm)
    lock = semset.SemaphoreSet.attach(semid)
    for _ in range(m):
        lock.acquire(0, undo=True, timeout=TIMEOUT)        # C: semtimedop({0,-1,SEM_UNDO})
        COUNTER.pack_into(view, 0, COUNTER.unpack_from(view, 0)[0] + 1)
        lock.release(0, undo=True)                         # C: semop({0,+1,SEM_UNDO})
    view.release()
    shm.detach()
    return m


# -- persistence and notification --------------------------------------------------------------
def create_and_leave():
    """Create a POSIX segment, a POSIX queue and a System V queue; exit without removing them."""
    shm = objects.create_posix_shm(4096, tag="outlive")
    shm.close_fd()
    mq = objects.create_posix_mq(max_messages=4, max_message_size=64, tag="outlive")
    mq.send(b"still here", 1)
    mq.close()
    q = objects.create_sysv_msg(note="outlive")
    return shm.name, mq.name, q.key


def send_later_posix(name, delay, text):
    time.sleep(delay)
    q = posix_ipc.MessageQueue(name)
    q.send(text.encode(), TIMEOUT)
    q.close()
    return text


def send_later_sysv(key, delay, text):
    time.sleep(delay)
    sysv_ipc.MessageQueue(key).send(text.encode(), True, 1)
    return text
