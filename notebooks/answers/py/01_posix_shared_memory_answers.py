# %% [markdown]
# # Answers to 19.1 (POSIX shared memory, and race conditions made visible)
#
# One section per "Try it" prompt and per exercise of
# [19.1 POSIX shared memory](../01_posix_shared_memory.ipynb), in the order they appear
# there. Where the answer is code, it runs here on real processes and kernel objects, removed
# afterwards, and the notebook check (nbval) compares its output. Try each one yourself first.

# %%
# NBVAL_IGNORE_OUTPUT
import ctypes
import itertools
import os
import subprocess
import time

from ipclab import doctor, procs, race, shm, shm_demos
from ipclab.core.errors import ObjectGone
from ipclab.mechanisms import ccell

doctor.setup_notebook("posix_shm", "sem_timedwait")
ccell.load()  # %%worker and %%c
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)

# %% [markdown]
# <a id="try-1"></a>
# ## Try it 1: `/dev/shm` while the object exists, and attaching to an unlinked name
#
# *Run `ls -l /dev/shm` while the object exists. Then try `Segment.attach` on a name you just
# unlinked: what error, and which `errno`?*
#
# `ls -l` lists the object as a file of the tmpfs: mode `-rw-------` (0600), you as owner,
# the size given to `ftruncate`. After `shm_unlink` the name is gone: `shm_open(name, O_RDWR)`
# fails with `ENOENT` ("No such file or directory"); posix_ipc raises `ExistentialError`
# for it, which `Segment.attach` turns into ipclab's `ObjectGone`. On Linux, glibc's
# `shm_open` is an `open()` of `/dev/shm/NAME`
# ([shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html), NOTES), so the
# same `open` from Python shows the `errno` itself.

# %%
with shm.Segment.create(4096, tag="tryls") as seg:
    listing = subprocess.run(["ls", "-l", seg.path], capture_output=True, text=True, timeout=10).stdout
    print("ls -l shows it, mode -rw-------:", listing.startswith("-rw-------"))
    name = seg.name
    seg.unlink()                                 # C: shm_unlink(name)
    try:
        shm.Segment.attach(name)                 # C: shm_open(name, O_RDWR, 0)
    except ObjectGone as e:
        print("Segment.attach raised", type(e).__name__, "caused by posix_ipc's", type(e.__cause__).__name__)
    try:
        os.open("/dev/shm" + name, os.O_RDWR)    # what glibc's shm_open does
    except OSError as e:
        print("the errno behind it:", os.strerror(e.errno), f"(errno {e.errno} = ENOENT: {e.errno == 2})")

# %%
# NBVAL_IGNORE_OUTPUT
print(listing)

# %% [markdown]
# <a id="try-2"></a>
# ## Try it 2: `Padded` with `x` first
#
# *Reorder `Padded`'s fields (`x` first): how big is it now? Why do arrays of structs often
# end with padding too?*
#
# Still 16 bytes: `x` at offset 0, `tag` at 8, then 7 bytes of **tail padding**. A struct's
# size is rounded up to a multiple of its strictest alignment (8, for the `double`) so that
# in an array every element's `x` is aligned again: element 1 starts at 16, not at 9.

# %%
class XFirst(ctypes.Structure):   # C: struct { double x; char tag; };
    _fields_ = [("x", ctypes.c_double), ("tag", ctypes.c_char)]


print("sizeof =", ctypes.sizeof(XFirst), "| offset of tag:", XFirst.tag.offset,
      "| tail padding:", ctypes.sizeof(XFirst) - XFirst.tag.offset - 1, "bytes")
pair = (XFirst * 2)()
offset_1 = ctypes.addressof(pair[1]) - ctypes.addressof(pair[0])
print("in an array, element 1 starts at offset", offset_1, "| its x aligned to 8:", offset_1 % 8 == 0)

