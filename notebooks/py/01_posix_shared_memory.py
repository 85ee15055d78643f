# %% [markdown]
# # 19.1 POSIX shared memory, and race conditions made visible
#
# Shared memory is the fastest IPC: two processes map **the same physical pages**, so a
# byte one of them stores is a byte the other loads, with no system call on the way. The
# copies do not all disappear: the writer's stores are the copy in, and a reader that
# builds a Python object (or a private buffer) copies out; what disappears is the trip
# through the kernel that a pipe or a queue makes for every message.
# That speed has a price: nothing orders their accesses. This notebook builds shared memory
# with the POSIX calls, lays data out in it, passes work through a ring buffer, talks to a C
# program through it, and then *breaks* it on purpose to see races happen, measure them and
# fix them.
#
# **Learning goals.** After this notebook you can
# 1. create, size, map, unmap and unlink a POSIX shared memory object (`shm_open`,
#    `ftruncate`, `mmap`, `munmap`, `shm_unlink`) from Python and say which C call each line makes;
# 2. explain the life of the object in `/dev/shm`: it outlives its creator, and an unlinked
#    object stays usable by those who map it; avoid `multiprocessing.shared_memory`'s
#    resource-tracker pitfall (still the default in Python 3.13: `track=True`);
# 3. lay out data with `struct`, `ctypes` and numpy over the same bytes, mind alignment, and
#    store offsets rather than pointers;
# 4. write a producer-consumer ring buffer synchronised by three POSIX semaphores;
# 5. produce, count and explain lost updates, fix them with a semaphore, say where the
#    lock's cost goes (measured: library calls, and the kernel only when a process must
#    sleep), and say what is and is not atomic, from Python and from C11.
#
# **Time, measured:** about 54 min to read and run. Running every cell took 54 s (nbclient,
# on the course's 2-core machine, 2 December 2026); reading is counted from this notebook's
# words: 4 827 of prose at 200 words per minute (24 min) and 2 897 of code (1 800 in the
# cells, 1 097 in the workers shown) at 100 per minute (29 min). The exercises come on top;
# their answers notebook is about 15 min more to read. **Prerequisites:** notebook 00, `fork()`,
# file descriptors; threads and races (chapter 18).
#
# **Glass box.** Before each experiment you see the worker its processes run, the real
# source from [`ipclab/experiments/shm_demos.py`](../ipclab/experiments/shm_demos.py) (built on
# the segment and ring buffer of [`ipclab/mechanisms/shm.py`](../ipclab/mechanisms/shm.py)) or
# [`ipclab/experiments/race.py`](../ipclab/experiments/race.py), shown by `show(...)` with
# the lines that matter marked `>>`; the racing increment is written in a cell (`%%worker`)
# so that you can change it and run the change. Where a cell asks you to **predict**, its
# answer is in the next cell, collapsed: write your prediction down, then open it. Every
# "Try it" and exercise has a worked answer in
# [the answers notebook](answers/01_posix_shared_memory_answers.ipynb).

# %%
# NBVAL_IGNORE_OUTPUT
import ctypes
import mmap
import os
import struct
import subprocess
import tempfile

import numpy as np
import posix_ipc

from ipclab import doctor, objects, procs, race, shm, shm_demos
from ipclab.experiments import atomicity, lock_cost
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show
from ipclab.presentation.plots import race as race_plots, style

doctor.setup_notebook("posix_shm", "sem_timedwait", "gcc")
ccell.load()  # registers %%worker (a cell becomes an importable module) and %%c
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)

# %% [markdown]
# ## 1. Create, map, use, unmap, unlink
#
# In C the life of a shared memory object is five calls:
#
# ```c
# int fd = shm_open("/name", O_CREAT | O_EXCL | O_RDWR, 0600);  /* create the object   */
# ftruncate(fd, 4096);                                          /* give it a size      */
# char *p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);  /* map it here */
# close(fd);                                                    /* the mapping stays   */
# /* ... use p[0..4095] ... */
# munmap(p, 4096);                                              /* stop using it here  */
# shm_unlink("/name");                                          /* remove the name     */
# ```
#
# In Python, `posix_ipc.SharedMemory` makes the first two calls and the standard `mmap`
# module the third. `ipclab.core.objects` picks a unique name (a fixed `/name` would collide with
# another student's) and registers the object so that it is removed even if the cell fails.

# %%
shm_obj = objects.create_posix_shm(4096, tag="first")  # C: fd = shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600); ftruncate(fd, 4096)
try:
    buf = mmap.mmap(shm_obj.fd, 4096)  # C: p = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm_obj.close_fd()                 # C: close(fd)
    buf[:13] = b"hello, shared"        # C: memcpy(p, "hello, shared", 13)
    print("name:", shm_obj.name)
    print(shm_demos.ls(shm_obj.name))
    print("first bytes:", bytes(buf[:13]))
    buf.close()                        # C: munmap(p, 4096)
finally:
    objects.remove_posix_shm(shm_obj)  # C: shm_unlink(name)
print(shm_demos.ls(shm_obj.name))

# %% [markdown]
# The object is a file of a tmpfs mounted on `/dev/shm`: it has a mode (0600, read-write for
# you only), an owner and a size, and `ls -l /dev/shm` shows it. tmpfs "puts everything into
# the kernel internal caches": the pages are in RAM, and under memory pressure they can be
# written to **swap**, which is on disk; they are never written to a file of a disk
# filesystem, and they do not survive a reboot
# ([tmpfs](https://docs.kernel.org/filesystems/tmpfs.html)).
#
# From now on we use `ipclab.mechanisms.shm.Segment`, a small type over the same calls:
# `Segment.create(size)` is `shm_open`+`ftruncate`+`mmap`+`close(fd)`, `Segment.attach(name)` maps an
# existing object, `seg.close()` is `munmap` and `seg.unlink()` is `shm_unlink`. Keep
# those two apart: **close** says "*I* am done", **unlink** says "nobody new may open it".
#
# ### The object outlives its creator
#
# A worker process creates an object, writes in it, unmaps it and *exits*. The object stays,
# contents and all, until someone unlinks it; there is no reference count on the name.
#
# > **The chapter says** POSIX objects "disappear automatically (depending on the type)".
# > **In fact** a POSIX shared memory object has kernel persistence: it "will exist until
# > the system is shut down, or until all processes have unmapped the object and it has
# > been deleted with shm_unlink" ([shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html)).
# > The cell below checks it. The worker, from `ipclab/experiments/shm_demos.py`:

