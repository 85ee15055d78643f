# %% [markdown]
# # Answers: 19.5 Memory-mapped files
#
# One section per "Try it" prompt and per exercise of
# [05_mmap.ipynb](../05_mmap.ipynb), in the order they appear there. Where the answer is
# code, the cell runs it on real files and processes (every file is a course file: unique
# name, mode 0600, removed at the end of its cell); verdict lines state what the run showed.
# Timings and fault counts vary from machine to machine: those cells print them but are not
# compared by the notebook check.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import mmap
import os

from ipclab import doctor, mapping, objects, procs
from ipclab.mechanisms import page_stats, records
from ipclab import mmap_demos as demo
from ipclab.core.errors import BadArgument
from ipclab.experiments import random_reads
from ipclab.mechanisms import ccell
from ipclab.mechanisms.mapping import PAGE

doctor.setup_notebook("platform", "start_methods")
ccell.load()

# %% [markdown]
# <a id="try-it-1"></a>
# ## Try it 1: the mapping in `/proc/PID/maps`
#
# While the `with` block holds the mapping, this kernel's `/proc/PID/maps` has one line for
# it: an address range, the permissions (`rw-s`: shared), the offset, and the file's path.
# The range is the length rounded up to whole pages. Here the file is 10,000 bytes, so the
# mapping covers 3 pages (12,288 bytes):

# %%
with objects.course_file(10_000, tag="maps") as path:
    with mapping.mapped(path, access="shared") as mm:
        line = next(l for l in open(f"/proc/{os.getpid()}/maps") if l.rstrip().endswith(path))
        start, end = (int(x, 16) for x in line.split()[0].split("-"))
        print("permissions:", line.split()[1], "| mapping length:", len(mm), "bytes")
        print("address range:", end - start, "bytes =", (end - start) // PAGE, "pages;",
              "len(mm) rounded up to pages:", "yes" if end - start == mapping.pages(len(mm)) * PAGE else "no")

# %% [markdown]
# <a id="try-it-2"></a>
# ## Try it 2: copy-on-write of all 16 pages
#
# Writing all 16 pages copies all 16: `Anonymous` becomes 16 × 4 = 64 KiB, and
# `Private_Clean` (pages still the file's, only read) drops to 0: no page of this mapping is
# the file's any more.

# %%
cow = demo.copy_on_write(npages=16, written=16)
a = cow["after"]
print(f"Anonymous {a['Anonymous']} KiB, Private_Clean {a['Private_Clean']} KiB, Private_Dirty {a['Private_Dirty']} KiB")
print("Anonymous = 16 pages:", "yes" if a["Anonymous"] * 1024 == 16 * PAGE else "no",
      "| Private_Clean now 0:", "yes" if a["Private_Clean"] == 0 else "no")

# %% [markdown]
# <a id="try-it-3"></a>
# ## Try it 3: `MADV_SEQUENTIAL`, and fault-around in steps of 16 pages
#
# `MADV_SEQUENTIAL` makes read-ahead aggressive: a cold profile needs about as few major
# faults as the default (or fewer), never one per page. With `COUNTS` in steps of 16 pages,
# `Rss` grows in 64 KiB steps: each minor fault maps the 16 cached pages around it
# (fault-around, `fault_around_bytes` = 64 KiB). The counts below are this machine's.

# %%
# NBVAL_IGNORE_OUTPUT
SIZE = 4 << 20
with objects.course_file(SIZE, tag="seq") as path:
    demo.make_data_file(path, SIZE)
    page_stats.drop_cache(path)
    seq = demo.lazy_loading(path, [0, 64, 256, 1024], advice="sequential", cold=True, start_method="spawn")
    fine = demo.lazy_loading(path, list(range(0, 129, 16)), advice=None, cold=False, start_method="spawn")
print("MADV_SEQUENTIAL, cold:  pages -> minor / major, Rss")
for r in seq:
    print(f"  {r['pages']:5d} -> {r['minor']:4d} / {r['major']:4d}, {r['rss_kib']:5d} KiB")
print("warm, steps of 16 pages: pages -> minor faults, Rss")
for r in fine:
    print(f"  {r['pages']:5d} -> {r['minor']:4d}, {r['rss_kib']:5d} KiB")

# %%
print("MADV_SEQUENTIAL: fewer major faults than pages touched:",
      "yes" if all(r["major"] < max(r["pages"], 1) for r in seq) else "no")
