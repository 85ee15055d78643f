# %% [markdown]
# # Answers: 19.4 POSIX IPC vs System V IPC
#
# One section per "Try it" prompt and per exercise of
# [04_posix_vs_sysv.ipynb](../04_posix_vs_sysv.ipynb), in the order they appear there.
# Where the answer is code, the cell runs it on real kernel objects, made by the course
# (unique names, mode 0600, removed at the end of the cell even if it fails). Cells that
# need `gcc`, `strace` or `ipcs` say so and skip where the tool is missing. Timings vary
# from machine to machine: those cells print them but are not compared by the notebook check.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import os
import shutil
import subprocess
import sys

import posix_ipc
import sysv_ipc

from ipclab import bench, doctor, objects, procs, semset
from ipclab.experiments import posix_vs_sysv as jobs
from ipclab.mechanisms import ccell

doctor.setup_notebook("posix_shm", "posix_mq", "ipcs", "gcc", "strace")
ccell.load()

# %% [markdown]
# <a id="try-it-1"></a>
# ## Try it 1: "full" and the mutex in one `semop`
#
# One `semop` with two operations is applied all at once or not at all. With "full" at 0 the
# call cannot take "full", so it takes **nothing**: the mutex stays free for everybody else
# while the caller waits (here it gives up after 0.2 s). Once "full" is posted, the same call
# takes both; one more call gives "empty" and the mutex back together.

# %%
with semset.create(3, values=[1, 0, 1], note="tryit1") as sems:   # 0: empty, 1: full, 2: mutex
    try:
        sems.op([(1, -1, 0), (2, -1, 0)], timeout=0.2)           # C: semtimedop(id, {{1,-1,0},{2,-1,0}}, 2, &ts)
        print("took full and the mutex (unexpected: full was 0)")
    except semset.WaitTimeout:
        print("full is 0: timed out, and the mutex was not taken meanwhile:", "yes" if sems.getval(2) == 1 else "no")
    sems.release(1)                                               # a producer posts full
    sems.op([(1, -1, 0), (2, -1, 0)], timeout=1)
    print("after a post of full, one call took both: values", sems.getall())
    sems.op([(0, +1, 0), (2, +1, 0)])                             # give empty and the mutex back at once
    print("after giving back empty and the mutex in one call:", sems.getall())

# %% [markdown]
# <a id="try-it-2"></a>
# ## Try it 2: the System V lock without `SEM_UNDO`
#
# Without `undo=True` the kernel keeps no undo record for the process, so nothing gives the
# lock back when it exits: System V behaves like POSIX here. Instead of editing
# `ipclab/experiments/posix_vs_sysv.py`, the changed worker is written in a cell:

# %%
# %%worker no_undo
"""sysv_take_and_exit, without SEM_UNDO."""
from ipclab.mechanisms import semset


def take_and_exit(semid):
    semset.SemaphoreSet.attach(semid).acquire(0, timeout=5)   # C: semtimedop(id, {0, -1, 0}, 1, &ts): no SEM_UNDO
    return "held, exiting without semop(+1)"

# %%
with semset.create(1, values=[1], note="noundo") as lock:
    procs.run(no_undo.take_and_exit, [(lock.id,)], start_method="forkserver", timeout=30)
    try:
        lock.acquire(0, timeout=0.5)
        print("System V without SEM_UNDO: the lock came back")
    except semset.WaitTimeout:
        print("System V without SEM_UNDO: lock still held by a dead process: yes (value",
              lock.getval(0), ")")

# %% [markdown]
# <a id="try-it-3"></a>
# ## Try it 3: the handler with `SA_RESTART`
#
# Both waits still end with `EINTR` in the run below. For `semtimedop` it is what signal(7)
# says: the System V calls "are never restarted after being interrupted by a signal handler,
# regardless of the use of SA_RESTART". For `sem_timedwait`, signal(7) lists it among the
# calls restarted under `SA_RESTART`, yet this run shows `EINTR` too; the POSIX description of
# `sem_wait` says the call returns when a signal handler interrupts it. So `SA_RESTART` is no
# substitute for the loop: every wait that can block is called again on `EINTR`, as the
# program does.

# %%
import io

from ipclab.core import cbuild