# %%
show(shm_demos.create_and_exit, mark=["Segment.create(", "seg.close()"])

# %%
name = procs.run(shm_demos.create_and_exit, [("left by a process that has exited",)],
                 start_method="fork", timeout=30)[0]
try:
    print("after its creator exited:", shm_demos.ls(name).split(": ", 1)[1])
    with shm.Segment.attach(name) as seg:                 # C: shm_open(name, O_RDWR) + mmap
        print("it still holds:", bytes(seg.buf[:34]).decode())
finally:
    posix_ipc.unlink_shared_memory(name)                  # C: shm_unlink(name)
    objects.registry.unregister("posix_shm", name=name)
print("after shm_unlink:", shm_demos.ls(name).split(": ", 1)[1])

# %% [markdown]
# ### An unlinked object stays usable by those who map it
#
# `shm_unlink` removes the *name*, like `unlink` on a file. Processes that already mapped the
# object keep using it; the memory is freed at the last `munmap`. A common pattern: create,
# let every partner attach, then unlink at once so that a crash cannot leave the object behind.

# %%
with shm.Segment.create(4096, tag="unlinked") as a:
    b = shm.Segment.attach(a.name)         # a second mapping (in another process it works the same)
    a.unlink()                             # C: shm_unlink(name)
    print("name still in /dev/shm:", os.path.exists(a.path))
    a.buf[:6] = b"still "
    b.buf[6:11] = b"here!"
    print("a reads:", bytes(a.buf[:11]).decode(), "| b reads:", bytes(b.buf[:11]).decode())
    b.close()
    print(repr(b))

# %% [markdown]
# > **Try it.** In a terminal, run `ls -l /dev/shm` while the first cell's object exists (add
# > an `input()` before the cleanup). Then try `Segment.attach` on a name you just unlinked:
# > what error do you get, and which `errno` is behind it?
# > ([answer](answers/01_posix_shared_memory_answers.ipynb#try-1))
#
# ## 2. The standard library's `multiprocessing.shared_memory`, and its pitfall
#
# Python 3.8 added `multiprocessing.shared_memory.SharedMemory`, the same `shm_open`+`mmap`.
# It has a trap that bites everyone once. *Attaching* to an existing segment registers it
# with a **resource tracker**, a helper process that unlinks the segments still registered
# when the processes it serves have all exited. This is still the default in Python 3.13
# and later (`SharedMemory(name, create=False, size=0, *, track=True)`). Which tracker?
# "Python processes created from a common ancestor using multiprocessing facilities share a
# single resource tracker process"; a process started any other way (by `subprocess`, by
# hand, from C) gets its own, so when it exits its tracker **unlinks a segment it does not
# own** ([multiprocessing.shared_memory](https://docs.python.org/3/library/multiprocessing.shared_memory.html);
# a forked or spawned child receives the parent's tracker pipe,
# [popen_spawn_posix.py](https://github.com/python/cpython/blob/main/Lib/multiprocessing/popen_spawn_posix.py)).
# The fixes: `SharedMemory(name, track=False)` from 3.13; before that,
# `resource_tracker.unregister(shm._name, "shared_memory")` right after attaching. Below, a
# *fresh* interpreter (a `subprocess`, so it has its own tracker) attaches and exits, first
# without, then with the fix. What that interpreter runs:

# %%
show(shm_demos.mp_attach_only, mark=["shared_memory.SharedMemory(name=", "resource_tracker.unregister("])

# %%
for unregister in (False, True):
    with shm.Segment.create(4096, tag="mptrack") as seg:
        exists, warning = shm_demos.run_attach_only(seg.name, unregister)
        how = "with unregister()" if unregister else "plain attach      "
        print(f"{how}: segment still exists after the attaching process exited: {'yes' if exists else 'no'}")
        if warning:
            print("   its resource tracker warned:", warning)

# %% [markdown]
# ## 3. Laying out data in shared memory
#
# Shared memory is raw bytes. Both sides must agree on a **layout**: which field is at which
# offset, with which size and byte order. Three views of the same bytes:
#
# * `struct`: pack and unpack at an offset (`"=II4d32s"`: two `uint32`, four `double`, 32 chars);
# * `ctypes.Structure.from_buffer`: a C `struct` laid over the mapping, fields you assign;
# * `numpy.ndarray(buffer=...)`: an array whose elements *are* the shared bytes.
#
# C compilers insert **padding** so that each field is aligned to its size; `ctypes` follows
# the same rules as `gcc` on this machine, `struct` does only with the native prefix `@`.

# %%
class Shared(ctypes.Structure):   # C: struct shared { uint32_t magic; uint32_t count; double values[4]; char text[32]; };
    _fields_ = [("magic", ctypes.c_uint32), ("count", ctypes.c_uint32),
                ("values", ctypes.c_double * 4), ("text", ctypes.c_char * 32)]


class Padded(ctypes.Structure):   # C: struct padded { char tag; double x; };
    _fields_ = [("tag", ctypes.c_char), ("x", ctypes.c_double)]


print("sizeof(struct shared) =", ctypes.sizeof(Shared), "| struct '=II4d32s' =", struct.calcsize("=II4d32s"))
print("sizeof(struct padded) =", ctypes.sizeof(Padded), "| offset of x:", Padded.x.offset,
      "| packed '=cd' would be", struct.calcsize("=cd"), "bytes: 7 bytes of padding")

with shm.Segment.create(ctypes.sizeof(Shared), tag="layout") as seg:
    s = Shared.from_buffer(seg.buf)                              # a struct over the shared bytes
    s.magic, s.count, s.text = 0xC0FFEE, 3, b"written via ctypes"
    values = np.ndarray((4,), dtype=np.float64, buffer=seg.buf, offset=Shared.values.offset)
    values[:] = [1.5, 2.5, 3.5, 4.5]                             # numpy writes into the same bytes
    magic, count, *vals, text = struct.unpack_from("=II4d32s", seg.buf, 0)
    print(f"struct reads: magic=0x{magic:X} count={count} values={vals} text={text.rstrip(bytes(1))}")
    del s, values                                                # views must go before munmap

