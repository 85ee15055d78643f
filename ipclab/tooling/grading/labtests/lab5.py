"""Visible tests of lab 5: a shared LRU cache in POSIX shared memory, safe for several processes."""

import importlib
import os
import random
import signal
from collections import OrderedDict

from ipclab.core import errors, inventory, procs
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, expect_raises, student

LAB = "lab5"
TITLE = "a shared LRU cache in shared memory, safe for several processes"
MODULE = "lab5_lrucache"
HIDDEN = 2
WORKER_TIMEOUT = 30
HAMMER_TIMEOUT = 20  # a few hundred operations per process take well under a second
SLOW = 0.0002        # s added to each line of the student's code in `concurrent` (see hammer)


def lab_module():
    """The student's module in a worker (fork: inherited; spawn: imported again by name)."""
    try:
        return student()
    except RuntimeError:
        return labkit.use_student(importlib.import_module(MODULE))


def random_keys(rng, n, key_size):
    """*n* distinct random keys of 1..key_size bytes."""
    keys = set()
    while len(keys) < n:
        keys.add(labkit.random_tag(rng, rng.randint(1, key_size)).encode())
    return sorted(keys)


class Model:
    """The reference LRU: an OrderedDict whose last item is the most recently used."""

    def __init__(self, capacity):
        self.capacity, self.d = capacity, OrderedDict()
        self.hits = self.misses = self.evictions = 0

    def get(self, key):
        if key not in self.d:
            self.misses += 1
            return None
        self.hits += 1
        self.d.move_to_end(key)
        return self.d[key]

    def put(self, key, value):
        evicted = None
        if key not in self.d and len(self.d) == self.capacity:
            evicted, _ = self.d.popitem(last=False)
            self.evictions += 1
        self.d[key] = value
        self.d.move_to_end(key)
        return evicted

    def keys(self):
        return list(reversed(self.d))  # most recently used first

    def stats(self):
        return {"size": len(self.d), "capacity": self.capacity, "hits": self.hits, "misses": self.misses,
                "evictions": self.evictions}


def walk(lab, cache):
    """Check the segment's linked list directly (the documented layout); {key: value} or Fail.

    Forward from head and backward from tail must visit the same slots, each once, size of
    them, all below capacity; keys are unique and of a legal length.
    """
    h = cache._header()
    expect(0 <= h.size <= h.capacity, f"size {h.size} is outside 0..capacity ({h.capacity})")
    fwd, i = [], h.head
    while i != lab.NIL and len(fwd) <= h.capacity:
        expect(0 <= i < h.capacity, f"the list points to slot {i}, outside 0..{h.capacity - 1}",
               f"BAD      slots so far (from head): {fwd + [i]}")
        fwd.append(i)
        i = cache._entry(i).next
    back, i = [], h.tail
    while i != lab.NIL and len(back) <= h.capacity:
        expect(0 <= i < h.capacity, f"a prev link points to slot {i}, outside 0..{h.capacity - 1}")
        back.append(i)
        i = cache._entry(i).prev
    expect(len(fwd) == h.size and len(set(fwd)) == len(fwd),
           f"walking next from head gives {len(fwd)} slot(s) (some repeated: {len(set(fwd)) != len(fwd)}); "
           f"the header says size {h.size}", f"BAD      slots from head: {fwd[:12]}")
    expect(back == fwd[::-1], "walking prev from tail does not give the head-to-tail walk reversed",
           f"GOOD (expected)  {fwd[::-1][:12]}", f"BAD  (got)       {back[:12]}")
    entries = [cache._entry(i) for i in fwd]
    keys = [e.key for e in entries]
    expect(len(set(keys)) == len(keys), "the same key is stored in two slots",
           *[f"BAD      {k!r}" for k in sorted({k for k in keys if keys.count(k) > 1})][:6])
    return {e.key: e.value for e in entries}


