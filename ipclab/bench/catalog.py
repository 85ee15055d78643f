"""The benchmark's mechanisms, one entry each: what it is called, its family, the chapter's
row it answers, how a figure draws it, and the kernel limits that bound its message size.

Why one table: the runner, the figures, the C comparison (``bench/compare.py``) and the
notebooks all list mechanisms; each reads this table, so a new mechanism is described once.
How its two ends move bytes is in :mod:`ipclab.bench.transports` (the child side) and
:mod:`ipclab.bench.runner` (creating the kernel objects), keyed by the same name.
"""

from dataclasses import dataclass

__all__ = ["Mechanism", "ALL", "THROUGHPUT", "LATENCY", "RINGS", "ROW_COLOURS", "get", "colour", "marker",
           "size_limit"]

#: The chapter's table rows (its "Comparaison des débits"), each drawn in one Okabe-Ito colour
#: (ipclab.presentation.plots.style); mechanisms of one row differ by marker and line style.
ROW_COLOURS = {"shm": "#0072B2", "mmap": "#CC79A7", "unix": "#009E73", "mq": "#E69F00",
               "pipe": "#D55E00", "tcp": "#56B4E9", "sem": "#000000"}


@dataclass(frozen=True)
class Mechanism:
    name: str
    family: str                  #: POSIX, System V, file, socket, stream
    label: str                   #: throughput label ("" if the mechanism has no throughput run)
    row: str                     #: the chapter's table row it belongs to (colour key)
    latency_label: str = ""      #: ping-pong label ("" if no latency run)
    ring: bool = False           #: a shared-memory ring (slots, batch) rather than a stream or queue
    marker: str = "o"
    #: (limit in ipclab.core.limits, what exceeding it does) for the message size
    size_limits: tuple = ()


ALL = {m.name: m for m in (
    Mechanism("posix_shm", "POSIX", "POSIX shm ring + POSIX semaphores", "shm", ring=True, marker="o"),
    Mechanism("mp_shm", "POSIX", "multiprocessing.shared_memory ring", "shm", ring=True, marker="^"),
    Mechanism("sysv_shm", "System V", "System V shm ring + semaphore set", "shm", ring=True, marker="s"),
    Mechanism("mmap_file", "file", "shared file mapping (mmap) ring", "mmap", ring=True, marker="D"),
    Mechanism("unix", "socket", "UNIX domain stream socket", "unix", "UNIX stream socket", marker="o"),
    Mechanism("posix_mq", "POSIX", "POSIX message queue", "mq", "POSIX message queue pair", marker="o",
              size_limits=(("mq_msgsize_max", "mq_open would fail with EINVAL (root may exceed it; "
                                              "the course does not)"),)),
    Mechanism("sysv_mq", "System V", "System V message queue", "mq", "System V message queue pair", marker="s",
              size_limits=(("msgmax", "msgsnd would fail with EINVAL"),
                           ("msgmnb", "one message would not fit the queue"))),
    Mechanism("pipe", "stream", "pipe", "pipe", "pipe pair", marker="o"),
    Mechanism("fifo", "stream", "FIFO (named pipe)", "pipe", marker="v"),
    Mechanism("tcp", "socket", "TCP on loopback", "tcp", marker="o"),
    Mechanism("posix_sem", "POSIX", "", "sem", "POSIX semaphore pair", marker="o"),
    Mechanism("sysv_sem", "System V", "", "sem", "System V semaphore pair (2 sets)", marker="s"),
)}
#: mechanisms with a throughput run, and with a ping-pong run, in the table's order
THROUGHPUT = [m for m in ALL.values() if m.label]
#: ping-pongs from the bare wake-up (semaphores) to the full message paths
LATENCY = [ALL[n] for n in ("posix_sem", "sysv_sem", "pipe", "posix_mq", "sysv_mq", "unix")]
assert {m.name for m in LATENCY} == {m.name for m in ALL.values() if m.latency_label}
#: the shared-memory rings (slots and batch apply to them)
RINGS = [m.name for m in THROUGHPUT if m.ring]


def get(name):
    """The entry for *name*; KeyError lists the known ones."""
    try:
        return ALL[name]
    except KeyError:
        raise KeyError(f"unknown mechanism {name!r}; known: {', '.join(ALL)}") from None


def colour(name):
    """The figure colour of *name* (its chapter row's), grey if unknown."""
    return ROW_COLOURS.get(ALL[name].row, "#555555") if name in ALL else "#555555"


def marker(name):
    return ALL[name].marker if name in ALL else "o"


def size_limit(name, size, lim):
    """Why *size*-byte messages cannot go through *name* under the limits *lim* ('' if they can)."""
    from ipclab.core.limits import SYSCTL
    for key, consequence in ALL[name].size_limits:
        if lim.get(key) and size > lim[key]:
            return f"{size} B > {SYSCTL[key][0]} = {lim[key]}: {consequence}"
    return ""
