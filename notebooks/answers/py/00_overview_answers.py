# %% [markdown]
# # Answers to 19.0 (the overview)
#
# One section per "Try it" prompt and per exercise of
# [19.0 The overview](../00_overview.ipynb), in the order they appear there. Where the answer
# is code, it runs here on real processes and kernel objects, removed afterwards, and the
# notebook check (nbval) compares its output. Try each one yourself before reading on.

# %%
# NBVAL_IGNORE_OUTPUT
import fcntl
import os
import signal
import time

from ipclab import doctor, objects, procs
from ipclab import overview_demos as demo
from ipclab.core import limits
from ipclab.core.errors import ChildTimeout
from ipclab.mechanisms import ccell

doctor.setup_notebook("posix_shm", "ipcs")
ccell.load()  # %%worker
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)

# %% [markdown]
# <a id="try-1"></a>
# ## Try it 1: isolation with *spawn*
#
# *Change `start_method="fork"` to `"spawn"`. Is the child still isolated?*
#
# Yes. A spawned child is a new interpreter (`fork` + `exec`): it imports
# `overview_demos` again, so its `COUNTER` is a fresh `c_long(42)` in a fresh address space,
# usually at another address (the heap's place is randomised, ASLR). Its write cannot reach
# the parent either way: isolation does not depend on the start method.

# %%
child_address, child_value = procs.run(demo.change_counter, [(100,)], start_method="spawn", timeout=30)[0]
print(f"the spawned child wrote {child_value}; the parent still reads {demo.COUNTER.value}")
print("isolated:", child_value != demo.COUNTER.value)

# %%
# NBVAL_IGNORE_OUTPUT
import ctypes
print("same address as the parent's COUNTER this time:", child_address == ctypes.addressof(demo.COUNTER))

# %% [markdown]
# <a id="try-2"></a>
# ## Try it 2: block one signal, wait for another
#
# *Block `SIGUSR1` but wait for `SIGUSR2` in the worker, and send `SIGUSR1`: what does the
# child return, and after how long?*
#
# The child returns "no signal before the timeout", after the whole timeout. `SIGUSR1` is
# blocked, so its default action (terminate) does not happen: it stays *pending*.
# `sigtimedwait` waits only for the signals of its set (`SIGUSR2`), so it does not take it,
# and the pending `SIGUSR1` is discarded when the process exits
# ([signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html),
# [sigwaitinfo(2)](https://man7.org/linux/man-pages/man2/sigwaitinfo.2.html)).

# %%
# %%worker wrong_signal
import signal

from ipclab.experiments.overview_demos import post_semaphore


