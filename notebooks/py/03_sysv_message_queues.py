# %% [markdown]
# # 19.3 System V message queues: typed messages, filtering, priorities, patterns
#
# A pipe carries a stream of bytes: the reader has to find where one message ends and the
# next begins, and it always reads them in order. A **System V message queue** carries
# *messages*: each one keeps its length, and each one carries a **type**, a positive
# `long`, that the reader can use to choose *which* message it takes. With that single
# number the chapter builds private reply channels, priorities and broadcast.
#
# **Learning goals.** After this notebook you can
# 1. create, use, inspect and remove a queue: `msgget`, `msgsnd`, `msgrcv`, `msgctl`
#    (`IPC_STAT` fields, `ipcs -q`), and the Python call next to each;
# 2. predict what `msgrcv` returns for `type = 0`, `type > 0` and `type < 0` on the same
#    queue contents, and use negative types as priorities;
# 3. send a C `struct` as a message, and payloads longer than `msgmax` in frames;
# 4. reason about blocking: a full queue (`msgmnb`), an empty queue, `IPC_NOWAIT`, timeouts,
#    and a queue removed under a waiting reader;
# 5. build the chapter's patterns on real processes: client-server with replies addressed
#    by `type = client pid`, a worker pool (and measure it), a centralised logger with
#    priorities, and broadcast.
#
# **Time:** about 39 min: reading about 38 min (5,670 words of text and code at 150 words a
# minute), running about 1 min (every cell executed with nbclient: 50 s in a build on a
# shared 2-CPU machine; the last cell prints the time of this build, or of yours); the
# Try-it prompts, the break-it step and the exercises come on top (not measured).
# **Prerequisites:** notebook 00 (processes, System V keys), `struct` in C. Every prompt has an answer in
# [`answers/03_sysv_message_queues_answers.ipynb`](answers/03_sysv_message_queues_answers.ipynb).
#
# **How to read the code.** `ipclab.mechanisms.msgq` is a thin layer over
# [sysv_ipc](https://github.com/osvenskan/sysv_ipc)'s `MessageQueue`: every call is a real
# `msgsnd`/`msgrcv` on a real kernel queue. Each call says, once, in a `# C:` comment, which
# system call it makes. The client and the server of section 7 are written in a cell
# (`%%worker`: the cell becomes a module every process imports, under fork, forkserver and
# spawn), so you can change them and run them again. The other processes (the pool worker,
# the logger, the listeners) live in
# [`ipclab/experiments/msgq_demos.py`](../ipclab/experiments/msgq_demos.py); each is shown,
# with the lines that matter marked `>>`, right before it runs.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import math
import os
import struct
import time

import sysv_ipc

from ipclab import doctor, msgq, objects, procs
from ipclab import msgq_demos as demos
from ipclab.experiments import queue_pitfalls
from ipclab.core.errors import LimitReached, ObjectGone, WaitTimeout
from ipclab.mechanisms import ccell
from ipclab.presentation.glass import show
from ipclab.presentation.plots import msgq as msgq_plots, style

T0 = time.monotonic()
doctor.setup_notebook("msgmax", "msgmnb", "ipcs", "gcc")
ccell.load()  # registers %%worker: a cell that becomes an importable module (fork, forkserver, spawn)
LIM = msgq.limits()  # C: cat /proc/sys/kernel/msgmax /proc/sys/kernel/msgmnb /proc/sys/kernel/msgmni
print(LIM)

# %% [markdown]
# ## 1. The four calls
#
# In C a message is a struct whose first field is the type:
#
# ```c
# struct msgbuf { long mtype; char mtext[N]; };      /* mtype must be > 0 */
#
# int     msqid = msgget(key, IPC_CREAT | IPC_EXCL | 0600);   /* create (or find) a queue */
# int     rc    = msgsnd(msqid, &msg, len, 0);                /* copy len bytes of mtext in */
# ssize_t n     = msgrcv(msqid, &msg, sizeof msg.mtext, type, 0);  /* copy one message out */
# msgctl(msqid, IPC_STAT, &ds);  msgctl(msqid, IPC_SET, &ds);  msgctl(msqid, IPC_RMID, NULL);
# ```
#
# sysv_ipc gives the same calls: `MessageQueue(key, IPC_CREX)` is `msgget`, `q.send(data,
# block, type)` is `msgsnd` (with `block=False` it adds `IPC_NOWAIT`), `q.receive(block,
# type)` is `msgrcv` and returns `(data, type)`, `q.remove()` is `msgctl(IPC_RMID)`.
# `msgq.queue()` creates one through `ipclab.core.objects` (a fresh key, mode 0600, registered so
# nothing leaks) and removes it when the `with` block ends.

# %%
with msgq.queue() as q:  # C: msqid = msgget(key, IPC_CREAT|IPC_EXCL|0600); msgctl(msqid, IPC_RMID, NULL) at the end
    q.send(b"hello", block=False, type=1)  # C: msgsnd(msqid, &(struct msgbuf){1, "hello"}, 5, IPC_NOWAIT)
    q.send(b"world", block=False, type=2)
    data, mtype = q.receive(block=False)   # C: n = msgrcv(msqid, &buf, sizeof buf.mtext, 0, IPC_NOWAIT)
    print(f"received {data!r} of type {mtype}; still queued: {q.current_messages}")
    try:
        q.receive(block=False, type=7)    # nothing of type 7: msgrcv fails with ENOMSG
    except sysv_ipc.BusyError as e:
        print("type 7 with IPC_NOWAIT:", e)

# %% [markdown]
# Two things to notice. The message boundaries survive: `receive` returned exactly the five
# bytes that were sent, never a mix. And with `IPC_NOWAIT` an impossible wish fails at once
# (`ENOMSG`, sysv_ipc's `BusyError`). Without it, `msgrcv` sleeps until a matching message
# arrives, for ever if none does. That is why the rest of this notebook uses `msgq.send`
# and `msgq.receive`: the same calls, plus a **timeout** (section 4 shows how it is built).
#
# The queue lives in the kernel, not in our process: `ipcs -q` lists it, with the bytes and
# messages it holds.

# %%
# NBVAL_IGNORE_OUTPUT
with msgq.queue() as q:
    for word in (b"one", b"two", b"three"):
        msgq.send(q, word, type=1, timeout=5)  # C: msgsnd(msqid, &msg, len, 0), waiting at most 5 s for room
    print(msgq.ipcs_q(q))                      # C: what `ipcs -q` reads: /proc/sysvipc/msg

