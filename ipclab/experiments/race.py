"""Race conditions on real shared memory: the lost-update experiment, its trace, and a stepper.

Why: ``counter++`` on shared memory is three steps (load, add, store); two processes that
interleave them lose updates. This module makes that visible on real processes and a real
POSIX shared memory object, three ways:

* :func:`count` - N processes increment one shared counter M times, with or without a
  POSIX semaphore as a lock; returns what was expected, what was found, the time taken and,
  if asked, a trace of every read-modify-write (:func:`analyse` says which were lost).
* :class:`Explorer` - you are the scheduler: K processes each run the increment split into
  its steps, each step gated by a semaphore; :meth:`Explorer.step` lets one process take
  its next step. :meth:`Explorer.run` takes a schedule string such as
  ``"A:load B:load A:add B:add A:store B:store"``.
* :func:`random_schedule` / :func:`paper_final` - seeded schedules and the answer you would
  compute by hand, for endless practice (OSTEP style).

The window. ``count(window=...)`` sleeps that long between the load and the store. This is
deliberate: the sleep gives the CPU away, so on one core the other process runs right then
and loads the same value, and on two cores the read-modify-write windows overlap on almost
every increment. Lost updates then show within a fraction of a second, on any machine,
instead of depending on luck (``window=0`` shows the bare race, which is rarer).

The shared word. The counter is one aligned 64-bit word. Its low 32 bits are the count; its
high 32 bits hold the *tag* of the update that wrote it (a number unique to each process and
iteration). One 8-byte aligned load or store is a single instruction on x86-64 and arm64, so
every read in the trace knows exactly which write it saw; this is what makes
:func:`analyse` exact rather than a guess from timestamps. The count is what C's ``int``
would be; the tag is instrumentation.

Defined in :mod:`ipclab.experiments.race`; taught in ``notebooks/01_posix_shared_memory.ipynb``.
"""

import contextlib
import ctypes
import os
import random
import re
import time
from dataclasses import dataclass, field

import posix_ipc

from ipclab.core import objects, procs
from ipclab.core.errors import BadArgument, WaitTimeout
from ipclab.mechanisms.shm import Segment

LOW = 0xFFFFFFFF
OPS = ("load", "add", "store")
DEFAULT_WINDOW = 0.0005  # seconds slept between load and store in count()


def _acquire(sem, timeout, what):
    try:
        sem.acquire(timeout)  # C: sem_timedwait
    except posix_ipc.BusyError:
        raise WaitTimeout(f"waited {timeout:g} s for {what}") from None


def _wait_ready(ready, group, timeout):
    """Wait for one worker to reach the start line; if a worker died first, raise its error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ready.acquire(0.1)
            return
        except posix_ipc.BusyError:
            if any(c.process.exitcode is not None for c in group.children):
                group.join()  # raises the child's own error
            if time.monotonic() > deadline:
                raise WaitTimeout(f"waited {timeout:g} s for the workers to reach the start line") from None


# --------------------------------------------------------------------------- the counter experiment
@dataclass
class CountResult:
    """What one run of :func:`count` found. ``traces[p]`` lists process p's updates if traced."""
    n_procs: int
    m: int
    lock: bool
    window: float
    start_method: str
    expected: int            # n_procs * m
    final: int               # the counter at the end
    elapsed: float           # seconds from the first load to the last store (all processes)
    traces: list = field(default_factory=list, repr=False)
    final_tag: int = 0       # the tag of the update whose value remained (see module doc)

    @property
    def lost(self):
        """Updates lost: expected - final."""
        return self.expected - self.final


def increment_worker(seg_name, index, m, window, lock_name, ready_name, go_name, trace, timeout, step=None):
    """Worker: wait for the start signal, then do ``counter++`` *m* times on the shared word.

    Returns ``(t_start, t_end, records)``; each record is
    ``(i, t_load_ns, word_read, t_store_ns, word_written)`` when *trace*, else records is empty.
    With *step* (a function from an importable module, e.g. a ``%%worker`` cell), each
    increment is ``step(word, lock, window)`` instead of the body below: *word* is the shared
    ``ctypes.c_uint64``, *lock* the POSIX semaphore (None without ``lock=True``).
    """
    seg = Segment.attach(seg_name)
    lock = posix_ipc.Semaphore(lock_name) if lock_name else None
    ready, go = posix_ipc.Semaphore(ready_name), posix_ipc.Semaphore(go_name)
    word = ctypes.c_uint64.from_buffer(seg.buf)  # C: uint64_t *word = mmap(...)
    records = []
    clock = time.monotonic_ns  # CLOCK_MONOTONIC: one clock for all processes
    try:
        ready.release()
        _acquire(go, timeout, "the start signal")
        t_start = clock()
        for i in range(m):
            if step is not None:
                step(word, lock, window)               # your counter++ (count(step=...))
                continue
            tag = index * m + i + 1
            if lock:
                _acquire(lock, timeout, "the counter's lock")
            t0 = clock()
            seen = word.value                          # load  (C: int v = *counter;)
            if window:
                time.sleep(window)                     # the deliberate window
            new = (tag << 32) | ((seen + 1) & LOW)     # add   (C: v = v + 1;)
            word.value = new                           # store (C: *counter = v;)
            t1 = clock()
            if lock:
                lock.release()
            if trace:
                records.append((i, t0, seen, t1, new))
        t_end = clock()
    finally:
        del word
        seg.close()
        for sem in (lock, ready, go):
            if sem is not None:
                sem.close()
    return t_start, t_end, records


