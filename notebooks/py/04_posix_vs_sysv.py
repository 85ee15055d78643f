# %% [markdown]
# # 19.4 POSIX IPC vs System V IPC: the same jobs both ways, measured
#
# Linux offers two complete families of IPC objects. **System V** (1983: `shmget`, `semget`,
# `msgget`) names objects by numeric *keys* and keeps them until someone removes them;
# **POSIX** (1993-2001: `shm_open`, `sem_open`, `mq_open`) names them like files and shows
# them in `/dev/shm` and `/dev/mqueue`. The chapter's verdict is "POSIX for new projects,
# System V everywhere in existing code". This notebook does not take it on trust: it does
# the same three jobs with both families, side by side, shows the differences live
# (naming, flags, persistence, inspection, notification, limits) and *measures* both.
#
# **Learning goals.** After this notebook you can
# 1. write the same shared-memory handshake, prioritised queue and mutex with either family
#    and name the C call behind each line;
# 2. explain naming (`/name` vs key and `ftok`), creation flags (`O_CREAT|O_EXCL` vs
#    `IPC_CREAT|IPC_EXCL`) and who removes what, and show an object outliving its process;
# 3. inspect both families (`ipcs` vs `ls /dev/shm /dev/mqueue`) and read their limits from
#    `/proc`;
# 4. use `mq_notify` instead of polling, say which features exist in only one family
#    (`SEM_UNDO`, semaphore sets, message types; notification, file-descriptor-like names),
#    and migrate a System V program to POSIX, avoiding the traps, or decide not to;
# 5. measure latency and throughput of both families on your machine, and say honestly
#    what the numbers mean.
#
# **Time:** about 38 min of reading and running, measured: reading about 37 min
# (5,600 words of text and code, counted in this notebook's source, at 150 words a
# minute), running at most about 1 min (every cell executed with nbclient: 12 to 50 s in our
# builds, depending on the machine's load; the last cell prints this build's time).
# The Try-it prompts, the break-it step and the
# exercises come on top. **Prerequisites:** 19.1 (POSIX shared
# memory), 19.2 (System V semaphores), 19.3 (System V message queues). Every prompt has an
# answer in [`answers/04_posix_vs_sysv_answers.ipynb`](answers/04_posix_vs_sysv_answers.ipynb).
#
# Child processes run functions from [`ipclab/experiments/posix_vs_sysv.py`](../ipclab/experiments/posix_vs_sysv.py)
# (the three jobs, both families, line for line alike) and
# [`ipclab/bench/transports.py`](../ipclab/bench/transports.py) (the benchmark's two ends);
# each is shown, from its module, right before the cell that runs it.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import mmap
import os
import subprocess
import threading
import time

import matplotlib.pyplot as plt
import posix_ipc
import sysv_ipc

from ipclab import bench, doctor, inventory, objects, procs, semset
from ipclab.bench import transports
from ipclab.experiments import posix_vs_sysv as jobs
from ipclab.core import names, registry
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show
from ipclab.presentation.plots import bench as bench_plots, style

T0 = time.monotonic()
doctor.setup_notebook("posix_shm", "posix_mq", "ipcs", "gcc")
ccell.load()  # registers %%worker: a cell that becomes an importable module (fork, forkserver, spawn)

# %% [markdown]
# ## 1. The two families at a glance
#
# | | System V | POSIX |
# | --- | --- | --- |
# | name | a number, `key_t` (from `ftok(path, id)`, `IPC_PRIVATE`, or chosen) | a string `"/name"` |
# | create | `shmget/semget/msgget(key, ..., IPC_CREAT \| IPC_EXCL \| 0600)` | `shm_open/sem_open/mq_open(name, O_CREAT \| O_EXCL, 0600)` |
# | handle | an id, valid in every process (`shmid`, `semid`, `msqid`) | a per-process descriptor (`fd`, `sem_t *`, `mqd_t`) |
# | remove | `shmctl/semctl/msgctl(id, IPC_RMID)` | `shm_unlink/sem_unlink/mq_unlink(name)` |
# | inspect | `ipcs`, `ipcrm`, `/proc/sysvipc/*` | `ls /dev/shm /dev/mqueue`, `rm`, `cat` |
# | only here | semaphore **sets**, atomic multi-op `semop`, **`SEM_UNDO`**, message **types** | `mq_notify`, `select`/`epoll` on a queue (Linux), unnamed semaphores in shared memory |
#
# ## 2. Job 1: shared memory + a semaphore handshake
#
# A producer (this notebook) puts three messages, one at a time, into a 32-byte shared
# slot; a consumer (a child process) takes each out. Two semaphores order them: `empty`
# (the slot may be written, starts at 1) and `full` (it may be read, starts at 0).
#
# | step | POSIX | System V |
# | --- | --- | --- |
# | create memory | `fd = shm_open(name, O_CREAT\|O_EXCL\|O_RDWR, 0600); ftruncate(fd, 32)` | `id = shmget(key, 32, IPC_CREAT\|IPC_EXCL\|0600)` |
# | map it | `p = mmap(NULL, 32, PROT_READ\|PROT_WRITE, MAP_SHARED, fd, 0)` | `p = shmat(id, NULL, 0)` |
# | two semaphores | `sem_open(n1, O_CREAT\|O_EXCL, 0600, 1)`, `sem_open(n2, ..., 0)` | **one set**: `semget(key, 2, IPC_CREAT\|IPC_EXCL\|0600)` + `semctl(SETALL, {1, 0})` |
# | wait / post | `sem_timedwait(empty, &ts)` / `sem_post(full)` | `semtimedop(id, {0,-1,0}, 1, &ts)` / `semop(id, {1,+1,0}, 1)` |
# | clean | `munmap; shm_unlink; sem_unlink` ×2 | `shmdt; shmctl(IPC_RMID); semctl(IPC_RMID)` |
#
# POSIX first. The consumer, a child process, runs this (marked: the three calls of the
# handshake and the read of the slot):

# %%
show(jobs.posix_consumer, mark=["full.acquire(TIMEOUT)", "buf[:SLOT]", "empty.release()"])

# %%
messages = ["first", "second", "third"]
with objects.posix_shm(jobs.SLOT, tag="job1") as shm, \
        objects.posix_sem(1, tag="empty") as empty, objects.posix_sem(0, tag="full") as full:
    # C: shm_open(O_CREAT|O_EXCL|O_RDWR, 0600) + ftruncate; sem_open(O_CREAT|O_EXCL, 0600, 1) and (..., 0)
    slot = mmap.mmap(shm.fd, jobs.SLOT)  # C: mmap(NULL, 32, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    with procs.start(jobs.posix_consumer, [(shm.name, empty.name, full.name, len(messages))],
                     start_method="forkserver", timeout=30) as group:
        for text in messages:
            empty.acquire(5)                      # C: sem_timedwait(empty, &ts)
            slot[:] = text.encode().ljust(jobs.SLOT, b"\0")
            full.release()                        # C: sem_post(full)
        got = group.join()[0]
    slot.close()                                  # C: munmap
print("POSIX consumer received:", got)