# %% [markdown]
# `used-bytes` is 11 (3 + 3 + 5: only the payloads count, not the types) and `messages` is 3.
#
# > **Try it.** Run `!ipcs -q` in a cell of its own while the `with` block above is still
# > open (put a `time.sleep(30)` in it). Then run it again after: the queue is gone, because
# > leaving the block called `msgctl(IPC_RMID)`. A System V queue that nobody removes
# > survives its creator until reboot: that is what `ipcrm -q` is for.
# > ([answer](answers/03_sysv_message_queues_answers.ipynb#try-1))
#
# ## 2. Types and filtering: three ways to read the same queue
#
# `msgrcv`'s `type` argument chooses the message:
#
# | `type` | takes | use |
# | --- | --- | --- |
# | `0` | the first message in the queue, whatever its type | plain FIFO |
# | `n > 0` | the first message whose type is exactly `n` | private channels (`n` = a pid) |
# | `-n < 0` | the first message of the **lowest** type `<= n` | priorities (1 = most urgent) |
#
# The same six messages, sent in the same order, read three ways: each reader takes what
# matches until nothing does, and we look at what it took and what it left behind.
#
# **Predict.** The queue holds, in this order, `info-1` (type 3), `ERROR-1` (1), `warn-1`
# (2), `ERROR-2` (1), `info-2` (3), `warn-2` (2). For each of `type = 0`, `2` and `-2`:
# which messages does the reader take, in what order, and which stay?

# %%
SAMPLE = [(b"info-1", 3), (b"ERROR-1", 1), (b"warn-1", 2), (b"ERROR-2", 1), (b"info-2", 3), (b"warn-2", 2)]

with msgq.queue() as q:
    results = {}
    for flt in (0, 2, -2):
        for data, t in SAMPLE:
            msgq.send(q, data, type=t, timeout=5)
        taken = msgq.drain(q, type=flt)  # C: while (msgrcv(msqid, &buf, size, flt, IPC_NOWAIT) != -1) ...
        results[flt] = (taken, msgq.drain(q))
print("read the same six messages three ways")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
for flt, (taken, left) in results.items():
    print(f"type {flt:>2}: took {[d.decode() for d, _ in taken]}")
    print(f"          left {[d.decode() for d, _ in left]}")

# %% [markdown]
# * `type 0` is a plain FIFO: everything, in the order it was sent.
# * `type 2` took only the two `warn` messages, in their order, and left the others in
#   place: filtering never reorders messages of one type, and never loses the rest.
# * `type -2` took every message of type 1 first, then type 2, and left type 3 (above the
#   bound). Within one type the order is still FIFO.
#
# ## 3. Priorities
#
# A negative type turns one queue into a priority queue: make the type the priority, 1 the
# most urgent, and always receive with `-LOWEST`. The order in which messages were *sent*
# no longer matters, only their type, and first-come first-served within a type.

# %%
URGENCY = {1: "ERROR", 2: "WARNING", 3: "INFO", 4: "DEBUG"}
arrivals = [3, 4, 1, 3, 2, 4, 1, 3]

with msgq.queue() as q:
    for seq, level in enumerate(arrivals):
        msgq.send(q, f"{URGENCY[level]}#{seq}".encode(), type=level, timeout=5)
    served = [msgq.receive(q, type=-4, timeout=5)[0].decode() for _ in arrivals]  # C: msgrcv(..., -4, 0)
print("sent:  ", [f"{URGENCY[lv]}#{i}" for i, lv in enumerate(arrivals)])
print("served:", served)
print("most urgent first, FIFO within a level:", served == [f"{URGENCY[lv]}#{i}" for i, lv in
                                                          sorted(enumerate(arrivals), key=lambda p: p[1])])

# %% [markdown]
# > **Try it.** Receive with `type=-2` instead of `-4`. Which messages are served, and where
# > do the others go? Then imagine a producer that sends an `ERROR` every millisecond: what
# > happens to the `DEBUG` messages? (This is *starvation*; a strict priority queue has it
# > by design.) ([answer](answers/03_sysv_message_queues_answers.ipynb#try-2))
#
# Linux also has the flag `MSG_EXCEPT` (`type > 0`: the first message whose type is *not*
# `type`); sysv_ipc does not expose it.
#
# ## 4. Blocking, `IPC_NOWAIT` and timeouts
#
# Two situations make a call wait:
#
# * `msgrcv` on a queue with no matching message sleeps until one arrives;
# * `msgsnd` on a **full** queue sleeps until a reader makes room. A queue is full when its
#   bytes would exceed its capacity `msg_qbytes` (sysv_ipc's `max_size`, `msgmnb` =
#   16384 bytes by default).
#
# The kernel has no timed `msgrcv`/`msgsnd`, and sysv_ipc only offers `block=True` (wait
# for ever) or `block=False` (`IPC_NOWAIT`: fail at once). `ipclab.mechanisms.msgq` builds the timeout
# from `IPC_NOWAIT` honestly: it retries the real call with short pauses (0.2 ms, growing
# to 5 ms) until the deadline, then raises `WaitTimeout` saying what waited for what. Every
# attempt is a real `msgsnd`/`msgrcv`, so the kernel's ordering rules are untouched; the
# price is that a waiter notices a new message up to 5 ms late, and **fairness**: a process
# asleep in a blocking `msgrcv` is queued in the kernel, and a new message goes straight to
# the first sleeping receiver that matches (`pipelined_send` in
# [ipc/msg.c](https://github.com/torvalds/linux/blob/master/ipc/msg.c)); a poller is in no
# queue, and gets a message only if its next attempt comes before anyone else's. Order is
# kept, turns are not: section 7.1 uses exactly this to let a sleeping process steal a
# poller's reply. (The other way, a blocking
# `msgrcv` interrupted by `alarm()`, works only in the main thread and fights with anyone
# else's alarm.)
#
# First, a reader on an empty queue:

# %%
with msgq.queue() as q:
    print("IPC_NOWAIT on an empty queue:", msgq.try_receive(q))  # C: msgrcv(..., IPC_NOWAIT) == -1, errno ENOMSG
    t0 = time.monotonic()
    try:
        msgq.receive(q, type=5, timeout=0.5)
    except WaitTimeout as e:
        waited = time.monotonic() - t0
        print(f"{type(e).__name__}: {e}")
