"""The processes of notebook 03's message-queue patterns: pool workers, clients, log sources, listeners.

Why a module: workers must be importable so that fork, forkserver and spawn can all run them
(a function defined in a notebook cell cannot run under forkserver or spawn). Each worker takes
the queue's *key* (a ``sysv_ipc.MessageQueue`` cannot be pickled), attaches with
:func:`ipclab.mechanisms.msgq.attach`, never prints (children report by return value), and every wait has
a timeout. The experiment functions at the end return plain results; ``ipclab.presentation.plots.msgq``
draws them.

Defined in :mod:`ipclab.experiments.msgq_demos`; taught in notebook 03 (19.3, System V message queues).
"""

import os
import struct
import time

import sysv_ipc

from ipclab.mechanisms import msgq
from ipclab.core import procs
from ipclab.core.errors import ObjectGone, WaitTimeout

NUMBER = struct.Struct("<q")  # one C long long: the body of a task or a reply
READY = 0xFFFFFFFF            # request id of the "worker ready" reply


# -- blocking, timeouts, removal ------------------------------------------------------

def timed_receiver(key, type=0, timeout=1.0):
    """Wait for a message with a timeout; report what happened as a word: got/timeout/removed."""
    q = msgq.attach(key)
    try:
        data, t = msgq.receive(q, type=type, timeout=timeout)
        return ("got", data, t)
    except WaitTimeout:
        return ("timeout", None, None)
    except ObjectGone:
        return ("removed", None, None)


def raw_blocking_receiver(key):
    """A plain blocking ``msgrcv`` (sysv_ipc, no timeout), to see how the kernel wakes it.

    Bounded by the procs timeout of whoever starts it; the notebook removes the queue under it.
    """
    q = sysv_ipc.MessageQueue(key, max_message_size=msgq.limits().msgmax)
    try:
        data, t = q.receive()  # C: msgrcv(id, &buf, size, 0, 0): sleeps in the kernel
        return ("got", data, t)
    except sysv_ipc.ExistentialError as e:  # EIDRM: the queue was removed while we slept
        return ("removed", str(e), None)


def blocked_in_syscall(pid, name="msgrcv", timeout=5.0):
    """True once *pid* sleeps inside system call *name* (read from /proc/PID/syscall), False at the deadline."""
    numbers = {"x86_64": {"msgsnd": 69, "msgrcv": 70}, "aarch64": {"msgsnd": 189, "msgrcv": 188}}
    nr = numbers.get(os.uname().machine, {}).get(name)
    deadline = time.monotonic() + timeout
    while nr is not None and time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                if f.read().split()[0] == str(nr):
                    return True
        except (OSError, IndexError):
            return False
        time.sleep(0.01)
    return False


def framed_echo(key, in_type, out_type, timeout=20.0):
    """Receive one framed payload on *in_type* and send it back, framed, on *out_type*."""
    q = msgq.attach(key)
    payload = msgq.receive_framed(q, type=in_type, timeout=timeout)
    msgq.send_framed(q, payload, type=out_type, timeout=timeout)
    return len(payload)


# -- worker pool / client-server --------------------------------------------------------

def square(body):
    """Handler: the square of a number (the client-server demo)."""
    (x,) = NUMBER.unpack(body)
    return NUMBER.pack(x * x)


def cpu_task(body):
    """Handler: burn CPU for about *x* thousand loop steps; returns the sum (a CPU-bound task)."""
    (x,) = NUMBER.unpack(body)
    total = 0
    for i in range(x * 1000):
        total += i & 7
    return NUMBER.pack(total)


def io_task(body):
    """Handler: wait *x* milliseconds (stands for a disk or network wait), then answer."""
    (x,) = NUMBER.unpack(body)
    time.sleep(x / 1000)
    return NUMBER.pack(x)


HANDLERS = {"square": square, "cpu": cpu_task, "io": io_task}


def pool_worker(key, work="square", ready_to=None, idle_timeout=20.0):
    """Serve requests of type 1 with the handler *work* until a stop message; returns how many.

    If *ready_to* is a pid, first tell it "ready" (a reply addressed to that pid).
    """
    q = msgq.attach(key)
    if ready_to:
        msgq.send_reply(q, msgq.Request(ready_to, READY, b""), NUMBER.pack(os.getpid()),
                        timeout=idle_timeout)
    return msgq.serve(q, HANDLERS[work], idle_timeout=idle_timeout)


def client(key, index, n_requests, timeout=20.0):
    """Ask *n_requests* squares; check each reply is ours. Returns (requests, right answers)."""
    q = msgq.attach(key)
    right = 0
    for i in range(n_requests):
        x = index * 1000 + i  # distinct per client: a reply meant for another client is wrong
        reply = msgq.call(q, NUMBER.pack(x), request_id=i, timeout=timeout)
        right += NUMBER.unpack(reply)[0] == x * x
    return n_requests, right


def wait_ready(q, n, timeout=30.0):
    """Wait until *n* pool workers said ready (replies to my pid); returns their pids."""
    return [NUMBER.unpack(msgq.receive_reply(q, request_id=READY, timeout=timeout))[0]
            for _ in range(n)]