def run_model(lab, rng, capacity, key_size, value_size, n_ops, n_keys, binary=False):
    """Random gets and puts on the cache and the model side by side; Fail at the first difference."""
    keys = random_keys(rng, n_keys, key_size)
    cache = lab.LRUCache.create(capacity, key_size, value_size)
    model = Model(capacity)
    trace, before = [], []
    try:
        for n in range(n_ops):
            key = rng.choice(keys)
            if rng.random() < 0.5:
                op = f"get({key!r})"
                want, got = model.get(key), cache.get(key, timeout=2)
                show = lambda r: "miss (None)" if r is None else f"hit {r!r}"  # noqa: E731
            else:
                n = rng.randint(0, value_size)
                value = (bytes(rng.randrange(256) for _ in range(n)) if binary
                         else labkit.random_tag(rng, n).encode())
                op = f"put({key!r}, <{len(value)} bytes>)"
                want, got = model.put(key, value), cache.put(key, value, timeout=2)
                show = lambda r: "nothing evicted" if r is None else f"evicted {r!r}"  # noqa: E731
            if want != got:
                lines = [f"GOOD     op {k}: {t}" for k, t in enumerate(trace[-5:], max(0, n - 5))]
                lines += [f"BAD      op {n}: {op} -> {show(got)}",
                          f"         expected {show(want)}; keys before it, most recent first:",
                          f"         {before}"]
                raise labkit.Fail(f"after {n} correct operations (capacity {capacity}), op {n} differs "
                                  "from an LRU", lines)
            trace.append(f"{op} -> {show(got)}")
            before = model.keys()
        expect_list(model.keys(), cache.keys(timeout=2), "keys(), most recently used first")
        expect_equal(model.stats(), cache.stats(timeout=2), "stats() after the sequence")
        stored = walk(lab, cache)
        expect_equal(dict(model.d), stored, "the (key, value) pairs in the segment")
    finally:
        cache.destroy()


# -- workers (run in their own processes) --------------------------------------------

def hammer(handle, keys, n_ops, worker, seed, gate=None):
    """Random gets and puts; every value is key + b'=' + 'worker.seq'. Returns what this worker saw.

    With a *gate*, the student's code is slowed down line by line and the workers start
    together: each get()/put() then lasts milliseconds, so an unlocked one is interrupted by
    another process's on every machine, one CPU included (where time slices alone let a whole
    operation run uninterrupted almost every time).
    """
    rng = random.Random(seed)
    cache = lab_module().LRUCache.attach(handle)
    gets = hits = evicted = 0
    last_put, wrong = {}, []
    try:
        if gate is not None:
            labkit.slow_student(SLOW)
            labkit.Gate.wait(gate)
        for seq in range(n_ops):
            key = rng.choice(keys)
            if rng.random() < 0.6:
                got = cache.get(key, timeout=WORKER_TIMEOUT)
                gets += 1
                if got is not None:
                    hits += 1
                    if not got.startswith(key + b"="):
                        wrong.append((key, got))
            else:
                value = key + b"=" + f"{worker}.{seq}".encode()
                if cache.put(key, value, timeout=WORKER_TIMEOUT) is not None:
                    evicted += 1
                last_put[key] = value
    finally:
        cache.close()
    return {"gets": gets, "hits": hits, "evicted": evicted, "last_put": last_put, "wrong": wrong[:5]}


def hold_and_die(handle):
    """Take the cache's lock and be killed (SIGKILL) while holding it."""
    cache = lab_module().LRUCache.attach(handle)
    with cache.locked(timeout=WORKER_TIMEOUT):
        labkit.kill_student()  # the process that holds the lock dies (and is reaped) first
        os.kill(os.getpid(), signal.SIGKILL)


def reader(handle, keys):
    """get() each key once in another process; return the values."""
    cache = lab_module().LRUCache.attach(handle)
    try:
        return [cache.get(k, timeout=WORKER_TIMEOUT) for k in keys]
    finally:
        cache.close()


