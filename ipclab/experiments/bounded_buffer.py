"""The bounded buffer derived through its broken versions: the plumbing of notebook 01b.

Why: OSTEP (ch. 31, "Semaphores") derives the producer/consumer ring by fixing one broken
version after another. Notebook 01b does it on real processes, with the *student's* code:
each version is a module (a ``%%worker`` cell) defining ``producer(ring, items)`` and
``consumer(ring, count)``. This module does everything around that code, so the cell holds
only what the lesson is about:

* :func:`run` creates the ring (one POSIX shared memory segment for the indices ``fill``/``use``
  and the slots, three POSIX named semaphores ``empty``/``full``/``mutex``, all with unique
  names, mode 0600, registered), starts the producers and consumers as real processes
  running the module *by name* (fork, forkserver or spawn), releases them together, collects
  what each consumer received, kills everyone at the deadline and removes every object, even
  if a child crashes or the cell is interrupted;
* :class:`Ring` is what the worker code sees: ``ring.fill``, ``ring.use`` and ``ring.slot[i]``
  read and write the shared memory, ``ring.empty.wait()``/``.post()`` are ``sem_timedwait``/
  ``sem_post`` (every wait has a timeout: a wait that times out raises :class:`Stuck`, which is
  how a deadlock is *detected*), ``ring.window()`` widens a race window on purpose and
  ``ring.consume(item)`` records an item (and takes ``consumer_delay`` seconds);
* :class:`Result` counts, from what the consumers received, the items **lost** (never
  received), **duplicated** (extra copies received) and **garbled** (values no producer put,
  e.g. the 0 of a slot never written), and says whether a wait timed out (deadlock) and
  whether anything (object or process) was left behind.

Items are readable numbers: producer p puts ``1000 * (p + 1) + k`` for k = 0, 1, ...

Defined in :mod:`ipclab.experiments.bounded_buffer`; taught in notebook 01b.
"""

import contextlib
import importlib
import os
import struct
import sys
import time
import types
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import posix_ipc

from ipclab.core import objects, procs, registry
from ipclab.core.errors import BadArgument, IpclabError, WaitTimeout
from ipclab.mechanisms.shm import Segment

__all__ = ["Config", "Ring", "Stuck", "Result", "run", "run_until", "items_of", "ROLES"]

ROLES = ("producer", "consumer")
#: the two shared indices, at the start of the segment: fill (next slot to write), use (next to read)
HEADER = struct.Struct("=2q")
#: one slot: one item, a native signed 64-bit word (0: never written)
WORD = struct.Struct("=q")
MAX_ITEMS = 999  # per producer: items stay readable (producer p puts 1000*(p+1) + k)


@dataclass(frozen=True)
class Config:
    """One experiment: how many processes, how many items, how wide the race windows are."""
    producers: int = 1
    consumers: int = 1
    items: int = 40               # per producer
    capacity: int = 4             # slots in the ring
    window: float = 0.0           # s ring.window() sleeps (between reading an index and using it)
    consumer_delay: float = 0.0   # s ring.consume(item) takes (a slow consumer)
    wait_timeout: float = 3.0     # s any semaphore wait may last before it raises Stuck
    deadline: float = 60.0        # s the whole run may last; then every worker is killed

    def check(self):
        for name in ("producers", "consumers", "capacity"):
            v = getattr(self, name)
            if not isinstance(v, int) or not 1 <= v <= 16:
                raise BadArgument(f"{name} must be an integer from 1 to 16, got {v!r}")
        if not isinstance(self.items, int) or not 1 <= self.items <= MAX_ITEMS:
            raise BadArgument(f"items (per producer) must be 1..{MAX_ITEMS}, got {self.items!r}")
        for name in ("window", "consumer_delay"):
            if not 0 <= getattr(self, name) <= 1:
                raise BadArgument(f"{name} must be 0..1 seconds, got {getattr(self, name)!r}")
        if not 0 < self.wait_timeout < self.deadline:
            raise BadArgument(f"wait_timeout ({self.wait_timeout!r} s) must be positive and below "
                              f"the deadline ({self.deadline!r} s)")
        return self

    @property
    def total(self):
        return self.producers * self.items