# %% [markdown]
# The same job with System V: one segment, and *one set* of two semaphores (index 0 =
# empty, 1 = full). `ipclab.mechanisms.semset` calls `semget`/`semtimedop`/`semctl` directly: the
# `sysv_ipc` package only makes sets of one semaphore, and its timed wait blocks for ever on
# Linux wheels. The System V consumer, line for line like the POSIX one:

# %%
show(jobs.sysv_consumer, mark=["sems.acquire(1, timeout=TIMEOUT)", "shm.read(SLOT)", "sems.release(0)"])

# %%
with objects.sysv_shm(jobs.SLOT) as shm, \
        semset.create(2, values=[1, 0], note="job1") as sems:
    # C: shmget(key, 32, IPC_CREAT|IPC_EXCL|0600); semget(key2, 2, IPC_CREAT|IPC_EXCL|0600) + semctl(SETALL)
    with procs.start(jobs.sysv_consumer, [(shm.key, sems.id, len(messages))],
                     start_method="forkserver", timeout=30) as group:
        for text in messages:
            sems.acquire(0, timeout=5)            # C: semtimedop(id, {0, -1, 0}, 1, &ts)
            shm.write(text.encode().ljust(jobs.SLOT, b"\0"))  # C: memcpy into the shmat address
            sems.release(1)                       # C: semop(id, {1, +1, 0}, 1)
        got = group.join()[0]
print("System V consumer received:", got)

# %% [markdown]
# Same logic, same result. The differences are in the edges: POSIX needs `ftruncate` to
# size the memory (System V sizes it in `shmget`); a new System V segment is zeroed by the
# kernel but `sysv_ipc` fills it with spaces unless told otherwise; System V puts both
# semaphores in one kernel object and could take or give both in one atomic `semop`.
#
# > **Try it.** `sems.op(...)` is one `semop` with several operations, applied all together
# > or not at all (semop(2): "the operations ... are performed atomically"). Create the set
# > with a third semaphore, a mutex: `semset.create(3, values=[1, 0, 1])`. In the consumer's
# > place, take "full" *and* the mutex in one call, `sems.op([(1, -1, 0), (2, -1, 0)])`: it
# > sleeps until both can be taken and never holds one without the other. Give both back
# > with `sems.op([(0, +1, 0), (2, +1, 0)])`. With two POSIX semaphores that takes two calls,
# > and a process can hold one while it waits for the other.
# > [answer](answers/04_posix_vs_sysv_answers.ipynb#try-it-1)
#
# ## 3. Job 2: a message queue with priorities
#
# A child sends four messages in this order; the notebook then reads them. POSIX queues
# deliver the **highest priority first** (FIFO within a priority). System V queues have no
# priority but a **type**: `msgrcv(type=-N)` returns the *lowest* type `<= N` first, so
# "type 1 = urgent" gives the same order, and `msgrcv(type=5)` can pick only type 5, which
# POSIX cannot do. The senders (children):

# %%
show(jobs.posix_send_all, mark=["q.send(text.encode(), TIMEOUT, prio)"])

# %%
show(jobs.sysv_send_all, mark=["q.send(text.encode(), True, mtype)"])

# %%
sent = [("routine", 1), ("urgent", 9), ("normal", 5), ("urgent too", 9)]
with objects.posix_mq(max_messages=8, max_message_size=64, tag="prio") as q:
    # C: mq_open(name, O_CREAT|O_EXCL|O_RDWR, 0600, &(struct mq_attr){.mq_maxmsg = 8, .mq_msgsize = 64})
    procs.run(jobs.posix_send_all, [(q.name, sent)], start_method="forkserver", timeout=30)
    order = [q.receive(1) for _ in sent]          # C: mq_timedreceive(q, buf, 64, &prio, &ts)
print("POSIX order:   ", [(m.decode(), p) for m, p in order])

sysv_sent = [("routine", 9), ("urgent", 1), ("normal", 5), ("urgent too", 1)]  # type 1 = most urgent
with objects.sysv_msg(note="prio") as q:           # C: msgget(key, IPC_CREAT|IPC_EXCL|0600)
    procs.run(jobs.sysv_send_all, [(q.key, sysv_sent)], start_method="forkserver", timeout=30)
    only_normal = q.receive(False, 5)             # C: msgrcv(id, &msg, size, 5, IPC_NOWAIT): only type 5
    order = [q.receive(False, -10) for _ in range(3)]  # C: msgrcv(id, &msg, size, -10, IPC_NOWAIT)
print("System V type 5 only:", (only_normal[0].decode(), only_normal[1]))
print("System V order (-10):", [(m.decode(), t) for m, t in order])

# %% [markdown]
# ## 4. Job 3: a mutex, and what happens when its holder dies
#
# Both families make a mutex from a semaphore of value 1. First they do the job: four
# processes add 1 to a shared counter 2,000 times each, each addition under the lock.
# Each of the four children runs (POSIX, then System V):

# %%
show(jobs.posix_count, mark=["lock.acquire(TIMEOUT)", "COUNTER.pack_into", "lock.release()"])

# %%
show(jobs.sysv_count, mark=["lock.acquire(0, undo=True", "COUNTER.pack_into", "lock.release(0, undo=True)"])

# %%
m, n = 2000, 4
with objects.posix_shm(8, tag="count") as shm, objects.posix_sem(1, tag="lock") as lock:
    procs.run(jobs.posix_count, n=n, args=(shm.name, lock.name, m), start_method="forkserver", timeout=60)
    posix_total = jobs.COUNTER.unpack(os.pread(shm.fd, 8, 0))[0]
with objects.sysv_shm(8) as shm, semset.create(1, values=[1], note="lock") as lock:
    shm.write(bytes(8))
    procs.run(jobs.sysv_count, n=n, args=(shm.key, lock.id, m), start_method="forkserver", timeout=60)
    sysv_total = jobs.COUNTER.unpack(shm.read(8))[0]
print(f"POSIX lock:    {posix_total} of {n * m} -> exact: {posix_total == n * m}")
print(f"System V lock: {sysv_total} of {n * m} -> exact: {sysv_total == n * m}")

# %% [markdown]
# Now a child takes the lock and ends without giving it back (a crash would do the same).
# The two children, whole:

# %%
show(jobs.posix_take_and_exit, mark=["acquire(TIMEOUT)"])

# %%
show(jobs.sysv_take_and_exit, mark=["undo=True"])

# %% [markdown]
# **Predict.** After each child has exited, the notebook tries to take the lock with a
# 0.5 s timeout. Does it get the POSIX lock? The System V one (taken with `SEM_UNDO`)?

# %%
after_exit = {}
with objects.posix_sem(1, tag="lock") as lock:
    print("child:", procs.run(jobs.posix_take_and_exit, [(lock.name,)], start_method="forkserver", timeout=30)[0])
    try:
        lock.acquire(0.5)                          # C: sem_timedwait with a 0.5 s deadline
        after_exit["POSIX"] = "the lock is free again"
    except posix_ipc.BusyError:
        after_exit["POSIX"] = "lock still held by a dead process: yes"
