"""Visible tests of lab 6: a worker pool over two POSIX message queues (project of chapter 19)."""

import contextlib
import time

import posix_ipc

from ipclab.tooling.grading import labkit
from ipclab.core import objects
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, expect_same_items

LAB = "lab6"
TITLE = "a worker pool: task queue, results, clean shutdown"
MODULE = "lab6_pool"
HIDDEN = 2
LIFETIME = 40  # seconds a pool's workers may live in a test


# -- the handlers the workers run (module level: importable under every start method) --

def square(x):
    return x * x


def slow_upper(arg):
    """arg = [word, milliseconds]: sleep, then the word in capitals."""
    word, ms = arg
    time.sleep(ms / 1000)
    return word.upper()


def checked_sqrt(x):
    if x < 0:
        raise ValueError(f"negative input {x}")
    return round(x ** 0.5, 6)


HANDLERS = {"square": square, "slow_upper": slow_upper, "checked_sqrt": checked_sqrt}


# -- helpers ---------------------------------------------------------------------------

def abort(pool):
    """After a failure: kill the workers and remove the queues, whatever state they are in."""
    with contextlib.suppress(Exception):
        pool.group.kill()
    for mq in (getattr(pool, "tasks", None), getattr(pool, "results", None)):
        if mq is not None:
            with contextlib.suppress(Exception):
                objects.remove_posix_mq(mq)


@contextlib.contextmanager
def pool_of(lab, **kw):
    """A pool for one test; on any failure its workers are killed and its queues removed."""
    kw.setdefault("lifetime", LIFETIME)
    pool = lab.Pool.create(HANDLERS, **kw)
    expect(pool is not None, "Pool.create() returned None: return cls(...)")
    try:
        yield pool
    except BaseException:
        abort(pool)
        raise


def shutdown(pool, n_workers, timeout=10):
    """Shut the pool down and check what every worker says it ran; returns the lists."""
    ran = pool.shutdown(timeout=timeout)
    expect(isinstance(ran, list) and len(ran) == n_workers,
           f"shutdown() must return one list of task ids per worker ({n_workers})", f"BAD  (got) {ran!r}")
    return ran


def run_map(pool, op, args, timeout, what):
    try:
        return pool.map(op, args, timeout=timeout)
    except TimeoutError as e:
        dead = [(i, c.process.exitcode) for i, c in enumerate(pool.group.children) if c.process.exitcode is not None]
        if dead:
            raise labkit.Fail(f"{what}: map() raised TimeoutError ({e})", [
                f"BAD      worker {i} died during the run (exit code {code})" for i, code in dead] + [
                "         a worker must survive a failing task (catch the exception, send an error result)",
                "         and only return when it receives STOP"]) from None
        raise labkit.Fail(f"{what}: map() raised TimeoutError ({e})", [
            "BAD      the tasks did not all come back in time, and every worker is alive: a deadlock",
            "         between a full tasks queue (master waits) and a full results queue (workers wait)?"]) from None


def slow_args(rng, n, lo=5, hi=40):
    return [[labkit.random_tag(rng, rng.randint(3, 8)), rng.randint(lo, hi)] for _ in range(n)]


def demo(lab, seed=6, n_workers=3, n_tasks=18):
    """The brief's picture: (task ids each worker ran, outcomes of a map with one failing task)."""
    import random
    rng = random.Random(seed)
    with pool_of(lab, n_workers=n_workers, capacity=4) as pool:
        pool.map("slow_upper", slow_args(rng, n_tasks, 10, 60), timeout=20)
        outcomes = pool.map("checked_sqrt", [16, -4, 81], timeout=10)
        ran = pool.shutdown(timeout=10)
    return ran, outcomes


# -- the tests -------------------------------------------------------------------------

@labkit.test("one worker: each task's result comes back with its id", points=1, timeout=30,
             hint="submit() puts {'id', 'op', 'arg'} on the tasks queue; the worker answers "
                  "{'id', 'result'} on the results queue; next_result() returns (id, result).")
def one_worker(lab, rng):
    k = rng.randint(3, 6)
    xs = [rng.randint(-999, 999) for _ in range(k)]
    with pool_of(lab, n_workers=1, capacity=8) as pool:
        ids = [pool.submit("square", x, timeout=5) for x in xs]
        expect_list(list(range(k)), ids, "ids returned by submit()")
        got = pool.collect(k, timeout=10)
        expect_list([(i, x * x) for i, x in enumerate(xs)], got, "results (id, value) from a single worker")
        ran = shutdown(pool, 1)
    expect_list(list(range(k)), ran[0], "task ids the worker says it ran")


@labkit.test("3-4 workers: every result exactly once, and the work is shared", points=2, timeout=40,
             hint="each worker loops on the SAME tasks queue; mq_receive gives each message to one "
                  "reader only, so no task runs twice. A worker returns the ids it ran.")
