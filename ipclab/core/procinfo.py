"""A process seen from outside, through ``/proc/PID``: its mappings, open files, and what it waits on.

Why: when two processes misbehave you cannot add prints to the kernel. ``/proc`` is what
``pmap``, ``lsof``, ``ps`` and ``top`` read; these small readers return plain values a
notebook prints and a test checks:

* :func:`maps` / :func:`smaps` - each mapping (``/proc/PID/maps``), with its memory counts
  in kB (``/proc/PID/smaps``: Size, Rss, Pss, Shared_*/Private_*);
* :func:`fds`, :func:`holders` - open files, and which processes hold an IPC object
  (an fd on it, or a mapping of it: what ``lsof`` and ``fuser`` look for);
* :func:`state`, :func:`wchan`, :func:`stack`, :func:`blocked_in` - is it sleeping, in
  which kernel function and which system call (a hang, seen from outside);
* :func:`wait_until_blocked` - wait, with a timeout, until a process sleeps in a syscall.

Files another user's process (or a hardened kernel) keeps from us read as ``None``.

Defined in :mod:`ipclab.core.procinfo`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import os
import platform
import time
from dataclasses import dataclass, field

from ipclab.core.errors import BadArgument, WaitTimeout

__all__ = ["SYSCALLS", "WAITING_CALLS", "Mapping", "parse_maps_line", "parse_smaps", "maps", "smaps",
           "find", "sysv_shm_fragment", "fds", "pids", "holders", "state", "wchan", "stack", "blocked_in",
           "wait_until_blocked", "snapshot", "format_snapshots"]

#: system-call numbers of the calls an IPC process sleeps in, per architecture
#: (``/proc/PID/syscall`` gives only the number; see ``ausyscall --dump``).
SYSCALLS = {
    "x86_64": {202: "futex", 65: "semop", 220: "semtimedop", 69: "msgsnd", 70: "msgrcv",
               242: "mq_timedsend", 243: "mq_timedreceive", 230: "clock_nanosleep",
               7: "poll", 23: "select", 0: "read", 1: "write", 61: "wait4", 35: "nanosleep"},
    "aarch64": {98: "futex", 193: "semop", 192: "semtimedop", 189: "msgsnd", 188: "msgrcv",
                182: "mq_timedsend", 183: "mq_timedreceive", 115: "clock_nanosleep",
                73: "ppoll", 63: "read", 64: "write", 260: "wait4"},
}
WAITING_CALLS = ("futex", "semop", "semtimedop", "msgsnd", "msgrcv", "mq_timedsend", "mq_timedreceive")


def _path(pid, name):
    if pid != "self" and (not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0):
        raise BadArgument(f"pid must be a positive int or 'self', got {pid!r}")
    return f"/proc/{pid}/{name}"


def _read(pid, name):
    """Text of /proc/PID/NAME, or None if the process is gone or the file is not readable."""
    try:
        with open(_path(pid, name)) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:  # e.g. EACCES on stack without CAP_SYS_ADMIN, ESRCH while exiting
        return None


@dataclass
class Mapping:
    """One line of /proc/PID/maps, plus its smaps counts (kB) when read through :func:`smaps`."""
    start: int
    end: int
    perms: str       # "rw-s": read, write, no exec, s = MAP_SHARED (p = private, copy-on-write)
    offset: int
    dev: str
    inode: int
    path: str        # file, "[heap]", "/SYSV0000abcd (deleted)" for System V shm, "" for anonymous
    counts: dict = field(default_factory=dict)  # "Rss": 256, ... (kB); empty from maps()
    vmflags: str = ""

    @property
    def size(self):
        """Length of the mapping in bytes (end - start)."""
        return self.end - self.start

    @property
    def shared(self):
        """True for a MAP_SHARED mapping ('s' in perms): writes reach the object, and others."""
        return self.perms.endswith("s")


def parse_maps_line(line):
    """A :class:`Mapping` from one line of /proc/PID/maps."""
    parts = line.split(None, 5)
    if len(parts) < 5 or "-" not in parts[0]:
        raise BadArgument(f"not a /proc/PID/maps line: {line!r}")
    start, end = (int(x, 16) for x in parts[0].split("-"))
    path = parts[5].strip() if len(parts) > 5 else ""
    return Mapping(start, end, parts[1], int(parts[2], 16), parts[3], int(parts[4]), path)


def parse_smaps(text):
    """Mappings with their counts from the text of /proc/PID/smaps."""
    out = []
    for line in text.splitlines():
        head, _, rest = line.partition(":")
        if " " not in head and rest and out:  # "Rss:   256 kB" or "VmFlags: rd wr sh"
            if head == "VmFlags":
                out[-1].vmflags = rest.strip()
            else:
                value = rest.split()
                if value and value[0].isdigit():
                    out[-1].counts[head] = int(value[0])
        else:
            out.append(parse_maps_line(line))
    return out


def maps(pid="self"):
    """Every mapping of *pid* (/proc/PID/maps), or None if not readable."""
    text = _read(pid, "maps")
    return None if text is None else [parse_maps_line(l) for l in text.splitlines() if l]


def smaps(pid="self"):
    """Every mapping of *pid* with its memory counts in kB (/proc/PID/smaps), or None."""
    text = _read(pid, "smaps")
    return None if text is None else parse_smaps(text)


def find(mappings, fragment):
    """The mappings whose path contains *fragment* (e.g. a /dev/shm name, or 'SYSV1c0a3f21')."""
    return [m for m in mappings or [] if fragment in m.path]


def sysv_shm_fragment(key):
    """How a System V segment of *key* appears in maps: ``/SYSV%08x (deleted)``."""
    return "/SYSV%08x" % (key & 0xFFFFFFFF)


def fds(pid="self"):
    """{fd: what it points to} from /proc/PID/fd (readlink), or None if not readable."""
    try:
        entries = os.listdir(_path(pid, "fd"))
    except OSError:
        return None
    out = {}
    for e in entries:
        try:
            out[int(e)] = os.readlink(_path(pid, f"fd/{e}"))
        except OSError:
            continue  # closed while we looked
    return out


def pids():
    """Every process id visible in /proc."""
    return sorted(int(d) for d in os.listdir("/proc") if d.isdigit())


def holders(fragment):
    """Processes holding an object whose path contains *fragment*: [(pid, 'fd N' | 'mapped')].

    What ``lsof /dev/shm/NAME`` and ``fuser`` do: look through every /proc/PID/fd and
    /proc/PID/maps we may read. A POSIX segment is held through an fd or a mapping; a
    System V segment only through a mapping (``/SYSV<key> (deleted)``); semaphores and
    queues by nobody you can see here (ask ``ipcs -p`` and GETNCNT instead).
    """
    found = []
    for pid in pids():
        for fd, target in sorted((fds(pid) or {}).items()):
            if fragment in target:
                found.append((pid, f"fd {fd}"))
        if find(maps(pid), fragment):
            found.append((pid, "mapped"))
    return found


def state(pid):
    """The one-letter state of *pid* (R running, S sleeping, D disk wait, Z zombie...), or None."""
    text = _read(pid, "stat")
    return None if text is None else text.rsplit(")", 1)[1].split()[0]


def wchan(pid):
    """The kernel function *pid* sleeps in (e.g. 'futex_wait_queue'), '' if running, None if hidden."""
    text = _read(pid, "wchan")
    if text is None:
        return None
    return "" if text.strip() in ("", "0") else text.strip()


def stack(pid):
    """The kernel stack of *pid* as function names (needs root), or None if not readable."""
    text = _read(pid, "stack")
    if not text:
        return None
    return [l.split("] ", 1)[-1].split("+")[0] for l in text.splitlines() if l.strip()]


def blocked_in(pid):
    """The system call *pid* is blocked in, by name ('futex', 'semtimedop'...), '' if running, None if hidden.

    From /proc/PID/syscall: a number and the arguments, or 'running'.
    """
    text = _read(pid, "syscall")
    if text is None or not text.strip():
        return None
    first = text.split()[0]
    if not first.lstrip("-").isdigit():
        return ""  # "running"
    number = int(first)
    if number < 0:
        return ""
    return SYSCALLS.get(platform.machine(), {}).get(number, f"syscall {number}")


def wait_until_blocked(pid, calls=WAITING_CALLS, timeout=10.0):
    """Wait until *pid* sleeps in one of *calls*; returns the call's name.

    Polls /proc/PID/syscall every few ms. Raises :class:`WaitTimeout` after *timeout*
    seconds (the process never blocked there, or /proc hides it: then it waits 0.5 s and
    returns None, which is the best we can do).
    """
    deadline = time.monotonic() + timeout
    if state(pid) is None:
        raise WaitTimeout(f"process {pid} ended (or never existed) before it blocked in {'/'.join(calls)}")
    first = blocked_in(pid)
    if first is None:  # hidden: give it a moment and hope
        time.sleep(0.5)
        return None
    while time.monotonic() < deadline:
        call = blocked_in(pid)
        if call in calls and state(pid) in ("S", "D"):
            return call
        if call is None and state(pid) is None:
            raise WaitTimeout(f"process {pid} ended before it blocked in {'/'.join(calls)}")
        time.sleep(0.005)
    raise WaitTimeout(f"process {pid} did not block in {'/'.join(calls)} within {timeout:g} s "
                      f"(it is in {blocked_in(pid)!r}, state {state(pid)!r})")


def snapshot(pid):
    """What ``ps``, ``/proc`` and the kernel say about *pid*: state, wchan, syscall, kernel stack top."""
    kstack = stack(pid)
    return {"pid": pid, "state": state(pid), "wchan": wchan(pid), "syscall": blocked_in(pid),
            "stack": kstack[:3] if kstack else None}


def format_snapshots(rows):
    """A small fixed-width table of :func:`snapshot` rows."""
    head = ("pid", "state", "syscall", "wchan", "kernel stack (top)")
    body = [(str(r["pid"]), r["state"] or "?", r["syscall"] if r["syscall"] is not None else "(hidden)",
             r["wchan"] if r["wchan"] is not None else "(hidden)",
             " <- ".join(r["stack"]) if r["stack"] else "(not readable)") for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body])
