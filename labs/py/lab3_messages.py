# %% [markdown]
# # Lab 3 (19.3): typed messages — a request/reply service over one queue
#
# **Goal.** Build a small service on *one* System V message queue: clients send requests,
# a server answers, and the message **type** does all the routing — urgent requests are
# served before normal ones, and each reply reaches the client that asked, by its pid.
#
# **Concepts exercised** (notebook 03): `msgget`/`msgsnd`/`msgrcv`; the type argument of
# `msgrcv` (`0` any, `>0` exactly that type, `<0` the lowest type up to |type|); priorities
# by type; addressing replies by pid; timeouts around calls that have none.
#
# **Time:** about 75 minutes. **You edit:** [`lab3_messages.py`](lab3_messages.py).
# **Grading:** 8 points in the visible tests; hidden tests add error replies and load.

# %%
from ipclab import doctor

doctor.setup_notebook()

# %% [markdown]
# ## The protocol (decided for you)
#
# | type | meaning | who receives it |
# | --- | --- | --- |
# | 1 `URGENT` | a request to serve first | the server, with `type=-NORMAL` |
# | 2 `NORMAL` | an ordinary request | the server, with `type=-NORMAL` |
# | P > 2 | the reply to the client whose pid is P | that client, with `type=os.getpid()` |
#
# Bodies are JSON: a request `{"pid": ..., "id": n, "op": "upper", "arg": "abc"}`, a reply
# `{"id": n, "result": "ABC"}` or `{"id": n, "error": "unknown op 'x'"}`.
# `receive(mq, mtype, timeout)` and `send(mq, data, mtype, timeout)` are given: sysv_ipc's
# own calls have no timeout, these poll with `block=False` until a deadline.
#
# ## The API to implement
#
# | method | what it does |
# | --- | --- |
# | `Service.create()` / `Service.attach(key)` | make the queue with `objects.create_sysv_msg()` / open it by key |
# | `send_request(op, arg, urgent=False)` | send a request of type URGENT or NORMAL; return its id (0, 1, 2... per client) |
# | `wait_reply(request_id, timeout)` | receive replies of type `os.getpid()` until this id's arrives; keep the others in `self.stash`; `RuntimeError` for an error reply |
# | `serve_one(handlers, timeout)` | receive the next request, urgent first; reply `handlers[op](arg)` to its pid; return the request, or `None` on timeout |
# | `destroy()` | remove the queue (`objects.remove_sysv`) |
#
# ## Hints
# - `receive(mq, 0, ...)` in a client would steal other clients' replies (and requests!).
# - A client may have several requests in flight: replies can come back in any order.
# - A handler that raises must not kill the server: reply with an error instead.
# - The tests check the queue from the kernel: a reply the test leaves for a pid that no
#   client has must still be in the queue at the end.
#
# ## Your protocol
# Fill the `PROTOCOL = """..."""` string at the top of your file: what is shared, what
# routes each message, the invariants (who receives which type, in which order), every
# blocking call and its timeout, and what happens when a client dies. Your teacher reads
# it with your grade.

# %% [markdown]
# ## Try your service
# One process plays both roles: send two normal requests and an urgent one, serve three,
# and see in which order they were served.

# %%
import importlib

import lab3_messages as lab

importlib.reload(lab)
try:
    svc = lab.Service.create()
    try:
        ids = [svc.send_request("upper", w, urgent=(w == "fire")) for w in ("tea", "post", "fire")]
        served = [svc.serve_one({"upper": str.upper}, timeout=1) for _ in ids]
        print("served in this order:", [r["arg"] for r in served if r])
        print("replies:", [svc.wait_reply(i, timeout=1) for i in reversed(ids)])
    finally:
        svc.destroy()
except NotImplementedError as e:
    print("not written yet:", e)

# %% [markdown]
# ## Check your work
# `ipclab.check("lab3", "urgent")` runs one test only.
#
# **In C?** If your teacher chose the C track for this lab, you write
# [`c/lab3_messages.c`](c/lab3_messages.c) against the header [`c/lab3_messages.h`](c/lab3_messages.h) (the contract;
# [`c/README.md`](c/README.md) maps this API to it), and `ipclab.check("lab3", track="c")`
# compiles it as the grader does and runs the same tests on it.

# %%
import ipclab

ipclab.check("lab3")