src = (cbuild.C_DIR / "demos" / "sem_side_by_side.c").read_text()
restarting = src.replace("sa.sa_flags = 0;", "sa.sa_flags = SA_RESTART;")
assert restarting != src
if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with objects.posix_sem(1, tag="cside") as psem, semset.create(1, values=[1], note="cside") as sv:
        run = ccell.run_c(restarting, f"--name sem_restart --args '{psem.name} 0x{sv.key & 0xFFFFFFFF:08x}' "
                          "--timeout 20 --expect ok", out=io.StringIO())
    lines = [line.strip() for line in run.stdout.splitlines()]
    print("\n".join(line for line in lines if line.startswith(("sem_timedwait", "semtimedop"))))
    for call in ("sem_timedwait", "semtimedop"):
        eintr = any(line.startswith(f"{call}, SIGALRM") and "EINTR" in line for line in lines)
        print(f"{call} ended with EINTR under SA_RESTART:", "yes" if eintr else "no")

# %% [markdown]
# <a id="try-it-4"></a>
# ## Try it 4: see the leftovers with `ipcs` and `ls`, remove them by hand
#
# A child leaves a POSIX segment, a POSIX queue and a System V queue. `ipcs -q` lists the
# System V queue (key, id, owner, perms, used bytes, messages); `ls -l /dev/shm` the segment
# (owner, mode `-rw-------`, size); `/dev/mqueue` the POSIX queue where that file system is
# mounted. By hand: `ipcrm -q ID`, `rm /dev/shm/NAME`, `rm /dev/mqueue/NAME` (what
# `msgctl(IPC_RMID)`, `shm_unlink` and `mq_unlink` do).

# %%
shm_name, mq_name, q_key = procs.run(jobs.create_and_leave, [()], start_method="forkserver", timeout=30)[0]
q_id = sysv_ipc.MessageQueue(q_key).id
try:
    if shutil.which("ipcs"):
        out = subprocess.run(["ipcs", "-q"], capture_output=True, text=True, timeout=10).stdout
        print("ipcs -q lists the queue:", "yes" if f"0x{q_key & 0xffffffff:08x}" in out else "no")
    print("ls /dev/shm shows the segment:", "yes" if shm_name[1:] in os.listdir("/dev/shm") else "no",
          f"(mode {os.stat('/dev/shm' + shm_name).st_mode & 0o777:04o})")
    if shutil.which("ipcrm"):
        subprocess.run(["ipcrm", "-q", str(q_id)], check=True, timeout=10)     # C: msgctl(id, IPC_RMID, NULL)
    else:
        sysv_ipc.remove_message_queue(q_id)
    os.unlink("/dev/shm" + shm_name)                                           # rm: what shm_unlink does
finally:  # whatever failed above, remove what is left
    for remove in (lambda: sysv_ipc.remove_message_queue(q_id), lambda: posix_ipc.unlink_shared_memory(shm_name),
                   lambda: posix_ipc.unlink_message_queue(mq_name)):
        try:
            remove()
        except (sysv_ipc.ExistentialError, posix_ipc.ExistentialError):
            pass
print("after removal by hand: segment in /dev/shm:", shm_name[1:] in os.listdir("/dev/shm"),
      "| queue still there:", any(q_key & 0xffffffff == int(l.split()[0]) & 0xffffffff
                                  for l in open("/proc/sysvipc/msg").readlines()[1:]))

# %% [markdown]
# <a id="try-it-5"></a>
# ## Try it 5: a wake-up on the same CPU and on another one
#
# Pinned to one CPU, each wake-up hands the CPU from one process to the other; pinned to two
# CPUs, each wake-up must reach the other CPU (an inter-processor interrupt, through the
# hypervisor on a VM) and the sleeping CPU must wake. The gap between the two medians is
# that cost; its size depends on the machine (and needs two CPUs).

# %%
# NBVAL_IGNORE_OUTPUT
if len(os.sched_getaffinity(0)) >= 2:
    same = bench.latency("posix_sem", pin="same", max_seconds=0.5)
    cross = bench.latency("posix_sem", pin="cross", max_seconds=0.5)
    print(f"same CPU: median {same['median_us']:.1f} us; other CPU: median {cross['median_us']:.1f} us; "
          f"gap {cross['median_us'] - same['median_us']:+.1f} us")
