# %% [markdown]
# # Lab 1 (19.1): a ring buffer in POSIX shared memory
#
# **Goal.** Write a bounded stream that *several producer processes* and *several consumer
# processes* use at once: every record is delivered exactly once, the records of one
# producer come out in the order it put them, a full buffer makes producers wait, an empty
# one makes consumers wait, every wait gives up after a timeout, and `end()` closes the
# stream: what was put still comes out, then **every** consumer gets `None`, including
# those already asleep in `get()`.
#
# **Concepts exercised** (notebook 01): `shm_open` + `ftruncate` + `mmap`; a shared header
# (head, tail) and fixed-size slots; the three-semaphore pattern (`empty`, `full`, `mutex`)
# with `sem_timedwait`; the difference between `close` (this process) and `unlink` (the system).
#
# **Time:** about 90 minutes. **You edit:** [`lab1_ringbuffer.py`](lab1_ringbuffer.py) (in
# this folder). **Grading:** 12 points in the visible tests below; your teacher also runs
# hidden tests with other sizes and more processes.

# %%
from ipclab import doctor

doctor.setup_notebook("posix_shm")

# %% [markdown]
# ## The layout (already decided for you)
#
# ```
# segment:  | head u32 | tail u32 | capacity u32 | item_size u32 | ended u32 | slot 0 | slot 1 | ... |
#           head = next slot get() reads, tail = next slot put() writes (both wrap at capacity)
#           ended = 1 once end() was called
# slot:     | length u32 | item_size bytes |      length 0 = the end-of-stream marker
# empty   POSIX semaphore, starts at capacity   put() waits on it, get() posts it
# full    POSIX semaphore, starts at 0          get() waits on it, put() posts it
# mutex   POSIX semaphore, starts at 1          taken only while one record is copied
# ```
#
# The tests read this layout and the semaphores' values from the kernel, not through your code.
# `HEADER`, `INDEX` (head and tail alone), `ENDED` (at `ENDED_AT`), `LENGTH`, `slot_offset(i)` and the helper `_wait(sem, timeout, what)` (which
# turns `posix_ipc.BusyError` into `TimeoutError`) are given.
#
# ## The API to implement
#
# | method | what it does | C calls behind it |
# | --- | --- | --- |
# | `RingBuffer.create(capacity, item_size)` | make the segment (header + slots) and the 3 semaphores with `ipclab.core.objects`; `ValueError` for a size that is not a positive int | `shm_open(O_CREAT\|O_EXCL)`, `ftruncate`, `mmap`, `sem_open(O_CREAT\|O_EXCL)` |
# | `RingBuffer.attach(handle)` | open the same objects in another process (`handle` is `rb.handle`, four names) | `shm_open`, `mmap`, `sem_open` |
# | `put(data, timeout)` | append 1..item_size bytes; wait while full; `TimeoutError` after *timeout* | `sem_timedwait(empty)`, `sem_wait(mutex)`, copy, `sem_post(mutex)`, `sem_post(full)` |
# | `get(timeout)` | remove and return the oldest record; wait while empty; `None` once the stream has ended and is drained | the mirror image |
# | `end(timeout)` | close the stream: records already in still come out, then every `get()` returns `None`; a later `put()` raises `BrokenPipeError`; a second `end()` does nothing | yours to design |
# | `close()` | unmap and close this process's handles | `munmap`, `close`, `sem_close` |
# | `destroy()` | owner only: close and remove everything | `shm_unlink`, `sem_unlink` |
#
# ## Hints
# - Take `empty` (or `full`) **before** `mutex`, never while holding it: a producer that
#   sleeps on `empty` while holding `mutex` stops every consumer, forever.
# - If the wait for `mutex` times out after you took `empty`, give `empty` back.
# - head and tail wrap: `(tail + 1) % capacity`.
# - `end()` must wake consumers that are *already* waiting on `full`, however many there
#   are, and you do not know how many. Could the end be a record like the others? What must
#   a consumer that finds it do, so that the next one wakes too?
# - In put() and get() write back **only head and tail** (`INDEX.pack_into(mm, 0, head, tail)`),
#   never the whole `HEADER`: `struct.pack_into` clears the bytes it is about to write before
#   writing them, so another process reading `capacity` at that instant (as `attach()` does,
#   without the mutex) would see 0. Write once what never changes.
# - Use `objects.create_posix_shm(size, tag=...)` and `objects.create_posix_sem(value, tag=...)`,
#   and `objects.remove_posix_shm` / `remove_posix_sem` in `destroy()`: names are unique,
#   mode 0600, and the grader counts anything left behind as a leak.

# %% [markdown]
# ## Your protocol
# Fill the `PROTOCOL = """..."""` string at the top of your file: what is shared, what each
# semaphore guards, the order of waits, the invariants, every blocking call and its timeout,
# how `end()` reaches every consumer, and what happens when a process dies. Your teacher
# reads it with your grade.
#
# ## Try your buffer
# One process first. The cell reloads your module, so run it again after each edit.

# %%
import importlib

import lab1_ringbuffer as lab

importlib.reload(lab)
try:
    rb = lab.RingBuffer.create(capacity=3, item_size=16)
    try:
        for word in (b"alpha", b"beta", b"gamma"):
            rb.put(word, timeout=1)
        print([rb.get(timeout=1) for _ in range(3)])
    finally:
        rb.destroy()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Watch it with real processes
# Two producers and two consumers (separate processes, `fork`) share your buffer; the plot
# shows which producer's records each consumer received. With a correct buffer every record
# appears once and each producer's record numbers increase from left to right.

# %%
import matplotlib.pyplot as plt

from ipclab.tooling.grading.labtests import lab1 as tests

try:
    received = tests.demo(lab, seed=7)
    fig, axes = plt.subplots(1, len(received), figsize=(9, 2.5), sharey=True)
    for ax, recs in zip(axes, received):
        producers = [int(r.split(":")[0]) for r in recs]
        seqs = [int(r.split(":")[1]) for r in recs]
        for p in sorted(set(producers)):  # one colour per producer, the same in every panel
            xs = [i for i, q in enumerate(producers) if q == p]
            ax.scatter(xs, [seqs[i] for i in xs], color=f"C{p}", label=f"producer {p}", s=14)
        ax.set_xlabel("order received")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("record number")
    fig.suptitle("what each consumer got")
    plt.show()
except NotImplementedError as e:
    print("not written yet:", e)
except Exception as e:  # a worker failed: the message says which and why
    print(f"{type(e).__name__}: {e}"[:600])

# %% [markdown]
# ## Check your work
# Each test runs in its own process with a timeout; a failure says what was expected
# (GOOD), what happened (BAD / MISSING) and gives a hint. `ipclab.check("lab1", "fifo")`
# runs one test only.
#
# **In C?** If your teacher chose the C track for this lab, you write
# [`c/lab1_ringbuffer.c`](c/lab1_ringbuffer.c) against the header [`c/lab1_ringbuffer.h`](c/lab1_ringbuffer.h) (the contract;
# [`c/README.md`](c/README.md) maps this API to it), and `ipclab.check("lab1", track="c")`
# compiles it as the grader does and runs the same tests on it.

# %%
import ipclab

ipclab.check("lab1")