# %% [markdown]
# **Never store a pointer in a segment.** Each process maps the object at an address of its
# own choosing (ASLR), so an address written by one process means nothing, or something
# else, in another. Store **offsets** from the start of the segment instead (the ring buffer
# below stores indices). The two mappings of one object in one process already differ:

# %%
# NBVAL_IGNORE_OUTPUT
with shm.Segment.create(4096, tag="addr") as a:
    b = shm.Segment.attach(a.name)
    addr_a = ctypes.addressof(ctypes.c_char.from_buffer(a.buf))
    addr_b = ctypes.addressof(ctypes.c_char.from_buffer(b.buf))
    print(f"mapping a at 0x{addr_a:x}, mapping b at 0x{addr_b:x}: same memory, different addresses")
    b.close()

# %% [markdown]
# > **Try it.** Reorder `Padded`'s fields (`x` first): how big is it now? Why do arrays of
# > structs often end with padding too? ([answer](answers/01_posix_shared_memory_answers.ipynb#try-2))
#
# ## 4. Interop with C
#
# The object has a name, so any language can open it. `ipclab/c/shm_peek.c` opens the name
# Python chose, maps `struct shared`, prints it, doubles the values and writes a message.
# It is compiled here with `gcc` into a temporary directory. Its code from the `struct`
# on (the calls on the shared object marked):

# %%
from pathlib import Path

c_lines = (Path(shm.__file__).resolve().parents[1] / "c" / "shm_peek.c").read_text().splitlines()
for n, line in enumerate(c_lines, 1):
    hot = any(k in line for k in ("shm_open(", "mmap(", "*= 2", "count += 1", "snprintf(", "munmap("))
    if n >= 15:
        print(f"{'>>' if hot else '  '} {n:3d}  {line}")

# %%
if doctor.skip_unless("gcc"):
    with tempfile.TemporaryDirectory() as tmp, shm.Segment.create(ctypes.sizeof(Shared), tag="cinterop") as seg:
        exe = shm_demos.build_c("shm_peek", tmp)           # gcc -std=c11 -o shm_peek shm_peek.c -lrt
        s = Shared.from_buffer(seg.buf)
        s.magic, s.count, s.values[:], s.text = 0xC0FFEE, 41, [1, 2, 3, 4], b"from Python"
        out = subprocess.run([exe, seg.name], capture_output=True, text=True, timeout=30)
        print(out.stdout.strip() or out.stderr)
        print(f"Python sees: count = {s.count}, values = {list(s.values)}, text = {s.text.decode()!r}")
        del s

# %% [markdown]
# Both sides agree because `ctypes` and `gcc` lay `struct shared` out the same way. Change one
# side only (add a field in C) and the other reads garbage: a shared layout is a protocol;
# version it (the `magic` field is there for that).
#
# ## 5. Producer-consumer over a ring buffer
#
# The chapter's pattern: a producer puts items in a bounded buffer, consumers take them out.
# In shared memory the buffer is a **ring** of slots with two indices, *head* (next slot to
# write) and *tail* (next to read), stored as indices, not pointers. Three POSIX named
# semaphores make it safe:
#
# ```
# put:  sem_wait(empty); sem_wait(mutex); slot[head] = item; head = (head+1) % N; sem_post(mutex); sem_post(full)
# get:  sem_wait(full);  sem_wait(mutex); item = slot[tail]; tail = (tail+1) % N; sem_post(mutex); sem_post(empty)
# ```
#
# `empty` counts free slots (starts at N) so a producer blocks when the ring is full;
# `full` counts items (starts at 0) so a consumer blocks when it is empty; `mutex` makes the
# update of the indices one critical section, because several consumers share `tail`. Every
# wait here is `sem_timedwait` (`Semaphore.acquire(timeout)`): a dead partner gives an error, not a hang.
#
# The two halves of the protocol, as `RingBuffer` runs them (the waits and posts marked):

# %%
show(shm.RingBuffer.put, mark=['_wait("empty"', '_wait("mutex"', '["mutex"].release()', '["full"].release()'])

# %%
show(shm.RingBuffer.get, mark=['_wait("full"', '_wait("mutex"', '["empty"].release()'])

# %% [markdown]
# The workers: the producer (`shm_demos.produce`) puts the integers 0..1999 then one end-of-stream
# marker per consumer; each of three consumers runs this loop:

# %%
show(shm_demos.consume, mark=["ring.get(timeout=timeout)", "if data == EOF"])

# %% [markdown]
# **Predict** before you open the output: did every item arrive exactly once, and did each
# consumer receive its own items in increasing order?

# %% tags=["reveal"]
N_ITEMS, N_CONSUMERS = 2000, 3
with shm.RingBuffer.create(capacity=8, slot_size=8) as ring:   # C: shm_open + ftruncate + mmap; 3 x sem_open
    print(ring)
    consumers = procs.start(shm_demos.consume, [(ring.spec,)] * N_CONSUMERS, start_method="fork", timeout=60)
    producer = procs.start(shm_demos.produce, [(ring.spec, N_ITEMS, N_CONSUMERS)], start_method="fork", timeout=60)
    producer.join()
    received = consumers.join()
    put, got = ring.counts()
verdict = shm_demos.check_delivery(N_ITEMS, received)
print(f"put {put} records, got {got} (items + {N_CONSUMERS} end markers)")
print("every item delivered exactly once:", "yes" if verdict["exactly_once"] else "NO")
print("each consumer received its items in order:", "yes" if verdict["in_order"] else "NO")
print("missing:", verdict["missing"], "| duplicated:", verdict["duplicated"])

# %% [markdown]
# How the work was shared between consumers changes from run to run (the scheduler decides):

# %%
# NBVAL_IGNORE_OUTPUT
print("items per consumer:", [len(r) for r in received])

# %% [markdown]
# > **Try it.** Remove the `mutex` from `RingBuffer.get` (copy the class) and run three
# > consumers: which check fails first? Then kill the producer half-way
# > (`shm_demos.put_then_die`): what do the consumers report, and after how long?
# > ([answer](answers/01_posix_shared_memory_answers.ipynb#try-3))
#
# ## 6. Permissions: 0600, 0660, 0666
#
# The mode of the object is checked at `shm_open`, like a file's. Two traps: the mode given
# to `shm_open` is cut by the **umask** (0666 becomes 0644 with umask 022), and POSIX names
# are global, so another user can *squat* a name you meant to create (use `O_EXCL`, as
# ipclab does). Below, a worker becomes user `nobody` (`setgid`+`setuid`, only root can) and
# tries to open our object, once as a member of our group and once as a stranger. That
# other user runs:

# %%
show(shm_demos.try_access, mark=["O_RDONLY", "O_RDWR"])

# %% [markdown]
# First, is there another user here?

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.core import asuser
from ipclab.core.errors import NotSupported

try:
    other = asuser.other_user()  # root: a child becomes nobody; a student: one of your subordinate uids
    print("the other user here:", other)
except NotSupported as why:
    other = None
    print("This demo needs a second user, and this machine offers none:", why)
    print("Elsewhere it shows: 0600 denies everyone else; 0660 lets your group read and write; "
          "0666 lets every user read and write.")

# %%
# IPCLAB_NEEDS_OTHER_USER (the test suite skips this cell, saying why, where there is none)
old_umask = os.umask(0o022)
try:
    for mode in (0o600, 0o660, 0o666) if other else ():
        with shm.Segment.create(64, tag="perm", mode=mode) as seg:
            asked = os.stat(seg.path).st_mode & 0o777
            os.chmod(seg.path, mode)                 # C: fchmod(fd, mode): not cut by the umask
            rights = [asuser.run_as_other(shm_demos.try_access, (seg.name,), same_group=group, timeout=30)
                      for group in (True, False)]    # a member of our group, then a stranger
            print(f"mode {mode:04o} (umask made it {asked:04o}): same group -> {rights[0]:<10} "
                  f"other user -> {rights[1]}")
finally:
    os.umask(old_umask)

# %% [markdown]
# With 0666 *any* user of the machine can read your data, overwrite it, or corrupt the ring's
# indices; on a shared server that is a security hole. Use 0600, or 0660 with a dedicated group.
#
# ## 7. Races made visible
#
# `counter++` on shared memory is **three** steps: *load* the value into a register, *add*
# one, *store* it back. If two processes both load 10 before either stores, both store 11:
# one increment is **lost**.
#
# ```c
# // Process A                    // Process B
# int val = *counter;  // 10      int val = *counter;  // 10
# val++;               // 11      val++;               // 11
# *counter = val;      // 11      *counter = val;      // 11, not 12!
# ```
#
# `race.count(n, m)` starts `n` real processes on one 8-byte counter in a POSIX shared memory
# object; they wait at a start line (two semaphores) and each increments `m` times. **The
# window is designed, not hoped for**: each worker sleeps `race.DEFAULT_WINDOW` (0.5 ms)
# between its load and its store. The sleep gives the CPU away, so on one core the other
# process runs right then and loads the same value; on several cores the windows overlap
# anyway. Without it, the race still exists but shows only by luck. This is the worker
# each process runs (the lock lines run only with `lock=True`; the tag in the upper bits is
# for the trace further down):

# %%
show(race.increment_worker, mark=["seen = word.value", "time.sleep(window)", "word.value = new",
                                  "_acquire(lock,", "lock.release()"])

# %% [markdown]
# **Predict** before you open the output: two processes, 200 increments each, no lock. The
# counter should end at 400. Where will it end: 400, about 300, about 200, or below 200?

# %% tags=["reveal"]
r = race.count(n_procs=2, m=200, lock=False, start_method="fork")
print(f"expected {r.expected}, found a value below it: {'yes' if r.final < r.expected else 'no'}")
print("lost updates:", "yes" if r.lost > 0 else "no")

# %% tags=["reveal"]
# NBVAL_IGNORE_OUTPUT
print(r)
print(f"lost {r.lost} of {r.expected} updates ({100 * r.lost / r.expected:.0f}%)")

# %% [markdown]
# How much is lost depends on how the processes overlap. A bound to compare with: if the n
# processes ran in **lock step**, every round all n loading the same value before any of
# them stores, each round of n increments would add 1, and (n-1)/n of the updates would be
# lost. Real rounds drift: a process whose load comes after another's store of the same
# round builds on it, and that update survives; so with the window the measured share is at
# most about (n-1)/n, and it comes close only when the sleeps keep the processes in step.
# Without a window (`window=0`, the bare race) the loss is rarer and depends on the
# machine, the load and how long the processes run together. The cell prints the measured
# share next to (n-1)/n:

# %%
# NBVAL_IGNORE_OUTPUT
results = race.sweep(n_values=(1, 2, 3, 4), m_values=(100,), start_method="fork")
results += race.sweep(n_values=(1, 2, 3, 4), m_values=(20000,), window=0, start_method="fork")
for r in results:
    how = f"window {r.window * 1e3:g} ms" if r.window else "no window    "
    print(f"{how}, n={r.n_procs}: lost {100 * r.lost / r.expected:5.1f}% | lock-step bound (n-1)/n = "
          f"{100 * (r.n_procs - 1) / r.n_procs:5.1f}%")
fig = race_plots.lost_updates(results)
style.show(fig)

# %% [markdown]
# *Figure:* the share of increments lost (y) against the number of processes (x), one line
# per kind of run (with the 0.5 ms window: circles, solid; without: squares, dashed), over a
# wide pale band that marks (n-1)/n. The sentence printed under it gives this run's values.

# %% [markdown]
# ### The interleaving timeline: what really happened
#
# With `trace=True` each worker records, for every increment, when it loaded, what it read,
# when it stored and what it wrote. The shared word also carries, in its upper 32 bits, a tag
# naming the update that wrote it, so each load knows *exactly* which store it saw (see the
# docstring of `ipclab.experiments.race`). `race.analyse` follows the chain of reads back from the final
# value: updates on the chain counted, all others were overwritten. Each bar below is one
# read-modify-write, from load to store; red with a × means lost.

# %%
traced = race.count(n_procs=3, m=6, trace=True, start_method="fork")
updates = race.analyse(traced)
by_tag = {u.tag: u for u in updates}                  # each update's tag: which process, which increment
# A verdict the run could contradict: every lost update overlapped in time (load before the
# other's store, store after the other's load) a read-modify-write of another process that
# did not read its value. A broken trace, or a "lost" update with no rival, would print "no".
rivals = {u.tag: [w for w in updates if w.proc != u.proc and w.read_from != u.tag
                  and w.t_load < u.t_store and w.t_store > u.t_load] for u in updates if u.lost}