print("waited at least the timeout:", waited >= 0.5)

# %% [markdown]
# Now a full queue. We shrink its capacity to 100 bytes (`msgctl(IPC_SET)` with
# `msg_qbytes = 100`), put 80 bytes in it, and try to send 80 more: the send waits, then
# times out. Then a reader in **another process** takes the first message while we wait
# again: this time our send goes through.

# %%
with msgq.queue() as q:
    msgq.set_max_bytes(q, 100)  # C: msgctl(msqid, IPC_STAT, &ds); ds.msg_qbytes = 100; msgctl(msqid, IPC_SET, &ds)
    msgq.send(q, b"a" * 80, type=1, timeout=5)
    print("room for 80 more bytes now?", msgq.try_send(q, b"b" * 80, type=2))  # C: msgsnd(..., IPC_NOWAIT): EAGAIN
    try:
        msgq.send(q, b"b" * 80, type=2, timeout=0.5)
    except WaitTimeout as e:
        print(f"{type(e).__name__}: {e}")
    with procs.start(demos.timed_receiver, [(q.key, 1, 10)], start_method="forkserver", timeout=30) as reader:
        msgq.send(q, b"b" * 80, type=2, timeout=10)   # waits until the reader's msgrcv makes room
        outcome, data, mtype = reader.join()[0]
    print(f"the reader {outcome} {len(data)} bytes of type {mtype}; our send then went through")
    print("queue now holds:", msgq.state(q).messages, "message(s),", msgq.state(q).bytes, "bytes")

# %% [markdown]
# And a reader in another process, waiting with a timeout: once for a message that never
# comes, once for one we send while it waits.

# %%
with msgq.queue() as q:
    print("nobody sends:  ", procs.run(demos.timed_receiver, [(q.key, 0, 0.5)],
                                       start_method="forkserver", timeout=30)[0])
    with procs.start(demos.timed_receiver, [(q.key, 0, 10)], start_method="forkserver", timeout=30) as reader:
        msgq.send(q, b"here you are", type=3, timeout=5)
        print("we send type 3:", reader.join()[0])

# %% [markdown]
# ### Removing a queue under a waiting reader
#
# `msgctl(IPC_RMID)` removes a queue *at once*, even while processes wait on it: every
# sleeping `msgrcv`/`msgsnd` wakes up with the error `EIDRM`, and any later call gets
# `EINVAL`. A queue has no reference count (unlike a file, or POSIX objects, which live on
# while open). To see it, a child makes a **plain blocking** `msgrcv` (sysv_ipc, no
# timeout); we check in `/proc/PID/syscall` that it is asleep in `msgrcv`, then remove the
# queue. (If the protocol were wrong, the `procs` timeout would kill the child.)

# %%
q = objects.create_sysv_msg(max_message_size=LIM.msgmax)  # C: msgget(key, IPC_CREAT|IPC_EXCL|0600)
try:
    with procs.start(demos.raw_blocking_receiver, [(q.key,)], start_method="forkserver", timeout=30) as reader:
        print("reader asleep in msgrcv:", demos.blocked_in_syscall(reader.pids[0], "msgrcv", timeout=10))
        objects.remove_sysv(q)   # C: msgctl(msqid, IPC_RMID, NULL)
        outcome, detail, _ = reader.join()[0]
    print(f"the reader woke up: {outcome} ({detail})")
    try:
        msgq.send(q, b"too late", timeout=1)
    except ObjectGone as e:
        print("sending now:", type(e).__name__)
finally:
    objects.remove_sysv(q)       # harmless if already removed

# %% [markdown]
# > **Try it.** Replace `demos.raw_blocking_receiver` by `demos.timed_receiver` with
# > arguments `(q.key, 0, 10)`: the timed reader notices the removal too (`ObjectGone`), at
# > its next attempt. ([answer](answers/03_sysv_message_queues_answers.ipynb#try-3))
#
# ## 5. The queue's state: `IPC_STAT`
#
# `msgctl(msqid, IPC_STAT, &ds)` fills a `struct msqid_ds`: how many messages
# (`msg_qnum`) and bytes (`msg_cbytes`) are queued, the capacity (`msg_qbytes`), the pid of
# the last sender and receiver (`msg_lspid`, `msg_lrpid`) and when (`msg_stime`,
# `msg_rtime`). sysv_ipc exposes most of them as attributes (`current_messages`, `max_size`,
# `last_send_pid`...); `msgq.state` reads them all, including the byte count, from
# `/proc/sysvipc/msg`.

# %%
with msgq.queue() as q:
    st0 = msgq.state(q)                         # C: msgctl(msqid, IPC_STAT, &ds)
    procs.run(demos.log_source, [(q.key, "child", [3, 1])], start_method="forkserver", timeout=30)
    st1 = msgq.state(q)
    msgq.receive(q, timeout=5)
    st2 = msgq.state(q)
    print(f"new queue:        {st0.messages} messages, {st0.bytes} bytes, capacity {st0.max_bytes} (msgmnb: {st0.max_bytes == LIM.msgmnb})")
    print(f"after the child:  {st1.messages} messages, {st1.bytes} bytes "
          f"({st1.bytes // st1.messages} per record: sizeof(struct log_record) = {demos.LOG_RECORD.size})")
    print("last sender is the child, not us:", st1.last_send_pid not in (0, os.getpid()))
    print(f"after our receive: {st2.messages} message; last receiver is us: {st2.last_receive_pid == os.getpid()}")
    msgq.set_max_bytes(q, 4096)                 # C: msgctl(IPC_SET) with ds.msg_qbytes = 4096
    print("capacity after IPC_SET:", msgq.state(q).max_bytes)

# %% [markdown]
# Lowering the capacity is always allowed to the owner; raising it above `msgmnb` needs
# privilege (`CAP_SYS_RESOURCE`). What does this machine say?

# %%
# NBVAL_IGNORE_OUTPUT
with msgq.queue() as q:
    try:
        msgq.set_max_bytes(q, 4 * LIM.msgmnb)
        print("allowed: capacity is now", msgq.state(q).max_bytes)
    except LimitReached as e:
        print(f"refused: {e}")
    print(msgq.format_state(msgq.state(q), pids={os.getpid(): "this notebook"}))

