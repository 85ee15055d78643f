# %% [markdown]
# # Lab 9 (19.7): System V shared memory and a seqlock — readers that never lock
#
# **Goal.** One writer process updates a small record; several reader processes read it at
# the same time, without taking any lock and without ever writing, and **never return a
# torn record** (half of one write and half of the next). The record lives in a *System V*
# shared memory segment (`shmget`, `shmat`, `shmdt`, `shmctl(IPC_RMID)`); the readers use a
# **sequence counter**, the protocol the Linux kernel calls a seqlock.
#
# **Learning goals.**
# - Create, attach, detach and remove a System V segment, and read its life from the kernel
#   (`/proc/sysvipc/shm`: mode, `nattch`; `IPC_RMID` only *marks* a segment).
# - Design a reader-writer protocol whose readers never write: what the counter's parity
#   means, when a reader must retry, and why both loads of the counter are needed.
# - Know what Python can and cannot promise about loads and stores shared between
#   processes: which stores are one 8-byte store, and what orders them.
#
# **Concepts exercised** (notebook 07 section 3, System V shared memory as an API, and
# [section 5, the seqlock](../notebooks/07_c_and_memory_ordering.ipynb), where it is written
# in C with C11 atomics; notebook 01, *What is atomic, and what is not*).
#
# **Time:** about 75 minutes. **You edit:** [`lab9_seqlock.py`](lab9_seqlock.py).
# **Grading:** 11 points in the visible tests; hidden tests add spawned readers, values at
# the 64-bit edge and a writer killed in the middle of a write. Your teacher also reads
# your `PROTOCOL`.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## The contract
#
# The record is four **native unsigned 64-bit words** at the start of the segment. The
# layout is part of the contract: the tests attach your segment themselves and read and
# write these words, as a C program attached to it would.
#
# | word | bytes | name | meaning |
# | ---: | --- | --- | --- |
# | 0 | 0..7 | `seq` | even: the record is stable; odd: a write is in progress. 0 at creation, 2k after k writes; it only grows |
# | 1 | 8..15 | `x` | the first value |
# | 2 | 16..23 | `y` | the second value |
# | 3 | 24..31 | `total` | (x + y) mod 2**64: a torn record shows |
#
# | method | what the tests hold it to |
# | --- | --- |
# | `SeqRecord.create()` | a **fresh System V segment** (`shmget(key, 32, IPC_CREAT\|IPC_EXCL\|0600)`), mode 0600, attached (`shmat`), all four words 0 |
# | `rec.handle` | the segment's id (`shmid`): what another process needs |
# | `SeqRecord.attach(handle)` | the same record in another process (`shmat`) |
# | `write(x, y)` | publishes `(x, y, (x + y) mod 2**64)`; x, y ints in 0..2**64-1, else `ValueError`; never blocks. One process writes at a time |
# | `read(timeout)` | a consistent `(seq, x, y, total)` with seq even, never half of one write; `TimeoutError` if none was seen within *timeout*; never writes |
# | `close()` | detaches this process's attachment (`shmdt`) |
# | `destroy()` | the creator: detaches and removes the segment (`shmdt` + `shmctl(IPC_RMID)`): afterwards it is gone from `/proc/sysvipc/shm` |
#
# The tests check the kernel, never only what your code says: `/proc/sysvipc/shm` for the
# mode and `nattch` (how many attachments the segment has), the words through their own
# `shmat`.
#
# ## The invariants your design must keep
#
# 1. A reader never returns a torn record: however the writer and the readers interleave,
#    every record `read()` returns is exactly the one some `write()` stored (or the fresh one).
# 2. A reader never writes to the segment and never waits for another reader; a write never
#    waits for the readers.
# 3. A write in progress is visible as such in the segment (`seq` odd), from its first store
#    to its last; `seq` is `2k` once k writes are done, whichever processes made them.
# 4. Everything that describes the record lives in the segment, not in a Python object: a
#    writer in another process continues the same `seq`.
# 5. Every wait has a timeout; a writer that dies in the middle of a write leaves readers
#    that time out, not readers that hang or return half a record.
# 6. At the end no process is attached (`nattch` 0) and the segment is removed, even when a
#    child crashed (the kernel detaches a dead process; the creator removes, in a `finally`).
#
# The tests make the races happen on purpose: they leave half a record in the segment and
# call your `read()`; they write with long pauses at the point where your protocol must
# hold; they slow your code down line by line and run more processes than the machine has
# CPUs. A protocol that "usually works" fails them.
#
# ## Hints
# - **Which System V calls.** `ipclab.objects.create_sysv_shm(size)` is `shmget` with a
#   fresh course key, `IPC_CREAT|IPC_EXCL`, mode 0600, registered for cleanup, and already
#   attached (`sysv_ipc.SharedMemory` attaches when it is made); `sysv_ipc.attach(shmid)` is
#   `shmat`; `.detach()` is `shmdt`; `.remove()` is `shmctl(IPC_RMID)`;
#   `objects.remove_sysv(shm)` does both. `sysv_ipc` fills a new segment with **spaces**
#   (its `init_character=' '`): a fresh record must read as four zeros.
# - **Whole words.** Read the words through `memoryview(shm).cast("Q")`: `words[0]` is one
#   aligned 8-byte load, `words[0] = v` one 8-byte store (CPython's memoryview packs a
#   single item with one `memcpy` of 8 bytes). Do **not** use `struct.pack_into` for `seq`:
#   it clears the bytes it is about to write, then writes them, so a reader can see a value
#   nobody wrote (notebook 01, *What is atomic*). Release the memoryview before `shmdt`:
#   `sysv_ipc` lets you detach under a live view, and a later access through it touches
#   unmapped memory (the process dies of SIGSEGV, no exception).
# - **The protocol.** The writer and the reader both look at `seq`, twice. When must the
#   writer make it odd, and when even? A reader that sees an even `seq`, then reads the
#   three fields, then sees the *same* even `seq`: what does it know? And if it only
#   looked once, before the fields? Try the bad interleavings on paper first.
# - **What Python can and cannot promise.** Python has no atomic read-modify-write on
#   shared memory, no `memory_order` and no fence; its GIL orders the threads of one
#   interpreter, never two processes. A seqlock needs (a) each word loaded and stored
#   whole, and (b) the writer's stores seen in the order it made them, and the reader's
#   loads made in the order it wrote them. (a) holds for the aligned 8-byte stores above;
#   (b) is what x86-64 gives plain loads and stores (TSO), and arm64 does not: in C you
#   would write the fences of notebook 07 section 5 (`atomic_thread_fence`, or the kernel's
#   `read_seqcount_begin` / `read_seqcount_retry`). Say in your `PROTOCOL` what your
#   code relies on.
# - **A reader that waits.** While `seq` is odd there is nothing to read yet: retry, let the
#   writer run (`time.sleep(0)` or a short sleep after a few tries) and give up at the
#   timeout. Readers spinning on a busy machine can starve the writer they wait for.
#
# ## Your protocol
# Fill the `PROTOCOL = """..."""` string at the top of your file: what is shared and its
# layout, what guards what (here the counter guards the fields: there is no lock), the
# order of the writer's stores and of the reader's loads, the invariants, every wait and
# its timeout, and what happens when a writer or a reader dies. Your teacher reads it with
# your grade.

