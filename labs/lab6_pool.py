# Your file for lab6: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab6_pool.ipynb; check your work with ipclab.check("lab6").
# (Course maintainers: this file is generated from solutions/lab6_pool.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
"""Lab 6 (project): a worker pool fed by a task queue, results collected, clean shutdown.

Two POSIX message queues connect one *master* (the process that made the pool) with N
*worker* processes:

    tasks    master --> workers   {"id": n, "op": "square", "arg": 7}   or the poison pill STOP
    results  workers --> master   {"id": n, "result": 49}   or   {"id": n, "error": "ValueError: ..."}

* Any idle worker takes the next task (``mq_receive`` hands each message to exactly one
  reader), runs ``handlers[op](arg)`` and sends the result back, tagged with the task id.
  Results come back in *completion* order, not submission order: the id matches them up.
* A task that raises (or names an unknown op) becomes an error result; the worker goes on.
* Both queues are bounded (``capacity`` messages). A full queue makes ``mq_send`` wait:
  that is *backpressure*, and it can deadlock a master that only submits while the
  workers wait to hand in results nobody reads.
* Shutdown: one STOP per worker, sent *after* the tasks (same priority: FIFO), so every
  queued task is done first; each worker returns the ids it ran and exits 0; then both
  queues are closed and unlinked.

Every wait has a timeout: ``put`` and ``get`` below raise ``TimeoutError``.
"""

import json
import time

import posix_ipc

from ipclab import objects, procs

STOP = {"stop": True}     # the poison pill: one per worker
MSG_SIZE = 1024           # bytes per message (max_message_size of both queues)
DEFAULT_TIMEOUT = 10.0
POLL = 0.05               # seconds map() waits for a result before trying to submit again


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


class TaskError(Exception):
    """The outcome of a task that failed in a worker (returned in its place, never raised)."""

    def __eq__(self, other):
        return type(other) is TaskError and other.args == self.args

    def __hash__(self):
        return hash(self.args)


def put(mq, obj, timeout):
    """Send *obj* as JSON; wait at most *timeout* s for room (0: do not wait), else TimeoutError."""
    try:
        mq.send(json.dumps(obj).encode(), timeout=timeout)  # C: mq_timedsend(mqd, buf, len, 0, &abs_timeout)
    except posix_ipc.BusyError:
        raise TimeoutError(f"queue {mq.name} stayed full for {timeout} s") from None


def get(mq, timeout):
    """Receive one JSON message; wait at most *timeout* s (0: do not wait), else TimeoutError."""
    try:
        data, _ = mq.receive(timeout=timeout)  # C: mq_timedreceive(mqd, buf, size, &prio, &abs_timeout)
    except posix_ipc.BusyError:
        raise TimeoutError(f"nothing arrived on {mq.name} within {timeout} s") from None
    return json.loads(data)


def worker(handle, handlers, timeout=DEFAULT_TIMEOUT):
    """A worker process: run tasks until the poison pill; return the ids of the tasks it ran.

    *handle* is ``(tasks_name, results_name)``; *handlers* maps op names to functions. Open
    both queues, loop: take a task (``get``), stop on STOP, else send
    ``{"id", "result"}`` or ``{"id", "error": "Type: message"}``; close the queues (never
    unlink: the master owns them) and return the list of ids run, in order.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lab6: write worker() (see labs/lab6_pool.ipynb)")


class Pool:
    """The master's side: ``Pool.create(handlers, n_workers)``, submit/collect or map, shutdown."""

    def __init__(self, tasks, results, group, n_workers):
        self.tasks = tasks            # posix_ipc.MessageQueue of tasks (master sends)
        self.results = results        # posix_ipc.MessageQueue of results (master receives)
        self.group = group            # the procs.Group of worker processes
        self.n_workers = n_workers
        self.next_id = 0              # id of the next task submitted (0, 1, 2...)

    @property
    def handle(self):
        """What a worker needs to find the queues: ``(tasks_name, results_name)``."""
        return (self.tasks.name, self.results.name)

    @classmethod
    def create(cls, handlers, n_workers=3, capacity=4, start_method="fork", lifetime=60.0):
        """Make both queues (``objects.create_posix_mq(max_messages=capacity,
        max_message_size=MSG_SIZE)``) and start *n_workers* processes running :func:`worker`
        with ``procs.start(..., start_method=start_method, timeout=lifetime, relay=False)``.

        If starting the workers fails, remove the queues before raising.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab6: write Pool.create() (see labs/lab6_pool.ipynb)")

    def submit(self, op, arg, timeout=DEFAULT_TIMEOUT):
        """Queue task ``op(arg)``; return its id (0, 1, 2... in submission order).

        Waits at most *timeout* s for room in the tasks queue, else ``TimeoutError`` (and
        the id is not used up).
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab6: write Pool.submit() (see labs/lab6_pool.ipynb)")

    def next_result(self, timeout=DEFAULT_TIMEOUT):
        """The next result to arrive: ``(task_id, outcome)``, where outcome is the value the
        handler returned, or ``TaskError(message)`` for a task that failed. TimeoutError if
        none arrives within *timeout* s."""
        # YOUR CODE HERE
        raise NotImplementedError("lab6: write Pool.next_result() (see labs/lab6_pool.ipynb)")

    def collect(self, n, timeout=DEFAULT_TIMEOUT):
        """The next *n* results, ``[(task_id, outcome), ...]`` in arrival order (all within *timeout* s)."""
        deadline = time.monotonic() + timeout
        return [self.next_result(max(0.0, deadline - time.monotonic())) for _ in range(n)]

    def map(self, op, args, timeout=DEFAULT_TIMEOUT):
        """Run ``op(a)`` for every a in *args* on the workers; the outcomes in the order of *args*.

        There may be many more tasks than the queues hold: while the tasks queue is full,
        read results (the workers may be waiting for room to hand theirs in). TimeoutError
        if everything is not done within *timeout* s.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab6: write Pool.map() (see labs/lab6_pool.ipynb)")

    def shutdown(self, timeout=DEFAULT_TIMEOUT):
        """Stop the pool: one STOP per worker, wait for every worker (they must all exit 0),
        then close and unlink both queues -- even if a worker failed. Collect your results
        first: a worker cannot finish while the results queue is full.

        Returns, per worker, the list of task ids it ran (what ``group.join()`` returns).
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab6: write Pool.shutdown() (see labs/lab6_pool.ipynb)")