def many_processes(lab, rng, nproc, capacity, n_keys, n_ops, start_method, lockstep=False):
    """*nproc* processes hammer one cache; check the structure, the values and the stats.

    *lockstep*: slowed workers started by a gate (see :func:`hammer`)."""
    key_size = rng.randint(6, 12)
    keys = random_keys(rng, n_keys, key_size)
    cache = lab.LRUCache.create(capacity, key_size, key_size + 12)
    try:
        gate = labkit.Gate(nproc) if lockstep else None
        jobs = [(cache.handle, keys, n_ops, w, rng.randrange(2**31), gate.handle if gate else None)
                for w in range(nproc)]
        try:
            try:
                res = procs.run(hammer, jobs, start_method=start_method, timeout=HAMMER_TIMEOUT, relay=False)
            finally:
                if gate is not None:
                    gate.__exit__(None, None, None)
        except errors.ChildTimeout:
            lines = ["BAD      the workers were killed after {:g} s".format(HAMMER_TIMEOUT)]
            try:
                walk(lab, cache)
                lines.append("         the list in the segment looks sound: a lock taken and never given back?")
            except labkit.Fail as f:
                lines += ["BAD      the segment is corrupted: " + f.summary] + ["  " + x for x in f.lines]
                lines.append("         a get()/put() walking a list whose links form a cycle never ends")
            raise labkit.Fail(f"{nproc} processes x {n_ops} operations never finished", lines) from None
        except errors.ChildError as e:
            try:
                walk(lab, cache)
            except labkit.Fail as f:
                tb = (e.child_traceback or "").strip().splitlines()
                raise labkit.Fail(f"a worker failed ({tb[-1] if tb else e}) on a corrupted cache: " + f.summary,
                                  f.lines + ["the worker's last lines:"] + tb[-4:]) from None
            raise
        wrong = [w for r in res for w in r["wrong"]]
        expect(not wrong, "get() returned a value that was never put for that key (another key's value, "
               "or a torn write)", *[f"BAD      get({k!r}) -> {v!r}" for k, v in wrong[:6]])
        stats = cache.stats(timeout=2)
        stored = walk(lab, cache)
        want = {"size": len(stored), "capacity": capacity, "hits": sum(r["hits"] for r in res),
                "misses": sum(r["gets"] - r["hits"] for r in res), "evictions": sum(r["evicted"] for r in res)}
        expect_equal(want, stats, f"stats() after {nproc} processes x {n_ops} operations (counted by the processes)")
        bad = []
        for key, value in stored.items():
            candidates = {r["last_put"][key] for r in res if key in r["last_put"]}
            if value not in candidates:
                bad.append(f"BAD      {key!r} -> {value!r}, not the last value any process put "
                           f"(those were {sorted(candidates)[:3]})")
        expect(not bad, f"{len(bad)} key(s) of the final cache hold a stale or foreign value", *bad[:6])
    finally:
        cache.destroy()


# -- the tests -----------------------------------------------------------------------

@labkit.test("eviction order: the least recently USED goes, and a get() saves a key", points=2, timeout=20,
             hint="get() must move the key to the head of the list, put() too; evict the tail. A cache that "
                  "evicts in insertion order is FIFO, not LRU.")
def eviction_order(lab, rng):
    capacity = rng.randint(3, 6)
    keys = random_keys(rng, capacity + 2, 10)
    first, new, newer = keys[:capacity], keys[capacity], keys[capacity + 1]
    cache = lab.LRUCache.create(capacity, 10, 16)
    try:
        for k in first:
            expect_equal(None, cache.put(k, b"v-" + k, timeout=2), f"put({k!r}) into a cache not yet full")
        expect_list(first[::-1], cache.keys(timeout=2), "keys(), most recently used first, after the puts")
        saved = first[0]
        expect_equal(b"v-" + saved, cache.get(saved, timeout=2), f"get({saved!r})")
        expect_equal(first[1], cache.put(new, b"new", timeout=2),
                     f"key evicted by put({new!r}) after get({saved!r}) made {saved!r} the most recent")
        expect_equal(None, cache.put(saved, b"again", timeout=2), f"put({saved!r}) of a key already there")
        expect_equal(first[2], cache.put(newer, b"newer", timeout=2), f"key evicted by put({newer!r})")
        want = [newer, saved, new] + first[3:][::-1]
        expect_list(want, cache.keys(timeout=2), "keys(), most recently used first, at the end")
        expect_equal(b"again", cache.get(saved, timeout=2), f"get({saved!r}) after its value was replaced")
    finally:
        cache.destroy()


@labkit.test("one process, random gets and puts: the same answers as an LRU model", points=2, timeout=30,
             hint="compare with collections.OrderedDict: move_to_end on get and put, popitem(last=False) "
                  "when a new key arrives in a full cache.")
def like_the_model(lab, rng):
    capacity = rng.randint(2, 8)
    run_model(lab, rng, capacity, rng.randint(4, 12), rng.randint(8, 40), 250, capacity * 2 + rng.randint(0, 4))


@labkit.test("stats live in the segment: another process's gets count", points=1, timeout=20,
             hint="hits, misses and evictions are header fields, updated under the lock; stats() reads them.")
def shared_stats(lab, rng):
    capacity = rng.randint(3, 6)
    keys = random_keys(rng, capacity + 3, 8)
    cache = lab.LRUCache.create(capacity, 8, 16)
    try:
        for k in keys:  # the last `capacity` stay
            cache.put(k, k.upper(), timeout=2)
        asked = rng.sample(keys, len(keys))
        got = procs.run(reader, [(cache.handle, asked)], start_method="fork", timeout=WORKER_TIMEOUT,
                        relay=False)[0]
        present = set(keys[-capacity:])
        expect_list([k.upper() if k in present else None for k in asked], got, "values read by another process")
        hits = sum(k in present for k in asked)
        expect_equal({"size": capacity, "capacity": capacity, "hits": hits, "misses": len(asked) - hits,
                      "evictions": len(keys) - capacity}, cache.stats(timeout=2),
                     "stats() seen by the creator after the other process's gets")
    finally:
        cache.destroy()