with semset.create(1, values=[1], note="lock") as lock:
    print("child:", procs.run(jobs.sysv_take_and_exit, [(lock.id,)], start_method="forkserver", timeout=30)[0])
    try:
        lock.acquire(0, timeout=0.5)               # C: semtimedop(id, {0, -1, 0}, 1, &(0.5 s))
        after_exit["System V + SEM_UNDO"] = "the kernel gave the lock back at the holder's exit: yes"
    except semset.WaitTimeout:
        after_exit["System V + SEM_UNDO"] = "lock still held"

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
for family, verdict in after_exit.items():
    print(f"{family}: {verdict}")

# %% [markdown]
# With System V and `SEM_UNDO` the kernel keeps, per process, what to undo at exit
# (semop(2): the operations "will be automatically undone when the process terminates");
# POSIX semaphores have no such thing, so the lock stays taken by a process that no longer
# exists.

# %% [markdown]
# The POSIX answer to a dying holder is a different tool: a `pthread_mutex_t` placed in
# shared memory with `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`, whose next taker
# gets `EOWNERDEAD` and repairs the data. (Python has no binding for it; a C exercise below.)
#
# > **Try it.** Make `jobs.sysv_take_and_exit` take the lock *without* `undo=True` (edit
# > the module, restart the kernel): the System V lock now stays taken too.
# > [answer](answers/04_posix_vs_sysv_answers.ipynb#try-it-2)
#
# ### The same mutex in C, on the objects Python made
#
# Python creates a POSIX named semaphore and a System V set, each of value 1, and passes
# their name and key to a C program
# ([`ipclab/c/demos/sem_side_by_side.c`](../ipclab/c/demos/sem_side_by_side.c)). C opens each
# one (no `O_CREAT`, no `IPC_CREAT`), takes the lock, meets on purpose the failures a lock
# user must handle, gives the lock back, and removes the object. A failure it expects is
# printed as the call, `-1` and `errno`'s name and text; any other ends the program through
# `perror` (exit status 1). The C calls, family by family (from sem_overview(7), sem_wait(3),
# semop(2), semctl(2) and signal(7)):
#
# | step | POSIX | System V |
# | --- | --- | --- |
# | open the existing object | `sem_open(name, 0)` | `semget(key, 1, 0)` |
# | set the value | (given at `sem_open(..., O_CREAT, mode, value)`) | `semctl(id, 0, SETVAL, arg)`, `arg` a `union semun` **you define** |
# | take, or fail at once | `sem_trywait`: `EAGAIN` | `semop` with `IPC_NOWAIT`: `EAGAIN` |
# | take, with a time limit | `sem_timedwait(s, &deadline)`, an **absolute** `CLOCK_REALTIME` time: `ETIMEDOUT` | `semtimedop(id, ops, 1, &timeout)`, a **relative** time: `EAGAIN` |
# | a handled signal during the wait | `EINTR`: call again | `EINTR`: call again |
# | remove | `sem_unlink(name)`: the name goes, open handles keep working | `semctl(id, 0, IPC_RMID)`: gone at once; a waiter gets `EIDRM` |
#
# The program's two halves:

# %%
from ipclab.core import cbuild
src = (cbuild.C_DIR / "demos" / "sem_side_by_side.c").read_text()  # the C text: edit src to change the program
print(src[src.index("static void posix_side"):src.index("int main")].strip())

# %% [markdown]
# **Predict.** The `SIGALRM` handler is installed without `SA_RESTART`, and the alarm comes
# 100 ms into a 300 ms wait. Which `errno` ends each wait, first and after the loop calls it
# again? Afterwards, does Python still find the two objects?

# %%
import io

if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with objects.posix_sem(1, tag="cside") as psem, semset.create(1, values=[1], note="cside") as sv:
        run = ccell.run_c(src, f"--name sem_side_by_side --args '{psem.name} 0x{sv.key & 0xFFFFFFFF:08x}' "
                          "--timeout 20 --expect ok", out=io.StringIO())  # gcc's command line: not printed
        print(run.stdout.rstrip())
        try:
            posix_ipc.Semaphore(psem.name)             # C: sem_open(name, 0)
            print("Python: the POSIX name is still there")
        except posix_ipc.ExistentialError:
            print("Python: the POSIX name is gone after C's sem_unlink: yes")
        try:
            sv.getall()                                # C: semctl(id, 0, GETALL, arg)
            print("Python: the System V set is still there")
        except semset.ObjectGone:
            print("Python: the System V set is gone after C's IPC_RMID: yes")

# %% [markdown]
# What the run shows, side by side: the same `EAGAIN` for "would block"; a timeout that is
# `ETIMEDOUT` in POSIX but `EAGAIN` in System V; `EINTR` from both waits when the handled
# signal came, after which the loop called again: `sem_timedwait` with the same `deadline`,
# an absolute time that does not move, and `semtimedop` with the same relative `timeout`,
# which counts 300 ms again from the new call (semop(2): on `EINTR` "the contents of timeout
# are left unchanged").
# And removal: after `sem_unlink` the name is gone (`ENOENT`) but C's open handle still
# works; after `IPC_RMID` the waiting child got `EIDRM` at once, and a later call on the same
# id got `EINVAL`, since that id no longer names any set.
#
# > **Try it.** Install the handler **with** `SA_RESTART`: run the cell above after
# > `src = src.replace("sa.sa_flags = 0;", "sa.sa_flags = SA_RESTART;")`. signal(7) says
# > `semop` and `semtimedop` are never restarted; which of the two waits still ends with
# > `EINTR` here? [answer](answers/04_posix_vs_sysv_answers.ipynb#try-it-3)
#
# ## 5. Naming and creation flags
#
# POSIX names are strings you choose; System V keys are numbers, traditionally made by
# `ftok(path, id)` from a file's inode and device. `ftok` gives **every user** the same key for
# the same file, and two different files can collide. The course uses a random key in its own
# range with `IPC_EXCL`, and names carrying your uid and a random part.

# %%
k1, k2 = semset.ftok("/tmp", ord("S")), semset.ftok("/tmp", ord("S"))  # C: ftok("/tmp", 'S')
print("ftok('/tmp', 'S') twice gives the same key:", k1 == k2, "(anyone on this machine gets it too)")

with objects.posix_shm(4096, tag="excl") as shm:
    try:
        posix_ipc.SharedMemory(shm.name, posix_ipc.O_CREX)  # C: shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600)
    except posix_ipc.ExistentialError:
        print("POSIX    O_CREAT|O_EXCL on an existing name  -> EEXIST")
with objects.sysv_msg() as q:
    try:
        sysv_ipc.MessageQueue(q.key, sysv_ipc.IPC_CREX)  # C: msgget(key, IPC_CREAT|IPC_EXCL|0600)
    except sysv_ipc.ExistentialError:
        print("System V IPC_CREAT|IPC_EXCL on an existing key -> EEXIST")

# %% [markdown]
# Without the `EXCL` flag both calls would silently *open* the existing object, possibly
# someone else's, with its old size and contents: always create with `EXCL` and handle
# `EEXIST`.
#
# ## 6. Persistence and inspection, live
#
# A child creates a POSIX segment, a POSIX queue and a System V queue, then exits without
# removing them:

# %%
show(jobs.create_and_leave, mark=["create_posix_shm", "create_posix_mq", "create_sysv_msg", "return shm.name"])

# %% [markdown]
# **Predict.** Once the child has exited, is its segment still in `/dev/shm`, its POSIX queue
# still openable (with its message), its System V queue still listed by `ipcs -q`?

# %%
shm_name, mq_name, q_key = procs.run(jobs.create_and_leave, [()], start_method="forkserver", timeout=30)[0]


def ipcs_has(key):
    out = subprocess.run(["ipcs", "-q"], capture_output=True, text=True, timeout=10).stdout
    return f"0x{key & 0xffffffff:08x}" in out


still_there = {"seg": shm_name.lstrip("/") in os.listdir("/dev/shm"),   # C: opendir("/dev/shm")
               "mq": posix_ipc.MessageQueue(mq_name),                 # C: mq_open(name, O_RDWR)
               "ipcs": ipcs_has(q_key)}
left_q = still_there["mq"]
print("the child has exited")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
print("POSIX segment still in /dev/shm after its creator exited:", still_there["seg"])
print(f"POSIX queue still there, holding {left_q.current_messages} message(s)")  # C: mq_getattr: mq_curmsgs
print("System V queue still listed by `ipcs -q`:", still_there["ipcs"])

# %% [markdown]
# They outlive it: they are kernel objects, not process resources. A System V object lives
# until it is removed (`IPC_RMID`) or the machine reboots; a named POSIX object until it is
# unlinked (and, for memory, the last mapping is gone) or the machine reboots. Now remove them:

# %%
# clean up: open each by its name/key and remove it (shm_unlink, mq_unlink, msgctl(IPC_RMID))
objects.remove_posix_shm(posix_ipc.SharedMemory(shm_name))
objects.remove_posix_mq(left_q)
objects.remove_sysv(sysv_ipc.MessageQueue(q_key))
print("after removal: in /dev/shm:", shm_name.lstrip("/") in os.listdir("/dev/shm"),
      "| in /dev/mqueue:", os.path.exists("/dev/mqueue" + mq_name), "| in ipcs -q:", ipcs_has(q_key))

# %% [markdown]
# `ls -l /dev/shm` shows POSIX segments and semaphores (`sem.NAME`) as files with owner,
# mode, size and date; `ls /dev/mqueue` shows queues (where the `mqueue` file system is
# mounted: `mount -t mqueue none /dev/mqueue`), and `cat /dev/mqueue/NAME` their state:
# `QSIZE` is the number of **bytes** queued, not of messages (mq_overview(7): "QSIZE ... the
# number of bytes of data in all messages in the queue"), so the child's one 5-byte
# message shows as `QSIZE:5`.
#
# The chapter says that POSIX objects "disparaissent automatiquement (selon le type)". In
# fact named POSIX objects have *kernel persistence*: the segment and the queue above
# outlived their creator, and stay until `shm_unlink`/`mq_unlink` or a reboot
# (shm_overview(7), mq_overview(7), sem_overview(7): "POSIX named semaphores have kernel
# persistence"). Only what lives in a process's memory, an unnamed semaphore in a private
# mapping, goes with that memory. System V objects live in no file system: `ipcs -m -s -q` lists them (from
# `/proc/sysvipc/*`), `ipcrm` removes them. `ipclab ls` shows both, marking the course's own.
#
# > **Try it.** Run `ipcs -q` and `ls -l /dev/shm` in a terminal while the cell above is
# > paused before the cleanup (add `input()`); then remove the objects by hand with `ipcrm -q`
# > and `rm /dev/shm/...`. [answer](answers/04_posix_vs_sysv_answers.ipynb#try-it-4)
#
# ### Break it yourself: forget `sem_unlink`, then find the leftover
#
# The worker below, written in this cell (`%%worker` makes it a module a child process can
# import), creates a POSIX named semaphore, uses it, closes it and returns. It is
# **already broken**: it forgets `sem_unlink`. Run it, then look for what it left. Then fix
# it (set `FORGET = False`), predict what the search finds, and run both cells again. (The
# notebook reserves the name in the course registry first, so even the broken version cannot
# leave anything behind after this notebook.)

# %%
# %%worker leaky
"""A child that creates a POSIX semaphore and, as committed, forgets to unlink it."""
import posix_ipc

FORGET = True          # the bug. Fix it: FORGET = False


def make_sem(name):
    sem = posix_ipc.Semaphore(name, posix_ipc.O_CREX, mode=0o600, initial_value=1)  # C: sem_open(name, O_CREAT|O_EXCL, 0600, 1)
    sem.acquire(5)     # C: sem_timedwait(sem, &ts): use it ...
    sem.release()      # C: sem_post(sem)
    sem.close()        # C: sem_close(sem): this process lets go of it, the name stays
    if not FORGET:
        posix_ipc.unlink_semaphore(name)  # C: sem_unlink(name): the name goes
    return "done"

# %%
name = names.posix_name("leak", registry.current().id)   # a fresh course name: /ipl<uid>-<run>-leak-<random>
registry.register("posix_sem", name=name, note="break it: forgotten sem_unlink")
try:
    procs.run(leaky.make_sem, [(name,)], start_method="forkserver", timeout=30)
    leftover = [f for f in os.listdir("/dev/shm") if f == "sem." + name[1:]]  # a POSIX semaphore is /dev/shm/sem.NAME
    print("the child has exited; a file sem.<its name> is left in /dev/shm:", "yes" if leftover else "no")
    if leftover:
        st = os.stat("/dev/shm/" + leftover[0])
        print(f"  mode {st.st_mode & 0o777:04o}, {st.st_size} bytes, owner is me: {st.st_uid == os.getuid()}")
finally:
    registry.remove_object({"kind": "posix_sem", "name": name})  # C: sem_unlink(name), if it is still there
    registry.unregister("posix_sem", name=name)
print("after sem_unlink here, still in /dev/shm:", ("sem." + name[1:]) in os.listdir("/dev/shm"))
#
# ## 7. Notification versus polling
#
# A POSIX queue can *tell* you a message arrived (`mq_notify`: a signal or a new thread).
# `posix_ipc` exposes it as `request_notification((callback, param))`. Its rules, from
# mq_notify(3) (POSIX says the same):
#
# * **one registrant per queue**: "only one process can be registered to receive
#   notification"; a second `mq_notify` fails with `EBUSY`;
# * **only on empty → non-empty**, and **once**: the registration is removed when the
#   notification is sent; register again to hear the next one;
# * **not while someone waits**: if a process is blocked in `mq_receive`, "that process will
#   receive the message, and the message notification registration remains in effect": no
#   notification is sent.
#
# `tests/test_truth_03_06.py` checks the three (a second process gets `EBUSY`; a send with a
# receiver asleep in `mq_timedreceive` notifies nobody, the next one to an empty queue does).
# A System V queue cannot notify: you block in `msgrcv` (and cannot also wait on anything
# else) or poll with `IPC_NOWAIT`. Polling keeps the kernel's message order, but not
# fairness among waiters: a process asleep in `msgrcv` is queued, and a new message goes
# straight to the first sleeping receiver that matches (`pipelined_send` in
# [ipc/msg.c](https://github.com/torvalds/linux/blob/master/ipc/msg.c)); a poller is nobody's
# turn, it gets a message only if it asks between the send and anyone else's receive.
# The two senders (children) below are the same three lines, one per family:

# %%
show(jobs.send_later_posix)

# %%
show(jobs.send_later_sysv)

# %%
arrived = threading.Event()
with objects.posix_mq(max_messages=4, max_message_size=64, tag="notify") as q:
    q.request_notification((lambda _: arrived.set(), None))  # C: mq_notify(q, &(struct sigevent){SIGEV_THREAD, ...})
    with procs.start(jobs.send_later_posix, [(q.name, 0.3, "hello")], start_method="forkserver", timeout=30) as g:
        notified = arrived.wait(10)
        g.join()
    print("POSIX: notified by the kernel, no polling:", notified, "| message:", q.receive(1)[0].decode())

with objects.sysv_msg(note="poll") as q:
    polls = 0
    with procs.start(jobs.send_later_sysv, [(q.key, 0.3, "hello")], start_method="forkserver", timeout=30) as g:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                msg, _ = q.receive(False)          # C: msgrcv(id, &msg, size, 0, IPC_NOWAIT) -> ENOMSG
                break
            except sysv_ipc.BusyError:
                polls += 1
                time.sleep(0.01)
        g.join()
    print("System V: had to poll, more than once:", polls > 1, "| message:", msg.decode())
from ipclab.experiments import queue_pitfalls
with objects.posix_mq(max_messages=4, max_message_size=64, tag="notify2") as q:
    q.request_notification((lambda _: None, None))     # this process is the registrant
    other, = procs.run(queue_pitfalls.try_mq_notify, [(q.name,)], start_method="forkserver", timeout=30)
    print("another process's mq_notify on the same queue:", other)

# %% [markdown]
# On Linux a POSIX queue descriptor is also a file descriptor: `select`/`poll`/`epoll` can
# wait on it together with sockets (not portable, and not exposed by `posix_ipc`).
#
# ## 8. Limits, read live from /proc
#
# Each family has its own knobs. The benchmark below respects them: a message larger than
# the limit is *skipped with the reason*, never silently shortened.

# %%
# NBVAL_IGNORE_OUTPUT
import resource


def proc(path):
    with open(path) as f:
        return f.read().split()

rows = [("POSIX MQ: max message size (bytes)", "/proc/sys/fs/mqueue/msgsize_max"),
        ("POSIX MQ: max messages per queue", "/proc/sys/fs/mqueue/msg_max"),
        ("POSIX MQ: max queues (system)", "/proc/sys/fs/mqueue/queues_max"),
        ("System V MQ: max message size, msgmax", "/proc/sys/kernel/msgmax"),
        ("System V MQ: bytes per queue, msgmnb", "/proc/sys/kernel/msgmnb"),
        ("System V MQ: max queues, msgmni", "/proc/sys/kernel/msgmni"),
        ("System V sem: SEMMSL SEMMNS SEMOPM SEMMNI", "/proc/sys/kernel/sem"),
        ("System V shm: max segment bytes, shmmax", "/proc/sys/kernel/shmmax"),
        ("System V shm: max segments, shmmni", "/proc/sys/kernel/shmmni")]
for label, path in rows:
    print(f"{label:<44} {' '.join(proc(path)):>22}   {path}")
st = os.statvfs("/dev/shm")
print(f"{'POSIX shm: size of /dev/shm (tmpfs)':<44} {st.f_blocks * st.f_frsize:>22}   statvfs('/dev/shm')")
print(f"{'POSIX MQ: bytes per user, RLIMIT_MSGQUEUE':<44} {resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0]:>22}   ulimit -q")

# %% [markdown]
# ## 9. Portability
#
# | feature | Linux | macOS | FreeBSD |
# | --- | --- | --- | --- |
# | System V shm / sem / msg | yes [1] | yes, small default limits (`kern.sysv.*`) [2] | yes, tuned with `kern.ipc.*` [2] |
# | `semtimedop` (timed System V wait) | yes [3] | **no** [4][5] | **no** [5][6] |
# | POSIX `shm_open` | yes (`/dev/shm`) [7] | yes, name ≤ 31 chars (`PSHMNAMLEN`) [8] | yes [9] |
# | POSIX named semaphores | yes [10] | yes, but no `sem_timedwait`, no `sem_getvalue` [9][11] | yes [9] |
# | POSIX unnamed semaphores (`sem_init`, pshared) | yes [12] | no: `sem_init` fails with `ENOSYS` [11][13] | yes [14] |
# | POSIX message queues | yes (`/dev/mqueue`) [15] | **no** [9] | yes (`mqueuefs`, `kldload mqueuefs`) [9][16] |
# | `mq_notify` | yes [17] | — (no queues) | yes [16] |
#
# Sources: [1] [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html);
# [2] PostgreSQL, [Managing Kernel Resources](https://www.postgresql.org/docs/current/kernel-resources.html)
# (System V settings per system); [3] [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html);
# [4] macOS semop(2) (xnu [bsd/man/man2/semop.2](https://github.com/apple-oss-distributions/xnu/blob/main/bsd/man/man2/semop.2):
# `semop` only); [5] gnulib manual, [semtimedop](https://www.gnu.org/software/gnulib/manual/html_node/semtimedop.html):
# "missing on ... macOS 14, FreeBSD 14.0"; [6] FreeBSD [semop(2)](https://man.freebsd.org/cgi/man.cgi?query=semop&sektion=2)
# (FreeBSD 15.0: `semop` only, no `semtimedop`); [7] [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html);
# [8] xnu [bsd/sys/posix_shm.h](https://github.com/apple-oss-distributions/xnu/blob/main/bsd/sys/posix_shm.h)
# (`#define PSHMNAMLEN 31`); [9] posix_ipc's [platform notes](https://github.com/osvenskan/posix_ipc/blob/develop/USAGE.md)
# (macOS: "Message queues are not supported at all. Also, sem_getvalue() and sem_timedwait()
# are not supported"; FreeBSD ≥ 7.2: "All features supported", with the `sem` and `mqueuefs`
# modules); [10] [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html);
# [11] xnu [bsd/kern/posix_sem.c](https://github.com/apple-oss-distributions/xnu/blob/main/bsd/kern/posix_sem.c)
# (the kernel implements `sem_open`, `sem_close`, `sem_unlink`, `sem_wait`, `sem_trywait`,
# `sem_post`: nothing timed, no value query); [12] [sem_init(3)](https://man7.org/linux/man-pages/man3/sem_init.3.html);
# [13] OpenJDK, [semaphore_bsd.cpp](https://github.com/openjdk/jdk/blob/master/src/hotspot/os/bsd/semaphore_bsd.cpp)
# ("OS X doesn't support unamed POSIX semaphores", so HotSpot uses Mach semaphores there);
# [14] FreeBSD [sem_init(3)](https://man.freebsd.org/cgi/man.cgi?query=sem_init&sektion=3)
# ("a shared semaphore that can be used by multiple processes"); [15] [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html);
# [16] FreeBSD [mqueuefs(4)](https://man.freebsd.org/cgi/man.cgi?query=mqueuefs) and
# [mq_notify(2)](https://man.freebsd.org/cgi/man.cgi?query=mq_notify&sektion=2);
# [17] [mq_notify(3)](https://man7.org/linux/man-pages/man3/mq_notify.3.html).
# (Outside the table: NetBSD's current semop(2) does list `semtimedop`, and illumos, Solaris
# and AIX ≥ 6.1 have it.)
#
# What the two Python packages report on the machine running this notebook:

# %%
# NBVAL_IGNORE_OUTPUT
import platform
print(platform.system(), platform.release())
print("posix_ipc", posix_ipc.VERSION, {k: getattr(posix_ipc, k) for k in (
    "MESSAGE_QUEUES_SUPPORTED", "SEMAPHORE_TIMEOUT_SUPPORTED", "SEMAPHORE_VALUE_SUPPORTED",
    "SEMAPHORE_VALUE_MAX", "QUEUE_MESSAGE_SIZE_MAX_DEFAULT", "QUEUE_MESSAGES_MAX_DEFAULT")})
print("sysv_ipc", sysv_ipc.VERSION, {k: getattr(sysv_ipc, k) for k in (
    "SEMAPHORE_TIMEOUT_SUPPORTED", "SEMAPHORE_VALUE_MAX", "PAGE_SIZE")})

# %% [markdown]
# Note `sysv_ipc`'s `SEMAPHORE_TIMEOUT_SUPPORTED`: when it is `False`, `acquire(timeout=1)`
# blocks for ever. That is why the course's System V waits go through `semtimedop` itself
# (`ipclab.mechanisms.semset`). The benchmark below is the exception: its System V ping-pong calls
# `sysv_ipc`'s plain `semop` (a ctypes `semtimedop` costs ~0.4 µs more per call, which would
# measure ctypes, not the kernel), bounded by a run-wide alarm; its C twin does the same.
#
# ## 10. Measured: POSIX against System V
#
# `ipclab.bench.runner` runs a producer and a consumer in two real processes, sends messages of a
# given size for a fixed *time* (not count), and the consumer checks every message (the
# sequence number at both ends; through a shared-memory ring every payload byte, compared in
# place; through a queue the CRC-32 of one payload in 16). Warm-up is excluded, buffers and
# mappings are touched before timing, each point is repeated. Here the runs are tiny (0.2 s)
# so the notebook stays quick: **numbers this short are noisy**; `ipclab bench` in a terminal
# runs longer (with a progress bar; `progress=True` here shows one too). The shared-memory
# rings use one semaphore handshake per quarter ring.

# %%
# NBVAL_IGNORE_OUTPUT
pairs = ["posix_shm", "sysv_shm", "posix_mq", "sysv_mq"]
records = bench.run(pairs, [64, 8192, 1 << 20], max_seconds=0.2, repeats=2,
                    latency_mechanisms=["posix_sem", "sysv_sem", "posix_mq", "sysv_mq"],
                    start_method="fork", progress=False)
print(bench.format_table(records))

# %% [markdown]
# Every run above really moved its bytes and checked them (how: the `check` of each record);
# sizes a queue cannot carry are skipped with the limit that forbids them:

# %%
for r in records:
    if r["kind"] == "throughput":
        print(f"{r['mechanism']:<10} {bench.human(r['size']):>7}: "
              + (f"skipped: {r['skipped']}" if r["skipped"] else
                 f"integrity {r['integrity']}, payloads verified: {r['crc_checked'] > 0} ({r['check']})"))

# %%
# NBVAL_IGNORE_OUTPUT
fig = bench_plots.bandwidth(records, title="POSIX vs System V: throughput (0.2 s runs: noisy)")
style.show(fig)
fig = bench_plots.latency([r for r in records if r["kind"] == "latency"])
style.show(fig)
hist = next(r for r in records if r["kind"] == "latency" and r["mechanism"] == "sysv_sem")
fig = bench_plots.histogram(hist)
style.show(fig)
print(f"sysv_sem round trips: median {hist['median_us']:.1f} us, p99 {hist['p99_us']:.0f} us "
      f"(p99 / median = {hist['p99_us'] / hist['median_us']:.1f})")
mq = {r["mechanism"]: r for r in records if r["kind"] == "throughput" and not r["skipped"] and r["size"] == 8192}
print("chapter: message queues ~2 GB/s; measured at 8 KiB:",
      ", ".join(f"{m} {r['gbps']:.2f} GB/s" for m, r in mq.items() if m.endswith("_mq")))
shm = {(r["mechanism"], r["size"]): r for r in records
       if r["kind"] == "throughput" and not r["skipped"] and r["mechanism"] in ("posix_shm", "sysv_shm")}
for size in sorted({s for _, s in shm}):
    p, v = shm.get(("posix_shm", size)), shm.get(("sysv_shm", size))
    if p and v:
        apart = p["gbps_min"] > v["gbps_max"] or v["gbps_min"] > p["gbps_max"]
        print(f"shared-memory ring at {bench.human(size)} ({p['slots']}/{p['batch']}): posix_shm / sysv_shm = "
              f"{p['gbps'] / v['gbps']:.2f}x; phases {p['gbps_min']:.2f}-{p['gbps_max']:.2f} against "
              f"{v['gbps_min']:.2f}-{v['gbps_max']:.2f} GB/s: "
              + ("apart (one led in every phase of this run)" if apart else "overlap (this run cannot tell them apart)"))

