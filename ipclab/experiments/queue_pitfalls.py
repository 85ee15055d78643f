"""The classic pitfalls of one System V queue shared by a server and its clients, run live.

Why a module: notebook 03 teaches the single-queue client-server design (requests of type 1,
replies addressed by ``type = client pid``) and must also show where it breaks, as TLPI
§46.7 does ("Using a single message queue for server and clients"), then TLPI's answer: a
queue per client. The workers live here so that fork, forkserver and spawn children can run
them. Every queue comes from :mod:`ipclab.core.objects` (0600, registered, removed) and every
wait has a timeout, so a deadlock demonstrated here ends in a timeout that says who waited
for what, never in a hung notebook.

Each experiment returns plain results (dicts) whose fields the notebook prints as verdicts.
The outcomes do not depend on scheduling:

* :func:`single_queue_deadlock`: the queue is full of requests before the server starts, and
  a reply (:data:`REPLY_SIZE`) is larger than the room one request leaves
  (:data:`REQUEST_SIZE`), so the server's reply can never fit;
* :func:`queue_per_client`: the same load, but replies go to each client's own queue, so the
  server never waits for room;
* :func:`stolen_reply`: a nosy process sleeps in ``msgrcv(type = victim's pid)`` before the
  reply is sent; the kernel hands a new message directly to the first sleeping receiver that
  matches (``pipelined_send`` in ipc/msg.c), so the nosy process gets it, not the victim, who
  only polls.
"""

import contextlib
import os
import struct
import time

import sysv_ipc

from ipclab.core import objects, procs
from ipclab.core.errors import ObjectGone, WaitTimeout
from ipclab.experiments.msgq_demos import blocked_in_syscall
from ipclab.mechanisms import msgq

__all__ = ["REQUEST_TYPE", "REQUEST", "REQUEST_SIZE", "REPLY_SIZE", "rpc_client", "rpc_server",
           "single_queue_deadlock", "queue_per_client", "victim_client", "nosy_reader",
           "stolen_reply", "count_types", "try_mq_notify"]

REQUEST_TYPE = 1
#: A request: the reply type (the client's pid), the key of the queue to reply to (0: this
#: queue), the request id; padded to REQUEST_SIZE bytes.
REQUEST = struct.Struct("<qqI")
REQUEST_SIZE = 64
#: Replies are larger than requests, as they usually are (a query and its result).
REPLY_SIZE = 128


def _request(reply_type, reply_key, rid):
    return REQUEST.pack(reply_type, reply_key, rid).ljust(REQUEST_SIZE, b"\0")


def rpc_client(key, reply_key, n, timeout):
    """Worker: *n* calls, one outstanding at a time: send a request, wait for its reply.

    Replies come on queue *reply_key* (0: the server's queue) with type = my pid. Returns
    ``("served", n)`` or ``("timed out", done, what)`` naming the wait that timed out.
    """
    q = msgq.attach(key)
    rq = msgq.attach(reply_key) if reply_key else q
    pid = os.getpid()
    for rid in range(n):
        try:
            msgq.send(q, _request(pid, reply_key, rid), type=REQUEST_TYPE, timeout=timeout)
        except WaitTimeout:
            return ("timed out", rid, "sending a request (the queue stayed full)")
        try:
            data, _ = msgq.receive(rq, type=pid, timeout=timeout)
        except WaitTimeout:
            return ("timed out", rid, "waiting for the reply")
        if struct.unpack_from("<I", data)[0] != rid:
            return ("wrong reply", rid, f"got the reply to request {struct.unpack_from('<I', data)[0]}")
    return ("served", n, "")


def rpc_server(key, n_requests, timeout):
    """Worker: answer *n_requests* requests (type 1) with REPLY_SIZE-byte replies.

    The reply goes to the request's reply queue (or this queue) with type = the client's pid.
    Returns ``("done", handled, "")`` or ``("stuck", handled, why)`` when a wait timed out.
    """
    q = msgq.attach(key)
    replies = {}
    handled = 0
    while handled < n_requests:
        try:
            data, _ = msgq.receive(q, type=REQUEST_TYPE, timeout=timeout)
        except WaitTimeout:
            return ("stuck", handled, "waiting for a request")
        reply_type, reply_key, rid = REQUEST.unpack_from(data)
        rq = q if not reply_key else replies.setdefault(reply_key, msgq.attach(reply_key))
        try:
            msgq.send(rq, struct.pack("<I", rid).ljust(REPLY_SIZE, b"\0"), type=reply_type,
                      timeout=timeout)
        except WaitTimeout:
            st = msgq.state(q)
            return ("stuck", handled,
                    f"sending a {REPLY_SIZE}-byte reply: the queue holds {st.bytes} of "
                    f"{st.max_bytes} bytes")
        handled += 1
    return ("done", handled, "")


def count_types(q):
    """Drain *q* (IPC_NOWAIT): ``(requests, replies)`` left in it; type 1 is a request."""
    left = msgq.drain(q)
    return (sum(1 for _, t in left if t == REQUEST_TYPE), sum(1 for _, t in left if t != REQUEST_TYPE))


def _full(q, capacity):
    st = msgq.state(q)
    return st.bytes + REQUEST_SIZE > capacity


