"""The benchmark's mechanisms, one definition each: what it is called and how a figure draws it,
what the parent creates for a run, and how each child opens its end.

Why one table: the runner, the figures, the C comparison (``bench/compare.py``), the CLI and
the notebooks all list mechanisms; each reads :data:`ALL`, so a new mechanism is one class
here and one line in the table. A definition is a frozen dataclass (so it travels to a
``spawn`` child in the spec) with four steps, two per measurement:

* ``tp_objects`` (parent) creates the kernel objects of a throughput run on an
  ``ExitStack`` and returns the producer's and consumer's specs; ``tp_end`` (child) opens
  one end of them as a ring, a stream or a queue of :mod:`ipclab.bench.transports`;
* ``lat_objects`` (parent) and ``lat_end`` (child) do the same for a ping-pong pair.

What moves the bytes and checks them (the protocol, the hot loops) is
:mod:`ipclab.bench.transports`, the same for every mechanism.
"""

import contextlib
import functools
import mmap
import os
import socket
import tempfile
import time
from dataclasses import dataclass

from ipclab.bench import transports as bt
from ipclab.core import limits as kernel_limits
from ipclab.core import names, objects, registry
from ipclab.core.errors import BadArgument

__all__ = ["Mechanism", "ALL", "THROUGHPUT", "LATENCY", "RINGS", "ROW_COLOURS", "get", "colour", "marker",
           "size_limit"]

#: The chapter's table rows (its "Comparaison des débits"), each drawn in one Okabe-Ito colour
#: (ipclab.presentation.plots.style); mechanisms of one row differ by marker and line style.
ROW_COLOURS = {"shm": "#0072B2", "mmap": "#CC79A7", "unix": "#009E73", "mq": "#E69F00",
               "pipe": "#D55E00", "tcp": "#56B4E9", "sem": "#000000"}


@dataclass(frozen=True)
class Mechanism:
    """One mechanism: its display metadata and its four steps (the base has none of the steps)."""

    name: str
    family: str                  #: POSIX, System V, file, socket, stream
    label: str                   #: throughput label ("" if the mechanism has no throughput run)
    row: str                     #: the chapter's table row it belongs to (colour key)
    latency_label: str = ""      #: ping-pong label ("" if no latency run)
    latency_rank: int = 0        #: place among the ping-pongs, from the bare wake-up to the full message paths
    marker: str = "o"
    #: (limit in ipclab.core.limits, what exceeding it does) for the message size
    size_limits: tuple = ()
    c_name: str = ""             #: the C twin's name for it (bench/ipcbench.c), if not the same
    ring = False                 #: a shared-memory ring (slots, batch) rather than a stream or queue
    pipe_sized = False           #: takes ``pipe_bytes`` (F_SETPIPE_SZ)

    @property
    def c_twin(self):
        return self.c_name or self.name

    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        """Parent: create a throughput run's objects on *stack*; (producer spec, consumer spec, closers)."""
        raise BadArgument(f"{self.name} has no throughput run")

    def tp_end(self, spec, role, size):
        """Child: the endpoint for *role* ('tx' or 'rx') and what to close after the run."""
        raise BadArgument(f"{self.name} has no throughput run")

    def lat_objects(self, stack):
        """Parent: create a ping-pong's objects on *stack*; (pinger spec, ponger spec, closers)."""
        raise BadArgument(f"unknown latency mechanism {self.name!r}")

    def lat_end(self, spec, ping):
        """Child: (timed, serve, stop, closers) for the pinger (*ping*) or the ponger."""
        raise BadArgument(f"unknown latency mechanism {self.name!r}")


def _same(spec):
    return spec, spec, []