def items_of(cfg):
    """The items each producer puts: producer p puts 1000*(p+1), 1000*(p+1)+1, ..."""
    return [[1000 * (p + 1) + k for k in range(cfg.items)] for p in range(cfg.producers)]


def _counts(cfg):
    """How many items each consumer takes: the total split as evenly as possible."""
    base, extra = divmod(cfg.total, cfg.consumers)
    return [base + (1 if c < extra else 0) for c in range(cfg.consumers)]


# ------------------------------------------------------------------------------ what workers see
class Stuck(WaitTimeout):
    """A semaphore wait in the worker's code timed out: nobody posted it in time (a deadlock?)."""


@dataclass(frozen=True)
class Spec:
    """What a worker needs to attach the ring: the objects' names and the ring's size."""
    segment: str
    empty: str
    full: str
    mutex: str
    ready: str   # plumbing: each worker posts it once attached
    go: str      # plumbing: the parent posts it once all are attached (a common start)
    capacity: int


class Sem:
    """A POSIX named semaphore as the worker code uses it: ``wait()`` (timed) and ``post()``."""

    def __init__(self, name, label, ring):
        self._sem = posix_ipc.Semaphore(name)  # C: sem_t *s = sem_open(name, 0);
        self.label = label
        self._ring = ring

    def wait(self):
        """C: ``sem_timedwait(sem, &deadline)``; raises :class:`Stuck` at the timeout."""
        t = self._ring.wait_timeout
        try:
            self._sem.acquire(t)
        except posix_ipc.BusyError:  # C: sem_timedwait returned -1 with errno == ETIMEDOUT
            done = ", ".join(self._ring.ops[-3:]) or "none"
            raise Stuck(f"{self._ring.who} waited {t:g} s in {self.label}.wait() and nobody posted "
                        f"{self.label}; its last semaphore operations: {done}") from None
        self._ring.ops.append(f"{self.label}.wait")

    def post(self):
        """C: ``sem_post(sem)``: never blocks."""
        self._sem.release()
        self._ring.ops.append(f"{self.label}.post")

    @property
    def value(self):
        """C: ``sem_getvalue(sem, &v)`` (a snapshot: it may change at once)."""
        return self._sem.value

    def close(self):
        with contextlib.suppress(posix_ipc.ExistentialError):
            self._sem.close()  # C: sem_close(sem)


class _Slots:
    """``ring.slot[i]``: word i of the ring in shared memory (C: ``ring->buffer[i]``)."""

    def __init__(self, buf, capacity):
        self._buf, self._n = buf, capacity

    def _offset(self, i):
        if not isinstance(i, int) or not 0 <= i < self._n:
            raise IndexError(f"slot {i!r} is outside the ring (0..{self._n - 1}): an index was "
                             "not taken modulo the capacity?")
        return HEADER.size + i * WORD.size

    def __getitem__(self, i):
        return WORD.unpack_from(self._buf, self._offset(i))[0]

    def __setitem__(self, i, value):
        WORD.pack_into(self._buf, self._offset(i), value)

    def __len__(self):
        return self._n