@labkit.test("3-4 processes hammer one cache: never corrupted, stats exact", points=3, timeout=60,
             hint="every get and put (find, unlink, push_front, counters) runs inside ONE `with self.locked()`; "
                  "a list half-relinked by one process and walked by another is lost.")
def concurrent(lab, rng):
    capacity = rng.randint(4, 8)
    many_processes(lab, rng, rng.randint(3, 4), capacity, capacity * 2, rng.randint(30, 45), "fork", lockstep=True)


@labkit.test("a process killed while holding the lock does not wedge the cache", points=1, timeout=30,
             hint="take and give the semaphore with SEM_UNDO: the kernel gives it back when the holder dies.")
def killed_holder(lab, rng):
    cache = lab.LRUCache.create(rng.randint(2, 5), 8, 8)
    try:
        try:
            procs.run(hold_and_die, [(cache.handle,)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
        except errors.ChildError as e:
            expect(e.exitcode == -signal.SIGKILL, f"the holder should have been killed, it {e}"[:300])
        key = labkit.random_tag(rng, 6).encode()
        try:
            cache.put(key, b"alive", timeout=2)
        except TimeoutError:
            raise labkit.Fail("the cache stayed locked after the lock's holder was killed",
                              ["BAD      put() timed out 2 s after the holder died",
                               "GOOD     with SEM_UNDO the kernel undoes a dead process's P"]) from None
        expect_equal(b"alive", cache.get(key, timeout=2), "get() after the holder died")
    finally:
        cache.destroy()


@labkit.test("bad sizes raise ValueError; destroy() removes the segment and the semaphore set", points=1,
             timeout=20, hint="objects.remove_posix_shm(shm) does shm_unlink; SemaphoreSet.remove() does "
                              "semctl(IPC_RMID).")
def sizes_and_destroy(lab, rng):
    key_size, value_size = rng.randint(4, 10), rng.randint(4, 10)
    expect_raises(ValueError, lab.LRUCache.create, "LRUCache.create(0)", 0, key_size, value_size)
    cache = lab.LRUCache.create(rng.randint(2, 5), key_size, value_size)
    try:
        expect_raises(ValueError, cache.put, f"put() of a key of {key_size + 1} bytes (key_size {key_size})",
                      b"k" * (key_size + 1), b"v", timeout=2)
        expect_raises(ValueError, cache.put, f"put() of a value of {value_size + 1} bytes",
                      b"k", b"v" * (value_size + 1), timeout=2)
        expect_raises(ValueError, cache.get, "get(b'') (empty key)", b"", timeout=2)
        expect_equal(0, cache.stats(timeout=2)["size"], "size after refused puts")
        name, semid = cache.handle
    finally:
        cache.destroy()
    left = []
    if os.path.exists("/dev/shm" + name):
        left.append(f"BAD      POSIX segment {name} still in /dev/shm")
    if inventory.sysv_row("sem", semid) is not None:
        left.append(f"BAD      System V semaphore set {semid} still exists")
    expect(not left, "after destroy() some objects still exist", *left)


def hit_rates(lab, capacities=(1, 2, 4, 8, 16, 32), n_keys=64, n_ops=600, seed=1):
    """For the brief: hit rate of a read-through cache on a skewed workload, per capacity.

    Keys are drawn with weight 1/rank (a Zipf-like law: a few keys are hot); a miss is
    followed by a put, as an application filling its cache would do.
    """
    rng = random.Random(seed)
    keys = [f"user{n:03d}".encode() for n in range(n_keys)]
    weights = [1 / (r + 1) for r in range(n_keys)]
    draws = rng.choices(keys, weights, k=n_ops)
    out = []
    for cap in capacities:
        cache = lab.LRUCache.create(cap, 8, 16)
        try:
            for k in draws:
                if cache.get(k, timeout=2) is None:
                    cache.put(k, b"profile of " + k[-3:], timeout=2)
            s = cache.stats(timeout=2)
        finally:
            cache.destroy()
        out.append({"capacity": cap, "hit_rate": s["hits"] / (s["hits"] + s["misses"]), **s})
    return out