print("updates were lost:", "yes" if traced.lost > 0 else "no")
print("each lost update overlapped another process's read-modify-write that did not see it:",
      "yes" if rivals and all(rivals.values()) else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"expected {traced.expected}, final {traced.final}, lost {traced.lost}")
for u in updates[:6]:
    w = by_tag.get(u.overwritten_by)
    fate = f"LOST (overwritten by process {w.proc} #{w.i})" if u.lost else "counted"
    print(f"process {u.proc} #{u.i}: loaded {u.read} at {u.t_load * 1e3:.2f} ms, stored {u.wrote} "
          f"at {u.t_store * 1e3:.2f} ms -> {fate}")
fig = race_plots.timeline(updates, max_updates=18)
style.show(fig)

# %% [markdown]
# *Figure:* one row per process; each bar is one read-modify-write, drawn from its load to
# its store on an axis of event order (not seconds); counted updates are plain green, lost
# ones hatched red with an × at the store that was overwritten.
#
# Overlapping bars of different processes that read the same value are the race: only one of
# their stores can survive.
#
# ### The fix: a semaphore around the critical section, and its cost
#
# With `lock=True` each increment runs between `sem_wait(lock)` and `sem_post(lock)` on a POSIX
# semaphore of initial value 1: at most one process is between load and store.

# %%
r_lock = race.count(n_procs=3, m=100, lock=True, start_method="fork")
print(f"expected {r_lock.expected}, found {r_lock.final}")
print("with the lock:", "exact" if r_lock.lost == 0 else "WRONG")

# %% [markdown]
# ### The increment in your hands, and break it yourself
#
# Here is the same `counter++`, written in a cell. `%%worker racer` saves the cell as a
# module `racer` (in a private folder on `sys.path`, removed when the kernel exits) and
# imports it, so that fork, forkserver and spawn children can all import it too.
# `race.count(..., step=racer.increment)` makes every worker call *your* function for each of
# its increments, with the shared word, the lock (`None` without `lock=True`) and the window.

# %%
# %%worker racer
import time


def increment(word, lock, window):
    """One counter++ on the shared 8-byte word, between sem_wait and sem_post if there is a lock."""
    if lock is not None:
        lock.acquire(10)        # C: sem_timedwait(lock, &deadline)   (sem_wait with a timeout)
    value = word.value          # load:       C: long v = *counter;
    time.sleep(window)          # the window: this process gives the CPU away
    word.value = value + 1      # add, store: C: *counter = v + 1;
    if lock is not None:
        lock.release()          # C: sem_post(lock)

# %%
mine = race.count(n_procs=2, m=100, lock=True, step=racer.increment, start_method="spawn")
print(f"your increment, with the lock, 2 spawned processes: expected {mine.expected}, found {mine.final}")

# %% [markdown]
# **Break it yourself.** Delete the two `if lock is not None:` blocks in the cell above, run
# it, and run the count again, still with `lock=True`: the semaphore is still created and
# passed to every worker. (The cell below is that edit, saved as the module `racer_nolock`,
# so this notebook keeps both.) **Predict** before you open the output: is the count still exact?

# %%
# %%worker racer_nolock
import time


def increment(word, lock, window):
    """counter++ with the lock lines deleted: the lock is passed in, and nobody takes it."""
    value = word.value          # load
    time.sleep(window)          # the window
    word.value = value + 1      # add, store

# %% tags=["reveal"]
broken = race.count(n_procs=2, m=100, lock=True, step=racer_nolock.increment, start_method="fork")
print(f"lock=True, but a step that never takes it: expected {broken.expected}, "
      f"{'exact' if broken.lost == 0 else 'updates lost'}")

# %% [markdown]
# A semaphore protects nothing by existing: it orders only the code that calls `sem_wait`
# and `sem_post` around its critical section. A lock is a protocol every process must follow.
# Now try your own variants in the `racer` cell: take the lock around the load only, or
# release it before the store; predict, then run.

# %% [markdown]
# **What does the lock cost, and where does the time go?** On Linux a POSIX semaphore is a
# *futex*, a word in the shared mapping: `sem_wait` on a free semaphore and `sem_post` with
# nobody waiting are atomic instructions in user space, and "the kernel is involved only to
# arbitrate the contended case" ([futex(7)](https://man7.org/linux/man-pages/man7/futex.7.html)):
# a `futex(FUTEX_WAIT)` system call when a process must sleep, `FUTEX_WAKE` when a sleeper
# must be woken. Do not take that on trust; measure it. First one process alone, 100 000
# acquire+release pairs on a free semaphore, counting its **voluntary context switches**
# (`voluntary_ctxt_switches` in `/proc/self/status`, [proc_pid_status(5)](https://man7.org/linux/man-pages/man5/proc_pid_status.5.html)):
# a process that sleeps in the kernel gives the CPU up voluntarily, and that counts one.
# (It runs in a fresh child: this kernel's other threads could make it wait for the GIL.)
# The loop that child runs:

# %%
show(lock_cost.uncontended, mark=["sem.acquire(timeout)", "sem.release()", "switches()"])

# %%
per_pair, voluntary, _ = lock_cost.uncontended_in_child(100_000)
print("one process, a free semaphore, 100000 acquire+release: slept in the kernel:",
      "yes" if voluntary else "no")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"voluntary context switches: {voluntary}; {1e6 * per_pair:.3f} µs per acquire+release pair")

# %% [markdown]
# Now the counter without the window, 20 000 increments per process, with and without the
# lock, for 1, 2 and 4 processes: time per increment, voluntary switches during the loops,
# and, if `strace` is installed and may trace here, the futex system calls of each whole run
# (`strace -f -c -e trace=futex`; the lock's share is the locked run minus the unlocked one,
# since the interpreter makes a few futex calls of its own). Your numbers will differ: the
# machine is shared. Each process of these runs increments like this (no window):

# %%
show(lock_cost.counter_worker, mark=["word.value = word.value + 1", "_acquire(lock,", "lock.release()"])

# %%
# NBVAL_IGNORE_OUTPUT
pairs = lock_cost.sweep((1, 2, 4), m=20_000, start_method="fork")
futex = {(n, lk): lock_cost.futex_calls(n, 20_000, lk) for n in (1, 2, 4) for lk in (False, True)}
for a, b in pairs:
    calls = (f"{futex[(a.n_procs, True)] - futex[(a.n_procs, False)]} futex calls added by the lock"
             if None not in (futex[(a.n_procs, True)], futex[(a.n_procs, False)]) else "strace not available here")
    print(f"n={a.n_procs}: no lock {a.us_per_increment:.3f} µs/increment ({a.lost} lost), lock "
          f"{b.us_per_increment:.3f} µs/increment ({b.lost} lost), ratio {b.elapsed / a.elapsed:.1f}x; "
          f"locked loops: {b.voluntary} voluntary switches for {b.expected} increments; {calls}")
