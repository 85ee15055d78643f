"""Lab 3 (19.3): a request/reply service over ONE System V message queue.

Every message carries a *type* (a positive long). One queue serves everyone because the
types keep the traffic apart:

    type 1  (URGENT)   a request that must be served first
    type 2  (NORMAL)   an ordinary request
    type P  (P > 2)    a reply to the client whose pid is P

The server receives with ``type=-NORMAL`` ("the lowest type <= 2 first"), so urgent requests
overtake normal ones while each kind stays FIFO; a client receives with ``type=os.getpid()``,
so it only ever sees its own replies. Messages are JSON:

    request  {"pid": client pid, "id": n, "op": "upper", "arg": "abc"}
    reply    {"id": n, "result": "ABC"}            or  {"id": n, "error": "why"}

sysv_ipc's ``receive`` and ``send`` have no timeout: :func:`receive` and :func:`send` below
poll with ``block=False`` until a deadline (every wait in the course has a timeout).
"""

import json
import os
import time

import sysv_ipc

from ipclab import objects

URGENT, NORMAL = 1, 2
DEFAULT_TIMEOUT = 10.0

### BEGIN SOLUTION
PROTOCOL = """
Shared state: one System V message queue; the kernel orders its messages and copies each
one in and out atomically (msgsnd/msgrcv), so no semaphore guards it.
Locks: none. The message type does the routing: 1 = urgent request, 2 = normal request,
P > 2 = a reply for the client whose pid is P (pids are never 1 or 2 for clients).
Invariants: a request carries its client's pid and a per-client id; every request gets
exactly one reply, of type = that pid; the server takes the lowest type <= 2 first
(msgrcv type -2), so urgent requests overtake normal ones and each kind stays FIFO; a
client only ever receives its own pid's type, so it never takes another's reply; replies
to its other requests that arrive first wait in its stash (per process, not shared).
Waiting: msgrcv/msgsnd with IPC_NOWAIT, polled until a deadline (sysv_ipc has no timed
receive); serve_one returns None, wait_reply raises TimeoutError.
Death: a dead client leaves its replies in the queue (nobody else takes them); the queue
lives until its creator's destroy() (msgctl IPC_RMID).
"""
### END SOLUTION
POLL = 0.002  # seconds between two non-blocking tries


def receive(mq, mtype, timeout):
    """``msgrcv(type=mtype)`` with a timeout: (bytes, type), or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return mq.receive(block=False, type=mtype)  # C: msgrcv(id, &m, size, mtype, IPC_NOWAIT)
        except sysv_ipc.BusyError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no message of type {mtype} within {timeout} s") from None
            time.sleep(POLL)


def send(mq, data, mtype, timeout):
    """``msgsnd`` with a timeout (the queue may be full)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return mq.send(data, block=False, type=mtype)  # C: msgsnd(id, &m, len, IPC_NOWAIT)
        except sysv_ipc.BusyError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the queue stayed full for {timeout} s") from None
            time.sleep(POLL)


class Service:
    """One System V queue seen from a client, a server, or both.

    ``Service.create()`` makes the queue (its creator calls ``destroy()``); other processes
    call ``Service.attach(svc.key)``.
    """

    def __init__(self, mq, owner):
        self.mq = mq          # the sysv_ipc.MessageQueue
        self.owner = owner    # True in the creating process
        self.next_id = 0      # id of this client's next request
        self.stash = {}       # replies received while waiting for another one: id -> reply dict

    @property
    def key(self):
        return self.mq.key

    @classmethod
    def create(cls):
        """Create a fresh queue with ``ipclab.core.objects`` (unique key, 0600, registered)."""
        ### BEGIN SOLUTION
        return cls(objects.create_sysv_msg(note="lab3 service"), owner=True)  # C: msgget(key, IPC_CREAT|IPC_EXCL|0600)
        ### END SOLUTION

    @classmethod
    def attach(cls, key):
        """Open the existing queue with System V key *key*."""
        ### BEGIN SOLUTION
        return cls(sysv_ipc.MessageQueue(key), owner=False)  # C: msgget(key, 0)
        ### END SOLUTION

    # -- client side ---------------------------------------------------------
    def send_request(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        """Send request (*op*, *arg*) with type URGENT or NORMAL; return its id (0, 1, 2... per client)."""
        ### BEGIN SOLUTION
        rid = self.next_id
        self.next_id += 1
        msg = {"pid": os.getpid(), "id": rid, "op": op, "arg": arg}
        send(self.mq, json.dumps(msg).encode(), URGENT if urgent else NORMAL, timeout)
        return rid
        ### END SOLUTION

    def wait_reply(self, request_id, timeout=DEFAULT_TIMEOUT):
        """The result of request *request_id*: receive replies addressed to this pid until it comes.

        Replies to this client's other requests may arrive first: keep them in ``self.stash``.
        Raise ``RuntimeError(error)`` for an error reply, ``TimeoutError`` after *timeout*.
        """
        ### BEGIN SOLUTION
        deadline = time.monotonic() + timeout
        while request_id not in self.stash:
            data, _ = receive(self.mq, os.getpid(), max(0.0, deadline - time.monotonic()))
            reply = json.loads(data)
            self.stash[reply["id"]] = reply
        reply = self.stash.pop(request_id)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]
        ### END SOLUTION

    def call(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        """Send a request and wait for its result."""
        return self.wait_reply(self.send_request(op, arg, urgent, timeout), timeout)

    # -- server side ---------------------------------------------------------
    def serve_one(self, handlers, timeout=DEFAULT_TIMEOUT):
        """Serve one request, urgent ones first; return it (the request dict), or None on timeout.

        The reply is ``handlers[op](arg)`` sent with type = the client's pid; an unknown op or
        a handler that raises gets an error reply, and the server goes on.
        """
        ### BEGIN SOLUTION
        try:
            data, _ = receive(self.mq, -NORMAL, timeout)  # lowest type <= NORMAL first: URGENT wins
        except TimeoutError:
            return None
        req = json.loads(data)
        try:
            reply = {"id": req["id"], "result": handlers[req["op"]](req["arg"])}
        except KeyError:
            reply = {"id": req["id"], "error": f"unknown op {req['op']!r}"}
        except Exception as e:  # noqa: BLE001 - the server survives a failing handler
            reply = {"id": req["id"], "error": f"{type(e).__name__}: {e}"}
        send(self.mq, json.dumps(reply).encode(), req["pid"], DEFAULT_TIMEOUT)
        return req
        ### END SOLUTION

    def close(self):
        """Nothing to release for a System V queue in this process (kept for symmetry)."""

    def destroy(self):
        """Owner only: remove the queue from the system (``msgctl(IPC_RMID)``)."""
        ### BEGIN SOLUTION
        objects.remove_sysv(self.mq)
        ### END SOLUTION
