"""Visible tests of lab 3: typed messages, request/reply over one System V queue (19.3)."""

import json

import sysv_ipc

from ipclab.core import inventory, procs
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, expect_raises, student

LAB = "lab3"
TITLE = "typed messages: request/reply over one System V queue"
MODULE = "lab3_messages"
HIDDEN = 2
WORKER_TIMEOUT = 20


def op_upper(s):
    return s.upper()


def op_reverse(s):
    return s[::-1]


def op_length(s):
    return len(s)


def op_fail(s):
    raise ValueError(f"cannot handle {s!r}")


HANDLERS = {"upper": op_upper, "reverse": op_reverse, "length": op_length, "fail": op_fail}
OPS = ("upper", "reverse", "length")
NO_SUCH_PID = 4194304 + 1   # above the largest pid_max Linux allows (2**22): a type no client has


def server(key, n, timeout=WORKER_TIMEOUT):
    """Serve *n* requests; return [(op, arg, urgent?)] in the order served."""
    svc = student().Service.attach(key)
    served = []
    for _ in range(n):
        req = svc.serve_one(HANDLERS, timeout=timeout)
        if req is None:
            break
        served.append(req)
    svc.close()
    return served


def client(key, requests):
    """Call each (op, arg) in turn; return the results."""
    svc = student().Service.attach(key)
    try:
        return [svc.call(op, arg, timeout=WORKER_TIMEOUT) for op, arg in requests]
    finally:
        svc.close()


def role(kind, key, arg):
    return server(key, arg) if kind == "server" else client(key, arg)


def random_requests(rng, n):
    return [(rng.choice(OPS), labkit.random_tag(rng, rng.randint(3, 12))) for _ in range(n)]


def clients_and_server(lab, rng, n_clients, per_client):
    svc = lab.Service.create()
    try:
        # a reply for a client that does not exist, put in the queue by the test itself: a client
        # that receives anything but its own pid's type takes it
        mq = sysv_ipc.MessageQueue(svc.key)
        decoy = json.dumps({"id": 0, "result": "decoy " + labkit.random_tag(rng, 6)}).encode()
        mq.send(decoy, block=False, type=NO_SUCH_PID)
        reqs = [random_requests(rng, per_client) for _ in range(n_clients)]
        jobs = [("server", svc.key, n_clients * per_client)] + [("client", svc.key, r) for r in reqs]
        results = procs.run(role, jobs, start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10,
                            relay=False)
        try:
            left, _ = mq.receive(block=False, type=NO_SUCH_PID)  # C: msgrcv(IPC_NOWAIT)
        except sysv_ipc.BusyError:
            left = None
    finally:
        svc.destroy()
    for c, (mine, got) in enumerate(zip(reqs, results[1:])):
        want = [HANDLERS[op](arg) for op, arg in mine]
        expect_list(want, got, f"results received by client {c} (a reply sent to the wrong pid shows as BAD)")
    expect(left == decoy, f"a client took the reply the test had queued for pid {NO_SUCH_PID} (no such client)",
           "GOOD (expected) it stays in the queue: each client receives only the type of its own pid",
           f"BAD  (got)      {'gone' if left is None else repr(left)}")


@labkit.test("one client, a server process: each reply answers its request", points=1, timeout=30,
             hint="the server replies with type = the client's pid (msg['pid']); the client receives "
                  "with type=os.getpid().")
def one_client(lab, rng):
    clients_and_server(lab, rng, 1, rng.randint(3, 6))


@labkit.test("3-5 clients at once, one server: every client gets its own replies", points=3, timeout=60,
             hint="a client that receives with type=0 takes anybody's reply: receive only your pid's type.")
def many_clients(lab, rng):
    clients_and_server(lab, rng, rng.randint(3, 5), rng.randint(4, 8))


@labkit.test("queued requests: urgent ones are served first, each kind in order", points=2, timeout=40,
             hint="the server receives with type=-NORMAL: the kernel hands out the lowest type <= NORMAL "
                  "first; replies may then come back in any order, so wait_reply() stashes the others.")
def urgent_first(lab, rng):
    svc = lab.Service.create()
    try:
        sent = []
        kinds = [False] + [rng.random() < 0.4 for _ in range(rng.randint(5, 9))] + [True]  # a normal one first
        for urgent in kinds:
            op, arg = random_requests(rng, 1)[0]
            sent.append((svc.send_request(op, arg, urgent=urgent, timeout=5), op, arg, urgent))
        ids = [s[0] for s in sent]
        expect(len(set(ids)) == len(ids), "send_request() returned the same id twice", f"BAD  ids {ids}")
        served = procs.run(server, [(svc.key, len(sent))], start_method=labkit.start_method(),
                           timeout=WORKER_TIMEOUT, relay=False)[0]
        want = [(op, arg) for _, op, arg, u in sent if u] + [(op, arg) for _, op, arg, u in sent if not u]
        expect_list(want, [(r["op"], r["arg"]) for r in served], "order in which the server served the requests")
        for rid, op, arg, _ in reversed(sent):  # newest first: the others must wait in the stash
            expect_equal(HANDLERS[op](arg), svc.wait_reply(rid, timeout=5), f"reply to request {rid} ({op} {arg!r})")
    finally:
        svc.destroy()


@labkit.test("timeouts: serve_one() returns None, wait_reply() raises TimeoutError", points=1, timeout=20,
             hint="sysv_ipc's receive has no timeout: use the module's receive() helper, which polls "
                  "with block=False until a deadline.")
def timeouts(lab, rng):
    svc = lab.Service.create()
    try:
        got = svc.serve_one(HANDLERS, timeout=0.2)
        expect(got is None, "serve_one() on an empty queue must return None after its timeout",
               f"BAD  (got) {got!r}")
        rid = svc.send_request("upper", "x", timeout=2)
        expect_raises(TimeoutError, svc.wait_reply, "wait_reply() with no server running", rid, timeout=0.3)
    finally:
        svc.destroy()


@labkit.test("destroy() removes the queue from the system", points=1, timeout=20,
             hint="objects.remove_sysv(mq) does msgctl(IPC_RMID).")
def destroy_removes(lab, rng):
    svc = lab.Service.create()
    ident = svc.mq.id
    svc.destroy()
    row = inventory.sysv_row("msg", ident)
    expect(row is None, "after destroy() the queue still exists", f"BAD  {row}")