fig = race_plots.lock_cost(pairs, futex)
style.show(fig)

# %% [markdown]
# *Figure:* left, microseconds per increment for 1, 2 and 4 processes, without the lock
# (plain bars) and with it (hatched), each bar labelled with its value and whether its count
# was exact or how many updates it lost; right, for the locked runs, voluntary context
# switches and the futex calls the lock added, per 1000 increments.
#
# What the measurements say, on this machine and in this run (the sentences above the
# figure give the numbers):
#
# * **Alone (n = 1)** the lock makes the increment a few times slower, yet the process never
#   slept and (with strace) the lock added no futex call: the cost is the user-space work,
#   two calls through `posix_ipc` into `sem_timedwait`/`sem_post` (argument parsing, the
#   deadline computed from the clock, the GIL released and taken back, an atomic
#   read-modify-write on the semaphore word), next to an increment that is itself only a few
#   bytecodes.
# * **With contention (n = 2, 4)** the processes take turns: the semaphore word and the
#   counter move between the CPUs' caches on every hand-over, and a process that finds the
#   semaphore taken calls `futex(FUTEX_WAIT)`, which returns at once if the holder released
#   it meanwhile and otherwise puts the process to sleep (a voluntary switch); the releaser
#   then calls `futex(FUTEX_WAKE)`. That is where the system calls and the switches appear,
#   for a small fraction of the increments.
# * The count is exact in every locked run; without the lock it is exact only when the
#   processes happened not to overlap (n = 1 always).

# %% [markdown]
# ### What is atomic, and what is not
#
# **A store can be torn.** Not every Python write to shared memory is one store. A writer
# process alternates two non-zero 64-bit values, A = 0x5555… and B = 0xAAAA…, in one
# aligned 8-byte slot; a reader process loads the slot with one aligned 8-byte load, again
# and again, and counts every value that is neither A nor B, a value **nobody wrote**. The
# writer uses each of four access paths in turn (`ipclab.experiments.atomicity`):

# %%
show(atomicity._store)

# %% [markdown]
# and the reader process loads the slot in a loop:

# %%
show(atomicity.reader, mark=["v = word.value", "if v == 0:", "elif v != A and v != B:"])

# %% [markdown]
# First a deterministic look inside `struct.pack_into`: pack two fields where the second
# one is not an integer, so the call fails after it has started writing.

# %%
first, second = atomicity.zeroing_proof()   # both fields held A; pack_into("=QQ", buf, 0, B, "x") raised
print("field 1 now holds B (written before the failure):", "yes" if first == atomicity.B else "no")
print("field 2 was zeroed, although the call failed and nothing was packed there:", "yes" if second == 0 else "no")

# %% [markdown]
# `pack_into` clears all the bytes it is about to write, then stores the fields one by one
# (CPython [`Modules/_struct.c`](https://github.com/python/cpython/blob/main/Modules/_struct.c),
# `s_pack_internal` begins with `memset(buf, '\0', soself->s_size)`). Between the memset and
# the store, the slot holds 0. Now live, half a second per access path:

# %%
# pack_into reads on until it has seen one torn value (a one-CPU machine needs longer); the others 0.5 s
torn = [atomicity.torn_reads(method, seconds=0.5, min_torn=1 if method == "struct.pack_into" else 0,
                             start_method="fork") for method in atomicity.METHODS]
for r in torn:
    print(f"{r.method:<17} torn reads seen: {'yes' if r.torn else 'no'}")

# %%
# NBVAL_IGNORE_OUTPUT
for r in torn:
    print(f"{r.method:<17} {r.torn:>9,} torn of {r.reads:>11,} loads ({r.per_million:,.0f} per million; "
          f"{r.zeros:,} zeros, {r.other:,} other)  — {atomicity.METHODS[r.method]}")
fig = race_plots.torn_reads(torn)
style.show(fig)

