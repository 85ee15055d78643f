"""The kernel's IPC limits: one reader of ``/proc/sys`` and the resource limits.

Why one module: the semaphore and queue mechanisms check a request against a limit before
the kernel refuses it (so the error says which limit and how to raise it), ``ipclab doctor``
prints them and ``ipclab doctor --class`` compares them with a class's demand. Each limit's
file and meaning are written here once.

Sources: proc(5) (``/proc/sys/kernel/sem``, ``msgmax``, ``msgmnb``, ``msgmni``, ``shmmax``,
``shmall``, ``shmmni``, ``pid_max``, ``threads-max``), mq_overview(7) (``/proc/sys/fs/mqueue``),
getrlimit(2) (``RLIMIT_MSGQUEUE``, ``RLIMIT_NPROC``).
"""

import os
import resource

__all__ = ["SYSCTL", "MEANING", "DEFAULTS", "read", "sysctl", "sem", "rlimit", "devshm_size", "all_limits"]

#: limit name -> (file, index of the value in it)
SYSCTL = {
    "semmsl": ("/proc/sys/kernel/sem", 0), "semmns": ("/proc/sys/kernel/sem", 1),
    "semopm": ("/proc/sys/kernel/sem", 2), "semmni": ("/proc/sys/kernel/sem", 3),
    "msgmax": ("/proc/sys/kernel/msgmax", 0), "msgmnb": ("/proc/sys/kernel/msgmnb", 0),
    "msgmni": ("/proc/sys/kernel/msgmni", 0),
    "shmmax": ("/proc/sys/kernel/shmmax", 0), "shmall": ("/proc/sys/kernel/shmall", 0),
    "shmmni": ("/proc/sys/kernel/shmmni", 0),
    "mq_msg_max": ("/proc/sys/fs/mqueue/msg_max", 0), "mq_msgsize_max": ("/proc/sys/fs/mqueue/msgsize_max", 0),
    "queues_max": ("/proc/sys/fs/mqueue/queues_max", 0),
    "pipe_max_size": ("/proc/sys/fs/pipe-max-size", 0),
    "pid_max": ("/proc/sys/kernel/pid_max", 0), "threads_max": ("/proc/sys/kernel/threads-max", 0),
}
#: what each limit bounds, in words (doctor prints these)
MEANING = {
    "semmsl": "max semaphores per set", "semmns": "max semaphores system-wide",
    "semopm": "max operations per semop call", "semmni": "max semaphore sets",
    "msgmax": "largest System V message (bytes)", "msgmnb": "default capacity of a System V queue (bytes)",
    "msgmni": "max System V queues", "shmmax": "largest System V segment (bytes)",
    "shmall": "System V shared memory system-wide (pages)", "shmmni": "max System V segments",
    "mq_msg_max": "max messages in a POSIX queue", "mq_msgsize_max": "largest POSIX message (bytes)",
    "queues_max": "max POSIX queues system-wide",
    "pipe_max_size": "largest pipe an ordinary user may set with F_SETPIPE_SZ (bytes)",
}
#: Linux's compiled-in defaults where a mechanism needs a value even if /proc is unreadable
DEFAULTS = {"msgmax": 8192, "msgmnb": 16384, "msgmni": 32000}


def read(path):
    """The integers in *path*, or None if it cannot be read."""
    try:
        with open(path) as f:
            return [int(v) for v in f.read().split()]
    except (OSError, ValueError):
        return None


def sysctl(name, default=None):
    """The current value of limit *name* (a key of :data:`SYSCTL`), else *default*."""
    path, index = SYSCTL[name]
    values = read(path)
    return values[index] if values and len(values) > index else default


def sem():
    """``/proc/sys/kernel/sem`` as (SEMMSL, SEMMNS, SEMOPM, SEMMNI); OSError if unreadable."""
    values = read(SYSCTL["semmsl"][0])
    if not values or len(values) < 4:
        raise OSError(f"cannot read the semaphore limits from {SYSCTL['semmsl'][0]}")
    return tuple(values[:4])


def rlimit(name):
    """The soft resource limit RLIMIT_<NAME> (``"msgqueue"``, ``"nproc"``), None if unlimited or unknown."""
    which = getattr(resource, f"RLIMIT_{name.upper()}", None)
    if which is None:
        return None
    soft = resource.getrlimit(which)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def devshm_size():
    """(size, free) of the /dev/shm filesystem in bytes, or (None, None) without one."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None, None
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def all_limits():
    """Every limit above plus /dev/shm's size and the per-user resource limits, as ``{name: value}``."""
    out = {name: sysctl(name) for name in SYSCTL}
    out["devshm_size"] = devshm_size()[0]
    out["rlimit_msgqueue"] = rlimit("msgqueue")
    out["rlimit_nproc"] = rlimit("nproc")
    return out