else:
    print("only one CPU available here: pin='cross' needs two")

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: a ring of 8 slots in both families
#
# The ring: 8 slots of 32 bytes; `empty` starts at 8, `full` at 0; the producer waits on
# `empty`, writes slot `i % 8`, posts `full`; the consumer mirrors it. In System V both
# counters are one set, and the consumer can **give back a slot and wait for the next one in
# one call**: `semop(id, {{0, +1, 0}, {1, -1, 0}}, 2)`, which halves its calls.
#
# System calls per message: System V makes one `semtimedop` per operation, always (the
# producer 2, the consumer 1 with the combined call; 3 per message). POSIX semaphores make a
# `futex` call only when a process must sleep or be woken: when the ring is neither full nor
# empty, none at all. So POSIX needs fewer, and how many fewer depends on how often a side
# waits. `strace -c -f` counts them (below, where strace runs).

# %%
# %%worker ring8
"""A ring of 8 slots, POSIX and System V, one producer and one consumer."""
import mmap

import posix_ipc
import sysv_ipc

from ipclab.core import objects, procs
from ipclab.mechanisms import semset

SLOTS, SLOT = 8, 32


def posix_consumer(shm_name, empty_name, full_name, n):
    shm = posix_ipc.SharedMemory(shm_name)
    ring = mmap.mmap(shm.fd, SLOTS * SLOT)
    shm.close_fd()
    empty, full = posix_ipc.Semaphore(empty_name), posix_ipc.Semaphore(full_name)
    got = 0
    for i in range(n):
        full.acquire(5)                                      # C: sem_timedwait(full)
        got += int(ring[(i % SLOTS) * SLOT:(i % SLOTS) * SLOT + SLOT].rstrip(b"\0")) == i
        empty.release()                                      # C: sem_post(empty)
    ring.close()
    return got


def sysv_consumer(key, semid, n):
    shm = sysv_ipc.SharedMemory(key)
    sems = semset.SemaphoreSet.attach(semid)
    got = 0
    sems.acquire(1, timeout=5)                               # the first message
    for i in range(n):
        got += int(shm.read(SLOT, (i % SLOTS) * SLOT).rstrip(b"\0")) == i
        if i + 1 < n:
            sems.op([(0, +1, 0), (1, -1, 0)], timeout=5)     # C: ONE semtimedop: give a slot back, take the next message
        else:
            sems.release(0)
    shm.detach()
    return got


def run_posix(n):
    with objects.posix_shm(SLOTS * SLOT, tag="ring8") as shm, objects.posix_sem(SLOTS, tag="empty") as empty, \
            objects.posix_sem(0, tag="full") as full:
        ring = mmap.mmap(shm.fd, SLOTS * SLOT)
        with procs.start(posix_consumer, [(shm.name, empty.name, full.name, n)], start_method="fork", timeout=60) as g:
            for i in range(n):
                empty.acquire(5)                             # C: sem_timedwait(empty)
                ring[(i % SLOTS) * SLOT:(i % SLOTS + 1) * SLOT] = str(i).encode().ljust(SLOT, b"\0")
                full.release()                               # C: sem_post(full)
            got = g.join()[0]
        ring.close()
    return got


def run_sysv(n):
    with objects.sysv_shm(SLOTS * SLOT) as shm, semset.create(2, values=[SLOTS, 0], note="ring8") as sems:
        with procs.start(sysv_consumer, [(shm.key, sems.id, n)], start_method="fork", timeout=60) as g:
            for i in range(n):
                sems.acquire(0, timeout=5)                   # C: semtimedop(id, {0, -1, 0}, 1, &ts)
                shm.write(str(i).encode().ljust(SLOT, b"\0"), (i % SLOTS) * SLOT)
                sems.release(1)                              # C: semop(id, {1, +1, 0}, 1)
            got = g.join()[0]
    return got

# %%
n = 2000
print("POSIX ring of 8: messages received intact:", ring8.run_posix(n), "of", n)
print("System V ring of 8: messages received intact:", ring8.run_sysv(n), "of", n)