# %% [markdown]
# How to read it:
#
# * **Shared memory** is the same memory in both families (the kernel's shmem pages); what
#   differs is the handshake around it. POSIX semaphores skip the system call whenever
#   nobody has to sleep or be woken (`sem_post`/`sem_wait` are futex operations in user
#   space); every System V `semop` is a system call. How much that buys depends on the job.
#   Where handshakes are rare (large messages, batched rings: one per quarter ring) the
#   saved system calls are few, so the two rings should come out close; the "shared-memory
#   ring" lines above compare them size by size and say whether their slowest and fastest
#   phases overlap. A gap in a run this short is not yet a finding: two phases of 0.09 s
#   are moved by whatever else the machine did (notebook 00 runs the same rings and may
#   rank them differently), so rerun it, or run `ipclab bench --seconds 1`, before you
#   believe one. In a ping-pong every wait sleeps, so both make a system call each time
#   (compare the latency bars); in the textbook ring below, one handshake per message,
#   part of the waits find a token and POSIX skips those calls.
# * **Queues**: both copy each message into the kernel and out again. Their limits differ:
#   a POSIX queue holds `msg_max` messages (10 by default), a System V queue holds `msgmnb`
#   *bytes* (16 KiB by default: only two 8 KiB messages), so at 8 KiB the System V producer
#   sleeps far more often. At 64 B it is the other way round: 16 KiB of System V queue holds
#   256 messages where the POSIX queue holds 10, so there the POSIX producer sleeps more.
#   1 MiB is over both default size limits and is skipped.
# * **Latency**: a round trip is two wake-ups of a sleeping process; a wake-up on the *other*
#   CPU costs several microseconds more (on a VM the interrupt goes through the hypervisor),
#   so an unpinned result depends on where the scheduler put each side, and can mix both
#   cases. The histogram shows how this run's round trips spread, and the line under it
#   gives the median and the 99th percentile: a p99 several times the median means some
#   round trips paid for something else (a cross-CPU wake-up, an interrupt, another
#   process on the CPU). Whether they form a second hump depends on the run.
#   `bench.latency(..., pin="same")` or `"cross"` measures one case at a time.
# * The chapter's table gives message queues "~2 GB/s" and mmap "~8 GB/s" below shared
#   memory "~10 GB/s". The line above prints what the queues did here; and a mapping of a
#   file and a POSIX segment are the same kind of memory (pages of the page cache or of
#   tmpfs), so they do not differ by a factor: what differs is how the data gets there.
# * From Python each message also pays the interpreter's overhead (about a microsecond);
#   the C twin in `bench/` runs the same protocol, and `bench/compare.py` prints the ratio.
#
# What the chapter's table hides: the cost per *message*. A 4-slot ring with one semaphore
# handshake per message moves fewer 64-byte messages a second than a pipe, because nearly
# every message wakes a sleeping process. A 256-slot ring with a handshake per quarter ring
# pays once per *batch*: the producer copies 64 framed 64-byte messages (4 KiB) into 64
# slots with one copy, the consumer checks all of them in place with one comparison. So the
# rates below count 64-byte messages moved in 4 KiB batches, not independent sends.
# `bench/README.md` records two longer runs of this same 256/64 ring (`bench/compare.py`'s
# point "64 B ring 256/64" is `bench.throughput("posix_shm", 64, slots=256, batch=64)`,
# the call `bench.ring_depth` makes here: same framing, same batches, same checks): 25 and
# 15 million messages a second from Python, 33 and 25 million from the C twin, in timed
# phases of 0.24 and 0.45 s with nothing else running on the machine. The code being the
# same, what can differ here is the conditions, and the last two lines of the cell print
# them: this run's rate as a fraction of those records, its phase length, and the
# machine's load average (a ring whose two processes must share their CPUs with others
# may wait for a CPU at every handshake that wakes a sleeper).
# Here is the ring's producer (the consumer mirrors it): one wait for an empty token, one
# copy of a whole batch into the ring, one post of full, per batch:

# %%
show(transports._ring_producer, mark=["wait_empty()", "ring[off:off + kn] = src", "post_full()"])

# %% [markdown]
# Measure it here; the line "best ring" says what this run did:

# %%
# NBVAL_IGNORE_OUTPUT
depth = bench.ring_depth(64, depths=(4, 64, 256), max_seconds=0.2, repeats=2, progress=False)
pipe64 = bench.throughput("pipe", 64, max_seconds=0.2, repeats=2)
fig = bench_plots.ring_depth(depth + [pipe64])
style.show(fig)
for r in depth:
    print(f"{r['slots']:>4} slots, a handshake every {r['batch']:>3} messages: {r['msgs_per_s']:>10,.0f} messages/s")
print(f"pipe, 64 B messages: {pipe64['msgs_per_s']:,.0f} messages/s")
textbook = next(r for r in depth if (r["slots"], r["batch"]) == (4, 1))
best = max(depth, key=lambda r: r["msgs_per_s"])
print(f"best ring: {best['msgs_per_s'] / 1e6:.1f} million 64-byte messages a second, "
      f"moved {best['batch']} at a time ({best['batch'] * 64 // 1024} KiB per handshake)")
print(f"best ring ({best['slots']}/{best['batch']}) vs textbook ring (4/1): "
      f"{best['msgs_per_s'] / textbook['msgs_per_s']:.1f}x; "
      f"textbook ring vs pipe: {textbook['msgs_per_s'] / pipe64['msgs_per_s']:.2f}x")
README_256_64 = {"run 1": (24.981e6, 0.24), "run 2": (14.973e6, 0.45)}  # bench/README.md: Python, msg/s, phase s
ring = next(r for r in depth if (r["slots"], r["batch"]) == (256, 64))
print(f"256/64 ring here: {ring['msgs_per_s'] / 1e6:.2f} million/s in timed phases of {ring['phase_s']:.2f} s; "
      + "; ".join(f"{ring['msgs_per_s'] / rate:.2f}x bench/README.md's {run} ({rate / 1e6:.1f} million/s, "
                  f"phases of {phase} s)" for run, (rate, phase) in README_256_64.items()))
print(f"load average over the last minute: {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} usable CPUs "
      f"(bench/README.md's runs: 0.75-1.69, the benchmark's own two processes)")

# %% [markdown]
# The textbook ring is where the handshake is most frequent: one post and one wait per
# message. Here the two families meet on exactly that job, the same 4-slot ring of 64-byte
# messages, with POSIX semaphores and with a System V set:

# %%
# NBVAL_IGNORE_OUTPUT
# C, per message: POSIX sem_timedwait(empty) ... sem_post(full); System V semtimedop(id, {0,-1,0}, &ts) ... semop(id, {1,+1,0})
for mech in ("posix_shm", "sysv_shm"):
    r = bench.throughput(mech, 64, max_seconds=0.3, repeats=2, slots=4, batch=1)
    print(f"{mech:<10} 4 slots, a handshake per message: {r['msgs_per_s']:>10,.0f} messages/s")