print("every touched page is resident:", "yes" if all(r["rss_kib"] * 1024 >= r["pages"] * PAGE for r in fine) else "no")

# %% [markdown]
# <a id="try-it-4"></a>
# ## Try it 4: 400 random reads instead of 4,000
#
# With ten times fewer reads, each 64 KiB window the fresh mapping faults in serves about
# ten times fewer reads, so its fixed costs (`mmap`, `munmap`, a minor fault per window)
# weigh more per read, while the reused mapping (no fault, no system call) keeps only the
# cost of its loads. Compare the ratios of this run with those the chapter printed for
# 4,000 reads (a ratio above 1 means slower than `pread`):

# %%
# NBVAL_IGNORE_OUTPUT
SIZE = 32 << 20
with objects.course_file(SIZE, tag="rand") as path:
    demo.make_data_file(path, SIZE)
    rnd = random_reads.random_reads_in_child(path, nrandom=400, record=64, repeats=3, start_method="spawn")
t = {(r["cache"], r["method"]): r["seconds"] for r in rnd["rows"]}
print(f"warm: fresh mapping / pread = {t['warm', 'mmap, fresh mapping per run'] / t['warm', 'pread()']:.2f}; "
      f"reused mapping / pread = {t['warm', 'mmap, mapping reused'] / t['warm', 'pread()']:.2f}")

# %% [markdown]
# <a id="try-it-5"></a>
# ## Try it 5: wake the reader instead of polling
#
# A semaphore (19.1 or 19.2): the writer posts it after each message, the reader waits on it
# with a timeout (`sem_timedwait`) instead of looking at the sequence number again and again.
# The reader sleeps in the kernel until a message is there, and wakes at once. Here both ends
# are written in a cell; the mailbox is one mapped file, the semaphore a POSIX named one.

# %%
# %%worker mailbox_sem
"""A mapped mailbox whose reader is woken by a semaphore, not by polling."""
import mmap
import struct

import posix_ipc

HEAD = struct.Struct("<I")   # the message length, then the text


def send(path, posted_name, acked_name, messages, timeout):
    posted, acked = posix_ipc.Semaphore(posted_name), posix_ipc.Semaphore(acked_name)  # C: sem_open(name, 0)
    with open(path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)                  # C: mmap(..., MAP_SHARED, fd, 0)
    for text in messages:
        data = text.encode()
        HEAD.pack_into(mm, 0, len(data))
        mm[HEAD.size:HEAD.size + len(data)] = data
        posted.release()                               # C: sem_post(posted): wake the reader
        acked.acquire(timeout)                         # C: sem_timedwait(acked): the slot is free again
    mm.close()
    return len(messages)