class Ring:
    """The shared ring as a producer or consumer sees it (attached in the worker process).

    ``ring.fill`` / ``ring.use``: the shared indices (C: ``ring->fill``); ``ring.slot[i]``: a
    slot; ``ring.capacity``; ``ring.empty``, ``ring.full``, ``ring.mutex``: :class:`Sem`;
    ``ring.window()``: sleep ``window`` s (a race window made wide on purpose);
    ``ring.consume(item)``: record *item* as received, then take ``consumer_delay`` s.
    """

    def __init__(self, spec, cfg, who):
        self.who = who
        self.capacity = spec.capacity
        self.wait_timeout = cfg.wait_timeout
        self._window = cfg.window
        self._delay = cfg.consumer_delay
        self.ops = []          # this process's semaphore operations, for the Stuck message
        self.received = []     # what consume() was given, in order
        self._seg = Segment.attach(spec.segment)  # C: shm_open(name, O_RDWR, 0) + mmap(...)
        self._sems = []
        try:
            self.slot = _Slots(self._seg.buf, self.capacity)
            self.empty = self._sem(spec.empty, "empty")
            self.full = self._sem(spec.full, "full")
            self.mutex = self._sem(spec.mutex, "mutex")
        except BaseException:
            self.close()
            raise

    def _sem(self, name, label):
        s = Sem(name, label, self)
        self._sems.append(s)
        return s

    @property
    def fill(self):
        return HEADER.unpack_from(self._seg.buf, 0)[0]

    @fill.setter
    def fill(self, value):
        struct.pack_into("=q", self._seg.buf, 0, value)

    @property
    def use(self):
        return HEADER.unpack_from(self._seg.buf, 0)[1]

    @use.setter
    def use(self, value):
        struct.pack_into("=q", self._seg.buf, 8, value)

    def window(self):
        """Sleep ``Config.window`` seconds: a race window made wide on purpose (0 s: no sleep)."""
        if self._window:
            time.sleep(self._window)

    def consume(self, item):
        """The consumer's work on *item*: record it, then take ``Config.consumer_delay`` seconds."""
        self.received.append(item)
        if self._delay:
            time.sleep(self._delay)

    def close(self):
        for s in self._sems:
            s.close()
        self._seg.close()  # C: munmap