# %% [markdown]
# ## 6. Structured messages: sending a C struct
#
# A message is bytes. To send a C `struct`, pack its fields in the same layout as the C
# compiler does. `msgq.Record` wraps Python's `struct` with native alignment (`@`), so
# `"i pid; i seq; d time; 48s text"` is
#
# ```c
# struct log_record { int pid; int seq; double time; char text[48]; };   /* 64 bytes */
# ```
#
# and the type travels beside it, as `mtype` does in C. `@` pads *between* fields as the
# compiler does, not at the end, where C pads too (up to its most aligned field, here the
# `double`); so `Record` ends the format with that field's code and a count of zero (`0d`),
# which is how `struct` asks for the tail padding. The proof: a small C program
# ([`ipclab/c/msg_log.c`](../ipclab/c/msg_log.c)) sends records with `msgsnd`, prints
# `sizeof(struct log_record)`, and Python unpacks the records.

# %%
LOG = demos.LOG_RECORD
print(LOG, "| struct.calcsize:", struct.calcsize(LOG.fmt))
with msgq.queue() as q:
    msgq.send(q, LOG.pack(os.getpid(), 0, time.time(), "from Python"), type=2, timeout=5)
    if doctor.skip_unless("gcc"):
        c_size = demos.c_log_sender(q, [(1, "from C: disk full"), (3, "from C: all fine")])  # C: msgsnd x 2
        print("sizeof(struct log_record) in C:", c_size, "| same as Python:", c_size == LOG.size)
    while (m := msgq.try_receive(q, type=-4)) is not None:
        rec = LOG.unpack(m[0])
        print(f"type {m[1]} ({URGENCY[m[1]]:<7}) seq {rec.seq}: {rec.text.decode()}")

# %% [markdown]
# > **Try it.** Change the layout to `"i pid; d time; i seq; 48s text"` (a `double` between
# > two `int`s). How big is the C struct now, and how big does `LOG.size` say it is? (The
# > compiler pads `pid` to align `time` on 8 bytes; look at the end of the struct too.)
# > The C side must change the same way, or the two will read garbage. Formats with `<` or
# > `=` instead of `@` have no padding at all: fine between Python processes, wrong against C.
# > ([answer](answers/03_sysv_message_queues_answers.ipynb#try-4))
#
# ### The other way: a C receiver
#
# Now Python sends and C receives, on a queue Python made: three log records, and one
# message of type 9 that is longer than a record. The C program
# ([`ipclab/c/demos/msg_recv.c`](../ipclab/c/demos/msg_recv.c)) meets the errors a receiver
# must handle (msgop(2)): `ENOMSG` when `IPC_NOWAIT` finds no message of the type asked for;
# `E2BIG` when the message is longer than `msgsz`, in which case the message stays queued;
# `MSG_NOERROR`, which takes it anyway, truncated to `msgsz`; and `EIDRM` for a process asleep
# in `msgrcv` when the queue is removed. An expected failure is printed with `errno`'s name
# and text; any other ends the program through `perror`. Its `main`:

# %%
from ipclab.core import cbuild
src = (cbuild.C_DIR / "demos" / "msg_recv.c").read_text()  # the C text: edit src to change the program
print(src[src.index("int main"):].strip())

# %%
import io

if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with msgq.queue() as q:
        for seq, (level, text) in enumerate([(3, "info from Python"), (1, "error from Python"),
                                             (4, "debug from Python")]):
            msgq.send(q, LOG.pack(os.getpid(), seq, time.time(), text), type=level, timeout=5)
        msgq.send(q, bytes(100), type=9, timeout=5)     # 100 bytes: longer than a record
        run = ccell.run_c(src, f"--name msg_recv --args {q.id} --timeout 20 --expect ok",
                          out=io.StringIO())            # gcc's command line: not printed
        print(run.stdout.rstrip())
        print("C's sizeof(struct log_record) = Python's LOG.size:",
              "yes" if f"sizeof(struct log_record) = {LOG.size}\n" in run.stdout else "no")
        try:
            msgq.state(q)                               # C: msgctl(msqid, IPC_STAT, &ds)
            gone = False
        except ObjectGone:
            gone = True
        print("Python: the queue is gone after C's IPC_RMID:", "yes" if gone else "no")

# %% [markdown]
# The records came out most urgent first (type 1, then 3, then 4), each exactly
# `sizeof(struct log_record)` bytes. The long message was refused with `E2BIG` and stayed
# queued, until `MSG_NOERROR` took it cut to the 64 bytes asked for (the rest is lost, and
# nothing says so but the length). The child asleep in `msgrcv` woke with `EIDRM` when the
# queue went, and a later call on the same id got `EINVAL`.
#
# > **Try it.** Remove `MSG_NOERROR` from the second `msgrcv` of type 9:
# > `src = src.replace("IPC_NOWAIT | MSG_NOERROR", "IPC_NOWAIT")`, and use `--expect exit=1`.
# > What does the program print, and why does it stop there?
# > ([answer](answers/03_sysv_message_queues_answers.ipynb#try-5))
#
# ### Longer than `msgmax`: framing
#
# One message holds at most `msgmax` bytes (8192 by default). A larger `msgsnd` fails with
# `EINVAL`; `msgq.send` refuses it first and says why:

# %%
with msgq.queue() as q:
    try:
        msgq.send(q, bytes(LIM.msgmax + 1), timeout=5)
    except LimitReached as e:
        print(f"{type(e).__name__}: {str(e).split(':')[0]}")

# %% [markdown]
# `msgq.send_framed` cuts a payload into frames of at most `msgmax` bytes, each with a
# 24-byte header (message id, frame index, frame count, total length);
# `msgq.receive_framed` checks and reassembles them. A 100 kB payload does not even fit in
# the queue (16 kB), so a reader must take frames while we send: a child echoes the payload
# back, framed, on another type.

# %%
payload = os.urandom(100_000)
with msgq.queue() as q:
    with procs.start(demos.framed_echo, [(q.key, 11, 12)], start_method="forkserver", timeout=60) as echo:
        n_frames = msgq.send_framed(q, payload, type=11, timeout=30)
        back = msgq.receive_framed(q, type=12, timeout=30)
        echo.join()
print("frames = ceil(size / (msgmax - header)):", n_frames == math.ceil(len(payload) / msgq.frame_capacity()))
print("payload came back intact:", back == payload)