def receive(path, posted_name, acked_name, count, timeout):
    posted, acked = posix_ipc.Semaphore(posted_name), posix_ipc.Semaphore(acked_name)
    with open(path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
    got = []
    for _ in range(count):
        posted.acquire(timeout)                        # C: sem_timedwait(posted, &ts): sleeps, no polling
        n, = HEAD.unpack_from(mm, 0)
        got.append(bytes(mm[HEAD.size:HEAD.size + n]).decode())
        acked.release()                                # C: sem_post(acked)
    mm.close()
    return got


def run(path, posted_name, acked_name, messages, timeout):
    """Start the reader and the writer as two processes; return what the reader received."""
    from ipclab.core import procs
    with procs.start(receive, [(path, posted_name, acked_name, len(messages), timeout)],
                     start_method="spawn", timeout=60) as reader:
        procs.run(send, [(path, posted_name, acked_name, messages, timeout)], start_method="spawn", timeout=60)
        return reader.join()[0]

# %%
messages = ["hello", "woken, not polled", "bye"]
with objects.course_file(PAGE, tag="mailbox") as path, objects.posix_sem(0, tag="posted") as posted, \
        objects.posix_sem(0, tag="acked") as acked:
    got = mailbox_sem.run(path, posted.name, acked.name, messages, timeout=10)
print("the reader received:", got, "| all, in order:", "yes" if got == messages else "no")

# %% [markdown]
# <a id="try-it-6"></a>
# ## Try it 6: the C program with `MAP_PRIVATE`
#
# C reads record 1 as Python wrote it and prints its new value, 141, because it reads its own
# copy of the page. But a `MAP_PRIVATE` write copies the page into the process (section 2,
# copy-on-write): the copy dies with the C process, and Python still reads 41 and
# `from Python`. The run, the same as the notebook's with ` private` added to `--args`:

# %%
import io

from ipclab.core import cbuild

src = (cbuild.C_DIR / "demos" / "record_update.c").read_text()
if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with objects.course_file(tag="crecords") as path:
        with records.RecordStore.create(path, "<q16s", 3) as store:
            store.write(1, (41, b"from Python"))
            run = ccell.run_c(src, f"--name record_update --args '{path} 1 100 from-C private' --timeout 10 "
                              "--expect ok", out=io.StringIO())
            print(run.stdout.strip())
            value, label = store.read(1, locked=True)
            label = label.rstrip(b"\0").decode()
            print(f"Python reads record 1: value {value}, label {label!r}")
            print("C's MAP_PRIVATE write reached Python:", "yes" if value == 141 else "no")

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: two child writes around a parent write, seen through `MAP_PRIVATE`
#
# The parent maps the file `MAP_PRIVATE` and only reads. The child writes `1` (MAP_SHARED,
# so into the page cache), the parent then writes a byte of the same page, and the child
# writes `2`. The parent sees the child's **first** write: until the parent writes, its
# "private" page is the page cache's page. Its own write copies the page as it is *then*
# (with the `1`); from that moment the parent has its own copy and never sees the `2`.
# Semaphores order the three writes exactly, instead of `time.sleep`.

# %%
# %%worker twice
"""The child of exercise 1: write, wait for the parent's write, write again."""
import mmap

import posix_ipc


def write_twice(path, wrote_name, parent_done_name, timeout):
    wrote, parent_done = posix_ipc.Semaphore(wrote_name), posix_ipc.Semaphore(parent_done_name)
    with open(path, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_WRITE)   # MAP_SHARED
    mm[0:1] = b"1"
    wrote.release()                  # the first write is done
    parent_done.acquire(timeout)     # wait until the parent has written its own byte
    mm[0:1] = b"2"
    wrote.release()
    mm.close()

# %%
with objects.course_file(PAGE, tag="ex1") as path, objects.posix_sem(0, tag="wrote") as wrote, \
        objects.posix_sem(0, tag="pdone") as pdone:
    with open(path, "r+b") as f:
        f.write(b"0")
    with mapping.mapped(path, access="private") as mm, \
            procs.start(twice.write_twice, [(path, wrote.name, pdone.name, 10)], start_method="spawn", timeout=60) as child:
        before = bytes(mm[0:1])
        wrote.acquire(10)
        after_first = bytes(mm[0:1])      # not yet written by the parent: still the page cache's page
        mm[100:101] = b"p"               # the parent's write: copy-on-write, now with the "1" in it
        pdone.release()
        wrote.acquire(10)
        child.join()
        after_second = bytes(mm[0:1])
    with open(path, "rb") as f:
        in_file = f.read(1)
print("parent saw:", before, "->", after_first, "->", after_second, "| the file holds:", in_file)
print("the parent saw the child's first write and not its second:",
      "yes" if (after_first, after_second, in_file) == (b"1", b"1", b"2") else "no")

# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: `advice="sequential"`, and a warm file after `MADV_RANDOM`
#
# Predictions: `MADV_SEQUENTIAL` cold: few major faults (aggressive read-ahead), like the
# default. Warm, whatever the advice: **no** major faults, because every page is already in
# the page cache; advice changes how the kernel *reads* the file, and nothing needs reading.
# The measured counts:

# %%
# NBVAL_IGNORE_OUTPUT
SIZE = 8 << 20
COUNTS = [0, 256, 1024, 2048]
with objects.course_file(SIZE, tag="ex2") as path:
    demo.make_data_file(path, SIZE)
    page_stats.drop_cache(path)
    cold_seq = demo.lazy_loading(path, COUNTS, advice="sequential", cold=True, start_method="spawn")
    warm_rand = demo.lazy_loading(path, COUNTS, advice="random", cold=False, start_method="spawn")
for label, rows in (("cold, MADV_SEQUENTIAL", cold_seq), ("warm, MADV_RANDOM", warm_rand)):
    print(label + ":", ", ".join(f"{r['pages']} pages -> {r['minor']} minor / {r['major']} major" for r in rows))

# %%
print("warm with MADV_RANDOM: no major fault:", "yes" if all(r["major"] == 0 for r in warm_rand) else "no")

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: `read()` in 4 KiB chunks
#
# A 32 MiB file read in 1 MiB chunks is 32 `read()` calls; in 4 KiB chunks it is 8,192:
# 256 times more system calls, each with its entry and exit and a copy of one page, plus
# 8,192 numpy calls on 4 KiB. `read()` slows down against `mmap` (whose work does not
# change); the ratio of this run:

# %%
# NBVAL_IGNORE_OUTPUT
SIZE = 32 << 20
with objects.course_file(SIZE, tag="ex3") as path:
    demo.make_data_file(path, SIZE)
    big = random_reads.sequential(path, repeats=2)
    small = random_reads.sequential(path, repeats=2, chunk=4096)
for label, rows in (("1 MiB chunks", big), ("4 KiB chunks", small)):
    t = {(r["cache"], r["method"]): r["seconds"] for r in rows}
    print(f"{label}: warm read() / mmap = {t['warm', 'read()'] / t['warm', 'mmap']:.2f}, "
          f"cold read() / mmap = {t['cold', 'read()'] / t['cold', 'mmap']:.2f}")
print("read() calls for the file:", SIZE // (1 << 20), "vs", SIZE // 4096)

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: `transfer` without deadlock
#
# Take the two records' locks in one global order, the lower index first, whatever the
# direction of the transfer. Two processes running `transfer(i, j)` and `transfer(j, i)` then
# both ask for `min(i, j)` first: one waits for the other, neither holds what the other
# needs. (`fcntl` also detects a deadlock between two processes blocked in `F_SETLKW` and
# fails one with `EDEADLK`, fcntl(2); the course's locks poll `F_SETLK` with a deadline, so
# the order is what prevents it.) The total of the two records is the check: a lost update
# would change it.

# %%
# %%worker transfers
"""transfer(store, i, j, amount): both record locks, in index order."""
from ipclab.mechanisms import records


def transfer(store, i, j, amount, timeout=10):
    first, second = sorted((i, j))
    with store.lock(first, timeout), store.lock(second, timeout):   # C: fcntl(F_SETLK) on each record's bytes
        (a, *ra), (b, *rb) = store.read(i), store.read(j)
        store.record.pack_into(store._mm, store.offset(i), a - amount, *ra)
        store.record.pack_into(store._mm, store.offset(j), b + amount, *rb)


def many(path, i, j, times):
    with records.RecordStore.open(path) as store:
        for _ in range(times):
            transfer(store, i, j, 1)
    return times

# %%
with objects.course_file(tag="bank") as path:
    with records.RecordStore.create(path, "<q8s", 2) as store:
        store.write(0, (1000, b"alice"))
        store.write(1, (1000, b"bob"))
        procs.run(transfers.many, [(path, 0, 1, 300), (path, 1, 0, 200)], start_method="spawn", timeout=120)
        final = [store.read(i)[0] for i in range(2)]
print("balances:", final, "| total kept (no lost update):", "yes" if sum(final) == 2000 else "no",
      "| net moved as expected (100 from 0 to 1):", "yes" if final == [900, 1100] else "no")

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: why grow the file before mapping it
#
# A mapping covers file pages that exist. `mmap` of an empty file fails (`EINVAL` for a zero
# length; Python says "cannot mmap an empty file"), and a mapping longer than the file has
# nothing behind its pages past the end: touching them is a `SIGBUS`. So `create` sizes the
# file with `ftruncate` first, then maps it. A second process that opened and mapped the
# file while it was still empty would fail to map it at all, or (in C, with a length it
# chose itself) die of `SIGBUS` at its first access past the end; and a mapping never grows
# with the file, so it would have to map again after the resize.

# %%
with objects.course_file(0, tag="ex5") as path:
    try:
        with mapping.mapped(path):
            pass
    except BadArgument as e:
        print("mapping the empty file:", "refused" if "empty" in str(e) or "EINVAL" in str(e) else str(e))
    outcome = demo.child_signal(demo.c_mmap_past_eof, (path, 10), start_method="fork", timeout=30)
    print("a C-style 2-page mapping of the empty file, byte 10 touched:", *outcome)

# %% [markdown]
# ## References
#
# * [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html) (`EINVAL` for a zero
#   length; `SIGBUS` past the end of the file), [madvise(2)](https://man7.org/linux/man-pages/man2/madvise.2.html),
#   [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`maps`, `smaps`),
#   [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (record locks, `EDEADLK`),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html).
# * Kernel: `fault_around_bytes` in [mm/memory.c](https://github.com/torvalds/linux/blob/master/mm/memory.c),
#   read-ahead in [mm/readahead.c](https://github.com/torvalds/linux/blob/master/mm/readahead.c).
