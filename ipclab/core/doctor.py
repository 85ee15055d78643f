"""What this machine supports and its limits, with advice for each shortfall.

The same facts serve three readers: ``ipclab doctor`` prints them, a notebook calls
:func:`skip_unless` to explain and skip a demo the machine cannot run (instead of failing),
and tests use :func:`check` to know which limits apply.
"""

import multiprocessing as mp
import os
import platform
import shutil
from dataclasses import dataclass

from ipclab.core import limits as kernel_limits
from ipclab.core.errors import BadArgument, NotSupported

__all__ = ["Check", "checks", "check", "require", "skip_unless", "format_report", "class_report",
           "setup_notebook"]


@dataclass
class Check:
    """One fact: its *name*, the *value* read, whether it is *ok* for the course, and *advice* if not."""
    name: str
    value: object
    ok: bool = True
    advice: str = ""


def _course_start_method():
    from ipclab.core import procs
    python_default = mp.get_start_method(allow_none=True) or mp.get_all_start_methods()[0]
    return f"{procs.DEFAULT_START_METHOD} (Python's own default here: {python_default})"


def _mounted(fstype):
    try:
        with open("/proc/mounts") as f:
            return any(line.split()[2] == fstype for line in f)
    except OSError:
        return False


def _posix_checks():
    import posix_ipc
    shm_size, shm_free = kernel_limits.devshm_size()
    shm = shm_size is not None
    mq_ok = bool(posix_ipc.MESSAGE_QUEUES_SUPPORTED)
    mq_limit = kernel_limits.rlimit("msgqueue")
    return [
        Check("posix_shm", "/dev/shm" if shm else None, shm,
              "POSIX shared memory needs /dev/shm (a tmpfs); mount one: mount -t tmpfs tmpfs /dev/shm"),
        Check("shm_size", shm_size, shm_size is None or shm_size >= 256 * 2**20,
              "/dev/shm is smaller than 256 MiB (Docker/Binder give 64 MiB): big segments fail with "
              "ENOSPC or SIGBUS; start Docker with --shm-size=1g"),
        Check("shm_free", shm_free, shm_free is None or shm_free >= 64 * 2**20,
              "/dev/shm is nearly full: `ipclab ls` shows what is there, `ipclab clean` removes the course's leftovers"),
        Check("posix_mq", mq_ok, mq_ok, "this platform has no POSIX message queues (macOS): the mq cells skip"),
        Check("mqueue_mounted", _mounted("mqueue"), _mounted("mqueue"),
              "/dev/mqueue is not mounted: queues work but cannot be listed; as root: "
              "mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue"),
        Check("mq_msg_max", kernel_limits.sysctl("mq_msg_max")),
        Check("mq_msgsize_max", kernel_limits.sysctl("mq_msgsize_max")),
        Check("mq_queues_max", kernel_limits.sysctl("queues_max")),
        Check("rlimit_msgqueue", mq_limit, True,
              "bytes of POSIX queues per user; the 10th default queue fails with EMFILE: raise with ulimit -q"),
        Check("sem_value_max", posix_ipc.SEMAPHORE_VALUE_MAX),
        Check("sem_timedwait", bool(posix_ipc.SEMAPHORE_TIMEOUT_SUPPORTED),
              bool(posix_ipc.SEMAPHORE_TIMEOUT_SUPPORTED),
              "no sem_timedwait (macOS): timed waits on POSIX semaphores poll instead"),
    ]


def _sysv_checks():
    import sysv_ipc
    described = ("msgmax", "msgmnb", "semmsl", "semmns", "semopm", "semmni")  # printed with their meaning
    return [
        *(Check(n, kernel_limits.sysctl(n), True, kernel_limits.MEANING[n] if n in described else "")
          for n in ("msgmax", "msgmnb", "msgmni", "semmsl", "semmns", "semopm", "semmni",
                    "shmmax", "shmall", "shmmni")),
        Check("sysv_ipc_timeouts", bool(sysv_ipc.SEMAPHORE_TIMEOUT_SUPPORTED),
              True if sysv_ipc.SEMAPHORE_TIMEOUT_SUPPORTED else None,
              "sysv_ipc was built without semtimedop: Semaphore.acquire(timeout=) would block for "
              "ever; the course's timed waits use ipclab's own semtimedop wrapper instead"),
    ]