# %% [markdown]
# *Figure:* one bar per way of storing, its length the number of loads per million that saw
# a value no store wrote, with the raw counts written beside it.
#
# What each access path does to the 8 bytes (CPython on x86-64 or arm64):
#
# | path | what the writer does | torn loads here |
# | --- | --- | --- |
# | `struct.pack_into("=Q", buf, off, v)` | memset the 8 bytes to 0, then store the field | yes: the reader sees the 0 |
# | `ctypes.c_uint64.from_buffer(buf, off).value = v` | one 8-byte store (`memcpy` of 8 bytes in `cfield.c`, compiled to one instruction) | none seen |
# | numpy `a[i] = v` on an aligned `uint64` element | one 8-byte store | none seen |
# | `mm[off:off+8] = b` (mmap slice) | `memcpy` of 8 bytes; glibc copies them with whole 8-byte moves | none seen |
# | numpy `a[i] += 1`, `word.value += 1` | a load, an add, a store: three steps | not torn, but **lost updates** (section 7) |
#
# "None seen" is a measurement, not a promise: it holds because CPython happens to compile
# those stores to one aligned 8-byte instruction, which x86-64 and arm64 perform as a
# single-copy atomic access (Intel SDM vol. 3A, "Guaranteed Atomic Operations"; Arm
# Architecture Reference Manual, "single-copy atomicity"). No Python
# documentation guarantees it, and a multi-field record written with any of these paths can
# still be read half old, half new: a record needs a lock or a protocol (a seqlock, notebook
# 07).
#
# **In C.** An aligned 8-byte `mov` cannot be torn, but that is a property of the
# *instruction*, and C source does not promise which instructions you get. In C11 two
# accesses to the same object from two threads (or processes sharing memory), at least one a
# write, not both atomic and not ordered by synchronisation, are a **data race**, and "any
# such data race results in undefined behavior" (C11 §5.1.2.4 ¶25,
# [N1570](https://www.open-std.org/jtc1/sc22/wg14/www/docs/n1570.pdf)): the compiler may
# split, merge, re-read or remove such accesses. The guarantee is `_Atomic`: declare
# `_Atomic uint64_t *p` (or `atomic_ullong`) and use `atomic_load_explicit(p,
# memory_order_acquire)` / `atomic_store_explicit(p, v, memory_order_release)`; for a
# read-modify-write, `atomic_fetch_add_explicit(p, 1, memory_order_relaxed)` (one `lock xadd`
# on x86-64). Across processes the atomic must be lock-free (`atomic_is_lock_free(p)`): a
# lock-based atomic would use a lock private to each process.
#
# **`volatile` is neither.** `volatile` forces the compiler to perform each access as
# written (no caching in a register, no removal), which is what memory-mapped device
# registers need. It makes `counter++` no more atomic (still load, add, store) and it orders
# nothing between threads or processes: no fence is emitted, and the CPU may still reorder
# (SEI CERT [CON02-C. Do not use volatile as a synchronization primitive](https://wiki.sei.cmu.edu/confluence/display/c/CON02-C.+Do+not+use+volatile+as+a+synchronization+primitive)).
# Notebook 07 measures both effects with litmus tests in C.
#
# **From Python:**
#
# * **Python offers no atomic read-modify-write on shared memory.** numpy's `a[0] += 1` and
#   `word.value += 1` are a load, an add and a store. The GIL is per *process*: it orders
#   threads of one interpreter, never two processes. `multiprocessing.Value` is not atomic
#   either: `v.value += 1` needs `with v.get_lock():`, which is a semaphore, as here.
# * Across processes from Python, use a semaphore (POSIX here, System V in notebook 02), or
#   call C11 atomics through a small C library (notebook 07).
#
# ### You are the scheduler: a game
#
# The lost update is easiest to believe when *you* cause it. This is a game after
# [The Deadlock Empire](https://deadlockempire.github.io/): you are the scheduler, and each
# level has a goal that only a bad interleaving reaches. A level starts real processes that
# run a few lines of code on a real POSIX shared memory segment and real POSIX semaphores.
# Before each line a process waits on its own semaphore (`sem_timedwait`), and only your
# choice posts it (`sem_post`); the process then runs the line and reports its line number
# and its register in its slot of the segment. This is the worker each process runs (marked:
# the three steps of `counter++`, and a `wait` line, which is a real `sem_trywait`):

# %%
from ipclab.experiments import scheduler_game as game
from ipclab.presentation.glass import show

show(game.game_worker, mark=["reg = words[var_index[arg]]", "reg = reg + arg",
                             "words[var_index[arg]] = reg", "sems[arg].acquire(0)"])

# %% [markdown]
# A `wait` on a semaphore at 0 fails with `EAGAIN` in `sem_trywait`
# ([sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)): the process stays on
# its line, *blocked* (in a free run it would sleep in `sem_wait` there), and the attempt
# still counts as a step. The levels and the code of their processes:

# %%
for lv in game.LEVELS.values():
    print(f"{lv.key}: {lv.goal}")
    for name, program in list(lv.programs.items())[:2]:
        print(f"   process {name}:", " | ".join(line.split("#")[0].strip() for line in program.listing()))

# %% [markdown]
# A schedule is a string of process names, one per step: `"A B A"` lets A run its current
# line, then B, then A. `game.play(level, schedule)` plays it on real processes and judges the
# **real** final state (the counter read from the segment; for a deadlock, each blocked
# process then really waits, with `sem_timedwait` and a 0.2 s timeout, and must time out).
#
# **Predict** before you open the output: on `counter-to-1`, the chapter's example
# `A B A B A B` (A loads, B loads, A adds, B adds, A stores, B stores). What is the final
# counter, and is the level won? Write your answer down, then open the output.

# %% tags=["reveal"]
outcome = game.play("counter-to-1", "A B A B A B")
print(outcome.board)
print(outcome.verdict)

# %% [markdown]
# A seeded random schedule, to compare with a friend: the same seed gives the same schedule.

# %%
schedule = game.random_schedule("counter-to-2", seed=4)
print("seed 4:", schedule)

# %% [markdown]
# **Predict** the final counter after this schedule (two processes, three `counter++` each:
# six increments), then open the output. `game.simulate` is the answer computed on paper,
# `play` what the real processes did.

# %% tags=["reveal"]
outcome = game.play("counter-to-2", schedule)
print("on paper:", game.simulate("counter-to-2", schedule).shared, "  real:", outcome.shared)
print(outcome.verdict)

# %% [markdown]
# **Undo.** Real processes cannot step back: `Game.undo()` ends them, removes their segment
# and semaphores, and replays the schedule minus its last step on *fresh* processes (new pids).
# Every step is deterministic given the schedule, so the state is the same as playing the
# prefix from the start (`tests/test_scheduler_game.py` checks it):

# %%
with game.Game("starve") as g:
    g.run("A A B")                       # A holds both forks; B tries fork2: blocked
    first_pids = set(g.pids.values())
    print(g.board())
    g.undo()                             # = replay "A A" on fresh processes
    print("after undo, schedule:", repr(g.schedule_so_far()), "| fresh processes:",
          not first_pids & set(g.pids.values()), "| semaphores:", g.semaphores)

# %% [markdown]
# Now play. Choose a level; **Step A**/**Step B** let that process run its highlighted line;
# you see each process's code and register, the shared memory and the timeline; the verdict
# (WON or LOST, from the real state) appears when no process can move. **Undo** replays on
# fresh processes. **Random schedule** plays the seeded schedule with every value hidden (`?`):
# type your prediction, then **Reveal**. The processes are created at your first click and
# removed on Restart, on a level change, or at kernel exit.

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.presentation.widgets import race as race_widgets
from ipclab.presentation.widgets import scheduler_game as game_widgets

game_ui = game_widgets.GameUI("counter-to-1")
game_ui.widget

# %% [markdown]
# Try every level in the widget before you open this output: one winning schedule per level,
# played on real processes (`counter-to-2` is the hard one: why can two processes of three
# increments never end at 1? Think of the process that stores last).

# %% tags=["reveal"]
solutions = {"counter-to-1": "A A B B B A", "counter-to-2": "A B B B B B B A A B A A A A A A B B",
             "starve": "A B A B", "lost-update-3": "A B C A A B B C C"}
for level_key, winning in solutions.items():
    print(f"{level_key:14} {winning:40} {game.play(level_key, winning).verdict}")

# %% [markdown]
# And the counter experiment with controls (processes, increments, lock on/off):