# %% [markdown]
# ## Try your record

# %%
import importlib

import lab9_seqlock as lab

importlib.reload(lab)
try:
    rec = lab.SeqRecord.create()            # C: shmget(key, 32, IPC_CREAT|IPC_EXCL|0600); shmat
    try:
        rec.write(40, 2)
        print("read:", rec.read(timeout=1))  # (seq, x, y, total)
    finally:
        rec.destroy()                        # C: shmdt; shmctl(IPC_RMID)
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# A writer process and four reader processes, all on your code: each reader counts the
# records it got that no write produced.

# %%
from ipclab.tooling.grading.labtests import lab9 as lab9_tests

try:
    per_reader = lab9_tests.demo(lab, readers=4, writes=30)
    print("torn records returned:", "none" if not any(torn for _, torn in per_reader) else "some")
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## References
# - [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
#   [shmat(2) and shmdt](https://man7.org/linux/man-pages/man2/shmat.2.html),
#   [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html) (`IPC_RMID`, `shm_nattch`),
#   [svipc(7)](https://man7.org/linux/man-pages/man7/svipc.7.html).
# - M. Kerrisk, *The Linux Programming Interface*, chapter 48 (System V shared memory).
# - The Linux kernel, [Sequence counters and sequential locks](https://docs.kernel.org/locking/seqlock.html)
#   (`seqcount_t`, `read_seqcount_begin`, `read_seqcount_retry`).
# - H.-J. Boehm, "Can seqlocks get along with programming language memory models?", MSPC 2012
#   (why a C seqlock needs atomics and fences; notebook 07 section 5).
# - [sysv_ipc](https://semanchuk.com/philip/sysv_ipc/) (`SharedMemory`, `attach`, `init_character`).
#
# ## Check your work
# `ipclab.check("lab9", "reader_rechecks")` runs one test only.
#
# **In C?** If your teacher chose the C track for this lab, you write
# [`c/lab9_seqlock.c`](c/lab9_seqlock.c) against the header [`c/lab9_seqlock.h`](c/lab9_seqlock.h) (the contract;
# [`c/README.md`](c/README.md) maps this API to it), and `ipclab.check("lab9", track="c")`
# compiles it as the grader does and runs the same tests on it.

# %%
import ipclab

ipclab.check("lab9")