# %%
# NBVAL_IGNORE_OUTPUT
def count_calls(family, n):
    """strace -c -f of a fresh Python running one ring: {call: count} for the semaphore calls."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ccell.workers_dir()), *sys.path]))
    r = subprocess.run(["strace", "-f", "-c", "-e", "trace=futex,semop,semtimedop", sys.executable, "-c",
                        f"import ring8; ring8.run_{family}({n})"], capture_output=True, text=True, env=env, timeout=120)
    calls = {}
    for line in r.stderr.splitlines():
        parts = line.split()
        if parts and parts[-1] in ("futex", "semop", "semtimedop") and parts[0][0].isdigit():
            calls[parts[-1]] = int(parts[3])   # % time, seconds, usecs/call, calls, [errors,] syscall
    return calls

if shutil.which("strace"):
    try:
        for family in ("posix", "sysv"):
            print(f"{family}: {count_calls(family, n)} for {n} messages (futex includes Python's own locks)")
    except Exception as e:  # ptrace forbidden in this container, for instance
        print("strace could not run here:", type(e).__name__, e)
else:
    print("strace is not installed here (apt-get install strace): counts not measured")

# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: a robust mutex in POSIX shared memory, in C
#
# The mutex lives in a shared mapping, made process-shared and robust. A child takes it and
# exits without unlocking. The parent's `pthread_mutex_lock` then returns `EOWNERDEAD`: it
# *has* the lock, and must repair the data and call `pthread_mutex_consistent` before
# unlocking; otherwise the mutex becomes unusable (`ENOTRECOVERABLE`). Compared with
# section 4: System V's `SEM_UNDO` silently gives the lock back (the data may be half
# updated and nobody is told); the robust mutex gives it back *and tells the next owner*.
# (The cell needs gcc; without it, it says so and skips. `ccell.run_c(SOURCE, OPTIONS)` is
# what a `%%c OPTIONS` cell does, written as a call so that this file stays valid Python.)

# %% tags=["nbval-ignore-output"]
_ = ccell.run_c(r"""
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared { pthread_mutex_t lock; long balance; };

int main(void)
{
    int fd = shm_open(getenv("SHM"), O_RDWR, 0);            /* made by the course, 4096 bytes */
    if (fd == -1) { perror("shm_open"); return 1; }
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->lock, &a);
    s->balance = 100;

    pid_t pid = fork();
    if (pid == 0) {                                          /* the child dies holding the lock */
        pthread_mutex_lock(&s->lock);
        s->balance = -1;                                     /* half way through an update */
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    int rc = pthread_mutex_lock(&s->lock);
    if (rc == EOWNERDEAD) {
        printf("pthread_mutex_lock: EOWNERDEAD, the holder died; balance seen: %ld\n", s->balance);
        s->balance = 100;                                    /* repair from what we know */
        pthread_mutex_consistent(&s->lock);
    } else {
        printf("pthread_mutex_lock returned %d, expected EOWNERDEAD\n", rc);
        return 1;
    }
    pthread_mutex_unlock(&s->lock);
    rc = pthread_mutex_lock(&s->lock);
    printf("after pthread_mutex_consistent, the next lock: %s; balance %ld\n", rc == 0 ? "ok" : "failed", s->balance);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_destroy(&s->lock);
    munmap(s, sizeof *s);
    return rc;
}
""", "--env SHM=posix_shm:4096 --expect ok")
# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: the two queues by message size, and 64 KiB POSIX messages
#
# The command (in a terminal; 2 s per point):
# `ipclab bench --mechanisms posix_mq,sysv_mq --sizes 64,1K,4K,8K --seconds 2 --latency ''`.
# Where they differ most follows from their limits (section 10 of the chapter): a System V
# queue holds `msgmnb` **bytes** (16 KiB by default), a POSIX queue `msg_max` **messages**
# (10). At 8 KiB the System V queue holds only two messages and its producer sleeps far more
# often; at 64 B it holds 256 against POSIX's 10. Below, a short version of the same run
# (0.3 s per point: noisy; the ratio per size is what to read).
#
# 64 KiB POSIX messages need `msgsize_max` ≥ 65536: as root,
# `echo 65536 > /proc/sys/fs/mqueue/msgsize_max` (the default is 8192, mq_overview(7)); the
# queue must then be created with `max_message_size=65536`, and `RLIMIT_MSGQUEUE` (819,200
# bytes by default) must hold `msg_max × 64 KiB` plus overhead, so fewer messages per queue.
# The cell does not change the machine's settings: it reads them and says whether 64 KiB fits.

# %%
# NBVAL_IGNORE_OUTPUT
records = bench.run(["posix_mq", "sysv_mq"], [64, 1024, 4096, 8192], max_seconds=0.3, repeats=1,
                    latency_mechanisms=[], start_method="fork", progress=False)
rate = {(r["mechanism"], r["size"]): r.get("gbps") for r in records if r["kind"] == "throughput" and not r["skipped"]}
for size in (64, 1024, 4096, 8192):
    p, s = rate.get(("posix_mq", size)), rate.get(("sysv_mq", size))
    if p and s:
        print(f"{size:>5} B: POSIX {p:.3f} GB/s, System V {s:.3f} GB/s, POSIX / System V = {p / s:.2f}")
limit = int(open("/proc/sys/fs/mqueue/msgsize_max").read())
print("msgsize_max here:", limit, "-> 64 KiB POSIX messages possible:", "yes" if limit >= 65536 else "no (raise it as root)")

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: requests and replies without message types
#
# With System V, one queue carries both: requests as type 1, replies as type 2 (or type =
# the client's pid, so each client receives only its own reply with `msgrcv(type=pid)`).
# POSIX queues cannot receive by type. What replaces the types is **one queue per
# direction**: a request queue read by the server, and a reply queue per client (its name
# sent inside the request). Priorities only reorder a queue; they do not select. Runnable:
# a server child answers two requests, each on the client's own reply queue.

# %%
# %%worker rr_server
"""A POSIX-queue server: requests carry the client's reply-queue name."""
import posix_ipc