def count(n_procs=2, m=200, lock=False, window=DEFAULT_WINDOW, start_method="fork",
          trace=False, timeout=60.0, step=None):
    """Run *n_procs* real processes that each increment one shared counter *m* times.

    With ``lock=True`` each increment is a critical section guarded by a POSIX semaphore
    (``sem_wait``/``sem_post``). All processes wait at a start line and begin together.
    *step*: your own increment, ``step(word, lock, window)``, run *m* times by each worker
    instead of :func:`increment_worker`'s body (it must live in an importable module, such
    as a ``%%worker`` cell, so every start method can run it; no trace then).
    Returns a :class:`CountResult`.
    """
    if not isinstance(n_procs, int) or not 1 <= n_procs <= 64:
        raise BadArgument(f"n_procs must be 1..64 processes, got {n_procs!r}")
    if not isinstance(m, int) or not 1 <= m <= 1_000_000 or n_procs * m >= 2**32:
        raise BadArgument(f"m must be 1..1000000 increments per process, got {m!r}")
    if window < 0:
        raise BadArgument(f"window must be >= 0 seconds, got {window!r}")
    if step is not None and (trace or not callable(step)):
        raise BadArgument("step must be a function step(word, lock, window), and a run with your own "
                          "step cannot be traced (the trace needs the tags written by increment_worker)")
    with contextlib.ExitStack() as stack:
        seg = stack.enter_context(Segment.create(8, tag="counter"))
        lock_sem = stack.enter_context(objects.posix_sem(1, tag="lock")) if lock else None
        ready = stack.enter_context(objects.posix_sem(0, tag="ready"))
        go = stack.enter_context(objects.posix_sem(0, tag="go"))
        args = [(seg.name, p, m, window, lock_sem.name if lock else None, ready.name, go.name,
                 trace, timeout, step) for p in range(n_procs)]
        with procs.start(increment_worker, args, start_method=start_method, timeout=timeout) as group:
            for _ in range(n_procs):  # everyone at the start line...
                _wait_ready(ready, group, timeout)
            for _ in range(n_procs):  # ...then go
                go.release()
            results = group.join()
        word = ctypes.c_uint64.from_buffer(seg.buf)
        final, final_tag = word.value & LOW, word.value >> 32
        del word
    starts, ends, traces = zip(*results)
    return CountResult(n_procs, m, lock, window, start_method, n_procs * m, final,
                       (max(ends) - min(starts)) / 1e9, list(traces) if trace else [], final_tag)


def sweep(n_values=(1, 2, 4), m_values=(20, 100), lock=False, window=DEFAULT_WINDOW,
          start_method="fork", timeout=60.0):
    """:func:`count` for every (n, m): a list of :class:`CountResult`."""
    return [count(n, m, lock=lock, window=window, start_method=start_method, timeout=timeout)
            for m in m_values for n in n_values]


# --------------------------------------------------------------------------- the trace
@dataclass
class Update:
    """One read-modify-write of the trace."""
    proc: int
    i: int
    t_load: float         # seconds since the first load of the run
    t_store: float
    read: int             # the count it loaded
    wrote: int            # the count it stored (read + 1)
    tag: int              # its own tag
    read_from: int        # the tag of the update whose value it loaded (0: the initial value)
    lost: bool = False    # True if its increment is missing from the final count
    overwritten_by: int = 0  # for a lost update: the next update that stored (by time)