def several_workers(lab, rng):
    n = rng.randint(3, 4)
    args = slow_args(rng, rng.randint(12, 16), 30, 60)
    with pool_of(lab, n_workers=n, capacity=8) as pool:
        ids = [pool.submit("slow_upper", a, timeout=10) for a in args]
        got = pool.collect(len(args), timeout=20)
        expect_same_items([(i, a[0].upper()) for i, a in zip(ids, args)], got, "results (id, value)")
        ran = shutdown(pool, n)
    expect_same_items(ids, [t for r in ran for t in r], "task ids run, over all workers")
    busy = sum(1 for r in ran if r)
    expect(busy >= 2, f"only {busy} of {n} workers ran tasks", *[f"         worker {i} ran {len(r)}" for i, r in enumerate(ran)],
           "BAD      the others never took a task: do they all receive from the tasks queue?")


@labkit.test("results arrive out of order: map() returns them in the order of its args", points=2, timeout=40,
             hint="results come back in completion order: keep them by id and return "
                  "[got[id] for id in ids].")
def map_order(lab, rng):
    args = slow_args(rng, rng.randint(8, 10), 5, 80)
    with pool_of(lab, n_workers=3, capacity=10) as pool:
        out = run_map(pool, "slow_upper", args, 20, "8-10 tasks")
        expect_list([a[0].upper() for a in args], out, "map() outcomes, in the order of args")
        shutdown(pool, 3)


def _shown(x):
    return f"TaskError({x})" if isinstance(x, Exception) else x


@labkit.test("a task that raises comes back as a TaskError; the pool goes on", points=2, timeout=40,
             hint="in the worker, catch the handler's exception and send {'id', 'error': 'ValueError: ...'}; "
                  "next_result()/map() turn it into TaskError(message), returned, not raised.")
def failing_task(lab, rng):
    xs = [rng.choice([-1, 1]) * rng.randint(1, 400) for _ in range(rng.randint(6, 9))]
    xs[rng.randrange(len(xs))] = -rng.randint(1, 400)
    xs[rng.randrange(len(xs))] = rng.randint(1, 400) ** 2
    with pool_of(lab, n_workers=2, capacity=8) as pool:
        out = run_map(pool, "checked_sqrt", xs, 8, "tasks, some failing")
        want = [f"ValueError(negative input {x})" if x < 0 else round(x ** 0.5, 6) for x in xs]
        norm = []
        for x, o in zip(xs, out):
            if isinstance(o, lab.TaskError) and str(x) in str(o) and "ValueError" in str(o):
                norm.append(f"ValueError(negative input {x})")
            else:
                norm.append(_shown(o))
        expect_list(want, norm, "map() outcomes (a failed task is a TaskError naming the exception)")
        again = [rng.randint(2, 50) for _ in range(4)]
        expect_list([x * x for x in again], run_map(pool, "square", again, 10, "after the failures"),
                    "a second map() after the failures (the workers must still be there)")
        shutdown(pool, 2)


@labkit.test("many more tasks than the queues hold: map() does not deadlock", points=2, timeout=45,
             hint="submitting everything first fills the tasks queue, then the results queue: the "
                  "workers wait for room, the master waits for room: deadlock. While submit(timeout=0) "
                  "fails, read results.")
def backpressure(lab, rng):
    cap, n = rng.randint(2, 3), rng.randint(2, 3)
    xs = [rng.randint(-10**6, 10**6) for _ in range(rng.randint(40, 60))]
    with pool_of(lab, n_workers=n, capacity=cap) as pool:
        out = run_map(pool, "square", xs, 15, f"{len(xs)} tasks through queues of {cap} messages")
        expect_list([x * x for x in xs], out, "map() outcomes")
        ran = shutdown(pool, n)
    expect_same_items(list(range(len(xs))), [t for r in ran for t in r], "task ids run, over all workers")


@labkit.test("shutdown(): every worker exits 0, no process and no queue left", points=1, timeout=30,
             hint="send one STOP per worker, group.join() (raises if one failed), then "
                  "objects.remove_posix_mq() on both queues, in a finally.")
def clean_shutdown(lab, rng):
    n = rng.randint(2, 4)
    with pool_of(lab, n_workers=n, capacity=6) as pool:
        names = list(pool.handle)
        xs = [rng.randint(1, 99) for _ in range(5)]
        expect_list([x * x for x in xs], run_map(pool, "square", xs, 10, "5 tasks"), "map() outcomes")
        alive = [c.process.is_alive() for c in pool.group.children]
        expect(all(alive), "workers exited before shutdown(): they must wait for tasks until STOP",
               f"BAD      alive: {alive}")
        shutdown(pool, n)
    codes = [c.process.exitcode for c in pool.group.children]
    expect_equal([0] * n, codes, "exit codes of the workers after shutdown()")
    for name in names:
        try:
            posix_ipc.MessageQueue(name).close()
        except posix_ipc.ExistentialError:
            continue
        expect(False, f"queue {name} still exists after shutdown()", "hint: objects.remove_posix_mq(mq)")