def serve(request_name, count, timeout):
    requests = posix_ipc.MessageQueue(request_name)              # C: mq_open(name, O_RDONLY)
    for _ in range(count):
        msg, _ = requests.receive(timeout)                       # C: mq_timedreceive
        reply_name, _, text = msg.decode().partition(" ")
        reply = posix_ipc.MessageQueue(reply_name)               # the client's own queue
        reply.send(text.upper().encode(), timeout)               # C: mq_timedsend
        reply.close()
    requests.close()
    return count

# %%
with objects.posix_mq(max_messages=4, max_message_size=128, tag="req") as req, \
        objects.posix_mq(max_messages=4, max_message_size=128, tag="rep1") as rep1, \
        objects.posix_mq(max_messages=4, max_message_size=128, tag="rep2") as rep2:
    with procs.start(rr_server.serve, [(req.name, 2, 10)], start_method="forkserver", timeout=30) as server:
        req.send(f"{rep1.name} hello".encode(), 5)
        req.send(f"{rep2.name} world".encode(), 5)
        answers = (rep1.receive(5)[0].decode(), rep2.receive(5)[0].decode())
        server.join()
print("each client got its own reply on its own queue:", answers, "->", "yes" if answers == ("HELLO", "WORLD") else "no")

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: where Python falls short of C in `bench/compare.py`
#
# `python bench/compare.py` runs each measurement in Python and in the C twin
# (`bench/ipcbench.c`) and prints their ratio. Python falls short where a message costs only
# a few hundred nanoseconds in C, because each message adds interpreter work around the same
# system calls: the method calls of `posix_ipc`/`sysv_ipc` or of `semset`'s ctypes
# `semtimedop` (argument conversion, building a `timespec`), creating a `bytes` object per
# received message, slicing into the mapping, and the loop itself: about a microsecond per
# message in all. So small messages and ping-pong latencies show the largest gaps; large
# messages (where copying dominates) and batched rings (one handshake per batch) come close
# to C. The run takes minutes; run it in a terminal (it needs gcc for the C twin).

# %% [markdown]
# ## References
#
# * [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html) (several operations,
#   atomically; `SEM_UNDO`), [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html), [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html) (`msgsize_max`, 8192 by default),
#   [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html) (`RLIMIT_MSGQUEUE`, 819,200 bytes by default),
#   [strace(1)](https://man7.org/linux/man-pages/man1/strace.1.html) (`-c`, `-f`).
# * [pthread_mutexattr_setrobust(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setrobust.3.html),
#   [pthread_mutex_consistent(3)](https://man7.org/linux/man-pages/man3/pthread_mutex_consistent.3.html),
#   [pthread_mutexattr_setpshared(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setpshared.3.html).