def analyse(result):
    """The updates of a traced :func:`count` run, with the lost ones marked.

    An update survives if the final value was built on it: follow ``read_from`` back from
    the last write to the initial value; every update on that chain counted, every other
    update was overwritten. The number lost is therefore exactly ``expected - final``.
    """
    if not result.traces:
        raise BadArgument("run count(..., trace=True) to get a trace")
    t0 = min(rec[1] for recs in result.traces for rec in recs)
    ups = {}
    for p, recs in enumerate(result.traces):
        for i, tl, seen, ts, new in recs:
            ups[new >> 32] = Update(p, i, (tl - t0) / 1e9, (ts - t0) / 1e9, seen & LOW,
                                    new & LOW, new >> 32, seen >> 32)
    by_store = sorted(ups.values(), key=lambda u: u.t_store)
    chain, tag = set(), result.final_tag
    while tag:
        chain.add(tag)
        tag = ups[tag].read_from
    for k, u in enumerate(by_store):
        u.lost = u.tag not in chain
        if u.lost and k + 1 < len(by_store):
            u.overwritten_by = by_store[k + 1].tag
    return sorted(ups.values(), key=lambda u: u.t_load)


def lost_in_trace(updates):
    """How many updates of :func:`analyse`'s list were lost."""
    return sum(u.lost for u in updates)


# --------------------------------------------------------------------------- the explorer
@dataclass
class Step:
    """What one step did: who, which op, the process's register after it, the shared value after it."""
    who: str
    op: str
    register: int
    shared: int

    def __str__(self):
        return f"{self.who}:{self.op:<5}  {self.who}.register = {self.register}   shared = {self.shared}"


# layout of the explorer's segment: the shared counter, then per process [steps taken, register]
_SLOT_WORDS = 2


def explorer_worker(seg_name, index, increments, go_name, done_name, step_timeout):
    """Worker: ``counter++`` *increments* times, one step (load, add, store) per go signal.

    ``register`` is this process's private copy (a CPU register in C); after each step it is
    reported in the process's slot of the segment so the notebook can show it.
    """
    seg = Segment.attach(seg_name)
    go, done = posix_ipc.Semaphore(go_name), posix_ipc.Semaphore(done_name)
    words = (ctypes.c_int64 * (1 + _SLOT_WORDS * 16)).from_buffer(seg.buf)
    slot = 1 + _SLOT_WORDS * index
    register = 0
    try:
        for _ in range(increments):
            for op in OPS:
                _acquire(go, step_timeout, "the scheduler (you) to choose this process")
                if op == "load":
                    register = words[0]       # C: mov eax, [counter]
                elif op == "add":
                    register += 1             # C: add eax, 1
                else:
                    words[0] = register       # C: mov [counter], eax
                words[slot + 1] = register
                words[slot] += 1
                done.release()
    finally:
        del words
        seg.close()
        go.close()
        done.close()
    return register


def process_names(n):
    return [chr(ord("A") + i) for i in range(n)]


_STEP = re.compile(r"^([A-Z])(?::(load|add|store))?$")


def parse_schedule(text):
    """``"A:load B:load A:add"`` (or just ``"A B A"``) -> ``[("A", "load"), ("B", "load"), ("A", "add")]``."""
    steps = []
    for token in text.replace(",", " ").split():
        m = _STEP.match(token.strip())
        if not m:
            raise BadArgument(f"schedule step {token!r} is not NAME or NAME:OP (OP one of "
                              f"{', '.join(OPS)}), e.g. 'A:load'")
        steps.append((m[1], m[2]))
    return steps


def random_schedule(processes=2, increments=1, seed=0):
    """A seeded random complete schedule, as a string: every process runs all its steps."""
    rng = random.Random(seed)
    left = {p: [op for _ in range(increments) for op in OPS] for p in process_names(processes)}
    out = []
    while left:
        p = rng.choice(sorted(left))
        out.append(f"{p}:{left[p].pop(0)}")
        if not left[p]:
            del left[p]
    return " ".join(out)


def paper_final(schedule, processes=2, increments=1):
    """The final value you would compute by hand for *schedule* (the answer key, no processes)."""
    shared, reg = 0, {p: 0 for p in process_names(processes)}
    pos = {p: 0 for p in reg}
    for who, op in parse_schedule(schedule):
        op = op or OPS[pos[who] % 3]
        if op == "load":
            reg[who] = shared
        elif op == "add":
            reg[who] += 1
        else:
            shared = reg[who]
        pos[who] += 1
    return shared