# %% [markdown]
# Frames of two payloads must not interleave on one type: give each sender its own type
# (its pid, as in the next section), and `receive_framed` raises `FramingError` if they do.
#
# ## 7. Patterns on real processes
#
# ### 7.1 Client-server: replies addressed by `type = client pid`
#
# One queue serves everyone. Requests go with type 1; each request carries the client's
# pid, and the server replies with **type = that pid**. A client then waits with
# `msgrcv(..., type = getpid())`: it can only ever receive its own replies, even with many
# clients and many servers on the same queue.
#
# ```
#  client 4711 ──type 1: (reply_to=4711, id, 7)──►┌───────┐──►  server A
#  client 4712 ──type 1: (reply_to=4712, id, 9)──►│ queue │──►  server B
#  client 4711 ◄──────type 4711: (id, 49)─────────└───────┘◄──  (replies)
# ```
#
# `msgq.call` and `msgq.serve` package this protocol for the labs; here it is written out,
# in a cell that is a module (`%%worker`), so that every process imports it. A request is a
# C struct `{int reply_to; long long x;}`; the server answers `x * x` with **type =
# reply_to**; `reply_to = 0` asks a server to stop. The marked `# C:` lines are the whole
# protocol.

# %%
# %%worker typed_rpc
"""Client and server on one queue: requests on type 1, each reply on type = the client's pid."""
import os
import struct

from ipclab import msgq
from ipclab.core.errors import WaitTimeout

REQUEST = 1
BODY = struct.Struct("=iq")                   # C: struct { int reply_to; long long x; } (packed)


def server(key, timeout=10.0, max_requests=50):
    """Answer x*x to whoever asked, until a stop (reply_to = 0); returns the xs it saw."""
    q = msgq.attach(key)
    seen = []
    while len(seen) < max_requests:
        data, _ = msgq.receive(q, type=REQUEST, timeout=timeout)             # C: msgrcv(id, &m, size, 1, 0)
        reply_to, x = BODY.unpack(data)
        if reply_to == 0:
            break
        seen.append(x)
        msgq.send(q, BODY.pack(os.getpid(), x * x), type=reply_to, timeout=timeout)  # C: m.mtype = reply_to; msgsnd(id, &m, len, 0)
    return seen


def client(key, index, n_requests, timeout=5.0):
    """Ask n squares, wait for each reply on my pid; returns (asked, right, how it ended)."""
    q = msgq.attach(key)
    right = 0
    for i in range(n_requests):
        x = index * 1000 + i + 3             # distinct per client: another client's reply would be wrong
        msgq.send(q, BODY.pack(os.getpid(), x), type=REQUEST, timeout=timeout)  # C: m.mtype = 1; msgsnd(...)
        try:
            data, _ = msgq.receive(q, type=os.getpid(), timeout=timeout)     # C: msgrcv(id, &m, size, getpid(), 0)
        except WaitTimeout:
            return n_requests, right, f"timed out waiting for reply {i}"
        right += BODY.unpack(data)[1] == x * x
    return n_requests, right, "done"


def stop(q, n):
    """One stop message per server."""
    for _ in range(n):
        msgq.send(q, BODY.pack(0, 0), type=REQUEST, timeout=5)

# %% [markdown]
# Two servers, three clients, six requests each; every client checks every answer it gets.

# %%
with msgq.queue() as q:
    with procs.start(typed_rpc.server, n=2, args=(q.key,), start_method="forkserver", timeout=60) as servers:
        answers = procs.run(typed_rpc.client, [(q.key, i, 6) for i in range(3)], start_method="forkserver", timeout=60)
        typed_rpc.stop(q, 2)
        handled = servers.join()
for i, (asked, right, how) in enumerate(answers):
    print(f"client {i}: {right} of {asked} replies were its own, and correct ({how})")
print("requests handled by the two servers:", sum(len(h) for h in handled))

# %% [markdown]
# > **Try it.** What would go wrong if two clients used the same reply type? Change
# > `client` so that every client uses `reply_to = 7` (and receives on type 7), run the cell
# > above again, and read the counts. ([answer](answers/03_sysv_message_queues_answers.ipynb#try-6))
#
# **Break it yourself.** A server that replies on type 1 for everybody: the cell below is
# `typed_rpc` with one change, `type=REQUEST` instead of `type=reply_to` in the server's
# `msgsnd`. One server, one client, one request (`x = 3`); the server stops after at most
# five messages, the client waits 1 s.
#
# **Predict.** What does the client get? What does the server see?

# %%
# %%worker typed_rpc_broken
"""typed_rpc, but the server replies on type 1 (the request type) for everybody."""
import os

from ipclab import msgq
from typed_rpc import BODY, REQUEST, client, stop  # noqa: F401  (the client and the stop are unchanged)


def server(key, timeout=10.0, max_requests=50):
    q = msgq.attach(key)
    seen = []
    while len(seen) < max_requests:
        data, _ = msgq.receive(q, type=REQUEST, timeout=timeout)
        reply_to, x = BODY.unpack(data)
        if reply_to == 0:
            break
        seen.append(x)
        msgq.send(q, BODY.pack(os.getpid(), x * x), type=REQUEST, timeout=timeout)  # BROKEN: was type=reply_to
    return seen

# %%
with msgq.queue() as q:
    with procs.start(typed_rpc_broken.server, [(q.key, 5, 5)], start_method="forkserver", timeout=60) as srv:
        asked, right, how = procs.run(typed_rpc_broken.client, [(q.key, 0, 1, 1.0)],
                                      start_method="forkserver", timeout=60)[0]
        seen = srv.join()[0]
    left = msgq.drain(q)
print("ran 1 server and 1 client with the broken reply type")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
print(f"the client: {right} right replies of {asked} ({how})")
print("the server took as requests:", seen)
print("each was the square of the one before (its own reply, read back as a request):",
      "yes" if all(b == a * a for a, b in zip(seen, seen[1:])) and len(seen) > 1 else "no")
print("left in the queue: one more 'reply' of type 1:", "yes" if [t for _, t in left] == [1] else f"no {left}")