def _run_load(server_key, reply_keys, capacity, nclients, timeout, start_method):
    """Clients first; once the server's queue is full of requests, the server; join all."""
    q = msgq.attach(server_key)
    args = [(server_key, rk, 1, timeout + 2.0) for rk in reply_keys]
    with procs.start(rpc_client, args, start_method=start_method, timeout=60) as clients:
        deadline = time.monotonic() + 20
        while not _full(q, capacity):
            if time.monotonic() > deadline:
                raise WaitTimeout(f"the {nclients} clients did not fill the {capacity}-byte queue in 20 s")
            time.sleep(0.005)
        full = msgq.state(q)
        server, = procs.run(rpc_server, [(server_key, nclients, timeout)],
                            start_method=start_method, timeout=60)
        outcomes = clients.join()
    return full, server, outcomes


def single_queue_deadlock(nclients=12, capacity=8 * REQUEST_SIZE, timeout=1.0, start_method="forkserver"):
    """TLPI's first pitfall: replies need room in the queue that requests fill.

    *nclients* clients each send one REQUEST_SIZE-byte request to a queue of *capacity*
    bytes: it fills, the last clients wait to send. Then the server starts; taking one
    request frees REQUEST_SIZE bytes, its REPLY_SIZE-byte reply does not fit, and a waiting
    client refills the room. Returns the queue state when the server started, the server's
    outcome, the clients' outcomes, and what was left in the queue.
    """
    with msgq.queue(max_bytes=capacity, note="single-queue rpc") as q:
        full, server, outcomes = _run_load(q.key, [0] * nclients, capacity, nclients, timeout, start_method)
        left = count_types(q)
    return {"capacity": capacity, "messages_when_server_started": full.messages,
            "bytes_when_server_started": full.bytes, "server": server, "clients": outcomes,
            "requests_left": left[0], "replies_left": left[1]}


def queue_per_client(nclients=12, capacity=8 * REQUEST_SIZE, timeout=1.0, start_method="forkserver"):
    """TLPI's answer (§46.8): the server reads its own queue, each client gets replies on its own.

    Same load as :func:`single_queue_deadlock`. The per-client queues are created here (TLPI's
    clients create theirs with ``msgget(IPC_PRIVATE, ...)``) so that they are registered and
    removed even if a client crashes.
    """
    with contextlib.ExitStack() as stack:
        q = stack.enter_context(msgq.queue(max_bytes=capacity, note="server queue"))
        mine = [stack.enter_context(msgq.queue(note=f"client {i} queue")) for i in range(nclients)]
        full, server, outcomes = _run_load(q.key, [c.key for c in mine], capacity, nclients,
                                           timeout, start_method)
        left = count_types(q)
    return {"capacity": capacity, "messages_when_server_started": full.messages,
            "bytes_when_server_started": full.bytes, "server": server, "clients": outcomes,
            "requests_left": left[0], "replies_left": left[1]}


def victim_client(key, timeout):
    """Worker: send one request, then poll (msgq.receive, IPC_NOWAIT retries) for the reply to my pid."""
    q = msgq.attach(key)
    msgq.send(q, _request(os.getpid(), 0, 7), type=REQUEST_TYPE, timeout=timeout)
    try:
        data, _ = msgq.receive(q, type=os.getpid(), timeout=timeout)
        return ("got my reply", struct.unpack_from("<I", data)[0])
    except (WaitTimeout, ObjectGone):
        return ("no reply", None)


def nosy_reader(key, victim_type):
    """Worker: a plain blocking ``msgrcv(type = someone else's pid)``; bounded by the procs timeout."""
    q = sysv_ipc.MessageQueue(key, max_message_size=msgq.limits().msgmax)
    data, t = q.receive(type=victim_type)  # C: msgrcv(id, &buf, size, victim_pid, 0): sleeps in the kernel
    return ("read the reply to request", struct.unpack_from("<I", data)[0], t)


def stolen_reply(timeout=1.0, start_method="forkserver"):
    """TLPI's other warning: any process that may read the queue can read any client's replies.

    The victim sends a request; the "server" (this process) takes it; a nosy process starts
    a blocking ``msgrcv`` for the victim's pid; once it sleeps in ``msgrcv`` the server sends
    the reply. Returns the victim's pid, what the nosy process and the victim got.
    """
    with msgq.queue(note="stolen reply") as q:
        with procs.start(victim_client, [(q.key, timeout)], start_method=start_method,
                         timeout=60) as victim:
            data, _ = msgq.receive(q, type=REQUEST_TYPE, timeout=20)
            reply_type, _, rid = REQUEST.unpack_from(data)
            with procs.start(nosy_reader, [(q.key, reply_type)], start_method=start_method,
                             timeout=30) as nosy:
                asleep = blocked_in_syscall(nosy.pids[0], "msgrcv", timeout=10)
                msgq.send(q, struct.pack("<I", rid).ljust(REPLY_SIZE, b"\0"), type=reply_type, timeout=5)
                nosy_got = nosy.join()[0]
            victim_got = victim.join()[0]
    return {"victim_pid": reply_type, "victim_is_child": reply_type != os.getpid(),
            "nosy_was_asleep_in_msgrcv": asleep, "nosy": nosy_got, "victim": victim_got}


def try_mq_notify(name):
    """Worker: try to register for notification on POSIX queue *name*: "registered" or "EBUSY".

    mq_notify(3): only one process can be registered per queue; the next one gets EBUSY.
    (posix_ipc lets the registered process itself register again, so the test is from
    another process.)
    """
    import posix_ipc
    import signal
    q = posix_ipc.MessageQueue(name)
    try:
        q.request_notification(signal.SIGUSR2)  # C: mq_notify(q, &(struct sigevent){SIGEV_SIGNAL, SIGUSR2})
        q.request_notification(None)            # C: mq_notify(q, NULL): give it back
        return "registered"
    except posix_ipc.BusyError:
        return "EBUSY"
    finally:
        q.close()