def pool_run(n_workers, n_tasks, work="cpu", size=2, start_method="forkserver", timeout=60.0,
             repeats=1):
    """Time *n_tasks* tasks through a pool of *n_workers* processes on one queue.

    The parent sends every task (type 1, reply type = its pid) and collects every reply;
    this is done *repeats* times on the same pool and the fastest batch is kept (the others
    were slowed by whatever else ran on the machine). Returns a dict: workers, tasks, work,
    seconds (first send to last reply of the best batch; worker start-up excluded),
    per_second, per_worker (tasks each worker handled over all batches).
    """
    times = []
    with msgq.queue(note="pool") as q:
        with procs.start(pool_worker, n=n_workers, args=(q.key, work, os.getpid()),
                         start_method=start_method, timeout=timeout) as group:
            wait_ready(q, n_workers, timeout=timeout)
            for _ in range(repeats):
                t0 = time.perf_counter()
                for i in range(n_tasks):
                    msgq.send_request(q, NUMBER.pack(size), request_id=i, timeout=timeout)
                done = msgq.receive_replies(q, n_tasks, timeout=timeout)
                times.append(time.perf_counter() - t0)
                if sorted(done) != list(range(n_tasks)):
                    raise RuntimeError(f"replies for {len(done)} distinct tasks out of {n_tasks}")
            msgq.send_stop(q, n_workers, timeout=timeout)
            per_worker = group.join()
    seconds = min(times)
    return {"workers": n_workers, "tasks": n_tasks, "work": work, "seconds": seconds,
            "per_second": n_tasks / seconds, "per_worker": per_worker}


#: Task sizes of about 1 ms each: cpu = thousands of loop steps, io = milliseconds of waiting.
TASK_SIZE = {"cpu": 20, "io": 1, "square": 7}


def pool_curve(worker_counts=(1, 2, 4, 8), n_tasks=120, works=("cpu", "io"),
               start_method="forkserver", timeout=60.0, repeats=1):
    """:func:`pool_run` for each number of workers and each kind of work: a list of result dicts."""
    return [pool_run(n, n_tasks, work, TASK_SIZE[work], start_method, timeout, repeats)
            for work in works for n in worker_counts]


# -- centralised logger -------------------------------------------------------------------

#: The C struct a log source sends: struct log_record { int pid; int seq; double time; char text[48]; }
LOG_RECORD = msgq.Record("log_record", "i pid; i seq; d time; 48s text")
LEVELS = {1: "ERROR", 2: "WARNING", 3: "INFO", 4: "DEBUG"}  # message type = level: 1 most urgent


def log_source(key, name, levels, timeout=10.0):
    """Send one log record per level in *levels* (type = level); returns how many were sent."""
    q = msgq.attach(key)
    for seq, level in enumerate(levels):
        rec = LOG_RECORD.pack(os.getpid(), seq, time.time(), f"{name}: {LEVELS[level].lower()} #{seq}")
        msgq.send(q, rec, type=level, timeout=timeout)
    return len(levels)


def logger(key, n_records, filter_type=-max(LEVELS), timeout=10.0):
    """Receive *n_records* log records with *filter_type* (default: most urgent first).

    Returns [(level, text)] in the order they were received.
    """
    q = msgq.attach(key)
    out = []
    for _ in range(n_records):
        data, level = msgq.receive(q, type=filter_type, timeout=timeout)
        out.append((level, LOG_RECORD.unpack(data).text.decode()))
    return out


# -- broadcast --------------------------------------------------------------------------

ANNOUNCE, STOP = 1, 2  # the naive scheme's two types


def naive_listener(key, timeout=10.0):
    """Take messages (lowest type first) until a STOP; returns how many ANNOUNCE messages it got."""
    q = msgq.attach(key)
    got = 0
    while msgq.receive(q, type=-STOP, timeout=timeout)[1] != STOP:
        got += 1
    return got


SUBSCRIBE = 1  # the subscription scheme: listeners announce their pid on type 1


def subscriber(key, timeout=10.0):
    """Subscribe (send my pid on type SUBSCRIBE), then read my own type (= my pid) until b'STOP'."""
    q = msgq.attach(key)
    msgq.send(q, NUMBER.pack(os.getpid()), type=SUBSCRIBE, timeout=timeout)
    got = []
    while (data := msgq.receive(q, type=os.getpid(), timeout=timeout)[0]) != b"STOP":
        got.append(data.decode())
    return got


def collect_subscribers(q, n, timeout=10.0):
    """The pids of *n* subscribers, as they subscribe."""
    return [NUMBER.unpack(msgq.receive(q, type=SUBSCRIBE, timeout=timeout)[0])[0] for _ in range(n)]


def publish(q, subscribers, data, timeout=10.0):
    """Broadcast = one copy per subscriber, each addressed to its type (its pid)."""
    for pid in subscribers:
        msgq.send(q, data, type=pid, timeout=timeout)


# -- C interop ---------------------------------------------------------------------------

def build_log_sender():
    """Compile ``ipclab/c/msg_log.c`` with :mod:`ipclab.core.cbuild` (cached by content); the program's path."""
    from ipclab.core import cbuild
    return str(cbuild.build_file("msg_log.c"))


def c_log_sender(q, records, timeout=30.0):
    """Run the C program: it sends *records* [(level, text)] to *q*; returns sizeof(struct log_record)."""
    import subprocess
    args = [build_log_sender(), str(q.id)] + [x for lv, text in records for x in (str(lv), text)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=True)
    return int(out.stdout)


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["NUMBER", "READY", "timed_receiver", "raw_blocking_receiver", "blocked_in_syscall",
           "framed_echo", "square", "cpu_task", "io_task", "HANDLERS", "pool_worker", "client",
           "wait_ready", "pool_run", "TASK_SIZE", "pool_curve", "LOG_RECORD", "LEVELS", "log_source",
           "logger", "naive_listener", "SUBSCRIBE", "subscriber", "collect_subscribers", "publish",
           "build_log_sender", "c_log_sender"]