# %% [markdown]
# ### 7.1b Where one queue for everybody breaks, and TLPI's answer
#
# Kerrisk's *The Linux Programming Interface* (§46.7, "Using a single message queue for
# server and clients") lists the problems of this design; each one runs below.
#
# **Replies need room in the queue that requests fill.** A queue has one capacity
# (`msg_qbytes`) for both directions. Twelve clients each send a 64-byte request to a queue
# of 512 bytes: eight fit, four clients wait to send. Then the server starts: taking one
# request frees 64 bytes, its 128-byte reply does not fit, and a waiting client takes the
# freed room anyway. Nobody can move: the server waits for room, the clients wait for
# replies. (Every wait here has a timeout, so the cell ends and tells who waited for what.)

# %%
dead = queue_pitfalls.single_queue_deadlock(nclients=12, capacity=512, timeout=1.0, start_method="forkserver")
print(f"queue when the server started: {dead['messages_when_server_started']} requests, "
      f"{dead['bytes_when_server_started']} of {dead['capacity']} bytes")
print("the server is stuck waiting for room to send its first reply:",
      "yes" if dead["server"][:2] == ("stuck", 0) and "reply" in dead["server"][2] else "no")
print("clients served:", sum(c[0] == "served" for c in dead["clients"]), "of", len(dead["clients"]))
print("left in the queue: requests only:", "yes" if dead["requests_left"] > 0 and dead["replies_left"] == 0 else "no")

# %% [markdown]
# **Any client can read another client's replies.** The type is a label, not an address:
# any process allowed to read the queue (`msgrcv` needs read permission on the queue,
# msgop(2)) can ask for `type = someone else's pid`. Here a victim sends a request and polls
# for its reply; a nosy process sleeps in `msgrcv(type = victim's pid)`; the reply goes to
# the sleeper.

# %%
stolen = queue_pitfalls.stolen_reply(timeout=1.0, start_method="forkserver")
print("the nosy process was asleep in msgrcv before the reply was sent:", stolen["nosy_was_asleep_in_msgrcv"])
print("it read the victim's reply:", "yes" if stolen["nosy"][0] == "read the reply to request" else "no")
print("the victim got:", stolen["victim"][0])

# %% [markdown]
# **A pid is not a safe type.** Requests use type 1 because 1 is the pid of `init`, which is
# never a client (TLPI's argument). Inside a container that is false: in a new PID namespace
# the first process has pid 1 and its first child pid 2 (pid_namespaces(7)), so a client that
# is the container's main process waits with `msgrcv(type = 1)` and receives *requests*; a
# protocol that uses type 2 for something else collides at pid 2. `msgq.send_request`
# refuses such a reply type; with the raw calls, nothing stops it:

# %%
with msgq.queue() as q:
    try:
        msgq.send_request(q, b"hello", reply_type=msgq.REQUEST_TYPE)   # a client whose pid is 1
    except Exception as e:
        print(f"{type(e).__name__}: {str(e).split(':')[0]}")
    msgq.send_request(q, b"another client's request", reply_type=4242)
    data, t = msgq.receive(q, type=1, timeout=5)  # C: msgrcv(id, &buf, size, getpid() == 1, 0)
    print(f"a client with pid 1 waiting for its reply receives a message of type {t}: "
          f"{'a request' if t == msgq.REQUEST_TYPE else 'a reply'}")

# %% [markdown]
# **Pids are reused.** A client that gives up (a timeout, a crash) leaves its late reply in
# the queue, addressed to its pid; when the kernel hands that pid to a new process (pids
# wrap around at `/proc/sys/kernel/pid_max`, and every new PID namespace starts again at 1)
# and the new process is a client, its first receive returns a stranger's reply.
# `msgq.receive_reply` checks the request id for this reason.
#
# **TLPI's answer** (§46.8, its file server): the server reads its own queue, and every
# client gets the replies on a queue of its own (TLPI's clients create it with
# `msgget(IPC_PRIVATE, ...)` and send its id in the request). Replies never compete with
# requests for room, no client can take another's replies unless it can open that queue
# (mode 0600), and no pid is needed as an address. The same twelve clients, the same full
# 512-byte server queue:

# %%
fixed = queue_pitfalls.queue_per_client(nclients=12, capacity=512, timeout=5.0, start_method="forkserver")  # waits bounded, not tight: a loaded machine starts the server slowly
print(f"server queue when the server started: {fixed['bytes_when_server_started']} of {fixed['capacity']} bytes (full)")
print("server:", fixed["server"][0], "| clients served:", sum(c[0] == "served" for c in fixed["clients"]),
      "of", len(fixed["clients"]))

# %% [markdown]
# The price is one queue per client (the system-wide limit `msgmni`, and a server that must
# cope with a client's queue that has disappeared), which is why TLPI weighs both designs.
#
# ### 7.2 A worker pool, measured
#
# A task queue feeding a pool is the same code: the parent sends all the tasks (type 1),
# the workers take them as they become free, and reply to the parent's pid. How does
# throughput grow with the number of workers? It depends on what a task does. A CPU-bound
# task needs a CPU; a task that mostly *waits* (disk, network: here a 1 ms sleep) does not.
# `demos.pool_curve` times 120 tasks of each kind through pools of 1, 2, 4 and 8 workers
# (worker start-up excluded), three batches per pool, and keeps the fastest batch: the
# slower ones were slowed by whatever else ran on the machine at the time.
#
# Each worker of the pool is `demos.pool_worker`, which hands its queue to `msgq.serve`, the
# same loop as `typed_rpc.server` above with the handler (what to do with a task) as a
# parameter; the two handlers are a CPU loop and a sleep:

# %%
show(demos.pool_worker, mark=["msgq.serve(q, HANDLERS[work]"])

# %%
show(msgq.serve, mark=["receive_request(q, request_type=request_type", "send_reply(q, req, handler(req.body)"])

# %%
show(demos.cpu_task, mark=["total += i & 7"])

# %%
show(demos.io_task, mark=["time.sleep(x / 1000)"])

# %%
# NBVAL_IGNORE_OUTPUT
curve = demos.pool_curve(worker_counts=(1, 2, 4, 8), n_tasks=120, repeats=3, start_method="forkserver", timeout=120)
for r in curve:
    print(f"{r['work']:>3} x {r['workers']} workers: {r['per_second']:7.0f} tasks/s, tasks per worker {r['per_worker']}")
ncpu = msgq_plots.usable_cpus()                 # C: sched_getaffinity(0, ...): the CPUs we may run on
print(f"CPUs: os.cpu_count() = {os.cpu_count()}, usable by this process (sched_getaffinity) = {ncpu}; "
      f"load average over the last minute: {os.getloadavg()[0]:.1f}")