# %%
# NBVAL_IGNORE_OUTPUT
counter_ui = race_widgets.CounterControls()
counter_ui.widget

# %% [markdown]
# The same function headless, with the defaults (2 processes, 200 increments):

# %%
print(race_widgets.verdict(counter_ui.run()).splitlines()[1])
counter_ui.lock.value = True
print(race_widgets.verdict(counter_ui.run()).splitlines()[1])

# %% [markdown]
# ## Summary
#
# * `shm_open` + `ftruncate` + `mmap` create and map an object in `/dev/shm`; `munmap` (close)
#   and `shm_unlink` (unlink) are separate: the object outlives its creator until unlinked, and
#   an unlinked object lives on in the processes that map it.
# * `multiprocessing.shared_memory`: attaching registers the segment with a resource tracker
#   (still the default, `track=True`, in 3.13+); processes started by multiprocessing share
#   their parent's tracker, any other process gets its own and its exit unlinks the segment,
#   unless it attached with `track=False` (3.13+) or unregistered.
# * A segment is raw bytes: agree on a layout (ctypes mirrors C's padding), store offsets,
#   never pointers.
# * Producer-consumer: a ring of slots, `empty`/`full`/`mutex` semaphores, timed waits.
# * `counter++` is load-add-store: without a lock updates are lost, and you can see which;
#   with a semaphore the count is exact. Uncontended, the lock costs user-space library
#   calls and no system call (no voluntary switch, no futex call measured); the kernel is
#   entered only when a process must sleep or wake a sleeper.
# * `struct.pack_into` zeroes before it writes, so a concurrent reader can see a value
#   nobody wrote; an aligned `ctypes` or numpy 8-byte store was not torn here, by CPython's
#   implementation, not by a guarantee. In C a racing plain access is undefined behaviour;
#   `_Atomic` with `atomic_load_explicit`/`atomic_store_explicit` is the guarantee, and
#   `volatile` gives neither atomicity nor ordering. Python has no cross-process atomic
#   increment; C11 atomics do.
# * Modes: 0600 by default; the umask cuts `shm_open`'s mode; 0666 opens your data to everyone.
#
# ## Exercises
#
# 1. Compute by hand the final value of `A:load A:add B:load A:store B:add B:store`, then
#    check with `race.Explorer`. Find a schedule of 2 processes x 2 increments whose result is
#    **2**. Can any schedule give 1? (Hint: think of the process that stores last.)
#    ([answer](answers/01_posix_shared_memory_answers.ipynb#exercise-1))
# 2. Run `race.count(2, m, window=0)` for m = 1 000, 10 000, 100 000. Why does the share of
#    lost updates grow with m when there is no designed window? ([answer](answers/01_posix_shared_memory_answers.ipynb#exercise-2))
# 3. Add a `reset()` to the counter protocol: which other process must be stopped before it
#    is safe, and how would you make it so with one more semaphore? ([answer](answers/01_posix_shared_memory_answers.ipynb#exercise-3))
# 4. Write `shm_count.c`: a C program that increments a counter in a segment created by
#    Python with `atomic_fetch_add`, run two of them together, and show the count is exact
#    without any semaphore. ([answer](answers/01_posix_shared_memory_answers.ipynb#exercise-4))
# 5. The ring buffer wastes `slot_size` bytes per record. Design a variable-length ring (a
#    byte ring with length prefixes): what must `empty` count now? ([answer](answers/01_posix_shared_memory_answers.ipynb#exercise-5))
#
# **Lab 1:** [`labs/lab1_ringbuffer.ipynb`](../labs/lab1_ringbuffer.ipynb): write this ring buffer
# yourself, over `shm_open` and three POSIX semaphores, for several producers and consumers,
# and have it graded. **Lab 5** ([shared LRU cache](../labs/lab5_lrucache.ipynb)) keeps a
# whole data structure in one segment. **Next:** [19.2 System V semaphores](02_sysv_semaphores.ipynb).
#
# ## References
# - Overview pages: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [futex(7)](https://man7.org/linux/man-pages/man7/futex.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html);
#   [tmpfs](https://docs.kernel.org/filesystems/tmpfs.html) (the kernel's documentation).
# - Calls used here: [shm_open(3), shm_unlink(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [mmap(2), munmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [close(2)](https://man7.org/linux/man-pages/man2/close.2.html),
#   [fchmod(2)](https://man7.org/linux/man-pages/man2/fchmod.2.html),
#   [umask(2)](https://man7.org/linux/man-pages/man2/umask.2.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [sem_wait(3), sem_timedwait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html),
#   [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
#   [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html),
#   [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
#   [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
#   [proc_pid_status(5)](https://man7.org/linux/man-pages/man5/proc_pid_status.5.html),
#   [strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html).
# - M. Kerrisk, *The Linux Programming Interface*, chapters 44-55, here above all 49 (memory
#   mappings), 51 (introduction to POSIX IPC), 53 (POSIX semaphores) and 54 (POSIX shared memory).
# - W. R. Stevens, S. Rago, *Advanced Programming in the UNIX Environment*, 3rd ed., chapter 15.
# - POSIX.1-2017: [shm_open](https://pubs.opengroup.org/onlinepubs/9699919799/functions/shm_open.html),
#   [sem_timedwait](https://pubs.opengroup.org/onlinepubs/9699919799/functions/sem_timedwait.html),
#   [mmap](https://pubs.opengroup.org/onlinepubs/9699919799/functions/mmap.html).
# - The kernel's limits: `/dev/shm`'s size is the tmpfs mount's `size=` option
#   ([tmpfs](https://docs.kernel.org/filesystems/tmpfs.html)); System V ones in
#   [/proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html).
# - C11: ISO/IEC 9899:2011 §5.1.2.4 (data races) and §7.17 (`<stdatomic.h>`), draft
#   [N1570](https://www.open-std.org/jtc1/sc22/wg14/www/docs/n1570.pdf); SEI CERT
#   [CON02-C](https://wiki.sei.cmu.edu/confluence/display/c/CON02-C.+Do+not+use+volatile+as+a+synchronization+primitive).
# - CPython: [`Modules/_struct.c`](https://github.com/python/cpython/blob/main/Modules/_struct.c)
#   (`s_pack_internal`), [multiprocessing.shared_memory](https://docs.python.org/3/library/multiprocessing.shared_memory.html).
