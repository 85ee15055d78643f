# Your file for lab3: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab3_messages.ipynb; check your work with ipclab.check("lab3").
# (Course maintainers: this file is generated from solutions/lab3_messages.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
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

PROTOCOL = """
(Write your synchronisation protocol here, in your own words; your teacher reads it
with your grade. Replace every line in brackets.)
Shared state: [what lives in shared memory / the file / the queues, and its layout]
Locks: [each semaphore or lock, its initial value, and exactly what it guards]
Order: [if a process ever holds two locks, the order it takes them in, and why no deadlock]
Invariants: [what is true of the shared state whenever no process holds its lock]
Waiting: [every blocking call, and its timeout]
Death: [what happens when a process dies while holding a lock, and who cleans up]
"""
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
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.create() (see labs/lab3_messages.ipynb)")

    @classmethod
    def attach(cls, key):
        """Open the existing queue with System V key *key*."""
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.attach() (see labs/lab3_messages.ipynb)")

    # -- client side ---------------------------------------------------------
    def send_request(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        """Send request (*op*, *arg*) with type URGENT or NORMAL; return its id (0, 1, 2... per client)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.send_request() (see labs/lab3_messages.ipynb)")

    def wait_reply(self, request_id, timeout=DEFAULT_TIMEOUT):
        """The result of request *request_id*: receive replies addressed to this pid until it comes.

        Replies to this client's other requests may arrive first: keep them in ``self.stash``.
        Raise ``RuntimeError(error)`` for an error reply, ``TimeoutError`` after *timeout*.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.wait_reply() (see labs/lab3_messages.ipynb)")

    def call(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        """Send a request and wait for its result."""
        return self.wait_reply(self.send_request(op, arg, urgent, timeout), timeout)

    # -- server side ---------------------------------------------------------
    def serve_one(self, handlers, timeout=DEFAULT_TIMEOUT):
        """Serve one request, urgent ones first; return it (the request dict), or None on timeout.

        The reply is ``handlers[op](arg)`` sent with type = the client's pid; an unknown op or
        a handler that raises gets an error reply, and the server goes on.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.serve_one() (see labs/lab3_messages.ipynb)")

    def close(self):
        """Nothing to release for a System V queue in this process (kept for symmetry)."""

    def destroy(self):
        """Owner only: remove the queue from the system (``msgctl(IPC_RMID)``)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab3: write Service.destroy() (see labs/lab3_messages.ipynb)")