# %% [markdown]
# <a id="try-3"></a>
# ## Try it 3: the ring without its mutex, and a producer that dies
#
# *Remove the `mutex` from `RingBuffer.get` and run three consumers: which check fails first?*
#
# Below, `get` copied without its two mutex lines (and with the 0.5 ms window of
# `race.count` between reading the indices and writing them back, so the race shows on any
# machine). Two consumers read the same `tail`, so both take the same item (**duplicates**),
# and the one that writes `tail` last writes back a stale value. Worse, `get` writes back the
# whole counter block, `head` included, read before the producer's last `put`: the producer
# then writes over slots nobody has read (**missing** items), and end markers can be lost,
# so a consumer may wait in vain (its timeout). "Exactly once" fails first; the order
# checks may or may not fail in a given run.

# %%
# %%worker ring_nomutex
import time

from ipclab.core.errors import WaitTimeout
from ipclab.experiments.shm_demos import EOF, ITEM
from ipclab.mechanisms.shm import COUNTERS_AT, RING_COUNTERS, SLOT_LEN, RingBuffer


def get_without_mutex(ring, timeout):
    """RingBuffer.get with its two mutex lines deleted (and a 0.5 ms window)."""
    ring._wait("full", timeout, "get")                                   # C: sem_timedwait(full)
    head, tail, put, got = RING_COUNTERS.unpack_from(ring.segment.buf, COUNTERS_AT)
    off = ring._slot_offset(tail)
    (n,) = SLOT_LEN.unpack_from(ring.segment.buf, off)
    data = bytes(ring.segment.buf[off + SLOT_LEN.size: off + SLOT_LEN.size + n])
    time.sleep(0.0005)                                                   # the window
    RING_COUNTERS.pack_into(ring.segment.buf, COUNTERS_AT, head, (tail + 1) % ring.capacity, put, got + 1)
    ring._sems["empty"].release()                                        # C: sem_post(empty)
    return data


def consume(spec, timeout=3.0):
    """shm_demos.consume with get_without_mutex; stops at EOF or when nothing came for *timeout* s."""
    got = []
    with RingBuffer.attach(spec) as ring:
        while True:
            try:
                data = get_without_mutex(ring, timeout)
            except WaitTimeout:
                return got, "timed out"
            if data == EOF:
                return got, "EOF"
            got.append(ITEM.unpack(data)[0])

# %%
N_ITEMS = 300
with shm.RingBuffer.create(capacity=8, slot_size=8) as ring:
    consumers = procs.start(ring_nomutex.consume, [(ring.spec,)] * 3, start_method="fork", timeout=60)
    producer = procs.start(shm_demos.produce, [(ring.spec, N_ITEMS, 3)], start_method="fork", timeout=60)
    producer.join()
    results = consumers.join()
verdict = shm_demos.check_delivery(N_ITEMS, [got for got, _ in results])
print("every item delivered exactly once:", "yes" if verdict["exactly_once"] else "NO")

# %%
# NBVAL_IGNORE_OUTPUT
print("missing:", verdict["missing"], "| duplicated:", verdict["duplicated"],
      "| each consumer in order:", verdict["in_order"], "| how each consumer stopped:", [how for _, how in results])

# %% [markdown]
# *Then kill the producer half-way (`shm_demos.put_then_die`): what do the consumers report, and
# after how long?*
#
# They take the items that were put, then wait on `full` until their timeout, and each
# raises `WaitTimeout` with the ring's hint: "the ring stayed empty: is the producer alive, and
# did it put all it promised?". No semaphore tells a waiter that its partner died; the
# timeout is what turns a hang into an error. With `hold_mutex=True` the producer dies
# *inside* the critical section and the consumers time out on `mutex` instead.

# %%
with shm.RingBuffer.create(capacity=8, slot_size=8) as ring:
    producer = procs.start(shm_demos.put_then_die, [(ring.spec, 5)], start_method="fork", timeout=30)
    t0 = time.monotonic()
    consumer = procs.start(shm_demos.consume, [(ring.spec, 2.0)], start_method="fork", timeout=30)
    (c_outcome,) = consumer.join(fail_fast=False, raise_errors=False)
    waited = time.monotonic() - t0
    (p_outcome,) = producer.join(fail_fast=False, raise_errors=False)