for work in ("cpu", "io"):
    rate = {r["workers"]: r["per_second"] for r in curve if r["work"] == work}
    best = max(rate, key=rate.get)
    at_cpus = max((n for n in rate if n <= ncpu), default=min(rate))
    past = ", ".join(f"{n} workers {100 * (rate[n] / rate[at_cpus] - 1):+.0f}%" for n in sorted(rate) if n > at_cpus)
    print(f"{work}: fastest with {best} worker{'s' if best != 1 else ''} ({rate[best] / rate[1]:.1f}x one worker); "
          f"at {at_cpus} worker{'s' if at_cpus != 1 else ''} (<= the CPUs) {rate[at_cpus] / rate[1]:.1f}x; "
          f"past that, against {at_cpus} workers: {past or 'no larger pool measured'}")
fig = msgq_plots.pool_throughput(curve, cpus=ncpu)
style.show(fig)

# %% [markdown]
# Read the lines above with two facts in mind. A waiting task leaves its CPU to the others
# while it sleeps, so waiting work can keep gaining with more workers than CPUs. A
# CPU-bound task needs a CPU while it computes, so the CPUs this process may use (printed
# above; your numbers will differ) bound how many compute at once: once every CPU is
# computing all the time, extra workers only add switching between them. Where the
# CPU-bound curve peaks says when that happened in this run. If it still gained past the
# CPU count, the CPUs were not all busy computing at that count (time spent in the queue
# calls, in the parent collecting replies, or given to other processes can leave such
# slack), and the extra workers took it up; where it fell, the switching cost more than
# there was slack. The pool also shares the machine with whatever else runs: when the
# load average printed above is higher than the usable CPUs, the curves measure that
# competition as much as the pool, and a CPU-bound curve that falls before the CPU count
# is most likely that competition. The queue itself never hands a task twice: the kernel gives each
# message to exactly one waiting worker, and the `per_worker` counts show the load
# balancing itself.
#
# ### 7.3 A centralised logger with priorities
#
# Many processes log to one queue; the type is the level (1 = ERROR ... 4 = DEBUG); the
# logger receives with `type = -4`, so when it falls behind, errors jump the queue. Here
# three sources log first and finish; only then does the logger start, and it finds the
# backlog a logger that fell behind would find. The logger is ten lines; its one
# `msgrcv` is marked:

# %%
show(demos.logger, mark=["msgq.receive(q, type=filter_type"])

# %%
levels = [3, 1, 4, 2, 3, 1]   # what each source logs, in this order
with msgq.queue() as q:
    procs.run(demos.log_source, [(q.key, f"source{i}", levels) for i in range(3)],
              start_method="forkserver", timeout=60)
    got = procs.run(demos.logger, [(q.key, 18, -4)], start_method="forkserver", timeout=60)[0]
order = [URGENCY[lv] for lv, _ in got]
print("logger's order:", ", ".join(f"{name} x{order.count(name)}" for name in dict.fromkeys(order)))
print("most urgent first:", [lv for lv, _ in got] == sorted(lv for lv, _ in got))
print("first record served:", got[0][1].split(":")[1].strip())

# %% [markdown]
# Within a level the records of the three sources are in arrival order, which depends on
# the scheduler; only the level order is guaranteed. With `type = 0` the same logger would
# print in arrival order: try it below with one source, whose order is deterministic.

# %%
with msgq.queue() as q:
    procs.run(demos.log_source, [(q.key, "solo", levels)], start_method="forkserver", timeout=60)
    fifo = procs.run(demos.logger, [(q.key, len(levels), 0)], start_method="forkserver", timeout=60)[0]
print("type 0 order: ", [URGENCY[lv] for lv, _ in fifo])
print("as sent:", [lv for lv, _ in fifo] == levels)

# %% [markdown]
# ### 7.4 Broadcast
#
# The chapter's broadcast: one message of a BROADCAST type, `ANNOUNCE` here. Three
# listeners each read (lowest type first) until a STOP; we send one announcement, then one
# STOP each. A listener:

# %%
show(demos.naive_listener, mark=["msgq.receive(q, type=-STOP"])

# %% [markdown]
# **Predict.** How many of the three listeners receive the announcement?

# %%
with msgq.queue() as q:
    with procs.start(demos.naive_listener, n=3, args=(q.key,), start_method="forkserver", timeout=60) as listeners:
        msgq.send(q, b"server restarting", type=demos.ANNOUNCE, timeout=5)
        for _ in range(3):
            msgq.send(q, b"", type=demos.STOP, timeout=5)
        counts = listeners.join()
print("ran 3 listeners, sent 1 announcement and 3 STOPs")

# %% [markdown]
# **Reveal** (click the collapsed output):

# %% tags=["reveal"]
print("listeners that received the one broadcast message:", sum(counts), "of", len(counts))
print("one message reached exactly one listener:", "yes" if sum(counts) == 1 else "no")

# %% [markdown]
# The chapter proposes, for broadcast, a "message queue: type de message broadcast". In
# fact, as just measured, a message of a "broadcast" type reaches one listener only: msgrcv
# removes the message it returns (msgop(2)). The System V way to broadcast is one copy per
# listener, each addressed to that listener's type. Listeners subscribe by sending their pid (type 1); the publisher sends every
# announcement to every subscriber's pid.

# %%
with msgq.queue() as q:
    with procs.start(demos.subscriber, n=3, args=(q.key,), start_method="forkserver", timeout=60) as listeners:
        subscribers = demos.collect_subscribers(q, 3, timeout=30)
        for news in (b"server restarting", b"server back"):
            demos.publish(q, subscribers, news)   # one msgsnd per subscriber, type = its pid
        demos.publish(q, subscribers, b"STOP")
        heard = listeners.join()
for i, words in enumerate(heard):
    print(f"listener {i} heard: {words}")

