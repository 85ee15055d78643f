# %% [markdown]
# # Answers to 19.3 (System V message queues)
#
# One section per "Try it" prompt and per exercise of
# [19.3 System V message queues](../03_sysv_message_queues.ipynb), in the order they appear
# there. Where the answer is code, it runs here on real processes and kernel queues, removed
# afterwards, and the notebook check (nbval) compares its output. Try each one yourself first.

# %%
# NBVAL_IGNORE_OUTPUT
# ruff: noqa: F811, F821  (each %%worker cell is a module of its own; ruff reads this file as one)
import ctypes
import hashlib
import os
import statistics
import struct
import subprocess
import time

from ipclab import doctor, msgq, objects, procs
from ipclab import msgq_demos as demos
from ipclab.mechanisms import ccell

doctor.setup_notebook("msgmax", "msgmnb", "ipcs")
ccell.load()  # %%worker
LIM = msgq.limits()

# %% [markdown]
# <a id="try-1"></a>
# ## Try it 1: `ipcs -q` while the queue exists, and after
#
# *Run `!ipcs -q` while the `with` block is open, then after.*
#
# Inside the block `ipcs -q` lists the queue (its key, its id, you as owner, perms 600, its
# bytes and messages); after the block it is gone, because leaving the block called
# `msgctl(IPC_RMID)`. No sleep is needed to see it: the cell runs `ipcs` itself.

# %%
def listed(q):
    out = subprocess.run(["ipcs", "-q"], capture_output=True, text=True, timeout=10).stdout
    return any(line.split()[1:2] == [str(q.id)] for line in out.splitlines() if line.startswith("0x"))


with msgq.queue() as q:
    msgq.send(q, b"three", type=1, timeout=5)
    print("ipcs -q lists the queue while the block is open:", listed(q))
print("after the block (msgctl IPC_RMID):", listed(q))

# %% [markdown]
# <a id="try-2"></a>
# ## Try it 2: `type = -2` instead of `-4`, and starvation
#
# *Which messages are served, and where do the others go?*
#
# `type = -2` takes the lowest type that is at most 2: the two ERRORs, then the WARNING;
# INFO (3) and DEBUG (4) are never matched and stay in the queue, in their order, for a
# reader that asks for them. With a producer that sends an ERROR every millisecond, a
# `-4` reader always finds an ERROR, so DEBUG messages wait for ever (or until the queue
# fills and *senders* block): starvation, by design of a strict priority order.

# %%
URGENCY = {1: "ERROR", 2: "WARNING", 3: "INFO", 4: "DEBUG"}
arrivals = [3, 4, 1, 3, 2, 4, 1, 3]
with msgq.queue() as q:
    for seq, level in enumerate(arrivals):
        msgq.send(q, f"{URGENCY[level]}#{seq}".encode(), type=level, timeout=5)
    served = [d.decode() for d, _ in msgq.drain(q, type=-2)]
    left = [d.decode() for d, _ in msgq.drain(q)]
print("served with type -2:", served)
print("left in the queue:  ", left)

# %% [markdown]
# <a id="try-3"></a>
# ## Try it 3: a timed reader when the queue is removed
#
# The timed reader polls with `IPC_NOWAIT`; its next attempt after `msgctl(IPC_RMID)` fails
# with `EINVAL` (the id no longer exists), which `msgq` raises as `ObjectGone`, and
# `demos.timed_receiver` reports as `"removed"`. It notices within one poll interval (at
# most 5 ms), not at once like the sleeper woken with `EIDRM`.