print("the producer:", p_outcome[0], "by", p_outcome[1])
print("the consumer raised", type(c_outcome[1]).__name__, "| hint:", str(c_outcome[1]).split("; ", 1)[1])
print("it gave up only after its 2 s timeout:", "yes" if waited >= 2 else "no")

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: schedules by hand, and the smallest final value
#
# `A:load A:add B:load A:store B:add B:store`: A loads 0 and computes 1; B loads 0 (A has not
# stored yet); A stores 1; B computes 1 and stores 1. **Final value 1**, one update lost.
# `race.paper_final` computes the same by hand, and `race.Explorer` runs it on real processes:

# %%
schedule = "A:load A:add B:load A:store B:add B:store"
with race.Explorer(processes=2, increments=1, start_method="fork") as ex:
    ex.run(schedule)
    print(f"by hand {race.paper_final(schedule, 2, 1)}, real processes {ex.shared}")

# %% [markdown]
# For 2 processes x 2 increments there are 12!/(6!6!) = 924 interleavings; compute the final
# value of each on paper, and check one that ends at 2 on real processes:

# %%
finals = {}
for a_slots in itertools.combinations(range(12), 6):        # where A's six steps go
    sched = " ".join("A" if i in a_slots else "B" for i in range(12))
    finals.setdefault(race.paper_final(sched, 2, 2), sched)
print("final values reachable:", sorted(finals))
two = finals[2]
with race.Explorer(processes=2, increments=2, start_method="fork") as ex:
    ex.run(two)
    print(f"a schedule that ends at 2: {two!r} -> real processes end at {ex.shared}")

# %% [markdown]
# **No schedule gives 1.** Look at the process that stores last, say B. Its last store
# writes (what B loaded in its last load) + 1. Before that last load, B had already stored
# its first increment, and a store can only be overwritten by a later store, so the value B
# loads is at least 1 (its own first store, or a later one of A built on something): the
# last store writes at least 2. The same holds for A by symmetry.
#
# <a id="exercise-2"></a>
# ## Exercise 2: the bare race (`window=0`) as m grows
#
# *Why does the share of lost updates grow with m when there is no designed window?*
#
# Without the sleep, an increment is a few hundred nanoseconds of bytecode, and a race needs
# the two processes to run **at the same time** (two CPUs) or one to be preempted between
# its load and its store. With small m, a process finishes its whole loop in less time than
# it takes the other to be scheduled after the start signal, or within one time slice:
# they barely overlap, and nothing is lost. With large m they run side by side for longer,
# so the share of increments that overlap grows, towards a machine-dependent plateau. The
# numbers depend on the machine and its load, so they are not checked here:

# %%
# NBVAL_IGNORE_OUTPUT
for m in (1_000, 10_000, 100_000):
    r = race.count(2, m, window=0, start_method="fork")
    print(f"m = {m:>7,}: lost {r.lost:>7,} of {r.expected:>7,} ({100 * r.lost / r.expected:5.2f}%), {r.elapsed:.3f} s")

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: a `reset()`
#
# Every **incrementing process that is between its load and its store** must be stopped:
# it will store (its old value + 1) after the reset, undoing it. So the reset must be a
# critical section of the *same* lock: `sem_wait(lock); *counter = 0; sem_post(lock)`, and
# that works only if every incrementer takes that lock too (an unlocked incrementer is the
# "break it yourself" of the notebook: a lock protects only code that takes it). If the
# incrementers run lock-free (C11 `atomic_fetch_add`, exercise 4), a reset is
# `atomic_store` (or `atomic_exchange` to read the old total) and needs no lock. With
# one more semaphore you can also make "stop everyone" explicit: a *gate* semaphore
# initialised to the number of incrementers N, each incrementer holding one unit while it
# works; `reset()` takes all N units (System V `semop` with `sem_op = -N` takes them at
# once, notebook 02), resets, and gives them back. The code below is the first version,
# run for real: three locked incrementers and a reset in the middle.

# %%
# %%worker resettable
import ctypes
import time

import posix_ipc

from ipclab.mechanisms.shm import Segment