# ------------------------------------------------------------------------------ the worker process
def _import(module, source):
    """The version's module, imported by name; from *source* if its file is not importable here.

    Under spawn and forkserver the child imports the %%worker cell's module by name from the
    cell folder. Should that folder have vanished meanwhile (another process on this machine
    swept it), the source the parent read at the start of the run is used instead, so the
    child still runs the code the cell showed.
    """
    try:
        return importlib.import_module(module)  # spawn/forkserver: imported here, by name
    except ModuleNotFoundError as e:
        if source is None or e.name != module:
            raise
    mod = types.ModuleType(module)
    mod.__file__ = f"<%%worker {module}>"
    exec(compile(source, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - the cell's own code
    sys.modules[module] = mod
    return mod


def _source(name):
    """The text of module *name* as the parent has it now (None if it cannot be read)."""
    path = getattr(sys.modules.get(name), "__file__", None)
    try:
        return Path(path).read_text() if path else None
    except OSError:
        return None


def _worker(module, role, spec, cfg, index, arg, source=None):
    """Runs in each child: import the version's module by name, attach, wait for the start, run."""
    mod = _import(module, source)
    ring = Ring(spec, cfg, who=f"{role} {index}")
    ready, go = posix_ipc.Semaphore(spec.ready), posix_ipc.Semaphore(spec.go)
    try:
        ready.release()
        go.acquire(cfg.deadline)   # all start together (BusyError if the parent never says go)
        t0 = time.monotonic()
        stuck = ""
        try:
            getattr(mod, role)(ring, arg)
        except Stuck as e:
            stuck = str(e)
        return {"role": role, "index": index, "received": ring.received, "stuck": stuck,
                "ops": len(ring.ops), "seconds": time.monotonic() - t0}
    finally:
        ready.close()
        go.close()
        ring.close()


# ------------------------------------------------------------------------------ results
@dataclass
class Result:
    """What one run did, counted from what the consumers received."""
    module: str
    config: Config
    produced: list                 # every item the producers were given
    received: list                 # every value the consumers received (consumer 0's first)
    workers: list                  # per worker: role, index, outcome, stuck message
    seconds: float
    leftovers: list = field(default_factory=list)  # objects or processes still there after cleanup

    @property
    def lost(self):
        """Items produced and never received."""
        got = set(self.received)
        return sum(1 for x in self.produced if x not in got)

    @property
    def duplicated(self):
        """Extra copies: an item received 3 times counts 2."""
        made = set(self.produced)
        return sum(n - 1 for x, n in Counter(self.received).items() if x in made and n > 1)

    @property
    def garbled(self):
        """Values received that no producer put (0: a slot never written)."""
        made = set(self.produced)
        return sum(1 for x in self.received if x not in made)

    @property
    def stuck(self):
        """The Stuck messages (waits that timed out) and workers killed at the deadline."""
        return [w["stuck"] for w in self.workers if w["stuck"]]

    @property
    def deadlock(self):
        """True if some wait timed out or some worker had to be killed at the deadline."""
        return bool(self.stuck)

    @property
    def ok(self):
        """Every item received exactly once, no wait timed out, nothing left behind."""
        return (not self.deadlock and not self.leftovers and self.lost == 0
                and self.duplicated == 0 and self.garbled == 0 and len(self.received) == len(self.produced))

    @property
    def damaged(self):
        """True if the consumers did not receive each item exactly once."""
        return self.lost > 0 or self.duplicated > 0 or self.garbled > 0

    def verdicts(self):
        """Lines that hold run after run for a given version (nbval compares them)."""
        yes = {True: "yes", False: "no"}
        return [f"every item received exactly once: {yes[not self.damaged]}",
                f"a wait timed out (deadlock detected): {yes[self.deadlock]}",
                "left behind (objects, processes): " + (", ".join(self.leftovers) or "nothing")]

    def counts(self):
        """The numbers of this run (they vary from run to run)."""
        c = self.config
        lines = [f"{self.module}: {c.producers} producer(s) x {c.items} items, {c.consumers} consumer(s), "
                 f"ring of {c.capacity} slots, window {c.window * 1e3:g} ms, "
                 f"consumer delay {c.consumer_delay * 1e3:g} ms",
                 f"  produced {len(self.produced)}, received {len(self.received)}: lost {self.lost}, "
                 f"duplicated {self.duplicated}, garbled {self.garbled}; {self.seconds:.2f} s"]
        for w in self.workers:
            lines.append(f"  {w['role']} {w['index']}: {w['outcome']}" + (f" - {w['stuck']}" if w["stuck"] else ""))
        return lines

    def first_received(self, n=12):
        """The first *n* values consumer 0 received, to read with your own eyes."""
        return self.received[:n]


# ------------------------------------------------------------------------------ running a version
class _Objects(contextlib.AbstractContextManager):
    """The ring's objects (segment, 3 semaphores) plus the start barrier; all removed on exit."""

    def __init__(self, cfg, tag="bb"):
        self._made = []
        try:
            self.seg = Segment.create(HEADER.size + cfg.capacity * WORD.size, tag=tag)  # zero-filled
            self._made.append(self.seg)
            sems = {}
            for label, value in (("empty", cfg.capacity), ("full", 0), ("mutex", 1), ("ready", 0), ("go", 0)):
                s = objects.create_posix_sem(value, tag=f"{tag}_{label}")  # C: sem_open(name, O_CREAT|O_EXCL, 0600, value)
                self._made.append(s)
                sems[label] = s
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.sems = sems
        self.spec = Spec(self.seg.name, *(sems[k].name for k in ("empty", "full", "mutex", "ready", "go")),
                         capacity=cfg.capacity)

    def names(self):
        return [self.seg.path] + [f"/dev/shm/sem.{s.name.lstrip('/')}" for s in self.sems.values()]

    def __exit__(self, *exc):
        for obj in reversed(self._made):
            with contextlib.suppress(Exception):
                if isinstance(obj, Segment):
                    obj.close()
                    obj.unlink()  # C: shm_unlink
                else:
                    objects.remove_posix_sem(obj)  # C: sem_unlink + sem_close
        return False


def _module_name(module):
    name = module if isinstance(module, str) else getattr(module, "__name__", None)
    if not isinstance(name, str):
        raise BadArgument(f"give the version's module or its name (a %%worker cell's name), got {module!r}")
    try:
        mod = importlib.import_module(name)
    except ImportError as e:
        raise BadArgument(f"no module {name!r}: run its %%worker cell first ({e})") from None
    missing = [r for r in ROLES if not callable(getattr(mod, r, None))]
    if missing:
        raise BadArgument(f"module {name} must define producer(ring, items) and consumer(ring, count); "
                          f"it lacks {', '.join(missing)}")
    return name


def _await_ready(group, ready, n, deadline):
    """Wait until the *n* workers attached; False if one ended first (it failed) or time ran out."""
    got = 0
    while got < n:
        if time.monotonic() > deadline or any(c.process.exitcode is not None for c in group.children):
            return False
        try:
            ready.acquire(0.2)
            got += 1
        except posix_ipc.BusyError:
            pass
    return True


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run(module, cfg=None, start_method=None, relay=True, **changes):
    """Run one version: ``cfg.producers`` producers and ``cfg.consumers`` consumers of *module*.

    *module* is a module (or its name) defining ``producer(ring, items)`` and
    ``consumer(ring, count)``; keyword *changes* override fields of *cfg*
    (``run("bb_nosync", items=20)``). Returns a :class:`Result`. A worker that raises anything
    but :class:`Stuck` makes this raise (with the child's traceback), after cleanup.
    """
    cfg = replace(cfg or Config(), **changes).check()
    name = _module_name(module)
    produced = items_of(cfg)
    args = ([(name, "producer", None, cfg, p, items) for p, items in enumerate(produced)]
            + [(name, "consumer", None, cfg, c, n) for c, n in enumerate(_counts(cfg))])
    labels = [f"{a[1]} {a[4]}" for a in args]
    t0 = time.monotonic()
    pids, leftovers = [], []
    with _Objects(cfg) as objs:
        source = _source(name)
        args = [(a[0], a[1], objs.spec, *a[3:], source) for a in args]
        group = procs.start(_worker, args, start_method=start_method, timeout=cfg.deadline,
                            names=labels, relay=relay)
        pids = group.pids
        try:
            if _await_ready(group, objs.sems["ready"], len(args), t0 + cfg.deadline):
                for _ in args:
                    objs.sems["go"].release()  # C: sem_post(go): everyone starts now
                outcomes = group.join(fail_fast=False, raise_errors=False)
            else:  # a worker failed before the start (e.g. its module does not import): stop all
                group.kill()
                outcomes = group.outcomes()
        except BaseException:
            group.kill()
            raise
        names, posix = objs.names(), [objs.spec.segment] + [s.name for s in objs.sems.values()]
    seconds = time.monotonic() - t0
    leftovers += [n for n in names if os.path.exists(n)]
    leftovers += [f"registry entry {e['name']}" for e in registry.current().entries() if e.get("name") in posix]
    leftovers += [f"process {pid}" for pid in pids if not _gone(pid)]
    for label, out in zip(labels, outcomes):
        if out[0] == "error":
            raise IpclabError(f"{label} of {name} raised {type(out[1]).__name__}: {out[1]}\n\n"
                              f"--- traceback in the child ---\n{out[2]}")
    workers, received = [], []
    for label, (role, index), out in zip(labels, [(a[1], a[4]) for a in args], outcomes):
        w = {"role": role, "index": index, "outcome": out[0], "stuck": ""}
        if out[0] == "ok":
            w["outcome"] = "stuck" if out[1]["stuck"] else "finished"
            w["stuck"] = out[1]["stuck"]
            received += out[1]["received"]
        elif out[0] == "timeout":
            w["outcome"] = "killed at the deadline"
            w["stuck"] = f"{label} still running after {cfg.deadline:g} s: killed"
        else:
            raise IpclabError(f"{label} of {name} ended without a result ({out[0]} {out[1]}); "
                              "the ring's objects have been removed")
        workers.append(w)
    flat = [x for items in produced for x in items]
    return Result(name, cfg, flat, received, workers, seconds, leftovers)


def run_until(module, shows, attempts=3, **options):
    """Run *module* up to *attempts* times until ``shows(result)``; returns (result, runs made).

    A race may not show in one run (a scheduler can happen to interleave well); the last
    result is returned either way, so the caller can say honestly that it did not show.
    """
    if not isinstance(attempts, int) or attempts < 1:
        raise BadArgument(f"attempts must be >= 1, got {attempts!r}")
    for n in range(1, attempts + 1):
        result = run(module, **options)
        if shows(result):
            return result, n
    return result, attempts

