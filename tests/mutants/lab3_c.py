"""Lab 3 mutants, C track (see __init__.py): broken versions of solutions/c/lab3_messages.c.

The same bugs as tests/mutants/lab3.py, in C. Graded by tests/test_ctrack.py with ``--track c``:
each must lose every point of the tests named for its bug, with the Python track's tests run
unchanged against the C library.
"""

LAB = "lab3"
SOLUTION = "c/lab3_messages.c"

MUTANTS = {
    # the client receives any type (msgtyp 0): it can take another client's reply (or a request)
    "client_takes_any": ([("receive_until(svc->msqid, &r, SVC_REPLY_BODY, (long)getpid(), deadline)",
                           "receive_until(svc->msqid, &r, SVC_REPLY_BODY, 0, deadline)")],
                         ["many_clients"]),
    # the server receives in FIFO order (msgtyp 0): urgent requests wait their turn
    "fifo_server": ([("receive_until(svc->msqid, &req, SVC_REQUEST_BODY, -SVC_NORMAL, svc_clock() + timeout)",
                      "receive_until(svc->msqid, &req, SVC_REQUEST_BODY, 0, svc_clock() + timeout)")],
                    ["urgent_first"]),
    # replies to this client's other requests are dropped instead of stashed
    "no_stash": ([("if (stash_add(svc, &r) == -1)",
                   "if ((long)r.id == request_id && stash_add(svc, &r) == -1)")],
                 ["urgent_first"]),
}