def _tool_checks():
    methods = mp.get_all_start_methods()
    return [
        Check("platform", f"{platform.system()} {platform.release()}", platform.system() == "Linux",
              "the full course needs Linux; on macOS the POSIX MQ and sem_timedwait cells skip"),
        Check("python", platform.python_version()),
        Check("cpus", os.cpu_count(), (os.cpu_count() or 1) >= 2,
              "one CPU: races still show (the course designs the window) but timings differ"),
        Check("start_methods", methods, all(m in methods for m in ("fork", "forkserver", "spawn")),
              "some start methods are missing: use the ones listed"),
        Check("course_start_method", _course_start_method(), True,
              "the start method ipclab uses when a call names none (IPCLAB_START_METHOD changes it)"),
        Check("gcc", shutil.which("gcc"), shutil.which("gcc") is not None,
              "no C compiler: the C interop cells skip; install gcc (apt-get install gcc)"),
        Check("strace", shutil.which("strace"), shutil.which("strace") is not None,
              "no strace: the system-call tracing cells skip; apt-get install strace"),
        Check("valgrind", shutil.which("valgrind"), shutil.which("valgrind") is not None,
              "no valgrind: the Helgrind demo skips; apt-get install valgrind"),
        Check("ipcs", shutil.which("ipcs"), shutil.which("ipcs") is not None,
              "no ipcs/ipcrm: install util-linux; ipclab ls shows the same objects"),
    ]


def checks():
    """Every fact, in the order ``ipclab doctor`` prints them."""
    return _tool_checks() + _posix_checks() + _sysv_checks()


def check(name):
    """The :class:`Check` called *name* (e.g. ``check("msgmax").value``)."""
    for c in checks():
        if c.name == name:
            return c
    raise BadArgument(f"no check named {name!r}; `ipclab doctor` lists them: "
                      + ", ".join(c.name for c in checks()))


def require(name):
    """Raise :class:`NotSupported` with the advice if check *name* is not ok."""
    c = check(name)
    if not c.ok or not c.value:
        raise NotSupported(f"{name}: {c.advice or 'not available here'}")
    return c.value


def skip_unless(name):
    """In a notebook: True if the demo can run; else print why it is skipped and return False."""
    try:
        require(name)
        return True
    except NotSupported as e:
        print(f"SKIPPED on this machine: {e}")
        return False


def format_report(items=None):
    """The ``ipclab doctor`` table: status, name, value, and advice for each shortfall."""
    items = checks() if items is None else items
    width = max(len(c.name) for c in items)
    lines = []
    for c in items:
        mark = "info" if c.ok is None else "ok  " if c.ok else "WARN"
        line = f"{mark}  {c.name.ljust(width)}  {_human(c.name, c.value)}"
        if c.ok is not True and c.advice:
            line += f"\n      -> {c.advice}"
        lines.append(line)
    return "\n".join(lines)


def _human(name, value):
    """Byte counts as GiB/MiB/KiB next to the raw number; other values as they are."""
    if name in ("shm_size", "shm_free", "shmmax", "rlimit_msgqueue") and isinstance(value, int) and value >= 2**30:
        if value >= 2**60:
            return f"{value} (unlimited)"
        return f"{value} ({value / 2**30:.1f} GiB)"
    if name in ("shm_size", "shm_free") and isinstance(value, int) and value >= 2**20:
        return f"{value} ({value / 2**20:.0f} MiB)"
    return value


def class_report(n):
    """``ipclab doctor --class N``: (rows, text) saying whether this machine holds N students at once.

    The limits against the measured per-student peak: see :mod:`ipclab.core.capacity`.
    """
    from ipclab.core import capacity
    rows = capacity.plan(n)
    return rows, capacity.format_plan(n, rows)


def setup_notebook(*needs):
    """The first cell of every notebook: versions, platform, and whether *needs* are met.

    Prints one line per need (``ok`` or the advice), so a student on Docker or macOS learns
    up front which demos will skip, and why.
    """
    import matplotlib
    import sys
    from ipclab import __version__
    from ipclab.core import procs
    print(f"ipclab {__version__}, Python {platform.python_version()}, {platform.system()}, "
          f"matplotlib {matplotlib.__version__}, default start method {procs.DEFAULT_START_METHOD}")
    for name in needs:
        c = check(name)
        print(f"  {name}: " + ("ok" if c.ok and c.value else f"missing -> {c.advice}"))
    if platform.system() != "Linux":
        print("  note: this course is written for Linux; some cells will explain and skip", file=sys.stderr)