def incrementer(seg_name, lock_name, m, window):
    """counter++ *m* times, each under the lock (the only way a reset can be safe)."""
    seg = Segment.attach(seg_name)
    lock = posix_ipc.Semaphore(lock_name)
    word = ctypes.c_uint64.from_buffer(seg.buf)
    try:
        for _ in range(m):
            lock.acquire(10)          # C: sem_timedwait(lock)
            value = word.value
            time.sleep(window)
            word.value = value + 1
            lock.release()            # C: sem_post(lock)
    finally:
        del word
        seg.close()
        lock.close()

# %%
from ipclab.core import objects

M, N = 200, 3
with shm.Segment.create(8, tag="reset") as seg, objects.posix_sem(1, tag="rlock") as lock:
    group = procs.start(resettable.incrementer, [(seg.name, lock.name, M, 0.0002)] * N,
                        start_method="fork", timeout=60)
    time.sleep(0.05)
    lock.acquire(10)                  # reset(): take the SAME lock ...
    word = ctypes.c_uint64.from_buffer(seg.buf)
    before_reset = word.value
    word.value = 0                    # ... C: *counter = 0;
    lock.release()                    # ... then give it back
    group.join()
    final = word.value
    del word
print("after the reset the counter holds exactly the increments made after it:",
      "yes" if final == N * M - before_reset else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{before_reset} increments before the reset, {final} after it, {N * M} in all")

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: `shm_count.c` with `atomic_fetch_add`
#
# Python creates the segment; two copies of the C program below each add 1 000 000 with
# `atomic_fetch_add_explicit` (one `lock xadd` on x86-64) on the same 8 bytes; Python
# then reads the total. No semaphore, and no update is lost. Without gcc the C cell says
# what it would have done and the check is skipped. (In a notebook of your own, put the C
# code in a cell that starts with `%%c --copies 2 --env SHM={seg.name} --expect ok`.)

# %%
seg = shm.Segment.create(8, tag="atomic")

# %% tags=["nbval-ignore-output"]
SHM_COUNT_C = r"""
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    const char *name = getenv("SHM");
    int fd = shm_open(name, O_RDWR, 0);                        /* the segment Python created */
    if (fd == -1) { perror("shm_open"); return 1; }
    _Atomic uint64_t *counter = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (counter == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    if (!atomic_is_lock_free(counter)) { fputs("not lock-free: unsafe across processes\n", stderr); return 2; }
    for (int i = 0; i < 1000000; i++)
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);  /* one atomic read-modify-write */
    munmap((void *)counter, 8);
    return 0;
}
"""
# what a `%%c --copies 2 --env SHM=... --expect ok` cell does, called from Python:
# gcc (with the sanitizers where they run), two copies at once, $SHM = the segment's name
ccell.run_c(SHM_COUNT_C, f"--copies 2 --env SHM={seg.name} --expect ok --timeout 60 --name shm_count")

# %%
# NBVAL_IGNORE_OUTPUT
# (without gcc this prints why it did not run; with gcc the assert below is the check)
try:
    if ccell.c_available("the count of two C processes using atomic_fetch_add"):
        total = ctypes.c_uint64.from_buffer(seg.buf).value
        assert total == 2_000_000, f"two copies x 1 000 000 atomic increments gave {total}"
        print("two C processes, 1 000 000 atomic_fetch_add each: the count is exact")
finally:
    seg.close()
    seg.unlink()

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: a variable-length ring
#
# With records of different lengths the ring is a ring of **bytes**, each record a length
# prefix then its bytes. `empty` must now count **free bytes**, not free slots, and `full`
# the bytes (or the records) ready to read. The catch: a producer of a 100-byte record needs
# 104 units at once, and `sem_wait` takes one. Taking them one by one lets two producers each
# hold half of what they need and wait for ever for the rest (a deadlock, notebook 02's
# dining philosophers). Three ways out:
#
# * a System V semaphore: one `semop` with `sem_op = -104` takes the 104 units atomically or
#   waits, never half ([semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)):
#   exactly the "take several units at once" that POSIX semaphores lack;
# * keep the free-byte count in the header, under the mutex, and use a semaphore only to
#   sleep: a producer that finds too little room releases the mutex and waits for a
#   consumer's post, then checks again (a condition variable's pattern);
# * a record that does not fit before the end of the buffer: either wrap it (two copies)
#   or write a "skip to the start" marker, which the free-byte count must include.