# %%
def in_nanosleep(pid):
    """True while *pid* sleeps in clock_nanosleep (x86_64: 230, aarch64: 115), read in /proc/PID/syscall."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()[0] in ("230", "115")
    except (OSError, IndexError):
        return False


q = objects.create_sysv_msg(max_message_size=LIM.msgmax)
try:
    with procs.start(demos.timed_receiver, [(q.key, 0, 10)], start_method="forkserver", timeout=30) as reader:
        pid, deadline = reader.pids[0], time.monotonic() + 10
        while not in_nanosleep(pid) and time.monotonic() < deadline:
            time.sleep(0.01)                 # until it sleeps between two msgrcv attempts: it has attached
        objects.remove_sysv(q)               # C: msgctl(msqid, IPC_RMID, NULL)
        outcome = reader.join()[0][0]
    print("the timed reader reported:", outcome)
finally:
    objects.remove_sysv(q)

# %% [markdown]
# <a id="try-4"></a>
# ## Try it 4: a `double` between two `int`s
#
# *Change the layout to `"i pid; d time; i seq; 48s text"`.*
#
# In C: `pid` at 0, 4 bytes of padding so that `time` is at 8, `seq` at 16, `text` at
# 20..68, then 4 bytes of **tail padding** so that the size, 72, is a multiple of 8 (the
# `double`'s alignment): `sizeof` is 72, as gcc says below. `msgq.Record` says 72 too:
# Python's `struct` with `@` pads *between* fields like the compiler, but adds no padding
# at the end ("to align the end of a structure to the alignment requirement of a
# particular type, end the format with the code for that type with a repeat count of
# zero", [struct](https://docs.python.org/3/library/struct.html), "Byte Order, Size, and
# Alignment"), so `Record` ends its format with its most aligned field's code and a count
# of zero: `@idi48s0d`. Without the `0d` the same fields make 68 bytes, and a C receiver
# would get 68-byte messages for a 72-byte struct (`msgrcv` returns the length sent, so it
# can notice). With `=` there is no padding at all: 64 bytes.

# %%
class Reordered(ctypes.Structure):   # C: struct { int pid; double time; int seq; char text[48]; }
    _fields_ = [("pid", ctypes.c_int), ("time", ctypes.c_double), ("seq", ctypes.c_int),
                ("text", ctypes.c_char * 48)]


native = msgq.Record("reordered", "i pid; d time; i seq; 48s text")
print("Record:", native.fmt, native.size, "bytes | ctypes.sizeof:", ctypes.sizeof(Reordered))
print("offsets of pid, time, seq, text:", [getattr(Reordered, f).offset for f in ("pid", "time", "seq", "text")])
print("the same fields without the tail padding ('@idi48s'):", struct.calcsize("@idi48s"), "bytes")
print("the same fields with '=' (no padding):", struct.calcsize("=idi48s"), "bytes")

# %%
if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    import io

    run = ccell.run_c('#include <stdio.h>\n'
                      'struct reordered { int pid; double time; int seq; char text[48]; };\n'
                      'int main(void) { printf("%zu\\n", sizeof(struct reordered)); return 0; }\n',
                      "--name sizeof_reordered --expect ok", out=io.StringIO())
    c_size = int(run.stdout)
    print("sizeof(struct reordered) from gcc:", c_size, "| Record's size:", native.size,
          "| equal:", "yes" if c_size == native.size else "no")

# %% [markdown]
# <a id="try-5"></a>
# ## Try it 5: `msgrcv` without `MSG_NOERROR` on a message longer than `msgsz`
#
# The second `msgrcv` of type 9 fails like the first, with `E2BIG` (msgop(2): "The message
# text length is greater than msgsz and MSG_NOERROR isn't specified"), and the message stays
# queued. The program treats a failure there as unexpected: `perror` prints
# `msgrcv(MSG_NOERROR): Argument list too long` on stderr and the program exits with status 1,
# before the part with the child. The queue is then still Python's to remove, with the long
# message in it.

# %%
import io

from ipclab.core import cbuild

src = (cbuild.C_DIR / "demos" / "msg_recv.c").read_text()
strict = src.replace("IPC_NOWAIT | MSG_NOERROR", "IPC_NOWAIT")
assert strict != src
LOG = demos.LOG_RECORD
if doctor.skip_unless("gcc"):  # without gcc the cell says why (its stored output is a run with gcc)
    with msgq.queue() as q:
        msgq.send(q, LOG.pack(os.getpid(), 0, time.time(), "info from Python"), type=3, timeout=5)
        msgq.send(q, bytes(100), type=9, timeout=5)
        run = ccell.run_c(strict, f"--name msg_recv_strict --args {q.id} --timeout 20 --expect exit=1",
                          out=io.StringIO(), err=io.StringIO())  # perror's line: printed below
        print(run.stdout.rstrip())
        print("stderr:", run.copies[0].stderr.strip())
        print("the long message is still queued:", "yes" if msgq.state(q).messages == 1 else "no")

# %% [markdown]
# <a id="try-6"></a>
# ## Try it 6: two clients with the same reply type
#
# Both wait with `msgrcv(type = 7)`, and the kernel gives a reply of type 7 to whichever
# asks first: client A can take B's answer and B then takes A's, or one waits while the
# other holds two. Each reply is delivered once (none is lost or duplicated), but to the
# wrong client, so the check `reply == x * x` fails. That is why `msgq.receive_reply`
# also checks a request id. The cell below is the notebook's `typed_rpc` with `reply_to = 7`
# for every client:

# %%
# %%worker shared_reply
"""typed_rpc with one reply type (7) for every client."""
import struct

from ipclab import msgq
from ipclab.core.errors import WaitTimeout

REQUEST, SHARED = 1, 7
BODY = struct.Struct("=iq")


def server(key, timeout=10.0):
    q = msgq.attach(key)
    n = 0
    while True:
        reply_to, x = BODY.unpack(msgq.receive(q, type=REQUEST, timeout=timeout)[0])
        if reply_to == 0:
            return n
        msgq.send(q, BODY.pack(0, x * x), type=reply_to, timeout=timeout)
        n += 1


def client(key, index, n_requests, timeout=5.0):
    q = msgq.attach(key)
    right = got = 0
    for i in range(n_requests):
        x = index * 1000 + i + 3
        msgq.send(q, BODY.pack(SHARED, x), type=REQUEST, timeout=timeout)
        try:
            data, _ = msgq.receive(q, type=SHARED, timeout=timeout)
        except WaitTimeout:
            break
        got += 1
        right += BODY.unpack(data)[1] == x * x
    return n_requests, got, right

# %%
with msgq.queue() as q:
    with procs.start(shared_reply.server, [(q.key,)], start_method="forkserver", timeout=60) as srv:
        res = procs.run(shared_reply.client, [(q.key, i, 20) for i in range(3)], start_method="forkserver", timeout=60)
        msgq.send(q, shared_reply.BODY.pack(0, 0), type=1, timeout=5)
        handled = srv.join()[0]
print("every reply was delivered once:", sum(g for _, g, _ in res) == handled == 60)

# %%
# NBVAL_IGNORE_OUTPUT
for i, (asked, got, right) in enumerate(res):
    print(f"client {i}: {right} of {asked} replies were its own (they vary from run to run)")

# %% [markdown]
# <a id="exercise-1"></a>
# ## Exercise 1: types `5, 2, 9, 2, 1, 5` read with `type = -5`
#
# Lowest type first, FIFO within a type: `1`, `2`, `2`, `5`, `5`; the `9` is above the
# bound and stays.

# %%
with msgq.queue() as q:
    for i, t in enumerate([5, 2, 9, 2, 1, 5]):
        msgq.send(q, f"#{i}".encode(), type=t, timeout=5)
    taken = msgq.drain(q, type=-5)
    left = msgq.drain(q)
print("taken:", [(t, d.decode()) for d, t in taken])
print("left: ", [(t, d.decode()) for d, t in left])

# %% [markdown]
# <a id="exercise-2"></a>
# ## Exercise 2: how many messages fit
#
# A queue holds at most `msg_qbytes` bytes of payload (the types do not count) **and**, on
# Linux, at most `msg_qbytes` messages (`msg_fits_inqueue` in
# [ipc/msg.c](https://github.com/torvalds/linux/blob/master/ipc/msg.c) checks both). With
# the default 16,384: 163 messages of 100 bytes (16,300 bytes), and 16,384 empty messages.

# %%
def fill(q, size):
    n = 0
    while msgq.try_send(q, bytes(size), type=1):   # C: msgsnd(..., IPC_NOWAIT) until EAGAIN
        n += 1
    return n


with msgq.queue() as q:
    capacity = msgq.state(q).max_bytes
    hundred = fill(q, 100)
with msgq.queue() as q:
    empty = fill(q, 0)
print(f"capacity {capacity} bytes: 100-byte messages that fit: {hundred} (= capacity // 100: {hundred == capacity // 100})")
print(f"0-byte messages that fit: {empty} (= capacity: {empty == capacity})")

# %% [markdown]
# <a id="exercise-3"></a>
# ## Exercise 3: aging
#
# Every tenth receive uses `type = 0` (the oldest message, whatever its level), the others
# `type = -4`. A source floods ERRORs and, in between, sends one DEBUG every ten ERRORs;
# both loggers start on the same backlog. The strict logger serves every DEBUG after every
# ERROR; the aging one serves the first DEBUG within its first receives, because the oldest
# message is sometimes a DEBUG.

# %%
# %%worker aging_logger
"""A priority logger, strict or with aging (every tenth receive takes the oldest message)."""
from ipclab import msgq


def log(key, n_records, aging=False, timeout=10.0):
    q = msgq.attach(key)
    levels = []
    for k in range(n_records):
        wanted = 0 if aging and k % 10 == 9 else -4     # C: msgrcv(id, &m, size, wanted, 0)
        levels.append(msgq.receive(q, type=wanted, timeout=timeout)[1])
    return levels

# %%
def backlog(q):
    for k in range(100):
        msgq.send(q, b"error", type=1, timeout=5)
        if k % 10 == 0:
            msgq.send(q, b"debug", type=4, timeout=5)
    return 110


first_debug = {}
for aging in (False, True):
    with msgq.queue() as q:
        n = backlog(q)
        levels = procs.run(aging_logger.log, [(q.key, n, aging)], start_method="forkserver", timeout=60)[0]
    first_debug[aging] = levels.index(4)
print("strict: first DEBUG served at receive", first_debug[False], "(after all 100 ERRORs)")
print("aging:  first DEBUG served at receive", first_debug[True])

# %% [markdown]
# <a id="exercise-4"></a>
# ## Exercise 4: framing with many senders
#
# Each sender uses **its own pid** as the type of its frames, so frames of two payloads
# never interleave on one type. The reader must learn the pids: here the parent started the
# senders and knows them (`procs` gives their pids); in a server, senders would first
# announce themselves on a known type (as the subscribers of section 7.4 do).
#
# One more trap: the queue (16 kB) holds two frames. If the reader waits for sender A's
# frames while B and C have filled the queue with theirs, A cannot send, the reader waits
# for A, and B and C wait for room: a deadlock (the first version of this answer hit it,
# and the timeouts reported it). So each sender waits for a "go" on its own type before it
# sends, and the reader gives the go to one sender at a time (and waits until the sender has
# taken it, `msg_lrpid`, so as not to read its own "go" as a frame).

# %%
# %%worker framed_sender
"""Send a 50 kB payload, framed, on type = my pid."""
import ctypes
import hashlib
import os

from ipclab import msgq


def send(key, seed, size=50_000):
    q = msgq.attach(key)
    payload = hashlib.shake_256(bytes([seed])).digest(size)   # known to the reader from the seed
    msgq.receive(q, type=os.getpid(), timeout=30)              # wait for "go" on my type
    return msgq.send_framed(q, payload, type=os.getpid(), timeout=30)

# %%
with msgq.queue() as q:
    with procs.start(framed_sender.send, [(q.key, seed) for seed in range(3)], start_method="forkserver",
                     timeout=60) as senders:
        got = {}
        for seed, pid in enumerate(senders.pids):
            msgq.send(q, b"go", type=pid, timeout=5)
            deadline = time.monotonic() + 30     # until the sender took its go (IPC_STAT's msg_lrpid)
            while msgq.state(q).last_receive_pid != pid and time.monotonic() < deadline:
                time.sleep(0.005)
            got[seed] = msgq.receive_framed(q, type=pid, timeout=30)
        frames = senders.join()
print("frames per sender:", frames)
print("each payload intact:", all(got[s] == hashlib.shake_256(bytes([s])).digest(50_000) for s in got))

# %% [markdown]
# <a id="exercise-5"></a>
# ## Exercise 5: how late does the poller see a message?
#
# A sender process sleeps 100 ms, notes `time.monotonic()`, sends; the receiver notes the
# time it got the message. The poller (`msgq.receive`) sleeps between attempts, 0.2 ms
# growing to 5 ms: on an idle machine it sees the message at most about 5 ms after it was
# sent; on a busy one each of its sleeps also ends late (the process must be scheduled
# again), so its lateness grows with the load. A blocking `msgrcv` is handed the message
# by the sender's `msgsnd` itself (`pipelined_send` in
# [ipc/msg.c](https://github.com/torvalds/linux/blob/master/ipc/msg.c)) and only has to be
# scheduled. The poll's cap costs that latency and a few hundred wasted system calls per
# second of waiting; it buys a timeout on every wait, from any thread, without signals.
# Medians of 20 runs each, on the machine that built this notebook (2 CPUs shared with
# other work; yours will differ):

# %%
# %%worker late_sender
"""Sleep, stamp, send; or block in a plain msgrcv and stamp the arrival."""
import time

import sysv_ipc

from ipclab import msgq


def send_after(key, delay=0.1):
    time.sleep(delay)
    t = time.monotonic()
    msgq.send(msgq.attach(key), b"now", type=1, timeout=5)
    return t


def blocking_receive(key):
    q = sysv_ipc.MessageQueue(key)
    q.receive()                               # C: msgrcv(id, &m, size, 0, 0): sleeps in the kernel
    return time.monotonic()

# %%
poll_late, block_late = [], []
for _ in range(20):
    with msgq.queue() as q:
        with procs.start(late_sender.send_after, [(q.key,)], start_method="fork", timeout=30) as s:
            msgq.receive(q, type=1, timeout=5)
            got = time.monotonic()
            poll_late.append(got - s.join()[0])
    with msgq.queue() as q:
        with procs.start(late_sender.blocking_receive, [(q.key,)], start_method="fork", timeout=30) as r:
            time.sleep(0.1)
            sent = time.monotonic()
            msgq.send(q, b"now", type=1, timeout=5)
            block_late.append(r.join()[0] - sent)
print("measured 20 polling and 20 blocking receives")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"polling receive:  median {statistics.median(poll_late) * 1000:.2f} ms late, max {max(poll_late) * 1000:.2f} ms")
print(f"blocking receive: median {statistics.median(block_late) * 1000:.2f} ms late, max {max(block_late) * 1000:.2f} ms")