class Explorer:
    """You are the scheduler: real processes run ``counter++`` one step at a time, when you say.

    ``with Explorer(processes=2, increments=1) as ex: ex.step("A"); ...`` or
    ``ex.run("A:load B:load A:add B:add A:store B:store")``. Each process is a real worker
    blocked on its own POSIX semaphore; :meth:`step` posts it, and waits (with a timeout)
    for the worker to report that the step is done.

    The game built on the same idea (levels with goals, deadlocks on real semaphores, undo by
    replay, seeded schedules) is :mod:`ipclab.experiments.scheduler_game`.
    """

    def __init__(self, processes=2, increments=1, start_method="fork", timeout=30.0, step_timeout=None):
        if not isinstance(processes, int) or not 2 <= processes <= 16:
            raise BadArgument(f"processes must be 2..16, got {processes!r}")
        if not isinstance(increments, int) or not 1 <= increments <= 100:
            raise BadArgument(f"increments must be 1..100 per process, got {increments!r}")
        self.names = process_names(processes)
        self.increments = increments
        self.start_method = start_method
        self.timeout = timeout                          # for each step, in the notebook
        self.step_timeout = step_timeout or timeout     # how long a worker waits for you
        self.history = []
        self._stack = None

    def open(self):
        stack = contextlib.ExitStack()
        try:
            self.seg = stack.enter_context(Segment.create(8 * (1 + _SLOT_WORDS * 16), tag="explore"))
            self.done = stack.enter_context(objects.posix_sem(0, tag="done"))
            self.go = {n: stack.enter_context(objects.posix_sem(0, tag=f"go{n}")) for n in self.names}
            self.words = (ctypes.c_int64 * (1 + _SLOT_WORDS * 16)).from_buffer(self.seg.buf)
            stack.callback(self._drop_view)
            args = [(self.seg.name, i, self.increments, self.go[n].name, self.done.name, self.step_timeout)
                    for i, n in enumerate(self.names)]
            self.group = procs.start(explorer_worker, args, names=self.names, start_method=self.start_method,
                                     timeout=self.step_timeout * (3 * self.increments * len(self.names) + 1))
            stack.callback(self.group.kill)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def _drop_view(self):
        del self.words

    def close(self):
        """Stop the workers (killed if unfinished) and remove the segment and semaphores."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            if self.finished:
                with contextlib.suppress(Exception):
                    self.group.join()
            stack.close()

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- what you can see ------------------------------------------------------
    def steps_taken(self, who):
        return self.words[1 + _SLOT_WORDS * self.names.index(who)]

    def register(self, who):
        return self.words[2 + _SLOT_WORDS * self.names.index(who)]

    @property
    def shared(self):
        """The counter in shared memory, now."""
        return self.words[0]

    def next_op(self, who):
        """The op *who* will do on its next step, or None if it has finished."""
        k = self.steps_taken(who)
        return None if k >= 3 * self.increments else OPS[k % 3]

    @property
    def finished(self):
        return all(self.next_op(n) is None for n in self.names)

    def state(self):
        """A dict: the shared value, and each process's register and next op."""
        return {"shared": self.shared,
                "processes": {n: {"register": self.register(n), "next": self.next_op(n)} for n in self.names}}

    def describe(self):
        """The state as lines of text (what the widget shows)."""
        lines = [f"shared counter = {self.shared}"]
        for n in self.names:
            nxt = self.next_op(n) or "finished"
            lines.append(f"  {n}: register = {self.register(n)}, next step: {nxt}")
        return "\n".join(lines)

    # -- what you can do -------------------------------------------------------
    def step(self, who, op=None):
        """Let process *who* take its next step (which must be *op* if given); return a :class:`Step`."""
        if self._stack is None:
            raise BadArgument("the explorer is not open: use `with Explorer(...) as ex:`")
        if who not in self.names:
            raise BadArgument(f"no process {who!r}; the processes are {', '.join(self.names)}")
        nxt = self.next_op(who)
        if nxt is None:
            raise BadArgument(f"process {who} has finished all its steps")
        if op is not None and op != nxt:
            raise BadArgument(f"process {who}'s next step is {nxt}, not {op}: each process runs "
                              "load, add, store in order; only the interleaving is yours")
        before = self.steps_taken(who)
        self.go[who].release()                              # C: sem_post(go[who])
        _acquire(self.done, self.timeout, f"process {who} to finish its {nxt}")
        if self.steps_taken(who) != before + 1:
            raise WaitTimeout(f"process {who} did not report its step")
        s = Step(who, nxt, self.register(who), self.shared)
        self.history.append(s)
        return s

    def run(self, schedule):
        """Take every step of *schedule* (a string, see :func:`parse_schedule`); return the steps."""
        return [self.step(who, op) for who, op in parse_schedule(schedule)]

    def schedule_so_far(self):
        return " ".join(f"{s.who}:{s.op}" for s in self.history)


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["LOW", "OPS", "DEFAULT_WINDOW", "CountResult", "increment_worker", "count", "sweep", "Update",
           "analyse", "lost_in_trace", "Step", "explorer_worker", "process_names", "parse_schedule",
           "random_schedule", "paper_final", "Explorer"]