# -- shared-memory rings ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _ShmRing(Mechanism):
    """A ring in a shared mapping; POSIX named semaphores count its batches (System V: a set)."""

    ring = True

    def segment(self, stack, length):
        """Parent: create the mapping's object; the spec fields naming it."""
        raise NotImplementedError

    def attach(self, spec, length, closers):
        """Child: map the segment; a writable buffer (its closers appended)."""
        raise NotImplementedError

    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        spec = self.segment(stack, slots * size)
        spec.update(self.ring_sems(stack, slots, batch))
        return _same(spec)

    def ring_sems(self, stack, slots, batch):
        """Parent: the semaphores counting batches (empty starts at slots // batch, full at 0)."""
        empty = stack.enter_context(objects.posix_sem(slots // batch, tag="bench_empty"))
        full = stack.enter_context(objects.posix_sem(0, tag="bench_full"))  # C: sem_open(name, O_CREAT|O_EXCL, 0600, v)
        return {"empty": empty.name, "full": full.name}

    def open_sems(self, spec):
        return bt._posix_sems(spec)

    def tp_end(self, spec, role, size):
        closers = []
        buf = self.attach(spec, spec["slots"] * size, closers)
        closers.insert(0, buf.release)
        sems, keep = self.open_sems(spec)
        end = bt._Ring(buf, size, spec["slots"], spec["batch"], *sems)
        end.keep = keep
        closers.insert(0, end.close)
        return end, closers


@dataclass(frozen=True)
class _PosixShm(_ShmRing):
    def segment(self, stack, length):
        return {"shm": stack.enter_context(objects.posix_shm(length, tag="bench_ring")).name}

    def attach(self, spec, length, closers):
        m = bt._map_posix(spec["shm"], length)
        closers.append(m.close)
        return memoryview(m)


@contextlib.contextmanager
def _mp_shm(length):
    """A multiprocessing.shared_memory block under a course name, registered and unlinked here."""
    from multiprocessing import shared_memory
    name = names.posix_name("bench_mp", registry.current().id)
    sm = shared_memory.SharedMemory(name=name.lstrip("/"), create=True, size=length)  # C: shm_open + ftruncate + mmap
    registry.register("posix_shm", name=name, note="bench mp_shm")
    try:
        yield sm
    finally:
        sm.close()
        with contextlib.suppress(FileNotFoundError):
            sm.unlink()
        registry.unregister("posix_shm", name=name)


@dataclass(frozen=True)
class _MpShm(_ShmRing):
    def segment(self, stack, length):
        return {"shm": stack.enter_context(_mp_shm(length)).name}

    def attach(self, spec, length, closers):
        from multiprocessing import shared_memory
        # C: shm_open + mmap. Our workers share the parent's resource tracker, so attaching
        # (which registers the name again, 3.13 included unless track=False) does not destroy
        # the block at exit.
        sm = shared_memory.SharedMemory(spec["shm"])
        closers.append(sm.close)
        return sm.buf


@dataclass(frozen=True)
class _MmapFile(_ShmRing):
    def segment(self, stack, length):
        return {"path": stack.enter_context(objects.course_file(length, tag="bench_map"))}

    def attach(self, spec, length, closers):
        fd = os.open(spec["path"], os.O_RDWR)              # C: open(path, O_RDWR)
        m = mmap.mmap(fd, length)                          # C: mmap(..., MAP_SHARED, fd, 0)
        os.close(fd)
        closers.append(m.close)
        return memoryview(m)


@dataclass(frozen=True)
class _SysvShm(_ShmRing):
    """A System V segment; one set of two semaphores (0: empty, 1: full) counts the batches."""

    def segment(self, stack, length):
        return {"key": stack.enter_context(objects.sysv_shm(length)).key}  # C: shmget(key, len, IPC_CREAT|IPC_EXCL|0600)

    def ring_sems(self, stack, slots, batch):
        from ipclab.mechanisms import semset
        return {"semid": stack.enter_context(semset.create(2, values=[slots // batch, 0], note="bench ring")).id}

    def open_sems(self, spec):
        return bt._sysv_sems(spec)

    def attach(self, spec, length, closers):
        import sysv_ipc
        shm = sysv_ipc.SharedMemory(spec["key"])           # C: shmget(key, 0, 0) + shmat(id, NULL, 0)
        closers.append(shm.detach)
        return memoryview(shm)


# -- byte streams ----------------------------------------------------------------------------------
def _echo_fd(fd, closers, what):
    """A ping-pong over one descriptor pair: 8 bytes written, 8 read back."""
    # C: write(wfd, &v, 8); read(rfd, &v, 8)
    return (*bt._echo(functools.partial(os.write, fd[1]), functools.partial(os.read, fd[0], 8), what), closers)


def _pipe_ends():
    from multiprocessing.connection import Connection
    r, w = os.pipe()                                       # C: pipe(fds)
    return Connection(r, writable=False), Connection(w, readable=False)


@dataclass(frozen=True)
class _Pipe(Mechanism):
    pipe_sized = True

    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        ends = _pipe_ends()
        if pipe_bytes:
            import fcntl
            fcntl.fcntl(ends[1].fileno(), 1031, pipe_bytes)  # F_SETPIPE_SZ
        stack.callback(lambda: [c.close() for c in ends])
        return {"pipe": ends}, {"pipe": ends}, [c.close for c in ends]

    def tp_end(self, spec, role, size):
        r, w = spec["pipe"]
        mine, other = (w, r) if role == "tx" else (r, w)
        other.close()                                      # so a dead peer shows as EOF / EPIPE
        return bt._Stream(mine.fileno(), size, "w" if role == "tx" else "r"), [mine.close]

    def lat_objects(self, stack):
        pipes = (_pipe_ends(), _pipe_ends())
        conns = [c for p in pipes for c in p]
        stack.callback(lambda: [c.close() for c in conns])
        spec = {"pipes": pipes}
        return spec, spec, [c.close for c in conns]

    def lat_end(self, spec, ping):
        (r1, w1), (r2, w2) = spec["pipes"]
        rd, wr, others = (r2, w1, (r1, w2)) if ping else (r1, w2, (r2, w1))
        for c in others:
            c.close()                                      # so a dead peer shows as EOF / EPIPE
        return _echo_fd((rd.fileno(), wr.fileno()), [rd.close, wr.close], "pipe")


@contextlib.contextmanager
def _tempdir():
    d = tempfile.mkdtemp(prefix="ipclab-bench-")
    try:
        yield d
    finally:
        for f in os.listdir(d):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(d, f))
        os.rmdir(d)


@dataclass(frozen=True)
class _Fifo(Mechanism):
    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        path = os.path.join(stack.enter_context(_tempdir()), "fifo")
        os.mkfifo(path, 0o600)                             # C: mkfifo(path, 0600)
        return {"path": path}, {"path": path}, []

    def tp_end(self, spec, role, size):
        # open waits for the other side (the reader counts as soon as it waits); the run's
        # watchdog bounds that wait, so a peer that never comes cannot hang the worker.
        fd = os.open(spec["path"], os.O_RDONLY if role == "rx" else os.O_WRONLY)  # C: open(path, O_RDONLY / O_WRONLY)
        return bt._Stream(fd, size, "w" if role == "tx" else "r"), [lambda: os.close(fd)]


@dataclass(frozen=True)
class _Socket(Mechanism):
    """A stream socket, TCP on loopback (:class:`_Unix` changes the address): the consumer
    (ponger) listens and accepts, the producer (pinger) connects."""

    def listener(self, stack):
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return lst, ("127.0.0.1", 0)

    def pair(self, stack):
        lst, addr = self.listener(stack)
        stack.callback(lst.close)
        lst.bind(addr)                                     # C: bind + listen
        lst.listen(1)
        return {"listener": lst}, {"family": lst.family, "address": lst.getsockname()}, [lst.close]

    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        lspec, cspec, after = self.pair(stack)
        return cspec, lspec, after

    def tp_end(self, spec, role, size):
        if role == "rx":
            lst = spec["listener"]
            lst.settimeout(bt.WAIT)
            s, _ = lst.accept()                            # C: accept(lfd, NULL, NULL)
            lst.close()
        else:
            s = _connect(spec, time.monotonic() + bt.WAIT)
            spec.get("listener") and spec["listener"].close()
        s.settimeout(None)                                 # blocking; the watchdog bounds it
        if spec.get("nodelay"):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        end = bt._Stream(s.fileno(), size)
        end.keep = [s]
        return end, [s.close]

    def lat_objects(self, stack):
        return self.tp_objects(stack, 8, None, None, None)

    def lat_end(self, spec, ping):
        end, closers = self.tp_end(spec, "tx" if ping else "rx", 8)
        return _echo_fd((end.fd, end.fd), closers, f"{self.name} socket")


def _connect(spec, deadline):
    """Producer side of a socket: connect to the consumer's listening address, retrying briefly."""
    while True:
        s = socket.socket(spec["family"], socket.SOCK_STREAM)
        try:
            s.connect(spec["address"])                     # C: connect(fd, &addr, len)
            return s
        except (ConnectionRefusedError, FileNotFoundError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


@dataclass(frozen=True)
class _Unix(_Socket):
    def listener(self, stack):
        d = stack.enter_context(_tempdir())
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), os.path.join(d, "sock")


# -- message queues --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _PosixMq(Mechanism):
    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        depth = min(10, kernel_limits.sysctl("mq_msg_max") or 10)
        q = stack.enter_context(objects.posix_mq(max_messages=depth, max_message_size=size, tag="bench_mq"))
        return _same({"name": q.name})

    def tp_end(self, spec, role, size):
        import posix_ipc
        q = posix_ipc.MessageQueue(spec["name"])           # C: mq_open(name, O_RDWR)
        qsend = q.send
        end = bt._Queue("POSIX MQ", size, lambda m: qsend(m, bt.WAIT),            # C: mq_timedsend(q, msg, n, 0, &ts)
                        functools.partial(q.receive, bt.WAIT), q.close)         # C: mq_timedreceive(q, buf, n, &prio, &ts)
        return end, [end.close]

    def lat_objects(self, stack):
        q1 = stack.enter_context(objects.posix_mq(max_messages=1, max_message_size=8, tag="bench_q1"))
        q2 = stack.enter_context(objects.posix_mq(max_messages=1, max_message_size=8, tag="bench_q2"))
        return _same({"q1": q1.name, "q2": q2.name})

    def lat_end(self, spec, ping):
        import posix_ipc
        a, b = posix_ipc.MessageQueue(spec["q1"]), posix_ipc.MessageQueue(spec["q2"])  # C: mq_open(name, O_RDWR)
        tx, rx = (a, b) if ping else (b, a)
        # A send never has to wait in a ping-pong (the queue holds one message and is empty):
        # non-blocking, a full queue is a protocol error at once (posix_ipc: mq_setattr O_NONBLOCK
        # on this process's own descriptor). C: mq_send(tx, &v, 8, 0); mq_timedreceive(rx, ..., &ts)
        tx.block = False
        return (*bt._echo(tx.send, functools.partial(rx.receive, bt.WAIT), "POSIX MQ", unwrap=True),
                [a.close, b.close])


@dataclass(frozen=True)
class _SysvMq(Mechanism):
    def tp_objects(self, stack, size, slots, batch, pipe_bytes):
        return _same({"key": stack.enter_context(objects.sysv_msg(note="bench mq")).key})

    def tp_end(self, spec, role, size):
        import sysv_ipc
        q = sysv_ipc.MessageQueue(spec["key"], max_message_size=max(size, 8))  # C: msgget(key, 0)
        return bt._Queue("System V MQ", size, q.send,                          # C: msgsnd(id, &msg, n, 0)
                         functools.partial(q.receive, True, 1)), []            # C: msgrcv(id, &msg, n, 1, 0)

    def lat_objects(self, stack):
        q1 = stack.enter_context(objects.sysv_msg(note="bench ping"))
        q2 = stack.enter_context(objects.sysv_msg(note="bench pong"))
        return _same({"key1": q1.key, "key2": q2.key})

    def lat_end(self, spec, ping):
        import sysv_ipc
        a = sysv_ipc.MessageQueue(spec["key1"], max_message_size=8)  # C: msgget(key, 0)
        b = sysv_ipc.MessageQueue(spec["key2"], max_message_size=8)
        tx, rx = (a, b) if ping else (b, a)
        # C: msgsnd(tx, &(type 1, v), 8, 0); msgrcv(rx, &m, 8, 0, 0) (blocking; the run's watchdog bounds them)
        return (*bt._echo(tx.send, rx.receive, "System V MQ", unwrap=True), [])


# -- semaphore pairs (ping-pong only) --------------------------------------------------------------
@dataclass(frozen=True)
class _PosixSem(Mechanism):
    def lat_objects(self, stack):
        a = stack.enter_context(objects.posix_sem(0, tag="bench_ping"))
        b = stack.enter_context(objects.posix_sem(0, tag="bench_pong"))
        ctl = stack.enter_context(objects.posix_shm(4096, tag="bench_ctl"))
        return _same({"ping": a.name, "pong": b.name, "ctl": ctl.name})

    def lat_end(self, spec, ping):
        import posix_ipc
        a, b = posix_ipc.Semaphore(spec["ping"]), posix_ipc.Semaphore(spec["pong"])  # C: sem_open(name, 0)
        ctl = bt._map_posix(spec["ctl"], mmap.PAGESIZE)
        mine, other = (b, a) if ping else (a, b)           # ping waits on pong, posts ping
        # C: sem_post(other); sem_timedwait(mine, &deadline)
        return (*bt._handshake(functools.partial(mine.acquire, bt.WAIT), other.release, ctl), [ctl.close])


@dataclass(frozen=True)
class _SysvSem(Mechanism):
    def lat_objects(self, stack):
        a = stack.enter_context(objects.sysv_sem(0, note="bench ping"))
        b = stack.enter_context(objects.sysv_sem(0, note="bench pong"))
        ctl = stack.enter_context(objects.sysv_shm(4096))
        ctl.write(bytes(4096))                             # sysv_ipc fills new segments with b' '
        return _same({"ping_key": a.key, "pong_key": b.key, "ctl_key": ctl.key})

    def lat_end(self, spec, ping):
        import sysv_ipc
        # Two sets of one semaphore, as sysv_ipc.Semaphore addresses them (a set of two would need
        # semtimedop through ctypes, ~0.4 us more per call: a benchmark of ctypes, not of the kernel).
        # sysv_ipc's wheel has SEMAPHORE_TIMEOUT_SUPPORTED False: acquire(WAIT) is a plain semop,
        # bounded by the run's watchdog like a pipe's read; the C twin makes the same plain semop.
        a, b = sysv_ipc.Semaphore(spec["ping_key"]), sysv_ipc.Semaphore(spec["pong_key"])  # C: semget(key, 0, 0)
        shm = sysv_ipc.SharedMemory(spec["ctl_key"])
        ctl = memoryview(shm)
        mine, other = (b, a) if ping else (a, b)
        # C: semop(other, {0, +1, 0}, 1); semop(mine, {0, -1, 0}, 1)
        return (*bt._handshake(functools.partial(mine.acquire, bt.WAIT), other.release, ctl),
                [ctl.release, shm.detach])


# -- the table -------------------------------------------------------------------------------------
ALL = {m.name: m for m in (
    _PosixShm("posix_shm", "POSIX", "POSIX shm ring + POSIX semaphores", "shm", marker="o"),
    _MpShm("mp_shm", "POSIX", "multiprocessing.shared_memory ring", "shm", marker="^", c_name="posix_shm"),
    _SysvShm("sysv_shm", "System V", "System V shm ring + semaphore set", "shm", marker="s"),
    _MmapFile("mmap_file", "file", "shared file mapping (mmap) ring", "mmap", marker="D"),
    _Unix("unix", "socket", "UNIX domain stream socket", "unix", "UNIX stream socket", 6, marker="o"),
    _PosixMq("posix_mq", "POSIX", "POSIX message queue", "mq", "POSIX message queue pair", 4, marker="o",
             size_limits=(("mq_msgsize_max", "mq_open would fail with EINVAL (root may exceed it; "
                                             "the course does not)"),)),
    _SysvMq("sysv_mq", "System V", "System V message queue", "mq", "System V message queue pair", 5, marker="s",
            size_limits=(("msgmax", "msgsnd would fail with EINVAL"),
                         ("msgmnb", "one message would not fit the queue"))),
    _Pipe("pipe", "stream", "pipe", "pipe", "pipe pair", 3, marker="o"),
    _Fifo("fifo", "stream", "FIFO (named pipe)", "pipe", marker="v"),
    _Socket("tcp", "socket", "TCP on loopback", "tcp", marker="o"),
    _PosixSem("posix_sem", "POSIX", "", "sem", "POSIX semaphore pair", 1, marker="o"),
    _SysvSem("sysv_sem", "System V", "", "sem", "System V semaphore pair (2 sets)", 2, marker="s"),
)}
#: mechanisms with a throughput run, in the table's order
THROUGHPUT = [m for m in ALL.values() if m.label]
#: mechanisms with a ping-pong run, from the bare wake-up (semaphores) to the full message paths
LATENCY = sorted((m for m in ALL.values() if m.latency_label), key=lambda m: m.latency_rank)
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