# %% [markdown]
# The cost is one copy per listener: with many listeners or big messages, shared memory
# plus a notification (a semaphore, a futex, a signal to a process group) is cheaper.
#
# ## 8. Where POSIX message queues differ (see 19.4)
#
# | | System V (`msgget`) | POSIX (`mq_open`) |
# | --- | --- | --- |
# | name | numeric key, `ipcs -q` | `/name`, visible in `/dev/mqueue` |
# | choosing a message | by **type**: exact, any, lowest-up-to | always the highest **priority** first; no selection |
# | timeouts | none (`IPC_NOWAIT` only) | `mq_timedsend`, `mq_timedreceive` |
# | notification | none | `mq_notify` (signal or thread); a descriptor usable with `select`/`epoll` on Linux |
# | limits | `msgmax`, `msgmnb` bytes per queue | `msg_max` messages × `msgsize_max` bytes, `RLIMIT_MSGQUEUE` per user |
# | lifetime | until `IPC_RMID` (or reboot) | until `mq_unlink` and the last `mq_close` |
#
# A reply channel per client (section 7.1) has no direct POSIX equivalent: POSIX servers
# open one reply queue per client instead, TLPI's answer of section 7.1b.
#
# The chapter says PostgreSQL uses message queues for its background workers. In fact
# PostgreSQL uses no System V or POSIX message queue: a backend talks to its workers through
# `shm_mq`, "single-reader, single-writer shared memory message queue", a ring in dynamic
# shared memory synchronised with process latches
# ([src/backend/storage/ipc/shm_mq.c](https://github.com/postgres/postgres/blob/master/src/backend/storage/ipc/shm_mq.c)). Notebook 04 runs the same jobs both ways and
# measures them.
#
# ## Summary
#
# * A System V queue keeps message boundaries and a positive **type** per message.
#   `msgget` creates or finds it, `msgsnd` copies a message in, `msgrcv` copies one out,
#   `msgctl` reads (`IPC_STAT`), changes (`IPC_SET`) or removes (`IPC_RMID`) it.
# * `msgrcv`'s type selects: `0` first message, `n` first of type `n`, `-n` lowest type up
#   to `n`. Within a type, order is always FIFO.
# * Negative types make priorities; positive types make private channels (type = pid for
#   replies); broadcast needs one copy per listener.
# * A message is at most `msgmax` bytes; a queue holds at most `msg_qbytes` (`msgmnb`)
#   bytes. A C struct is sent by packing it in the compiler's layout; longer payloads are
#   framed.
# * `msgsnd` blocks on a full queue, `msgrcv` on an empty one, with no timeout in the
#   kernel: `IPC_NOWAIT` plus retries gives one. Removing a queue wakes its waiters with
#   `EIDRM` at once.
# * A queue outlives its processes: remove it (`IPC_RMID`, `ipcrm -q`), check with `ipcs -q`.
#
# ## Exercises
#
# 1. **Predict, then check.** A queue holds, in order, types `5, 2, 9, 2, 1, 5`. Write down
#    the order in which `msgrcv` returns them with `type = -5` repeated until nothing
#    matches, and what is left. Check it with `msgq.drain`. ([answer](answers/03_sysv_message_queues_answers.ipynb#exercise-1))
# 2. **Fill it up.** With the default capacity, how many 100-byte messages fit in a queue?
#    How many empty (0-byte) messages? (Hint: the kernel also limits the *number* of
#    messages to `msg_qbytes`.) Measure both with `msgq.try_send` in a loop, in a `with
#    msgq.queue()` block. ([answer](answers/03_sysv_message_queues_answers.ipynb#exercise-2))
# 3. **Aging.** The logger of 7.3 starves DEBUG messages when errors keep coming. Change the
#    receive loop so that every tenth receive uses `type = 0`. Show with two sources (one
#    flooding ERRORs, one sending DEBUG) that DEBUG messages now get through. ([answer](answers/03_sysv_message_queues_answers.ipynb#exercise-3))
# 4. **Framing with many senders.** Start three processes that each `send_framed` a 50 kB
#    payload to one reader. What type should each use, and how does the reader know which
#    types to read? Implement it with `msgq.send_framed`/`msgq.receive_framed`. ([answer](answers/03_sysv_message_queues_answers.ipynb#exercise-4))
# 5. **Timeouts, honestly.** `msgq.receive` polls. Measure with `time.perf_counter` how late
#    a waiting receiver sees a message sent 100 ms after it started waiting (run it 20
#    times, report the median). Compare with a plain blocking `q.receive()` in a child.
#    What does the poll's 5 ms cap cost, and what does it buy? ([answer](answers/03_sysv_message_queues_answers.ipynb#exercise-5))
#
# **Labs:** [lab 3](../labs/lab3_messages.ipynb) builds this request/reply service on one System V
# queue (urgent first, replies by pid); [lab 6](../labs/lab6_pool.ipynb) a worker pool and
# [lab 7](../labs/lab7_logger.ipynb) a centralised logger, both on POSIX queues (see 19.4).
#
# ## References
#
# * Linux man pages: [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
#   [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html) (`msgsnd`, `msgrcv`: `IPC_NOWAIT`, `MSG_NOERROR`, `ENOMSG`, `E2BIG`, `EIDRM`),
#   [perror(3)](https://man7.org/linux/man-pages/man3/perror.3.html),
#   [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html),
#   [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html),
#   [ipcs(1)](https://man7.org/linux/man-pages/man1/ipcs.1.html), [ipcrm(1)](https://man7.org/linux/man-pages/man1/ipcrm.1.html),
#   [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html);
#   overviews [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
#   [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
#   [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
#   [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html).
# * POSIX.1-2017, [Base Specifications, Issue 7](https://pubs.opengroup.org/onlinepubs/9699919799/).
# * M. Kerrisk, *The Linux Programming Interface* (2010), ch. 44-55 (pipes, System V and
#   POSIX IPC, memory mappings, file locks); W. R. Stevens and S. Rago, *Advanced
#   Programming in the UNIX Environment*, 3rd ed., ch. 15 (IPC).
#   Client-server with message queues: TLPI §46.7-46.8.
# * Kernel: [ipc/msg.c](https://github.com/torvalds/linux/blob/master/ipc/msg.c) (`pipelined_send`,
#   `do_msgrcv`); limits `msgmax`, `msgmnb`, `msgmni` in
#   [Documentation/admin-guide/sysctl/kernel.rst](https://docs.kernel.org/admin-guide/sysctl/kernel.html).
# * PostgreSQL: [shm_mq.c](https://github.com/postgres/postgres/blob/master/src/backend/storage/ipc/shm_mq.c).

# %%
# NBVAL_IGNORE_OUTPUT
print(f"running every cell took {time.monotonic() - T0:.0f} s")