def wait_for_usr2(ready_name, timeout):
    """Block SIGUSR1 (as the original does), then wait for SIGUSR2 instead; report what is pending."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})   # C: sigprocmask(SIG_BLOCK, ...)
    post_semaphore(ready_name)
    info = signal.sigtimedwait({signal.SIGUSR2}, timeout)         # C: sigtimedwait(&set, &info, &ts)
    pending = sorted(s.name for s in signal.sigpending())         # C: sigpending(&set)
    return ("no signal before the timeout" if info is None else "got a signal"), pending

# %%
with objects.posix_sem(0, tag="ready") as ready:
    with procs.start(wrong_signal.wait_for_usr2, [(ready.name, 2)], start_method="spawn", timeout=30) as group:
        ready.acquire(timeout=15)
        t0 = time.monotonic()
        os.kill(group.pids[0], signal.SIGUSR1)  # C: kill(pid, SIGUSR1)
        said, pending = group.join()[0]
        waited = time.monotonic() - t0
print("the child returned:", said)
print("signals still pending in the child when it returned:", pending)
print("it waited the whole 2 s timeout:", "yes" if waited >= 1.9 else "no")

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: 100 000 bytes into a pipe nobody reads yet
#
# *Make the child write 100 000 bytes and the parent read only after `procs.run` returns.*
#
# The child blocks in `write()` and `procs.run` never returns on its own: a pipe holds at
# most its capacity (65 536 bytes by default on Linux, 16 pages; `fcntl(fd, F_GETPIPE_SZ)`
# reads it, [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html)), and a blocking
# `write` waits until a reader makes room. The parent would read only after the child ends:
# the two wait for each other, a deadlock. In the course it ends at the timeout, when `procs`
# kills the child; what the child wrote before blocking is still in the pipe.

# %%
r, w = os.pipe()  # C: pipe(fds)
capacity = fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)  # C: fcntl(fds[1], F_GETPIPE_SZ)
print("pipe capacity:", capacity, "bytes; do 100 000 bytes fit?", "yes" if 100_000 <= capacity else "no")
try:
    procs.run(demo.write_to_fd, [(w, b"x" * 100_000)], start_method="fork", timeout=3)
    print("the child finished writing")
except ChildTimeout:
    print("after 3 s the child was still blocked in write(): procs killed it")
finally:
    os.close(w)
waiting = b""
while chunk := os.read(r, 1 << 16):  # every write end is closed now: read until EOF
    waiting += chunk
os.close(r)
print("bytes the child had written before it blocked:", len(waiting), "= the capacity:", len(waiting) == capacity)

# %% [markdown]
# The fix: the parent reads *while* the child writes (start it, read to EOF, then join).

# %%
r, w = os.pipe()
with procs.start(demo.write_to_fd, [(w, b"x" * 100_000)], start_method="fork", timeout=30) as group:
    os.close(w)                      # only the child holds the write end now: EOF when it closes it
    got = 0
    while chunk := os.read(r, 1 << 16):
        got += len(chunk)
    group.join()
os.close(r)
print("reading while the child writes: received", got, "bytes")

# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: message types 3, 1, 2 received with `type=-3`
#
# *Send types 3, 1, 2, then receive with `type=-3` three times. In which order?*
#
# 1, 2, 3. A negative type asks for "the first message of the lowest type that is less than
# or equal to the absolute value" ([msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html)):
# each receive takes the smallest type still queued, so the queue acts as a priority queue.

# %%
with objects.sysv_msg() as q:  # C: msgget(key, IPC_CREAT | IPC_EXCL | 0600)
    for t in (3, 1, 2):
        q.send(f"type {t}".encode(), block=False, type=t)  # C: msgsnd(msqid, &msg, len, IPC_NOWAIT)
    order = [q.receive(block=False, type=-3)[1] for _ in range(3)]  # C: msgrcv(msqid, &msg, size, -3, IPC_NOWAIT)
print("received types, in order:", order)

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: which limit stops a 100 MiB segment in Docker?
#
# *Which limit would stop a 100 MiB segment in a default Docker container?*
#
# For **POSIX** shared memory, the size of the `/dev/shm` tmpfs: Docker mounts a 64 MiB one
# by default (`--shm-size`, [docker run](https://docs.docker.com/reference/cli/docker/container/run/)).
# `ftruncate` to 100 MiB still succeeds, since tmpfs allocates pages only when they are
# touched, so the failure comes later: a write past the 64 MiB that fit gets `SIGBUS`
# ([tmpfs](https://docs.kernel.org/filesystems/tmpfs.html); `posix_fallocate` would report
# `ENOSPC` up front). **System V** segments are not in `/dev/shm`; they are limited by
# `kernel/shmmax` (per segment) and `kernel/shmall` (pages in total), whose defaults on a
# current kernel are far above 100 MiB
# ([Documentation for /proc/sys/kernel](https://docs.kernel.org/admin-guide/sysctl/kernel.html)).
# The values on this machine (`ipclab doctor` prints them with their meaning):

# %%
# NBVAL_IGNORE_OUTPUT
size, free = limits.devshm_size()
print("/dev/shm size:", f"{size / 2**20:.0f} MiB" if size else "no /dev/shm",
      "| a 100 MiB POSIX segment fits in it now:", "yes" if free and free >= 100 * 2**20 else "no")
print("kernel/shmmax (bytes per System V segment):", limits.sysctl("shmmax"))
print("kernel/shmall (pages for all System V segments):", limits.sysctl("shmall"))

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: mode 0660
#
# *With the permission demo, try mode `0660`: what decides whether the other user gets in?*
#
# Its **group**. With 0660 the owner and the members of the object's group may read and
# write; everyone else gets nothing. The kernel compares the object's group (the creator's
# effective group id, for a POSIX object a file of `/dev/shm`) with the caller's effective and
# supplementary groups ([shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
# [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html) for `ipc_perm`). Below,
# the other user tries once as a member of our group and once as a stranger.

# %%
# NBVAL_IGNORE_OUTPUT
from ipclab.core import asuser
from ipclab.core.errors import NotSupported
from ipclab.mechanisms import shm
from ipclab.experiments import shm_demos

try:
    other = asuser.other_user()
    print("the other user here:", other)
except NotSupported as why:
    other = None
    print("This answer needs a second user, and this machine offers none:", why)

# %%
# IPCLAB_NEEDS_OTHER_USER (the test suite skips this cell, saying why, where there is none)
with shm.Segment.create(64, tag="g0660", mode=0o660) as seg:
    os.chmod(seg.path, 0o660)  # C: fchmod(fd, 0660): not cut by the umask
    for group in (True, False):
        who = "a member of our group" if group else "a stranger        "
        print(f"mode 0660, {who}:", asuser.run_as_other(shm_demos.try_access, (seg.name,), same_group=group, timeout=30))