# %% [markdown]
# > **Try it.** Run `bench.latency("posix_sem", pin="same", max_seconds=0.5)` and
# > `pin="cross"` and compare the medians: that gap is the cost of waking a process on another CPU.
# > [answer](answers/04_posix_vs_sysv_answers.ipynb#try-it-5)
#
# ## 11. Migration guide: System V → POSIX
#
# | System V | POSIX | trap |
# | --- | --- | --- |
# | `ftok(path, id)` | choose `"/app-name"` | names are global per machine: add the user/app; max 255 chars (31 on macOS) |
# | `shmget(key, size, IPC_CREAT\|0600)` | `shm_open(name, O_CREAT\|O_RDWR, 0600)` + `ftruncate(fd, size)` | forget `ftruncate` and `mmap` gives `SIGBUS`; the mode is cut by the umask |
# | `shmat(id, NULL, 0)` / `shmdt` | `mmap(..., MAP_SHARED, fd, 0)` / `munmap` | the fd can be closed after `mmap` |
# | `shmctl(id, IPC_RMID)` | `shm_unlink(name)` | both: the memory stays until the last unmap |
# | `semget(key, N, ...)` (a set) | N × `sem_open` (or `sem_init` in shared memory) | **no atomic multi-semaphore operation**: redesign to one lock, or lock ordering |
# | `semop(..., SEM_UNDO)` | — | **no undo**: a dead holder keeps the lock; use a robust pthread mutex |
# | `semop` with `sem_op = 0` (wait for zero) | — | no equivalent; use a condition variable or a counter |
# | `semtimedop` | `sem_timedwait` | `sem_timedwait` takes an **absolute** deadline on `CLOCK_REALTIME` (sem_timedwait(3)), so a clock change (NTP step, `date -s`) moves it; `semtimedop` takes a relative timeout. glibc ≥ 2.30 has `sem_clockwait(sem, CLOCK_MONOTONIC, &abs)`, adopted by POSIX.1-2024 ([glibc manual](https://www.gnu.org/software/libc/manual/html_node/Waiting-with-Explicit-Clocks.html)) |
# | `semctl(SETVAL)` at creation | `sem_open(..., value)` | POSIX initialises atomically at creation: the System V init race disappears |
# | `msgget` / `msgsnd` / `msgrcv` | `mq_open` / `mq_send` / `mq_receive` | message **types** become priorities (highest first); receive-by-type has no equivalent; `mq_receive` needs a buffer ≥ `mq_msgsize` |
# | `msgctl(IPC_STAT)` | `mq_getattr` | |
# | polling with `IPC_NOWAIT` | `mq_notify`, or `O_NONBLOCK` + `epoll` (Linux) | `mq_notify` fires once per registration, and only on empty → non-empty |
# | `ipcs` / `ipcrm` | `ls` / `rm` in `/dev/shm`, `/dev/mqueue` | `/dev/mqueue` may need mounting (Docker) |
#
# ## 12. Decision guide
#
# * **New code on Linux**: POSIX. File-like names, descriptors, `mmap`, `mq_notify`,
#   semaphores that do not enter the kernel when uncontended.
# * **You need several semaphores changed atomically, or `SEM_UNDO`**: System V semaphores
#   (or redesign: one robust mutex in shared memory).
# * **You need to receive messages selectively by type**: System V queues.
# * **macOS**: no POSIX message queues, no `sem_timedwait`, no unnamed semaphores (section 9):
#   System V queues, or sockets. The chapter advises "privilégier POSIX pour la portabilité
#   maximale"; in fact, across Linux, macOS and FreeBSD the System V calls (without
#   `semtimedop`) are the more portable set, and POSIX IPC is the better API where it exists
#   in full.
# * **Very many small messages**: neither family's per-message handshake; a ring in shared
#   memory with batched wake-ups, or a stream socket/pipe (section 10).
# * **Existing System V code that works**: leave it; it is fully supported. Migrate when you
#   touch it, following the table above.
#
# ## Summary
#
# * Both families do the three jobs; the code is line for line alike, the C calls differ.
# * System V: numeric keys (`ftok` collides and is shared by all users), ids, `ipcs`;
#   semaphore sets, atomic multi-ops, `SEM_UNDO`, message types.
# * POSIX: `/names`, descriptors, `/dev/shm` and `/dev/mqueue`; `mq_notify`; initialisation
#   at creation; no undo, no sets.
# * Objects of both families outlive their creator until removed: create with `EXCL`,
#   remove in `finally`, inspect with `ipcs` and `ls`.
# * Measured, shared memory is only as fast as its handshakes; queues are bounded by their
#   message-size limits; latency depends on which CPU wakes up.
#
# ## Exercises
#
# 1. Rewrite job 1 for a ring of 8 slots in both families. In System V, use a single
#    `semop` on the set where it helps. Which family needs fewer system calls per message?
#    Check with `strace -c -f`. [answer](answers/04_posix_vs_sysv_answers.ipynb#exercise-1)
# 2. Write, in C, a robust mutex in POSIX shared memory (`pthread_mutexattr_setpshared`,
#    `pthread_mutexattr_setrobust`), kill its holder, and handle `EOWNERDEAD` with
#    `pthread_mutex_consistent`. Compare with section 4. [answer](answers/04_posix_vs_sysv_answers.ipynb#exercise-2)
# 3. With `ipclab bench --mechanisms posix_mq,sysv_mq --sizes 64,1K,4K,8K --seconds 2 --latency ''`,
#    find the size where the two queues differ most. Raise `/proc/sys/fs/mqueue/msgsize_max`
#    (as root) and measure 64 KiB POSIX messages. [answer](answers/04_posix_vs_sysv_answers.ipynb#exercise-3)
# 4. Port a System V program that uses message types 1 and 2 for requests and replies to
#    POSIX queues. What replaces the types? [answer](answers/04_posix_vs_sysv_answers.ipynb#exercise-4)
# 5. Run `python bench/compare.py` and explain each point where Python falls short of C (a
#    rate ratio below 1, a time ratio above 1): which calls does Python add per message?
#    [answer](answers/04_posix_vs_sysv_answers.ipynb#exercise-5)
#
# **Next:** [19.5 memory-mapped files](05_mmap.ipynb).
#
# ## References
#
# * Overviews: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html).
# * System calls and functions used: [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
#   [ftruncate(2)](https://man7.org/linux/man-pages/man2/ftruncate.2.html),
#   [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html),
#   [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
#   [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html) (`sem_timedwait`),
#   [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
#   [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html),
#   [mq_open(3)](https://man7.org/linux/man-pages/man3/mq_open.3.html),
#   [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html),
#   [mq_receive(3)](https://man7.org/linux/man-pages/man3/mq_receive.3.html),
#   [mq_notify(3)](https://man7.org/linux/man-pages/man3/mq_notify.3.html),
#   [mq_getattr(3)](https://man7.org/linux/man-pages/man3/mq_getattr.3.html),
#   [mq_unlink(3)](https://man7.org/linux/man-pages/man3/mq_unlink.3.html),
#   [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
#   [shmop(2)](https://man7.org/linux/man-pages/man2/shmop.2.html),
#   [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
#   [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html) (`semtimedop`),
#   [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html) (`union semun`),
#   [sem_getvalue(3)](https://man7.org/linux/man-pages/man3/sem_getvalue.3.html),
#   [sem_close(3)](https://man7.org/linux/man-pages/man3/sem_close.3.html),
#   [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (`EINTR`, `SA_RESTART`),
#   [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html),
#   [setitimer(2)](https://man7.org/linux/man-pages/man2/setitimer.2.html),
#   [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html),
#   [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html),
#   [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
#   [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
#   [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
#   [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html).
# * POSIX.1-2017: [Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/)
#   (XSI IPC: `semop`, `msgrcv`...; realtime: `sem_timedwait`, `mq_notify`...); POSIX.1-2024
#   adds `sem_clockwait`.
# * M. Kerrisk, *The Linux Programming Interface* (2010): ch. 44 (pipes and FIFOs), 45-48
#   (System V IPC, message queues, semaphores, shared memory), 51-54 (POSIX IPC, message
#   queues, semaphores, shared memory), 55 (file locking); W. R. Stevens and S. Rago,
#   *Advanced Programming in the UNIX Environment*, 3rd ed., ch. 15 (IPC).
# * Kernel limits: [Documentation/admin-guide/sysctl/kernel.rst](https://docs.kernel.org/admin-guide/sysctl/kernel.html)
#   (`msgmax`, `msgmnb`, `msgmni`, `sem`, `shmmax`, `shmmni`) and
#   [fs.rst](https://docs.kernel.org/admin-guide/sysctl/fs.html) (`mqueue/msg_max`,
#   `msgsize_max`, `queues_max`); [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
#   (`RLIMIT_MSGQUEUE`).
# * Other systems: the sources of the portability table (section 9).
#
# How long this notebook took to run, here and now (the header's running time is this
# number, measured when the notebook was built):

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
